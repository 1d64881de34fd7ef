"""The compiled model: a graph of layers with shapes and costs, grouped into blocks and branches."""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

import attrs

from .formula import ZERO, F
from .source import Span

Shape = tuple  # of Optional[int], batch left out


@attrs.define(slots=True, eq=False)
class LayerNode:
    """One layer of the compiled model. What inference found for it is one record, `result` (a
    layers.base.Result, shared by the layers of one kind on equal inputs; None when inference did
    not run or failed). Setting `result` copies its fields into the slots below (zero costs, no
    dimensions, no window for None), `trainable` and `non_trainable` as `convention` counts them
    (Result.counts): the reports read these fields for every layer, and read through properties
    instead the JSON report of a 100,000-layer chain took 10-14% longer (C-level attribute
    getters as properties too), the text report 2-5%. Set `result`, not the copies."""

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
    convention: str = "keras"  # the compilation's counting convention
    _result: object = None  # see `result`

    @property
    def result(self):
        """The layers.base.Result inference gave; None when it gave none."""
        return self._result

    @result.setter
    def result(self, result) -> None:
        self._result = result
        if result is None:
            self.trainable = self.non_trainable = self.macs = self.pool_ops = ZERO
            self.dims, self.window, self.by_convention = (), None, None
            return
        self.trainable, self.non_trainable = result.counts(self.convention)
        self.by_convention = result.by_convention
        self.macs, self.pool_ops = result.macs, result.pool_ops
        self.dims = result.dims
        self.window = result.window

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
    #: its name is one the author wrote (a label, a branch's name), not one the compiler made up
    labelled: bool = False
    #: a block call inside a block: its arguments' values (as bound), in the parameters' order;
    #: None elsewhere (the call as written is what it was called with)
    arguments: Optional[tuple] = None

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
    """Sums over layers; `macs` and `pool_ops` are None (unknown) when a layer's count depends on a
    size unknown until run time."""

    trainable: int = 0
    non_trainable: int = 0
    macs: Optional[int] = 0
    pool_ops: Optional[int] = 0
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
            macs = None if macs is None or layer.macs.value is None else macs + layer.macs.value
            pool_ops = None if pool_ops is None or layer.pool_ops.value is None else pool_ops + layer.pool_ops.value
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
    #: the named sizes its input leaves open (input HxWx3, input ?x16): name -> nnlang.symbolic.Sym
    sizes: dict = attrs.Factory(dict)
    #: the named sizes of its input given a value (--set T=128): name -> int
    size_values: dict = attrs.Factory(dict)

    @property
    def output_shape(self) -> Optional[Shape]:
        return self.root.output_shape if self.root else None

    def totals(self, convention: Optional[str] = None) -> Totals:
        return Totals.of(self.layers, convention)

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
