"""Normalizations and regularizers without a family of their own: group and RMS norm, layer scale,
stochastic depth, Keras' Normalization."""

from __future__ import annotations

from ..choices import CONVENTIONS
from ..formula import ZERO, F
from .base import Arg, Args, Context, LayerKind, Layout, Result, Shown, channels
from .shape import Dropout


class GroupNorm(LayerKind):
    name = "groupnorm"
    aliases = ("GroupNormalization", "GroupNorm", "group_normalization", "groupnormalization", "gn")
    family = "norm"
    summary = "group normalization: the channels split into `groups`, each normalized over its channels and positions"
    positional = (Arg("groups", "count", None, "number of groups; it must divide the channels",
                      aliases=("num_groups",), required=True),)
    # over the positions too, each group apart: PyTorch wants the channels first, whatever the rank
    layout = Layout.SPATIAL
    shows_input_layout = False
    keras_class = "GroupNormalization"
    torch_class = "GroupNorm"
    word = "group norm"

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"group norm, {a.get('groups', '?')} groups"]

    def infer(self, shape, a: Args, ctx: Context):
        c = channels(shape, ctx, self.name)
        if c is None:
            return None
        if type(c) is int and c % a.groups:
            ctx.error("E104", f"groupnorm: groups={a.groups} must divide the channels ({c}): "
                              f"{c}/{a.groups} = {c / a.groups:g}", "groups")
            return None
        return Result(shape, trainable=F(2) * c)  # a scale (gamma) and an offset (beta) per channel


class _ScalePerChannel(LayerKind):
    """A kind that learns one scale per channel (the last axis) and no offset: C parameters; its
    elementwise products are no MACs, as for a norm's scale."""

    def infer(self, shape, a: Args, ctx: Context):
        c = channels(shape, ctx, self.name)
        if c is None:
            return None
        return Result(shape, trainable=F(c))


class RMSNorm(_ScalePerChannel):
    name = "rmsnorm"
    aliases = ("RMSNormalization", "RMSNorm", "rms_normalization", "rmsnormalization")
    family = "norm"
    summary = "RMS normalization over the last axis: divided by the root mean square, then a learned scale"
    layout = Layout.LAST_AXIS
    keras_class = "RMSNormalization"
    torch_class = "RMSNorm"
    word = "RMS norm"


class LayerScale(_ScalePerChannel):
    name = "layerscale"
    aliases = ("LayerScale", "layer_scale")
    family = "norm"
    summary = "a learned scale per channel (the last axis), as in ConvNeXt and CaiT"
    layout = Layout.LAST_AXIS
    torch_class = "LayerScale"
    word = "layer scale"


class DropPath(Dropout):
    """A dropout of whole samples: its shape rule and counts are dropout's."""

    name = "droppath"
    aliases = ("DropPath", "stochastic_depth", "StochasticDepth", "drop_path")
    summary = ("stochastic depth: while training, drops a whole sample of a residual branch with probability "
               "`rate` (and scales the others by 1/(1 - rate))")
    positional = (Arg("rate", "rate", None, "probability of dropping, in [0, 1)", aliases=("drop_prob", "p"),
                      required=True),)
    keras_class = ""
    torch_class = "DropPath"
    word = "drop path"


class Normalization(LayerKind):
    name = "normalization"
    aliases = ("Normalization",)
    family = "norm"
    summary = ("Keras' Normalization: (x - mean)/sqrt(variance) per feature (the last axis), with the mean and "
               "variance taken from data (adapt), not learned")
    layout = Layout.LAST_AXIS
    keras_class = "Normalization"
    word = "normalization"

    def infer(self, shape, a: Args, ctx: Context):
        c = channels(shape, ctx, self.name)
        if c is None:
            return None
        # Keras keeps the mean and variance per feature and the count of samples seen as non-trainable
        # weights; nothing is learned, so the other conventions count none
        statistics = F(2) * c + 1
        counts = {convention: (ZERO, statistics if convention == "keras" else ZERO) for convention in CONVENTIONS}
        return Result(shape, non_trainable=statistics, by_convention=counts)


KINDS = (GroupNorm(), RMSNorm(), LayerScale(), DropPath(), Normalization())
