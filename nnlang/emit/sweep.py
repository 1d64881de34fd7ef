"""`--sweep NAME=N,N,...`: one row per value of a named size (and per model), in text, CSV,
Markdown or JSON: how the parameters, the operations and the memory grow with the size."""

from __future__ import annotations

import csv
import io
import json

from ..report import Options, Report, amount_text, ops_title
from .common import count_text
from .json import expression_json
from .tables import markdown_escape

FORMATS = ("text", "csv", "markdown", "json")


def point_text(point: dict) -> str:
    """T=128, H=224."""
    return ", ".join(f"{name}={value}" for name, value in point.items())


def _rows(points: list, options: Options) -> list[dict]:
    """One dict per (point, model): the swept values, the counts and the memory (bytes)."""
    rows = []
    for point, program, point_options in points:
        for report in Report.of(program, point_options).models:
            totals, memory = report.totals, report.memory
            rows.append({
                "model": report.model.name,
                "sizes": point,
                "params": totals.params,
                options.ops.replace("-", "_"): totals.ops(options.ops),
                "pool_ops": totals.pool_ops,
                "inference_peak_bytes": memory.inference_peak.bytes,
                "training_bytes": memory.training[-1].bytes,
            })
    return rows


def render(points: list, names: list, options: Options, fmt: str) -> str:
    """`points`: (the sizes' values, the program compiled with them, its options: the batch may be
    one of the values), in sweep order."""
    rows = _rows(points, options)
    ops_key = options.ops.replace("-", "_")
    if fmt == "json":
        return json.dumps({"sweep": names, "rows": rows}, indent=2, default=expression_json) + "\n"
    keys = ["params", ops_key, "pool_ops", "inference_peak_bytes", "training_bytes"]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["model", *names, *keys])
        for row in rows:
            writer.writerow([row["model"], *(row["sizes"][n] for n in names),
                             *("" if row[k] is None else row[k] for k in keys)])
        return out.getvalue()
    batch = f", batch {options.batch}" if options.batch is not None else ""
    header = ["Model", *names, "Params", ops_title(options.ops), "Pooling ops", f"Inference peak{batch}",
              f"Training ({options.optimizer}){batch}"]
    table = [[row["model"], *(f"{row['sizes'][n]:,}" for n in names), count_text(row["params"]),
              count_text(row[ops_key]), count_text(row["pool_ops"]),
              amount_text(row["inference_peak_bytes"], options.units), amount_text(row["training_bytes"], options.units)]
             for row in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(markdown_escape(h) for h in header) + " |",
                 "|" + "|".join("---" if i < 1 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(markdown_escape(c) for c in line) + " |" for line in table]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(line[i]) for line in table)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for line in table:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
    return "\n".join(out) + "\n"
