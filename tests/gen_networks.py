"""Random `.nn` networks whose input leaves its sizes open (`input ?x?x3`, `input ?x16`, `input ?`).

``generate(rng)`` builds one network from a seeded ``random.Random``: chains of 2-D layers
(convolutions with every kind of padding, strides, dilations and groups, depthwise, separable
and transposed convolutions, poolings with strides, padding and ceil mode, upsampling, zero
padding, normalisation, `concat`/`add` branches whose shapes agree), 1-D layers on sequences,
recurrent layers and embeddings on token ids, 3-D convolutions on volumes, and heads of global
pooling or flatten and dense layers.

A network is a list of statements: a statement is a layer line (a str) or a :class:`Join`
(`concat`/`add` and its branches, each a list of statements). ``Network.text(values)`` writes
the file, the open sizes of the input replaced by ``values`` when given; ``Network.smaller()``
lists the networks with one statement or branch fewer (to shrink a failing network).

Branches of a join agree by construction: every branch either keeps the spatial size or divides
it by the same stride with a rounding up, reached in one of many ways that nnc must recognise
as equal (``pad=same``, a 1x1 convolution with a stride, a ``2N+1`` kernel with ``pad=N``, a
pooling of size and stride s with ``ceil=true``, zero padding then a valid convolution,
upsampling then a strided convolution).

The generator steers by a rough lower bound of the spatial sizes at the smallest input value
(MIN_SIZE): it never knowingly makes a layer invalid there. The test checks each value set by
compiling it, so the bound only keeps the share of usable value sets high.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Union

MIN_SIZE = 64  # the open sizes' smallest value at which every generated layer is meant to be valid
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "gelu", "swish", "relu6", "leaky_relu", "softplus")


@dataclass
class Join:
    kind: str  # "concat" or "add"
    branches: list  # each a list of statements


Statement = Union[str, Join]


@dataclass
class Network:
    family: str  # "image", "sequence", "tokens", "volume"
    input_dims: tuple  # "?" or a written name for an open size, else an int
    body: list = field(default_factory=list)

    def input_text(self, values=None) -> str:
        """The input shape; with `values` (one int per open size, in order) the concrete one."""
        dims, open_sizes = [], iter(values or ())
        for dim in self.input_dims:
            dims.append(str(next(open_sizes)) if values is not None and isinstance(dim, str) else str(dim))
        return "x".join(dims)

    @property
    def open_axes(self) -> list:
        return [axis for axis, dim in enumerate(self.input_dims) if isinstance(dim, str)]

    def text(self, values=None) -> str:
        lines = ["model net {", f"    input {self.input_text(values)}"]
        _write(self.body, lines, 1)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def smaller(self):
        """Every network with one statement, or one branch of a join, left out."""
        for body in _without_one(self.body):
            yield Network(self.family, self.input_dims, body)


def _write(statements, lines, level):
    pad = "    " * level
    for statement in statements:
        if isinstance(statement, str):
            lines.append(pad + statement)
            continue
        lines.append(f"{pad}{statement.kind} {{")
        for branch in statement.branches:
            if branch:
                lines.append(f"{pad}    branch {{")
                _write(branch, lines, level + 2)
                lines.append(f"{pad}    }}")
            else:
                lines.append(f"{pad}    branch {{}}")
        lines.append(pad + "}")


def _without_one(statements):
    for index, statement in enumerate(statements):
        yield statements[:index] + statements[index + 1:]
        if isinstance(statement, Join):
            for b, branch in enumerate(statement.branches):
                if len(statement.branches) > 1:
                    fewer = statement.branches[:b] + statement.branches[b + 1:]
                    yield statements[:index] + [Join(statement.kind, fewer)] + statements[index + 1:]
                for shorter in _without_one(branch):
                    branches = statement.branches[:b] + [shorter] + statement.branches[b + 1:]
                    yield statements[:index] + [Join(statement.kind, branches)] + statements[index + 1:]


# --- sizes, roughly: only to keep the generated layers valid at MIN_SIZE -------------------------

def _conv_size(n, k, s, pad, dilation=1):
    """Output size of a convolution (pad: "same" or the total padding)."""
    if pad == "same":
        return -(-n // s)
    return (n + pad - dilation * (k - 1) - 1) // s + 1


def _pool_size(n, p, s, pad, ceil):
    if pad == "same":
        return -(-n // s)
    span = n + 2 * pad - p
    return (-(-span // s) if ceil else span // s) + 1


# --- the layers --------------------------------------------------------------------------------

class _Gen:
    def __init__(self, rng: random.Random):
        self.rng = rng

    # small helpers
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, *options):
        return self.rng.choice(options)

    def channels(self) -> int:
        return self.rng.choice((1, 2, 3, 4, 6, 8, 12, 16, 24, 32))

    def activation_word(self) -> str:
        return f" {self.rng.choice(ACTIVATIONS)}" if self.chance(0.4) else ""

    def elementwise(self) -> str:
        """A layer that keeps the shape."""
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:
            return "batchnorm" + self.pick("", "", " scale=false", " center=false")
        if choice == 1:
            return "layernorm" + self.pick("", " center=false")
        if choice == 2:
            return f"activation {rng.choice(ACTIVATIONS)}"
        if choice == 3:
            return f"dropout 0.{rng.randint(1, 5)}"
        return "batchnorm"

    def bias(self) -> str:
        return " bias=false" if self.chance(0.15) else ""

    # --- 2-D --------------------------------------------------------------------------------
    def groups_and_filters(self, c):
        """A groups= option that divides c and the number of filters."""
        filters = self.channels()
        if self.chance(0.2):
            divisors = [g for g in range(2, c + 1) if c % g == 0]
            if divisors:
                g = self.rng.choice(divisors)
                filters = g * self.rng.randint(1, 4)
                return filters, f" groups={g}"
        return filters, ""

    def image_layer(self, c, h, w):
        """Any 2-D layer valid at sizes (h, w): (text or texts, channels, h, w)."""
        rng = self.rng
        choice = rng.randrange(21)
        if choice < 6:  # convolution, every padding
            kh = rng.randint(1, 7)
            kw = kh if self.chance(0.7) else rng.randint(1, 7)
            s = rng.choice((1, 1, 2, 3))
            d = rng.choice((1, 1, 1, 2, 3)) if s == 1 or self.chance(0.3) else 1
            filters, groups = self.groups_and_filters(c)
            pad_kind = rng.randrange(4)
            if pad_kind == 0:
                pad, ph, pw = "", 0, 0
            elif pad_kind == 1:
                pad, ph, pw = " pad=same", "same", "same"
            elif pad_kind == 2:
                n = rng.randint(0, 3)
                pad, ph, pw = f" pad={n}", 2 * n, 2 * n
            else:
                a, b = rng.randint(0, 3), rng.randint(0, 3)
                pad, ph, pw = f" pad={a}x{b}", 2 * a, 2 * b
            kernel = f"{kh}" if kh == kw else f"{kh}x{kw}"
            stride = f" s={s}" if s > 1 or self.chance(0.1) else ""
            dilation = f" dilation={d}" if d > 1 else ""
            h2, w2 = _conv_size(h, kh, s, ph, d), _conv_size(w, kw, s, pw, d)
            text = f"conv2d {filters} k={kernel}{stride}{pad}{dilation}{groups}{self.bias()}{self.activation_word()}"
            return text, filters, h2, w2
        if choice < 8:  # depthwise or separable
            k, s = rng.randint(1, 5), rng.choice((1, 2))
            pad = rng.choice(("", " pad=same", f" pad={k // 2}"))
            total = "same" if pad == " pad=same" else (2 * (k // 2) if pad else 0)
            m = rng.choice((1, 1, 2))
            multiplier = f" multiplier={m}" if m > 1 else ""
            h2, w2 = _conv_size(h, k, s, total), _conv_size(w, k, s, total)
            if self.chance(0.5):
                return f"depthwise2d k={k} s={s}{pad}{multiplier}{self.bias()}{self.activation_word()}", c * m, h2, w2
            filters = self.channels()
            return f"separable2d {filters} k={k} s={s}{pad}{multiplier}{self.bias()}", filters, h2, w2
        if choice < 11:  # pooling
            kind = rng.choice(("maxpool2d", "avgpool2d"))
            p = rng.randint(1, 4)
            s = rng.choice((None, 1, 2, 3))
            stride = s or p
            pad_kind = rng.randrange(3)
            ceil = self.chance(0.35)
            if pad_kind == 0:
                pad, total = "", 0
            elif pad_kind == 1:
                pad, total = " pad=same", "same"
            else:
                n = rng.randint(0, p // 2)
                pad, total = f" pad={n}", n
            text = f"{kind} {p}" + (f" s={s}" if s else "") + pad + (" ceil=true" if ceil else "")
            return text, c, _pool_size(h, p, stride, total, ceil), _pool_size(w, p, stride, total, ceil)
        if choice in (11, 12):  # transposed convolution
            if h > 400 or w > 400:
                return self.elementwise(), c, h, w
            k, s = rng.randint(1, 5), rng.choice((1, 2, 3))
            filters = self.channels()
            pad_kind = rng.choice((0, 1, 2, 2))
            if pad_kind == 0:
                pad, h2, w2 = "", (h - 1) * s + k, (w - 1) * s + k
            elif pad_kind == 1:
                pad, h2, w2 = " pad=same", h * s, w * s
            else:
                k = max(k, 3)
                p = rng.randint(0, (k - 1) // 2)
                extra = rng.randint(1, s - 1) if s > 1 and self.chance(0.7) else 0
                pad = f" pad={p}" + (f" output_padding={extra}" if extra else "")
                h2, w2 = (h - 1) * s + k - 2 * p + extra, (w - 1) * s + k - 2 * p + extra
            return f"conv2d_transpose {filters} k={k} s={s}{pad}{self.bias()}", filters, h2, w2
        if choice == 13:  # upsampling
            if h > 400 or w > 400:
                return self.elementwise(), c, h, w
            fh, fw = rng.randint(1, 3), rng.randint(1, 3)
            factor = f" {fh}" if fh == fw else f" {fh}x{fw}"
            if fh == fw == 2 and self.chance(0.3):
                factor = ""
            return "upsample2d" + factor + self.pick("", "", " interpolation=bilinear"), c, h * fh, w * fw
        if choice == 14:  # zero padding
            form = rng.randrange(4)
            if form == 0:
                return "zeropad2d", c, h + 2, w + 2
            if form == 1:
                n = rng.randint(0, 3)
                return f"zeropad2d {n}", c, h + 2 * n, w + 2 * n
            if form == 2:
                a, b = rng.randint(0, 3), rng.randint(0, 3)
                return f"zeropad2d {a}x{b}", c, h + 2 * a, w + 2 * b
            t, b_, l_, r = (rng.randint(0, 3) for _ in range(4))
            return f"zeropad2d ({t}, {b_}, {l_}, {r})", c, h + t + b_, w + l_ + r
        if choice == 15:
            units = self.channels()
            return f"dense {units}{self.bias()}{self.activation_word()}", units, h, w
        if choice < 19:
            return self.elementwise(), c, h, w
        return None  # a join

    def keeping(self, c, s):
        """A branch that maps (n, c) to (ceil(n/s), c'): its statements and c'."""
        rng = self.rng
        out, strided = [], s == 1
        for _ in range(rng.randint(0, 2)):
            line, c = self.same_size(c)
            out.extend(line)
        if not strided:
            line, c = self.strided(c, s)
            out.extend(line)
        if self.chance(0.5):
            line, c = self.same_size(c)
            out.extend(line)
        return out, c

    def same_size(self, c):
        """Layers that keep the spatial size: (lines, channels)."""
        rng = self.rng
        choice = rng.randrange(11)
        filters = self.channels()
        if choice == 0:
            k, d = rng.choice((1, 3, 5, 7)), rng.choice((1, 1, 2))
            dilation = f" dilation={d}" if d > 1 else ""
            return [f"conv2d {filters} k={k} pad=same{dilation}{self.activation_word()}"], filters
        if choice == 1:
            n = rng.randint(0, 3)
            return [f"conv2d {filters} k={2 * n + 1} pad={n}{self.bias()}"], filters
        if choice == 2:
            a, b = rng.randint(0, 3), rng.randint(0, 3)
            return [f"conv2d {filters} k={2 * a + 1}x{2 * b + 1} pad={a}x{b}"], filters
        if choice == 3:
            return [f"depthwise2d k={rng.choice((3, 5))} pad=same"], c
        if choice == 4:
            return [f"separable2d {filters} k=3 pad=same"], filters
        if choice == 5:
            return [f"maxpool2d {rng.randint(1, 5)} s=1 pad=same"], c
        if choice == 6:
            p = rng.choice((1, 3, 5))
            return [f"avgpool2d {p} s=1 pad={p // 2}"], c
        if choice == 7:
            n = rng.randint(1, 3)
            return [f"zeropad2d {n}", f"conv2d {filters} k={2 * n + 1}"], filters
        if choice == 8:
            f = rng.randint(2, 3)
            return [f"upsample2d {f}", f"{rng.choice(('maxpool2d', 'avgpool2d'))} {f}"], c
        if choice == 9:
            return [f"dense {filters}"], filters
        return [self.elementwise()], c

    def strided(self, c, s):
        """Layers that map n to ceil(n/s): (lines, channels)."""
        rng = self.rng
        choice = rng.randrange(9)
        filters = self.channels()
        if choice == 0:
            return [f"conv2d {filters} k={rng.randint(1, 7)} s={s} pad=same{self.activation_word()}"], filters
        if choice == 1:
            return [f"conv2d {filters} k=1 s={s}{self.bias()}"], filters
        if choice == 2:
            n = rng.randint(0, 3)
            return [f"conv2d {filters} k={2 * n + 1} s={s} pad={n}"], filters
        if choice == 3:
            return [f"{rng.choice(('maxpool2d', 'avgpool2d'))} {rng.randint(1, 5)} s={s} pad=same"], c
        if choice == 4:
            return [f"{rng.choice(('maxpool2d', 'avgpool2d'))} {s} ceil=true"], c
        if choice == 5:
            return [f"depthwise2d k={rng.choice((1, 3, 5))} s={s} pad=same"], c
        if choice == 6:
            n = rng.randint(1, 3)
            return [f"zeropad2d {n}", f"conv2d {filters} k={2 * n + 1} s={s}"], filters
        if choice == 7:
            f = rng.randint(2, 3)
            return [f"upsample2d {f}", f"conv2d {filters} k=1 s={f * s}"], filters
        return [f"separable2d {filters} k=3 s={s} pad=same"], filters

    def image_join(self, c, h, w):
        rng = self.rng
        s = rng.choice((1, 1, 2, 3)) if min(h, w) > 8 else 1
        kind = rng.choice(("concat", "add"))
        branches, outs = [], []
        for _ in range(rng.randint(2, 3)):
            if s == 1 and self.chance(0.2):
                branches.append([])
                outs.append(c)
                continue
            lines, c2 = self.keeping(c, s)
            branches.append(lines)
            outs.append(c2)
        if kind == "add":
            target = rng.choice(outs)
            for lines, c2 in zip(branches, outs):
                if c2 != target or (not lines and target != c):
                    lines.append(f"conv2d {target} k={rng.choice((1, 3))} pad=same")
            out = target
        else:
            out = sum(outs)
        h2, w2 = -(-h // s), -(-w // s)
        return Join(kind, branches), out, h2, w2

    def image(self, net: Network, c, h, w, layers: int):
        for _ in range(layers):
            made = self.image_layer(c, h, w) if self.chance(0.85) else None
            if made is None:
                made = self.image_join(c, h, w)
            statement, c2, h2, w2 = made
            if min(h2, w2) < 2 or max(h2, w2) > 2000:
                continue
            net.body.append(statement)
            c, h, w = c2, h2, w2
        self.head(net, c, image=True)

    def head(self, net: Network, c, image: bool):
        rng = self.rng
        choice = rng.randrange(5)
        if choice == 0:
            return  # ends on the feature map
        if choice in (1, 2):
            pool = ("globalavgpool2d", "globalmaxpool2d") if image else ("globalavgpool1d", "globalmaxpool1d")
            net.body.append(rng.choice(pool) + self.pick("", "", " keepdims=true"))
        else:
            net.body.append("flatten")
        self.vector(net, rng.randint(0, 3))

    def vector(self, net: Network, layers: int):
        for _ in range(layers):
            if self.chance(0.7):
                net.body.append(f"dense {self.channels() * 4}{self.bias()}{self.activation_word()}")
            else:
                net.body.append(self.elementwise())

    # --- 1-D ---------------------------------------------------------------------------------
    def sequence_layer(self, c, n):
        rng = self.rng
        choice = rng.randrange(12)
        if choice < 4:
            k, s = rng.randint(1, 7), rng.choice((1, 1, 2, 3))
            d = rng.choice((1, 1, 2)) if s == 1 else 1
            filters, groups = self.groups_and_filters(c)
            pad = rng.choice(("", " pad=same", f" pad={rng.randint(0, 3)}"))
            total = "same" if pad == " pad=same" else (2 * int(pad.split("=")[1]) if pad else 0)
            text = f"conv1d {filters} k={k}" + (f" s={s}" if s > 1 else "") + pad + \
                (f" dilation={d}" if d > 1 else "") + groups + self.activation_word()
            return text, filters, _conv_size(n, k, s, total, d)
        if choice < 6:
            kind = rng.choice(("maxpool1d", "avgpool1d"))
            p = rng.randint(1, 4)
            s = rng.choice((None, 1, 2))
            pad_kind, ceil = rng.randrange(3), self.chance(0.35)
            if pad_kind == 0:
                pad, total = "", 0
            elif pad_kind == 1:
                pad, total = " pad=same", "same"
            else:
                q = rng.randint(0, p // 2)
                pad, total = f" pad={q}", q
            text = f"{kind} {p}" + (f" s={s}" if s else "") + pad + (" ceil=true" if ceil else "")
            return text, c, _pool_size(n, p, s or p, total, ceil)
        if choice < 9:
            kind = rng.choice(("rnn", "lstm", "gru"))
            units = rng.randint(1, 12)
            options = " return_sequences=true"
            bidirectional = self.chance(0.3)
            if bidirectional:
                options += " bidirectional=true"
            if kind == "gru" and self.chance(0.3):
                options += " reset_after=false"
            if self.chance(0.15):
                options += " bias=false"
            if kind == "rnn" and self.chance(0.3):
                options += " tanh"
            return f"{kind} {units}{options}", units * (2 if bidirectional else 1), n
        if choice == 9:
            units = self.channels()
            return f"dense {units}{self.activation_word()}", units, n
        if choice == 10:
            return "concat", c, n
        return self.elementwise(), c, n

    def sequence_join(self, c):
        """Branches that keep the length: conv1d with pad=same, recurrent layers returning sequences."""
        rng = self.rng
        branches, outs = [], []
        for _ in range(rng.randint(2, 3)):
            choice = rng.randrange(4)
            if choice == 0:
                filters = self.channels()
                branches.append([f"conv1d {filters} k={rng.randint(1, 5)} pad=same"])
                outs.append(filters)
            elif choice == 1:
                units = rng.randint(1, 8)
                branches.append([f"{rng.choice(('rnn', 'lstm', 'gru'))} {units} return_sequences=true"])
                outs.append(units)
            elif choice == 2:
                branches.append([f"maxpool1d {rng.choice((1, 3))} s=1 pad=same"])
                outs.append(c)
            else:
                branches.append([])
                outs.append(c)
        if rng.random() < 0.5:
            target = rng.choice(outs)
            for lines, c2 in zip(branches, outs):
                if c2 != target or not lines and target != c:
                    lines.append(f"dense {target}")
            return Join("add", branches), target
        return Join("concat", branches), sum(outs)

    def sequence(self, net: Network, c, n, layers: int):
        rng = self.rng
        for _ in range(layers):
            statement, c2, n2 = self.sequence_layer(c, n)
            if statement == "concat":
                statement, c2 = self.sequence_join(c)
            if n2 < 2:
                continue
            net.body.append(statement)
            c, n = c2, n2
        choice = rng.randrange(4)
        if choice == 0:  # the last state of a recurrent layer
            kind = rng.choice(("rnn", "lstm", "gru"))
            net.body.append(f"{kind} {rng.randint(1, 12)}" + self.pick("", " bidirectional=true"))
            self.vector(net, rng.randint(0, 2))
        elif choice == 1:
            self.head(net, c, image=False)

    # --- whole networks ----------------------------------------------------------------------
    def network(self) -> Network:
        rng = self.rng
        family = rng.choices(("image", "sequence", "tokens", "volume"), weights=(55, 20, 17, 8))[0]
        if family == "image":
            c = rng.choice((1, 3, 3, 4, 8))
            if self.chance(0.85):
                dims = ("?", "?", c)
            else:  # one open size
                known = rng.randint(MIN_SIZE, 128)
                dims = ("?", known, c) if self.chance(0.5) else (known, "?", c)
            net = Network(family, dims)
            self.image(net, c, MIN_SIZE, MIN_SIZE, rng.randint(1, 8))
        elif family == "sequence":
            c = rng.randint(1, 16)
            net = Network(family, ("?", c))
            self.sequence(net, c, MIN_SIZE, rng.randint(1, 6))
        elif family == "tokens":
            net = Network(family, ("?",))
            dim = rng.randint(2, 16)
            net.body.append(f"embedding {rng.randint(10, 5000)} {dim}")
            self.sequence(net, dim, MIN_SIZE, rng.randint(0, 5))
        else:
            c = rng.randint(1, 3)
            net = Network(family, ("?", "?", "?", c))
            for _ in range(rng.randint(1, 3)):  # at most 3 layers of kernel 3 and stride 2: valid from MIN_SIZE
                k, s = rng.randint(1, 3), rng.choice((1, 2))
                c = self.channels()
                net.body.append(f"conv3d {c} k={k} s={s}{rng.choice(('', ' pad=same', ' pad=1'))}")
                if self.chance(0.3):
                    net.body.append(self.elementwise())
            if self.chance(0.5):
                net.body.append("flatten")
                self.vector(net, rng.randint(1, 2))
        return net


def generate(rng: random.Random) -> Network:
    return _Gen(rng).network()
