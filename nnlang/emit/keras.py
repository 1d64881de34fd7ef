"""Export to Keras 3: a `build_<model>()` function per model returning a `keras.Model`
built with the functional API.

Keras is channels-last like `.nn`, so shapes carry over unchanged. Layers are
named as in the `.nn` file (labels, or nnc's names such as `conv2d_1`); a name
used in two blocks is qualified with its block and branch names
(`inception_3a_b1_conv`) because Keras wants unique names. Blocks and branches
appear as comments; a branch's tensor is a variable named after it.

A few `.nn` layers become two Keras layers: explicit convolution padding
(`pad=N`) is a `ZeroPadding` layer named `<layer>_pad` before the convolution,
and a transposed convolution with `pad=N` (PyTorch's cropping) is followed by a
`Cropping2D` named `<layer>_crop`.
"""

from __future__ import annotations

from typing import Optional

import attrs

from .. import ir
from ..layers import kind_of
from .codegen import (BUILTIN_NAMES, Code, Emitter, Export, Names, activation_of, call, comment, dims, docstring,
                      export_with, keras_transpose_output_padding, py, string_literal)

FRAMEWORK = "Keras"


@attrs.define
class ModelExport:
    """What was generated for one model, for tools and tests."""

    name: str
    function: str
    input_dtype: str  # "float32" or "int32" (token ids)
    layers: dict = attrs.Factory(dict)  # layer index -> names of the Keras layers it became (the last gives the output)


class KerasEmitter(Emitter):
    framework = FRAMEWORK
    convention = "keras"

    def __init__(self, program: ir.Program, source_lines: Optional[list] = None, file_name: str = ""):
        super().__init__(program, source_lines, file_name)
        self.functions = Names({"keras", "layers", *BUILTIN_NAMES})

    def render(self, models: list) -> Export:
        code = Code()
        origin = f" from {self.file_name}" if self.file_name else ""
        for line in docstring(f"Keras models exported by nnc{origin}.", "",
                              "Every model is built by a function build_<model>() returning a keras.Model",
                              "(functional API, channels last as in the .nn file). Generated code: change the",
                              ".nn file and export again."):
            code.line(line)
        code.blank()
        code.line("import keras")
        code.line("from keras import layers")
        exports = []
        for model in models:
            code.blank(2)
            exports.append(self.model(code, model))
        return Export(code.text(), exports)

    # -- one model ------------------------------------------------------------------
    def model(self, code: Code, model: ir.Model) -> ModelExport:
        ids = self.check_model(model)
        function = self.functions.take(f"build_{model.name}")
        export = ModelExport(model.name, function, "int32" if ids else "float32")
        self.export = export
        self.layer_names = self._layer_names(model)
        self.vars = Names({"keras", "layers", "inputs", "x", "model", function})
        self.tensors = {-1: "inputs"}
        body = Code()
        body.level = 1
        self.body = body
        shape = tuple(model.input_shape)
        dtype = ', dtype="int32"' if ids else ""
        input_name = self.names.take("input")
        body.line(f"inputs = keras.Input(shape={_tuple(shape)}{dtype}, name={string_literal(input_name)})")
        out = self.walk(model.root.children, "inputs", "x")
        body.line(f"return keras.Model(inputs, {out}, name={string_literal(model.name)})")
        totals = self.totals(model)
        with code.block(f"def {function}():"):
            origin = f" from {self.file_name}" if self.file_name else ""
            what = "integer token ids" if ids else "a tensor"
            per_step = " (one step where a length is unknown)" if None in shape else ""
            for line in docstring(
                    f"{model.name}, exported by nnc{origin}.", "",
                    f"Input: {what} of shape (batch, {_dims(shape)}); output: (batch, {_dims(model.output_shape)}).",
                    f"Parameters: {totals.params:,} ({totals.non_trainable:,} non-trainable) as nnc counts them "
                    f"(--convention {self.convention}); {self.macs_text(totals, per_step)}."):
                code.line(line)
        code.extend(body)
        return export

    def _layer_names(self, model: ir.Model) -> dict:
        """Keras layer names: the .nn name, qualified by its path where it is not unique in the model."""
        counts: dict = {}
        for node in model.layers:
            counts[node.name] = counts.get(node.name, 0) + 1
        self.names = Names(identifiers=False)  # Keras layer names: any text, unique
        self.names.used.update(name for name, count in counts.items() if count == 1)
        chosen = {}
        for node in model.layers:
            if counts[node.name] == 1:
                chosen[node.index] = node.name
            else:
                chosen[node.index] = self.names.take("_".join((*node.path, node.name)))
        return chosen

    # -- statements (Emitter.walk calls these) ------------------------------------------------
    @property
    def variables(self) -> Names:
        return self.vars

    def write(self, text: str) -> None:
        self.body.line(text)

    def block(self, group: ir.Group, cur: str, dst: str) -> str:
        statement = self.statement(group)
        self.write(comment(f"{group.name}: block {group.block}" + (f", `{statement}`" if statement else "")))
        return self.walk(group.children, cur, dst)

    def labelled(self, group: ir.Group, cur: str, dst: str) -> str:
        self.write(comment(f"{group.name}: {group.kind}"))
        return self.walk(group.children, cur, dst)

    def joined(self, node: ir.LayerNode, outputs: list, dst: str) -> str:
        return self._steps(node, f"[{', '.join(outputs)}]", dst)

    def layer(self, node: ir.LayerNode, cur: str, dst: str) -> str:
        return self._steps(node, self.tensors.get(node.inputs[0], cur), dst)

    def _steps(self, node: ir.LayerNode, var: str, dst: str) -> str:
        """The Keras layers that compute `node` (its kind's method gives them), applied in turn to `var`."""
        name = self.layer_names[node.index]
        steps = self.kind_method(node)(node, node.args, name)  # [(layer constructor, keras name)], in order
        for ctor, layer_name in steps[:-1]:
            self.write(f"{dst} = {ctor}({var})")
            var = dst
        ctor, _ = steps[-1]
        self.write(f"{dst} = {ctor}({var})  " + comment(_shape(node.output_shape)))
        self.export.layers[node.index] = [layer_name for _, layer_name in steps]
        self.tensors[node.index] = dst
        return dst

    # -- layers: a method per kind (LayerKind.export_as) --------------------------------------
    def _class(self, node) -> str:
        return f"layers.{kind_of(node).keras_class}"

    def _activation_keyword(self, node) -> Optional[str]:
        word = activation_of(node)
        return word or None

    def _same_is_explicit(self, node) -> bool:
        """Whether pad=N is exactly what Keras' 'same' pads here (N before and after, every axis)."""
        return node.args["pad"] not in ("valid", "same") and node.window.same

    def _explicit_padding(self, node, name: str, same_allowed: bool = True) -> list:
        """A ZeroPadding layer for pad=N (Keras convolutions pad 'valid' or 'same' only)."""
        pad = node.args["pad"]
        if pad in ("valid", "same") or dims(pad) == 0 or (same_allowed and self._same_is_explicit(node)):
            return []
        n = len(node.window.kernel)
        values = pad if isinstance(pad, tuple) else (pad,) * n
        if n == 1:
            argument = values[0]
        else:
            argument = dims(values) if len(set(values)) == 1 else tuple((p, p) for p in values)
        pad_name = self.names.take(f"{name}_pad")
        return [(f"layers.ZeroPadding{n}D({_value(argument)}, name={string_literal(pad_name)})", pad_name)]

    def _padding_word(self, node) -> Optional[str]:
        return "same" if node.args["pad"] == "same" or self._same_is_explicit(node) else None

    def _check_dilated_stride(self, node) -> None:
        window = node.window
        if any(s > 1 for s in window.stride) and any(d > 1 for d in window.dilation):
            raise self.unsupported(node, "a stride above 1 together with a dilation above 1 (Keras refuses "
                                         "strides > 1 with dilation_rate > 1)")

    def _k_conv(self, node, a, name):
        self._check_dilated_stride(node)
        steps = self._explicit_padding(node, name)
        window = node.window
        stride, dilation = dims(window.stride), dims(window.dilation)
        ctor = call(self._class(node), a["filters"], dims(window.kernel),
                    strides=None if stride == 1 else stride, padding=self._padding_word(node),
                    dilation_rate=None if dilation == 1 else dilation,
                    groups=None if a["groups"] == 1 else a["groups"],
                    activation=self._activation_keyword(node), use_bias=None if a["bias"] else False, name=name)
        return steps + [(ctor, name)]

    def _k_depthwise2d(self, node, a, name):
        return self._depthwise(node, a, name)

    def _k_separable2d(self, node, a, name):
        return self._depthwise(node, a, name, a["filters"])

    def _depthwise(self, node, a, name, *filters):
        """DepthwiseConv2D, or SeparableConv2D (its filters first): the same options."""
        self._check_dilated_stride(node)
        steps = self._explicit_padding(node, name)
        window = node.window
        stride, dilation = dims(window.stride), dims(window.dilation)
        ctor = call(self._class(node), *filters, dims(window.kernel), strides=None if stride == 1 else stride,
                    padding=self._padding_word(node),
                    depth_multiplier=None if a["multiplier"] == 1 else a["multiplier"],
                    dilation_rate=None if dilation == 1 else dilation,
                    activation=self._activation_keyword(node), use_bias=None if a["bias"] else False, name=name)
        return steps + [(ctor, name)]

    def _k_conv2d_transpose(self, node, a, name):
        cls = kind_of(node).keras_class
        pad = a["pad"]
        explicit = pad not in ("valid", "same")
        extra = keras_transpose_output_padding(node)
        if extra is not None:
            for value, s in zip(extra, a["s"]):
                if not 0 <= value < s:
                    raise self.unsupported(node, f"{cls} would need output_padding={value}, but Keras requires it to "
                                                 f"be smaller than the stride {s}")
            extra = dims(extra)
        stride = dims(a["s"])
        ctor = call(f"layers.{cls}", a["filters"], dims(a["k"]), strides=None if stride == 1 else stride,
                    padding="same" if pad == "same" else None, output_padding=extra,
                    activation=self._activation_keyword(node), use_bias=None if a["bias"] else False, name=name)
        steps = [(ctor, name)]
        if explicit and dims(pad) != 0:
            values = pad if isinstance(pad, tuple) else (pad, pad)
            crop = dims(values) if len(set(values)) == 1 else tuple((p, p) for p in values)
            crop_name = self.names.take(f"{name}_crop")
            steps.append((f"layers.Cropping2D({_value(crop)}, name={string_literal(crop_name)})", crop_name))
        return steps

    def _k_pool(self, node, a, name):
        window = node.window
        maximum = kind_of(node).op == "max"
        pad = a["pad"]
        steps = []
        if pad not in ("valid", "same") and dims(pad) != 0 and not (maximum and self._same_is_explicit(node)):
            if maximum:
                raise self.unsupported(node, f"explicit pooling padding pad={_value(dims(pad))}: Keras' max "
                                             "pooling pads 'valid' or 'same' only",
                                       "pad=same keeps ceil(n/s) outputs but places the padding differently")
            # PyTorch's average over a zero-padded window (count_include_pad=True) is exactly this:
            steps = self._explicit_padding(node, name, same_allowed=False)
        if window.ceil_rounds_up:
            raise self.unsupported(node, "ceil=true changes the output size here, and Keras' pooling has no "
                                         "ceil mode", "pad=same gives ceil(n/s) outputs in Keras")
        stride = None if window.stride == window.kernel else dims(window.stride)
        padding = "same" if pad == "same" or (maximum and self._same_is_explicit(node)) else None
        ctor = call(self._class(node), dims(window.kernel), strides=stride, padding=padding, name=name)
        return steps + [(ctor, name)]

    def _k_global_pool(self, node, a, name):
        return [(call(self._class(node), keepdims=True if a["keepdims"] else None, name=name), name)]

    def _k_upsample2d(self, node, a, name):
        interpolation = None if a["interpolation"] == "nearest" else a["interpolation"]
        return [(call(self._class(node), dims(a["factor"]), interpolation=interpolation, name=name), name)]

    def _k_zeropad2d(self, node, a, name):
        top, bottom, left, right = a["padding"]
        if top == bottom and left == right:
            value = dims((top, left))
        else:
            value = ((top, bottom), (left, right))
        return [(f"{self._class(node)}({_value(value)}, name={string_literal(name)})", name)]

    def _k_flatten(self, node, a, name):
        return [(call(self._class(node), name=name), name)]

    def _k_reshape(self, node, a, name):
        if None in a["target"]:
            raise self.unsupported(node, "a reshape to a shape with an unknown size")
        return [(f"{self._class(node)}({_tuple(a['target'])}, name={string_literal(name)})", name)]

    def _k_dense(self, node, a, name):
        ctor = call(self._class(node), a["units"], activation=self._activation_keyword(node),
                    use_bias=None if a["bias"] else False, name=name)
        return [(ctor, name)]

    def _k_dropout(self, node, a, name):
        return [(call(self._class(node), a["rate"], name=name), name)]

    def _k_batchnorm(self, node, a, name):
        ctor = call(self._class(node), center=None if a["center"] else False,
                    scale=None if a["scale"] else False, name=name)
        return [(ctor, name)]

    def _k_layernorm(self, node, a, name):
        ctor = call(self._class(node), center=None if a["center"] else False,
                    scale=None if a["scale"] else False, name=name)
        return [(ctor, name)]

    def _k_activation(self, node, a, name):
        return [(call(self._class(node), kind_of(node).activation_function(a), name=name), name)]

    def _k_embedding(self, node, a, name):
        return [(call(self._class(node), a["vocab"], a["dim"], name=name), name)]

    def _k_recurrent(self, node, a, name):
        word = node.activation or None
        keywords = {}
        if not a.get("reset_after", True):
            keywords["reset_after"] = False
        inner_name = None if a["bidirectional"] else name
        ctor = call(self._class(node), a["units"], activation=word,
                    use_bias=None if a["bias"] else False,
                    return_sequences=True if a["return_sequences"] else None, **keywords, name=inner_name)
        if a["bidirectional"]:
            ctor = f"layers.Bidirectional({ctor}, name={string_literal(name)})"
        return [(ctor, name)]

    # the joins: applied to the list of the branches' outputs
    def _k_concat(self, node, a, name):
        return [(call(self._class(node), name=name), name)]

    _k_add = _k_concat


def _tuple(shape) -> str:
    values = ["None" if d is None else py(d) for d in shape]
    return f"({values[0]},)" if len(values) == 1 else f"({', '.join(values)})"


def _value(value) -> str:
    if isinstance(value, tuple):
        return _tuple(value) if all(not isinstance(v, tuple) for v in value) else \
            "(" + ", ".join(_value(v) for v in value) + ")"
    return py(value)


def _dims(shape) -> str:
    return ", ".join("None" if d is None else str(d) for d in shape)


def _shape(shape) -> str:
    return "(batch, " + _dims(shape) + ")"


def export(program: ir.Program, names: Optional[list] = None, *, source_lines: Optional[list] = None,
           file_name: str = "") -> Export:
    """Keras code for the models of `program` (all of them, or those named); raises ExportError.
    The docstrings quote the parameters as Keras counts them, in whatever convention `program`
    was compiled."""
    return export_with(KerasEmitter, program, names, source_lines=source_lines, file_name=file_name)
