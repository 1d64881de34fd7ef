"""Pooling: max/average 1-D and 2-D, global pooling."""

from __future__ import annotations

from ..formula import UNKNOWN, product
from .base import (Arg, Args, Context, Facts, LayerKind, Layout, Result, Shown, channels, fmt_sizes, sliding_window)

#: The diagram's words: an operation's, and a spatial rank's suffix
_WORDS = {"max": "max pool", "avg": "avg pool"}
_RANK_WORDS = {1: " 1d", 2: ""}

#: Class names by operation: Keras', PyTorch's (for a spatial rank N)
_CLASSES = {"max": ("MaxPooling{}D", "MaxPool{}d"), "avg": ("AveragePooling{}D", "AvgPool{}d")}
_GLOBAL_CLASSES = {"max": ("GlobalMaxPooling{}D", "AdaptiveMaxPool{}d"),
                   "avg": ("GlobalAveragePooling{}D", "AdaptiveAvgPool{}d")}


class Pool(LayerKind):
    """Pooling over sliding windows; `op` is max or avg (average)."""

    family = "pool"
    layout = Layout.SPATIAL
    export_as = "pool"
    options = (
        Arg("s", "dims", None, "stride (defaults to the pool size)", aliases=("stride", "strides")),
        Arg("pad", "pad", "valid", "valid, same (output = ceil(input/stride)) or N on each side",
            aliases=("padding",)),
        Arg("ceil", "bool", False, "round the output size up, as PyTorch's ceil_mode", aliases=("ceil_mode",)),
    )

    def __init__(self, op: str, spatial: int, name: str, aliases: tuple):
        self.op, self.spatial, self.name, self.aliases = op, spatial, name, aliases
        self.keras_class, self.torch_class = (cls.format(spatial) for cls in _CLASSES[op])
        self.positional = (Arg("size", "dims", None, "pool size", aliases=("pool_size", "kernel_size", "k"),
                               required=True),)
        self.ranks = (spatial + 1,)
        self.rank_hint = "length x channels" if spatial == 1 else "height x width x channels"
        self.summary = f"{'maximum' if op == 'max' else 'average'} pooling over {spatial}-D windows"
        self.word = _WORDS[op] + _RANK_WORDS[spatial]

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts(window.kernel, stride=window.stride, padding=window.padding, same=a["pad"] == "same")

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"{self.word} {fmt_sizes(a.get('size'))}", shown.step, shown.pad, "ceil" if a.get("ceil") else ""]

    def infer(self, shape, a: Args, ctx: Context):
        if channels(shape, ctx, self.name) is None:
            return None
        stride = a.s if a.s is not None else a.size
        window = sliding_window(shape, a.size, stride, (1,) * self.spatial, a.pad, ctx, what=self.name,
                                ceil=a.ceil, pool=True, kernel_arg="size")
        if window is None:
            return None
        dims, geometry = window
        out = tuple(d.value if d is not None else None for d in dims) + (shape[-1],)
        pool_ops = UNKNOWN if None in out else product([*out]) * product(a.size)
        return Result(out, pool_ops=pool_ops, dims=dims, window=geometry)


class GlobalPool(LayerKind):
    """Pooling over every spatial position at once; `op` is max or avg (average)."""

    family = "pool"
    layout = Layout.SPATIAL
    export_as = "global_pool"

    def __init__(self, op: str, spatial: int, name: str, aliases: tuple):
        self.op, self.spatial, self.name, self.aliases = op, spatial, name, aliases
        self.keras_class, self.torch_class = (cls.format(spatial) for cls in _GLOBAL_CLASSES[op])
        self.ranks = (spatial + 1,)
        self.rank_hint = "length x channels" if spatial == 1 else "height x width x channels"
        self.summary = f"global {'maximum' if op == 'max' else 'average'} pooling: one value per channel"
        self.options = (Arg("keepdims", "bool", False, "keep the pooled axes with size 1"),)
        self.word = "global " + _WORDS[op] + _RANK_WORDS[spatial]

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts(tuple(shape[:-1]))  # the pooled size, None where unknown

    def infer(self, shape, a: Args, ctx: Context):
        c = channels(shape, ctx, self.name)
        if c is None:
            return None
        out = ((1,) * self.spatial + (c,)) if a.keepdims else (c,)
        return Result(out, pool_ops=UNKNOWN if None in shape else product(shape))


KINDS = (
    Pool("max", 2, "maxpool2d", ("MaxPooling2D", "MaxPool2d", "MaxPool2D", "max_pooling2d", "maxpooling2d")),
    Pool("avg", 2, "avgpool2d", ("AveragePooling2D", "AvgPool2d", "AvgPool2D", "average_pooling2d",
                                 "averagepooling2d")),
    Pool("max", 1, "maxpool1d", ("MaxPooling1D", "MaxPool1d", "MaxPool1D", "max_pooling1d", "maxpooling1d")),
    Pool("avg", 1, "avgpool1d", ("AveragePooling1D", "AvgPool1d", "AvgPool1D", "average_pooling1d",
                                 "averagepooling1d")),
    GlobalPool("avg", 2, "globalavgpool2d", ("GlobalAveragePooling2D", "global_average_pooling2d",
                                             "globalaveragepooling2d")),
    GlobalPool("max", 2, "globalmaxpool2d", ("GlobalMaxPooling2D", "global_max_pooling2d", "globalmaxpooling2d")),
    GlobalPool("avg", 1, "globalavgpool1d", ("GlobalAveragePooling1D", "global_average_pooling1d",
                                             "globalaveragepooling1d")),
    GlobalPool("max", 1, "globalmaxpool1d", ("GlobalMaxPooling1D", "global_max_pooling1d", "globalmaxpooling1d")),
)
