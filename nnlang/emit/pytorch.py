"""Export to PyTorch: one `torch.nn.Module` class per model.

The class is named after the model in CamelCase and built without arguments.
Each block call becomes a small module class of its own, each branch (and each
labelled concat, add or repeat) an `nn.ModuleDict`; every layer is an attribute
named as in the `.nn` file (its label, or nnc's name such as `conv2d_1`), so
`model.get_submodule("inception_3a.b1.conv2d_5")` finds what the report calls
`inception_3a/b1/conv2d_5`.

Layout. `.nn` shapes are channels-last; PyTorch's convolutions, pooling and
batch norm want channels first (N, C, H, W), while `nn.Linear`, `nn.LayerNorm`,
the recurrent layers (batch_first) and flattening in Keras' order want the
channels last. Every tensor of the generated `forward` has one of the two
layouts, and an explicit `permute` converts where a layer needs the other one;
the model takes its input in the layout its first layer wants (documented in
its docstring).
"""

from __future__ import annotations

from typing import Optional

import attrs

from .. import ir
from .codegen import (BUILTIN_NAMES, Code, Emitter, Export, Names, Raw, activation_of, call, camel, check_exportable,
                      ceil_changes_size, comment, dims, docstring, export_with, merge_children, py, refuse,
                      statement_text, string_literal, transpose_crops, window_pads)

FRAMEWORK = "PyTorch"

#: Attribute names an nn.Module or nn.ModuleDict already has (torch 2.x): a layer
#: called like this is renamed with a trailing underscore.
MODULE_ATTRIBUTES = frozenset("""
T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl _forward_hooks
_forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
_get_backward_hooks _get_backward_pre_hooks _get_name _is_full_backward_hook _load_from_state_dict
_load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
_non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook _register_state_dict_hook
_replicate_for_data_parallel _save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version
_wrapped_call_impl add_module apply bfloat16 buffers call_super_init children clear compile cpu cuda double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu items
keys load_state_dict modules mtia named_buffers named_children named_modules named_parameters parameters pop
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train training type update values xpu zero_grad
""".split())

#: Names the generated file defines at module level.
MODULE_NAMES = ("torch", "nn", "F", "Concat", "Add", "Recurrent", "SeparableConv2d", "SamePool", "Reshape",
                "Exponential")

#: Layers that compute on channels-first tensors.
CHANNELS_FIRST = frozenset({
    "conv1d", "conv2d", "conv3d", "depthwise2d", "separable2d", "conv2d_transpose", "maxpool1d", "avgpool1d",
    "maxpool2d", "avgpool2d", "globalavgpool1d", "globalmaxpool1d", "globalavgpool2d", "globalmaxpool2d",
    "upsample2d", "zeropad2d", "batchnorm",
})
#: Layers that compute on channels-last tensors (flatten and reshape: to order the values as Keras does).
CHANNELS_LAST = frozenset({"dense", "layernorm", "embedding", "rnn", "lstm", "gru", "flatten", "reshape"})

HELPERS = {
    "Concat": '''
class Concat(nn.Module):
    """Joins branches on the channel axis (dim=1 channels-first, -1 channels-last)."""

    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim

    def forward(self, *branches):
        return torch.cat(branches, dim=self.dim)
''',
    "Add": '''
class Add(nn.Module):
    """Sums branches elementwise."""

    def forward(self, *branches):
        total = branches[0]
        for branch in branches[1:]:
            total = total + branch
        return total
''',
    "Recurrent": '''
class Recurrent(nn.Module):
    """nn.RNN, nn.LSTM or nn.GRU (batch_first) returning what Keras returns: every step
    (N, T, units) with return_sequences, else the last output (N, units); for a
    bidirectional layer the forward and backward outputs side by side."""

    def __init__(self, rnn, return_sequences=False):
        super().__init__()
        self.rnn = rnn
        self.return_sequences = return_sequences

    def forward(self, x):
        out, state = self.rnn(x)
        if self.return_sequences:
            return out
        h = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c)
        if self.rnn.bidirectional:
            return torch.cat([h[-2], h[-1]], dim=1)
        return h[-1]
''',
    "SeparableConv2d": '''
class SeparableConv2d(nn.Module):
    """Keras' SeparableConv2D: a depthwise convolution (no bias), then a 1x1 pointwise one."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 depth_multiplier=1, bias=True):
        super().__init__()
        middle = in_channels * depth_multiplier
        self.depthwise = nn.Conv2d(in_channels, middle, kernel_size, stride=stride, padding=padding,
                                   dilation=dilation, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(middle, out_channels, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))
''',
    "SamePool": '''
class SamePool(nn.Module):
    """Keras' padding='same' pooling where the padding is uneven: pads (before, after)
    as F.pad takes them (last axis first). The padding never wins a maximum and is
    left out of an average, as in Keras."""

    def __init__(self, pool, pads):
        super().__init__()
        self.pool = pool
        self.pads = pads

    def forward(self, x):
        if isinstance(self.pool, (nn.MaxPool1d, nn.MaxPool2d)):
            return self.pool(F.pad(x, self.pads, value=float("-inf")))
        total = self.pool(F.pad(x, self.pads))
        inside = self.pool(F.pad(torch.ones_like(x[:1, :1]), self.pads))
        return total / inside
''',
    "Reshape": '''
class Reshape(nn.Module):
    """Keras' Reshape: the target shape leaves out the batch axis (one entry may be -1)."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)
''',
    "Exponential": '''
class Exponential(nn.Module):
    """exp(x), elementwise."""

    def forward(self, x):
        return torch.exp(x)
''',
}

_MODULE_ACTIVATIONS = {
    "relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()", "linear": "nn.Identity()",
    "elu": "nn.ELU()", "selu": "nn.SELU()", "gelu": "nn.GELU()", "swish": "nn.SiLU()", "silu": "nn.SiLU()",
    "softplus": "nn.Softplus()", "softsign": "nn.Softsign()", "leaky_relu": "nn.LeakyReLU(0.2)",
    "relu6": "nn.ReLU6()", "hard_sigmoid": "nn.Hardsigmoid()", "hard_swish": "nn.Hardswish()", "mish": "nn.Mish()",
    "exponential": "Exponential()",
}

_FUNCTIONS = {
    "relu": "F.relu({})", "tanh": "torch.tanh({})", "sigmoid": "torch.sigmoid({})", "elu": "F.elu({})",
    "selu": "F.selu({})", "gelu": "F.gelu({})", "swish": "F.silu({})", "silu": "F.silu({})",
    "softplus": "F.softplus({})", "softsign": "F.softsign({})", "leaky_relu": "F.leaky_relu({}, 0.2)",
    "relu6": "F.relu6({})", "hard_sigmoid": "F.hardsigmoid({})", "hard_swish": "F.hardswish({})",
    "mish": "F.mish({})", "exponential": "torch.exp({})",
}


@attrs.define
class ModelExport:
    """What was generated for one model, for tools and tests."""

    name: str
    class_name: str
    input_layout: str  # "cf" or "cl"
    input_dtype: str  # "float" or "long" (token ids)
    input_shape: tuple  # as PyTorch takes it, batch left out (None: any size)
    modules: dict = attrs.Factory(dict)  # layer index -> dotted module path
    layouts: dict = attrs.Factory(dict)  # layer index -> layout of the module's output ("cf" / "cl")


@attrs.frozen
class _Tensor:
    var: str
    layout: str  # "cf" | "cl"
    rank: int  # of the .nn shape (batch left out)
    index: int  # producing layer, -1 for the model input
    shape: tuple  # .nn shape, channels last


@attrs.define
class _Spec:
    ctor: str
    need: Optional[str] = None  # layout the module needs
    out: Optional[str] = None  # layout of its output (None: as its input)
    pads: Optional[tuple] = None  # F.pad before the module
    pad_note: str = ""
    activation: bool = True  # apply the trailing activation after the module
    ids: bool = False  # takes integer ids
    note: str = ""  # added to the forward line's comment


class _Container:
    """The modules of one class or ModuleDict, in order: (attribute, constructor text or _Container)."""

    def __init__(self):
        self.entries: list = []
        self.names = Names(MODULE_ATTRIBUTES)


class _Scope:
    """One generated class: a model or a block call."""

    def __init__(self, class_name: str, group: ir.Group, doc: list):
        self.class_name = class_name
        self.group = group
        self.doc = doc  # the docstring's source lines
        self.root = _Container()
        self.forward = Code()
        self.vars = Names({"x", "torch", "nn", "F", *MODULE_NAMES})
        self.tensors: dict = {}


def layout_shape(shape, layout: str) -> tuple:
    """A channels-last .nn shape as the tensor holds it (batch left out)."""
    if layout == "cf" and len(shape) >= 2:
        return (shape[-1], *shape[:-1])
    return tuple(shape)


def _shape_comment(shape, layout: str) -> str:
    return "(N, " + ", ".join("?" if d is None else str(d) for d in layout_shape(shape, layout)) + ")"


def _permute(rank: int, to: str) -> str:
    """permute(...) arguments turning channels-last into channels-first or back, for a tensor of `rank` + 1 axes."""
    axes = list(range(1, rank + 1))
    order = [0, axes[-1], *axes[:-1]] if to == "cf" else [0, *axes[1:], 1]
    return ", ".join(str(a) for a in order)


class _Emitter(Emitter):
    def __init__(self, program: ir.Program, source_lines: Optional[list] = None, file_name: str = "",
                 numbers: Optional[ir.Program] = None):
        super().__init__(program, source_lines, file_name, numbers)
        self.helpers: set = set()
        self.classes: list[_Scope] = []
        self.class_names = Names({*MODULE_NAMES, *BUILTIN_NAMES})

    # -- the file ----------------------------------------------------------------
    def render(self, models: list) -> Export:
        exports = [self.model(m, prefix=len(models) > 1) for m in models]
        code = Code()
        origin = f" from {self.file_name}" if self.file_name else ""
        for line in docstring(f"PyTorch modules exported by nnc{origin}.", "",
                              "Every model is an nn.Module built without arguments; its docstring gives the",
                              "input layout. Generated code: change the .nn file and export again."):
            code.line(line)
        code.blank()
        code.line("import torch")
        code.line("from torch import nn")
        code.line("from torch.nn import functional as F")
        for name in MODULE_NAMES:
            if name in self.helpers:
                code.blank(2)
                code.lines_of(HELPERS[name].strip("\n"))
        for scope in self.classes:
            code.blank(2)
            self._class(code, scope)
        return Export(code.text(), exports)

    def _class(self, code: Code, scope: _Scope) -> None:
        with code.block(f"class {scope.class_name}(nn.Module):"):
            for line in scope.doc:
                code.line(line)
            code.blank()
            with code.block("def __init__(self):"):
                code.line("super().__init__()")
                for attr, entry in scope.root.entries:
                    self._entry(code, f"self.{attr} = ", entry, "")
            code.blank()
            with code.block("def forward(self, x):"):
                code.extend(scope.forward)

    def _entry(self, code: Code, head: str, entry, tail: str) -> None:
        if isinstance(entry, str):
            code.line(f"{head}{entry}{tail}")
            return
        if not entry.entries:
            code.line(f"{head}nn.ModuleDict(){tail}")
            return
        code.line(f"{head}nn.ModuleDict({{")
        code.level += 1
        for attr, inner in entry.entries:
            self._entry(code, f"{string_literal(attr)}: ", inner, ",")
        code.level -= 1
        code.line(f"}}){tail}")

    # -- one model ---------------------------------------------------------------------
    def model(self, model: ir.Model, prefix: bool) -> ModelExport:
        check_exportable(model, FRAMEWORK)
        self.prefix = camel(model.name) if prefix else ""
        rank = len(model.input_shape)
        ids = any(node.kind == "embedding" and -1 in node.inputs for node in model.layers)
        if ids and any(node.kind != "embedding" and -1 in node.inputs for node in model.layers):
            first = next(n for n in model.layers if n.kind != "embedding" and -1 in n.inputs)
            raise refuse(FRAMEWORK, first, "the input feeds an embedding (token ids) and this layer (numbers)")
        layout = self._input_layout(model)
        class_name = self.class_names.take(camel(model.name))
        export = ModelExport(model.name, class_name, layout, "long" if ids else "float",
                             layout_shape(model.input_shape, layout))
        self.export = export
        scope = _Scope(class_name, model.root, [])
        entry = _Tensor("x", layout, rank, -1, tuple(model.input_shape))
        scope.tensors[-1] = entry
        out = self._children(scope, scope.root, "self", (), model.root.children, entry, "x")
        scope.forward.line(f"return {out.var}")
        scope.doc = self._model_doc(model, export, out)
        self.classes.append(scope)
        return export

    def _input_layout(self, model: ir.Model) -> str:
        if len(model.input_shape) < 2:
            return "cl"
        for node in model.layers:
            if node.kind in CHANNELS_FIRST and node.kind != "batchnorm":
                return "cf"
            if node.kind in CHANNELS_LAST:
                return "cl"
        return "cf"

    def _model_doc(self, model: ir.Model, export: ModelExport, out: _Tensor) -> str:
        counted = self.numbers.model(model.name)
        totals = (counted if counted is not None and len(counted.layers) == len(model.layers) else model).totals()
        shape = tuple(model.input_shape)
        origin = f" from {self.file_name}" if self.file_name else ""
        lines = [f"{model.name}, exported by nnc{origin}.", ""]
        dims_text = _shape_comment(shape, export.input_layout)
        if export.input_dtype == "long":
            lines.append(f"Input: integer token ids (torch.long) of shape {dims_text}.")
        elif len(shape) >= 2 and export.input_layout == "cf":
            lines.append(f"Input: x of shape {dims_text}, channels first (the .nn input {_nn_shape(shape)} "
                         "is channels-last).")
        elif len(shape) == 2:
            lines.append(f"Input: x of shape {dims_text}: batch, steps, features (the .nn input "
                         f"{_nn_shape(shape)}).")
        else:
            lines.append(f"Input: x of shape {dims_text} (the .nn input {_nn_shape(shape)}).")
        where = ", channels first" if out.layout == "cf" and out.rank >= 2 else ""
        lines.append(f"Output: shape {_shape_comment(out.shape, out.layout)}{where}.")
        if None in shape:
            lines.append("A size shown as ? may be anything.")
        per_step = " (one step where a length is unknown)" if None in shape else ""
        lines.append(f"Parameters: {totals.params:,} as nnc counts them (--convention {self.numbers.convention}); "
                     f"MACs: {totals.macs:,}{per_step}.")
        return docstring(*lines)

    # -- statements ---------------------------------------------------------------------
    def _children(self, scope: _Scope, container: _Container, prefix: str, path: tuple, children: list,
                  cur: _Tensor, dst: str) -> _Tensor:
        index = 0
        while index < len(children):
            child = children[index]
            if isinstance(child, ir.Group) and child.kind == "branch":
                branches, node, index = merge_children(children, index)
                cur = self._merge(scope, container, prefix, path, branches, node, cur, dst)
                continue
            index += 1
            if isinstance(child, ir.LayerNode):
                cur = self._layer(scope, container, prefix, path, child, cur, dst)
            elif child.kind == "block":
                cur = self._block(scope, container, prefix, path, child, cur, dst)
            else:  # a labelled concat, add or repeat: its modules in a ModuleDict
                attr = container.names.take(child.name)
                inner = _Container()
                container.entries.append((attr, inner))
                scope.forward.line(comment(f"{child.name} ({child.kind})"))
                cur = self._children(scope, inner, f"{prefix}.{attr}", path + (attr,), child.children, cur, dst)
        return cur

    def _block(self, scope, container, prefix, path, group: ir.Group, cur: _Tensor, dst: str) -> _Tensor:
        attr = container.names.take(group.name)
        class_name = self.class_names.take(self.prefix + camel(group.name))
        statement = statement_text(self.source_lines, group.span)
        doc = docstring(f"{group.name}: block {group.block}" + (f", `{statement}`" if statement else "") + ".")
        inner = _Scope(class_name, group, doc)
        entry = _Tensor("x", cur.layout, cur.rank, cur.index, cur.shape)
        inner.tensors[cur.index] = entry
        out = self._children(inner, inner.root, "self", path + (attr,), group.children, entry, "x")
        inner.forward.line(f"return {out.var}")
        self.classes.append(inner)
        container.entries.append((attr, f"{class_name}()"))
        scope.forward.line(f"{dst} = {prefix}.{attr}({cur.var})  " + comment(_shape_comment(out.shape, out.layout)))
        result = _Tensor(dst, out.layout, out.rank, out.index, out.shape)
        scope.tensors[out.index] = result
        return result

    def _merge(self, scope, container, prefix, path, branches, node: ir.LayerNode, cur: _Tensor, dst) -> _Tensor:
        outputs, names = [], []
        for branch in branches:
            attr = container.names.take(branch.name)
            inner = _Container()
            container.entries.append((attr, inner))
            var = scope.vars.take(branch.name)
            names.append(var)
            scope.forward.line(comment(f"branch {branch.name}" + ("" if branch.children else ": the input itself")))
            out = self._children(scope, inner, f"{prefix}.{attr}", path + (attr,), branch.children, cur, var)
            outputs.append(out)
        # every branch in the layout of the first one that has channels
        layout = next((o.layout for o in outputs if o.rank >= 2), "cf")
        args = []
        for out in outputs:
            if out.rank >= 2 and out.layout != layout:
                args.append(f"{out.var}.permute({_permute(out.rank, layout)})")
            else:
                args.append(out.var)
        attr = container.names.take(node.name)
        if node.kind == "concat":
            dim = 1 if layout == "cf" or len(node.output_shape) < 2 else -1
            ctor = f"Concat(dim={dim})"
            self.helpers.add("Concat")
        else:
            ctor = "Add()"
            self.helpers.add("Add")
        container.entries.append((attr, ctor))
        scope.forward.line(f"{dst} = {prefix}.{attr}({', '.join(args)})  "
                           + comment(_shape_comment(node.output_shape, layout)))
        scope.vars.used -= set(names)  # the branches' variables are free again
        self.export.modules[node.index] = ".".join(path + (attr,))
        self.export.layouts[node.index] = layout
        result = _Tensor(dst, layout, len(node.output_shape), node.index, tuple(node.output_shape))
        scope.tensors[node.index] = result
        return result

    def _layer(self, scope, container, prefix, path, node: ir.LayerNode, cur: _Tensor, dst) -> _Tensor:
        src = scope.tensors.get(node.inputs[0], cur)
        spec = self._spec(node, src.layout)
        attr = container.names.take(node.name)
        container.entries.append((attr, spec.ctor))
        var = src.var
        layout = src.layout
        if spec.need and src.rank >= 2 and src.layout != spec.need:
            where = "channels-first" if spec.need == "cf" else "channels-last"
            scope.forward.line(f"{dst} = {var}.permute({_permute(src.rank, spec.need)})  "
                               + comment(f"to {where} {_shape_comment(src.shape, spec.need)}"))
            var, layout = dst, spec.need
        if spec.pads:
            scope.forward.line(f"{dst} = F.pad({var}, {py(spec.pads)})  " + comment(spec.pad_note))
            var = dst
        argument = f"{var}.long()" if spec.ids and not (src.index == -1 and self.export.input_dtype == "long") else var
        expression = f"{prefix}.{attr}({argument})"
        out_layout = spec.out or layout
        word = activation_of(node)
        if word and spec.activation:
            expression = self._apply_activation(word, expression, out_layout, len(node.output_shape))
        note = f"; {spec.note}" if spec.note else ""
        shape = _shape_comment(node.output_shape, out_layout)
        scope.forward.line(f"{dst} = {expression}  " + comment(shape + note))
        self.export.modules[node.index] = ".".join(path + (attr,))
        self.export.layouts[node.index] = out_layout
        result = _Tensor(dst, out_layout, len(node.output_shape), node.index, tuple(node.output_shape))
        scope.tensors[node.index] = result
        return result

    def _apply_activation(self, word: str, expression: str, layout: str, rank: int) -> str:
        dim = 1 if layout == "cf" and rank >= 2 else -1
        if word in ("softmax", "log_softmax"):
            return f"F.{word}({expression}, dim={dim})"
        return _FUNCTIONS[word].format(expression)

    # -- one layer as a module ----------------------------------------------------------
    def _spec(self, node: ir.LayerNode, layout: str) -> _Spec:
        method = getattr(self, f"_k_{node.kind}", None)
        if method is None:
            raise refuse(FRAMEWORK, node, "nnc does not know how to export this layer kind")
        return method(node, node.args, layout)

    def _conv_padding(self, node: ir.LayerNode):
        """(padding argument, F.pad amounts or None, note) of a convolution."""
        pad = node.args["pad"]
        if pad == "valid":
            return None, None, ""
        if pad != "same":
            return (None if dims(pad) == 0 else dims(pad)), None, ""
        pads = window_pads(node, FRAMEWORK)
        if all(before == after for before, after in pads):
            padding = dims(tuple(before for before, _ in pads))
            return (None if padding == 0 else padding), None, ""
        flat = []
        for before, after in reversed(pads):  # F.pad wants the last axis first
            flat.extend((before, after))
        shown = ", ".join(f"{b}/{a}" for b, a in pads)
        return None, tuple(flat), f"'same' padding as Keras pads it (before/after per axis: {shown})"

    def _conv(self, node, a, layout, cls: str, cin: int, cout: int, groups: int) -> _Spec:
        padding, pads, note = self._conv_padding(node)
        stride = dims(a["s"])
        dilation = dims(a["dilation"])
        ctor = call(cls, cin, cout, kernel_size=dims(a["k"]), stride=None if stride == 1 else stride,
                    padding=padding, dilation=None if dilation == 1 else dilation,
                    groups=None if groups == 1 else groups, bias=None if a["bias"] else False)
        return _Spec(ctor, need="cf", out="cf", pads=pads, pad_note=note)

    def _k_conv1d(self, node, a, layout):
        return self._conv(node, a, layout, "nn.Conv1d", node.input_shape[-1], a["filters"], a["groups"])

    def _k_conv2d(self, node, a, layout):
        return self._conv(node, a, layout, "nn.Conv2d", node.input_shape[-1], a["filters"], a["groups"])

    def _k_conv3d(self, node, a, layout):
        return self._conv(node, a, layout, "nn.Conv3d", node.input_shape[-1], a["filters"], a["groups"])

    def _k_depthwise2d(self, node, a, layout):
        cin = node.input_shape[-1]
        return self._conv(node, a, layout, "nn.Conv2d", cin, cin * a["multiplier"], cin)

    def _k_separable2d(self, node, a, layout):
        self.helpers.add("SeparableConv2d")
        padding, pads, note = self._conv_padding(node)
        stride, dilation = dims(a["s"]), dims(a["dilation"])
        ctor = call("SeparableConv2d", node.input_shape[-1], a["filters"], dims(a["k"]),
                    stride=None if stride == 1 else stride, padding=padding,
                    dilation=None if dilation == 1 else dilation,
                    depth_multiplier=None if a["multiplier"] == 1 else a["multiplier"],
                    bias=None if a["bias"] else False)
        return _Spec(ctor, need="cf", out="cf", pads=pads, pad_note=note)

    def _k_conv2d_transpose(self, node, a, layout):
        # PyTorch removes `padding` from both ends of the full output and adds output_padding
        # at the end; Keras' placement (transpose_crops) may need one more row cropped at the end
        padding, extra, crop = [], [], []
        for axis in range(2):
            before, after = transpose_crops(node, axis)
            padding.append(before)
            more = after - before
            extra.append(max(-more, 0))
            crop.append(max(more, 0))
            if extra[-1] >= a["s"][axis]:
                raise refuse(FRAMEWORK, node, f"nn.ConvTranspose2d would need output_padding={extra[-1]}, but "
                                              f"PyTorch requires it to be smaller than the stride {a['s'][axis]}")
        stride = dims(a["s"])
        ctor = call("nn.ConvTranspose2d", node.input_shape[-1], a["filters"], kernel_size=dims(a["k"]),
                    stride=None if stride == 1 else stride,
                    padding=None if dims(tuple(padding)) == 0 else dims(tuple(padding)),
                    output_padding=None if dims(tuple(extra)) == 0 else dims(tuple(extra)),
                    bias=None if a["bias"] else False)
        if any(crop):
            # Keras' 'same' with an odd k - s: the extra row (column) is cropped at the end only
            ctor = f"nn.Sequential({ctor}, nn.ZeroPad2d({py((0, -crop[1], 0, -crop[0]))}))"
            return _Spec(ctor, need="cf", out="cf", note="Keras' 'same': the last row/column cropped")
        return _Spec(ctor, need="cf", out="cf")

    def _pool(self, node, a, layout, op: str, n: int) -> _Spec:
        size = dims(a["size"])
        stride = a["s"] if a["s"] is not None else a["size"]
        stride_arg = None if tuple(stride) == tuple(a["size"]) else dims(stride)
        cls = f"nn.{'MaxPool' if op == 'max' else 'AvgPool'}{n}d"
        pad = a["pad"]
        ceil = True if a["ceil"] else None
        if pad == "same":
            pads = window_pads(node, FRAMEWORK)
            ceil = True if a["ceil"] and ceil_changes_size(node) else None
            symmetric = all(b == e for b, e in pads) and all(2 * b <= k for (b, _), k in zip(pads, a["size"]))
            if ceil and not symmetric:
                raise refuse(FRAMEWORK, node, "pad=same with ceil=true where the padding is uneven",
                             "PyTorch's ceil_mode counts windows from the unpadded input")
            if all(b == 0 and e == 0 for b, e in pads):
                return _Spec(call(cls, size, stride=stride_arg, ceil_mode=ceil), need="cf", out="cf")
            if symmetric:
                padding = dims(tuple(b for b, _ in pads))
                extra = {"count_include_pad": False} if op == "avg" else {}
                return _Spec(call(cls, size, stride=stride_arg, padding=padding, ceil_mode=ceil, **extra),
                             need="cf", out="cf")
            self.helpers.add("SamePool")
            flat = []
            for before, after in reversed(pads):
                flat.extend((before, after))
            return _Spec(call("SamePool", Raw(call(cls, size, stride=stride_arg)), tuple(flat)), need="cf", out="cf")
        padding = None if pad == "valid" or dims(pad) == 0 else dims(pad)
        return _Spec(call(cls, size, stride=stride_arg, padding=padding, ceil_mode=ceil), need="cf", out="cf")

    def _k_maxpool2d(self, node, a, layout):
        return self._pool(node, a, layout, "max", 2)

    def _k_avgpool2d(self, node, a, layout):
        return self._pool(node, a, layout, "avg", 2)

    def _k_maxpool1d(self, node, a, layout):
        return self._pool(node, a, layout, "max", 1)

    def _k_avgpool1d(self, node, a, layout):
        return self._pool(node, a, layout, "avg", 1)

    def _global(self, node, a, op: str, n: int) -> _Spec:
        pool = f"nn.Adaptive{'Avg' if op == 'avg' else 'Max'}Pool{n}d(1)"
        if a["keepdims"]:
            return _Spec(pool, need="cf", out="cf")
        return _Spec(f"nn.Sequential({pool}, nn.Flatten())", need="cf", out="cl")

    def _k_globalavgpool2d(self, node, a, layout):
        return self._global(node, a, "avg", 2)

    def _k_globalmaxpool2d(self, node, a, layout):
        return self._global(node, a, "max", 2)

    def _k_globalavgpool1d(self, node, a, layout):
        return self._global(node, a, "avg", 1)

    def _k_globalmaxpool1d(self, node, a, layout):
        return self._global(node, a, "max", 1)

    def _k_upsample2d(self, node, a, layout):
        mode = a["interpolation"]
        return _Spec(call("nn.Upsample", scale_factor=dims(a["factor"]), mode=mode), need="cf", out="cf")

    def _k_zeropad2d(self, node, a, layout):
        top, bottom, left, right = a["padding"]
        value = (left, right, top, bottom)
        return _Spec(call("nn.ZeroPad2d", dims(value)), need="cf", out="cf")

    def _k_flatten(self, node, a, layout):
        return _Spec("nn.Flatten()", need="cl", out="cl")

    def _k_reshape(self, node, a, layout):
        target = node.output_shape if None not in node.output_shape else a["target"]
        if None in target:
            raise refuse(FRAMEWORK, node, f"a reshape to a shape with an unknown size ({target})")
        self.helpers.add("Reshape")
        return _Spec(call("Reshape", *target), need="cl", out="cl")

    def _k_dense(self, node, a, layout):
        return _Spec(call("nn.Linear", node.input_shape[-1], a["units"], bias=None if a["bias"] else False),
                     need="cl", out="cl")

    def _k_dropout(self, node, a, layout):
        return _Spec(call("nn.Dropout", a["rate"]))

    def _k_batchnorm(self, node, a, layout):
        rank = len(node.input_shape)
        if rank > 4:
            raise refuse(FRAMEWORK, node, f"batch norm over a {rank}-D input (PyTorch has BatchNorm1d/2d/3d)")
        if a["scale"] != a["center"]:
            raise refuse(FRAMEWORK, node, "scale and center differ: PyTorch's batch norm learns both or neither "
                                          "(affine)")
        cls = {1: "nn.BatchNorm1d", 2: "nn.BatchNorm1d", 3: "nn.BatchNorm2d", 4: "nn.BatchNorm3d"}[rank]
        # Keras' epsilon and momentum (PyTorch's defaults are 1e-5 and 0.1): the .nn meaning follows Keras
        return _Spec(call(cls, node.input_shape[-1], eps=0.001, momentum=0.01, affine=None if a["scale"] else False),
                     need="cf", out="cf")

    def _k_layernorm(self, node, a, layout):
        if a["center"] and not a["scale"]:
            raise refuse(FRAMEWORK, node, "center=true with scale=false: nn.LayerNorm has no offset without a scale")
        ctor = call("nn.LayerNorm", node.input_shape[-1], eps=0.001, elementwise_affine=None if a["scale"] else False,
                    bias=None if a["center"] or not a["scale"] else False)
        return _Spec(ctor, need="cl", out="cl")

    def _activation_module(self, word: str, layout: str, rank: int) -> str:
        dim = 1 if layout == "cf" and rank >= 2 else -1
        if word == "softmax":
            return f"nn.Softmax(dim={dim})"
        if word == "log_softmax":
            return f"nn.LogSoftmax(dim={dim})"
        if word == "exponential":
            self.helpers.add("Exponential")
        return _MODULE_ACTIVATIONS[word]

    def _k_activation(self, node, a, layout):
        return _Spec(self._activation_module(a["function"], layout, len(node.input_shape)))

    def _k_embedding(self, node, a, layout):
        return _Spec(call("nn.Embedding", a["vocab"], a["dim"]), need="cl", out="cl", ids=True)

    def _recurrent(self, node, a, cls: str) -> _Spec:
        word = node.activation or "tanh"
        keywords = {}
        if cls == "nn.RNN":
            if word not in ("tanh", "relu"):
                raise refuse(FRAMEWORK, node, f"activation {word}: nn.RNN has tanh or relu only")
            if word == "relu":
                keywords["nonlinearity"] = "relu"
        elif word != "tanh":
            raise refuse(FRAMEWORK, node, f"activation {word}: {cls} always uses tanh")
        if node.kind == "gru" and not a["reset_after"]:
            raise refuse(FRAMEWORK, node, "reset_after=false: PyTorch's nn.GRU applies the reset gate after the "
                                          "recurrent product (reset_after=true) only")
        self.helpers.add("Recurrent")
        rnn = call(cls, node.input_shape[-1], a["units"], batch_first=True,
                   bias=None if a["bias"] else False, bidirectional=True if a["bidirectional"] else None,
                   **keywords)
        ctor = call("Recurrent", Raw(rnn), return_sequences=True if a["return_sequences"] else None)
        return _Spec(ctor, need="cl", out="cl", activation=False)

    def _k_rnn(self, node, a, layout):
        return self._recurrent(node, a, "nn.RNN")

    def _k_lstm(self, node, a, layout):
        return self._recurrent(node, a, "nn.LSTM")

    def _k_gru(self, node, a, layout):
        return self._recurrent(node, a, "nn.GRU")


def _nn_shape(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def export(program: ir.Program, names: Optional[list] = None, *, source_lines: Optional[list] = None,
           file_name: str = "", numbers: Optional[ir.Program] = None) -> Export:
    """PyTorch code for the models of `program` (all of them, or those named); raises ExportError."""
    return export_with(_Emitter, program, names, source_lines=source_lines, file_name=file_name, numbers=numbers)
