"""Reports as a person reads them: Markdown rendered by a CommonMark renderer, LaTeX typeset
by pdflatex on an A4 page with 2 cm margins, every format carrying the comparisons."""

from __future__ import annotations

import csv
import html
import io
import json
import sys
import re
import subprocess
from pathlib import Path

import pytest
from helpers_nnc import typeset_a4
from markdown_it import MarkdownIt

from nnlang.driver import compile_text
from nnlang.emit import tables, text as emit_text
from nnlang.report import Options

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXAM = """model exam1 {
    input 28x28x3
    conv2d 32 k=5 pad=same
    maxpool2d 2
    flatten
    dense 10 softmax
}
"""

NAIVE_VS_BOTTLENECK = """model naive {
    input 8x8x16
    module: concat {
        branch b1 { conv2d 8 k=1 }
        branch b3 { conv2d 8 k=3 pad=same }
    }
}
model bottleneck {
    input 8x8x16
    module: concat {
        branch b1 { conv2d 8 k=1 }
        branch b3 { conv2d 4 k=1; conv2d 8 k=3 pad=same }
    }
}
compare naive, bottleneck
"""


def render(source: str, fmt: str, **options) -> str:
    compilation = compile_text(source, "net.nn")
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    if fmt == "text":
        return emit_text.render(compilation.program, Options(**options))
    return tables.render(compilation.program, Options(**options), fmt, "net.nn")


def rendered_text(markdown: str) -> str:
    """What a reader sees: the HTML of a CommonMark renderer (with GFM tables), tags removed."""
    page = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<em>" not in page and "<strong>" not in page, "text was taken as emphasis"
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# --- Markdown -------------------------------------------------------------------------------------

def test_markdown_formulas_render_as_written():
    shown = rendered_text(render(EXAM, "markdown", explain=True))
    # conv2d 32 k=5 on 28x28x3, same padding: params 5*5*3*32 + 32 = 2432; MACs 28*28*32*(5*5*3) = 1881600
    assert "params: 5*5*3*32 + 32 = 2,432" in shown
    assert "MACs: 28*28*32*(5*5*3) = 1,881,600" in shown
    # maxpool2d 2 on 28x28x32: 14*14*32 outputs, 2*2 comparisons each
    assert "pool ops: 14*14*32*(2*2) = 25,088" in shown


def test_markdown_table_cells_keep_their_columns():
    page = MarkdownIt("commonmark").enable("table").render(render(EXAM, "markdown", explain=True))
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    widths = {len(re.findall(r"<t[dh]", row)) for row in rows}
    assert widths == {7}, widths  # no cell split by a '|' inside it


@pytest.mark.parametrize("text, shown", [("3*3*3*16", "3*3*3*16"), ("a_b_", "a_b_"), ("x|y", "x|y"),
                                         ("<script>", "<script>"), ("`code`", "`code`"), ("_x_", "_x_"),
                                         ("[link](http://e)", "[link](http://e)"), ("a\\*b", "a\\*b")])
def test_markdown_escape_renders_every_text_as_written(text, shown):
    table = f"| a | b |\n|---|---|\n| {tables.markdown_escape(text)} | {tables.markdown_code(text)} |\n"
    page = MarkdownIt("commonmark").enable("table").render(table)
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td>(.*?)</td>", page)]
    assert cells == [shown, shown], page


# --- LaTeX ------------------------------------------------------------------------------------------



def test_a_200_row_latex_report_breaks_across_pages_and_fits_a4(tmp_path):
    source = "model big {\n  input 32x32x3\n" + "".join(f"  conv2d {8 + i % 5} k=3 pad=same relu\n"
                                                        for i in range(200)) + "}\n"
    body = render(source, "latex", explain=True, memory=True)
    assert body.count(r"\begin{longtable}") == 1 and r"\endhead" in body
    log = typeset_a4(tmp_path, body)
    assert "Overfull" not in log and "Float too large" not in log
    pages = int(re.search(r"Output written on doc\.pdf \((\d+) pages?", log).group(1))
    assert pages > 5  # 200 layers with 3 formula lines each do not fit a page


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.stem)
def test_every_example_typesets_without_overfull_boxes(tmp_path, path):
    body = render(path.read_text(encoding="utf-8"), "latex", explain=True)
    log = typeset_a4(tmp_path, body)
    assert "Overfull" not in log and "Float too large" not in log


def test_latex_totals_are_inside_the_table_and_kernels_use_times():
    body = render(EXAM, "latex")
    table = body.split(r"\begin{longtable}")[1].split(r"\end{longtable}")[0]
    # conv2d: 5*5*3*32 + 32 = 2,432; dense on 14*14*32 = 6,272 inputs: 6272*10 + 10 = 62,730
    assert f"Total params: {2432 + 6272 * 10 + 10:,}" in table
    assert r"$5\times 5\times 3$" in table


# --- comparisons in every format ---------------------------------------------------------------------

# naive: b1 16*8 + 8 = 136, b3 3*3*16*8 + 8 = 1160; total 1296.
# bottleneck: b1 136, b3 16*4 + 4 = 68 and 3*3*4*8 + 8 = 296; total 500. Ratio 500/1296 = 0.386
@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "latex", "csv"])
def test_every_format_carries_the_comparison(fmt):
    out = render(NAIVE_VS_BOTTLENECK, fmt)
    if fmt == "csv":
        tables_found = out.split("\n\n")
        assert len(tables_found) == 2
        rows = list(csv.DictReader(io.StringIO(tables_found[1])))
        params = next(r for r in rows if r["label"] == "params")
        assert (params["left"], params["right"]) == ("1296", "500")
        assert float(params["ratio"]) == pytest.approx(500 / 1296)
        b3 = next(r for r in rows if r["label"] == "module/b3 params")
        assert (b3["left"], b3["right"]) == ("1160", str(68 + 296))
        return
    assert "1,296" in out and "500" in out and f"{500 / 1296:.3f}x" in out
    assert f"{(68 + 296) / 1160:.3f}x" in out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html", "latex", "csv"])
def test_nnc_compare_writes_every_format(tmp_path, fmt):
    path = tmp_path / "inception.nn"
    path.write_text(NAIVE_VS_BOTTLENECK, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "nnlang", "compare", str(path), "naive", "bottleneck",
                           "--format", fmt, "-o", str(tmp_path / f"out.{fmt}")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = (tmp_path / f"out.{fmt}").read_text(encoding="utf-8")
    if fmt == "json":
        rows = {row["label"]: row["values"] for row in json.loads(out)["rows"]}
        assert rows["params"] == [1296, 500]  # see test_every_format_carries_the_comparison
    elif fmt == "csv":
        rows = {row["label"]: (row["left"], row["right"]) for row in csv.DictReader(io.StringIO(out))}
        assert rows["params"] == ("1296", "500")
    else:
        assert "1,296" in out and f"{500 / 1296:.3f}x" in out


def test_markdown_folded_calls_render_as_written():
    """A folded call's arguments hold expressions (`2*2`, names with underscores): CommonMark shows them
    as written; a call inside a block shows the values its parameters got."""
    source = ("block inner(c_out) {\n    conv2d c_out k=1\n}\n"
              "block outer(c) {\n    inner(2*c*2)\n    inner(c_out=c)\n}\n"
              "model m {\n    input 4x4x2\n    inner(c_out=2*2)\n    outer(3)\n}\n")
    compilation = compile_text(source, "net.nn")
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    markdown = tables.render(compilation.program, Options(depth=1), "markdown", "net.nn", compilation.source)
    shown = rendered_text(markdown)
    assert "inner_1 (inner(c_out=2*2)) [+]" in shown and "outer_1 (outer(3)) [+]" in shown
    nested = rendered_text(tables.render(compilation.program, Options(depth=2), "markdown", "net.nn",
                                         compilation.source))
    # outer(3): inner(2*c*2) with c = 3 is inner(12), inner(c_out=c) is inner(3)
    assert "inner_2 (inner(12)) [+]" in nested and "inner_3 (inner(3)) [+]" in nested
    # 1x1 convolutions: 2*4 + 4 = 12 parameters, then outer: 4*12 + 12 + 12*3 + 3 = 99
    assert "| 12 |" in markdown and "| 99 |" in markdown
