"""Numbers that remember the arithmetic that produced them.

A layer kind computes its parameter count, MACs and output sizes with
:class:`F` values; the report shows ``F.text`` next to ``F.value``, so the
formula a student reads is the one that computed the number, not a copy.
"""

from __future__ import annotations

import sys
from typing import Union

_ATOM, _PRODUCT, _SUM = 3, 2, 1


def _precedence(text: str) -> int:
    """How tightly a written expression binds: a sum, a product, or an atom (a name, a number,
    a call such as ceil(H/2)); what decides its parentheses inside a larger one."""
    depth, prec = 0, _ATOM
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            if char == "-" and i == 0 or char in "+-" and text[i - 1] == " ":
                return _SUM
            if char in "*/^":
                prec = _PRODUCT
    return prec


def is_sym(x) -> bool:
    """Whether x is an expression of named sizes (a nnlang.symbolic.Sym). Asked without importing
    that module: there is no such value until it is imported, and a network of numbers never
    imports it (start-up time)."""
    module = sys.modules.get("nnlang.symbolic")
    return module is not None and type(x) is module.Sym


def is_symbolic_error(error: BaseException) -> bool:
    """Whether `error` is nnlang.symbolic's: a named size's arithmetic that has no single answer."""
    module = sys.modules.get("nnlang.symbolic")
    return module is not None and isinstance(error, module.SymbolicError)


def is_sum(text: str) -> bool:
    """A written expression that needs parentheses inside a product: H + 2, -T."""
    return _precedence(text) == _SUM


def is_atom(text: str) -> bool:
    """A written expression that needs no parentheses inside a larger one: 28, H, ceil(H/2)."""
    return _precedence(text) == _ATOM


class F:
    """An integer with the expression text that computed it; `value` None for UNKNOWN. The
    integer may be an exact expression of named sizes (a nnlang.symbolic.Sym: 216*H*W), whose
    text is its canonical form."""

    __slots__ = ("value", "text", "_prec", "_literal")

    def __init__(self, value, text: str | None = None, prec: int = _ATOM):
        self.value = value
        self._literal = True if text is None else None  # None: not known yet
        if text is None:
            text = str(value)
            if type(value) is not int and value is not None:  # a symbolic size: H - 4, 2*H
                prec = _precedence(text)
        self.text = text
        self._prec = prec

    # construction -----------------------------------------------------------
    @staticmethod
    def of(value: Union["F", int]) -> "F":
        return value if isinstance(value, F) else F(value)

    def _wrap(self, prec: int) -> str:
        return f"({self.text})" if self._prec < prec else self.text

    def __mul__(self, other):
        other = F.of(other)
        if self.value is None or other.value is None:
            return UNKNOWN
        # a product on the right keeps its parentheses: 24*24*64*(5*5*32) reads as outputs x per-output cost
        return F(self.value * other.value, f"{self._wrap(_PRODUCT)}*{other._wrap(_ATOM)}", _PRODUCT)

    __rmul__ = lambda self, other: F.of(other) * self  # noqa: E731

    def __add__(self, other):
        other = F.of(other)
        if self.value is None or other.value is None:
            return UNKNOWN
        return F(self.value + other.value, f"{self.text} + {other._wrap(_PRODUCT)}", _SUM)

    __radd__ = lambda self, other: F.of(other) + self  # noqa: E731

    def __sub__(self, other):
        other = F.of(other)
        if self.value is None or other.value is None:
            return UNKNOWN
        return F(self.value - other.value, f"{self.text} - {other._wrap(_PRODUCT)}", _SUM)

    def __rsub__(self, other):
        return F.of(other) - self

    def floordiv(self, other) -> "F":
        """floor(a/b); shown as a plain division when it is exact."""
        other = F.of(other)
        if self.value is None or other.value is None:
            return UNKNOWN
        value = self.value // other.value
        if other.value == 1:
            return F(value, self.text, self._prec)
        inner = f"{self._wrap(_PRODUCT)}/{other._wrap(_ATOM)}"
        if self.value % other.value == 0:
            return F(value, inner, _PRODUCT)
        return F(value, f"floor({inner})", _ATOM)

    # presentation -----------------------------------------------------------
    @property
    def is_known(self) -> bool:
        return self.value is not None

    @property
    def is_literal(self) -> bool:
        if self._literal is None:
            self._literal = self.text == str(self.value)
        return self._literal

    def worked(self) -> str:
        """'5*5*3*32 + 32 = 2,432', or just the number when there is nothing to show; 'unknown' for UNKNOWN."""
        if self.value is None:
            return "unknown (depends on a size unknown until run time)"
        if self.is_literal:
            return f"{self.value:,}"
        return f"{self.text} = {self.value:,}"

    def __repr__(self) -> str:
        return f"F({self.value}, {self.text!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, F) and other.value == self.value and other.text == self.text

    def __hash__(self) -> int:
        return hash((self.value, self.text))


ZERO = F(0)


class Unknown(F):
    """A count that depends on a size not known (a shape left unknown by an error upstream):
    `value` None, shown as `?`; any arithmetic with it is unknown too. (A size left open on
    purpose is a named size, whose counts are expressions of it: nnlang.symbolic.)"""

    __slots__ = ()

    def __init__(self):
        super().__init__(None, "?")
        self._literal = True  # nothing to work out


#: The unknown count.
UNKNOWN = Unknown()


def product(factors) -> F:
    result = None
    for factor in factors:
        result = F.of(factor) if result is None else result * factor
    return result if result is not None else F(1)
