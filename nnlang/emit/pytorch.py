"""Export to PyTorch: one `torch.nn.Module` class per model and per block definition.

A model's class is named after the model in CamelCase and built without
arguments. A block definition is a module class whose constructor takes the
channels of its input (`in_channels`, where a layer needs them) and the block's
parameters, and each call of the block builds it with the call's arguments
(`self.layer2_0 = BasicDown(64, 128)`); see codegen.py for how the calls of a
definition come to share one class. Each branch (and each labelled concat, add
or repeat) is an `nn.ModuleDict`; every layer is an attribute named as in the
`.nn` file (its label, or nnc's name such as `conv2d_1`, numbered within its
block inside a block class), so `model.get_submodule("inception_3a.b1.conv2d_1")`
finds a layer of the report (ModelExport.modules maps them).

Layout. `.nn` shapes are channels-last; PyTorch's convolutions, pooling and
batch norm want channels first (N, C, H, W), while `nn.Linear`, `nn.LayerNorm`,
the recurrent layers (batch_first) and flattening in Keras' order want the
channels last. Every tensor of the generated `forward` has one of the two
layouts, and an explicit `permute` converts where a layer needs the other one;
the model takes its input in the layout its first layer wants (documented in
its docstring).
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from typing import NamedTuple, Optional

import attrs

from .. import ir
from ..layers import Layout, kind_of
from .codegen import (BUILTIN_NAMES, ClassCall, Code, Emitter, Export, Names, ParamInt, Raw, activation_of, call,
                      camel, comment, dims, docstring, escape, export_with, fill, flag, is_int, known, merged_shape, plain, py,
                      record, recording, renumber_slots, slot, string_literal, transpose_crops, window_pads)

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
                "Exponential", "Multiply", "Slice", "Select")

#: The layout a kind's module needs (LayerKind.layout): channels first ("cf"), last ("cl"), or either.
_NEEDS = {Layout.SPATIAL: "cf", Layout.LAST_AXIS: "cl", Layout.ELEMENTWISE: None}

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
    "Multiply": '''
class Multiply(nn.Module):
    """Multiplies branches elementwise (an axis of size 1 stretches, as in NumPy)."""

    def forward(self, *branches):
        product = branches[0]
        for branch in branches[1:]:
            product = product * branch
        return product
''',
    "Slice": '''
class Slice(nn.Module):
    """Keeps the positions start, start + step, ... before stop along one axis: x[..., start:stop:step]."""

    def __init__(self, dim, start=0, stop=None, step=1):
        super().__init__()
        self.dim, self.start, self.stop, self.step = dim, start, stop, step

    def forward(self, x):
        index = [slice(None)] * x.dim()
        index[self.dim] = slice(self.start, self.stop, self.step)
        return x[tuple(index)]
''',
    "Select": '''
class Select(nn.Module):
    """Takes one position along an axis, which is removed: x.select(dim, index)."""

    def __init__(self, dim, index=0):
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x):
        return x.select(self.dim, self.index)
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

#: The helper of the attention kind (queries, keys and values all the input).
MODULE_NAMES += ("SelfAttention",)
HELPERS["SelfAttention"] = '''
class SelfAttention(nn.Module):
    """nn.MultiheadAttention (batch_first) as self-attention: the queries, keys and values
    are all the input (N, T, d); causal: each position attends to itself and the
    positions before it only."""

    def __init__(self, attention, causal=False):
        super().__init__()
        self.attention = attention
        self.causal = causal

    def forward(self, x):
        mask = None
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(x.size(1), device=x.device, dtype=x.dtype)
        out, _ = self.attention(x, x, x, attn_mask=mask, need_weights=False, is_causal=self.causal)
        return out
'''

#: The helpers of layer scale and stochastic depth (torch.nn has neither).
MODULE_NAMES += ("LayerScale", "DropPath")
HELPERS["LayerScale"] = '''
class LayerScale(nn.Module):
    """A learned scale per channel (the last axis), as in ConvNeXt: x * gamma, gamma
    starting at `init`."""

    def __init__(self, channels, init=1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x):
        return x * self.gamma
'''
HELPERS["DropPath"] = '''
class DropPath(nn.Module):
    """Stochastic depth: while training, each sample is zeroed with probability `rate` and
    the others are scaled by 1/(1 - rate); the identity at inference."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        keep = 1 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep
'''

#: The helpers of the learned tensors added to a sequence (channels-last, (N, T, d)).
MODULE_NAMES += ("ClassToken", "PositionEmbedding")
HELPERS["ClassToken"] = '''
class ClassToken(nn.Module):
    """Prepends one learned vector of `dim` (a class token, as ViT's cls_token) to each
    sequence: (N, T, dim) becomes (N, T + 1, dim)."""

    def __init__(self, dim):
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x):
        return torch.cat([self.token.expand(x.size(0), -1, -1), x], dim=1)
'''
HELPERS["PositionEmbedding"] = '''
class PositionEmbedding(nn.Module):
    """Adds a learned table of `max_len` positions x `dim` (absolute positions, as ViT's
    pos_embed or GPT-2's wpe), its first T rows, to a sequence (N, T, dim), T <= max_len."""

    def __init__(self, max_len, dim):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(max_len, dim))

    def forward(self, x):
        return x + self.table[: x.size(1)]
'''

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
    """One layer's module; the layout it needs is its kind's (LayerKind.layout)."""

    ctor: str
    out: Optional[str] = None  # layout of its output (None: the one it computes in)
    pads: Optional[tuple] = None  # F.pad before the module
    pad_note: str = ""
    activation: bool = True  # apply the trailing activation after the module
    note: str = ""  # added to the forward line's comment


class _Container:
    """The modules of one class or ModuleDict, in order: (attribute, constructor text or _Container,
    a comment for the line)."""

    def __init__(self):
        self.entries: list = []
        self.names = Names(MODULE_ATTRIBUTES)


@attrs.define
class _LoopEntry:
    """The modules of a loop: a ModuleList with one ModuleDict per iteration."""

    count: str  # the number of iterations, as Python
    container: "_Container"  # the modules of one iteration
    var: str  # the variable holding the channels an iteration starts from
    init: str  # its value before the loop ('' when no iteration reads it)
    update: str  # its value after an iteration


class _Place(NamedTuple):
    """Where the statements being written go."""

    scope: _Scope  # the class whose forward they are
    container: _Container  # the class or ModuleDict holding their modules
    module: str  # that container as an expression: self, self.inception_3a.b1
    path: tuple  # its attribute path from the model, for ModelExport.modules


class _Scope:
    """One generated class as one model or block call writes it."""

    def __init__(self, class_name: str, group: ir.Group, doc: list):
        self.class_name = class_name
        self.group = group
        self.doc = doc  # the docstring's source lines
        self.root = _Container()
        self.forward = Code()
        self.vars = Names({"x", "torch", "nn", "F", *MODULE_NAMES})
        self.tensors: dict = {}
        self.slots: list = []  # (.nn shape, layout) of each shape comment, in this call
        self.signature = ""  # the constructor's parameters after self
        self.defaults: list = []  # (condition, assignment) computing defaults that depend on other parameters


def layout_shape(shape, layout: str) -> tuple:
    """A channels-last .nn shape as the tensor holds it (batch left out)."""
    if layout == "cf" and len(shape) >= 2:
        return (shape[-1], *shape[:-1])
    return tuple(shape)


def _shape_comment(shape, layout: str) -> str:
    return "(N, " + ", ".join("?" if d is None else str(d) for d in layout_shape(shape, layout)) + ")"


def _shape_text(texts: tuple, layout: str) -> str:
    """A shape comment from the texts of the .nn shape's axes."""
    return "(N, " + ", ".join(layout_shape(texts, layout)) + ")"


def _permute(rank: int, to: str) -> str:
    """permute(...) arguments turning channels-last into channels-first or back, for a tensor of `rank` + 1 axes."""
    axes = list(range(1, rank + 1))
    order = [0, axes[-1], *axes[:-1]] if to == "cf" else [0, *axes[1:], 1]
    return ", ".join(str(a) for a in order)


class PyTorchEmitter(Emitter):
    framework = FRAMEWORK
    convention = "pytorch"

    def __init__(self, program: ir.Program, source_lines: Optional[list] = None, file_name: str = "",
                 tree=None):
        super().__init__(program, source_lines, file_name, tree)
        self.helpers: set = set()
        self.classes: list = []  # ("model", _Scope, ClassCall) or ("block", ClassVariant), in order
        self.class_names = Names({*MODULE_NAMES, *BUILTIN_NAMES})
        self.place: Optional[_Place] = None

    def module_names(self) -> tuple:
        return ("torch", "nn", "F", *MODULE_NAMES)

    # -- the file ----------------------------------------------------------------
    def render(self, models: list) -> Export:
        exports = [self.model(m, prefix=len(models) > 1) for m in models]
        self._name_variants()
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
        for what, *item in self.classes:
            code.blank(2)
            if what == "model":
                scope, one = item
                text = "\n".join(self._class(scope, scope.class_name, scope.doc))
                code.lines_of(fill(text, self.variant_list, lambda index: self._comment(index, [one])))
            else:
                (variant,) = item
                scope = variant.scope
                text = "\n".join(self._class(scope, variant.name, self._block_doc(variant)))
                code.lines_of(fill(text, self.variant_list, lambda index: self._comment(index, variant.calls)))
        return Export(code.text(), exports)

    def _class(self, scope: _Scope, name: str, doc: list) -> list:
        """The lines of a class (its shape comments and the names of the block classes it builds
        still to be filled in)."""
        code = Code()
        with code.block(f"class {name}(nn.Module):"):
            for line in doc:
                code.line(line)
            code.blank()
            with code.block(f"def __init__(self{', ' if scope.signature else ''}{scope.signature}):"):
                code.line("super().__init__()")
                for condition, assignment in scope.defaults:
                    with code.block(condition):
                        code.line(assignment)
                for attr, entry, note in scope.root.entries:
                    if isinstance(entry, _LoopEntry):
                        code.line(f"self.{attr} = nn.ModuleList()")
                        if entry.init:
                            code.line(f"{entry.var} = {entry.init}")
                        with code.block(f"for _ in range({entry.count}):"):
                            self._entry(code, f"self.{attr}.append(", entry.container, ")")
                            if entry.init:
                                code.line(f"{entry.var} = {entry.update}")
                        continue
                    self._entry(code, f"self.{attr} = ", entry, "", note)
            code.blank()
            with code.block("def forward(self, x):"):
                code.extend(scope.forward)
        return code.lines

    def _entry(self, code: Code, head: str, entry, tail: str, note: str = "") -> None:
        if isinstance(entry, str):
            code.line(f"{head}{entry}{tail}" + (f"  {comment(note)}" if note else ""))
            return
        if not entry.entries:
            code.line(f"{head}nn.ModuleDict(){tail}")
            return
        code.line(f"{head}nn.ModuleDict({{")
        code.level += 1
        for attr, inner, inner_note in entry.entries:
            self._entry(code, f"{string_literal(attr)}: ", inner, ",", inner_note)
        code.level -= 1
        code.line(f"}}){tail}")

    def _comment(self, index: int, calls: list) -> str:
        texts, layout, _ = merged_shape(calls, index)
        return _shape_text(texts, layout)

    def _name_variants(self) -> None:
        """Names the block classes after their definitions (in CamelCase), avoiding every class
        parameter's name (a parameter would hide the class inside the constructor)."""
        for names in self.param_names.values():
            self.class_names.used |= set(names.params.values()) | set(names.extra.values())
        for variant in self.variant_list:
            if not variant.name:
                variant.name = self.class_names.take(variant.base)

    def _block_doc(self, variant) -> list:
        """The docstring of a block class: the definition, its input, and which calls it is for
        when the calls of the definition differ in structure."""
        scope = variant.scope
        if variant.header is None:  # the class of one call, the definition unknown
            return scope.doc
        lines = [variant.header, ""]
        texts, layout, _ = merged_shape(variant.calls, 0)
        where = ", channels first" if layout == "cf" and len(texts) >= 2 else ""
        lines.append(f"Input: {_shape_text(texts, layout)}{where}.")
        if any("?" in self._comment(index, variant.calls) for index in range(len(scope.slots))):
            lines.append("A size shown as ? differs between the calls or is unknown until run time.")
        others = self.variants[variant.key]
        if len(others) > 1:
            calls = [call.group.name for call in variant.calls]
            shown = ", ".join(calls[:6]) + (f" and {len(calls) - 6} more" if len(calls) > 6 else "")
            lines += ["", *textwrap.wrap(f"The calls of {variant.calls[0].group.block} differ in structure (a layer "
                                         f"or an option depends on the arguments): one class per structure, this "
                                         f"one for {shown}.", 96)]
        return docstring(*lines)

    # -- one model ---------------------------------------------------------------------
    def model(self, model: ir.Model, prefix: bool) -> ModelExport:
        ids = self.check_model(model)
        self.prefix = camel(model.name) if prefix else ""
        shape = known(model.input_shape)
        rank = len(shape)
        layout = self._input_layout(model)
        class_name = self.class_names.take(camel(model.name))
        export = ModelExport(model.name, class_name, layout, "long" if ids else "float",
                             layout_shape(shape, layout))
        self.export = export
        scope = _Scope(class_name, model.root, [])
        entry = _Tensor("x", layout, rank, -1, shape)
        scope.tensors[-1] = entry
        with self._inside(_Place(scope, scope.root, "self", ())):
            out = self.walk(model.root.children, entry, "x")
        scope.forward.line(f"return {out.var}")
        scope.doc = self._model_doc(model, export, out)
        self.classes.append(("model", scope, ClassCall(model.root, scope.slots, shape)))
        return export

    def _input_layout(self, model: ir.Model) -> str:
        """The layout the first layer that shows one wants ("cf" when none does)."""
        if len(model.input_shape) < 2:
            return "cl"
        for node in model.layers:
            kind = kind_of(node)
            need = _NEEDS[kind.layout] if kind.shows_input_layout else None
            if need:
                return need
        return "cf"

    def _model_doc(self, model: ir.Model, export: ModelExport, out: _Tensor) -> str:
        totals = self.totals(model)
        shape = known(model.input_shape)
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
        lines.append(f"Parameters: {totals.params:,} as nnc counts them (--convention {self.convention}); "
                     f"{self.macs_text(totals, per_step)}.")
        return docstring(*lines)

    # -- statements (Emitter.walk calls these) ---------------------------------------------
    @contextmanager
    def _inside(self, place: _Place):
        """Writes into `place` until the block ends."""
        outer, self.place = self.place, place
        try:
            yield place
        finally:
            self.place = outer

    @property
    def variables(self) -> Names:
        return self.place.scope.vars

    def write(self, text: str) -> None:
        self.place.scope.forward.line(text)

    def _shape(self, shape, layout: str) -> str:
        """A shape comment of the class being written, filled in once all its calls are known."""
        slots = self.place.scope.slots
        slots.append((tuple(shape), layout, []))
        return slot(len(slots) - 1)

    def _module_dict(self, group: ir.Group):
        """The modules of a branch or labelled group: an nn.ModuleDict attribute named after it."""
        place = self.place
        attr = place.container.names.take(self.name_of(group))
        inner = _Container()
        place.container.entries.append((attr, inner, ""))
        return self._inside(_Place(place.scope, inner, f"{place.module}.{attr}", place.path + (attr,)))

    def branch(self, branch: ir.Group):
        return self._module_dict(branch)

    def labelled(self, group: ir.Group, cur: _Tensor, dst: str) -> _Tensor:
        """A labelled concat, add or repeat: its modules in a ModuleDict (a labelled repeat whose
        count a block's parameter gives: a loop, its ModuleList named after it)."""
        name = self.name_of(group)
        if group.kind == "repeat":
            with self.nested(top=True):
                found = self.loops(group.children).get(0)
                if found is not None and found.end == len(group.children):
                    result = self.loop(found, cur, dst, name)
                    if result is not None:
                        return result
        with self._module_dict(group), self.nested():
            self.write(comment(f"{name} ({group.kind})"))
            return self.walk(group.children, cur, dst)

    def loop(self, loop, cur: _Tensor, dst: str, wanted: str = "repeat") -> Optional[_Tensor]:
        """The iterations of a repeat whose count is a parameter, as a loop: a ModuleList of one
        ModuleDict per iteration, built in a loop that carries the channels from one iteration to
        the next, and a forward looping over it; None (nothing written) when the iterations do not
        write the same code, or the repeat is inside a branch (whose modules are one expression)."""
        place = self.place
        scope = place.scope
        if place.container is not scope.root or not loop.iterations:
            return None
        channels = self.extra_param(self.definition_now, "channels" if cur.rank >= 2 else "features")
        attr = place.container.names.peek(wanted)
        step = scope.vars.take("step")
        saved = scope.forward, scope.slots, scope.tensors.get(cur.index)
        texts, made = [], []
        tensor = cur
        try:
            with recording() as used, self.looping_over(loop):
                for number, children in enumerate(loop.iterations):
                    shape = tuple(tensor.shape)
                    if shape and is_int(shape[-1]):
                        shape = (*shape[:-1], ParamInt(int(shape[-1]), ("name", channels)))
                    entry = _Tensor(tensor.var, tensor.layout, tensor.rank, tensor.index, shape)
                    scope.tensors[tensor.index] = entry
                    scope.forward, scope.slots = Code(), []
                    container = _Container()
                    with self._inside(_Place(scope, container, step, place.path + (attr, str(number)))):
                        out = self.walk(children, entry, dst)
                    modules = Code()
                    self._entry(modules, "", container, "")
                    update = py(out.shape[-1]) if out.shape and is_int(out.shape[-1]) else ""
                    texts.append("\n".join([*modules.lines, "", *scope.forward.lines, "", update, out.layout]))
                    made.append((container, scope.forward, scope.slots, out, update))
                    tensor = out
        finally:
            scope.forward, scope.slots = saved[0], saved[1]
            scope.vars.used.discard(step)
        if any(text != texts[0] for text in texts):
            if saved[2] is not None:
                scope.tensors[cur.index] = saved[2]
            return None
        container, forward, slots, out, update = made[0]
        last = made[-1][3]
        carried = channels in used or (isinstance(last.shape[-1], ParamInt) and channels in last.shape[-1].names)
        record(used - {channels})
        place.container.names.take(attr)
        init = py(cur.shape[-1]) if carried else ""
        place.container.entries.append((attr, _LoopEntry(py(loop.count), container, channels, init, update), ""))
        numbers = {}
        for index, (shape, layout, more) in enumerate(slots):
            numbers[index] = len(scope.slots)
            scope.slots.append((shape, layout, [*more, *(iteration[2][index][0] for iteration in made[1:])]))
        scope.vars.take(step)
        self.write(f"for {step} in {place.module}.{attr}:")
        for line in forward.lines:
            self.write("    " + renumber_slots(line, numbers))
        scope.vars.used.discard(step)
        shape = last.shape  # after the loop: the channels of its last iteration (the variable, if they depend on it)
        if isinstance(shape[-1] if shape else None, ParamInt) and channels in shape[-1].names:
            shape = (*shape[:-1], ParamInt(int(shape[-1]), ("name", channels)))
        result = _Tensor(last.var, last.layout, last.rank, last.index, shape)
        scope.tensors[last.index] = result
        return result

    def block(self, group: ir.Group, cur: _Tensor, dst: str) -> _Tensor:
        """A block call: the class of its definition, built with the call's arguments."""
        place = self.place
        attr = place.container.names.take(self.name_of(group))
        statement = self.statement(group)
        found = self.definition(group)
        inner = _Scope("", group, [])
        path = place.path + (attr,)
        if found is None:  # the definition is unknown: a class of this call alone, named after it
            entry = _Tensor("x", cur.layout, cur.rank, cur.index, plain(cur.shape))
            inner.tensors[cur.index] = entry
            inner.slots.append((entry.shape, cur.layout, []))
            inner.doc = docstring(f"{group.name}: block {group.block}" + (f", `{statement}`" if statement else "")
                                  + ".")
            with self.inside_class(group, {}), self._inside(_Place(inner, inner.root, "self", path)):
                out = self.walk(group.children, entry, "x")
            arguments, mapping, uses_input, key = [], {}, False, ("call", id(group))
        else:
            block, stmt = found
            bound, env, written = self.call_binding(block, stmt)
            in_name = self.extra_param(block, "in_channels" if cur.rank >= 2 else "in_features")
            channels = cur.shape[-1] if cur.shape else None
            shape = tuple(cur.shape)
            if is_int(channels):
                shape = (*shape[:-1], ParamInt(int(channels), ("name", in_name)))
            entry = _Tensor("x", cur.layout, cur.rank, cur.index, shape)
            inner.tensors[cur.index] = entry
            inner.slots.append((shape, cur.layout, []))  # the input, for the docstring
            with recording() as used, self.inside_class(group, env, block), \
                    self._inside(_Place(inner, inner.root, "self", path)):
                out = self.walk(group.children, entry, "x")
            uses_input = in_name in used
            if not uses_input:  # the docstring shows the input's channels as numbers
                inner.slots[0] = (plain(shape), cur.layout, [])
            inner.signature, inner.defaults = self.signature(block, [in_name] if uses_input else [])
            arguments = ([py(channels)] if uses_input else []) + written
            params = self.class_params(block).params
            mapping = {params[name]: value for name, value in bound.items()}
            mapping[in_name] = channels
            key = block.name
        inner.forward.line(f"return {out.var}")
        text = "\n".join(self._class(inner, "_", []))
        variant = self.register(key, text, ClassCall(group, inner.slots, plain(cur.shape)))
        if variant.scope is None:  # a new class
            variant.scope = inner
            if found is None:
                variant.base = self.prefix + camel(group.name)
            else:
                variant.base, variant.header = camel(found[0].name), self.header(found[0], group)
            self.classes.append(("block", variant))
        place.container.entries.append((attr, f"{variant.placeholder}({', '.join(arguments)})", statement))
        shape = self.call_output(plain(out.shape), out.shape, mapping)
        self.write(f"{dst} = {place.module}.{attr}({cur.var})  # " + self._shape(shape, out.layout))
        result = _Tensor(dst, out.layout, out.rank, out.index, shape)
        place.scope.tensors[out.index] = result
        return result

    def joined(self, node: ir.LayerNode, outputs: list, dst: str) -> _Tensor:
        # every branch in the layout of the first one that has channels
        layout = next((o.layout for o in outputs if o.rank >= 2), "cf")
        args = []
        for out in outputs:
            if out.rank >= 2 and out.layout != layout:
                args.append(f"{out.var}.permute({_permute(out.rank, layout)})")
            else:
                args.append(out.var)
            lift = len(node.output_shape) - out.rank  # a broadcast branch with fewer axes: size-1 axes before
            if lift > 0:  # its own (after the channels when channels-first), as NumPy lines them up
                args[-1] += ("[:, :" if layout == "cf" else "[:") + ", None" * lift + "]"
        place = self.place
        attr = place.container.names.take(self.name_of(node))
        place.container.entries.append((attr, self.kind_method(node)(node, node.args, layout), ""))
        shape = self.joined_shape(node, [out.shape for out in outputs])
        self.write(f"{dst} = {place.module}.{attr}({', '.join(args)})  # " + self._shape(shape, layout))
        return self._produced(node, attr, dst, layout, shape)

    def _produced(self, node: ir.LayerNode, attr: str, dst: str, layout: str, shape: tuple) -> _Tensor:
        """Records the module that computes `node` and the tensor it leaves in `dst`."""
        place = self.place
        self.export.modules[node.index] = ".".join(place.path + (attr,))
        self.export.layouts[node.index] = layout
        result = _Tensor(dst, layout, len(node.output_shape), node.index, tuple(shape))
        place.scope.tensors[node.index] = result
        return result

    def layer(self, node: ir.LayerNode, cur: _Tensor, dst: str) -> _Tensor:
        place = self.place
        src = place.scope.tensors.get(node.inputs[0], cur)
        kind = kind_of(node)
        attr = place.container.names.take(self.name_of(node))
        node, shape = self.symbolic(node, src.shape)  # as the class sees it: the block's parameters put in
        spec = self.kind_method(node)(node, node.args, src.layout)
        need = _NEEDS[kind.layout]
        place.container.entries.append((attr, spec.ctor, ""))
        var = src.var
        layout = src.layout
        if need and src.rank >= 2 and src.layout != need:
            where = "channels-first" if need == "cf" else "channels-last"
            self.write(f"{dst} = {var}.permute({_permute(src.rank, need)})  "
                       + comment(f"to {where} ") + self._shape(src.shape, need))
            var, layout = dst, need
        if spec.pads:
            self.write(f"{dst} = F.pad({var}, {py(spec.pads)})  " + comment(spec.pad_note))
            var = dst
        ids = kind.takes_ids and not (src.index == -1 and self.export.input_dtype == "long")
        argument = f"{var}.long()" if ids else var
        expression = f"{place.module}.{attr}({argument})"
        out_layout = spec.out or need or layout
        word = activation_of(node)
        if word and spec.activation:
            expression = self._apply_activation(word, expression, out_layout, len(node.output_shape))
        note = f"; {spec.note}" if spec.note else ""
        self.write(f"{dst} = {expression}  # " + self._shape(shape, out_layout) + escape(note))
        return self._produced(node, attr, dst, out_layout, shape)

    def _apply_activation(self, word: str, expression: str, layout: str, rank: int) -> str:
        dim = 1 if layout == "cf" and rank >= 2 else -1
        if word in ("softmax", "log_softmax"):
            return f"F.{word}({expression}, dim={dim})"
        return _FUNCTIONS[word].format(expression)

    # -- one layer as a module: a method per kind (LayerKind.export_as) ---------------------
    def _conv_padding(self, node: ir.LayerNode):
        """(padding argument, F.pad amounts or None, note) of a convolution."""
        pad = node.args["pad"]
        if pad == "valid":
            return None, None, ""
        if pad != "same":
            return (None if dims(pad) == 0 else dims(pad)), None, ""
        pads = window_pads(node, self.framework)
        if all(before == after for before, after in pads):
            padding = dims(tuple(before for before, _ in pads))
            return (None if padding == 0 else padding), None, ""
        return None, _flat_pads(pads), ("'same' padding as Keras pads it (before/after per axis: "
                                        + ", ".join(f"{b}/{a}" for b, a in pads) + ")")

    def _convolution(self, node, a, cls: str, cin: int, cout: int, groups: int) -> _Spec:
        window = node.window
        padding, pads, note = self._conv_padding(node)
        stride, dilation = dims(window.stride), dims(window.dilation)
        ctor = call(cls, cin, cout, kernel_size=dims(window.kernel), stride=None if stride == 1 else stride,
                    padding=padding, dilation=None if dilation == 1 else dilation,
                    groups=None if groups == 1 else groups, bias=flag(a["bias"]))
        return _Spec(ctor, pads=pads, pad_note=note)

    def _k_conv(self, node, a, layout):
        return self._convolution(node, a, f"nn.{kind_of(node).torch_class}", node.input_shape[-1], a["filters"],
                                 a["groups"])

    def _k_depthwise2d(self, node, a, layout):
        cin = node.input_shape[-1]
        return self._convolution(node, a, f"nn.{kind_of(node).torch_class}", cin, cin * a["multiplier"], cin)

    def _k_separable2d(self, node, a, layout):
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        window = node.window
        padding, pads, note = self._conv_padding(node)
        stride, dilation = dims(window.stride), dims(window.dilation)
        ctor = call(cls, node.input_shape[-1], a["filters"], dims(window.kernel),
                    stride=None if stride == 1 else stride, padding=padding,
                    dilation=None if dilation == 1 else dilation,
                    depth_multiplier=None if a["multiplier"] == 1 else a["multiplier"],
                    bias=flag(a["bias"]))
        return _Spec(ctor, pads=pads, pad_note=note)

    def _k_conv2d_transpose(self, node, a, layout):
        cls = f"nn.{kind_of(node).torch_class}"
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
                raise self.unsupported(node, f"{cls} would need output_padding={extra[-1]}, but PyTorch requires it "
                                             f"to be smaller than the stride {a['s'][axis]}")
        stride = dims(a["s"])
        ctor = call(cls, node.input_shape[-1], a["filters"], kernel_size=dims(a["k"]),
                    stride=None if stride == 1 else stride,
                    padding=None if dims(tuple(padding)) == 0 else dims(tuple(padding)),
                    output_padding=None if dims(tuple(extra)) == 0 else dims(tuple(extra)),
                    bias=flag(a["bias"]))
        if any(crop):
            # Keras' 'same' with an odd k - s: the extra row (column) is cropped at the end only
            ctor = f"nn.Sequential({ctor}, nn.ZeroPad2d({py((0, -crop[1], 0, -crop[0]))}))"
            return _Spec(ctor, note="Keras' 'same': the last row/column cropped")
        return _Spec(ctor)

    def _k_pool(self, node, a, layout):
        kind, window = kind_of(node), node.window
        cls = f"nn.{kind.torch_class}"
        size = dims(window.kernel)
        stride_arg = None if window.stride == window.kernel else dims(window.stride)
        pad = a["pad"]
        ceil = True if a["ceil"] else None
        if pad == "same":
            pads = window_pads(node, self.framework)
            ceil = True if window.ceil_rounds_up else None
            symmetric = all(b == e for b, e in pads) and all(2 * b <= k for (b, _), k in zip(pads, window.kernel))
            if ceil and not symmetric:
                raise self.unsupported(node, "pad=same with ceil=true where the padding is uneven",
                                       "PyTorch's ceil_mode counts windows from the unpadded input")
            if all(b == 0 and e == 0 for b, e in pads):
                return _Spec(call(cls, size, stride=stride_arg, ceil_mode=ceil))
            if symmetric:
                padding = dims(tuple(b for b, _ in pads))
                extra = {"count_include_pad": False} if kind.op == "avg" else {}
                return _Spec(call(cls, size, stride=stride_arg, padding=padding, ceil_mode=ceil, **extra))
            self.helpers.add("SamePool")
            return _Spec(call("SamePool", Raw(call(cls, size, stride=stride_arg)), _flat_pads(pads)))
        padding = None if pad == "valid" or dims(pad) == 0 else dims(pad)
        return _Spec(call(cls, size, stride=stride_arg, padding=padding, ceil_mode=ceil))

    def _k_global_pool(self, node, a, layout):
        pool = f"nn.{kind_of(node).torch_class}(1)"
        if a["keepdims"]:
            return _Spec(pool)
        return _Spec(f"nn.Sequential({pool}, nn.Flatten())", out="cl")

    def _k_upsample2d(self, node, a, layout):
        mode = a["interpolation"]
        return _Spec(call(f"nn.{kind_of(node).torch_class}", scale_factor=dims(a["factor"]), mode=mode))

    def _k_zeropad2d(self, node, a, layout):
        top, bottom, left, right = a["padding"]
        value = (left, right, top, bottom)
        return _Spec(call(f"nn.{kind_of(node).torch_class}", dims(value)))

    def _k_flatten(self, node, a, layout):
        return _Spec(call(f"nn.{kind_of(node).torch_class}"))

    def _k_reshape(self, node, a, layout):
        target = node.output_shape if None not in node.output_shape else a["target"]
        if None in target:
            raise self.unsupported(node, f"a reshape to a shape with an unknown size ({target})")
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        return _Spec(call(cls, *target))

    def _k_dense(self, node, a, layout):
        return _Spec(call(f"nn.{kind_of(node).torch_class}", node.input_shape[-1], a["units"],
                          bias=flag(a["bias"])))

    def _k_dropout(self, node, a, layout):
        return _Spec(call(f"nn.{kind_of(node).torch_class}", a["rate"]))

    def _k_batchnorm(self, node, a, layout):
        rank = len(node.input_shape)
        if rank > 4:
            raise self.unsupported(node, f"batch norm over a {rank}-D input (PyTorch has BatchNorm1d/2d/3d)")
        if bool(a["scale"]) != bool(a["center"]):
            raise self.unsupported(node, "scale and center differ: PyTorch's batch norm learns both or neither "
                                         "(affine)")
        cls = f"nn.{kind_of(node).torch_class}{max(rank - 1, 1)}d"  # the axes after the channels; 1 for none
        # Keras' epsilon and momentum (PyTorch's defaults are 1e-5 and 0.1): the .nn meaning follows Keras
        return _Spec(call(cls, node.input_shape[-1], eps=0.001, momentum=0.01, affine=flag(a["scale"])))

    def _k_layernorm(self, node, a, layout):
        if a["center"] and not a["scale"]:
            raise self.unsupported(node, "center=true with scale=false: nn.LayerNorm has no offset without a scale")
        ctor = call(f"nn.{kind_of(node).torch_class}", node.input_shape[-1], eps=0.001,
                    elementwise_affine=None if a["scale"] else False,
                    bias=None if a["center"] or not a["scale"] else False)
        return _Spec(ctor)

    def _k_groupnorm(self, node, a, layout):
        # Keras' epsilon (PyTorch's default is 1e-5): the .nn meaning follows Keras
        return _Spec(call(f"nn.{kind_of(node).torch_class}", a["groups"], node.input_shape[-1], eps=0.001))

    def _k_rmsnorm(self, node, a, layout):
        # Keras' RMSNormalization epsilon (PyTorch's default is the dtype's machine epsilon)
        return _Spec(call(f"nn.{kind_of(node).torch_class}", node.input_shape[-1], eps=1e-6))

    def _k_layerscale(self, node, a, layout):
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        return _Spec(call(cls, node.input_shape[-1]))

    def _k_droppath(self, node, a, layout):
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        return _Spec(call(cls, a["rate"]))

    def _k_normalization(self, node, a, layout):
        raise self.unsupported(node, "Keras' Normalization has no PyTorch layer",
                               "its mean and variance come from Keras' adapt() on the training data; "
                               "PyTorch code normalizes its inputs before the model")

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
        return _Spec(self._activation_module(kind_of(node).activation_function(a), layout, len(node.input_shape)))

    def _k_embedding(self, node, a, layout):
        return _Spec(call(f"nn.{kind_of(node).torch_class}", a["vocab"], a["dim"]))

    def _k_attention(self, node, a, layout):
        d = node.input_shape[-1]
        heads = a["heads"]
        misfits = []
        if a["head_dim"] is not None and int(a["head_dim"]) * int(heads) != int(d):
            misfits.append(f"head_dim={a['head_dim']} is not the width {d} over heads={heads}")
        if a["kv_heads"] is not None and int(a["kv_heads"]) != int(heads):
            misfits.append(f"kv_heads={a['kv_heads']} is not heads={heads} (grouped-query attention)")
        if a["out"] is not None and int(a["out"]) != int(d):
            misfits.append(f"out={a['out']} is not the input's width {d}")
        if misfits:
            raise self.unsupported(node, "nn.MultiheadAttention cannot express " + "; ".join(misfits),
                                   "its heads split the width d, its keys and values have as many heads as its "
                                   "queries, and its output is d wide")
        self.helpers.add("SelfAttention")
        attention = call(f"nn.{kind_of(node).torch_class}", d, heads, dropout=a["dropout"] or None,
                         bias=flag(a["bias"]), batch_first=True)
        return _Spec(call("SelfAttention", Raw(attention), causal=True if a["causal"] else None))

    def _k_recurrent(self, node, a, layout):
        torch_class = kind_of(node).torch_class
        cls = f"nn.{torch_class}"
        word = node.activation or "tanh"
        keywords = {}
        if torch_class == "RNN":  # nn.RNN alone takes another nonlinearity
            if word not in ("tanh", "relu"):
                raise self.unsupported(node, f"activation {word}: {cls} has tanh or relu only")
            if word == "relu":
                keywords["nonlinearity"] = "relu"
        elif word != "tanh":
            raise self.unsupported(node, f"activation {word}: {cls} always uses tanh")
        if not a.get("reset_after", True):
            raise self.unsupported(node, "reset_after=false: PyTorch's nn.GRU applies the reset gate after the "
                                         "recurrent product (reset_after=true) only")
        self.helpers.add("Recurrent")
        rnn = call(cls, node.input_shape[-1], a["units"], batch_first=True,
                   bias=flag(a["bias"]), bidirectional=True if a["bidirectional"] else None,
                   **keywords)
        ctor = call("Recurrent", Raw(rnn), return_sequences=True if a["return_sequences"] else None)
        return _Spec(ctor, activation=False)

    # the joins: `joined` has put their branches in one layout
    def _k_concat(self, node, a, layout) -> str:
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        dim = 1 if layout == "cf" or len(node.output_shape) < 2 else -1
        return f"{cls}(dim={dim})"

    def _k_add(self, node, a, layout) -> str:
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        return f"{cls}()"

    _k_multiply = _k_add

    # slicing along an axis: nnc's axis (batch left out, channels last) as the tensor holds it
    def _k_slice(self, node, a, layout) -> _Spec:
        rank = len(node.input_shape)
        axis = a["axis"] % rank
        dim = axis + 1 if layout != "cf" or rank < 2 else 1 if axis == rank - 1 else axis + 2
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        step = a["step"]
        return _Spec(call(cls, dim, start=a["start"] or None, stop=a["stop"], step=None if step == 1 else step))

    def _k_select(self, node, a, layout) -> _Spec:  # channels-last (LayerKind.layout)
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        return _Spec(call(cls, a["axis"] % len(node.input_shape) + 1, index=a["index"] or None))

    # learned tensors added to a sequence: channels-last (LayerKind.layout), (N, T, d)
    def _k_class_token(self, node, a, layout) -> _Spec:
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        return _Spec(call(cls, node.input_shape[-1]))

    def _k_position_embedding(self, node, a, layout) -> _Spec:
        cls = kind_of(node).torch_class
        self.helpers.add(cls)
        return _Spec(call(cls, a["max_len"], node.input_shape[-1]))


def _flat_pads(pads) -> tuple:
    """Padding (before, after) per axis as F.pad takes it: the last axis first."""
    flat = []
    for before, after in reversed(pads):
        flat.extend((before, after))
    return tuple(flat)


def _nn_shape(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def export(program: ir.Program, names: Optional[list] = None, *, source_lines: Optional[list] = None,
           file_name: str = "", tree=None) -> Export:
    """PyTorch code for the models of `program` (all of them, or those named); raises ExportError.
    The docstrings quote the parameters as PyTorch counts them, in whatever convention `program`
    was compiled. The block definitions come from `tree` (the file's syntax tree), else from
    parsing `source_lines`; without either, every block call is a class of its own."""
    return export_with(PyTorchEmitter, program, names, source_lines=source_lines, file_name=file_name, tree=tree)
