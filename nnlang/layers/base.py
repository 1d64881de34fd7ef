"""What every layer kind is made of: argument specs, the result of inference, geometry helpers."""

from __future__ import annotations

import enum
from typing import Callable, Optional

import attrs

from ..formula import ZERO, F, is_atom

Shape = tuple  # of Optional[int]; the batch dimension is left out, channels last

#: Trailing activation words accepted after a layer (and by `activation NAME`).
ACTIVATIONS = (
    "relu", "tanh", "sigmoid", "softmax", "linear", "elu", "selu", "gelu", "swish", "silu",
    "softplus", "softsign", "leaky_relu", "relu6", "hard_sigmoid", "hard_swish", "mish",
    "exponential", "log_softmax",
)

BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False}

#: Words of a `pad=` option besides numbers.
PAD_WORDS = ("valid", "same")

#: What an expectation `-> SHAPE key=N` may check besides the shape.
EXPECTATION_KEYS = ("params", "trainable", "non_trainable", "macs")


@attrs.frozen
class Arg:
    """A positional argument or a `key=value` option of a layer kind.

    kinds of value: count (a positive integer), int, dims (an integer or a shape
    with one entry per spatial axis), pad (valid|same|N|HxW), bool, rate (a
    number in [0, 1)), word (one of `choices`), shape (a target shape), matrix
    (a list of rows of numbers, `[[0.1, -0.3], [0.5, 0.2]]`), vector (a list of
    numbers). A kind of value of its own has a `convert` (see `numbers_value`).
    """

    name: str
    type: str
    default: object = None
    doc: str = ""
    choices: tuple = ()
    aliases: tuple = ()
    required: bool = False
    #: dims and pad: the smallest value an entry may take (a kernel or stride 1, a padding 0).
    minimum: int = 1
    #: shape: whether one entry may be -1, the size inferred from the others (reshape).
    inferred_entry: bool = False
    #: shape: whether an entry may be a name, a size left open (input HxWx3, input T).
    named: bool = False
    #: convert(spec, value, axes) -> the value the kind receives, raising layers.BadValue for a value
    #: that does not fit: for values no `type` above describes (numbers_value, bias_value)
    convert: Optional[Callable] = None


class Args(dict):
    """Resolved arguments of one layer statement: `a.k`, `a.filters`."""

    spans: dict = {}

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@attrs.frozen
class Window:
    """The geometry of a window sliding over the spatial axes (a convolution or a pooling), as
    inference resolved it: numbers per spatial axis, for the back ends that rebuild the layer."""

    kernel: tuple
    stride: tuple
    dilation: tuple
    #: (before, after) per axis; (None, None) where 'same' depends on a size unknown until run time
    padding: tuple
    #: the padding is what 'same' pads (as TensorFlow/Keras resolve it) on every axis: pad=same,
    #: and pad=N or pad=valid where they happen to pad the same
    same: bool
    #: ceil=true gives another output size than flooring would (or may: an unknown size, stride above 1)
    ceil_rounds_up: bool = False


@attrs.frozen
class Facts:
    """What the tables and the diagram show of a compiled layer's weights and window, as numbers
    (None where a size is unknown until run time); nnlang/present.py writes them as text."""

    #: the Kernel column: the weights' sizes (5, 5, 3), (1024, 512), (4, 96, 32), or the window a pooling
    #: covers, (2, 2), (None, None) for a global pooling of an input of unknown size
    kernel: tuple = ()
    #: a second kernel applied after the first: a separable convolution's pointwise (1, 1, C)
    pointwise: tuple = ()
    #: the stride per axis
    stride: tuple = ()
    #: (before, after) per spatial axis of a window (Window.padding)
    padding: tuple = ()
    #: pad=same was written: the padding reads as same, with what it resolved to
    same: bool = False
    #: a transposed convolution's padding: "same", or what is cropped from each side (N, or one per axis)
    crop: object = None
    #: zero padding: (top, bottom, left, right)
    sides: tuple = ()


@attrs.frozen
class Shown:
    """A compiled layer as `LayerKind.describe` receives it: its facts and what the presenter
    (nnlang/present.py) wrote of them, for the tables and for a diagram."""

    facts: Facts = Facts()
    kernel: str = ""  # the Kernel, Stride and Padding columns: 5x5x3, 2x2, same (0/1)
    stride: str = ""
    padding: str = ""
    step: str = ""  # the stride in a diagram: /2, /2x1; '' for 1
    pad: str = ""  # the padding in a diagram: pad 2, pad same (0/1); '' for none


@attrs.define
class Result:
    """What a layer kind infers for one input."""

    shape: Shape
    trainable: F = ZERO
    non_trainable: F = ZERO
    macs: F = ZERO
    pool_ops: F = ZERO
    dims: tuple = ()  # F (or None) per output dimension whose size was computed
    notes: tuple = ()
    window: Optional[Window] = None  # convolutions and pooling
    #: convention -> (trainable F, non_trainable F), filled only by the kinds whose counts depend on
    #: the counting convention (docs/conventions.md), for every convention (their `trainable` and
    #: `non_trainable` are then Keras', the default); None: `trainable` and `non_trainable` hold in all
    by_convention: Optional[dict] = None

    def counts(self, convention: str) -> tuple:
        """(trainable, non_trainable) as `convention` counts them."""
        if self.by_convention is not None:
            return self.by_convention[convention]
        return self.trainable, self.non_trainable


class Context:
    """What a kind may ask of the compiler while inferring: diagnostics. (A kind whose counts depend
    on the counting convention gives them for every convention: Result.by_convention.)"""

    def __init__(self, report: Callable[..., None]):
        self._report = report

    def error(self, code: str, message: str, where: Optional[str] = None, *notes: str) -> None:
        self._report(code, message, where, *notes)

    warn = error  # the code's registered severity decides


class Layout(enum.Enum):
    """The axes a kind computes over, which decides where a back end keeps the channels."""

    #: over the spatial axes, each channel apart: PyTorch computes it channels-first
    SPATIAL = "spatial"
    #: over the last axis, or in the order of the values along it: channels-last everywhere
    LAST_AXIS = "last axis"
    #: value by value (or branch by branch): any layout will do
    ELEMENTWISE = "elementwise"


@attrs.frozen
class Weighted:
    """A layer that reads as weights applied to its input in an equation: `W x` or `K * x`."""

    symbol: str  # W (a matrix) or K (a kernel)
    operation: str  # "product" or "convolution"
    sizes: tuple  # of the weights, None where unknown


@attrs.frozen
class Applied:
    """A layer that reads as a function applied to its input in an equation: relu(x), maxpool2d(x)."""

    function: str


class LayerKind:
    """A kind of layer: its shape rule, its parameter and MAC formulas, and what the back ends
    need to know of it (declared here, so that no back end tests a kind's name)."""

    name: str = ""
    aliases: tuple = ()
    family: str = "other"
    summary: str = ""
    positional: tuple = ()
    options: tuple = ()
    takes_activation: bool = False
    #: accepted input ranks (batch left out), None for any
    ranks: Optional[tuple] = None
    rank_hint: str = ""
    #: can be written as a statement (the joins are written as concat/add blocks)
    statement: bool = True
    #: the statement that gives a model its input; not a layer
    model_input: bool = False
    #: joins the outputs of branches (a concat/add block), see `Join`
    joins_branches: bool = False
    #: the output is a view of the input, with no memory of its own
    view: bool = False
    #: the axes it computes over (where a back end keeps the channels for it)
    layout: Layout = Layout.ELEMENTWISE
    #: whether the layout tells the layout of the model's input, when the kind comes first
    #: (batch norm does not: it follows images and sequences alike)
    shows_input_layout: bool = True
    #: takes integer token ids, not numbers
    takes_ids: bool = False
    #: passes its input through unchanged at inference (and so is left out of an equation)
    identity_at_inference: bool = False
    #: the exporters' method for it is `_k_<export_as>` (kinds of one class share one); empty: the name
    export_as: str = ""
    #: the framework classes the exporters write (empty: no single class)
    keras_class: str = ""
    torch_class: str = ""

    #: the word for it in a diagram ('max pool', 'LSTM'); empty: its name
    word: str = ""
    #: `nnc trace` computes it from the weights written in the file (weights=, bias=[...])
    traceable: bool = False

    def infer(self, shape: Shape, a: Args, ctx: Context) -> Optional[Result]:
        raise NotImplementedError

    def facts(self, a: dict, shape: Shape, window: Optional[Window]) -> Facts:
        """What the tables show of a compiled layer (its resolved arguments, input shape and the
        Window its inference found) as numbers: the Kernel, Stride and Padding columns' facts."""
        return Facts()

    def describe(self, a: dict, shown: Shown) -> list:
        """The pieces of the layer's line in a diagram, its kind and key hyper-parameters ('conv 5x5, 64',
        '/2', 'pad 2'); empty pieces are left out, and 'no bias' and the activation follow them."""
        return [self.word or self.name]

    # what the back ends ask of a compiled layer: `a` is its resolved arguments (LayerNode.args, a dict)
    def adds_bias(self, a: dict) -> bool:
        """Whether the layer adds a bias to each output value."""
        return False

    def elementwise_ops(self, a: dict, shape: Shape):
        """(bias additions, activation operations) the kind counts itself, for FLOPs with
        everything (attention: its projections' biases and its softmax); None: one per output
        value each, as adds_bias and activation_function say."""
        return None

    def activation_function(self, a: dict) -> str:
        """The activation function the layer itself applies to each value ('' for none; a trailing
        activation word is the statement's, not the kind's)."""
        return ""

    def equation_term(self, a: dict, shape: Shape):
        """How the layer reads in the equation of a chain: Weighted, Applied, or None (left out)."""
        if self.identity_at_inference:
            return None
        return Applied(self.activation_function(a) or self.name)

    # helpers shared by the kinds
    def all_args(self) -> tuple:
        return self.positional + self.options

    def arg(self, name: str) -> Optional[Arg]:
        """The argument called `name` or one of its aliases (the first that is, in order)."""
        table = self.__dict__.get("_by_name")
        if table is None:
            table = {}
            for spec in self.all_args():
                for key in (spec.name, *spec.aliases):
                    table.setdefault(key, spec)
            self._by_name = table
        return table.get(name)


def fmt_dim(d) -> str:
    """One size in an `x`-joined shape: 28, ?, H, (ceil(H/2) - 1) (an expression in parentheses)."""
    if d is None:
        return "?"
    if type(d) is int:
        return str(d)
    text = str(d)
    return text if is_atom(text) else f"({text})"


def fmt_shape(shape) -> str:
    """28x28x3, ?x256, Tx512, (ceil(H/2) - 1)x(ceil(W/2) - 1)x64; () for a scalar."""
    if shape is None:
        return "?"
    if not shape:
        return "()"
    return "x".join(str(d) if type(d) is int else fmt_dim(d) for d in shape)


def fmt_dims(values) -> str:
    """3x3 (one entry per axis)."""
    return "x".join(str(v) for v in values)


def fmt_axes(values) -> str:
    """One number when every axis has it (2), else one per axis (2x1)."""
    if isinstance(values, (tuple, list)) and len(set(values)) == 1:
        return str(values[0])
    return fmt_sizes(values)


def fmt_sizes(values) -> str:
    """5x5x3, ?x? (unknown sizes as ?); ? for none at all, N for a single number."""
    if values is None:
        return "?"
    if isinstance(values, (tuple, list)):
        return "x".join(str(v) if type(v) is int else fmt_dim(v) for v in values)
    return str(values)


def channels(shape: Shape, ctx: Context, what: str) -> Optional[int]:
    """The number of channels (the last axis), which the weights' sizes need (a number, or an
    expression of named sizes: the weights' count is one too); None after reporting E205 when
    an error upstream left it unknown."""
    c = shape[-1] if shape else None
    if c is None:
        ctx.error("E205", f"{what} needs a known number of channels (the last axis), got {fmt_shape(shape)}")
    return c


# --- values: weights and biases written in the file ---------------------------


def _bad_value(message: str) -> Exception:
    from . import BadValue  # the registry's (it imports this module)

    return BadValue(message)


def _show_numbers(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show_numbers(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return "?" if value is None else str(value)


def _exact(value):
    """A number of a list as an exact Fraction; None for anything else."""
    from fractions import Fraction  # only files with weights need it (start-up time)

    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        return None
    return Fraction(value)


def numbers_value(spec: "Arg", value, axes: int = 0) -> tuple:
    """A `matrix` (rows of numbers: `[[0.1, -0.3], [0.5, 0.2]]`) or a `vector` (`[0.1, 0.2]`) as
    a tuple (of tuples) of exact Fractions; the layer checks the sizes against its own."""
    matrix = spec.type == "matrix"
    example = "[[0.1, -0.3], [0.5, 0.2]], one row per output" if matrix else "[0.1, 0.2]"
    if not isinstance(value, tuple) or not value:
        raise _bad_value(f"{spec.name} must be a list such as {example}, got {_show_numbers(value)}")
    if matrix:
        if not all(isinstance(row, tuple) and row for row in value):
            raise _bad_value(f"{spec.name} must be a list of rows such as {example}, got {_show_numbers(value)}")
        lengths = sorted({len(row) for row in value})
        if len(lengths) > 1:
            raise _bad_value(f"{spec.name}: the rows have different lengths ({', '.join(map(str, lengths))}), "
                             f"got {_show_numbers(value)}")
        rows = tuple(tuple(_exact(v) for v in row) for row in value)
        if any(v is None for row in rows for v in row):
            raise _bad_value(f"{spec.name} must hold numbers only, got {_show_numbers(value)}")
        return rows
    exact = tuple(_exact(v) for v in value)
    if any(v is None for v in exact):
        raise _bad_value(f"{spec.name} must be a list of numbers such as {example}, got {_show_numbers(value)}")
    return exact


def bias_value(spec: "Arg", value, axes: int = 0):
    """`bias=true|false`, or the bias's values `bias=[0.1, 0.2]` (a vector, which adds a bias)."""
    if isinstance(value, tuple):
        return numbers_value(attrs.evolve(spec, type="vector"), value)
    if isinstance(value, str) and value.lower() in BOOL_WORDS:
        return BOOL_WORDS[value.lower()]
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    raise _bad_value(f"{spec.name} must be true, false or its values such as [0.1, 0.2], got {_show_numbers(value)}")


def check_values(ctx: "Context", name: str, values, rows, columns=None, *, what: str, row_word: str = "row",
                 column_word: str = "") -> bool:
    """Whether the values of option `name` have the sizes the layer needs (`rows` entries, each of
    `columns` when given); E104 at the option, saying what each size means, when they do not."""
    if len(values) != rows:
        ctx.error("E104", f"{name} has {len(values)} {row_word}(s), {what} needs {rows}", name)
        return False
    if columns is not None and len(values[0]) != columns:
        ctx.error("E104", f"{name}: each row has {len(values[0])} number(s), {what} needs {columns}"
                          + (f" ({column_word})" if column_word else ""), name)
        return False
    return True


# --- window geometry: convolution and pooling ---------------------------------


def resolve_padding(pad, n: Optional[int], k: int, s: int, d: int) -> tuple[Optional[int], Optional[int]]:
    """Padding (before, after) of one axis, as TensorFlow/Keras resolve 'same'."""
    if pad == "valid":
        return 0, 0
    if pad == "same":
        eff = d * (k - 1) + 1
        if n is None or s == 1:
            if s == 1:
                total = eff - 1
                return total // 2, total - total // 2
            return None, None
        out = -(-n // s)
        total = (out - 1) * s + eff - n
        if type(total) is int:
            total = max(total, 0)
        elif eff < s:  # a named size: negative for some of its values, and Keras pads 0 then
            return None, None
        return total // 2, total - total // 2
    return pad, pad


def window_output(n, k, s, d, before, after, *, ceil=False) -> Optional[F]:
    """Output size of a sliding window along one axis, with the arithmetic shown:
    (n + 2p - d(k-1) - 1)/s + 1, floored (or ceiled, as PyTorch's ceil_mode)."""
    if n is None or before is None:
        return None
    eff = d * (k - 1) + 1
    span = n + before + after - eff
    pads = f"2*{before}" if before == after else f"{before} + {after}"
    kernel = str(k) if d == 1 else f"({d}*({k} - 1) + 1)"
    inner = f"{n} + {pads} - {kernel}"
    if type(span) is int and span < 0:  # (a named size's span is taken as large enough)
        return F(0 if span + s <= 0 else span // s + 1, f"({inner})/{s} + 1")
    if ceil:
        value = -(-span // s) + 1
        # PyTorch: the last window must start inside the input or the left padding
        if type(value) is int:
            if (value - 1) * s >= n + before:
                value -= 1
        else:  # a named size: decided for all of its values, else the smaller of the two counts
            from .. import symbolic

            starts_past = symbolic.is_positive((value - 1) * s - (n + before) + 1)
            if starts_past:
                value -= 1
            elif starts_past is None:
                value = symbolic.minimum(value, (n + before - 1) // s + 1)
        shown = f"ceil(({inner})/{s}) + 1" if span % s != 0 else f"({inner})/{s} + 1"
        return F(value, shown, 1)
    value = span // s + 1
    shown = f"floor(({inner})/{s}) + 1" if span % s != 0 else f"({inner})/{s} + 1"
    return F(value, shown, 1)


def sliding_window(shape, k, s, d, pad, ctx: Context, *, what: str, ceil=False, pool=False, kernel_arg="k"):
    """Output spatial sizes and paddings for a window sliding over shape[:-1].

    Reports shape errors and the padding/stride consistency warnings: one per
    finding and layer, naming the axes it holds for (the axes' own numbers in one
    message where they differ). Returns (dims: tuple of F|None, the Window) or
    None on error.
    """
    spatial = shape[:-1]
    dims, pads = [], []
    same = True  # every axis so far is padded as 'same' pads it
    rounds_up = False  # ceil=true gives another size than flooring on some axis so far
    findings: dict = {}  # code -> [(axis, message, where, notes)], in the order found
    asymmetric: list = []  # (n, k, s, d, before, after, size) of the axes W202 holds for

    def find(axis, code, message, where, *notes):
        findings.setdefault(code, []).append((axis, message, where, notes))

    for axis, n in enumerate(spatial):
        ka, sa, da = k[axis], s[axis], d[axis]
        explicit = pad if not isinstance(pad, tuple) else pad[axis]
        if pool and isinstance(explicit, int) and explicit * 2 > ka:  # whatever the input size
            ctx.error("E203", f"{what}: padding {explicit} must be at most half the pool size {ka}", "pad")
            return None
        before, after = resolve_padding(explicit, n, ka, sa, da)
        pads.append((before, after))
        same = same and resolve_padding("same", n, ka, sa, da) == (before, after)
        if explicit == "same" and type(n) is not int and n is not None and sa > 1:  # on a named size
            from .. import symbolic

            size = F(symbolic.ceil_div(n, sa), f"ceil({F.of(n)._wrap(2)}/{sa})")  # whatever it pads
        else:
            size = window_output(n, ka, sa, da, before, after, ceil=ceil)
        dims.append(size)
        if ceil and n is None and sa > 1:
            rounds_up = True  # the size decides
        if size is None:
            continue
        if ceil and not rounds_up:
            floor = window_output(n, ka, sa, da, before, after)
            rounds_up = floor is None or floor.value != size.value
        eff = da * (ka - 1) + 1
        named = type(n) is not int  # a named size: what depends on its value is not checked
        if size.value <= 0 if not named else never_positive(size.value):
            padded = n + before + after
            ctx.error(
                "E202",
                f"{what}: window {eff} is larger than the input ({n}"
                + (f", {padded} padded" if padded != n else "")
                + f") along {_axis_names(len(spatial), [axis])}: output size {size.text} = {size.value}",
                kernel_arg,
            )
            return None
        remainder = (n + before + after - eff) % sa if not named else 0
        # rows left over at the end; harmless when they are only padding or when the
        # stride skips inputs by design (window smaller than the stride)
        if not named and remainder > after and eff >= sa and not ceil and explicit != "same":
            extra = sa - remainder
            find(axis, "W201",
                 f"{what}: ({n} + {before + after} - {eff}) = {n + before + after - eff} is not a multiple of the "
                 f"stride {sa}: the last {remainder - after} input row(s)/column(s) are never read", "s",
                 f"an input of {n + extra} (or {extra} more padding) would make it exact")
        if explicit == "same" and not named and before != after:
            asymmetric.append((n, ka, sa, da, before, after, size.value))
            find(axis, "W202", f"{what}: 'same' padding is asymmetric: {before} before and {after} after, as "
                               "TensorFlow/Keras pad it", "pad", _symmetric_alternative(n, ka, sa, da, before, after,
                                                                                       size.value))
        if isinstance(explicit, int) and explicit and not pool and explicit * 2 >= eff:
            find(axis, "W204", f"{what}: padding {explicit} is half the window ({eff}) or more: border outputs "
                               "see mostly zeros", "pad")
    for code, found in findings.items():
        message, where, notes = _merged(found, len(spatial), what)
        if code == "W202" and len(asymmetric) > 1 and len({f[3] for f in found}) > 1:
            notes = (_symmetric_alternatives(asymmetric),)
        ctx.warn(code, message, where, *notes)
    if pool and any(sa > ka for sa, ka in zip(s, k)):
        ctx.warn("W203", f"{what}: stride {fmt_dims(s)} is larger than the window {fmt_dims(k)}: some inputs are "
                         "never read", "s")
    known = [dim.value for dim in dims if dim is not None]
    if known and len(known) == len(dims) and all(v == 1 for v in known) and any(
        n is not None and n > 1 for n in spatial
    ):
        hint = (f"if a global pooling is meant, global{'max' if 'max' in what else 'avg'}pool{len(dims)}d says so"
                if pool else "every output sees the whole input: a dense layer would do the same")
        ctx.warn("W205", f"{what}: the output collapses to {fmt_dims(known)}", None, hint)
    return tuple(dims), Window(tuple(k), tuple(s), tuple(d), tuple(pads), same, rounds_up)


def never_positive(size) -> bool:
    """A named size's expression that is zero or negative for every value of the sizes."""
    from .. import symbolic

    return symbolic.is_positive(size) is False


def _merged(found: list, rank: int, what: str) -> tuple:
    """(message, where, notes) of one finding over the axes it holds for: `found` holds
    (axis, message, where, notes) per axis. Axes with the same message are named together; the
    notes of axes that differ are each prefixed with their axis."""
    by_message: dict = {}
    for axis, message, where, notes in found:
        by_message.setdefault(message, []).append(axis)
    where = found[0][2]
    if len(by_message) == 1:
        (message, axes), = by_message.items()
        text = f"{message} (along {_axis_names(rank, axes)})"
    else:  # the same finding with other numbers per axis: one message, the what: said once
        prefix = f"{what}: "
        parts = [f"{m[len(prefix):] if m.startswith(prefix) else m} (along {_axis_names(rank, axes)})"
                 for m, axes in by_message.items()]
        text = prefix + "; ".join(parts)
    distinct = list(dict.fromkeys(notes for _, _, _, notes in found))
    if len(distinct) == 1:
        return text, where, distinct[0]
    notes = tuple(f"along {_axis_names(rank, [axis])}: {note}" for axis, _, _, axis_notes in found
                  for note in axis_notes)
    return text, where, notes


def _symmetric_alternatives(axes: list) -> str:
    """What PyTorch's symmetric padding gives instead of an uneven 'same', over several axes:
    axes holds (n, k, s, d, before, after, size) per axis."""
    sizes = tuple(axis[6] for axis in axes)
    options = []
    for p in sorted({side for axis in axes for side in axis[4:6]}):
        others = tuple(window_output(n, k, s, d, p, p).value for n, k, s, d, *_ in axes)
        if others == sizes:
            options.append(f"padding={p} gives the same size {fmt_dims(sizes)} but shifts the windows")
        else:
            options.append(f"padding={p} gives {fmt_dims(others)}, not {fmt_dims(sizes)}")
    return "in PyTorch, " + "; ".join(options)


def _symmetric_alternative(n, k, s, d, before, after, size) -> str:
    """What PyTorch's symmetric padding gives instead of an uneven 'same'."""
    options = []
    for p in sorted({before, after}):
        other = window_output(n, k, s, d, p, p)
        if other.value == size:
            options.append(f"padding={p} gives the same size {size} but shifts the windows")
        else:
            options.append(f"padding={p} gives {other.value}, not {size}")
    return "in PyTorch, " + "; ".join(options)


def _axis_names(rank: int, axes) -> str:
    names = {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}.get(rank)
    if names is None:
        return "axes " + ", ".join(str(a + 1) for a in axes)
    picked = [names[a] for a in axes]
    return " and ".join(picked) if len(picked) < 3 else ", ".join(picked)
