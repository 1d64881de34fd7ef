"""Markdown and CSV tables: the same rows as the text summary, other presentation."""

from __future__ import annotations

import csv
import io

from ..report import Column, Memory, Options, rows
from .text import cell


def _markdown(program, options: Options) -> str:
    parts = []
    for model in program.models:
        totals = model.totals()
        memory = Memory(totals.params, options.dtype, options.units)
        lines = [f"### Model `{model.name}`", ""]
        lines.append("| " + " | ".join(c.title for c in Column) + " |")
        lines.append("|" + "|".join("---:" if c in (Column.PARAMS, Column.MACS) else "---" for c in Column) + "|")
        for row in rows(model, options.depth):
            values = [cell(row, c, options).replace("|", "\\|") for c in Column]
            values[0] = "&nbsp;" * (2 * row.depth) + values[0].strip()
            lines.append("| " + " | ".join(values) + " |")
        lines += [
            "",
            f"- Total params: {totals.params:,} ({memory.text()} at {options.dtype})",
            f"- Trainable params: {totals.trainable:,}",
            f"- Non-trainable params: {totals.non_trainable:,}",
            f"- MACs: {totals.macs:,}",
        ]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _csv(program, options: Options) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "depth", "name", "type", "output_shape", "params", "trainable_params",
                     "non_trainable_params", "macs", "kernel", "stride", "padding"])
    for model in program.models:
        for row in rows(model, options.depth):
            shape = "x".join("?" if d is None else str(d) for d in row.output_shape or ())
            writer.writerow([model.name, row.depth, row.name, row.type, shape, row.params, row.trainable,
                             row.non_trainable, row.macs, row.kernel, row.stride, row.padding])
    return buffer.getvalue()


def render(program, options: Options, fmt: str) -> str:
    return _markdown(program, options) if fmt == "markdown" else _csv(program, options)
