"""A count that depends on a size unknown until run time reads as unknown in every report,
never as 0; the counts that do not depend on it (parameters, a dense layer on a known input)
stay known."""

from __future__ import annotations

import csv
import io
import json

from helpers_nnc import assert_no_traceback, nnc_in_process, run_nnc

# conv2d 8 k=3 on ?x?x3: its MACs are ?*?*8*(3*3*3), unknown; the pooled size is unknown too
CONV = """model m {
    input ?x?x3
    conv2d 8 k=3 pad=same
    globalavgpool2d
    dense 2
}
"""
CONV_PARAMS = 3 * 3 * 3 * 8 + 8  # 224
DENSE_PARAMS = 8 * 2 + 2  # 18
DENSE_MACS = 8 * 2  # 16

POOL = """model p {
    input ?x?x4
    maxpool2d 2
    globalmaxpool2d
}
"""

SEQUENCE = """model s {
    input ?x16
    dense 4
}
"""

COMPARE = """model known {
    input 8x8x3
    conv2d 8 k=3 pad=same
    globalavgpool2d
    dense 2
}

model unknown {
    input ?x?x3
    conv2d 8 k=3 pad=same
    globalavgpool2d
    dense 2
}

compare known, unknown
"""


def _write(tmp_path, text: str, name: str = "net.nn"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(*args):
    proc = nnc_in_process(*args)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _row(text: str, name: str) -> list[str]:
    """The cells of the text table's row of layer `name`."""
    line = next(line for line in text.splitlines() if line.startswith("│ " + name + " "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_text_shows_unknown_macs_as_a_question_mark_and_the_total_as_unknown(tmp_path):
    out = _run(_write(tmp_path, CONV))
    conv = _row(out, "conv2d_1")
    assert conv[2] == f"{CONV_PARAMS}" and conv[-1] == "?"
    assert _row(out, "globalavgpool2d_1")[-1] == "0"  # pooling is not a MAC
    dense = _row(out, "dense_1")
    assert dense[2] == f"{DENSE_PARAMS}" and dense[-1] == f"{DENSE_MACS}"
    assert f"Total params: {CONV_PARAMS + DENSE_PARAMS}" in out
    assert "MACs: ? (unknown: conv2d_1 depends on a size unknown until run time)" in out
    assert "MACs: 16" not in out and "MACs: 0" not in out
    assert "Pooling operations (not MACs): ? (unknown: globalavgpool2d_1 depends on" in out


def test_json_gives_null_for_an_unknown_count_and_total(tmp_path):
    data = json.loads(_run(_write(tmp_path, CONV), "--format", "json"))
    model = data["models"][0]
    conv, pool, dense = model["layers"]
    assert conv["macs"] is None and conv["params"] == CONV_PARAMS
    assert pool["pool_ops"] is None and pool["macs"] == 0
    assert dense["macs"] == DENSE_MACS and dense["params"] == DENSE_PARAMS
    totals = model["totals"]
    assert totals["macs"] is None and totals["pool_ops"] is None
    assert totals["params"] == CONV_PARAMS + DENSE_PARAMS
    assert totals["bias_adds"] is None  # the convolution adds 8 biases at each of ?x? positions
    assert totals["unknown_layers"] == ["conv2d_1", "globalavgpool2d_1"]


def test_pooling_over_an_unknown_size_is_unknown(tmp_path):
    path = _write(tmp_path, POOL)
    out = _run(path)
    assert "Pooling operations (not MACs): ? (unknown: maxpool2d_1, globalmaxpool2d_1 depend on" in out
    data = json.loads(_run(path, "--format", "json"))
    assert [layer["pool_ops"] for layer in data["models"][0]["layers"]] == [None, None]
    assert [layer["macs"] for layer in data["models"][0]["layers"]] == [0, 0]


def test_dense_on_an_unknown_number_of_positions_has_unknown_macs(tmp_path):
    path = _write(tmp_path, SEQUENCE)
    out = _run(path)
    dense = _row(out, "dense_1")
    assert dense[2] == f"{16 * 4 + 4}" and dense[-1] == "?"
    assert "MACs: ? (unknown: dense_1 depends on a size unknown until run time)" in out
    data = json.loads(_run(path, "--format", "json"))
    assert data["models"][0]["layers"][0]["macs"] is None
    assert data["models"][0]["totals"]["macs"] is None


def test_csv_leaves_an_unknown_count_empty(tmp_path):
    rows = list(csv.DictReader(io.StringIO(_run(_write(tmp_path, CONV), "--format", "csv"))))
    conv, pool, dense = rows
    assert (conv["params"], conv["macs"], conv["flops"]) == (f"{CONV_PARAMS}", "", "")
    assert (pool["macs"], pool["pool_ops"]) == ("0", "")
    assert (dense["macs"], dense["flops"]) == (f"{DENSE_MACS}", f"{2 * DENSE_MACS}")


def test_flops_all_with_an_unknown_part_is_unknown(tmp_path):
    out = _run(_write(tmp_path, CONV), "--ops", "flops-all")
    assert _row(out, "conv2d_1")[-1] == "?"
    # the dense: 2 x 16 MACs + 2 bias adds, no activation
    assert _row(out, "dense_1")[-1] == f"{2 * DENSE_MACS + 2}"
    assert ("FLOPs (2 x MACs + bias adds + activations + pooling): ? (unknown: conv2d_1, globalavgpool2d_1 "
            "depend on a size unknown until run time)") in out


def test_compare_with_an_unknown_side_shows_a_question_mark_and_no_ratio(tmp_path):
    path = _write(tmp_path, COMPARE)
    out = _run(path)
    macs = next(line for line in out.splitlines() if line.strip().startswith("MACs ") and "?" in line)
    # the known side: 8*8*8*(3*3*3) + 8*2 MACs
    assert macs.split() == ["MACs", f"{8 * 8 * 8 * 27 + 16:,}", "?"]  # no ratio
    data = json.loads(_run(path, "--format", "json"))
    row = next(r for r in data["comparisons"][0]["rows"] if r["label"] == "MACs")
    assert row["values"] == [8 * 8 * 8 * 27 + 16, None] and row["ratio"] is None
    rows = list(csv.reader(io.StringIO(_run(path, "--format", "csv").split("\n\n")[1])))
    row = next(r for r in rows if r[1] == "MACs")
    assert row[4:] == [f"{8 * 8 * 8 * 27 + 16}", "unknown", "", ""]  # left, right model, right, ratio


def test_the_diagram_shows_unknown_macs(tmp_path):
    path = _write(tmp_path, CONV)
    out = tmp_path / "net.dot"
    proc = run_nnc("diagram", path, "-o", out, "--show", "macs")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    dot = out.read_text(encoding="utf-8")
    conv = next(line for line in dot.splitlines() if "conv 3x3, 8" in line)
    assert "MACs ?" in conv
    dense = next(line for line in dot.splitlines() if "dense 2" in line)
    assert f"MACs {DENSE_MACS}" in dense
    title = next(line for line in dot.splitlines() if "<B>m</B>" in line)
    assert "MACs ?" in title  # the model's total


def test_both_exports_say_unknown_and_compile(tmp_path):
    path = _write(tmp_path, CONV)
    for target in ("pytorch", "keras"):
        proc = run_nnc("export", path, "--to", target)
        assert_no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
        assert "MACs: unknown" in proc.stdout
        assert "MACs: 16" not in proc.stdout and "MACs: 0" not in proc.stdout
        compile(proc.stdout, f"net_{target}.py", "exec")


def test_an_expectation_is_not_compared_with_an_unknown_count(tmp_path):
    text = CONV.replace("conv2d 8 k=3 pad=same", f"conv2d 8 k=3 pad=same -> ?x?x8 params={CONV_PARAMS} macs=5")
    proc = nnc_in_process("check", _write(tmp_path, text))
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "E303" not in proc.stdout + proc.stderr


def test_a_model_whose_recurrent_layer_counts_one_time_step_counts_the_dense_after_it_per_step(tmp_path):
    text = """model r {
    input ?x16
    gru 32 return_sequences=true
    dense 4
}
"""
    data = json.loads(_run(_write(tmp_path, text), "--format", "json"))
    gru, dense = data["models"][0]["layers"]
    # Keras GRU (reset_after): 3 gates x 32 x (16 + 32) MACs per step; the dense: 32*4 per step
    assert gru["macs"] == 3 * 32 * (16 + 32)
    assert dense["macs"] == 32 * 4
    totals = data["models"][0]["totals"]
    assert totals["macs"] == 3 * 32 * (16 + 32) + 32 * 4
    assert totals["bias_adds"] == 4  # the dense's 4 biases, one time step
    assert "unknown_layers" not in totals
