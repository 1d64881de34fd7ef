"""The layer registry: the one place where layer kinds are known.

The compiler, every report back end, the editors' keyword lists and the
documentation read the kinds, aliases, options and activation words from here.
"""

from __future__ import annotations

from typing import Optional

from ..formula import is_sym as is_symbolic
from . import attention, conv, dense, norm, pool, recurrent, select, shape, tokens
from .base import (ACTIVATIONS, BOOL_WORDS, PAD_WORDS, Applied, Arg, Args, Context, LayerKind, Layout, Result, Weighted,
                   Window, fmt_shape)

ALL_KINDS: tuple[LayerKind, ...] = (conv.KINDS + pool.KINDS + dense.KINDS + norm.KINDS + recurrent.KINDS
                                     + attention.KINDS + tokens.KINDS + shape.KINDS + select.KINDS)

_BY_NAME: dict[str, LayerKind] = {}
for _kind in ALL_KINDS:
    for _name in (_kind.name, *_kind.aliases):
        _BY_NAME.setdefault(_name.lower(), _kind)


def lookup(name: str) -> Optional[LayerKind]:
    """The kind for a canonical name or an alias (any letter case)."""
    return _BY_NAME.get(name.lower())


def kind_of(node) -> LayerKind:
    """The kind of a compiled layer (anything with the canonical name as its `kind`)."""
    return _BY_NAME[node.kind]


def statement_kinds() -> tuple[LayerKind, ...]:
    """Kinds that can be written as a statement (joins are written as concat/add blocks)."""
    return tuple(k for k in ALL_KINDS if k.statement)


def all_names() -> list[str]:
    """Every canonical name and alias a statement may use."""
    names = []
    for kind in statement_kinds():
        names.append(kind.name)
        names.extend(kind.aliases)
    return names


class BadValue(Exception):
    """A value that does not fit an argument; the message says what was expected."""


def coerce(spec: Arg, value, axes: int):
    """Convert an evaluated value (int, float, str, None for '?', tuple) to what `spec` wants."""
    if spec.convert is not None:  # a kind of value of its own: weights, a bias's values
        return spec.convert(spec, value, axes)
    kind = spec.type
    if kind == "count" or kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"{spec.name} must be an integer, got {_show(value)}")
        if kind == "count" and value <= 0:
            raise BadValue(f"{spec.name} must be positive, got {value}")
        return value
    if kind == "dims":
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,) * axes
        if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise BadValue(f"{spec.name} must be an integer or a shape such as 3x3, got {_show(value)}")
        if len(value) != axes:
            raise BadValue(f"{spec.name} needs {axes} value(s), one per axis, got {_show(value)}")
        minimum = spec.minimum
        if any(v < minimum for v in value):
            raise BadValue(f"{spec.name} must be {'non-negative' if minimum == 0 else 'positive'}, got {_show(value)}")
        return value
    if kind == "pad":
        if value in PAD_WORDS:
            return value
        if isinstance(value, str):
            raise BadValue(f"{spec.name} must be valid, same, an integer or HxW, got {_show(value)}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise BadValue(f"{spec.name} must not be negative, got {value}")
        dims = coerce(Arg(spec.name, "dims", doc=spec.doc, minimum=0), value, axes)
        return dims[0] if len(set(dims)) == 1 else dims
    if kind == "padding4":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return (value,) * 4
        if isinstance(value, tuple) and all(isinstance(v, int) and v >= 0 for v in value):
            if len(value) == 2:
                return (value[0], value[0], value[1], value[1])
            if len(value) == 4:
                return value
        raise BadValue(f"{spec.name} must be N, HxW or (top, bottom, left, right), got {_show(value)}")
    if kind == "bool":
        if isinstance(value, str) and value.lower() in BOOL_WORDS:
            return BOOL_WORDS[value.lower()]
        if value in (0, 1) and not isinstance(value, float):
            return bool(value)
        raise BadValue(f"{spec.name} must be true or false, got {_show(value)}")
    if kind == "rate":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
            return float(value)
        raise BadValue(f"{spec.name} must be a number in [0, 1), got {_show(value)}")
    if kind == "word":
        if isinstance(value, str) and value.lower() in spec.choices:
            return value.lower()
        raise BadValue(f"{spec.name} must be one of {', '.join(spec.choices)}, got {_show(value)}")
    if kind == "shape":
        if isinstance(value, int) and not isinstance(value, bool) or value is None or is_symbolic(value):
            value = (value,)
        elif isinstance(value, str) and spec.named:  # input T, input HxW: named sizes
            value = _named_shape(spec, value)
        if not isinstance(value, tuple) or not all(
                v is None or (isinstance(v, int) and not isinstance(v, bool)) or is_symbolic(v)
                or (spec.named and isinstance(v, str) and _size_name(v)) for v in value):
            raise BadValue(f"{spec.name} must be a shape such as 28x28x3 or (28, 28, 3)"
                           + (", with sizes named like HxWx3 or T" if spec.named else "") + f", got {_show(value)}")
        for v in value:
            if type(v) is int and v <= 0 and not (v == -1 and spec.inferred_entry):
                raise BadValue(f"{spec.name}: sizes must be positive, got {_show(value)}")
        return value
    raise AssertionError(f"unknown argument type {kind}")


def _size_name(word: str) -> bool:
    from ..symbolic import valid_name

    return valid_name(word)


def _named_shape(spec: Arg, word: str) -> tuple:
    """A word written as a shape: `T` or `seq_len` (one named size), `HxW` (capitalised names
    joined by x); a word with a number among its x-parts (`hxWx3`, `Tx512x`) was meant as a
    shape, and each part must then be a number or a capitalised name."""
    from ..symbolic import valid_name

    parts = word.split("x")
    if len(parts) > 1 and all(p[:1].isupper() and valid_name(p) for p in parts):
        return tuple(parts)
    if len(parts) > 1 and any(p.isdigit() for p in parts):
        raise BadValue(f"{spec.name}: {word!r} is not a shape: in a shape, a named size starts with a capital "
                       "letter and has no x, and sizes are joined by x (HxWx3, Tx512)")
    return (word,)


def _show(value) -> str:
    if isinstance(value, tuple):
        if all(isinstance(v, int) or v is None for v in value):
            return fmt_shape(value)
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if value is None:
        return "?"
    return str(value)


def spatial_axes(kind: LayerKind, shape) -> int:
    """How many values a per-axis option (kernel, stride) takes for this input."""
    if kind.ranks:
        return kind.ranks[0] - 1
    return max(len(shape) - 1, 1) if shape else 1


__all__ = [
    "ACTIVATIONS", "ALL_KINDS", "Applied", "Arg", "Args", "BadValue", "Context", "LayerKind", "Layout", "Result",
    "Weighted", "Window", "coerce", "kind_of", "lookup", "all_names", "statement_kinds", "spatial_axes",
]
