"""The syntax tree of a `.nn` file: frozen nodes, tuple children, a span on every node."""

from __future__ import annotations

from typing import Optional, Union

import attrs

from .source import Span

# --- values and expressions -------------------------------------------------


@attrs.frozen
class Int:
    value: int
    span: Span


@attrs.frozen
class Float:
    value: float
    text: str
    span: Span


@attrs.frozen
class Name:
    """A word: a block parameter inside blocks, else a word such as `same` or `relu`."""

    name: str
    span: Span


@attrs.frozen
class Unknown:
    """`?`: a dimension whose size is not known."""

    span: Span


@attrs.frozen
class BinOp:
    op: str  # + - * // / %
    left: "Expr"
    right: "Expr"
    span: Span


@attrs.frozen
class Neg:
    operand: "Expr"
    span: Span


@attrs.frozen
class ShapeLit:
    """`28x28x3`: dimensions are ints or None for `?`."""

    dims: tuple[Optional[int], ...]
    text: str
    span: Span


@attrs.frozen
class KwArg:
    name: str
    value: "Expr"
    span: Span


@attrs.frozen
class Tuple:
    items: tuple["Expr", ...]
    span: Span


Expr = Union[Int, Float, Name, Unknown, BinOp, Neg, ShapeLit, KwArg, Tuple]


# --- statements ---------------------------------------------------------------


@attrs.frozen
class Option:
    key: str
    value: Expr
    span: Span
    key_span: Span


@attrs.frozen
class Expectation:
    shape: Optional[Expr]
    counts: tuple[tuple[str, "Expr", Span], ...]  # ("params", Int(2432), span)
    span: Span


@attrs.frozen
class Layer:
    """`label: kind args options activation -> expectation`; a block call when kind names a block."""

    label: Optional[str]
    kind: str
    kind_span: Span
    args: tuple[Expr, ...]
    options: tuple[Option, ...]
    expect: Optional[Expectation]
    span: Span


@attrs.frozen
class Branch:
    name: Optional[str]
    body: tuple["Stmt", ...]
    span: Span


@attrs.frozen
class Merge:
    """`concat { branch ... }` or `add { branch ... }`."""

    label: Optional[str]
    mode: str
    branches: tuple[Branch, ...]
    expect: Optional[Expectation]
    span: Span


@attrs.frozen
class Repeat:
    label: Optional[str]
    count: Expr
    body: tuple["Stmt", ...]
    span: Span


Stmt = Union[Layer, Merge, Repeat]


@attrs.frozen
class Param:
    name: str
    default: Optional[Expr]
    span: Span


@attrs.frozen
class Model:
    name: str
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@attrs.frozen
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@attrs.frozen
class Compare:
    names: tuple[tuple[str, Span], ...]
    span: Span


@attrs.frozen
class File:
    items: tuple[Union[Model, BlockDef, Compare], ...]

    @property
    def models(self) -> tuple[Model, ...]:
        return tuple(i for i in self.items if isinstance(i, Model))

    @property
    def blocks(self) -> tuple[BlockDef, ...]:
        return tuple(i for i in self.items if isinstance(i, BlockDef))

    @property
    def compares(self) -> tuple[Compare, ...]:
        return tuple(i for i in self.items if isinstance(i, Compare))
