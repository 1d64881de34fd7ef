"""Plain-text summaries in the manner of Keras' model.summary(), with more columns."""

from __future__ import annotations

from .. import ir
from ..report import Options, columns_for, rows, shape_with_batch
from .common import cell, explanation, memory_lines, title, totals_lines

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
def table(model: ir.Model, options: Options, ascii_only: bool = False) -> str:
    style = ASCII if ascii_only else BOX
    columns = columns_for(options)
    body = rows(model, options.depth)
    header = [title(c, options) for c in columns]
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
            parts.append(value.rjust(width) if column.numeric else value.ljust(width))
        return left + " " + f" {middle} ".join(parts) + " " + right

    out = [rule("top"), line(header, "head"), rule("rule")]
    out += [line(values, "body") for values in cells]
    out.append(rule("bottom"))
    return "\n".join(out)


def model_text(model: ir.Model, options: Options, ascii_only: bool = False) -> str:
    head = f'Model: "{model.name}"  input {shape_with_batch(model.input_shape, options.batch)}'
    if options.convention != "keras":
        head += f"  ({options.convention} convention)"
    parts = [head, table(model, options, ascii_only=ascii_only), "\n".join(" " + line for line in totals_lines(model, options))]
    if options.memory:
        parts.append("\n".join(memory_lines(model, options)))
    return "\n".join(parts)


def render(program, options: Options, ascii_only: bool = False) -> str:
    from ..report import comparisons
    from . import compare as emit_compare

    parts = [model_text(m, options, ascii_only) for m in program.models]
    parts += [emit_compare.text(comparison, options) for comparison in comparisons(program, options)]
    return "\n\n".join(parts) + "\n" if parts else ""
