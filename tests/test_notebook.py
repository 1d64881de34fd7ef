"""Notebooks: the `%%nn` cell magic (nnlang.notebook) on its own, then real notebooks run by a real
Jupyter kernel (nbclient + ipykernel), their outputs checked as a reader would see them."""

from __future__ import annotations

import shutil

import nbclient
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from helpers_nnc import EXAMPLES
from nnlang.notebook import run_cell

CELL = "model tiny {\n    input 8\n    dense 4 relu\n}\n"
LSTM = "model r {\n    input 10x8\n    lstm 16\n}\n"
#: a kernel starts and runs these notebooks in a few seconds; this only guards against a hang
HANG_GUARD = 120


def _html(bundles) -> str:
    return "\n".join(b.get("text/html", "") for b in bundles)


def test_magic_shows_the_table_and_the_diagram():
    bundles = run_cell("", CELL)
    (bundle,) = bundles
    assert "dense_1 (dense, relu)" in bundle["text/html"]
    assert "<td" in bundle["text/html"] and ">36<" in bundle["text/html"]  # 8*4 + 4
    assert bundle["image/svg+xml"].startswith("<svg")


def test_magic_options():
    explained = _html(run_cell("--explain --no-diagram", CELL))
    assert "= params: 8*4 + 4 = 36" in explained and "<svg" not in explained
    keras = run_cell("--no-diagram", LSTM)[0]["text/plain"]
    pytorch = run_cell("--convention pytorch --no-diagram", LSTM)[0]["text/plain"]
    assert f"Total params: {4 * (16 * (8 + 16) + 16):,}" in keras
    assert f"Total params: {4 * (16 * (8 + 16) + 2 * 16):,}" in pytorch
    sized = run_cell("--set T=10 --no-diagram", "model s {\n  input Tx4\n  dense 2\n}")
    assert f"MACs: {10 * 4 * 2}" in sized[-1]["text/plain"]
    markdown = run_cell("--format markdown", CELL)[0]
    assert markdown["text/markdown"].startswith("### Model `tiny`")
    namespace: dict = {}
    run_cell("--name program", CELL, namespace=namespace)
    assert namespace["program"].models["tiny"].totals.params == 36
    with pytest.raises(ValueError):
        run_cell("--convention tf", CELL)
    with pytest.raises(ValueError):
        run_cell("--name 1x", CELL)


def test_magic_locates_errors_in_the_cell():
    (bundle,) = run_cell("", "model m {\n    input 8\n    dense 4 frobnicate\n}\n")
    # line 1 of the cell is the %%nn line: the third line of the body is the cell's fourth
    assert bundle["text/plain"].startswith("cell:4:13: error[E104]: unknown activation 'frobnicate'")
    assert "4 |     dense 4 frobnicate" in bundle["text/plain"]
    assert "&#x27;frobnicate&#x27;" in bundle["text/html"] or "&#39;frobnicate&#39;" in bundle["text/html"]


def test_magic_shows_a_compare_as_its_ratio_table():
    text = "model a { input 4; dense 2 }\nmodel b { input 4; dense 4 }\ncompare a, b\n"
    html = _html(run_cell("--no-diagram", text))
    assert "Comparison: a vs b" in html
    assert "2.000x" in html  # params (4*4 + 4) / (4*2 + 2) = 20 / 10


def _run(notebook):
    client = nbclient.NotebookClient(notebook, timeout=HANG_GUARD, kernel_name="python3", allow_errors=False)
    client.execute()
    return notebook


def _outputs(cell) -> list:
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def test_a_notebook_run_by_a_real_kernel():
    assert shutil.which("dot"), "Graphviz's dot draws the diagrams these tests look for"
    notebook = new_notebook(cells=[
        new_code_cell("%load_ext nnlang"),
        new_code_cell("%%nn --explain --name program\n" + CELL),
        new_code_cell("%%nn\nmodel bad {\n    input 8\n    dense 4 frobnicate\n}"),
        new_code_cell("program.models['tiny']"),
        new_code_cell("import nnlang\nnnlang.loads('model s { input Tx4; dense 2 }').models['s']"
                      ".plot_sweep('T', [8, 16])"),
    ])
    _run(notebook)
    table, error, value, plot = (_outputs(cell) for cell in notebook.cells[1:])
    assert "<table" in table[0]["data"]["text/html"] and "= params: 8*4 + 4 = 36" in table[0]["data"]["text/html"]
    assert table[0]["data"]["image/svg+xml"].startswith("<svg")
    assert error[0]["data"]["text/plain"].startswith("cell:4:13: error[E104]")
    assert "^^^^^^^^^^" in error[0]["data"]["text/html"]
    assert "image/svg+xml" in value[0]["data"] and "<table" in value[0]["data"]["text/html"]
    assert plot[0]["data"]["image/png"]


def test_the_example_handout_runs():
    notebook = _run(nbformat.read(EXAMPLES / "inception_handout.ipynb", as_version=4))
    shown = "\n".join(o["data"].get("text/html", "") for cell in notebook.cells if cell.cell_type == "code"
                      for o in _outputs(cell))
    assert "Comparison: naive vs bottleneck" in shown
    assert "0.372x" in shown  # 8,791,261,184 / 23,622,320,128 MACs
    printed = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "23,622,320,128 / 8,791,261,184 = 2.69" in printed
    # the deliberate mistake is shown located: 128*128*64*(5*5*64) = 1,677,721,600, not 3,355,443,200
    assert "cell:4:" in shown and "error[E303]" in shown
