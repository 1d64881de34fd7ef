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
from ..layers.base import resolve_padding
from .codegen import (BUILTIN_NAMES, Code, Emitter, Export, Names, activation_of, call, check_exportable,
                      ceil_changes_size, comment, dims, docstring, export_with, keras_transpose_output_padding,
                      merge_children, py, refuse, statement_text, string_literal)

FRAMEWORK = "Keras"

_CLASSES = {
    "conv1d": "Conv1D", "conv2d": "Conv2D", "conv3d": "Conv3D", "depthwise2d": "DepthwiseConv2D",
    "separable2d": "SeparableConv2D", "conv2d_transpose": "Conv2DTranspose", "maxpool2d": "MaxPooling2D",
    "avgpool2d": "AveragePooling2D", "maxpool1d": "MaxPooling1D", "avgpool1d": "AveragePooling1D",
    "globalavgpool2d": "GlobalAveragePooling2D", "globalmaxpool2d": "GlobalMaxPooling2D",
    "globalavgpool1d": "GlobalAveragePooling1D", "globalmaxpool1d": "GlobalMaxPooling1D",
    "rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU",
}


@attrs.define
class ModelExport:
    """What was generated for one model, for tools and tests."""

    name: str
    function: str
    input_dtype: str  # "float32" or "int32" (token ids)
    layers: dict = attrs.Factory(dict)  # layer index -> names of the Keras layers it became (the last gives the output)


class _Emitter(Emitter):
    def __init__(self, program: ir.Program, source_lines: Optional[list] = None, file_name: str = "",
                 numbers: Optional[ir.Program] = None):
        super().__init__(program, source_lines, file_name, numbers)
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
        check_exportable(model, FRAMEWORK)
        ids = any(node.kind == "embedding" and -1 in node.inputs for node in model.layers)
        if ids and any(node.kind != "embedding" and -1 in node.inputs for node in model.layers):
            first = next(n for n in model.layers if n.kind != "embedding" and -1 in n.inputs)
            raise refuse(FRAMEWORK, first, "the input feeds an embedding (token ids) and this layer (numbers)")
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
        out = self._children(model.root.children, "inputs", "x")
        body.line(f"return keras.Model(inputs, {out}, name={string_literal(model.name)})")
        counted = self.numbers.model(model.name)
        totals = (counted if counted is not None and len(counted.layers) == len(model.layers) else model).totals()
        with code.block(f"def {function}():"):
            origin = f" from {self.file_name}" if self.file_name else ""
            what = "integer token ids" if ids else "a tensor"
            per_step = " (one step where a length is unknown)" if None in shape else ""
            for line in docstring(
                    f"{model.name}, exported by nnc{origin}.", "",
                    f"Input: {what} of shape (batch, {_dims(shape)}); output: (batch, {_dims(model.output_shape)}).",
                    f"Parameters: {totals.params:,} ({totals.non_trainable:,} non-trainable) as nnc counts them "
                    f"(--convention {self.numbers.convention}); MACs: {totals.macs:,}{per_step}."):
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

    # -- statements ------------------------------------------------------------------------
    def _children(self, children: list, cur: str, dst: str) -> str:
        index = 0
        while index < len(children):
            child = children[index]
            if isinstance(child, ir.Group) and child.kind == "branch":
                branches, node, index = merge_children(children, index)
                cur = self._merge(branches, node, cur, dst)
                continue
            index += 1
            if isinstance(child, ir.LayerNode):
                cur = self._layer(child, cur, dst)
            else:
                statement = statement_text(self.source_lines, child.span) if child.kind == "block" else ""
                what = f"block {child.block}" if child.kind == "block" else child.kind
                self.body.line(comment(f"{child.name}: {what}" + (f", `{statement}`" if statement else "")))
                cur = self._children(child.children, cur, dst)
        return cur

    def _merge(self, branches, node: ir.LayerNode, cur: str, dst: str) -> str:
        outputs, names = [], []
        for branch in branches:
            var = self.vars.take(branch.name)
            names.append(var)
            self.body.line(comment(f"branch {branch.name}" + ("" if branch.children else ": the input itself")))
            outputs.append(self._children(branch.children, cur, var))
        name = self.layer_names[node.index]
        cls = "Concatenate" if node.kind == "concat" else "Add"
        self.body.line(f"{dst} = layers.{cls}(name={string_literal(name)})([{', '.join(outputs)}])  "
                       + comment(_shape(node.output_shape)))
        self.export.layers[node.index] = [name]
        self.tensors[node.index] = dst
        self.vars.used -= set(names)  # the branches' variables are free again
        return dst

    def _layer(self, node: ir.LayerNode, cur: str, dst: str) -> str:
        src = self.tensors.get(node.inputs[0], cur)
        name = self.layer_names[node.index]
        method = getattr(self, f"_k_{node.kind}", None)
        if method is None:
            raise refuse(FRAMEWORK, node, "nnc does not know how to export this layer kind")
        steps = method(node, node.args, name)  # [(layer constructor, keras name)], in order
        var = src
        for ctor, layer_name in steps[:-1]:
            self.body.line(f"{dst} = {ctor}({var})")
            var = dst
        ctor, _ = steps[-1]
        self.body.line(f"{dst} = {ctor}({var})  " + comment(_shape(node.output_shape)))
        self.export.layers[node.index] = [layer_name for _, layer_name in steps]
        self.tensors[node.index] = dst
        return dst

    # -- layers ---------------------------------------------------------------------------
    def _activation_keyword(self, node) -> Optional[str]:
        word = activation_of(node)
        return word or None

    def _same_is_explicit(self, node) -> bool:
        """Whether pad=N is exactly what Keras' 'same' pads here (N before and after, every axis)."""
        a = node.args
        pad = a["pad"]
        if pad in ("valid", "same"):
            return False
        k = a.get("k") or a.get("size")
        s = a.get("s") or k
        d = a.get("dilation") or (1,) * len(k)
        values = pad if isinstance(pad, tuple) else (pad,) * len(k)
        for axis, n in enumerate(node.input_shape[:-1]):
            if resolve_padding("same", n, k[axis], s[axis], d[axis]) != (values[axis], values[axis]):
                return False
        return True

    def _explicit_padding(self, node, name: str, n: int, same_allowed: bool = True) -> list:
        """A ZeroPadding layer for pad=N (Keras convolutions pad 'valid' or 'same' only)."""
        pad = node.args["pad"]
        if pad in ("valid", "same") or dims(pad) == 0 or (same_allowed and self._same_is_explicit(node)):
            return []
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
        a = node.args
        if any(s > 1 for s in a["s"]) and any(d > 1 for d in a["dilation"]):
            raise refuse(FRAMEWORK, node, "a stride above 1 together with a dilation above 1 (Keras refuses "
                                          "strides > 1 with dilation_rate > 1)")

    def _conv(self, node, a, name, n: int):
        self._check_dilated_stride(node)
        steps = self._explicit_padding(node, name, n)
        stride, dilation = dims(a["s"]), dims(a["dilation"])
        ctor = call(f"layers.{_CLASSES[node.kind]}", a["filters"], dims(a["k"]),
                    strides=None if stride == 1 else stride, padding=self._padding_word(node),
                    dilation_rate=None if dilation == 1 else dilation,
                    groups=None if a["groups"] == 1 else a["groups"],
                    activation=self._activation_keyword(node), use_bias=None if a["bias"] else False, name=name)
        return steps + [(ctor, name)]

    def _k_conv1d(self, node, a, name):
        return self._conv(node, a, name, 1)

    def _k_conv2d(self, node, a, name):
        return self._conv(node, a, name, 2)

    def _k_conv3d(self, node, a, name):
        return self._conv(node, a, name, 3)

    def _k_depthwise2d(self, node, a, name):
        return self._depthwise("layers.DepthwiseConv2D", node, a, name)

    def _k_separable2d(self, node, a, name):
        return self._depthwise("layers.SeparableConv2D", node, a, name, a["filters"])

    def _depthwise(self, cls: str, node, a, name, *filters):
        """DepthwiseConv2D, or SeparableConv2D (its filters first): the same options."""
        self._check_dilated_stride(node)
        steps = self._explicit_padding(node, name, 2)
        stride, dilation = dims(a["s"]), dims(a["dilation"])
        ctor = call(cls, *filters, dims(a["k"]), strides=None if stride == 1 else stride,
                    padding=self._padding_word(node),
                    depth_multiplier=None if a["multiplier"] == 1 else a["multiplier"],
                    dilation_rate=None if dilation == 1 else dilation,
                    activation=self._activation_keyword(node), use_bias=None if a["bias"] else False, name=name)
        return steps + [(ctor, name)]

    def _k_conv2d_transpose(self, node, a, name):
        pad = a["pad"]
        explicit = pad not in ("valid", "same")
        extra = keras_transpose_output_padding(node)
        if extra is not None:
            for value, s in zip(extra, a["s"]):
                if not 0 <= value < s:
                    raise refuse(FRAMEWORK, node, f"Conv2DTranspose would need output_padding={value}, but Keras "
                                                  f"requires it to be smaller than the stride {s}")
            extra = dims(extra)
        stride = dims(a["s"])
        ctor = call("layers.Conv2DTranspose", a["filters"], dims(a["k"]), strides=None if stride == 1 else stride,
                    padding="same" if pad == "same" else None, output_padding=extra,
                    activation=self._activation_keyword(node), use_bias=None if a["bias"] else False, name=name)
        steps = [(ctor, name)]
        if explicit and dims(pad) != 0:
            values = pad if isinstance(pad, tuple) else (pad, pad)
            crop = dims(values) if len(set(values)) == 1 else tuple((p, p) for p in values)
            crop_name = self.names.take(f"{name}_crop")
            steps.append((f"layers.Cropping2D({_value(crop)}, name={string_literal(crop_name)})", crop_name))
        return steps

    def _pool(self, node, a, name):
        pad = a["pad"]
        steps = []
        if pad not in ("valid", "same") and dims(pad) != 0 and not (
                node.kind.startswith("max") and self._same_is_explicit(node)):
            if node.kind.startswith("max"):
                raise refuse(FRAMEWORK, node, f"explicit pooling padding pad={_value(dims(pad))}: Keras' max "
                                              "pooling pads 'valid' or 'same' only",
                             "pad=same keeps ceil(n/s) outputs but places the padding differently")
            # PyTorch's average over a zero-padded window (count_include_pad=True) is exactly this:
            steps = self._explicit_padding(node, name, len(a["size"]), same_allowed=False)
        if a["ceil"] and ceil_changes_size(node):
            raise refuse(FRAMEWORK, node, "ceil=true changes the output size here, and Keras' pooling has no "
                                          "ceil mode", "pad=same gives ceil(n/s) outputs in Keras")
        stride = None if a["s"] is None or tuple(a["s"]) == tuple(a["size"]) else dims(a["s"])
        padding = "same" if pad == "same" or (node.kind.startswith("max") and self._same_is_explicit(node)) else None
        ctor = call(f"layers.{_CLASSES[node.kind]}", dims(a["size"]), strides=stride, padding=padding, name=name)
        return steps + [(ctor, name)]

    _k_maxpool2d = _k_avgpool2d = _k_maxpool1d = _k_avgpool1d = _pool

    def _global(self, node, a, name):
        ctor = call(f"layers.{_CLASSES[node.kind]}", keepdims=True if a["keepdims"] else None, name=name)
        return [(ctor, name)]

    _k_globalavgpool2d = _k_globalmaxpool2d = _k_globalavgpool1d = _k_globalmaxpool1d = _global

    def _k_upsample2d(self, node, a, name):
        interpolation = None if a["interpolation"] == "nearest" else a["interpolation"]
        return [(call("layers.UpSampling2D", dims(a["factor"]), interpolation=interpolation, name=name), name)]

    def _k_zeropad2d(self, node, a, name):
        top, bottom, left, right = a["padding"]
        if top == bottom and left == right:
            value = dims((top, left))
        else:
            value = ((top, bottom), (left, right))
        return [(f"layers.ZeroPadding2D({_value(value)}, name={string_literal(name)})", name)]

    def _k_flatten(self, node, a, name):
        return [(call("layers.Flatten", name=name), name)]

    def _k_reshape(self, node, a, name):
        if None in a["target"]:
            raise refuse(FRAMEWORK, node, "a reshape to a shape with an unknown size")
        return [(f"layers.Reshape({_tuple(a['target'])}, name={string_literal(name)})", name)]

    def _k_dense(self, node, a, name):
        ctor = call("layers.Dense", a["units"], activation=self._activation_keyword(node),
                    use_bias=None if a["bias"] else False, name=name)
        return [(ctor, name)]

    def _k_dropout(self, node, a, name):
        return [(call("layers.Dropout", a["rate"], name=name), name)]

    def _k_batchnorm(self, node, a, name):
        ctor = call("layers.BatchNormalization", center=None if a["center"] else False,
                    scale=None if a["scale"] else False, name=name)
        return [(ctor, name)]

    def _k_layernorm(self, node, a, name):
        ctor = call("layers.LayerNormalization", center=None if a["center"] else False,
                    scale=None if a["scale"] else False, name=name)
        return [(ctor, name)]

    def _k_activation(self, node, a, name):
        return [(call("layers.Activation", a["function"], name=name), name)]

    def _k_embedding(self, node, a, name):
        return [(call("layers.Embedding", a["vocab"], a["dim"], name=name), name)]

    def _recurrent(self, node, a, name):
        word = node.activation or None
        keywords = {}
        if node.kind == "gru" and not a["reset_after"]:
            keywords["reset_after"] = False
        inner_name = None if a["bidirectional"] else name
        ctor = call(f"layers.{_CLASSES[node.kind]}", a["units"], activation=word,
                    use_bias=None if a["bias"] else False,
                    return_sequences=True if a["return_sequences"] else None, **keywords, name=inner_name)
        if a["bidirectional"]:
            ctor = f"layers.Bidirectional({ctor}, name={string_literal(name)})"
        return [(ctor, name)]

    _k_rnn = _k_lstm = _k_gru = _recurrent


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
           file_name: str = "", numbers: Optional[ir.Program] = None) -> Export:
    """Keras code for the models of `program` (all of them, or those named); raises ExportError."""
    return export_with(_Emitter, program, names, source_lines=source_lines, file_name=file_name, numbers=numbers)
