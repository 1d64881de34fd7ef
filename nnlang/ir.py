"""The compiled model: a graph of layers with shapes and costs, grouped into blocks and branches."""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

import attrs

from .formula import ZERO, F
from .source import Span

Shape = tuple  # of Optional[int], batch left out


@attrs.define(slots=True, eq=False)
class LayerNode:
    index: int
    name: str
    kind: str  # canonical kind
    family: str
    path: tuple  # enclosing block and branch names, outermost first
    inputs: tuple  # indices of the layers feeding this one; -1 is the model input
    input_shape: Optional[Shape]
    output_shape: Optional[Shape]  # None when an error upstream left it unknown
    trainable: F = ZERO
    non_trainable: F = ZERO
    macs: F = ZERO
    pool_ops: F = ZERO
    activation: str = ""
    dims: tuple = ()
    args: dict = attrs.Factory(dict)  # resolved hyper-parameters, for exports and diagrams
    span: Span = attrs.field(default=None)
    label: Optional[str] = None
    window: object = None  # layers.base.Window of a convolution or pooling, for the exporters
    #: convention -> (trainable F, non_trainable F) where the counts depend on the counting convention
    #: (layers.base.Result.by_convention); None where they do not. `trainable` and `non_trainable`
    #: hold the compilation's convention's.
    by_convention: Optional[dict] = None

    @property
    def params(self) -> int:
        return self.trainable.value + self.non_trainable.value

    def counts(self, convention: Optional[str] = None) -> tuple:
        """(trainable F, non_trainable F) as `convention` counts them; None: the compilation's."""
        if convention is None or self.by_convention is None:
            return self.trainable, self.non_trainable
        return self.by_convention[convention]


@attrs.define(slots=True, eq=False)
class Group:
    """A block call, a branch, a labelled join or repeat, or the model itself."""

    name: str
    kind: str  # model | block | branch | concat | add | repeat
    path: tuple  # the group's own path (its ancestors' names and its own)
    span: Optional[Span]
    block: Optional[str] = None  # the block definition's name, for block calls
    children: list = attrs.Factory(list)  # LayerNode | Group, in execution order
    output_shape: Optional[Shape] = None
    count: Optional[int] = None  # iterations, for a labelled repeat

    def layers(self):
        """Every layer inside, in execution order."""
        for child in self.children:
            if isinstance(child, Group):
                yield from child.layers()
            else:
                yield child

    def totals(self, convention: Optional[str] = None) -> "Totals":
        """The sums over its layers, the parameters as `convention` counts them (None: the compilation's)."""
        return Totals.of(self.layers(), convention)

    @property
    def depth(self) -> int:
        return len(self.path)


class Totals(NamedTuple):
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    pool_ops: int = 0
    layers: int = 0

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable

    @classmethod
    def of(cls, layers, convention: Optional[str] = None) -> "Totals":
        """The sums over `layers`, the parameters as `convention` counts them (None: the compilation's)."""
        trainable = non_trainable = macs = pool_ops = count = 0
        for layer in layers:
            if convention is None or layer.by_convention is None:
                trainable += layer.trainable.value
                non_trainable += layer.non_trainable.value
            else:
                learned, kept = layer.by_convention[convention]
                trainable += learned.value
                non_trainable += kept.value
            macs += layer.macs.value
            pool_ops += layer.pool_ops.value
            count += 1
        return cls(trainable, non_trainable, macs, pool_ops, count)


@attrs.define(slots=True, eq=False)
class Model:
    name: str
    span: Span
    input_shape: Optional[Shape] = None
    layers: list = attrs.Factory(list)  # LayerNode, in execution order
    root: Group = None
    ok: bool = True  # False when an error left shapes unknown

    @property
    def output_shape(self) -> Optional[Shape]:
        return self.root.output_shape if self.root else None

    def totals(self, convention: Optional[str] = None) -> Totals:
        return Totals.of(self.layers, convention)

    def group_totals(self, convention: Optional[str] = None) -> dict:
        """Totals of the model and of every group below it, keyed by id(group), in one pass
        (asking each group for its own would walk a layer once per enclosing group); the
        parameters as `convention` counts them (None: the compilation's)."""
        found: dict = {}

        def walk(group) -> Totals:
            inner = [walk(child) for child in group.children if isinstance(child, Group)]
            own = Totals.of((child for child in group.children if not isinstance(child, Group)), convention)
            totals = found[id(group)] = Totals(*map(sum, zip(own, *inner))) if inner else own
            return totals

        if self.root is not None:
            walk(self.root)
        return found

    def groups(self):
        """Every group (block call, branch, labelled join) below the model, depth first."""
        def walk(group):
            for child in group.children:
                if isinstance(child, Group):
                    yield child
                    yield from walk(child)
        return walk(self.root)


Node = Union[LayerNode, Group]


class Comparison(NamedTuple):
    names: tuple
    span: Span


@attrs.define(slots=True)
class Program:
    """Everything compiled from one file."""

    models: list = attrs.Factory(list)
    comparisons: list = attrs.Factory(list)
    convention: str = "keras"
    expectations_checked: int = 0  # `->` shapes and counts compared with what was computed

    def model(self, name: str) -> Optional[Model]:
        return next((m for m in self.models if m.name == name), None)
