"""Report facts: rows, totals and memory figures. No formatting here: every
back end in :mod:`nnlang.emit` reads the same objects."""

from __future__ import annotations

import enum
from typing import Optional

import attrs

from . import ir
from .layers.base import fmt_shape

DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1}
UNITS = {"si": (10**6, "MB"), "iec": (2**20, "MiB")}


@attrs.frozen
class Options:
    convention: str = "keras"
    dtype: str = "float32"
    units: str = "si"
    batch: Optional[int] = None
    depth: Optional[int] = None
    explain: bool = False


@attrs.frozen
class Row:
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

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def is_group(self) -> bool:
        return self.group is not None


class Column(enum.Enum):
    """The columns a table can show, in their default order."""

    LAYER = ("layer", "Layer (type)")
    OUTPUT = ("output", "Output Shape")
    PARAMS = ("params", "Param #")
    KERNEL = ("kernel", "Kernel")
    STRIDE = ("stride", "Stride")
    PADDING = ("padding", "Padding")
    MACS = ("macs", "MACs")

    def __init__(self, key: str, title: str):
        self.key = key
        self.title = title


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
                out.append(Row(level, child.name, group_type(child), child.output_shape, totals.trainable,
                               totals.non_trainable, totals.macs, totals.pool_ops, group=child,
                               collapsed=collapsed))
                if not collapsed:
                    visit(child, level + 1)
            else:
                out.append(Row(level, child.name, child.kind, child.output_shape, child.trainable.value,
                               child.non_trainable.value, child.macs.value, child.pool_ops.value, child.kernel,
                               child.stride, child.padding, child.activation, layer=child))

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


def shape_with_batch(shape: Optional[tuple], batch: Optional[int]) -> str:
    """Keras' way: (None, 28, 28, 32); the batch shown as N when --batch is given."""
    if shape is None:
        return "?"
    dims = ["None" if batch is None else str(batch)] + ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ")"


__all__ = ["Column", "DTYPE_BYTES", "Memory", "Options", "Row", "UNITS", "fmt_shape", "rows", "shape_with_batch"]


@attrs.frozen
class CompareRow:
    label: str
    path: tuple  # () for the whole model, else a block or branch path present in both models
    left: Optional[int]
    right: Optional[int]

    @property
    def ratio(self) -> Optional[float]:
        if not self.left or self.right is None:
            return None
        return self.right / self.left


@attrs.frozen
class ModelComparison:
    left: ir.Model
    right: ir.Model
    rows: tuple  # CompareRow: totals first, then shared blocks and branches


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
