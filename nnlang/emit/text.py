"""Plain-text summaries in the manner of Keras' model.summary(), with more columns."""

from __future__ import annotations

from .. import ir
from ..report import Column, Memory, Options, Row, rows, shape_with_batch

BOX = {
    "top": ("┏", "━", "┳", "┓"),
    "head": ("┃", "┃", "┃"),
    "rule": ("┡", "━", "╇", "┩"),
    "body": ("│", "│", "│"),
    "bottom": ("└", "─", "┴", "┘"),
}
ASCII = {
    "top": ("+", "-", "+", "+"),
    "head": ("|", "|", "|"),
    "rule": ("+", "=", "+", "+"),
    "body": ("|", "|", "|"),
    "bottom": ("+", "-", "+", "+"),
}
NUMERIC = {Column.PARAMS, Column.MACS}


def cell(row: Row, column: Column, options: Options) -> str:
    if column is Column.LAYER:
        kind = row.type + (f", {row.activation}" if row.activation else "")
        mark = " [+]" if row.collapsed else ""
        return f"{'  ' * row.depth}{row.name} ({kind}){mark}"
    if column is Column.OUTPUT:
        return shape_with_batch(row.output_shape, options.batch)
    if column is Column.PARAMS:
        return f"{row.params:,}"
    if column is Column.MACS:
        return f"{row.macs:,}"
    return getattr(row, column.key)


def explanation(row: Row) -> list[str]:
    """The worked formulas of one layer row, as a student writes them."""
    node = row.layer
    if node is None:
        return []
    lines = []
    named = [d for d in node.dims if d is not None and not d.is_literal]
    if named:
        worked = list(dict.fromkeys(d.worked() for d in named))  # height and width alike: shown once
        lines.append("output: " + ", ".join(worked) + (" (each axis)" if len(worked) < len(named) else ""))
    if not node.trainable.is_literal:
        lines.append("params: " + node.trainable.worked())
    if not node.non_trainable.is_literal:
        lines.append("non-trainable: " + node.non_trainable.worked())
    if not node.macs.is_literal:
        lines.append("MACs: " + node.macs.worked())
    if not node.pool_ops.is_literal:
        lines.append("pool ops: " + node.pool_ops.worked())
    return lines


def table(model: ir.Model, options: Options, columns=tuple(Column), ascii_only: bool = False) -> str:
    style = ASCII if ascii_only else BOX
    body = rows(model, options.depth)
    header = [c.title for c in columns]
    cells = []
    for row in body:
        cells.append([cell(row, c, options) for c in columns])
        if options.explain:
            for text in explanation(row):
                cells.append(["  " * (row.depth + 1) + "= " + text] + [""] * (len(columns) - 1))
    widths = [max([len(h)] + [len(line[i]) for line in cells]) for i, h in enumerate(header)]

    def rule(kind: str) -> str:
        left, fill, cross, right = style[kind]
        return left + cross.join(fill * (w + 2) for w in widths) + right

    def line(values, kind: str) -> str:
        left, middle, right = style[kind]
        parts = []
        for value, width, column in zip(values, widths, columns):
            parts.append(value.rjust(width) if column in NUMERIC else value.ljust(width))
        return left + " " + f" {middle} ".join(parts) + " " + right

    out = [rule("top"), line(header, "head"), rule("rule")]
    out += [line(values, "body") for values in cells]
    out.append(rule("bottom"))
    return "\n".join(out)


def totals_text(model: ir.Model, options: Options) -> str:
    totals = model.totals()
    memory = Memory(totals.params, options.dtype, options.units)
    lines = [
        f" Total params: {totals.params:,} ({memory.text()} at {options.dtype})",
        f" Trainable params: {totals.trainable:,}",
        f" Non-trainable params: {totals.non_trainable:,}",
        f" MACs: {totals.macs:,}" + (" (per time step where the length is unknown)" if _per_step(model) else ""),
    ]
    if totals.pool_ops:
        lines.append(f" Pooling operations (not MACs): {totals.pool_ops:,}")
    if options.explain:
        lines.append(f" Parameter memory: {memory.worked()}")
    return "\n".join(lines)


def _per_step(model: ir.Model) -> bool:
    return any(n.family == "recurrent" and n.input_shape and n.input_shape[0] is None for n in model.layers)


def model_text(model: ir.Model, options: Options, ascii_only: bool = False) -> str:
    head = f'Model: "{model.name}"  input {shape_with_batch(model.input_shape, options.batch)}'
    if options.convention != "keras":
        head += f"  ({options.convention} convention)"
    return "\n".join([head, table(model, options, ascii_only=ascii_only), totals_text(model, options)])


def render(program, options: Options, ascii_only: bool = False) -> str:
    from ..report import compare
    from . import compare as emit_compare

    parts = [model_text(m, options, ascii_only) for m in program.models]
    for comparison in program.comparisons:
        left, right = (program.model(name) for name in comparison.names[:2])
        parts.append(emit_compare.text(compare(left, right, options), options))
    return "\n\n".join(parts) + "\n" if parts else ""
