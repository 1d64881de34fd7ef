"""Plain-text summaries in the manner of Keras' model.summary(), with more columns."""

from __future__ import annotations

from ..report import ModelReport, Options, Report, columns_for, shape_with_batch
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
def table(report: ModelReport, ascii_only: bool = False) -> str:
    style = ASCII if ascii_only else BOX
    options = report.options
    columns = columns_for(options)
    body = report.rows
    header = [title(c, options) for c in columns]
    cells = []
    for row in body:
        cells.append([cell(row, c, options) for c in columns])
        if options.explain:
            for text in explanation(row, options.convention):
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


def model_text(report: ModelReport, ascii_only: bool = False) -> str:
    model, options = report.model, report.options
    head = f'Model: "{model.name}"  input {shape_with_batch(model.input_shape, options.batch)}'
    if options.convention != "keras":
        head += f"  ({options.convention} convention)"
    parts = [head, table(report, ascii_only=ascii_only), "\n".join(" " + line for line in totals_lines(report))]
    if options.memory:
        parts.append("\n".join(memory_lines(report.memory)))
    return "\n".join(parts)


def render(program, options: Options, ascii_only: bool = False, source=None) -> str:
    """The text report; with the file's `source` (a Source), folded block calls show what they wrote."""
    from . import compare as emit_compare

    report = Report.of(program, options, source)
    parts = [model_text(m, ascii_only) for m in report.models]
    parts += [emit_compare.text(comparison, options) for comparison in report.comparisons]
    return "\n\n".join(parts) + "\n" if parts else ""
