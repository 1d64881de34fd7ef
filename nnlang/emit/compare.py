"""Side-by-side reports of two models (`compare A, B` and `nnc compare FILE A B`)."""

from __future__ import annotations

from ..report import ModelComparison, Options, shape_with_batch


def _ratio(value) -> str:
    return "" if value is None else f"{value:.3f}x"


def text(comparison: ModelComparison, options: Options) -> str:
    header, body = _table(comparison, options)
    lines = [header, *body]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = [_title(comparison)]
    for number, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])]
        out.append("  " + "   ".join(cells).rstrip())
        if number == 0:
            out.append("  " + "   ".join("-" * w for w in widths))
    return "\n".join(out)


def json_data(comparison: ModelComparison) -> dict:
    from .json import shape_json  # here: the text report need not load the JSON writer

    return {
        "models": [comparison.left.name, comparison.right.name],
        "output_shapes": [shape_json(comparison.left.output_shape), shape_json(comparison.right.output_shape)],
        "rows": [{"label": r.label, "path": list(r.path), "values": [r.left, r.right], "ratio": r.ratio}
                 for r in comparison.rows],
    }


def _table(comparison: ModelComparison, options: Options) -> tuple[tuple, list[tuple]]:
    """The header and the rows every table format shows: label, left, right, ratio."""
    left, right = comparison.left, comparison.right
    header = ("", left.name, right.name, f"{right.name} / {left.name}")
    body = [("output shape", shape_with_batch(left.output_shape, options.batch),
             shape_with_batch(right.output_shape, options.batch), "")]
    body += [(row.label, _count(row.left), _count(row.right), _ratio(row.ratio)) for row in comparison.rows]
    return header, body


def _count(value) -> str:
    return "?" if value is None else f"{value:,}"


def _title(comparison: ModelComparison) -> str:
    return f"Comparison: {comparison.left.name} vs {comparison.right.name}"


def markdown(comparison: ModelComparison, options: Options) -> str:
    from .tables import markdown_code, markdown_escape

    header, body = _table(comparison, options)
    lines = [f"### Comparison: {markdown_code(comparison.left.name)} vs {markdown_code(comparison.right.name)}", "",
             "| " + " | ".join(markdown_escape(h) for h in header) + " |", "|---|---:|---:|---:|"]
    lines += ["| " + " | ".join(markdown_escape(v) for v in row) + " |" for row in body]
    return "\n".join(lines)


def html(comparison: ModelComparison, options: Options) -> str:
    from html import escape

    header, body = _table(comparison, options)
    out = [f"<h2>{escape(_title(comparison))}</h2>", '<table class="comparison">',
           "<thead><tr>" + f"<th>{escape(header[0])}</th>" + "".join(f'<th class="num">{escape(h)}</th>'
                                                                      for h in header[1:]) + "</tr></thead>",
           "<tbody>"]
    for row in body:
        out.append("<tr>" + f"<td>{escape(row[0])}</td>" + "".join(f'<td class="num">{escape(v)}</td>'
                                                                   for v in row[1:]) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def latex(comparison: ModelComparison, options: Options) -> str:
    from .tables import latex_escape

    header, body = _table(comparison, options)
    lines = [r"\begin{table}[htbp]", r"\centering", r"\small",
             rf"\caption{{Comparison: \texttt{{{latex_escape(comparison.left.name)}}} vs "
             rf"\texttt{{{latex_escape(comparison.right.name)}}}}}",
             r"\begin{tabular}{lrrr}", r"\toprule", " & ".join(latex_escape(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


#: The columns of a comparison in CSV: one row per figure, numbers without separators.
CSV_HEADER = ("compare", "label", "path", "left_model", "left", "right_model", "right", "ratio")


def csv_rows(comparison: ModelComparison) -> list[tuple]:
    left, right = comparison.left.name, comparison.right.name
    name = f"{left} vs {right}"
    return [(name, row.label, "/".join(row.path), left, "" if row.left is None else row.left, right,
             "" if row.right is None else row.right, "" if row.ratio is None else repr(row.ratio))
            for row in comparison.rows]
