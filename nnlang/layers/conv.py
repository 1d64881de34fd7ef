"""Convolutions: conv1d/2d/3d, depthwise2d, separable2d, conv2d_transpose."""

from __future__ import annotations

import attrs

from ..formula import UNKNOWN, F, product
from .base import never_positive
from .base import (Arg, Args, Context, Facts, LayerKind, Layout, Result, Shown, Weighted, channels, fmt_axes,
                   fmt_dims, fmt_sizes, sliding_window)

_PAD_DOC = "valid (0), same (output = ceil(input/stride)), N on each side, or HxW"


def _window_args(filters: bool, *, multiplier: bool = False) -> tuple:
    options = [
        Arg("k", "dims", None, "kernel size", aliases=("kernel", "kernel_size"), required=True),
        Arg("s", "dims", 1, "stride", aliases=("stride", "strides")),
        Arg("pad", "pad", "valid", _PAD_DOC, aliases=("padding",)),
        Arg("dilation", "dims", 1, "dilation rate", aliases=("dilation_rate",)),
    ]
    if filters:
        options.append(Arg("groups", "count", 1, "groups: input and output channels split into this many"))
    if multiplier:
        options.append(Arg("multiplier", "count", 1, "output channels per input channel",
                           aliases=("depth_multiplier",)))
    options.append(Arg("bias", "bool", True, "add a bias per output channel", aliases=("use_bias",)))
    return tuple(options)


class _Windowed(LayerKind):
    """A kind that slides a kernel over the spatial axes of a channels-last input."""

    family = "conv"
    takes_activation = True
    layout = Layout.SPATIAL

    def window(self, shape, a: Args, ctx: Context):
        """(input channels, output sizes, Window), or None after reporting why not."""
        cin = channels(shape, ctx, self.name)
        if cin is None:
            return None
        found = sliding_window(shape, a.k, a.s, a.dilation, a.pad, ctx, what=self.name)
        if found is None:
            return None
        return (cin, *found)

    def adds_bias(self, a: dict) -> bool:
        return bool(a.get("bias", False))

    def kernel(self, a: dict, cin: int) -> tuple:
        """The weights' sizes, the Kernel column: k_h x k_w x the input channels each filter reads."""
        raise NotImplementedError

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts(self.kernel(a, shape[-1]), stride=window.stride, padding=window.padding,
                     same=a["pad"] == "same")

    def describe(self, a: dict, shown: Shown) -> list:
        return [self._head(a), self._stride(shown), shown.pad, *self._extras(a)]

    def _head(self, a: dict) -> str:
        """'conv 5x5, 64'."""
        head = f"{self.word or self.name} {fmt_sizes(a.get('k'))}"
        if a.get("filters") is not None:
            head += f", {a['filters']}"
        return head

    def _stride(self, shown: Shown) -> str:
        return shown.step

    def _extras(self, a: dict) -> list:
        """'dilation 2', 'groups 4', 'x2 per channel'."""
        out = []
        dilation = a.get("dilation")
        if dilation and fmt_axes(dilation) != "1":
            out.append(f"dilation {fmt_axes(dilation)}")
        if a.get("groups", 1) not in (1, None):
            out.append(f"groups {a['groups']}")
        if a.get("multiplier", 1) not in (1, None):
            out.append(f"x{a['multiplier']} per channel")
        return out


def _spatial(dims) -> tuple:
    return tuple(d.value if d is not None else None for d in dims)


def _depthwise_weights(a: Args, cin: int) -> F:
    """k_h*k_w*C_in (times the depth multiplier when above 1)."""
    return product([*a.k, cin, a.multiplier]) if a.multiplier > 1 else product([*a.k, cin])


class Conv(_Windowed):
    spatial = 2
    positional = (Arg("filters", "count", None, "number of filters (output channels)", aliases=("out_channels",),
                      required=True),)
    options = _window_args(filters=True)
    export_as = "conv"

    def __init__(self, spatial: int, name: str, aliases: tuple, word: str = ""):
        self.spatial = spatial
        self.name = name
        self.aliases = aliases
        self.word = word
        self.keras_class = f"Conv{spatial}D"
        self.torch_class = f"Conv{spatial}d"
        self.ranks = (spatial + 1,)
        axes = {1: "length x channels", 2: "height x width x channels", 3: "depth x height x width x channels"}
        self.rank_hint = axes[spatial]
        self.summary = f"{spatial}-D convolution"
        #: notes for an input of another rank, by that rank: the kind a user most likely meant
        self.rank_notes = {2: "for a sequence (length x channels) use conv1d"} if spatial == 2 else {}

    def infer(self, shape, a: Args, ctx: Context):
        groups, filters = a.groups, a.filters
        if shape[-1] is not None and (shape[-1] % groups or filters % groups):
            ctx.error("E104", f"groups={groups} must divide both the input channels ({shape[-1]}) and the filters "
                              f"({filters})", "groups")
            return None
        window = self.window(shape, a, ctx)
        if window is None:
            return None
        cin, dims, geometry = window
        per_filter = product([*a.k, F(cin).floordiv(groups) if groups > 1 else F(cin)])
        weights = per_filter * filters
        params = weights + filters if a.bias else weights
        out = _spatial(dims) + (filters,)
        macs = UNKNOWN if None in out else product([*(d.value for d in dims), filters]) * per_filter
        return Result(out, trainable=params, macs=macs, dims=dims, window=geometry)

    def kernel(self, a: dict, cin: int) -> tuple:
        return (*a["k"], cin // a["groups"])

    def equation_term(self, a: dict, shape):
        return Weighted("K", "convolution", (*a["k"], shape[-1], a["filters"]))


class Depthwise2D(_Windowed):
    name = "depthwise2d"
    aliases = ("DepthwiseConv2D", "depthwise_conv2d", "depthwiseconv2d")
    summary = "depthwise 2-D convolution (one filter per input channel)"
    ranks = (3,)
    rank_hint = "height x width x channels"
    options = _window_args(filters=False, multiplier=True)
    keras_class = "DepthwiseConv2D"
    torch_class = "Conv2d"  # with groups = input channels
    word = "depthwise conv"

    def kernel(self, a: dict, cin: int) -> tuple:
        return (*a["k"], 1)

    def infer(self, shape, a: Args, ctx: Context):
        window = self.window(shape, a, ctx)
        if window is None:
            return None
        cin, dims, geometry = window
        cout = cin * a.multiplier
        weights = _depthwise_weights(a, cin)
        params = weights + cout if a.bias else weights
        out = _spatial(dims) + (cout,)
        macs = UNKNOWN if None in out else product([*(d.value for d in dims), cout]) * product(a.k)
        return Result(out, trainable=params, macs=macs, dims=dims, window=geometry)


class Separable2D(_Windowed):
    name = "separable2d"
    aliases = ("SeparableConv2D", "separable_conv2d", "separableconv2d")
    summary = "depthwise separable 2-D convolution (depthwise, then 1x1 pointwise)"
    ranks = (3,)
    rank_hint = "height x width x channels"
    positional = Conv.positional
    options = _window_args(filters=False, multiplier=True)
    keras_class = "SeparableConv2D"
    torch_class = "SeparableConv2d"  # a module of the exported file: depthwise, then pointwise
    word = "separable conv"

    def kernel(self, a: dict, cin: int) -> tuple:
        return (*a["k"], 1)

    def facts(self, a: dict, shape, window) -> Facts:
        # then the pointwise 1x1 over the depthwise outputs
        return attrs.evolve(super().facts(a, shape, window), pointwise=(1, 1, shape[-1] * a["multiplier"]))

    def infer(self, shape, a: Args, ctx: Context):
        window = self.window(shape, a, ctx)
        if window is None:
            return None
        cin, dims, geometry = window
        mid = cin * a.multiplier
        depthwise = _depthwise_weights(a, cin)
        pointwise = F(mid) * a.filters
        params = depthwise + pointwise + a.filters if a.bias else depthwise + pointwise
        out = _spatial(dims) + (a.filters,)
        if None in out:
            macs = UNKNOWN
        else:
            positions = product([d.value for d in dims])
            macs = positions * mid * product(a.k) + positions * mid * a.filters
        return Result(out, trainable=params, macs=macs, dims=dims, window=geometry)


class Conv2DTranspose(_Windowed):
    name = "conv2d_transpose"
    aliases = ("Conv2DTranspose", "ConvTranspose2d", "deconv2d", "conv2dtranspose")
    summary = "transposed 2-D convolution (learned upsampling)"
    ranks = (3,)
    rank_hint = "height x width x channels"
    positional = Conv.positional
    options = (
        Arg("k", "dims", None, "kernel size", aliases=("kernel", "kernel_size"), required=True),
        Arg("s", "dims", 1, "stride", aliases=("stride", "strides")),
        Arg("pad", "pad", "valid", "valid, same (output = input*stride), or N cropped from each side (PyTorch)",
            aliases=("padding",)),
        Arg("output_padding", "dims", 0, "extra rows/columns added on one side (PyTorch)", minimum=0),
        Arg("bias", "bool", True, "add a bias per output channel", aliases=("use_bias",)),
    )
    # no Window: the padding crops the full output, which the exporters place as each framework does
    keras_class = "Conv2DTranspose"
    torch_class = "ConvTranspose2d"
    word = "transposed conv"

    def kernel(self, a: dict, cin: int) -> tuple:
        return (*a["k"], cin)

    def facts(self, a: dict, shape, window) -> Facts:
        # the padding is cropped from the full output: 'same', or N (one per axis) from each side
        return Facts(self.kernel(a, shape[-1]), stride=a["s"], crop=0 if a["pad"] == "valid" else a["pad"])

    def _stride(self, shown: Shown) -> str:
        stride = shown.facts.stride
        return f"stride {fmt_axes(stride)}" if stride and set(stride) != {1} else ""

    def infer(self, shape, a: Args, ctx: Context):
        if any(extra >= s for extra, s in zip(a.output_padding, a.s)):
            # PyTorch and Keras refuse it: the extra rows would lie beyond what any input position reaches
            ctx.error("E104", f"{self.name}: output_padding {fmt_dims(a.output_padding)} must be smaller than the "
                              f"stride {fmt_dims(a.s)} on every axis", "output_padding")
            return None
        cin = channels(shape, ctx, self.name)
        if cin is None:
            return None
        dims = []
        for axis, n in enumerate(shape[:-1]):
            k, s, extra = a.k[axis], a.s[axis], a.output_padding[axis]
            if n is None:
                dims.append(None)
                continue
            if a.pad == "same":
                size = F(n) * s
            elif a.pad == "valid":
                size = (F(n) - 1) * s + k if k >= s else F(n) * s  # Keras: n*s + max(k - s, 0)
            else:
                p = a.pad if isinstance(a.pad, int) else a.pad[axis]
                size = (F(n) - 1) * s - F(2) * p + k
            if extra:
                size = size + extra
            if size.value <= 0 if type(size.value) is int else never_positive(size.value):
                ctx.error("E202", f"{self.name}: output size {size.text} = {size.value} along axis {axis + 1}", "pad")
                return None
            dims.append(size)
        per_input = product([*a.k, a.filters])
        weights = product([*a.k, cin, a.filters])
        params = weights + a.filters if a.bias else weights
        out = _spatial(dims) + (a.filters,)
        # every input position is scattered through the whole kernel into every output channel
        macs = UNKNOWN if None in shape else product([*shape[:-1], cin]) * per_input
        return Result(out, trainable=params, macs=macs, dims=tuple(dims))


KINDS = (
    Conv(1, "conv1d", ("Conv1D", "Conv1d", "convolution1d")),
    Conv(2, "conv2d", ("Conv2D", "Conv2d", "convolution2d", "conv"), word="conv"),
    Conv(3, "conv3d", ("Conv3D", "Conv3d", "convolution3d")),
    Depthwise2D(),
    Separable2D(),
    Conv2DTranspose(),
)
