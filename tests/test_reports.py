"""Reports for every reader: formats parse and agree with the JSON report, memory and operations
follow the arithmetic written here, the equation of a chain."""

import csv
import io
from html.parser import HTMLParser

import pytest

from helpers_nnc import EXAMPLES, nnc_in_process, nnc_json, run_nnc, typeset_a4
from nnlang.driver import compile_text

STRIDE2 = EXAMPLES / "exam_stride2_convs.nn"
EXAM = EXAMPLES / "exam_cnn_rgb28.nn"


def test_memory_answers_question_2_of_001():
    """Géron's exercise: three 3x3/2 'same' convolutions (100, 200, 400 maps) on 200x300x3, float32."""
    params = (3 * 3 * 3 + 1) * 100 + (3 * 3 * 100 + 1) * 200 + (3 * 3 * 200 + 1) * 400
    outputs = [100 * 150 * 100, 50 * 75 * 200, 25 * 38 * 400]
    image = 200 * 300 * 3
    (model,) = nnc_json(STRIDE2, "--batch", "50", "--optimizer", "sgd", in_process=True)["models"]
    memory = model["memory"]
    assert memory["params"]["bytes"] == params * 4 == 3_613_600
    assert memory["activations"]["values"] == sum(outputs) == 2_630_000
    # inference keeps a layer's input and output: the largest pair is conv2d_2 (1.5M in, 0.75M out)
    assert memory["inference_peak"]["layer"] == "conv2d_2"
    assert memory["inference_peak"]["bytes"] == (outputs[0] + outputs[1]) * 50 * 4
    lines = {line["label"]: line["bytes"] for line in memory["training"]["lines"]}
    assert lines["parameters"] == params * 4
    assert lines["gradients"] == params * 4
    assert lines["optimizer state (sgd: 0 per parameter)"] == 0
    assert lines["input and activations (batch 50)"] == (image + sum(outputs)) * 50 * 4 == 562_000_000
    assert lines["total"] == 2 * params * 4 + 562_000_000


def test_memory_section_in_text_is_labelled_with_units():
    proc = nnc_in_process(STRIDE2, "--memory", "--units", "iec")
    assert proc.returncode == 0
    assert "Memory (float32; KiB, MiB, GiB = 2^10, 2^20, 2^30 bytes)" in proc.stdout
    assert f"{3_613_600 / 2**20:,.2f} MiB" in proc.stdout  # parameters: 3.45 MiB
    # one sample: the peak pair holds 2,250,000 values * 4 B = 9,000,000 B = 8.58 MiB
    assert f"{2_250_000 * 4 / 2**20:,.2f} MiB" in proc.stdout


@pytest.mark.parametrize("optimizer, state", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_optimizer_state(optimizer, state):
    (model,) = nnc_json(EXAM, "--optimizer", optimizer, in_process=True)["models"]
    lines = {line["label"].split(" (")[0]: line["bytes"] for line in model["memory"]["training"]["lines"]}
    assert lines["optimizer state"] == state * 686_090 * 4


def test_flops_are_twice_the_macs_and_labelled():
    macs = 28 * 28 * 32 * 75 + 24 * 24 * 64 * 800 + 8 * 8 * 64 * 1600 + 1024 * 512 + 512 * 10
    proc = nnc_in_process(EXAM, "--ops", "flops")
    assert f"FLOPs (2 x MACs): {2 * macs:,}" in proc.stdout
    assert "FLOPs" in proc.stdout.splitlines()[2]


def test_flops_all_adds_bias_activations_and_pooling():
    (model,) = nnc_json(EXAM, in_process=True)["models"]
    totals = model["totals"]
    bias = 28 * 28 * 32 + 24 * 24 * 64 + 8 * 8 * 64 + 512 + 10
    activations = 512 + 10  # relu and softmax written on the dense layers
    pooling = 12 * 12 * 64 * 4 + 4 * 4 * 64 * 4
    assert (totals["bias_adds"], totals["activation_ops"], totals["pool_ops"]) == (bias, activations, pooling)
    proc = nnc_in_process(EXAM, "--ops", "flops-all")
    expected = 2 * totals["macs"] + bias + activations + pooling
    assert f"FLOPs (2 x MACs + bias adds + activations + pooling): {expected:,}" in proc.stdout


def test_columns_pick_and_order():
    proc = run_nnc(EXAM, "--columns", "params,layer,pool_ops", "--ascii")
    header = proc.stdout.splitlines()[2]
    assert header.index("Param #") < header.index("Layer (type)") < header.index("Pool ops")
    assert "Output Shape" not in header
    bad = run_nnc(EXAM, "--columns", "params,nope")
    assert bad.returncode == 2 and "unknown column 'nope'" in bad.stderr


def test_csv_and_markdown_agree_with_json():
    layers = nnc_json(EXAM, in_process=True)["models"][0]["layers"]
    rows = list(csv.DictReader(io.StringIO(nnc_in_process(EXAM, "--format", "csv").stdout)))
    assert [(r["name"], int(r["params"]), int(r["macs"])) for r in rows] == [
        (layer["name"], layer["params"], layer["macs"]) for layer in layers]
    markdown = nnc_in_process(EXAM, "--format", "markdown").stdout.splitlines()
    table = [line for line in markdown if line.startswith("| ") and "---" not in line][1:]
    assert [int(line.split("|")[3].strip().replace(",", "")) for line in table] == [
        layer["params"] for layer in layers]


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._row, self._in_cell = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._in_cell = True
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "tr":
            self.rows.append(self._row)
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self._row[-1] += data


def test_html_is_a_standalone_escaped_page(tmp_path):
    source = tmp_path / "m.nn"
    source.write_text("model a_b { input 4; dense 2 }")
    page = nnc_in_process(source, "--format", "html").stdout
    assert page.startswith("<!DOCTYPE html>") and "@media print" in page
    parser = _Cells()
    parser.feed(page)
    assert parser.rows[1][:3] == ["dense_1 (dense)", "(None, 2)", "10"]
    hostile = tmp_path / "<script>.nn"
    hostile.write_text("model m { input 4; dense 2 }")
    assert "<script>" not in nnc_in_process(hostile, "--format", "html").stdout


def test_latex_is_booktabs_and_escaped():
    text = nnc_in_process(EXAMPLES / "exam_dense_no_bias.nn", "--format", "latex").stdout
    assert r"\toprule" in text and r"\midrule" in text and r"\bottomrule" in text
    assert r"dense\_1 (dense, tanh) & (None, 500) & 600,000" in text
    body = text.split(r"\begin{longtable}")[1].split(r"\end{longtable}")[0]
    assert "_" not in body.replace(r"\_", "")


def test_equation_of_question_1f_of_004():
    text = nnc_in_process(EXAMPLES / "exam_dense_no_bias.nn", "--format", "equation").stdout
    assert r"\tanh\left(W_{3}\, \tanh\left(W_{2}\, \tanh\left(W_{1}\, x\right)\right)\right)" in text
    assert r"W_{1} \in \mathbb{R}^{500 \times 1200}" in text
    assert r"W_{3} \in \mathbb{R}^{25 \times 750}" in text


def test_equation_needs_a_chain(tmp_path):
    path = tmp_path / "b.nn"
    path.write_text("model m { input 8x8x3; concat { branch {} branch { conv2d 4 k=1 } } }")
    proc = nnc_in_process(path, "--format", "equation")
    assert proc.returncode == 1 and "needs a chain" in proc.stderr


def test_depth_folds_blocks(tmp_path):
    path = tmp_path / "d.nn"
    path.write_text("block b(c) { conv2d c k=1; conv2d c k=1 }\nmodel m { input 4x4x2; b(3); b(5) }")
    full = nnc_in_process(path, "--ascii").stdout
    folded = nnc_in_process(path, "--ascii", "--depth", "1").stdout
    assert full.count("(conv2d)") == 4 and folded.count("(conv2d)") == 0
    # a folded row shows the call as written: b(3) holds (2 + 1)*3 + (3 + 1)*3 parameters
    assert "b_1 (b(3)) [+]" in folded and f"{(2 * 3 + 3) + (3 * 3 + 3):,}" in folded
    assert "b_2 (b(5)) [+]" in folded


def test_latex_compiles_in_a_plain_document(tmp_path):
    """A real TeX engine (pdflatex, installed by CI) typesets the booktabs longtables."""
    import shutil
    import subprocess

    assert shutil.which("pdflatex"), "pdflatex is missing: apt-get install texlive-latex-base texlive-latex-recommended"
    nnc_in_process(EXAMPLES / "inception_naive_vs_bottleneck.nn", "--format", "latex", "--explain", "-o",
            tmp_path / "table.tex")
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs,longtable}\n\\begin{document}\n"
                                      "\\input{table.tex}\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


@pytest.mark.parametrize("text", [
    *[path.read_text() for path in sorted(EXAMPLES.glob("*.nn"))],
    "model chain {\n    input 8x8x4\n    repeat 6 { conv2d 4 k=3 pad=same relu; batchnorm }\n    flatten\n}\n",
])
def test_shared_json_encoding_is_each_layers_own(text):
    """The JSON report encodes layers equal but for name, path and line once: every line must
    still be that layer's own layer_json (a count or size of open sizes as its expression object)."""
    import json

    from nnlang.emit.json import _encoded_layers, expression_json, layer_json

    program = compile_text(text).program
    for model in program.models:
        lines = _encoded_layers(model.layers)
        own = [json.loads(json.dumps(layer_json(node), default=expression_json)) for node in model.layers]
        assert [json.loads(line) for line in lines] == own


# --- folded block calls show what they wrote --------------------------------------------------------

CALLS = """block down(c) {
    conv2d c k=3 s=2 pad=same
}
block basic(c, s=1) {
    conv2d c k=3 s=s pad=same
    conv2d c k=3 pad=same
}
block stage(c) {
    down(c)
    basic(c, 1)
}
model net {
    input 32x32x3
    down(32)
    first: basic(64, 2)      -> 8x8x64
    basic 64 s=1
    basic(64,    # channels
          s=1)
    stage(16)
}
"""


def _table_of(tmp_path, text: str, *options: str) -> str:
    path = tmp_path / "net.nn"
    path.write_text(text, encoding="utf-8")
    proc = nnc_in_process(path, *options)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("fmt, row", [
    ("text", "down_1 (down(32)) [+]"), ("markdown", r"down_1 (down(32)) \[+\]"),
    ("html", "<td>down_1 (down(32)) [+]</td>"), ("latex", r"down\_1 [+]\\\hspace{1em}down(32)")])
def test_folded_rows_show_the_call_with_its_arguments(tmp_path, fmt, row):
    out = _table_of(tmp_path, CALLS, "--depth", "1", "--format", fmt, "--no-diagram")
    assert row in out
    # a label and an expectation are not part of the call; a call without parentheses reads as written;
    # a call over two lines is one line without its comment
    for call in ("basic(64, 2)", "basic 64 s=1", "basic(64, s=1)", "stage(16)"):
        assert call in out, call
    assert "->" not in out and "channels" not in out


def test_nested_folded_calls_show_the_values_their_parameters_got(tmp_path):
    out = _table_of(tmp_path, CALLS, "--depth", "2", "--ascii")
    assert "| stage_1 (stage)" in out  # unfolded: its layers' rows follow
    # stage(16) calls down(c) and basic(c, 1) with c = 16
    assert "|   down_2 (down(16)) [+]" in out and "|   basic_3 (basic(16, 1)) [+]" in out


def test_unfolded_rows_and_csv_keep_the_block_name(tmp_path):
    assert "down_1 (down)" in _table_of(tmp_path, CALLS, "--ascii")
    rows = list(csv.DictReader(io.StringIO(_table_of(tmp_path, CALLS, "--depth", "1", "--format", "csv"))))
    assert [(r["name"], r["type"]) for r in rows][:2] == [("down_1", "down"), ("first", "basic")]


def test_folded_latex_tables_of_every_example_fit_a4(tmp_path):
    """With --depth 1, the calls of GoogLeNet's inception modules (six arguments each) still fit."""
    body = []
    for path in sorted(EXAMPLES.glob("*.nn")):
        proc = nnc_in_process(path, "--format", "latex", "--depth", "1")
        assert proc.returncode == 0, proc.stderr
        body.append(proc.stdout)
    assert r"\hspace{1em}inception(384, 192, 384, 48, 128, 128)\end{tabular}" in "".join(body)
    assert "Overfull" not in typeset_a4(tmp_path, "\n".join(body))


# --- a labelled or stand-alone join is shown once ---------------------------------------------------

JOINS = """block residual(c) {
    add {
        branch main { conv2d c k=3 pad=same }
        branch {}
    }
}
model m {
    input 8x8x4
    concat {
        branch { conv2d 2 k=1 }
        branch { conv2d 3 k=1 }
    }
    mix: add {
        branch { conv2d 5 k=1 }
        branch {}
    }
    residual(5)
}
"""


@pytest.mark.parametrize("fmt, concat, mix", [
    ("text", "concat_1 (concat)", "mix (add)"), ("markdown", "concat_1 (concat)", "mix (add)"),
    ("html", "<td>concat_1 (concat)</td>", "<td>mix (add)</td>"), ("latex", r"concat\_1 (concat)", "mix (add)"),
    ("csv", ",concat_1,concat,", ",mix,add,")])
def test_a_join_group_and_its_join_are_one_row(tmp_path, fmt, concat, mix):
    out = _table_of(tmp_path, JOINS, "--format", fmt, "--no-diagram")
    assert out.count(concat) == 1 and out.count(mix) == 1
    # the join inside a block keeps its row: the block's row is the call's
    assert out.count(r"add\_1" if fmt == "latex" else "add_1") == 1


def test_the_join_groups_row_carries_the_totals_and_the_output(tmp_path):
    rows = list(csv.DictReader(io.StringIO(_table_of(tmp_path, JOINS, "--format", "csv"))))
    by_name = {(r["depth"], r["name"]): r for r in rows}
    concat = by_name[("0", "concat_1")]
    # conv2d 2 k=1 on 4 channels: 4*2 + 2 = 10; conv2d 3 k=1: 4*3 + 3 = 15; output 8x8x(2 + 3)
    assert (concat["params"], concat["output_shape"]) == (str(10 + 15), "8x8x5")
    # conv2d 5 k=1 on 5 channels: 5*5 + 5 = 30, added to the identity: 8x8x5
    assert (by_name[("0", "mix")]["params"], by_name[("0", "mix")]["output_shape"]) == ("30", "8x8x5")
    names = [r["name"] for r in rows]
    assert names == ["concat_1", "branch_1", "conv2d_1", "branch_2", "conv2d_2", "mix", "branch_1", "conv2d_3",
                     "branch_2", "residual_1", "main", "conv2d_4", "branch_2", "add_1"]


# --- weights: one documented orientation ------------------------------------------------------------

def test_the_equation_labels_its_orientation_against_the_kernel_column(tmp_path):
    """exam_dense_no_bias.nn: dense 500 on 1200 inputs. The Kernel column writes the weights inputs
    first (1200x500, as Keras' kernel); y = W x needs W outputs x inputs (500x1200): the equation says so."""
    table = nnc_in_process(EXAMPLES / "exam_dense_no_bias.nn", "--ascii").stdout
    assert "| dense_1 (dense, tanh) | (None, 500)  | 600,000 | 1200x500 |" in table
    text = nnc_in_process(EXAMPLES / "exam_dense_no_bias.nn", "--format", "equation").stdout
    assert r"W_{1} \in \mathbb{R}^{500 \times 1200}" in text
    assert r"$W$ is outputs $\times$ inputs" in text
    assert r"Kernel column of the summary writes inputs $\times$ outputs" in text
    conv = nnc_in_process(EXAMPLES / "lenet5.nn", "--format", "equation").stdout
    assert r"K_{1} \in \mathbb{R}^{5 \times 5 \times 1 \times 6}" in conv
    assert r"$K$ is the kernel's size along each axis $\times$ input channels $\times$ filters" in conv
    docs = (EXAMPLES.parent / "docs" / "conventions.md").read_text(encoding="utf-8")
    assert "## Orientation of weights" in docs and "`1200x500`" in docs and "500 \\times 1200" in docs


def test_the_equation_with_its_labels_typesets(tmp_path):
    import shutil
    import subprocess

    assert shutil.which("pdflatex"), "pdflatex is missing: apt-get install texlive-latex-base texlive-latex-recommended"
    body = "".join(nnc_in_process(EXAMPLES / name, "--format", "equation").stdout
                   for name in ("exam_dense_no_bias.nn", "lenet5.nn"))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{amssymb}\n\\begin{document}\n" + body
                                      + "\\end{document}\n", encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
