"""Side-by-side reports of two models (`compare A, B` and `nnc compare FILE A B`)."""

from __future__ import annotations

from ..report import ModelComparison, Options, shape_with_batch


def _ratio(value) -> str:
    return "" if value is None else f"{value:.3f}x"


def text(comparison: ModelComparison, options: Options) -> str:
    left, right = comparison.left, comparison.right
    header = ("", left.name, right.name, f"{right.name} / {left.name}")
    lines = [header, ("output shape", shape_with_batch(left.output_shape, options.batch),
                      shape_with_batch(right.output_shape, options.batch), "")]
    for row in comparison.rows:
        lines.append((row.label, f"{row.left:,}", f"{row.right:,}", _ratio(row.ratio)))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = [f"Comparison: {left.name} vs {right.name}"]
    for number, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])]
        out.append("  " + "   ".join(cells).rstrip())
        if number == 0:
            out.append("  " + "   ".join("-" * w for w in widths))
    return "\n".join(out)


def json_data(comparison: ModelComparison) -> dict:
    return {
        "models": [comparison.left.name, comparison.right.name],
        "output_shapes": [_shape(comparison.left.output_shape), _shape(comparison.right.output_shape)],
        "rows": [{"label": r.label, "path": list(r.path), "values": [r.left, r.right], "ratio": r.ratio}
                 for r in comparison.rows],
    }


def _shape(shape):
    return None if shape is None else list(shape)
