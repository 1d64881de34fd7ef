"""Report facts: rows, totals, operation counts, memory figures and comparisons, computed once in
one object (`Report.of(program, options)`, a `ModelReport` per model). No formatting here: every
back end in :mod:`nnlang.emit` formats the same object."""

from __future__ import annotations

import enum
import re
from functools import cached_property
from typing import NamedTuple, Optional, Union

import attrs

from . import ir, present
from .choices import DTYPE_BYTES, OPTIMIZER_STATE, UNIT_STEPS, UNITS
from .formula import is_sum, is_sym
from .layers import kind_of
from .layers.base import fmt_shape, fmt_sizes
from .source import Source


@attrs.frozen
class Options:
    convention: str = "keras"
    dtype: str = "float32"
    units: str = "si"
    batch: Optional[int] = None
    depth: Optional[int] = None
    explain: bool = False
    ops: str = "macs"
    optimizer: str = "adam"
    memory: bool = False
    columns: Optional[tuple] = None  # Column members; None for the default set

    @property
    def batch_size(self) -> int:
        return self.batch or 1


def plus(*values) -> Optional[int]:
    """The sum, or None (unknown) when a part is unknown."""
    return None if None in values else sum(values)


class Counts(NamedTuple):
    """Parameters and operation counts of one layer, or summed over a group or the model. An
    operation count is None (unknown) when it depends on a size unknown until run time; the
    parameters never are."""

    trainable: int = 0
    non_trainable: int = 0
    macs: Optional[int] = 0
    pool_ops: Optional[int] = 0
    bias_adds: Optional[int] = 0
    activation_ops: Optional[int] = 0
    layers: int = 0

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def flops(self) -> Optional[int]:
        """2 per multiply-accumulate."""
        return None if self.macs is None else 2 * self.macs

    @property
    def flops_all(self) -> Optional[int]:
        """FLOPs with the bias additions, the activations and the pooling operations."""
        flops = self.flops
        return plus(flops, self.bias_adds, self.activation_ops, self.pool_ops)

    def ops(self, kind: str) -> Optional[int]:
        """The operation count `--ops` names: macs, flops or flops-all."""
        if kind == "macs":
            return self.macs
        return self.flops if kind == "flops" else self.flops_all


class Row(NamedTuple):
    """One line of a summary table: a layer, or a block/branch with its totals."""

    depth: int
    name: str
    type: str
    output_shape: Optional[tuple]
    counts: Counts
    kernel: str = ""
    stride: str = ""
    padding: str = ""
    activation: str = ""
    layer: Optional[ir.LayerNode] = None
    group: Optional[ir.Group] = None
    collapsed: bool = False
    call: str = ""  # a folded block call's text as written (`basic(64, 2)`); '' when unknown

    # the counts, under the keys the columns name
    params = property(lambda self: self.counts.params)
    trainable = property(lambda self: self.counts.trainable)
    non_trainable = property(lambda self: self.counts.non_trainable)
    macs = property(lambda self: self.counts.macs)
    pool_ops = property(lambda self: self.counts.pool_ops)

    def ops(self, kind: str) -> Optional[int]:
        return self.counts.ops(kind)

    @property
    def is_group(self) -> bool:
        return self.group is not None


class Column(enum.Enum):
    """The columns a table can show (`--columns`); DEFAULT_COLUMNS is the usual set and order."""

    LAYER = ("layer", "Layer (type)", False)
    OUTPUT = ("output", "Output Shape", False)
    PARAMS = ("params", "Param #", True)
    TRAINABLE = ("trainable", "Trainable", True)
    NON_TRAINABLE = ("non_trainable", "Non-trainable", True)
    KERNEL = ("kernel", "Kernel", False)
    STRIDE = ("stride", "Stride", False)
    PADDING = ("padding", "Padding", False)
    MACS = ("macs", "MACs", True)
    FLOPS = ("flops", "FLOPs", True)
    POOL_OPS = ("pool_ops", "Pool ops", True)
    MEMORY = ("memory", "Output memory", True)

    def __init__(self, key: str, title: str, numeric: bool):
        self.key = key
        self.title = title
        self.numeric = numeric

    @classmethod
    def parse(cls, text: str) -> tuple:
        """`layer,output,params` -> columns; ValueError naming a wrong one."""
        by_key = {c.key: c for c in cls}
        picked = []
        for key in (k.strip().lower().replace("-", "_") for k in text.split(",") if k.strip()):
            if key not in by_key:
                raise ValueError(f"unknown column '{key}'; columns: {', '.join(by_key)}")
            picked.append(by_key[key])
        return tuple(picked)


DEFAULT_COLUMNS = (Column.LAYER, Column.OUTPUT, Column.PARAMS, Column.KERNEL, Column.STRIDE, Column.PADDING,
                   Column.MACS)


def columns_for(options: Options) -> tuple:
    """The columns to show: the user's, or the default with MACs replaced by the chosen operation count."""
    if options.columns:
        return options.columns
    if options.ops != "macs":
        return tuple(Column.FLOPS if c is Column.MACS else c for c in DEFAULT_COLUMNS)
    return DEFAULT_COLUMNS


def ops_title(kind: str) -> str:
    return {"macs": "MACs", "flops": "FLOPs (2 x MACs)",
            "flops-all": "FLOPs (2 x MACs + bias adds + activations + pooling)"}[kind]


def elements(shape: Optional[tuple]) -> Optional[int]:
    """Values in one sample of a tensor; None when a dimension is unknown."""
    if shape is None or None in shape:
        return None
    count = 1
    for dim in shape:
        count *= dim
    return count


def elementwise_ops(layer: ir.LayerNode) -> tuple[Optional[int], Optional[int]]:
    """(bias additions, activation operations) of the layer: one per output value each, when it
    adds a bias, and when it applies an activation: the word after it (`dense 10 softmax`) or its
    kind's own function (`activation tanh`); None (unknown) when a size of the output is unknown
    until run time."""
    kind = kind_of(layer)
    own = kind.elementwise_ops(layer.args, layer.input_shape) if layer.output_shape is not None else None
    if own is not None:  # the kind counts its own (attention: its projections' biases, its softmax)
        adds, ops = own
        if layer.activation:
            values = elements(layer.output_shape)
            ops = None if values is None or ops is None else ops + values
        return adds, ops
    adds_bias = kind.adds_bias(layer.args)
    activated = layer.activation or kind.activation_function(layer.args)
    if not (adds_bias or activated):
        return 0, 0
    if layer.output_shape is None:  # an error upstream
        return 0, 0
    values = elements(layer.output_shape)
    return (values if adds_bias else 0), (values if activated else 0)


def layer_counts(layer: ir.LayerNode, convention: Optional[str] = None) -> Counts:
    """The layer's parameters (as `convention` counts them; None: the compilation's convention) and operations."""
    trainable, non_trainable = layer.counts(convention)
    return Counts(trainable.value, non_trainable.value, layer.macs.value, layer.pool_ops.value,
                  *elementwise_ops(layer), 1)


def group_type(group: ir.Group) -> str:
    return group.block if group.kind == "block" else group.kind


class Amount(NamedTuple):
    """A number of bytes in the unit that fits it (`fitted`)."""

    bytes: int
    value: float  # bytes / divisor
    unit: str  # B, kB, MB, ... or B, KiB, MiB, ...
    divisor: str  # 10^3, 2^20, ...; '' for bytes

    def text(self) -> str:
        """148 B, 2.47 kB, 6.89 GB, 1,023 B, 5.23 MiB."""
        if type(self.bytes) is not int:  # an expression of named sizes (one of which may be B)
            return f"{self.bytes:,} bytes"
        return f"{self.bytes:,} B" if not self.divisor else f"{self.value:,.2f} {self.unit}"


def fitted(count: int, units: str) -> Amount:
    """`count` bytes in the largest unit of `units` (si: kB, MB, GB, TB, PB = 10^3, 10^6, ...;
    iec: KiB, MiB, GiB, TiB, PiB = 2^10, 2^20, ...) not larger than `count`, or the next one when
    the figure would round up to a whole step (999,999 B: 1.00 MB, not 1,000.00 kB); bytes below
    the first unit."""
    step, names = UNIT_STEPS[units]
    if is_sym(count):  # an expression of named sizes: in bytes
        return Amount(count, count, names[0], "")
    power = 0
    while power + 1 < len(names) and count >= step ** (power + 1):
        power += 1
    if 0 < power < len(names) - 1 and round(count / step ** power, 2) >= step:
        power += 1
    if power == 0:
        return Amount(count, float(count), names[0], "")
    base, exponent = (10, 3 * power) if step == 1000 else (2, 10 * power)
    return Amount(count, count / step ** power, names[power], f"{base}^{exponent}")


def amount_text(count: Optional[int], units: str) -> str:
    """`count` bytes in the unit that fits (`fitted`); 'unknown' for None."""
    return "unknown" if count is None else fitted(count, units).text()


@attrs.frozen
class Memory:
    """Bytes of the parameters for a dtype, shown in the unit that fits."""

    params: int
    dtype: str
    units: str

    @property
    def bytes(self) -> int:
        return self.params * DTYPE_BYTES[self.dtype]

    @property
    def scaled(self) -> float:
        """The bytes in megabytes of the unit system (MB or MiB)."""
        return self.bytes / UNITS[self.units][0]

    @property
    def unit(self) -> str:
        """The unit system's megabyte (MB or MiB), as the JSON report names the units."""
        return UNITS[self.units][1]

    def text(self) -> str:
        return fitted(self.bytes, self.units).text()

    def worked(self) -> str:
        amount = fitted(self.bytes, self.units)
        head = f"{self.params:,} x {DTYPE_BYTES[self.dtype]} bytes ({self.dtype}) = {self.bytes:,} bytes"
        return head if not amount.divisor else f"{head} = {self.bytes:,} / {amount.divisor} = {amount.text()}"


class MemoryLine(NamedTuple):
    label: str
    values: Optional[int]  # number of values, None when unknown
    bytes: Optional[int]
    how: str  # the arithmetic, in words and numbers


class MemoryReport(NamedTuple):
    """Parameter, activation, inference and training memory, itemised."""

    dtype: str
    units: str
    batch: int
    optimizer: str
    params: MemoryLine
    input: MemoryLine
    activations: MemoryLine  # every layer output of one sample
    inference_peak: MemoryLine  # largest input+output pair alive at once, times the batch
    peak_layer: str
    peak_plus_params: MemoryLine  # the inference peak and the parameters
    every_activation_kept: MemoryLine  # inference keeping the input and every layer output, and the parameters
    training: tuple  # MemoryLine: parameters, gradients, optimizer state, input and activations, total
    #: where which layer holds the inference peak depends on the named sizes: (layer, values of one
    #: sample) of each layer that may, the peak being the largest of them; () otherwise
    peak_candidates: tuple = ()

    def scaled(self, count: Optional[int]) -> str:
        """`count` bytes in the unit that fits; 'unknown' for None."""
        return amount_text(count, self.units)


def _n(value) -> str:
    """A number in a worked line: 2,250,000; a named size's expression in parentheses, (T + 50)."""
    text = f"{value:,}"
    return f"({text})" if type(value) is not int and is_sum(text) else text


#: The candidates an undecided inference peak names at most.
_SHOWN_PEAKS = 4


def _peak(model: ir.Model, input_values) -> tuple:
    """(values, layer, why unknown, candidates) of the inference peak: the largest input+output
    pair of a layer. Over named sizes, the largest for every value of them; where which layer
    that is depends on the values, the peak is unknown (None), `why` names the candidates and
    `candidates` holds them, (layer, values) each."""
    peak, peak_layer = None, ""
    candidates: list = []  # (values, layer) not below another for every value of the sizes
    # sample values of the sizes: where a is below b at one of them, a is not at least b for all
    # of them, and the exact (slower) test is not needed
    points = [dict.fromkeys(model.sizes, value) for value in (1000, 97, 13)]

    def at_least(a, b) -> bool:
        """a >= b for every value of the sizes."""
        difference = a - b
        if type(difference) is int:
            return difference >= 0
        from . import symbolic

        if any(symbolic.evaluate(difference, point) < 0 for point in points):
            return False
        return bool(symbolic.is_positive(difference + 1))

    values_of = {-1: input_values}
    for node in model.layers:
        values_of[node.index] = elements(node.output_shape)
        if kind_of(node).view:
            continue
        pair = [values_of.get(i) for i in node.inputs] + [values_of[node.index]]
        if None in pair:
            return None, "unknown", "a dimension is unknown", ()
        values = sum(pair)
        if type(values) is int and not candidates:
            if peak is None or values > peak:
                peak, peak_layer = values, node.name
            continue
        if not candidates and peak is not None:
            candidates.append((peak, peak_layer))
        if any(at_least(other, values) for other, _ in candidates):
            continue  # never above one already found
        candidates = [(other, layer) for other, layer in candidates if not at_least(values, other)]
        candidates.append((values, node.name))
    if len(candidates) > 1:
        shown = ", ".join(f"{layer} {_n(values)}" for values, layer in candidates[:_SHOWN_PEAKS])
        more = f" and {len(candidates) - _SHOWN_PEAKS} more" if len(candidates) > _SHOWN_PEAKS else ""
        return (None, "", f"the largest of {shown}{more} values x batch, by the sizes",
                tuple((layer, values) for values, layer in candidates))
    if candidates:
        peak, peak_layer = candidates[0]
    return peak, peak_layer, "a dimension is unknown", ()


def _memory_report(model: ir.Model, options: Options, totals: Counts) -> MemoryReport:
    size = DTYPE_BYTES[options.dtype]
    batch = options.batch_size
    params = MemoryLine("parameters", totals.params, totals.params * size,
                        f"{_n(totals.params)} x {size} B")
    input_values = elements(model.input_shape)
    stored = [n for n in model.layers if not kind_of(n).view]  # a view has no memory of its own
    outputs = [elements(n.output_shape) for n in stored]
    known = None if None in outputs else sum(outputs)
    activations = MemoryLine("activations (every layer output, one sample)", known,
                             None if known is None else known * size,
                             f"{_n(known)} values x {size} B" if known is not None else "a dimension is unknown")
    single_input = MemoryLine("input (one sample)", input_values,
                              None if input_values is None else input_values * size,
                              f"{_n(input_values)} values x {size} B" if input_values is not None else "unknown")
    # inference: a layer's inputs and output are alive together; the rest can be freed
    peak, peak_layer, unknown, candidates = _peak(model, input_values)
    inference = MemoryLine(
        f"inference peak (largest input+output pair: {peak_layer})" if peak_layer else "inference peak",
        None if peak is None else peak * batch, None if peak is None else peak * batch * size,
        f"{_n(peak)} values x {_n(batch)} x {size} B" if peak is not None else unknown)
    with_params = None if peak is None else peak * batch + totals.params
    peak_plus_params = MemoryLine(
        "inference peak + parameters", with_params, None if with_params is None else with_params * size,
        f"({_n(peak)} x {batch} + {_n(totals.params)}) values x {size} B" if peak is not None else unknown)
    kept = None if known is None or input_values is None else (known + input_values) * batch
    kept_all = None if kept is None else kept + totals.params
    every_activation_kept = MemoryLine(
        "inference keeping every activation + parameters", kept_all,
        None if kept_all is None else kept_all * size,
        f"(({_n(input_values)} + {_n(known)}) x {batch} + {_n(totals.params)}) values x {size} B" if kept is not None
        else "a dimension is unknown")
    state = OPTIMIZER_STATE[options.optimizer]
    lines = [
        MemoryLine("parameters", totals.params, totals.params * size, f"{_n(totals.params)} x {size} B"),
        MemoryLine("gradients", totals.trainable, totals.trainable * size,
                   f"{_n(totals.trainable)} trainable x {size} B"),
        MemoryLine(f"optimizer state ({options.optimizer}: {state} per parameter)", state * totals.trainable,
                   state * totals.trainable * size, f"{state} x {_n(totals.trainable)} x {size} B"),
        MemoryLine(f"input and activations (batch {batch})", kept, None if kept is None else kept * size,
                   f"({_n(input_values)} + {_n(known)}) values x {_n(batch)} x {size} B" if kept is not None else
                   "a dimension is unknown"),
    ]
    total_bytes = None if any(line.bytes is None for line in lines) else sum(line.bytes for line in lines)
    lines.append(MemoryLine("total", None, total_bytes, "sum of the lines above"))
    return MemoryReport(options.dtype, options.units, batch, options.optimizer, params, single_input, activations,
                        inference, peak_layer, peak_plus_params, every_activation_kept, tuple(lines), candidates)


def shape_with_batch(shape: Optional[tuple], batch: Optional[int]) -> str:
    """Keras' way: (None, 28, 28, 32); the batch shown as N when --batch is given. (fmt_shape is
    the other way: 28x28x32.)"""
    if shape is None:
        return "?"
    dims = ["None" if batch is None else str(batch)] + ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ")"


#: A statement's label (`layer1: `) and its expectation (` -> 56x56x64 params=...`).
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*:\s*")
_EXPECTATION = re.compile(r"\s*->.*\Z", re.S)
#: The longest call text a table shows; a longer one is cut with '...'.
MAX_CALL = 60


def _argument_text(value) -> str:
    """A block argument's value as a call would write it: 64, 3x3, same, ?, 0.5, ceil(H/2)."""
    if value is None:
        return "?"
    if isinstance(value, tuple):
        return fmt_sizes(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def written_call(source: Source, span) -> str:
    """The text of the statement at `span` without its label and expectation, comments dropped and
    runs of white space made one space, with anything a terminal could act on escaped."""
    from .diagnostics import printable

    lines = source.lines[span.line - 1: span.end_line]
    if not lines:
        return ""
    if len(lines) == 1:
        lines = [lines[0][span.column - 1: span.end_column - 1]]
    else:
        lines = [lines[0][span.column - 1:], *lines[1:-1], lines[-1][: span.end_column - 1]]
        lines = [line.split("#", 1)[0] for line in lines]
    text = " ".join(" ".join(lines).split())
    text = _EXPECTATION.sub("", _LABEL.sub("", text))
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
    if len(text) > MAX_CALL:
        text = text[: MAX_CALL - 3].rstrip() + "..."
    return printable(text)


def own_join(group: ir.Group) -> Optional[ir.LayerNode]:
    """The join layer of a labelled or stand-alone `concat`/`add` group: its last child, of the
    group's own kind and name. The group's row stands for it (the name is shown once)."""
    if not group.children:
        return None
    last = group.children[-1]
    if isinstance(last, ir.LayerNode) and last.kind == group.kind and last.name == group.name \
            and kind_of(last).joins_branches:
        return last
    return None


class ModelReport:
    """Every figure of one model's report, each computed once, when first asked for: the rows
    of the table, the totals and operation counts (of the model and of every group, in one
    bottom-up pass), the memory report. The back ends in :mod:`nnlang.emit` only format them."""

    def __init__(self, model: ir.Model, options: Options, source: Optional[Source] = None):
        self.model = model
        self.options = options
        self.source = source  # the file's text, for what a call wrote (call_text); None: unknown

    def call_text(self, group: ir.Group) -> str:
        """A block call as written in the file, its label and expectation left out, its spaces
        folded: `basic(64, 2)`, `down 32`; '' without the source."""
        if group.arguments is not None and group.block:  # called inside a block: with the values it got
            from .diagnostics import printable

            return printable(f"{group.block}({', '.join(_argument_text(v) for v in group.arguments)})")
        if self.source is None or group.span is None or not group.span.line:
            return ""
        return written_call(self.source, group.span)

    @cached_property
    def _group_counts(self) -> dict:
        """Counts of the model (its root) and of every group below it, keyed by the group."""
        found: dict = {}
        convention = self.options.convention
        elementwise: dict = {}  # (id of the inference's Result, activation) -> elementwise_ops: equal layers once

        def walk(group: ir.Group) -> Counts:
            trainable = non_trainable = macs = pool_ops = bias = activation = layers = 0
            for child in group.children:
                if type(child) is ir.Group:
                    part = walk(child)
                    trainable += part.trainable
                    non_trainable += part.non_trainable
                    macs = plus(macs, part.macs)
                    pool_ops = plus(pool_ops, part.pool_ops)
                    bias = plus(bias, part.bias_adds)
                    activation = plus(activation, part.activation_ops)
                    layers += part.layers
                    continue
                # layer_counts(child, convention), without a Counts for each layer; None is unknown
                learned, kept = child.counts(convention)
                trainable += learned.value
                non_trainable += kept.value
                value = child.macs.value
                if macs is not None:
                    macs = None if value is None else macs + value
                value = child.pool_ops.value
                if pool_ops is not None:
                    pool_ops = None if value is None else pool_ops + value
                result = child.result
                key = (id(result), child.activation) if result is not None else None
                ops = elementwise.get(key) if key is not None else None
                if ops is None:
                    ops = elementwise_ops(child)
                    if key is not None:
                        elementwise[key] = ops
                adds, ops = ops
                if bias is not None:
                    bias = None if adds is None else bias + adds
                if activation is not None:
                    activation = None if ops is None else activation + ops
                layers += 1
            counts = found[group] = Counts(trainable, non_trainable, macs, pool_ops, bias, activation, layers)
            return counts

        if self.model.root is not None:
            walk(self.model.root)
        return found

    @property
    def totals(self) -> Counts:
        """The whole model's counts."""
        return self._group_counts.get(self.model.root) or Counts()

    def counts(self, group: ir.Group) -> Counts:
        """A block call's, branch's or labelled group's counts (the sums over its layers)."""
        return self._group_counts[group]

    @property
    def group_counts(self) -> dict:
        """Counts of the model (its root) and of every group below it, keyed by the group."""
        return self._group_counts

    @cached_property
    def param_memory(self) -> Memory:
        return Memory(self.totals.params, self.options.dtype, self.options.units)

    @property
    def batch_macs(self) -> Optional[int]:
        """The MACs of one pass of the whole batch (the counts are per sample); None when unknown."""
        macs = self.totals.macs
        return None if macs is None else macs * self.options.batch_size

    def unknown_layers(self, kind: str = "macs", group: Optional[ir.Group] = None) -> list:
        """The names of the layers (of the model, or of `group`) whose count `kind` (macs, flops,
        flops-all, pool_ops, bias_adds, activation_ops) is unknown until run time, in order."""
        root = self.model.root if group is None else group
        if root is None:
            return []
        counts = self.totals if group is None else self.counts(group)
        if (getattr(counts, kind) if kind in Counts._fields else counts.ops(kind)) is not None:
            return []  # a sum with an unknown part is unknown: none is
        names = []
        for layer in root.layers():
            counts = layer_counts(layer, self.options.convention)
            value = getattr(counts, kind) if kind in Counts._fields else counts.ops(kind)
            if value is None:
                names.append(layer.name)
        return names

    @cached_property
    def rows(self) -> list:
        """The table's rows in execution order; groups deeper than `--depth` folded into one row each."""
        out: list = []
        depth = self.options.depth
        group_counts = self._group_counts
        shown = present.geometries(self.model.layers)  # alive as long as the rows are made

        def visit(group: ir.Group, level: int) -> None:
            join = own_join(group)  # shown on the group's row
            for child in group.children:
                if child is join:
                    continue
                if isinstance(child, ir.Group):
                    collapsed = depth is not None and level + 1 >= depth
                    call = self.call_text(child) if collapsed and child.kind == "block" else ""
                    out.append(Row(level, child.name, group_type(child), child.output_shape, group_counts[child],
                                   group=child, collapsed=collapsed, call=call))
                    if not collapsed:
                        visit(child, level + 1)
                else:
                    out.append(Row(level, child.name, child.kind, child.output_shape,
                                   layer_counts(child, self.options.convention),
                                   *shown[id(child)], child.activation, layer=child))

        if self.model.root is not None:
            visit(self.model.root, 0)
        return out

    @cached_property
    def memory(self) -> MemoryReport:
        return _memory_report(self.model, self.options, self.totals)


class CompareRow(NamedTuple):
    label: str
    path: tuple  # () for the whole model, else a block or branch path present in both models
    left: Optional[int]  # None when unknown
    right: Optional[int]

    @property
    def ratio(self) -> Optional[float]:
        if not self.left or self.right is None or type(self.left) is not int or type(self.right) is not int:
            return None  # unknown, zero, or an expression of named sizes: no single number
        return self.right / self.left


class ModelComparison(NamedTuple):
    left: ir.Model
    right: ir.Model
    rows: tuple  # CompareRow: totals first, then shared blocks and branches


def compare(left: Union[ModelReport, ir.Model], right: Union[ModelReport, ir.Model],
            options: Options) -> ModelComparison:
    """Side-by-side figures of two models, and of the blocks and branches they share by path."""
    left, right = (side if isinstance(side, ModelReport) else ModelReport(side, options) for side in (left, right))
    lt, rt = left.totals, right.totals
    rows = [
        CompareRow("params", (), lt.params, rt.params),
        CompareRow("trainable params", (), lt.trainable, rt.trainable),
        CompareRow("non-trainable params", (), lt.non_trainable, rt.non_trainable),
        CompareRow("MACs", (), lt.macs, rt.macs),
        CompareRow(f"parameter bytes ({options.dtype})", (), left.param_memory.bytes, right.param_memory.bytes),
    ]
    right_groups = {g.path: g for g in right.model.groups()}
    for group in left.model.groups():
        other = right_groups.get(group.path)
        if other is None:
            continue
        a, b = left.counts(group), right.counts(other)
        name = "/".join(group.path)
        rows.append(CompareRow(f"{name} params", group.path, a.params, b.params))
        rows.append(CompareRow(f"{name} MACs", group.path, a.macs, b.macs))
    return ModelComparison(left.model, right.model, tuple(rows))


class Report:
    """The report of a file: a ModelReport per model, and its `compare` statements (`compare A,
    B, C` sets B and C each beside A)."""

    def __init__(self, program: ir.Program, options: Options, source: Optional[Source] = None):
        self.program = program
        self.options = options
        self.source = source
        self.models = [ModelReport(model, options, source) for model in program.models]

    @classmethod
    def of(cls, program: ir.Program, options: Options, source: Optional[Source] = None) -> "Report":
        """The report of `program`; with the file's `source`, folded block calls show what they wrote."""
        return cls(program, options, source)

    def model(self, name: str) -> Optional[ModelReport]:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict:
        return {m.model.name: m for m in reversed(self.models)}  # the first of a name wins

    @cached_property
    def comparisons(self) -> list:
        """ModelComparison of every pair the `compare` statements name, in order, each pair once
        (`compare a, a, a, ...` must not multiply the work and the report by its length)."""
        pairs = []
        for comparison in self.program.comparisons:
            first = comparison.names[0]
            pairs += [(first, name) for name in comparison.names[1:]]
        return [compare(self.model(left), self.model(right), self.options) for left, right in dict.fromkeys(pairs)]


__all__ = ["Amount", "Column", "Counts", "plus", "DTYPE_BYTES", "Memory", "MemoryLine", "MemoryReport",
           "ModelComparison", "ModelReport", "Options", "Report", "Row", "UNITS", "amount_text", "compare", "fitted",
           "fmt_shape", "layer_counts", "own_join", "shape_with_batch", "written_call"]
