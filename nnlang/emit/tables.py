"""Markdown, CSV, LaTeX and HTML tables: the rows of the text summary, other presentation."""

from __future__ import annotations

import csv
import html
import io
import os
import re

from ..report import Column, ModelReport, Options, Report, columns_for, fmt_shape
from . import compare
from .common import cell, explanation, memory_lines, memory_rows, memory_table, title, totals_lines

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


#: What CommonMark (with GFM tables) could read as markup inside a table cell or a list item;
#: an underscore between letters or digits (conv2d_1) never is.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def markdown_escape(text: str) -> str:
    """`text` as CommonMark shows it written: markup characters backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), text)


def markdown_code(text: str) -> str:
    """`text` as an inline code span: a fence longer than any run of backticks inside, and `|`
    escaped, as a GFM table cell requires even in code."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def _body(report: ModelReport):
    """(columns, [(row, cells)]) shared by every table format."""
    options = report.options
    columns = columns_for(options)
    return columns, [(row, [cell(row, c, options) for c in columns]) for row in report.rows]


def _markdown(report: Report) -> str:
    options = report.options
    parts = []
    for model_report in report.models:
        model = model_report.model
        columns, body = _body(model_report)
        lines = [f"### Model {markdown_code(model.name)}", ""]
        lines.append("| " + " | ".join(markdown_escape(title(c, options)) for c in columns) + " |")
        lines.append("|" + "|".join("---:" if c.numeric else "---" for c in columns) + "|")
        for row, values in body:
            values = [markdown_escape(v) for v in values]
            if columns[0] is Column.LAYER:
                values[0] = "&nbsp;" * (2 * row.depth) + values[0].strip()
            lines.append("| " + " | ".join(values) + " |")
            if options.explain:
                lines += [f"|{'&nbsp;' * (2 * row.depth + 2)}= {markdown_code(text)} |" + " |" * (len(columns) - 1)
                          for text in explanation(row, options.convention)]
        lines.append("")
        lines += [f"- {markdown_escape(line)}" for line in totals_lines(model_report)]
        if options.memory:
            lines += ["", "```", *memory_lines(model_report.memory), "```"]
        parts.append("\n".join(lines))
    parts += [compare.markdown(c, options) for c in report.comparisons]
    return "\n\n".join(parts) + "\n"


#: The columns of the memory section in CSV (--memory): one row per line of the text's section,
#: numbers of bytes and values without separators (empty when unknown).
CSV_MEMORY_HEADER = ("model", "item", "bytes", "values", "how")


def _csv(report: Report) -> str:
    options = report.options
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "depth", "name", "type", "output_shape", "params", "trainable_params",
                     "non_trainable_params", "macs", "flops", "pool_ops", "kernel", "stride", "padding", "activation"])
    for model_report in report.models:
        name = model_report.model.name
        for row in model_report.rows:
            shape = fmt_shape(row.output_shape) if row.output_shape else ""  # a scalar: an empty cell
            writer.writerow([name, row.depth, row.name, row.type, shape, row.params, row.trainable,
                             row.non_trainable, row.macs, row.ops("flops" if options.ops == "macs" else options.ops),
                             row.pool_ops, row.kernel, row.stride, row.padding, row.activation])
    if options.memory:  # a second table, after an empty line, with its own header
        buffer.write("\n")
        writer.writerow(CSV_MEMORY_HEADER)
        for model_report in report.models:
            writer.writerows(_csv_memory_rows(model_report))
    found = report.comparisons
    if found:  # a second table, after an empty line, with its own header
        buffer.write("\n")
        writer.writerow(compare.CSV_HEADER)
        for comparison in found:
            writer.writerows(compare.csv_rows(comparison))
    return buffer.getvalue()


def _csv_memory_rows(report: ModelReport) -> list[tuple]:
    """The memory section's lines (headings left out); a training line's item starts `training: `.
    `how` is the arithmetic of the JSON report's line, with the numbers."""
    def blank(value):
        return "" if value is None else value

    return [(report.model.name, f"training: {row.label}" if row.section == "training" else row.label,
             blank(row.line.bytes), blank(row.line.values), row.line.how)
            for row in memory_table(report.memory) if row.line is not None]


#: Sizes such as 5x5x3 or 1x1, typeset with multiplication signs.
_LATEX_DIMS = re.compile(r"[0-9?]+(?:x[0-9?]+)+")


def _latex_cell(text: str) -> str:
    text = text.strip()
    if _LATEX_DIMS.fullmatch(text):
        return "$" + r"\times ".join(text.split("x")) + "$"
    return latex_escape(text)


def _latex(report: Report) -> str:
    """One longtable per model (it breaks across pages, the header repeated on each, the
    totals inside it), in a size that fits an A4 page with 2 cm margins. Needs
    \\usepackage{booktabs,longtable}."""
    options = report.options
    parts = ["% nnc report: needs \\usepackage{booktabs,longtable} in the preamble"]
    for model_report in report.models:
        model = model_report.model
        columns, body = _body(model_report)
        width = len(columns)
        spec = "".join("r" if c.numeric else "l" for c in columns)
        header = " & ".join(latex_escape(title(c, options)) for c in columns) + r" \\"
        lines = [r"\begingroup", r"\footnotesize", r"\setlength{\tabcolsep}{4pt}",
                 rf"\begin{{longtable}}{{@{{}}{spec}@{{}}}}",
                 rf"\caption{{Model \texttt{{{latex_escape(model.name)}}}}} \\",
                 r"\toprule", header, r"\midrule", r"\endfirsthead",
                 rf"\multicolumn{{{width}}}{{@{{}}l}}{{\emph{{Model \texttt{{{latex_escape(model.name)}}}, "
                 r"continued}} \\", r"\toprule", header, r"\midrule", r"\endhead",
                 rf"\midrule \multicolumn{{{width}}}{{@{{}}r@{{}}}}{{\emph{{continued on the next page}}}} \\",
                 r"\endfoot", r"\endlastfoot"]
        for row, values in body:
            escaped = [_latex_cell(v) for v in values]
            if columns[0] is Column.LAYER and row.call:  # the call on a line of its own, to keep the width
                escaped[0] = (rf"\begin{{tabular}}[t]{{@{{}}l@{{}}}}{latex_escape(row.name)} [+]\\"
                              rf"\hspace{{1em}}{latex_escape(row.call)}\end{{tabular}}")
            if columns[0] is Column.LAYER and row.depth:
                escaped[0] = rf"\hspace{{{row.depth}em}}" + escaped[0]
            worked = explanation(row, options.convention) if options.explain else []
            # `\\*`: no page break between a layer and its formulas, nor inside the totals
            lines.append(" & ".join(escaped) + (r" \\*" if worked else r" \\"))
            lines += [rf"\multicolumn{{{width}}}{{@{{}}l@{{}}}}{{\hspace{{{row.depth + 1}em}}\scriptsize $=$ "
                      rf"\texttt{{{latex_escape(text)}}}}} " + (r"\\*" if number < len(worked) else r"\\")
                      for number, text in enumerate(worked, 1)]
        lines.append(r"\midrule")
        totals = totals_lines(model_report)
        lines += [rf"\multicolumn{{{width}}}{{@{{}}l@{{}}}}{{{latex_escape(line)}}} "
                  + (r"\\*" if number < len(totals) else r"\\") for number, line in enumerate(totals, 1)]
        lines += [r"\bottomrule", r"\end{longtable}", r"\endgroup"]
        if options.memory:
            lines += ["", r"\begin{center}", r"\footnotesize", r"\begin{tabular}{@{}lrl@{}}", r"\toprule"]
            for label, value, how in memory_rows(model_report.memory):
                if value:
                    lines.append(rf"\hspace{{1em}}{latex_escape(label.strip())} & {latex_escape(value)} & "
                                 rf"{latex_escape(how)} \\")
                else:
                    lines.append(rf"\multicolumn{{3}}{{@{{}}l}}{{{latex_escape(label)}}} \\")
            lines += [r"\bottomrule", r"\end{tabular}", r"\end{center}"]
        parts.append("\n".join(lines))
    parts += [compare.latex(c, options) for c in report.comparisons]
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #111; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ccc; text-align: left; white-space: pre; }
th { border-bottom: 2px solid #333; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.group td { font-weight: 600; }
tbody.layer { border-bottom: 1px solid #ccc; }
tbody.layer td { border-bottom: none; }
tr.explain td { color: #555; font-size: 0.9em; border-bottom: none; padding-top: 0; }
ul.totals { list-style: none; padding: 0; }
p.source { color: #555; margin-top: -0.5em; }
figure.diagram { margin: 1em 0; }
figure.diagram svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
p.note { color: #555; font-style: italic; }
@media print { body { margin: 0; } tr, tbody.layer { page-break-inside: avoid; break-inside: avoid; } }
""".strip()


_NUM = ' class="num"'

#: The page runs no script and loads nothing (the diagrams are inline SVG): the browser is told so,
#: and refuses anything else, were it ever to get in.
_POLICY = 'http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'"'

#: The most model names a page title lists; more are counted.
TITLE_NAMES = 4


def page_title(names: list, source_name: str) -> str:
    """The models' names (`naive, bottleneck`), or the file's own name when it has none."""
    names = list(dict.fromkeys(names))
    if not names:
        return os.path.basename(source_name) or "nnc report"
    shown = ", ".join(names[:TITLE_NAMES])
    return shown + (f" and {len(names) - TITLE_NAMES} more" if len(names) > TITLE_NAMES else "")


def _html_head(title: str, source_name: str) -> list[str]:
    esc = html.escape
    head = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', f"<meta {_POLICY}>",
            f"<title>{esc(title)}</title>", f"<style>\n{_CSS}\n</style>", "</head>", "<body>",
            f"<h1>{esc(title)}</h1>"]
    name = os.path.basename(source_name)
    if name:
        head.append(f'<p class="source">nnc report of <code>{esc(name)}</code></p>')
    return head


def _html(report: Report, source_name: str, diagrams: bool = False, warn=None) -> str:
    options = report.options
    esc = html.escape
    out = _html_head(page_title([m.model.name for m in report.models], source_name), source_name)
    missing = None  # why no diagram can be drawn at all (Graphviz is missing)
    for number, model_report in enumerate(report.models, 1):
        model = model_report.model
        columns, body = _body(model_report)
        out.append(f"<h2>Model <code>{esc(model.name)}</code></h2>")
        out.append("<table>")
        out.append("<thead><tr>" + "".join(f"<th{_NUM if c.numeric else ''}>{esc(title(c, options))}</th>"
                                           for c in columns) + "</tr></thead>")
        if not options.explain:
            out.append("<tbody>")
        for row, values in body:
            klass = ' class="group"' if row.is_group else ""
            cells = "".join(f"<td{_NUM if c.numeric else ''}>{esc(v)}</td>" for c, v in zip(columns, values))
            if options.explain:  # a layer and its formulas: one body, ruled below, kept on one page
                out.append('<tbody class="layer">')
            out.append(f"<tr{klass}>{cells}</tr>")
            if options.explain:
                for text in explanation(row, options.convention):
                    indent = "  " * (row.depth + 1)
                    out.append(f'<tr class="explain"><td colspan="{len(columns)}">{esc(indent)}= {esc(text)}</td></tr>')
                out.append("</tbody>")
        if not options.explain:
            out.append("</tbody>")
        out.append("</table>")
        out.append('<ul class="totals">' + "".join(f"<li>{esc(line)}</li>" for line in totals_lines(model_report))
                   + "</ul>")
        if options.memory:
            out.append("<pre>" + esc("\n".join(memory_lines(model_report.memory))) + "</pre>")
        if diagrams and model.root is not None:
            from .svg import GraphvizMissing, NoDiagram, model_svg

            try:
                if missing is not None:
                    raise missing
                drawing = model_svg(model, options, f"d{number}-")
            except NoDiagram as error:
                if warn is not None and missing is None:
                    warn(f"the HTML report has no diagrams: {error}" if isinstance(error, GraphvizMissing) else
                         f"the HTML report has no diagram of model '{model.name}': {error}")
                if isinstance(error, GraphvizMissing):
                    missing = error
                out.append(f'<p class="note">Diagram left out: {esc(str(error))}.</p>')
            else:
                out += ['<figure class="diagram">', drawing,
                        f"<figcaption>Model <code>{esc(model.name)}</code> (<code>nnc diagram</code>)</figcaption>",
                        "</figure>"]
    out += [compare.html(c, options) for c in report.comparisons]
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render(program, options: Options, fmt: str, source_name: str = "", source=None, diagrams: bool = False,
           warn=None) -> str:
    """The report in a table format. With the file's `source` (a Source), folded block calls show
    what they wrote; `diagrams`: the HTML report draws each model (Graphviz's dot), and `warn`
    receives why a diagram was left out."""
    report = Report.of(program, options, source)
    if fmt == "markdown":
        return _markdown(report)
    if fmt == "csv":
        return _csv(report)
    if fmt == "latex":
        return _latex(report)
    if fmt == "html":
        return _html(report, source_name, diagrams, warn)
    raise ValueError(fmt)


def render_comparison(comparison, options: Options, fmt: str, source_name: str = "") -> str:
    """One comparison (`nnc compare FILE A B`) as a document of its own in a table format."""
    if fmt == "markdown":
        return compare.markdown(comparison, options) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(compare.CSV_HEADER)
        writer.writerows(compare.csv_rows(comparison))
        return buffer.getvalue()
    if fmt == "latex":
        return "% nnc report: needs \\usepackage{booktabs} in the preamble\n\n" + compare.latex(comparison, options) + "\n"
    if fmt == "html":
        head = _html_head(f"{comparison.left.name} vs {comparison.right.name}", source_name)
        return "\n".join([*head, compare.html(comparison, options), "</body>", "</html>"]) + "\n"
    raise ValueError(fmt)
