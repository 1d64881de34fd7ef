"""Report facts: rows, totals and memory figures. No formatting here: every
back end in :mod:`nnlang.emit` reads the same objects."""

from __future__ import annotations

import enum
from typing import NamedTuple, Optional

import attrs

from . import ir
from .layers import kind_of
from .layers.base import fmt_shape

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1}
UNITS = {"si": (10**6, "MB"), "iec": (2**20, "MiB")}


OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}  # values kept per parameter
OPS = ("macs", "flops", "flops-all")


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


class Row(NamedTuple):
    """One line of a summary table: a layer, or a block/branch with its totals."""

    depth: int
    name: str
    type: str
    output_shape: Optional[tuple]
    trainable: int
    non_trainable: int
    macs: int
    pool_ops: int
    kernel: str = ""
    stride: str = ""
    padding: str = ""
    activation: str = ""
    layer: Optional[ir.LayerNode] = None
    group: Optional[ir.Group] = None
    collapsed: bool = False
    bias_adds: int = 0
    activation_ops: int = 0

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable

    def ops(self, kind: str) -> int:
        """MACs, FLOPs (2 per MAC) or FLOPs with bias additions, activations and pooling."""
        if kind == "macs":
            return self.macs
        if kind == "flops":
            return 2 * self.macs
        return 2 * self.macs + self.bias_adds + self.activation_ops + self.pool_ops

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


def bias_adds(layer: ir.LayerNode) -> int:
    """One addition per output value for layers that add a bias (convolutions and dense)."""
    if kind_of(layer).adds_bias(layer.args):
        return elements(layer.output_shape) or 0
    return 0


def activation_ops(layer: ir.LayerNode) -> int:
    if layer.activation or layer.kind == "activation":
        return elements(layer.output_shape) or 0
    return 0


def group_type(group: ir.Group) -> str:
    return group.block if group.kind == "block" else group.kind


def rows(model: ir.Model, depth: Optional[int] = None) -> list[Row]:
    """The model's rows in execution order; groups deeper than `depth` are folded into one row."""
    out: list[Row] = []

    def visit(group: ir.Group, level: int) -> None:
        for child in group.children:
            if isinstance(child, ir.Group):
                totals = child.totals()
                collapsed = depth is not None and level + 1 >= depth
                inside = list(child.layers())
                out.append(Row(level, child.name, group_type(child), child.output_shape, totals.trainable,
                               totals.non_trainable, totals.macs, totals.pool_ops, group=child,
                               collapsed=collapsed, bias_adds=sum(bias_adds(n) for n in inside),
                               activation_ops=sum(activation_ops(n) for n in inside)))
                if not collapsed:
                    visit(child, level + 1)
            else:
                out.append(Row(level, child.name, child.kind, child.output_shape, child.trainable.value,
                               child.non_trainable.value, child.macs.value, child.pool_ops.value, child.kernel,
                               child.stride, child.padding, child.activation, layer=child,
                               bias_adds=bias_adds(child), activation_ops=activation_ops(child)))

    if model.root is not None:
        visit(model.root, 0)
    return out


@attrs.frozen
class Memory:
    """Bytes of the parameters for a dtype, in the chosen units."""

    params: int
    dtype: str
    units: str

    @property
    def bytes(self) -> int:
        return self.params * DTYPE_BYTES[self.dtype]

    @property
    def scaled(self) -> float:
        return self.bytes / UNITS[self.units][0]

    @property
    def unit(self) -> str:
        return UNITS[self.units][1]

    def text(self) -> str:
        return f"{self.scaled:,.2f} {self.unit}"

    def worked(self) -> str:
        divisor = "10^6" if self.units == "si" else "2^20"
        return (f"{self.params:,} x {DTYPE_BYTES[self.dtype]} bytes ({self.dtype}) = {self.bytes:,} bytes = "
                f"{self.bytes:,} / {divisor} = {self.text()}")


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
    training: tuple  # MemoryLine: parameters, gradients, optimizer state, input and activations, total

    def scaled(self, count: Optional[int]) -> str:
        if count is None:
            return "unknown"
        divisor, unit = UNITS[self.units]
        return f"{count / divisor:,.2f} {unit}"


def memory_report(model: ir.Model, options: Options) -> MemoryReport:
    size = DTYPE_BYTES[options.dtype]
    batch = options.batch_size
    totals = model.totals()
    params = MemoryLine("parameters", totals.params, totals.params * size,
                        f"{totals.params:,} x {size} B")
    input_values = elements(model.input_shape)
    stored = [n for n in model.layers if not kind_of(n).view]  # a view has no memory of its own
    outputs = [elements(n.output_shape) for n in stored]
    known = None if None in outputs else sum(outputs)
    activations = MemoryLine("activations (every layer output, one sample)", known,
                             None if known is None else known * size,
                             f"{known:,} values x {size} B" if known is not None else "a dimension is unknown")
    single_input = MemoryLine("input (one sample)", input_values,
                              None if input_values is None else input_values * size,
                              f"{input_values:,} values x {size} B" if input_values is not None else "unknown")
    # inference: a layer's inputs and output are alive together; the rest can be freed
    peak, peak_layer = None, ""
    values_of = {-1: input_values}
    for node in model.layers:
        values_of[node.index] = elements(node.output_shape)
        if kind_of(node).view:
            continue
        pair = [values_of.get(i) for i in node.inputs] + [values_of[node.index]]
        if None in pair:
            peak = None
            peak_layer = "unknown"
            break
        if peak is None or sum(pair) > peak:
            peak, peak_layer = sum(pair), node.name
    inference = MemoryLine(
        f"inference peak (largest input+output pair: {peak_layer})" if peak_layer else "inference peak",
        None if peak is None else peak * batch, None if peak is None else peak * batch * size,
        f"{peak:,} values x {batch} x {size} B" if peak is not None else "a dimension is unknown")
    state = OPTIMIZER_STATE[options.optimizer]
    kept = None if known is None or input_values is None else (known + input_values) * batch
    lines = [
        MemoryLine("parameters", totals.params, totals.params * size, f"{totals.params:,} x {size} B"),
        MemoryLine("gradients", totals.trainable, totals.trainable * size,
                   f"{totals.trainable:,} trainable x {size} B"),
        MemoryLine(f"optimizer state ({options.optimizer}: {state} per parameter)", state * totals.trainable,
                   state * totals.trainable * size, f"{state} x {totals.trainable:,} x {size} B"),
        MemoryLine(f"input and activations (batch {batch})", kept, None if kept is None else kept * size,
                   f"({input_values:,} + {known:,}) values x {batch} x {size} B" if kept is not None else
                   "a dimension is unknown"),
    ]
    total_bytes = None if any(line.bytes is None for line in lines) else sum(line.bytes for line in lines)
    lines.append(MemoryLine("total", None, total_bytes, "sum of the lines above"))
    return MemoryReport(options.dtype, options.units, batch, options.optimizer, params, single_input, activations,
                        inference, peak_layer, tuple(lines))


def shape_with_batch(shape: Optional[tuple], batch: Optional[int]) -> str:
    """Keras' way: (None, 28, 28, 32); the batch shown as N when --batch is given."""
    if shape is None:
        return "?"
    dims = ["None" if batch is None else str(batch)] + ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ")"


__all__ = ["Column", "DTYPE_BYTES", "Memory", "Options", "Row", "UNITS", "fmt_shape", "rows", "shape_with_batch"]


class CompareRow(NamedTuple):
    label: str
    path: tuple  # () for the whole model, else a block or branch path present in both models
    left: Optional[int]
    right: Optional[int]

    @property
    def ratio(self) -> Optional[float]:
        if not self.left or self.right is None:
            return None
        return self.right / self.left


class ModelComparison(NamedTuple):
    left: ir.Model
    right: ir.Model
    rows: tuple  # CompareRow: totals first, then shared blocks and branches


def comparisons(program: ir.Program, options: Options) -> list[ModelComparison]:
    """The file's `compare` statements: `compare A, B, C` sets B and C each beside A."""
    out = []
    for comparison in program.comparisons:
        first = program.model(comparison.names[0])
        out += [compare(first, program.model(name), options) for name in comparison.names[1:]]
    return out


def compare(left: ir.Model, right: ir.Model, options: Options) -> ModelComparison:
    """Side-by-side figures of two models, and of the blocks and branches they share by path."""
    lt, rt = left.totals(), right.totals()
    lm = Memory(lt.params, options.dtype, options.units)
    rm = Memory(rt.params, options.dtype, options.units)
    rows = [
        CompareRow("params", (), lt.params, rt.params),
        CompareRow("trainable params", (), lt.trainable, rt.trainable),
        CompareRow("non-trainable params", (), lt.non_trainable, rt.non_trainable),
        CompareRow("MACs", (), lt.macs, rt.macs),
        CompareRow(f"parameter bytes ({options.dtype})", (), lm.bytes, rm.bytes),
    ]
    right_groups = {g.path: g for g in right.groups()}
    for group in left.groups():
        other = right_groups.get(group.path)
        if other is None:
            continue
        a, b = group.totals(), other.totals()
        name = "/".join(group.path)
        rows.append(CompareRow(f"{name} params", group.path, a.params, b.params))
        rows.append(CompareRow(f"{name} MACs", group.path, a.macs, b.macs))
    return ModelComparison(left, right, tuple(rows))
