"""Exact integer expressions over named sizes: H, W, T, B, ?1 ...

A size the network leaves open (an image height H, a sequence length T, the batch B) makes
shapes and costs expressions of it. :class:`Sym` is such an expression: a polynomial with
integer coefficients whose atoms are size names and floor divisions ``floor(P/d)`` of a
polynomial P by a positive integer d (``ceil(P/d)`` is ``floor((P + d - 1)/d)``). Whatever
has no name left is a plain ``int``: every operation returns an int when its result has no
names, so concrete sizes never meet this module's types.

Canonical form. A floor division is rewritten as it is built, so that equal values built
differently are stored, compared and printed alike:

* a numerator is reduced modulo the divisor: ``floor((2*H + 4)/2) = H + 2``,
  ``floor((H + 2*Q)/2) = floor(H/2) + Q`` for any Q with integer coefficients,
  ``floor((H - 3)/2) + 1 = ceil(H/2) - 1`` (the numerator keeps coefficients and a constant
  in ``[0, d)``);
* a common factor goes: ``floor(2*H/4) = floor(H/2)``, ``floor((2*H + 1)/4) = floor(H/2)``;
* a floor inside a floor merges: ``floor(floor(P/a)/b) = floor(P/(a*b))``, and so does one
  added to an integer polynomial, ``floor((Q +- floor(P/a))/b)``, which is how a chain of
  strided layers stays one division: ``ceil(ceil(H/2)/2) = ceil(H/4)``;
* of a floor and its reflection, ``floor((Q + c)/d) = S - floor((Q' + d - 1 - c)/d)`` (Q'
  with the coefficients ``d - a`` of Q's coefficients a, S the sum of Q's terms), one is
  kept: the one with the smaller constant. So ``ceil(H/2)`` is stored as
  ``H - floor(H/2)``, and ``floor(H/2) + ceil(H/2)`` is H. :func:`text` writes a
  reflection back wherever that is shorter: ``H - floor(H/2)`` reads ``ceil(H/2)``, and
  products over disjoint groups of sizes as products: ``4,608*(ceil(H/2) - 1)*(ceil(W/2) - 1)``.

Identities beyond these, between floors of one divisor (``floor(H/3) + floor((H + 1)/3)
= floor(2*H/3)``), can leave two structures for one value. ``==`` and ``hash`` are
nevertheless exact value equality: ``hash`` is the value at a fixed point, and two
different structures with the same value there are compared on every residue class of the
sizes (:func:`is_zero`; when that would take more than ZERO_TEST_POINTS evaluations, ``==``
raises UndecidableError rather than guess).

Signs assume that every size is an integer of at least 1: :func:`is_positive` answers
True, False or None (depends on the sizes, or not provable), and the comparison operators
raise :class:`UndecidableError` rather than guess.

Nothing here imports more than ``math``, ``itertools`` and ``keyword`` (start-up time).
"""

from __future__ import annotations

from itertools import combinations as _combinations
from itertools import product as _grid
from keyword import iskeyword as _iskeyword
from math import comb as _comb
from math import factorial as _factorial
from math import gcd as _gcd

__all__ = [
    "Sym", "SymbolicError", "UndecidableError", "ExpressionError",
    "symbol", "is_symbolic", "names", "evaluate", "substitute", "to_python", "python_name", "text", "parse",
    "floor_div", "ceil_div", "exact_div", "is_positive", "lower_bound", "upper_bound", "is_zero",
    "maximum", "minimum", "valid_name",
]


class SymbolicError(ValueError):
    """An operation the exact arithmetic cannot carry out (a division that is not exact, a
    comparison that depends on the sizes)."""


class UndecidableError(SymbolicError):
    """A comparison whose answer depends on the values of the sizes."""


class ExpressionError(SymbolicError):
    """Text that :func:`parse` refuses; `offset` is the 0-based index of the character at fault."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message = message
        self.offset = offset


# --- atoms ---------------------------------------------------------------------------------------
#
# A monomial is a tuple of (atom, exponent) pairs sorted by the atoms' keys; () is the constant
# monomial. An atom is a size name (a str) or a _Floor. A polynomial is a dict monomial -> nonzero
# int coefficient.

_NAME_KEYS: dict = {}


def _name_key(name: str) -> tuple:
    key = _NAME_KEYS.get(name)
    if key is None:
        # names in code-point order, then the unnamed sizes ?1, ?2, ... ?10 in numeric order
        key = (0, 1, int(name[1:]), name) if name[:1] == "?" else (0, 0, 0, name)
        _NAME_KEYS[name] = key
    return key


def _akey(atom) -> tuple:
    return _NAME_KEYS.get(atom) or _name_key(atom) if type(atom) is str else atom.key


def _mono_key(mono) -> tuple:
    """Sort key of a monomial: higher degree first, then the atoms in order (grlex), constant last."""
    return (-sum(e for _, e in mono), tuple((_akey(a), -e) for a, e in mono))


class _Floor:
    """floor(num/den): num has coefficients and a constant in [0, den), at least one term with a
    size in it, no common factor with den; den >= 2."""

    __slots__ = ("num", "den", "base", "offset", "key", "_hash", "lower", "names", "_hv", "_cache")

    def __init__(self, inside: dict, offset: int, den: int):
        num = dict(inside)
        if offset:
            num[()] = offset
        self.num = num
        self.den = den
        self.base = frozenset(inside.items())  # the numerator without its constant
        self.offset = offset
        self._hash = hash((self.base, offset, den))
        ordered = sorted(num.items(), key=lambda item: _mono_key(item[0]))
        self.key = (1, tuple((_mono_key(m), c) for m, c in ordered), den)
        lower = offset  # every atom is >= 0, so the numerator is at least its value at the atoms' lower bounds
        names_ = set()
        for mono, c in inside.items():
            value = c
            for atom, e in mono:
                if type(atom) is str:
                    names_.add(atom)
                else:
                    value *= atom.lower ** e
                    names_ |= atom.names
            lower += value
        self.lower = lower // den
        self.names = frozenset(names_)
        self._hv = None  # the value at the hashing point
        self._cache = {}  # (what, name) -> period or degree

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return self is other or (
            type(other) is _Floor and self._hash == other._hash and self.den == other.den
            and self.offset == other.offset and self.base == other.base)

    def __repr__(self):
        return _atom_text(self)

    # what the residue-class test needs: the degree and the period of the atom in one size
    def degree(self, name: str) -> int:
        key = ("d", name)
        found = self._cache.get(key)
        if found is None:
            found = _degree(self.num, name) if name in self.names else 0
            self._cache[key] = found
        return found

    def period(self, name: str) -> int:
        """A period in `name` of the atom on positive integers: on each residue class of `name` modulo
        it (the other sizes fixed) the atom is a polynomial in `name`. The numerator modulo den has
        period den*L*D! where L is the inner atoms' period and D the numerator's degree."""
        key = ("p", name)
        found = self._cache.get(key)
        if found is None:
            if name not in self.names:
                found = 1
            else:
                found = self.den * _factorial(self.degree(name)) * _period(self.num, name)
            self._cache[key] = found
        return found


def _degree(poly: dict, name: str) -> int:
    best = 0
    for mono in poly:
        degree = 0
        for atom, e in mono:
            if type(atom) is str:
                degree += e if atom == name else 0
            else:
                degree += e * atom.degree(name)
        best = max(best, degree)
    return best


def _period(poly: dict, name: str) -> int:
    period = 1
    for mono in poly:
        for atom, _ in mono:
            if type(atom) is not str:
                p = atom.period(name)
                period = period * p // _gcd(period, p)
    return period


# --- polynomial arithmetic on dicts --------------------------------------------------------------


def _mono_mul(m1: tuple, m2: tuple) -> tuple:
    if not m1:
        return m2
    if not m2:
        return m1
    if len(m1) == 1 and len(m2) == 1:
        (a, e), (b, f) = m1[0], m2[0]
        if a == b:
            return ((a, e + f),)
        return ((a, e), (b, f)) if _akey(a) < _akey(b) else ((b, f), (a, e))
    merged = dict(m1)
    for atom, e in m2:
        merged[atom] = merged.get(atom, 0) + e
    return tuple(sorted(merged.items(), key=lambda item: _akey(item[0])))


def _poly_mul(p: dict, q: dict) -> dict:
    out: dict = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = _mono_mul(m1, m2)
            c = out.get(m, 0) + c1 * c2
            if c:
                out[m] = c
            else:
                out.pop(m, None)
    return out


def _poly_add(p: dict, q: dict, k: int = 1) -> dict:
    """p + k*q (a new dict)."""
    out = dict(p)
    for m, c in q.items():
        c = out.get(m, 0) + k * c
        if c:
            out[m] = c
        else:
            out.pop(m, None)
    return out


def _lift(x) -> dict:
    if type(x) is Sym:
        return x._t
    return {(): x} if x else {}


def _has_floor(mono) -> bool:
    for atom, _ in mono:
        if type(atom) is not str:
            return True
    return False


def _make(t: dict):
    """The value of polynomial t: an int when no size is left in it, else a Sym."""
    if len(t) == 0:
        return 0
    if len(t) == 1 and () in t:
        return t[()]
    s = object.__new__(Sym)
    s._t = t
    s._h = None
    s._names = None
    s._items = None
    return s


def _lone_floor(t: dict):
    """(atom, coefficient) when exactly one floor atom appears in t, alone in its term; else None."""
    found = None
    for mono, c in t.items():
        for atom, e in mono:
            if type(atom) is str:
                continue
            if len(mono) != 1 or e != 1 or found is not None:
                return None
            found = (atom, c)
    return found


def _floor_poly(t: dict, d: int):
    """floor(t/d) for d >= 1, in canonical form."""
    for _ in range(64):  # each round merges one inner floor; a numerator has few
        if d == 1:
            return _make(t)
        lone = _lone_floor(t)
        if lone is None or lone[1] not in (1, -1):
            break
        atom, c = lone
        # floor((R + floor(P/a))/d) = floor((a*R + P)/(a*d)); -floor(P/a) = floor((a - 1 - P)/a)
        a = atom.den
        rest = {m: v * a for m, v in t.items() if not (len(m) == 1 and m[0][0] is atom)}
        if c == 1:
            t = _poly_add(rest, atom.num)
        else:
            t = _poly_add(_poly_add(rest, {(): a - 1}), atom.num, -1)
        d *= a
    out: dict = {}
    inside: dict = {}
    for mono, c in t.items():
        q, r = divmod(c, d)
        if q:
            out[mono] = q
        if r:
            inside[mono] = r
    const = inside.pop((), 0)
    if not inside:
        return _make(out)  # const // d == 0
    g = d
    for c in inside.values():
        g = _gcd(g, c)
        if g == 1:
            break
    if g > 1:
        inside = {m: c // g for m, c in inside.items()}
        const //= g
        d //= g
    # the reflection: floor((Q + c)/d) = S - floor((Q' + d - 1 - c)/d), where Q' has the coefficients
    # d - a of Q's coefficients a and S is the sum of Q's terms with coefficient 1
    mirror = {m: d - c for m, c in inside.items()}
    mirror_const = d - 1 - const
    lone = _lone_floor(inside)
    if lone is not None and lone[1] in (1, d - 1):  # a merge the reduction made possible
        if lone[1] != 1:
            out = _poly_add(out, dict.fromkeys(inside, 1))
            inside, const, sign = mirror, mirror_const, -1
        else:
            sign = 1
        if const:
            inside[()] = const
        return _make(_poly_add(out, _lift(_floor_poly(inside, d)), sign))
    if const > mirror_const or (const == mirror_const and _mirror_first(inside, mirror)):
        out = _poly_add(out, dict.fromkeys(inside, 1))
        inside, const, sign = mirror, mirror_const, -1
    else:
        sign = 1
    mono = ((_Floor(inside, const, d), 1),)
    c = out.get(mono, 0) + sign
    if c:
        out[mono] = c
    else:
        del out[mono]
    return _make(out)


def _mirror_first(inside: dict, mirror: dict) -> bool:
    def key(poly):
        return tuple((_mono_key(m), c) for m, c in sorted(poly.items(), key=lambda item: _mono_key(item[0])))
    return key(mirror) < key(inside)


# --- the expression type -------------------------------------------------------------------------


def _hash_point(name: str) -> int:
    """A large value per name, fixed across runs (FNV-1a of the name)."""
    h = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return (1 << 40) + (h >> 25)


def _hash_value(t: dict) -> int:
    total = 0
    for mono, c in t.items():
        for atom, e in mono:
            if type(atom) is str:
                v = _HASH_POINTS.get(atom)
                if v is None:
                    v = _HASH_POINTS[atom] = _hash_point(atom)
            else:
                v = atom._hv
                if v is None:
                    v = atom._hv = _hash_value(atom.num) // atom.den
            c *= v ** e if e != 1 else v
        total += c
    return total


_HASH_POINTS: dict = {}


def _is_int(x) -> bool:
    return type(x) is int or isinstance(x, int)


class Sym:
    """An exact integer expression over named sizes (see the module's docstring). Build one with
    :func:`symbol` or :func:`parse`, then with + - * ** // % and :func:`ceil_div`."""

    __slots__ = ("_t", "_h", "_names", "_items")

    def __init__(self, name: str):
        if not valid_name(name):
            raise SymbolicError(f"not a size name: {name!r}")
        self._t = {((name, 1),): 1}
        self._h = None
        self._names = None
        self._items = None

    # -- arithmetic --------------------------------------------------------------------------------
    def __add__(self, other):
        if type(other) is Sym:
            return _make(_poly_add(self._t, other._t))
        if _is_int(other):
            if not other:
                return self
            t = dict(self._t)
            c = t.get((), 0) + other
            if c:
                t[()] = c
            else:
                del t[()]
            return _make(t)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self):
        return _make({m: -c for m, c in self._t.items()})

    def __pos__(self):
        return self

    def __sub__(self, other):
        if type(other) is Sym:
            return _make(_poly_add(self._t, other._t, -1))
        if _is_int(other):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other):
        if _is_int(other):
            return (-self) + other
        return NotImplemented

    def __mul__(self, other):
        if type(other) is Sym:
            return _make(_poly_mul(self._t, other._t))
        if _is_int(other):
            if not other:
                return 0
            if other == 1:
                return self
            return _make({m: c * other for m, c in self._t.items()})
        return NotImplemented

    __rmul__ = __mul__

    def __pow__(self, exponent, modulo=None):
        if modulo is not None or not _is_int(exponent):
            return NotImplemented
        if exponent < 0:
            raise SymbolicError(f"a negative power of {text(self)} is not an integer")
        result, base = 1, self
        while exponent:
            if exponent & 1:
                result = base * result
            exponent >>= 1
            if exponent:
                base = base * base
        return result

    def __floordiv__(self, other):
        if _is_int(other):
            return floor_div(self, other)
        if type(other) is Sym:
            return exact_div(self, other)
        return NotImplemented

    def __rfloordiv__(self, other):
        if _is_int(other):
            return exact_div(other, self)
        return NotImplemented

    def __mod__(self, other):
        if _is_int(other):
            return self - other * floor_div(self, other)
        if type(other) is Sym:
            exact_div(self, other)  # raises unless it divides exactly
            return 0
        return NotImplemented

    def __rmod__(self, other):
        if _is_int(other):
            exact_div(other, self)
            return 0
        return NotImplemented

    # -- equality, order, truth --------------------------------------------------------------------
    def _point(self) -> int:
        """The value at the hashing point (cached)."""
        h = self._h
        if h is None:
            h = self._h = _hash_value(self._t)
        return h

    def __hash__(self):
        return hash(self._point())

    def __eq__(self, other):
        if self is other:
            return True
        if type(other) is Sym:
            if self._t == other._t:
                return True
        elif not _is_int(other):
            return NotImplemented
        # different structures: a different value at the hashing point settles it; else test exactly
        if self._point() != (other._point() if type(other) is Sym else other):
            return False
        zero = is_zero(self - other)
        if zero is None:
            raise UndecidableError(f"whether {text(self)} equals {text(other)} takes more than "
                                   f"{ZERO_TEST_POINTS:,} evaluations to decide")
        return zero

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def _decide(self, difference, relation: str, other):
        answer = is_positive(difference)
        if answer is None:
            raise UndecidableError(f"whether {text(self)} {relation} {text(other)} depends on the sizes")
        return answer

    def __lt__(self, other):
        if not (type(other) is Sym or _is_int(other)):
            return NotImplemented
        return self._decide(other - self, "<", other)

    def __le__(self, other):
        if not (type(other) is Sym or _is_int(other)):
            return NotImplemented
        return self._decide(other - self + 1, "<=", other)

    def __gt__(self, other):
        if not (type(other) is Sym or _is_int(other)):
            return NotImplemented
        return self._decide(self - other, ">", other)

    def __ge__(self, other):
        if not (type(other) is Sym or _is_int(other)):
            return NotImplemented
        return self._decide(self - other + 1, ">=", other)

    def __bool__(self):
        """Whether the expression is not identically zero (as `x != 0` says): a count such as
        the pooling operations of a model is there, whatever the sizes; a sign is is_positive's."""
        zero = is_zero(self)
        if zero is None:
            raise UndecidableError(f"whether {text(self)} is 0 takes more than {ZERO_TEST_POINTS:,} evaluations "
                                   "to decide")
        return not zero

    def __abs__(self):
        if is_positive(self + 1):
            return self
        if is_positive(1 - self):
            return -self
        raise UndecidableError(f"the sign of {text(self)} depends on the sizes")

    # -- presentation ------------------------------------------------------------------------------
    @property
    def names(self) -> frozenset:
        """Every size name the expression uses (inside floors too)."""
        found = self._names
        if found is None:
            acc = set()
            for mono in self._t:
                for atom, _ in mono:
                    if type(atom) is str:
                        acc.add(atom)
                    else:
                        acc |= atom.names
            found = self._names = frozenset(acc)
        return found

    def _layout(self) -> list:
        """What text() writes (cached: the expression never changes)."""
        items = self._items
        if items is None:
            items = self._items = _layout(self._t)
        return items

    def __str__(self):
        return _items_text(self._layout(), False)

    def __repr__(self):
        return f"Sym({_items_text(self._layout(), False)!r})"

    def __format__(self, spec: str) -> str:
        """f'{x:,}' -> 3,932,160*T; a width aligns right, as it does for an int."""
        thousands = "," in spec
        spec = spec.replace(",", "")
        shown = _items_text(self._layout(), thousands)
        if spec and spec[0] not in "<>^" and (len(spec) < 2 or spec[1] not in "<>^"):
            spec = ">" + spec
        return format(shown, spec)

    def __reduce__(self):
        return (parse, (str(self), None))


# --- constructors and functions on int | Sym -----------------------------------------------------


def valid_name(name) -> bool:
    """Whether `name` can name a size: an ASCII identifier (H, T, seq_len) or ? and digits (?1)."""
    if type(name) is not str or not name:
        return False
    if name[0] == "?":
        return len(name) > 1 and all("0" <= ch <= "9" for ch in name[1:])
    if not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in name)


def symbol(name: str) -> Sym:
    """The size called `name`: an ASCII identifier (H, W, T, B, seq_len) or ? and digits (?1)."""
    return Sym(name)


def is_symbolic(x) -> bool:
    return type(x) is Sym


def names(x) -> frozenset:
    """The size names in x (none for an int)."""
    return x.names if type(x) is Sym else frozenset()


def floor_div(a, d):
    """floor(a/d) for an int or Sym a and a nonzero int d."""
    if not _is_int(d):
        if type(d) is Sym:
            return exact_div(a, d)
        raise TypeError(f"floor_div by {type(d).__name__}")
    if d == 0:
        raise ZeroDivisionError("floor division by zero")
    if type(a) is not Sym:
        return a // d
    if d < 0:
        return _floor_poly({m: -c for m, c in a._t.items()}, -d)
    return _floor_poly(a._t, d)


def ceil_div(a, d):
    """ceil(a/d) for an int or Sym a and a nonzero int d (or a Sym that divides a exactly)."""
    return -floor_div(-a, d)


def exact_div(a, b):
    """a/b when b divides a exactly as polynomials (the atoms taken as variables); else SymbolicError."""
    if _is_int(b) and type(a) is not Sym:
        if b == 0:
            raise ZeroDivisionError("division by zero")
        if a % b:
            raise SymbolicError(f"{a} is not a multiple of {b}")
        return a // b
    if _is_int(b):
        if b == 0:
            raise ZeroDivisionError("division by zero")
        if any(c % b for c in a._t.values()):
            raise SymbolicError(f"{text(a)} is not a multiple of {b}")
        return _make({m: c // b for m, c in a._t.items()})
    if type(b) is not Sym:
        raise TypeError(f"division by {type(b).__name__}")
    divisor = b._t
    lead = min(divisor, key=_mono_key)
    lead_c = divisor[lead]
    rest = _lift(a)
    quotient: dict = {}
    for _ in range(10_000):
        if not rest:
            return _make(quotient)
        top = min(rest, key=_mono_key)
        q_mono = _mono_div(top, lead)
        if q_mono is None or rest[top] % lead_c:
            break
        q_c = rest[top] // lead_c
        quotient[q_mono] = q_c
        rest = _poly_add(rest, _poly_mul({q_mono: q_c}, divisor), -1)
    raise SymbolicError(f"{text(a)} is not a multiple of {text(b)}")


def _mono_div(m: tuple, by: tuple):
    exps = dict(m)
    for atom, e in by:
        left = exps.get(atom, 0) - e
        if left < 0:
            return None
        if left:
            exps[atom] = left
        else:
            del exps[atom]
    return tuple(sorted(exps.items(), key=lambda item: _akey(item[0])))


def evaluate(x, env) -> int:
    """The exact value of x with every size bound by env (a mapping name -> int); KeyError names a
    size without a value."""
    if type(x) is not Sym:
        return x
    return _eval(x._t, env, {})


def _eval(t: dict, env, memo: dict) -> int:
    total = 0
    for mono, c in t.items():
        for atom, e in mono:
            if type(atom) is str:
                v = env[atom]
            else:
                v = memo.get(atom)
                if v is None:
                    v = memo[atom] = _eval(atom.num, env, memo) // atom.den
            c *= v if e == 1 else v ** e
        total += c
    return total


def substitute(x, values):
    """x with the sizes in `values` (name -> int or Sym) replaced, in canonical form; the sizes
    not in it stay. With every size bound the result is the int evaluate() gives."""
    if type(x) is not Sym:
        return x
    return _substitute(x._t, values, {})


def _substitute(t: dict, values, memo: dict):
    total = 0
    for mono, c in t.items():
        term = c
        for atom, e in mono:
            if type(atom) is str:
                v = values.get(atom)
                if v is None:
                    v = Sym(atom)
            else:
                v = memo.get(atom)
                if v is None:
                    v = memo[atom] = floor_div(_substitute(atom.num, values, memo), atom.den)
            term = term * (v if e == 1 else v ** e)
        total = total + term
    return total


# --- text ----------------------------------------------------------------------------------------


def text(x, thousands: bool = False) -> str:
    """The expression as people read it: 216*H*W, 3,932,160*T (thousands=True: the coefficients and
    the constant outside floors get separators), floor((H + 1)/4) - 1, ceil(H/2), T^2. Terms go
    highest degree first, names in code-point order (?1, ?2 ... after), the constant last.

    Where it is shorter, a product over disjoint groups of sizes is written as one:
    4,608*(ceil(H/2) - 1)*(ceil(W/2) - 1), 64*H*(W + 1); and so is each part of a sum that is one,
    the constant keeping what is left: 432*H*W + 4,608*(ceil(H/2) - 1)*(ceil(W/2) - 1) + 320. A
    number is taken out of a single sum when that saves a tenth of the length (4,608*(H - 1); not
    900*(3*X + 200*Y)). The form is a function of the stored terms alone, the same with and without
    separators, and parse() reads it back to the same value."""
    if type(x) is Sym:
        return _items_text(x._layout(), thousands)
    return f"{x:,}" if thousands else str(x)


def _number(c: int, thousands: bool) -> str:
    return f"{c:,}" if thousands else str(c)


def _ordered(t: dict) -> list:
    return sorted(t.items(), key=lambda item: _mono_key(item[0]))


def _mirror(atom: _Floor) -> _Floor:
    """The reflection of floor((Q + c)/d): floor((Q' + d - 1 - c)/d), which is S - atom."""
    d = atom.den
    return _Floor({m: d - c for m, c in atom.base}, d - 1 - atom.offset, d)


#: terms past which text() shows the stored form as it is (the search below grows with the terms)
SHOWN_SEARCH_TERMS = 120


def _shown_terms(t: dict) -> dict:
    """t with floors written as their reflections (ceilings, mostly) wherever that takes fewer terms:
    H - floor(H/2) is shown as ceil(H/2), and 64*H*W - 64*H*floor(W/2) - 64*W*floor(H/2) +
    69*floor(H/2)*floor(W/2) as 64*ceil(H/2)*ceil(W/2) + 5*floor(H/2)*floor(W/2).

    A step takes a stored term with floors, a choice R of its floors, M the term with those
    floors reflected and E = M written out in stored floors (each reflection replaced by S minus
    the floor); for a k that cancels one of E's terms, t - k*E + k*M is the same value. The step
    that leaves the fewest terms is taken while it leaves fewer; the order of the search is fixed,
    so equal stored forms print alike."""
    if len(t) < 2 or len(t) > SHOWN_SEARCH_TERMS:
        return t
    mirrors: dict = {}
    shown_atoms: set = set()  # reflections already shown: final
    steps: dict = {}  # a term's monomial -> its steps [(E, M, the reflections)], the same every round
    keys: dict = {}  # monomial -> _mono_key
    while True:
        best = None
        for mono in sorted(t, key=lambda m: keys.get(m) or keys.setdefault(m, _mono_key(m))):
            found = steps.get(mono)
            if found is None:
                found = steps[mono] = _steps(mono, mirrors)
            if not found or any(type(a) is not str and a in shown_atoms for a, _ in mono):
                continue
            for expanded, target, reflected in found:
                tried = set()
                for m, v in expanded.items():
                    have = t.get(m)
                    if have is None or have % v:
                        continue
                    k = have // v
                    if k in tried:
                        continue
                    tried.add(k)
                    # the terms t - k*E + k*M would have, counted without writing it out
                    changed = {m2: t.get(m2, 0) - k * v2 for m2, v2 in expanded.items()}
                    changed[target] = changed.get(target, t.get(target, 0)) + k
                    size = len(t)
                    for m2, v2 in changed.items():
                        size += (v2 != 0) - (m2 in t)
                    if size < len(t) and (best is None or size < best[0]):
                        best = (size, changed, reflected)
        if best is None:
            break
        t = dict(t)
        for m, v in best[1].items():
            if v:
                t[m] = v
            else:
                t.pop(m, None)
        shown_atoms.update(best[2])
    return _one_way(t, shown_atoms, mirrors)


def _one_way(t: dict, shown_atoms: set, mirrors: dict) -> dict:
    """t with a stored floor whose reflection is shown written as that reflection wherever that adds
    no term: 4608*floor(31*H/32) beside ceil(H/32)*ceil(W/32) (and H) reads -4608*ceil(H/32) (and
    4608*H), so that a division appears one way only."""
    stored = {a for mono in t for a, _ in mono if type(a) is not str and a not in shown_atoms}
    for atom in sorted(stored, key=lambda a: a.key):
        mirror = mirrors.get(atom) or _mirror(atom)
        if mirror not in shown_atoms:
            continue
        replacement = dict.fromkeys((m for m, _ in atom.base), 1)
        replacement[((mirror, 1),)] = -1
        candidate: dict = {}
        for mono, c in t.items():
            power = 0
            for a, e in mono:
                if a is atom or a == atom:
                    power = e
            if not power:
                candidate[mono] = candidate.get(mono, 0) + c
                continue
            written = {tuple(pair for pair in mono if pair[0] != atom): c}
            for _ in range(power):
                written = _poly_mul(written, replacement)
            for m, v in written.items():
                candidate[m] = candidate.get(m, 0) + v
        candidate = {m: c for m, c in candidate.items() if c}
        if len(candidate) <= len(t):
            t = candidate
    return t


def _steps(mono: tuple, mirrors: dict) -> list:
    """For each choice of the floors of a stored term (none of them a reflection already shown, as
    none is in a stored term): E, the term with those floors reflected written out in stored floors
    (each reflection replaced by S minus the floor); M, that term; and the reflections."""
    floors = [(a, e) for a, e in mono if type(a) is not str]
    out = []
    for bits in range(1, 1 << len(floors)):
        chosen = [floors[i] for i in range(len(floors)) if bits >> i & 1]
        kept = tuple((a, e) for a, e in mono if not any(a is c for c, _ in chosen))
        expanded = {kept: 1}
        target = kept
        for atom, e in chosen:
            mirror = mirrors.get(atom)
            if mirror is None:
                mirror = mirrors[atom] = _mirror(atom)
            replacement = dict.fromkeys((m for m, _ in atom.base), 1)
            replacement[((atom, 1),)] = -1
            for _ in range(e):
                expanded = _poly_mul(expanded, replacement)
            target = _mono_mul(target, ((mirror, e),))
        out.append((expanded, target, [mirrors[a] for a, _ in chosen]))
    return out


# --- factored forms ------------------------------------------------------------------------------
#
# text() writes the shown terms as a sum of items (c, m, factors): c times the monomial m times the
# factors, each a polynomial of two terms or more with coprime coefficients, no monomial common to
# its terms and a positive first term. A plain term is an item without factors. The layout is a
# function of the terms alone (every search below runs in a fixed order), so equal stored forms
# print alike, with or without thousands separators.

#: groups of sizes past which a factoring tries each group alone against the others, not every split
FACTOR_SPLIT_GROUPS = 6


def _groups(t: dict) -> list:
    """The finest partition of t's size names in which every atom's names lie in one part
    (floor((H + W)/2) ties H to W), as frozensets in the order of their first names."""
    parent: dict = {}

    def root(name):
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for mono in t:
        for atom, _ in mono:
            first = None
            for name in ((atom,) if type(atom) is str else atom.names):
                if name not in parent:
                    parent[name] = name
                found = root(name)
                if first is None:
                    first = found
                elif found != first:
                    parent[found] = first
    parts: dict = {}
    for name in parent:
        parts.setdefault(root(name), []).append(name)
    return sorted((frozenset(part) for part in parts.values()), key=lambda part: min(map(_name_key, part)))


def _sides(groups: list):
    """The unions of groups to try as one side of a product, fewest groups first."""
    sizes = range(1, len(groups) // 2 + 1) if len(groups) <= FACTOR_SPLIT_GROUPS else (1,)
    for size in sizes:
        for chosen in _combinations(groups, size):
            yield frozenset().union(*chosen)


def _split(mono: tuple, side: frozenset) -> tuple:
    """mono as (the atoms of the sizes in `side`, the others), both in order."""
    inside, outside = [], []
    for pair in mono:
        atom = pair[0]
        if (atom in side) if type(atom) is str else (atom.names <= side):
            inside.append(pair)
        else:
            outside.append(pair)
    return tuple(inside), tuple(outside)


def _primitive(t: dict) -> tuple:
    """(t/g, g): g the gcd of t's coefficients, signed as t's first term."""
    g = 0
    for c in t.values():
        g = _gcd(g, c)
        if g == 1:
            break
    if t[min(t, key=_mono_key)] < 0:
        g = -g
    return (t if g == 1 else {m: c // g for m, c in t.items()}), g


def _rank_one(t: dict, side: frozenset):
    """(A, B), primitive with positive first terms, A over the sizes in `side` and B over the others,
    when t = A*B (t primitive with a positive first term); else None. Seen as a matrix (A's monomials
    by B's), t must be full and of rank 1."""
    cells, rows, cols = {}, set(), set()
    for mono, c in t.items():
        r, k = _split(mono, side)
        cells[r, k] = c
        rows.add(r)
        cols.add(k)
    if len(cells) != len(rows) * len(cols):
        return None
    r0, k0 = _split(min(t, key=_mono_key), side)
    c0 = cells[r0, k0]
    for (r, k), c in cells.items():
        if c * c0 != cells[r, k0] * cells[r0, k]:
            return None
    return _primitive({r: cells[r, k0] for r in rows})[0], _primitive({k: cells[r0, k] for k in cols})[0]


def _group_factors(t: dict) -> list:
    """t (primitive, first term positive) as a product of factors over disjoint groups of sizes, each
    factor over the fewest groups it can have."""
    groups = _groups(t)
    if len(groups) > 1:
        for side in _sides(groups):
            found = _rank_one(t, side)
            if found is not None:
                return [found[0], *_group_factors(found[1])]
    return [t]


def _common_mono(t: dict) -> tuple:
    """The monomial that divides every term of t (the lowest power of each atom)."""
    terms = iter(t)
    common = dict(next(terms))
    for mono in terms:
        if not common:
            break
        powers = dict(mono)
        for atom, e in list(common.items()):
            have = powers.get(atom, 0)
            if have < e:
                if have:
                    common[atom] = have
                else:
                    del common[atom]
    return tuple(sorted(common.items(), key=lambda item: _akey(item[0])))


def _factored(t: dict) -> tuple:
    """t (two terms or more) as an item (c, m, factors): the gcd of the coefficients, the monomial
    common to the terms and the factors over disjoint groups of sizes."""
    primitive, c = _primitive(t)
    mono, factors = (), []
    for factor in _group_factors(primitive):
        common = _common_mono(factor)
        if common:
            mono = _mono_mul(mono, common)
            factor = {_mono_div(m, common): v for m, v in factor.items()}
        if len(factor) > 1:
            factors.append(factor)
    factors.sort(key=_first_name)
    return c, mono, tuple(factors)


def _first_name(t: dict) -> tuple:
    """The key of the first size name in t (factors over disjoint groups go in the order of their names)."""
    return min(_name_key(name) for mono in t for atom, _ in mono
               for name in ((atom,) if type(atom) is str else atom.names))


def _fraction(n: int, d: int) -> tuple:
    g = _gcd(n, d)
    if d < 0:
        g = -g
    return n // g, d // g


def _completed(part: dict, others: list):
    """`part` written as a product over two sides once the terms it lacks are added, where the terms it
    lacks may be held by other parts too (the constant, or atoms all among one of `others`'): the
    completed polynomial, or None. Seen as a matrix (the monomials of one side by the other's), the
    known cells give a rank-1 completion when they connect every row and column; the added cells must
    be whole numbers."""
    groups = _groups(part)
    if len(groups) < 2:
        return None
    lead = min(part, key=_mono_key)
    for side in _sides(groups):
        cells, rows, cols = {}, {}, {}
        for mono, c in part.items():
            r, k = _split(mono, side)
            cells[r, k] = c
            rows.setdefault(r, []).append(k)
            cols.setdefault(k, []).append(r)
        if len(cells) == len(rows) * len(cols):
            continue  # nothing to add: an exact product or none
        r0 = _split(lead, side)[0]
        # cell (r, k) = u[r]*v[k], as fractions (numerator, denominator), u[r0] = 1
        u, v = {r0: (1, 1)}, {}
        todo = [(True, r0)]
        consistent = True
        while todo and consistent:
            is_row, key = todo.pop()
            known, unknown, line = (u, v, rows[key]) if is_row else (v, u, cols[key])
            n, d = known[key]
            for other in line:
                value = _fraction(cells[(key, other) if is_row else (other, key)] * d, n)
                have = unknown.get(other)
                if have is None:
                    unknown[other] = value
                    todo.append((not is_row, other))
                elif have != value:
                    consistent = False
                    break
        if not consistent or len(u) != len(rows) or len(v) != len(cols):
            continue
        completed = dict(part)
        for r, (n1, d1) in u.items():
            for k, (n2, d2) in v.items():
                if (r, k) in cells:
                    continue
                n, d = n1 * n2, d1 * d2
                mono = _mono_mul(r, k)
                atoms = {a for a, _ in mono}
                if n % d or (atoms and not any(atoms <= other for other in others)):
                    completed = None
                    break
                completed[mono] = n // d
            if completed is None:
                break
        if completed is not None:
            return completed
    return None


def _pieces(t: dict):
    """t as products and plain terms. The terms are put in parts, one per maximal set of atoms (the
    terms whose atoms lie in that set and in no other maximal set; the constant in none); a part that
    is a product over disjoint groups of sizes once it takes a share of the terms the parts may hold
    in common (the constant, mostly) is written as that product, where that is shorter. The items, or
    None when no part is such a product."""
    supports: dict = {}
    for mono in t:
        supports.setdefault(frozenset(a for a, _ in mono), []).append(mono)
    tops: list = []
    for s in sorted(supports, key=len, reverse=True):
        if not any(s <= top for top in tops):
            tops.append(s)
    tops.sort(key=lambda s: min(map(_mono_key, supports[s])))
    parts: list = [{} for _ in tops]
    for s, monos in supports.items():
        owners = [i for i, top in enumerate(tops) if s <= top] if s else ()
        if len(owners) == 1:
            parts[owners[0]].update((m, t[m]) for m in monos)
    rest, items = t, []
    for i, (top, part) in enumerate(zip(tops, parts)):
        if len(part) < 2:
            continue
        others = tops[:i] + tops[i + 1:]
        whole = _completed(part, others) or part
        item = _factored(whole)
        if len(item[2]) + (1 if item[1] else 0) < 2:
            continue  # a number times a sum: no clearer than the terms
        if _width([item]) >= _width(_as_terms(whole)):
            continue
        items.append(item)
        rest = _poly_add(rest, whole, -1)
    if not items:
        return None
    return sorted(items + _as_terms(rest), key=_item_order)


def _as_terms(t: dict) -> list:
    return [(c, mono, ()) for mono, c in _ordered(t)]


def _width(items: list) -> int:
    """The length of the items' text as reports show it (with thousands separators)."""
    return len(_items_text(items, True))


def _item_order(item) -> tuple:
    """Items go as terms do, by the first term each writes out to (then the products after the term)."""
    c, mono, factors = item
    lead = mono
    for factor in factors:
        lead = _mono_mul(lead, min(factor, key=_mono_key))
    return _mono_key(lead), len(factors), _items_text([item], False)


def _layout(t: dict) -> list:
    """The items text() writes for t: the shown terms, or, where that is shorter, the same value as
    a product (4,608*(ceil(H/2) - 1)*(ceil(W/2) - 1)) or as a sum of products and terms (432*H*W +
    4,608*(ceil(H/2) - 1)*(ceil(W/2) - 1) + 999). A number times one sum (4,608*(H - 1)) must save a
    tenth of the length: a common divisor of unrelated counts (900 in 2,700*X + 180,000*Y) is no help."""
    shown = _shown_terms(t)
    terms = _as_terms(shown)
    if len(shown) < 2 or len(shown) > SHOWN_SEARCH_TERMS:
        return terms
    best = terms
    size = _width(terms)
    c, mono, factors = _factored(shown)
    if len(factors) > 1 or (factors and mono):
        found = _width([(c, mono, factors)])
        if found < size:
            best, size = [(c, mono, factors)], found
    elif factors and abs(c) != 1:
        found = _width([(c, mono, factors)])
        if 10 * found <= 9 * size:
            best, size = [(c, mono, factors)], found
    if len(factors) < 2:  # not a product of sums: parts of it may be
        pieces = _pieces(shown)
        if pieces is not None and _width(pieces) < size:
            best = pieces
    return best


def _items_text(items: list, thousands: bool, python: bool = False) -> str:
    out = []
    for i, (c, mono, factors) in enumerate(items):
        if i:
            out.append(" - " if c < 0 else " + ")
        elif c < 0:
            out.append("-")
        c = abs(c)
        number = _number(c, thousands)
        if not mono and not factors:
            out.append(number)
            continue
        parts = [] if c == 1 else [number]
        for atom, e in mono:
            if python:
                shown = _atom_python(atom)
                parts.append(shown if e == 1 else f"{shown}**{e}")
            else:
                parts.append(_atom_text(atom) + (f"^{e}" if e > 1 else ""))
        for factor in factors:
            parts.append("(" + _items_text([(v, m, ()) for m, v in _ordered(factor)], thousands, python) + ")")
        out.append("*".join(parts))
    return "".join(out)


def _atom_text(atom) -> str:
    if type(atom) is str:
        return atom
    found = atom._cache.get(("text", None))
    if found is None:
        inside = dict(atom.base)
        if atom.offset == atom.den - 1:
            word, shown = "ceil", inside
        else:
            word, shown = "floor", atom.num
        items = _layout(shown)
        numerator = _items_text(items, False)
        if len(items) > 1 or items[0][0] < 0:
            numerator = f"({numerator})"
        found = atom._cache[("text", None)] = f"{word}({numerator}/{atom.den})"
    return found


def python_name(name: str) -> str:
    """The identifier a size has in :func:`to_python`: the name itself; ?N becomes _N; a Python
    keyword (or __debug__) gets a trailing underscore (`if` -> `if_`)."""
    if name[:1] == "?":
        return "_" + name[1:]
    if _iskeyword(name) or name == "__debug__":
        return name + "_"
    return name


def to_python(x) -> str:
    """A Python expression over integer literals, the sizes' python_name()s, parentheses and
    + - * // ** whose value, the sizes bound, is exactly evaluate(x, ...): the form text() shows
    (its products too), a floor written `(P//d)` and a ceiling `((P + d - 1)//d)`."""
    if type(x) is not Sym:
        return str(x)
    return _items_text(x._layout(), False, python=True)


def _atom_python(atom) -> str:
    if type(atom) is str:
        return python_name(atom)
    found = atom._cache.get(("python", None))
    if found is None:
        items = _layout(atom.num)
        numerator = _items_text(items, False, python=True)
        if len(items) > 1 or items[0][0] < 0:
            numerator = f"({numerator})"
        found = atom._cache[("python", None)] = f"({numerator}//{atom.den})"
    return found


# --- signs ---------------------------------------------------------------------------------------
#
# A bound is a polynomial over names only with integer coefficients and a positive common
# denominator. A floor atom f = floor(P/d) lies between (P - d + 1)/d and P/d, and at or above its
# constant lower bound; every atom is >= 0, so products of bounds of nonnegative factors bound
# their products. The sign of a bound over sizes n >= m is read after writing n = m + u, u >= 0:
# when every coefficient but the constant has one sign, the constant is the extreme value.


def _relax(t: dict, lower: bool, linear: bool, mins) -> tuple:
    acc: dict = {}
    scale = 1
    for mono, c in t.items():
        p, s = _relax_mono(mono, (c > 0) == lower, linear, mins)
        # acc/scale + c*p/s
        g = _gcd(scale, s)
        left, right = s // g, scale // g
        acc = {m: v * left for m, v in acc.items()}
        for m, v in p.items():
            v = acc.get(m, 0) + c * v * right
            if v:
                acc[m] = v
            else:
                acc.pop(m, None)
        scale = scale * left
    return acc, scale


def _floor_min(atom, mins) -> int:
    if mins is None:
        return atom.lower
    low = atom.offset
    for mono, c in atom.base:
        for a, e in mono:
            c *= (max(mins.get(a, 1), 1) if type(a) is str else _floor_min(a, mins)) ** e
        low += c
    return low // atom.den


def _relax_mono(mono: tuple, lower: bool, linear: bool, mins) -> tuple:
    sizes = tuple((a, e) for a, e in mono if type(a) is str)
    floors = [(a, e) for a, e in mono if type(a) is not str]
    if not floors:
        return {sizes: 1}, 1
    poly, scale = {sizes: 1}, 1
    if lower:
        if linear and len(floors) == 1 and floors[0][1] == 1:
            atom = floors[0][0]
            q, qs = _relax(atom.num, True, linear, mins)
            q = _poly_add(q, {(): -(atom.den - 1) * qs})
            return _poly_mul(poly, q), qs * atom.den
        const = 1
        for atom, e in floors:
            const *= _floor_min(atom, mins) ** e
        return ({sizes: const} if const else {}), 1
    for atom, e in floors:
        q, qs = _relax(atom.num, False, linear, mins)
        for _ in range(e):
            poly = _poly_mul(poly, q)
            scale *= qs * atom.den
    return poly, scale


def _shifted(poly: dict, mins) -> dict:
    """poly with every size n written m + u (m its lower bound): a polynomial in the u's."""
    out: dict = {}
    for mono, c in poly.items():
        terms = {(): c}
        for name, e in mono:
            m = 1 if mins is None else max(mins.get(name, 1), 1)
            grown: dict = {}
            for tm, tc in terms.items():
                for j in range(e + 1):
                    key = tm + ((name, j),) if j else tm
                    grown[key] = grown.get(key, 0) + tc * _comb(e, j) * m ** (e - j)
            terms = grown
        for tm, tc in terms.items():
            v = out.get(tm, 0) + tc
            if v:
                out[tm] = v
            else:
                out.pop(tm, None)
    return out


def _bound(x, lower: bool, mins):
    if type(x) is not Sym:
        return x
    best = None
    for linear in (True, False):
        poly, scale = _relax(x._t, lower, linear, mins)
        shifted = _shifted(poly, mins)
        const = shifted.pop((), 0)
        if lower and all(c >= 0 for c in shifted.values()):
            found = -(-const // scale)
            best = found if best is None else max(best, found)
        if not lower and all(c <= 0 for c in shifted.values()):
            found = const // scale
            best = found if best is None else min(best, found)
    return best


def lower_bound(x, at_least=None):
    """An integer that x is at or above for every size >= 1 (or >= at_least[name]), or None when
    none is found. A bound, not always the least value."""
    return _bound(x, True, at_least)


def upper_bound(x, at_least=None):
    """An integer that x is at or below for every size >= 1 (or >= at_least[name]), or None."""
    return _bound(x, False, at_least)


def is_positive(x, at_least=None):
    """True when x > 0 for every size >= 1 (or >= at_least[name]); False when x <= 0 for all of
    them; None when it depends on the sizes or cannot be shown (is_positive(H - 2) is None)."""
    if type(x) is not Sym:
        return x > 0
    low = _bound(x, True, at_least)
    if low is not None and low > 0:
        return True
    high = _bound(x, False, at_least)
    if high is not None and high <= 0:
        return False
    return None


def maximum(a, b):
    """The larger of a and b when that does not depend on the sizes; else UndecidableError. (Python's
    max() asks a strict comparison, which is undecidable where the two can be equal: max(x, 0) for
    an x that is 0 or -1.)"""
    if is_positive(a - b + 1):
        return a
    if is_positive(b - a + 1):
        return b
    raise UndecidableError(f"which of {text(a)} and {text(b)} is larger depends on the sizes")


def minimum(a, b):
    """The smaller of a and b when that does not depend on the sizes; else UndecidableError."""
    if is_positive(b - a + 1):
        return a
    if is_positive(a - b + 1):
        return b
    raise UndecidableError(f"which of {text(a)} and {text(b)} is smaller depends on the sizes")


# --- exact zero test -----------------------------------------------------------------------------

#: evaluations the exact test may spend; past it, one random point per residue class (then None)
ZERO_TEST_POINTS = 20_000


def is_zero(x, limit: int = ZERO_TEST_POINTS):
    """Whether x is 0 for every positive value of its sizes: True, False, or None when the test
    would cost more than `limit` evaluations.

    On each residue class of a size n modulo its period L (the other sizes fixed) x is a polynomial
    in n of degree at most D, so it vanishes everywhere iff it vanishes on the grid of sizes 1 ..
    L*(D + 1). When that grid is too large but the classes are few, x is evaluated at one point of
    each class with random 32-bit multiples of L (a nonzero polynomial vanishes there with
    negligible probability)."""
    if type(x) is not Sym:
        return x == 0
    t = x._t
    memo: dict = {}
    # a quick look at two points settles most nonzero cases
    for offset in (0, 7):
        env = {n: _hash_point(n) + offset for n in x.names}
        if _eval(t, env, memo):
            return False
        memo.clear()
    sizes = sorted(x.names, key=_name_key)
    periods = [_period(t, n) for n in sizes]
    degrees = [_degree(t, n) for n in sizes]
    grid = 1
    for p, d in zip(periods, degrees):
        grid *= p * (d + 1)
    if grid <= limit:
        for point in _grid(*[range(1, p * (d + 1) + 1) for p, d in zip(periods, degrees)]):
            if _eval(t, dict(zip(sizes, point)), memo):
                return False
            memo.clear()
        return True
    classes = 1
    for p in periods:
        classes *= p
    if classes > limit:
        return None
    state = 0x9E3779B97F4A7C15
    for residues in _grid(*[range(1, p + 1) for p in periods]):
        env = {}
        for name, r, p in zip(sizes, residues, periods):
            state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            env[name] = r + p * (1 + (state >> 32))
        if _eval(t, env, memo):
            return False
        memo.clear()
    return True


# --- parsing -------------------------------------------------------------------------------------

MAX_TEXT = 2_000  # characters of one expression
MAX_DEPTH = 50  # parentheses, function calls and signs open at once
MAX_DIGITS = 40  # digits of one literal
MAX_EXPONENT = 16  # the largest power written
MAX_TERMS = 500  # terms of any intermediate polynomial
MAX_WORK = 200_000  # term products in one parse


class _Parser:
    """expr := term (('+'|'-') term)*;  term := unary (('*'|'/'|'//'|'%') unary)*;
    unary := ('-'|'+') unary | power;  power := atom (('^'|'**') unary)?;
    atom := NUMBER [NAME | '('] | NAME | ('floor'|'ceil') '(' expr ')' | '(' expr ')'.
    NUMBER: digits, grouped by ',' in threes (3,932,160) or separated by '_'. A value is a
    fraction (int | Sym, positive int denominator) until the end, where it must be a whole number."""

    def __init__(self, source: str, known):
        self.s = source
        self.known = known
        self.i = 0
        self.depth = 0
        self.work = 0
        self.tokens = self._lex()
        self.k = 0

    def fail(self, message: str, offset: int):
        raise ExpressionError(message, offset)

    # tokens: (kind, value, offset, end offset); kinds: num, name, op, end
    def _lex(self) -> list:
        s, out, i, n = self.s, [], 0, len(self.s)
        while i < n:
            ch = s[i]
            if ch in " \t":
                i += 1
            elif "0" <= ch <= "9":
                start = i
                while i < n and ("0" <= s[i] <= "9" or s[i] in ",_"):
                    if s[i] == "," and not (i + 1 < n and "0" <= s[i + 1] <= "9"):
                        break
                    i += 1
                out.append(("num", self._number(s[start:i], start), start, i))
            elif ch.isascii() and (ch.isalpha() or ch == "_") or ch == "?":
                start = i
                i += 1
                while i < n and s[i].isascii() and (s[i].isalnum() or s[i] == "_"):
                    i += 1
                word = s[start:i]
                if not valid_name(word):
                    self.fail(f"'{_show(word)}' is not a size name", start)
                out.append(("name", word, start, i))
            elif s.startswith("**", i) or s.startswith("//", i):
                out.append(("op", s[i:i + 2], i, i + 2))
                i += 2
            elif ch in "+-*/%^()":
                out.append(("op", ch, i, i + 1))
                i += 1
            else:
                self.fail(f"unexpected character '{_show(ch)}'", i)
        out.append(("end", None, n, n))
        return out

    def _number(self, digits: str, start: int) -> int:
        if digits.endswith("_") or "__" in digits or ",_" in digits or "_," in digits:
            self.fail(f"malformed number '{digits}'", start)
        if "," in digits:
            groups = digits.split(",")
            if "_" in digits or not (1 <= len(groups[0]) <= 3) or any(len(g) != 3 for g in groups[1:]):
                self.fail(f"malformed number '{digits}': group digits by three (3,932,160)", start)
        plain = digits.replace(",", "").replace("_", "")
        if len(plain) > MAX_DIGITS:
            self.fail(f"number too long (more than {MAX_DIGITS} digits)", start)
        return int(plain)

    def peek(self):
        return self.tokens[self.k]

    def take(self):
        token = self.tokens[self.k]
        self.k += 1
        return token

    def expect(self, op: str):
        kind, value, offset, _ = self.take()
        if kind != "op" or value != op:
            self.fail(f"expected '{op}', found {_describe(kind, value)}", offset)

    def enter(self, offset: int):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)", offset)

    # values: (numerator int|Sym, denominator int >= 1), in lowest terms
    def check(self, value, offset: int):
        n, d = value
        if type(n) is Sym and len(n._t) > MAX_TERMS:
            self.fail(f"expression too large (more than {MAX_TERMS} terms)", offset)
        return value

    def spend(self, a, b, offset: int):
        self.work += max(len(_lift(a)), 1) * max(len(_lift(b)), 1)
        if self.work > MAX_WORK:
            self.fail("expression too large to expand", offset)

    def mul(self, x, y, offset: int):
        self.spend(x[0], y[0], offset)
        return self.check(_reduce(x[0] * y[0], x[1] * y[1]), offset)

    def parse(self):
        value = self.expr()
        kind, tok, offset, _ = self.peek()
        if kind != "end":
            self.fail(f"unexpected {_describe(kind, tok)}", offset)
        return self.whole(value, 0, "the expression")

    def whole(self, value, offset: int, what: str):
        n, d = value
        if d == 1:
            return n
        if type(n) is Sym:
            zero = is_zero(n - d * floor_div(n, d), limit=2_000)
            if zero:
                return floor_div(n, d)
        self.fail(f"{what} is not a whole number for every size: write floor(...) or ceil(...)", offset)

    def expr(self):
        value = self.term()
        while True:
            kind, op, offset, _ = self.peek()
            if kind != "op" or op not in "+-":
                return value
            self.take()
            right = self.term()
            n1, d1 = value
            n2, d2 = right
            self.spend(n1, n2, offset)
            n = n1 * d2 + n2 * d1 if op == "+" else n1 * d2 - n2 * d1
            value = self.check(_reduce(n, d1 * d2), offset)

    def term(self):
        value = self.unary()
        while True:
            kind, op, offset, _ = self.peek()
            if kind != "op" or op not in ("*", "/", "//", "%"):
                return value
            self.take()
            right = self.unary()
            if op == "*":
                value = self.mul(value, right, offset)
            elif op == "/":
                value = self.divide(value, right, offset)
            else:
                a = self.whole(value, offset, f"the left side of '{op}'")
                b = self.whole(right, offset, f"the right side of '{op}'")
                if type(b) is int and b == 0:
                    self.fail("division by zero", offset)
                try:
                    result = a // b if op == "//" else a % b
                except SymbolicError:
                    self.fail(f"'{op}' by an expression in the sizes must divide exactly", offset)
                value = self.check((result, 1), offset)

    def divide(self, x, y, offset: int):
        n2, d2 = y
        if type(n2) is int:
            if n2 == 0:
                self.fail("division by zero", offset)
            sign = 1 if n2 > 0 else -1
            return self.check(_reduce(sign * x[0] * d2, x[1] * abs(n2)), offset)
        self.spend(x[0], n2, offset)
        try:
            q = exact_div(x[0] * d2, n2)
        except SymbolicError:
            self.fail("a division by an expression in the sizes must be exact", offset)
        return self.check(_reduce(q, x[1]), offset)

    def unary(self):
        kind, op, offset, _ = self.peek()
        if kind == "op" and op in "+-":
            self.take()
            self.enter(offset)
            n, d = self.unary()
            self.depth -= 1
            return (-n, d) if op == "-" else (n, d)
        return self.power()

    def power(self):
        base = self.atom()
        kind, op, offset, _ = self.peek()
        if kind != "op" or op not in ("^", "**"):
            return base
        self.take()
        self.enter(offset)
        exponent = self.unary()
        self.depth -= 1
        e, d = exponent
        if type(e) is not int or d != 1 or e < 0:
            self.fail("an exponent must be a whole number of at least 0", offset)
        if e > MAX_EXPONENT:
            self.fail(f"exponent {e} too large (at most {MAX_EXPONENT})", offset)
        result = (1, 1)
        for _ in range(e):
            result = self.mul(result, base, offset)
        return result

    def atom(self):
        kind, value, offset, end = self.take()
        if kind == "num":
            nk, nv, no, _ = self.peek()
            if no == end and (nk == "name" or (nk == "op" and nv == "(")):
                # 2H, 3(H + 1): a number written against what it multiplies
                return self.mul((value, 1), self.atom(), no)
            return (value, 1)
        if kind == "name":
            nk, nv, _, _ = self.peek()
            if value in ("floor", "ceil") and nk == "op" and nv == "(":
                self.take()
                self.enter(offset)
                n, d = self.expr()
                self.depth -= 1
                self.expect(")")
                if value == "floor":
                    return (floor_div(n, d), 1)
                return (ceil_div(n, d), 1)
            if self.known is not None and value not in self.known:
                known = ", ".join(sorted(self.known, key=_name_key)) or "none"
                self.fail(f"unknown size '{value}' (known: {known})", offset)
            return (Sym(value), 1)
        if kind == "op" and value == "(":
            self.enter(offset)
            inner = self.expr()
            self.depth -= 1
            self.expect(")")
            return inner
        if kind == "end":
            self.fail("expression ends too soon", offset)
        self.fail(f"unexpected {_describe(kind, value)}", offset)


def _reduce(n, d: int) -> tuple:
    """n/d in lowest terms (d > 0)."""
    if d == 1:
        return n, 1
    g = d
    for c in _lift(n).values():
        g = _gcd(g, c)
        if g == 1:
            return n, d
    if type(n) is Sym:
        return _make({m: c // g for m, c in n._t.items()}), d // g
    return n // g, d // g


def _show(word: str) -> str:
    """A fragment of the text in a message: printable ASCII as is, anything else escaped (\\uff0b)."""
    out = []
    for ch in word[:40]:
        if " " <= ch <= "~" and ch not in "'\\":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def _describe(kind: str, value) -> str:
    if kind == "end":
        return "the end of the expression"
    if kind == "num":
        return f"number {value}"
    return f"'{_show(str(value))}'"


def parse(source: str, names=None):
    """The int or Sym written in `source`: + - * / // % ^ ** (or juxtaposed 2H), parentheses,
    floor(...) and ceil(...), numbers as 3932160, 3,932,160 or 3_932_160. `/` must leave a whole
    number for every size (floor/ceil say how to round otherwise). `names`: the sizes that may
    appear (None: any). Raises ExpressionError (with the offset of the fault) on anything else;
    the text, its nesting and the expansion it asks for are bounded (MAX_TEXT, MAX_DEPTH,
    MAX_EXPONENT, MAX_TERMS, MAX_WORK)."""
    if type(source) is not str:
        raise TypeError("parse() takes a str")
    if len(source) > MAX_TEXT:
        raise ExpressionError(f"expression too long (more than {MAX_TEXT} characters)", MAX_TEXT)
    if not source.strip():
        raise ExpressionError("empty expression", 0)
    known = None if names is None else frozenset(names)
    return _Parser(source, known).parse()
