"""The syntax tree of a `.nn` file: immutable nodes, tuple children, a span on every node.

Nodes are named tuples: the parser makes one per token it keeps, and a file's
classes are created at every start of nnc, so both must be cheap. Compare nodes
of the same class only (a tuple equals any tuple with the same items).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Union


from .source import Span

# --- values and expressions -------------------------------------------------


class Int(NamedTuple):
    value: int
    span: Span


class Float(NamedTuple):
    value: float
    text: str
    span: Span


class Name(NamedTuple):
    """A word: a block parameter inside blocks, else a word such as `same` or `relu`."""

    name: str
    span: Span


class Unknown(NamedTuple):
    """`?`: a dimension whose size is not known."""

    span: Span


class BinOp(NamedTuple):
    op: str  # + - * // / %
    left: "Expr"
    right: "Expr"
    span: Span


class Neg(NamedTuple):
    operand: "Expr"
    span: Span


class ShapeLit(NamedTuple):
    """`28x28x3`: dimensions are ints or None for `?`."""

    dims: tuple[Optional[int], ...]
    text: str
    span: Span


class KwArg(NamedTuple):
    name: str
    value: "Expr"
    span: Span


class Tuple(NamedTuple):
    items: tuple["Expr", ...]
    span: Span


class Numbers(Tuple):
    """`[0.1, -0.3]`, `[[0.1, -0.3], [0.5, 0.2]]`: a list of numbers, an option's value (weights,
    a bias). Its items are Numbers or Float nodes whose `value` is the exact number written (an
    int or a fractions.Fraction: `0.1` is 1/10, `1/3` a third). A Tuple to whatever evaluates
    tuples: it evaluates to the (nested) tuple of its values."""

    __slots__ = ()


Expr = Union[Int, Float, Name, Unknown, BinOp, Neg, ShapeLit, KwArg, Tuple, Numbers]


# --- statements ---------------------------------------------------------------


class Option(NamedTuple):
    key: str
    value: Expr
    span: Span
    key_span: Span


class Expectation(NamedTuple):
    shape: Optional[Expr]
    counts: tuple[tuple[str, "Expr", Span], ...]  # ("params", Int(2432), span)
    span: Span


class Layer(NamedTuple):
    """`label: kind args options activation -> expectation`; a block call when kind names a block."""

    label: Optional[str]
    kind: str
    kind_span: Span
    args: tuple[Expr, ...]
    options: tuple[Option, ...]
    expect: Optional[Expectation]
    span: Span


class Allow(NamedTuple):
    """`allow W202, W205`: warnings (and notes) meant, not to be reported. As a statement it covers
    the body it stands in: `scope` None for a model (everything compiling it reports) or the file;
    the span of the block, branch or repeat otherwise. At the end of a layer statement (a marker),
    `scope` is that statement's span."""

    codes: tuple[tuple[str, Span], ...]  # ("W202", span of the code); only codes that may be allowed
    span: Span
    scope: Optional[Span] = None


class Branch(NamedTuple):
    name: Optional[str]
    body: tuple["Stmt", ...]
    span: Span


class Merge(NamedTuple):
    """`concat { branch ... }` or `add { branch ... }`."""

    label: Optional[str]
    mode: str
    branches: tuple[Branch, ...]
    expect: Optional[Expectation]
    span: Span


class Repeat(NamedTuple):
    label: Optional[str]
    count: Expr
    body: tuple["Stmt", ...]
    span: Span
    expect: Optional[Expectation] = None  # `repeat N { ... } -> ...`: what the whole repeat computed


Stmt = Union[Layer, Merge, Repeat]


class Param(NamedTuple):
    name: str
    default: Optional[Expr]
    span: Span


class Model(NamedTuple):
    name: str
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span
    #: `} -> params=N macs=N SHAPE`: what the whole model must produce
    expect: Optional[Expectation] = None
    #: the `allow`s written inside it (statements and markers)
    allows: tuple[Allow, ...] = ()


class BlockDef(NamedTuple):
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span
    #: the `allow`s written inside it, each covering a span of the block
    allows: tuple[Allow, ...] = ()


class Compare(NamedTuple):
    names: tuple[tuple[str, Span], ...]
    span: Span


class File(NamedTuple):
    items: tuple[Union[Model, BlockDef, Compare, Allow], ...]

    @property
    def models(self) -> tuple[Model, ...]:
        return tuple(i for i in self.items if isinstance(i, Model))

    @property
    def blocks(self) -> tuple[BlockDef, ...]:
        return tuple(i for i in self.items if isinstance(i, BlockDef))

    @property
    def compares(self) -> tuple[Compare, ...]:
        return tuple(i for i in self.items if isinstance(i, Compare))

    @property
    def allows(self) -> tuple[Allow, ...]:
        """The file-wide `allow` statements (at the top level)."""
        return tuple(i for i in self.items if isinstance(i, Allow))
