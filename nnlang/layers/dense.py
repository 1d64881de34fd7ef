"""Dense (fully connected), embedding, normalization."""

from __future__ import annotations

from ..choices import CONVENTIONS
from ..formula import UNKNOWN, ZERO, F, product
from .base import (Arg, Args, Context, Facts, LayerKind, Layout, Result, Shown, Weighted, bias_value, channels,
                   check_values, fmt_shape, numbers_value)


class Dense(LayerKind):
    name = "dense"
    aliases = ("Dense", "Linear", "fc", "linear_layer")
    family = "dense"
    summary = "fully connected layer on the last axis"
    takes_activation = True
    positional = (Arg("units", "count", None, "number of output units", aliases=("out_features",), required=True),)
    options = (
        Arg("bias", "bool", True, "add a bias per unit (true, false, or its values: bias=[0.1, 0.2])",
            aliases=("use_bias",), convert=bias_value),
        Arg("weights", "matrix", None, "the weights, one row per unit as in y = W x + b: "
            "weights=[[0.1, -0.3], [0.5, 0.2]] (nnc trace computes with them)", convert=numbers_value),
    )
    layout = Layout.LAST_AXIS
    keras_class = "Dense"
    torch_class = "Linear"
    traceable = True

    def adds_bias(self, a: dict) -> bool:
        return bool(a.get("bias", False))

    def equation_term(self, a: dict, shape):
        return Weighted("W", "product", (a["units"], shape[-1]))

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts((shape[-1], a["units"]))  # inputs x units

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"dense {a.get('units', '?')}"]

    def infer(self, shape, a: Args, ctx: Context):
        if not shape:
            ctx.error("E201", "dense needs at least a 1-D input")
            return None
        inputs = shape[-1]
        if inputs is None:
            ctx.error("E205", f"dense needs a known last axis, got {fmt_shape(shape)}")
            return None
        if a.get("weights") is not None and type(inputs) is int:
            check_values(ctx, "weights", a.weights, a.units, inputs, what=f"dense {a.units}",
                         column_word=f"one weight per input: the input has {inputs} value(s)")
        if isinstance(a.bias, tuple):
            check_values(ctx, "bias", a.bias, a.units, what=f"dense {a.units}", row_word="value")
        weights = F(inputs) * a.units
        params = weights + a.units if a.bias else weights
        leading = shape[:-1]
        if any(type(d) is not int or d > 1 for d in leading):  # 1x1xC is flat in all but name; a named size is not
            ctx.warn("W302", f"dense acts on the last axis of its {len(shape)}-D input {fmt_shape(shape)} "
                             f"(as Keras does): the same {inputs}x{a.units} weights serve every position of {fmt_shape(leading)}")
        if None in leading:  # as many positions as the input has at run time; `step`: one of them
            macs = UNKNOWN
        else:
            macs = product([*leading, inputs, a.units]) if leading else weights
        return Result(shape[:-1] + (a.units,), trainable=params, macs=macs)


class Embedding(LayerKind):
    name = "embedding"
    aliases = ("Embedding",)
    family = "dense"
    summary = "lookup table: one vector of `dim` numbers per token id"
    positional = (
        Arg("vocab", "count", None, "vocabulary size (number of token ids)", aliases=("input_dim", "num_embeddings"),
            required=True),
        Arg("dim", "count", None, "size of each vector", aliases=("output_dim", "embedding_dim"), required=True),
    )
    layout = Layout.LAST_AXIS
    takes_ids = True
    keras_class = "Embedding"
    torch_class = "Embedding"

    def infer(self, shape, a: Args, ctx: Context):
        return Result(tuple(shape) + (a.dim,), trainable=F(a.vocab) * a.dim)

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts((a["vocab"], a["dim"]))

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"embedding {a.get('vocab', '?')}, dim {a.get('dim', '?')}"]


class BatchNorm(LayerKind):
    name = "batchnorm"
    aliases = ("BatchNormalization", "BatchNorm2d", "BatchNorm1d", "batch_normalization", "batchnormalization",
               "bn")
    family = "norm"
    summary = "batch normalization over the channel (last) axis"
    options = (
        Arg("scale", "bool", True, "learn a scale (gamma) per channel"),
        Arg("center", "bool", True, "learn an offset (beta) per channel"),
    )
    # per channel, over every other axis: PyTorch wants the channels first, whatever the rank
    layout = Layout.SPATIAL
    shows_input_layout = False
    keras_class = "BatchNormalization"
    word = "batch norm"
    torch_class = "BatchNorm"  # BatchNorm1d, 2d or 3d by the number of axes after the channels

    def infer(self, shape, a: Args, ctx: Context):
        c = channels(shape, ctx, self.name)
        if c is None:
            return None
        learned = int(a.scale) + int(a.center)
        trainable = F(learned) * c if learned else ZERO
        # moving mean and variance: weights in Keras (non-trainable), buffers in PyTorch (not parameters)
        statistics = F(2) * c
        counts = {convention: (trainable, statistics if convention == "keras" else ZERO)
                  for convention in CONVENTIONS}
        return Result(shape, trainable=trainable, non_trainable=statistics, by_convention=counts)


class LayerNorm(LayerKind):
    name = "layernorm"
    aliases = ("LayerNormalization", "LayerNorm", "layer_normalization", "layernormalization", "ln")
    family = "norm"
    summary = "layer normalization over the last axis"
    options = BatchNorm.options
    layout = Layout.LAST_AXIS
    keras_class = "LayerNormalization"
    word = "layer norm"
    torch_class = "LayerNorm"

    def infer(self, shape, a: Args, ctx: Context):
        c = channels(shape, ctx, self.name)
        if c is None:
            return None
        learned = int(a.scale) + int(a.center)
        return Result(shape, trainable=F(learned) * c if learned else ZERO)


KINDS = (Dense(), Embedding(), BatchNorm(), LayerNorm())
