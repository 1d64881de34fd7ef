"""Layers without weights that move, resize or pass data: input, flatten, reshape,
upsampling, zero padding, dropout, activation, and the joins of branches."""

from __future__ import annotations

from typing import Optional

from ..formula import F, is_symbolic_error, product
from .base import (ACTIVATIONS, Arg, Args, Context, Facts, LayerKind, Layout, Result, Shown, fmt_axes, fmt_shape,
                   fmt_sizes)


class Input(LayerKind):
    name = "input"
    aliases = ("Input", "InputLayer")
    family = "input"
    summary = "the model's input (batch dimension left out)"
    positional = (Arg("shape", "shape", None, "input shape, e.g. 28x28x3, ?x256, (28, 28, 3), or with named sizes "
                                              "HxWx3, Tx512, T", required=True, named=True),)
    model_input = True
    keras_class = "Input"

    def infer(self, shape, a: Args, ctx: Context):
        return Result(a.shape)


class Flatten(LayerKind):
    name = "flatten"
    aliases = ("Flatten",)
    family = "reshape"
    summary = "flattens everything but the batch into one axis"
    view = True
    layout = Layout.LAST_AXIS  # the values in Keras' (channels-last) order
    keras_class = "Flatten"
    torch_class = "Flatten"

    def infer(self, shape, a: Args, ctx: Context):
        if None in shape:
            ctx.error("E205", f"flatten needs every dimension known, got {fmt_shape(shape)}")
            return None
        size = product(shape) if len(shape) > 1 else F(shape[0]) if shape else F(1)
        return Result((size.value,), dims=(size,))


class Reshape(LayerKind):
    name = "reshape"
    aliases = ("Reshape", "view")
    family = "reshape"
    summary = "reshapes to a target shape (one entry may be -1: inferred)"
    positional = (Arg("target", "shape", None, "target shape, e.g. 4x4x64 or (-1, 64)", required=True, inferred_entry=True),)
    view = True
    layout = Layout.LAST_AXIS  # the values in Keras' (channels-last) order
    keras_class = "Reshape"
    torch_class = "Reshape"  # a module of the exported file: the target leaves out the batch axis

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"reshape {fmt_shape(a.get('target'))}"]

    def infer(self, shape, a: Args, ctx: Context):
        target = list(a.target)
        if sum(1 for d in target if d == -1) > 1:
            ctx.error("E104", "reshape: at most one entry may be -1", "target")
            return None
        if None in shape or None in target:
            if -1 in target:
                ctx.error("E205", f"reshape with -1 needs a fully known input, got {fmt_shape(shape)}", "target")
                return None
            return Result(tuple(target))
        size = product(shape).value
        known = product([d for d in target if d != -1]).value
        if -1 in target:
            if type(size) is int and type(known) is int:
                inferred = None if known == 0 or size % known else size // known
            else:
                from .. import symbolic

                try:
                    inferred = None if known == 0 else symbolic.exact_div(size, known)
                except ValueError as error:  # not a multiple for every value of the named sizes
                    if not is_symbolic_error(error):
                        raise
                    inferred = None
            if inferred is None:
                ctx.error("E206", f"reshape: {size} values cannot be arranged as {fmt_shape(a.target)}", "target")
                return None
            target[target.index(-1)] = inferred
        elif known != size:
            ctx.error("E206", f"reshape: the input {fmt_shape(shape)} holds {size:,} values but "
                              f"{fmt_shape(a.target)} holds {known:,}", "target")
            return None
        return Result(tuple(target))


class UpSample2D(LayerKind):
    name = "upsample2d"
    aliases = ("UpSampling2D", "Upsample", "upsampling2d", "up_sampling2d")
    family = "reshape"
    summary = "repeats rows and columns (nearest neighbour) by a factor"
    ranks = (3,)
    rank_hint = "height x width x channels"
    positional = (Arg("factor", "dims", 2, "upsampling factor, N or HxW", aliases=("size", "scale_factor")),)
    options = (Arg("interpolation", "word", "nearest", "nearest or bilinear", choices=("nearest", "bilinear")),)
    layout = Layout.SPATIAL
    keras_class = "UpSampling2D"
    torch_class = "Upsample"
    word = "upsample"

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts(a["factor"])  # the Kernel column shows the factor

    def describe(self, a: dict, shown: Shown) -> list:
        interpolation = a.get("interpolation", "nearest")
        return [f"upsample x{fmt_axes(a.get('factor'))}", str(interpolation) if interpolation != "nearest" else ""]

    def infer(self, shape, a: Args, ctx: Context):
        dims = tuple(None if n is None else F(n) * f for n, f in zip(shape[:-1], a.factor))
        out = tuple(None if d is None else d.value for d in dims) + (shape[-1],)
        return Result(out, dims=dims)


class ZeroPad2D(LayerKind):
    name = "zeropad2d"
    aliases = ("ZeroPadding2D", "ZeroPad2d", "zero_padding2d", "zeropadding2d")
    family = "reshape"
    summary = "adds rows and columns of zeros around the image"
    ranks = (3,)
    rank_hint = "height x width x channels"
    positional = (Arg("padding", "padding4", (1, 1, 1, 1),
                      "N on every side, HxW (rows top and bottom x columns left and right), or "
                      "(top, bottom, left, right)"),)
    layout = Layout.SPATIAL
    keras_class = "ZeroPadding2D"
    torch_class = "ZeroPad2d"
    word = "zero pad"

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts(sides=a["padding"])

    def describe(self, a: dict, shown: Shown) -> list:
        pad = a.get("padding")
        if isinstance(pad, tuple) and len(pad) == 4:
            top, bottom, left, right = pad
            if len(set(pad)) == 1:
                pad = top
            elif (top, left) == (bottom, right):
                pad = f"{top}x{left}"
            else:
                pad = f"{top}/{bottom}x{left}/{right}"  # as the summary table shows it
        return [f"zero pad {fmt_sizes(pad)}"]

    def infer(self, shape, a: Args, ctx: Context):
        top, bottom, left, right = a.padding
        h, w, c = shape
        dims = (None if h is None else F(h) + top + bottom, None if w is None else F(w) + left + right)
        out = tuple(None if d is None else d.value for d in dims) + (c,)
        return Result(out, dims=dims)


class Dropout(LayerKind):
    name = "dropout"
    aliases = ("Dropout", "SpatialDropout2D", "Dropout2d")
    family = "regularization"
    summary = "randomly zeroes a fraction `rate` of its inputs while training"
    positional = (Arg("rate", "rate", None, "fraction dropped, in [0, 1)", aliases=("p",), required=True),)
    identity_at_inference = True
    keras_class = "Dropout"
    torch_class = "Dropout"

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"{self.word or self.name} {a.get('rate', '?')}"]

    def infer(self, shape, a: Args, ctx: Context):
        return Result(shape)


class Activation(LayerKind):
    name = "activation"
    aliases = ("Activation", "ReLU", "Softmax", "Tanh", "Sigmoid")
    family = "activation"
    summary = "applies an activation function elementwise"
    positional = (Arg("function", "word", "relu", "the activation: " + ", ".join(ACTIVATIONS), choices=ACTIVATIONS),)
    keras_class = "Activation"

    def infer(self, shape, a: Args, ctx: Context):
        return Result(shape)

    def activation_function(self, a: dict) -> str:
        return a.get("function", "relu")

    def describe(self, a: dict, shown: Shown) -> list:
        return [str(a.get("function", "activation"))]


class Join(LayerKind):
    """Joins the outputs of branches; called by the compiler, not written as a statement."""

    family = "merge"
    statement = False
    joins_branches = True
    #: what the branches' shapes must agree on, in words (for the diagnostic when they do not)
    agreement = ""
    #: whether the sizes of the last (channel) axis add up instead of agreeing
    sums_channels = False

    #: whether a size of 1 stretches to the other branches' size on its axis, and a branch with
    #: fewer axes counts as one with leading axes of size 1 (NumPy broadcasting, the batch left out)
    broadcasts = False

    def join(self, shapes: list) -> Optional[tuple]:
        """The joined shape, or None when the shapes do not agree."""
        if self.broadcasts:
            return _broadcast(shapes)
        first = shapes[0]
        if any(len(s) != len(first) for s in shapes):
            return None
        out = []
        for axis, dims in enumerate(zip(*shapes)):
            if self.sums_channels and axis == len(first) - 1:
                out.append(None if None in dims else sum(dims))
                continue
            agree, size = _agreeing(dims)
            if not agree:
                return None
            out.append(size)
        return tuple(out)

    def compared(self, shape: tuple) -> tuple:
        """The part of a branch's shape that must equal the other branches'."""
        raise NotImplementedError

    def mismatch_note(self, shapes: list) -> str:
        """A hint for branches that do not agree ('' for none)."""
        return ""


def _agreeing(dims) -> tuple[bool, Optional[int]]:
    """Whether the sizes of one axis agree (unknown sizes agree with any), and the size."""
    known = {d for d in dims if d is not None}
    return len(known) <= 1, (known.pop() if known else None)


def _broadcast(shapes: list) -> Optional[tuple]:
    """The shape NumPy broadcasting gives the branches' shapes (batch left out: a shorter shape is
    lined up with the last axes of the longer ones), or None when an axis has two sizes other than 1.
    An unknown size stands for any; a named size is never taken to be 1."""
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded):
        sizes = {d for d in dims if d is not None and not (type(d) is int and d == 1)}
        if len(sizes) > 1:
            return None
        if sizes:
            out.append(sizes.pop())
        else:  # every size is 1 or unknown: 1 if none is unknown
            out.append(None if None in dims else 1)
    return tuple(out)


class Concat(Join):
    name = "concat"
    aliases = ("Concatenate", "concatenate", "cat")
    summary = "joins branches on the channel (last) axis"
    agreement = "all but the channel axis"
    keras_class = "Concatenate"
    torch_class = "Concat"  # a module of the exported file: torch.cat on the channel axis of its layout
    sums_channels = True

    def compared(self, shape: tuple) -> tuple:
        return shape[:-1]


class Add(Join):
    name = "add"
    aliases = ("Add",)
    summary = "sums branches elementwise (shapes must agree, or broadcast: a size 1 stretches)"
    agreement = "every axis"
    keras_class = "Add"
    torch_class = "Add"  # a module of the exported file: the sum of its inputs
    broadcasts = True

    def compared(self, shape: tuple) -> tuple:
        return shape

    def mismatch_note(self, shapes: list) -> str:
        if len({s[:-1] for s in shapes}) == 1:
            return "the channel counts differ: a 1x1 convolution on the shortcut can match them"
        return ""


class Multiply(Join):
    name = "multiply"
    aliases = ("Multiply", "mul")
    summary = "multiplies branches elementwise (shapes must agree, or broadcast: a size 1 stretches)"
    agreement = "every axis (or be 1 there)"
    keras_class = "Multiply"
    torch_class = "Multiply"  # a module of the exported file: the product of its inputs
    broadcasts = True

    def compared(self, shape: tuple) -> tuple:
        return shape


KINDS = (Input(), Flatten(), Reshape(), UpSample2D(), ZeroPad2D(), Dropout(), Activation(), Concat(), Add(),
         Multiply())
