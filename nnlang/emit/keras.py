"""Export to Keras 3: a `build_<model>()` function per model returning a `keras.Model`
built with the functional API, and a class per block definition.

Keras is channels-last like `.nn`, so shapes carry over unchanged. Layers are
named as in the `.nn` file (labels, or nnc's names such as `conv2d_1`); a name
used twice outside blocks is qualified with its branch names because Keras wants
unique names. Branches appear as comments; a branch's tensor is a variable named
after it.

A block's class takes the block's parameters and a `name`: its constructor
builds the block's layers, each named `name` followed by its name in the block
(`layer1_main_conv2d_1`), and calling it on a tensor applies them, so that they
stay layers of the functional model (see codegen.py for how the calls of a
definition share the class). A repeat whose count is a parameter is a loop
building a dictionary of layers per iteration (`stage3_repeat_2_conv2d_1`).

A few `.nn` layers become two Keras layers: explicit convolution padding
(`pad=N`) is a `ZeroPadding` layer named `<layer>_pad` before the convolution,
and a transposed convolution with `pad=N` (PyTorch's cropping) is followed by a
`Cropping2D` named `<layer>_crop`.
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from typing import NamedTuple, Optional

import attrs

from .. import ir
from ..layers import kind_of
from .codegen import (BUILTIN_NAMES, ClassCall, Code, Emitter, Export, Names, Raw, ParamInt, activation_of, call, camel,
                      comment, dims, docstring, export_with, fill, flag, keras_transpose_output_padding,
                      has_param, is_int, known, merged_shape, plain, py, renumber_slots, slot,
                      string_literal)


FRAMEWORK = "Keras"


@attrs.define
class ModelExport:
    """What was generated for one model, for tools and tests."""

    name: str
    function: str
    input_dtype: str  # "float32" or "int32" (token ids)
    layers: dict = attrs.Factory(dict)  # layer index -> names of the Keras layers it became (the last gives the output)


class _Named(NamedTuple):
    """A Keras layer's name: `value` its text (in a block class, the part after the call's name)
    and `code` the Python expression giving it (a string literal, or `name + "_conv2d_1"`);
    `attr` the attribute holding the layer in a block class."""

    value: str
    code: str
    attr: str = ""

    @property
    def raw(self) -> Raw:
        return Raw(self.code)


class _Tensor(NamedTuple):
    var: str
    shape: Optional[tuple]  # the .nn shape, with the block class's parameters where they give a size
    index: int  # the layer that computed it, -1 for the model's input


class _Scope:
    """The function of a model, or the class of a block as one call writes it."""

    def __init__(self, name_var: str = "", reserved=()):
        self.init = Code()  # a class's __init__ lines
        self.body = Code()  # the function's lines, or a class's __call__ lines
        self.vars = Names({"keras", "layers", "inputs", "x", "model", *reserved})
        self.tensors: dict = {}  # layer index -> _Tensor
        self.slots: list = []  # (.nn shape, layout) of each shape comment
        self.name_var = name_var  # the constructor's parameter holding the call's name ("" in a model)
        self.suffixes = Names(identifiers=False)  # the layer names after the call's name
        self.attrs = Names({"name"})  # the attributes holding the layers
        self.relative: dict = {}  # layer index -> the names of its Keras layers after the call's name
        self.path: tuple = ()  # the labelled groups and branches around what is being written
        self.signature = ""
        self.defaults: list = []
        self.holder = ""  # in an iteration of a loop: the variable holding the iteration's layers

    def hold(self, attr: str, ctor: str) -> str:
        """Keeps a layer (or a block's class) built in the constructor; returns how the call reaches it."""
        if self.holder:  # an item of the iteration's dictionary
            self.init.line(f"{string_literal(attr)}: {ctor},")
            return f"{self.holder}[{string_literal(attr)}]"
        self.init.line(f"self.{attr} = {ctor}")
        return f"self.{attr}"

    def iteration(self, prefix: str, holder: str) -> "_Scope":
        """The scope of one iteration of a loop in this class: its layers go into a dictionary,
        named after `prefix` (a variable of the constructor), read through `holder` (of the call)."""
        inner = _Scope(prefix)
        inner.vars, inner.tensors, inner.holder = self.vars, self.tensors, holder
        return inner


class KerasEmitter(Emitter):
    framework = FRAMEWORK
    convention = "keras"

    def __init__(self, program: ir.Program, source_lines: Optional[list] = None, file_name: str = "",
                 tree=None):
        super().__init__(program, source_lines, file_name, tree)
        self.functions = Names({"keras", "layers", *BUILTIN_NAMES})
        self.classes: list = []  # ("model", lines, ClassCall) or ("block", ClassVariant), in order
        self.scope: Optional[_Scope] = None

    def module_names(self) -> tuple:
        return ("keras", "layers")

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
        exports = [self.model(model) for model in models]
        names = Names({"keras", "layers", *BUILTIN_NAMES, *self.functions.used})
        for params in self.param_names.values():
            names.used |= set(params.params.values()) | set(params.extra.values())
        for variant in self.variant_list:
            variant.name = names.take(variant.base)
        for what, *item in self.classes:
            code.blank(2)
            if what == "model":
                lines, one = item
                code.lines_of(fill("\n".join(lines), self.variant_list, lambda index: self._comment(index, [one])))
            else:
                (variant,) = item
                lines = self._class_lines(variant.scope, variant.name, self._block_doc(variant))
                code.lines_of(fill("\n".join(lines), self.variant_list,
                                   lambda index: self._comment(index, variant.calls)))
        return Export(code.text(), exports)

    def _comment(self, index: int, calls: list) -> str:
        texts, _, _ = merged_shape(calls, index)
        return "(batch, " + ", ".join(texts) + ")"

    def _class_lines(self, scope: _Scope, name: str, doc: list) -> list:
        """The lines of a block class (the shape comments and the names of the classes it builds
        still to be filled in)."""
        code = Code()
        with code.block(f"class {name}:"):
            for line in doc:
                code.line(line)
            code.blank()
            with code.block(f"def __init__(self, {scope.signature}):"):
                for condition, assignment in scope.defaults:
                    with code.block(condition):
                        code.line(assignment)
                code.extend(scope.init)
                if not scope.init.lines and not scope.defaults:
                    code.line("pass")
            code.blank()
            with code.block("def __call__(self, x):"):
                code.extend(scope.body)
        return code.lines

    def _block_doc(self, variant) -> list:
        """A block class's docstring: the definition, how its layers are named, its input, and
        which calls it is for when the calls of the definition differ in structure."""
        if variant.header is None:
            return variant.scope.doc
        texts, _, _ = merged_shape(variant.calls, 0)
        lines = [variant.header, "",
                 "Built with the block's arguments and a name, the start of its layers' names; called on a",
                 f"tensor of shape (batch, {', '.join(texts)}), it applies them."]
        if any("?" in self._comment(index, variant.calls) for index in range(1, len(variant.scope.slots))):
            lines.append("A size shown as ? differs between the calls or is unknown until run time.")
        if len(self.variants[variant.key]) > 1:
            calls = [call.group.name for call in variant.calls]
            shown = ", ".join(calls[:6]) + (f" and {len(calls) - 6} more" if len(calls) > 6 else "")
            lines += ["", *textwrap.wrap(f"The calls of {variant.calls[0].group.block} differ in structure (a layer "
                                         f"or an option depends on the arguments): one class per structure, this "
                                         f"one for {shown}.", 96)]
        return docstring(*lines)

    # -- one model ------------------------------------------------------------------
    def model(self, model: ir.Model) -> ModelExport:
        ids = self.check_model(model)
        function = self.functions.take(f"build_{model.name}")
        export = ModelExport(model.name, function, "int32" if ids else "float32")
        self.export = export
        self.layer_names = self._layer_names(model)
        scope = _Scope(reserved=(function,))
        scope.body.level = 1
        self.scope = scope
        shape = known(model.input_shape)
        scope.tensors[-1] = _Tensor("inputs", shape, -1)
        dtype = ', dtype="int32"' if ids else ""
        input_name = self.names.take("input")
        scope.body.line(f"inputs = keras.Input(shape={_tuple(shape)}{dtype}, name={string_literal(input_name)})")
        out = self.walk(model.root.children, scope.tensors[-1], "x")
        scope.body.line(f"return keras.Model(inputs, {out.var}, name={string_literal(model.name)})")
        totals = self.totals(model)
        code = Code()
        with code.block(f"def {function}():"):
            origin = f" from {self.file_name}" if self.file_name else ""
            what = "integer token ids" if ids else "a tensor"
            per_step = " (one step where a length is unknown)" if None in shape else ""
            for line in docstring(
                    f"{model.name}, exported by nnc{origin}.", "",
                    f"Input: {what} of shape (batch, {_dims(shape)}); output: (batch, {_dims(known(model.output_shape))}).",
                    f"Parameters: {totals.params:,} ({totals.non_trainable:,} non-trainable) as nnc counts them "
                    f"(--convention {self.convention}); {self.macs_text(totals, per_step)}."):
                code.line(line)
        code.extend(scope.body)
        self.classes.append(("model", code.lines, ClassCall(model.root, scope.slots, shape)))
        return export

    def _layer_names(self, model: ir.Model) -> dict:
        """Keras layer names of the layers outside block classes: the .nn name, qualified by its path
        where it is not unique among them."""
        inside = set()
        for group in model.groups():
            if group.kind == "block" and self.definition(group) is not None:
                inside.update(node.index for node in group.layers())
        outside = [node for node in model.layers if node.index not in inside]
        counts: dict = {}
        for node in outside:
            counts[node.name] = counts.get(node.name, 0) + 1
        self.names = Names(identifiers=False)  # Keras layer names: any text, unique
        self.names.used.update(name for name, count in counts.items() if count == 1)
        chosen = {}
        for node in outside:
            if counts[node.name] == 1:
                chosen[node.index] = node.name
            else:
                chosen[node.index] = self.names.take("_".join((*node.path, node.name)))
        return chosen

    # -- statements (Emitter.walk calls these) ------------------------------------------------
    @property
    def variables(self) -> Names:
        return self.scope.vars

    def write(self, text: str) -> None:
        self.scope.body.line(text)

    def _shape(self, shape) -> str:
        """A shape comment, filled in once every call of the class is known."""
        slots = self.scope.slots
        slots.append((tuple(shape), "cl", []))
        return slot(len(slots) - 1)

    def branch(self, branch: ir.Group):
        return self._within(self.name_of(branch))

    @contextmanager
    def _within(self, name: str):
        """Layer names in a block class qualified by a branch or labelled group around them."""
        scope = self.scope
        saved = scope.path
        if scope.name_var:
            scope.path = saved + (name,)
        try:
            yield
        finally:
            scope.path = saved

    def labelled(self, group: ir.Group, cur: _Tensor, dst: str) -> _Tensor:
        name = self.name_of(group)
        self.write(comment(f"{name}: {group.kind}"))
        with self._within(name), self.nested(top=group.kind == "repeat"):
            return self.walk(group.children, cur, dst)

    def block(self, group: ir.Group, cur: _Tensor, dst: str) -> _Tensor:
        """A block call: the class of its definition, built with the call's arguments and a name."""
        statement = self.statement(group)
        found = self.definition(group)
        if found is None:  # the definition is unknown: its layers written where it is called
            self.write(comment(f"{group.name}: block {group.block}" + (f", `{statement}`" if statement else "")))
            with self._within(self.name_of(group)):
                return self.walk(group.children, cur, dst)
        block, stmt = found
        outer = self.scope
        bound, env, written = self.call_binding(block, stmt)
        name_var = self.extra_param(block, "name")
        inner = _Scope(name_var)
        channels = cur.shape[-1] if cur.shape else None
        shape = tuple(cur.shape)
        # the channels of its input, in the shape comments (only there: no variable of the class)
        channels_name = "C" if "C" not in self.class_params(block).params.values() else "C_in"
        if is_int(channels):
            shape = (*shape[:-1], ParamInt(int(channels), ("name", channels_name)))
        inner.slots.append((shape, "cl", []))  # the input, for the docstring
        entry = _Tensor("x", shape, cur.index)
        inner.tensors[cur.index] = entry
        self.scope = inner
        try:
            with self.inside_class(group, env, block):
                out = self.walk(group.children, entry, "x")
        finally:
            self.scope = outer
        inner.body.line(f"return {out.var}")
        inner.signature, inner.defaults = self.signature(block, [], ["*", name_var])
        text = "\n".join(self._class_lines(inner, "_", []))
        variant = self.register(block.name, text, ClassCall(group, inner.slots, plain(cur.shape)))
        if variant.scope is None:
            variant.scope, variant.base, variant.header = inner, camel(block.name), self.header(block, group)
            self.classes.append(("block", variant))
        relative = [name for names in inner.relative.values() for name in names]
        arguments = list(written)
        mapping = {self.class_params(block).params[key]: value for key, value in bound.items()}
        mapping[channels_name] = channels
        shape = self.call_output(plain(out.shape), out.shape, mapping)
        note = "  " + (comment(f"{statement}, output ") if statement else "# ") + self._shape(shape)
        if outer.name_var:  # a block called in a block: built in the constructor, named after the call
            wanted = "_".join(outer.path + (self.name_of(group),))
            suffix = _free_prefix(outer.suffixes, wanted, relative)
            attr = outer.attrs.take(suffix)
            arguments.append(f"name={outer.name_var} + {string_literal('_' + suffix)}")
            held = outer.hold(attr, f"{variant.placeholder}({', '.join(arguments)})")
            self.write(f"{dst} = {held}({cur.var})" + note)
            for layer, names in inner.relative.items():
                outer.relative[layer] = [f"{suffix}_{name}" for name in names]
        else:
            prefix = _free_prefix(self.names, "_".join((*group.path[:-1], group.name)), relative)
            arguments.append(f"name={string_literal(prefix)}")
            self.write(f"{dst} = {variant.placeholder}({', '.join(arguments)})({cur.var})" + note)
            for layer, names in inner.relative.items():
                self.export.layers[layer] = [f"{prefix}_{name}" for name in names]
        return self._result(out.index, dst, shape)

    def loop(self, loop, cur: _Tensor, dst: str) -> Optional[_Tensor]:
        """The iterations of a repeat whose count is a parameter, as a loop: the constructor builds
        a dictionary of layers per iteration, named after the call and the iteration number, and
        the call loops over them; None (nothing written) when the iterations do not write the same
        code, or inside an iteration of another loop."""
        outer = self.scope
        block = self.definition_now
        if outer.holder or not outer.name_var or not loop.iterations:
            return None
        number, prefix = self.extra_param(block, "i"), self.extra_param(block, "prefix")
        step = outer.vars.take("step")
        texts, made = [], []
        tensor = cur
        saved = outer.tensors.get(cur.index)
        try:
            with self.looping_over(loop):
                for children in loop.iterations:
                    scope = self.scope = outer.iteration(prefix, step)
                    entry = _Tensor(tensor.var, tensor.shape, tensor.index)
                    outer.tensors[tensor.index] = entry
                    out = self.walk(children, entry, dst)
                    texts.append("\n".join([*scope.init.lines, "", *scope.body.lines]))
                    made.append((scope, out))
                    tensor = out
        finally:
            self.scope = outer
            outer.vars.used.discard(step)
        if any(text != texts[0] for text in texts):
            if saved is not None:
                outer.tensors[cur.index] = saved
            return None
        first, last = made[0][0], made[-1][1]
        relative = [name for names in first.relative.values() for name in names]
        count = len(loop.iterations)
        names = [f"{k}_{name}" for k in range(1, count + 1) for name in relative]
        wanted = "_".join(outer.path + ("repeat",))
        attr = outer.attrs.take(wanted)  # an attribute, and the start of the iterations' names
        while attr in outer.suffixes.used or any(f"{attr}_{name}" in outer.suffixes.used for name in names):
            attr = outer.attrs.take(wanted)
        outer.suffixes.used.update([attr, *(f"{attr}_{name}" for name in names)])
        outer.init.line(f"self.{attr} = []")
        with outer.init.block(f"for {number} in range({py(loop.count)}):"):
            outer.init.line(f'{prefix} = f"{{{outer.name_var}}}_{attr}_{{{number} + 1}}"')
            if first.init.lines:
                outer.init.line(f"self.{attr}.append({{")
                outer.init.level += 1
                outer.init.extend(first.init)
                outer.init.level -= 1
                outer.init.line("})")
            else:
                outer.init.line(f"self.{attr}.append({{}})")
        numbers = {}
        for index, (shape, layout, more) in enumerate(first.slots):
            numbers[index] = len(outer.slots)
            outer.slots.append((shape, layout, [*more, *(scope.slots[index][0] for scope, _ in made[1:])]))
        outer.vars.take(step)
        self.write(f"for {step} in self.{attr}:")
        for line in first.body.lines:
            self.write("    " + renumber_slots(line, numbers))
        outer.vars.used.discard(step)
        for k, (scope, _) in enumerate(made, 1):
            for layer, names in scope.relative.items():
                outer.relative[layer] = [f"{attr}_{k}_{name}" for name in names]
        return self._result(last.index, last.var, last.shape)

    def _result(self, index: int, dst: str, shape) -> _Tensor:
        tensor = _Tensor(dst, shape, index)
        self.scope.tensors[index] = tensor
        return tensor

    def joined(self, node: ir.LayerNode, outputs: list, dst: str) -> _Tensor:
        shape = self.joined_shape(node, [out.shape for out in outputs])
        return self._steps(node, node, f"[{', '.join(out.var for out in outputs)}]", dst, shape)

    def layer(self, node: ir.LayerNode, cur: _Tensor, dst: str) -> _Tensor:
        src = self.scope.tensors.get(node.inputs[0], cur)
        symbolic, shape = self.symbolic(node, src.shape)
        return self._steps(node, symbolic, src.var, dst, shape)

    def _steps(self, node: ir.LayerNode, symbolic: ir.LayerNode, var: str, dst: str, shape) -> _Tensor:
        """The Keras layers that compute `node` (its kind's method gives them, from the layer as the
        block class sees it), applied in turn to `var`."""
        scope = self.scope
        name = self._main_name(node)
        steps = self.kind_method(node)(symbolic, symbolic.args, name)  # [(layer constructor, _Named)], in order
        for number, (ctor, named) in enumerate(steps):
            if scope.name_var:
                ctor = scope.hold(named.attr, ctor)
            line = f"{dst} = {ctor}({var})"
            self.write(line + "  # " + self._shape(shape) if number == len(steps) - 1 else line)
            var = dst
        values = [named.value for _, named in steps]
        if scope.name_var:
            scope.relative[node.index] = values
        else:
            self.export.layers[node.index] = values
        return self._result(node.index, dst, shape)

    def _main_name(self, node: ir.LayerNode) -> _Named:
        """The name of the Keras layer computing `node`."""
        scope = self.scope
        if not scope.name_var:
            value = self.layer_names[node.index]
            return _Named(value, string_literal(value))
        return self._suffixed("_".join(scope.path + (self.name_of(node),)))

    def _suffixed(self, wanted: str) -> _Named:
        scope = self.scope
        suffix = scope.suffixes.take(wanted)
        return _Named(suffix, f"{scope.name_var} + {string_literal('_' + suffix)}", scope.attrs.take(suffix))

    def _derived(self, name: _Named, ending: str) -> _Named:
        """Another Keras layer for the same .nn layer (`conv2d_1_pad`)."""
        if not self.scope.name_var:
            value = self.names.take(name.value + ending)
            return _Named(value, string_literal(value))
        return self._suffixed(name.value + ending)

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
        if pad in ("valid", "same") or dims(pad) == 0 or (same_allowed and self._conv_same(node)):
            return []
        n = len(node.window.kernel)
        values = pad if isinstance(pad, tuple) else (pad,) * n
        if n == 1:
            argument = values[0]
        else:
            argument = dims(values) if len(set(values)) == 1 else tuple((p, p) for p in values)
        pad_name = self._derived(name, "_pad")
        return [(f"layers.ZeroPadding{n}D({_value(argument)}, name={pad_name.code})", pad_name)]

    def _conv_same(self, node) -> bool:
        """Whether a convolution's pad=N is written as Keras' 'same': where it pads the same, unless
        a block's parameter gives N, the kernel, the stride or the dilation (which decide whether N
        is what 'same' pads: a ZeroPadding layer is right whatever the parameters are)."""
        given = any(has_param(node.args.get(name)) for name in ("pad", "k", "s", "dilation"))
        return not given and self._same_is_explicit(node)

    def _padding_word(self, node) -> Optional[str]:
        return "same" if node.args["pad"] == "same" or self._conv_same(node) else None

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
                    activation=self._activation_keyword(node), use_bias=flag(a["bias"]), name=name.raw)
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
                    activation=self._activation_keyword(node), use_bias=flag(a["bias"]), name=name.raw)
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
                    activation=self._activation_keyword(node), use_bias=flag(a["bias"]), name=name.raw)
        steps = [(ctor, name)]
        if explicit and dims(pad) != 0:
            values = pad if isinstance(pad, tuple) else (pad, pad)
            crop = dims(values) if len(set(values)) == 1 else tuple((p, p) for p in values)
            crop_name = self._derived(name, "_crop")
            steps.append((f"layers.Cropping2D({_value(crop)}, name={crop_name.code})", crop_name))
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
        ctor = call(self._class(node), dims(window.kernel), strides=stride, padding=padding, name=name.raw)
        return steps + [(ctor, name)]

    def _k_global_pool(self, node, a, name):
        return [(call(self._class(node), keepdims=True if a["keepdims"] else None, name=name.raw), name)]

    def _k_upsample2d(self, node, a, name):
        interpolation = None if a["interpolation"] == "nearest" else a["interpolation"]
        return [(call(self._class(node), dims(a["factor"]), interpolation=interpolation, name=name.raw), name)]

    def _k_zeropad2d(self, node, a, name):
        top, bottom, left, right = a["padding"]
        if top == bottom and left == right:
            value = dims((top, left))
        else:
            value = ((top, bottom), (left, right))
        return [(f"{self._class(node)}({_value(value)}, name={name.code})", name)]

    def _k_flatten(self, node, a, name):
        return [(call(self._class(node), name=name.raw), name)]

    def _k_reshape(self, node, a, name):
        if None in a["target"]:
            raise self.unsupported(node, "a reshape to a shape with an unknown size")
        return [(f"{self._class(node)}({_tuple(a['target'])}, name={name.code})", name)]

    def _k_dense(self, node, a, name):
        ctor = call(self._class(node), a["units"], activation=self._activation_keyword(node),
                    use_bias=flag(a["bias"]), name=name.raw)
        return [(ctor, name)]

    def _k_dropout(self, node, a, name):
        return [(call(self._class(node), a["rate"], name=name.raw), name)]

    def _k_batchnorm(self, node, a, name):
        ctor = call(self._class(node), center=flag(a["center"]),
                    scale=flag(a["scale"]), name=name.raw)
        return [(ctor, name)]

    def _k_layernorm(self, node, a, name):
        ctor = call(self._class(node), center=flag(a["center"]),
                    scale=flag(a["scale"]), name=name.raw)
        return [(ctor, name)]

    def _k_groupnorm(self, node, a, name):
        return [(call(self._class(node), groups=a["groups"], name=name.raw), name)]

    def _k_rmsnorm(self, node, a, name):
        return [(call(self._class(node), name=name.raw), name)]

    def _k_normalization(self, node, a, name):
        return [(call(self._class(node), name=name.raw), name)]

    def _k_layerscale(self, node, a, name):
        raise self.unsupported(node, "Keras has no layer scale layer (only a Lambda layer or a custom layer, "
                                     "which nnc does not write: the model would not load without its code)")

    def _k_droppath(self, node, a, name):
        raise self.unsupported(node, "Keras has no stochastic depth layer (keras.layers.Identity would leave "
                                     "it out of training, a custom layer would not load without its code)")

    def _k_activation(self, node, a, name):
        return [(call(self._class(node), kind_of(node).activation_function(a), name=name.raw), name)]

    def _k_embedding(self, node, a, name):
        return [(call(self._class(node), a["vocab"], a["dim"], name=name.raw), name)]

    def _k_attention(self, node, a, name):
        # self-attention: the layer is called on (x, x), as a function of x that holds the layer
        d = node.input_shape[-1]
        heads = a["heads"]
        head_dim = a["head_dim"] if a["head_dim"] is not None else d // heads
        grouped = a["kv_heads"] is not None and int(a["kv_heads"]) != int(heads)
        if grouped:
            if a["out"] is not None and int(a["out"]) != int(d):
                raise self.unsupported(node, f"grouped-query attention with out={a['out']}: "
                                             f"layers.GroupQueryAttention's output is the input's width {d}")
            ctor = call("layers.GroupQueryAttention", head_dim, heads, a["kv_heads"], dropout=a["dropout"] or None,
                        use_bias=flag(a["bias"]), name=name.raw)
        else:
            out = a["out"] if a["out"] is not None and int(a["out"]) != int(d) else None
            ctor = call(self._class(node), heads, head_dim, dropout=a["dropout"] or None,
                        use_bias=flag(a["bias"]), output_shape=out, name=name.raw)
        causal = ", use_causal_mask=True" if a["causal"] else ""
        return [(f"(lambda attention: lambda x: attention(x, x{causal}))({ctor})", name)]

    def _k_recurrent(self, node, a, name):
        word = node.activation or None
        keywords = {}
        if not a.get("reset_after", True):
            keywords["reset_after"] = False
        inner_name = None if a["bidirectional"] else name.raw
        ctor = call(self._class(node), a["units"], activation=word,
                    use_bias=flag(a["bias"]),
                    return_sequences=True if a["return_sequences"] else None, **keywords, name=inner_name)
        if a["bidirectional"]:
            ctor = f"layers.Bidirectional({ctor}, name={name.code})"
        return [(ctor, name)]

    # the joins: applied to the list of the branches' outputs
    def _k_concat(self, node, a, name):
        return [(call(self._class(node), name=name.raw), name)]

    _k_add = _k_concat
    _k_multiply = _k_concat

    def _k_slice(self, node, a, name):
        raise self.unsupported(node, "Keras has no layer that slices along an axis (only a Lambda layer, "
                                     "which nnc does not write: its code would not survive saving the model)")

    _k_select = _k_slice

    def _k_class_token(self, node, a, name):
        raise self.unsupported(node, "Keras has no built-in layer for a learned class token (keras.layers has none "
                                     "that prepends a learned vector, and nnc writes no custom layer)")

    def _k_position_embedding(self, node, a, name):
        raise self.unsupported(node, "Keras has no built-in layer for a learned position table (keras_hub's "
                                     "PositionEmbedding is a separate package, and nnc writes no custom layer)")


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


def _free_prefix(names: Names, wanted: str, relative: list) -> str:
    """`wanted`, or `wanted_2`, ...: the first that, followed by `_` and any of `relative`, names
    no layer yet; the names it gives are then taken."""
    candidate, number = wanted, 1
    while candidate in names.used or any(f"{candidate}_{name}" in names.used for name in relative):
        number += 1
        candidate = f"{wanted}_{number}"
    names.used.add(candidate)
    names.used.update(f"{candidate}_{name}" for name in relative)
    return candidate


def export(program: ir.Program, names: Optional[list] = None, *, source_lines: Optional[list] = None,
           file_name: str = "", tree=None) -> Export:
    """Keras code for the models of `program` (all of them, or those named); raises ExportError.
    The docstrings quote the parameters as Keras counts them, in whatever convention `program`
    was compiled. The block definitions come from `tree` (the file's syntax tree), else from
    parsing `source_lines`; without either, a block call's layers are written where it is called."""
    return export_with(KerasEmitter, program, names, source_lines=source_lines, file_name=file_name, tree=tree)
