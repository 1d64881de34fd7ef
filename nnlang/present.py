"""How a compiled layer's kernel, stride and padding read: the one place that writes them as text,
from the facts its kind declares (`LayerKind.facts`, numbers). The tables, the JSON report, the
diagram and the language server's hover all show what this module writes."""

from __future__ import annotations

from typing import NamedTuple

from . import ir
from .layers import kind_of
from .layers.base import Facts, Shown, fmt_axes, fmt_sizes


class Geometry(NamedTuple):
    """The Kernel, Stride and Padding columns of one layer ('' where it has none)."""

    kernel: str = ""
    stride: str = ""
    padding: str = ""


def facts(node: ir.LayerNode) -> Facts:
    """The layer's facts, as its kind declares them; none when its output is unknown."""
    if node.output_shape is None or node.input_shape is None:
        return Facts()
    return kind_of(node).facts(node.args, node.input_shape, node.window)


def kernel_text(f: Facts) -> str:
    """5x5x3, 1024x512, 4x96x32, ?x? (a size unknown until run time), 3x3x1 + 1x1x64."""
    if not f.kernel:
        return ""
    text = fmt_sizes(f.kernel)
    if f.pointwise:
        text += " + " + fmt_sizes(f.pointwise)
    return text


def stride_text(f: Facts) -> str:
    """2x2, 1x2."""
    return fmt_sizes(f.stride) if f.stride else ""


def padding_text(f: Facts) -> str:
    """A window's padding: 0, 2, 1x0 (per axis), 0/1 (before/after), same (2), same (0/1), ? where
    'same' depends on a named or unknown size; a transposed convolution's crop: 0, 1, same; zero padding: 1/2x3/4
    (top/bottom x left/right)."""
    if f.sides:
        top, bottom, left, right = f.sides
        return f"{top}/{bottom}x{left}/{right}"
    if f.crop is not None:
        if isinstance(f.crop, tuple):
            return "(" + ", ".join(str(v) for v in f.crop) + ")"
        return str(f.crop)
    if not f.padding:
        return ""
    parts = []
    for before, after in f.padding:
        if before is None or type(before) is not int or type(after) is not int:  # depends on a size
            parts.append("?")
        elif before == after:
            parts.append(str(before))
        else:
            parts.append(f"{before}/{after}")
    resolved = "x".join(parts) if len(set(parts)) > 1 else parts[0]
    return f"same ({resolved})" if f.same else resolved


def texts(f: Facts) -> Geometry:
    return Geometry(kernel_text(f), stride_text(f), padding_text(f))


def geometry(node: ir.LayerNode) -> Geometry:
    """The Kernel, Stride and Padding columns of a compiled layer."""
    return texts(facts(node))


def same_geometry_key(node: ir.LayerNode) -> tuple:
    """A key equal for layers whose geometry is equal, cheap to make, for a cache that lives no
    longer than the layers: layers of one kind on one input share the objects inference made
    for them (its memo), so the identity of those objects stands for the arguments."""
    return (node.kind, node.input_shape, node.output_shape, id(node.window), id(node.trainable), id(node.dims),
            id(node.macs))


def geometries(nodes) -> dict:
    """geometry() of many layers, keyed by id(node), each distinct geometry worked out once."""
    known: dict = {}
    out = {}
    for node in nodes:
        key = same_geometry_key(node)
        found = known.get(key)
        if found is None:
            found = known[key] = geometry(node)
        out[id(node)] = found
    return out


def shown(node: ir.LayerNode) -> Shown:
    """The layer's facts and their texts, as `LayerKind.describe` receives them."""
    f = facts(node)
    kernel, stride, padding = texts(f)
    step = "/" + fmt_axes(f.stride) if f.stride and set(f.stride) != {1} else ""
    pad = f"pad {padding}" if padding and set(padding.split("x")) != {"0"} else ""
    return Shown(f, kernel, stride, padding, step, pad)

