"""Sizes an input leaves open are named (`?x?x3` is HxWx3, `?x16` is Tx16) and a count that
depends on them is an exact expression of them in every report, never 0 nor a question mark;
the counts that do not depend on them (parameters, a dense layer after a global pooling) stay
plain numbers. What is truly unknown -- a shape an earlier error left unknown, the layer of the
inference peak when it depends on the sizes -- still reads as unknown (null, `?`), and no
expectation is compared with it.

Every expected value is arithmetic written out here; an expression of the JSON report is
evaluated at a few values of the sizes, as docs/json.md says a reader evaluates it."""

from __future__ import annotations

import csv
import io
import json
import re

from helpers_nnc import assert_no_traceback, nnc_in_process, run_nnc

# conv2d 8 k=3 pad=same on HxWx3: H*W*8 outputs of 3*3*3 MACs each; the pooled size is 8
CONV = """model m {
    input ?x?x3
    conv2d 8 k=3 pad=same
    globalavgpool2d
    dense 2
}
"""
CONV_PARAMS = 3 * 3 * 3 * 8 + 8  # 224
CONV_MACS_PER_POSITION = 8 * (3 * 3 * 3)  # 216, times H*W
DENSE_PARAMS = 8 * 2 + 2  # 18
DENSE_MACS = 8 * 2  # 16
#: (H, W) at which the expressions are evaluated: 'same' with stride 1 is valid for any size
POINTS = [(1, 1), (2, 7), (5, 3), (224, 224)]

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

model open {
    input ?x?x3
    conv2d 8 k=3 pad=same
    globalavgpool2d
    dense 2
}

compare known, open
"""

#: a 7x7 window over a 4x4 input is an error (E202): the shapes after it are unknown
BROKEN = """model m {
    input 4x4x3
    conv2d 8 k=7
    flatten -> ?
    dense 2 -> 7 params=5 macs=5
}

model k {
    input 8
    dense 2 -> 2 params=18 macs=16
}
"""

#: what docs/json.md allows in `expr`: integer literals, names, parentheses, + - * // **
EXPRESSION = re.compile(r"[0-9A-Za-z_ ()+*/-]+")


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


def at(value, **sizes) -> int:
    """A JSON count or dimension at the given sizes: an integer as it is, an expression object
    evaluated with the sizes bound."""
    if type(value) is int:
        return value
    assert isinstance(value, dict) and set(value) == {"expr", "text"}, value
    assert EXPRESSION.fullmatch(value["expr"]) and "/" not in value["expr"].replace("//", ""), value
    result = eval(value["expr"], {"__builtins__": {}}, sizes)  # noqa: S307 - the documented use
    assert type(result) is int, value
    return result


def test_text_shows_open_counts_as_formulas_of_the_named_sizes(tmp_path):
    out = _run(_write(tmp_path, CONV))
    assert out.splitlines()[0].endswith("input (None, H, W, 3)")
    conv = _row(out, "conv2d_1")
    assert conv[1] == "(None, H, W, 8)"  # 'same' with stride 1 keeps H and W
    assert conv[2] == f"{CONV_PARAMS}" and conv[-1] == f"{CONV_MACS_PER_POSITION}*H*W"
    pool = _row(out, "globalavgpool2d_1")
    assert pool[3] == "HxW" and pool[-1] == "0"  # its window is the whole HxW; pooling is not a MAC
    dense = _row(out, "dense_1")
    assert dense[2] == f"{DENSE_PARAMS}" and dense[-1] == f"{DENSE_MACS}"
    assert f"Total params: {CONV_PARAMS + DENSE_PARAMS} " in out
    assert f"\n MACs: {CONV_MACS_PER_POSITION}*H*W + {DENSE_MACS}\n" in out
    assert f"\n Pooling operations (not MACs): {8}*H*W\n" in out  # one addition per value of HxWx8
    assert "?" not in out and "unknown" not in out


def test_json_gives_expressions_that_evaluate_to_the_counts(tmp_path):
    data = json.loads(_run(_write(tmp_path, CONV), "--format", "json"))
    model = data["models"][0]
    assert model["sizes"] == ["H", "W"]
    conv, pool, dense = model["layers"]
    # what does not depend on the sizes stays a plain number
    assert (conv["params"], pool["macs"], dense["params"], dense["macs"]) == (CONV_PARAMS, 0, DENSE_PARAMS, DENSE_MACS)
    assert pool["output_shape"] == [8] and model["output_shape"] == [2]
    totals = model["totals"]
    assert totals["params"] == CONV_PARAMS + DENSE_PARAMS and "unknown_layers" not in totals
    assert conv["macs"]["text"] == f"{CONV_MACS_PER_POSITION}*H*W"
    for h, w in POINTS:
        assert [at(d, H=h, W=w) for d in model["input_shape"]] == [h, w, 3]
        assert [at(d, H=h, W=w) for d in conv["output_shape"]] == [h, w, 8]
        assert at(conv["macs"], H=h, W=w) == h * w * 8 * (3 * 3 * 3)
        assert at(pool["pool_ops"], H=h, W=w) == h * w * 8
        assert at(totals["macs"], H=h, W=w) == h * w * 8 * (3 * 3 * 3) + DENSE_MACS
        assert at(totals["pool_ops"], H=h, W=w) == h * w * 8
        assert at(totals["bias_adds"], H=h, W=w) == h * w * 8 + 2  # 8 biases at each position, then 2


def test_pooling_over_open_sizes_is_a_formula_of_them(tmp_path):
    path = _write(tmp_path, POOL)
    out = _run(path)
    assert _row(out, "maxpool2d_1")[1] == "(None, floor(H/2), floor(W/2), 4)"
    # 2x2 windows: 2*2 comparisons per output value; the global pool: one per value of its input
    assert f"\n Pooling operations (not MACs): {2 * 2 * 4 + 4}*floor(H/2)*floor(W/2)\n" in out
    data = json.loads(_run(path, "--format", "json"))
    maxpool, globalpool = data["models"][0]["layers"]
    assert [maxpool["macs"], globalpool["macs"]] == [0, 0]
    for h, w in [(2, 2), (3, 2), (5, 7), (224, 225)]:  # a 2x2 window fits from 2x2 on
        assert [at(d, H=h, W=w) for d in maxpool["output_shape"]] == [h // 2, w // 2, 4]
        assert at(maxpool["pool_ops"], H=h, W=w) == (h // 2) * (w // 2) * 4 * (2 * 2)
        assert at(globalpool["pool_ops"], H=h, W=w) == (h // 2) * (w // 2) * 4


def test_dense_on_an_open_number_of_positions_costs_each_of_them(tmp_path):
    path = _write(tmp_path, SEQUENCE)
    out = _run(path)
    dense = _row(out, "dense_1")
    assert dense[1] == "(None, T, 4)"
    assert dense[2] == f"{16 * 4 + 4}" and dense[-1] == f"{16 * 4}*T"
    assert f"\n MACs: {16 * 4}*T\n" in out
    model = json.loads(_run(path, "--format", "json"))["models"][0]
    assert model["sizes"] == ["T"]
    for t in (1, 3, 1000):
        assert at(model["layers"][0]["macs"], T=t) == t * 16 * 4
        assert at(model["totals"]["macs"], T=t) == t * 16 * 4


def test_csv_writes_the_text_of_an_expression(tmp_path):
    rows = list(csv.DictReader(io.StringIO(_run(_write(tmp_path, CONV), "--format", "csv"))))
    conv, pool, dense = rows
    assert (conv["output_shape"], conv["params"], conv["macs"], conv["flops"]) == (
        "HxWx8", f"{CONV_PARAMS}", f"{CONV_MACS_PER_POSITION}*H*W", f"{2 * CONV_MACS_PER_POSITION}*H*W")
    assert (pool["macs"], pool["pool_ops"]) == ("0", f"{8}*H*W")
    assert (dense["macs"], dense["flops"]) == (f"{DENSE_MACS}", f"{2 * DENSE_MACS}")


def test_flops_all_with_an_open_part_is_a_formula(tmp_path):
    out = _run(_write(tmp_path, CONV), "--ops", "flops-all")
    # the convolution: 2 x 216 per position + 8 bias adds per position
    assert _row(out, "conv2d_1")[-1] == f"{2 * CONV_MACS_PER_POSITION + 8}*H*W"
    # the dense: 2 x 16 MACs + 2 bias adds, no activation
    assert _row(out, "dense_1")[-1] == f"{2 * DENSE_MACS + 2}"
    # the whole: the two above and the pooling's 8 additions per position
    assert (f"\n FLOPs (2 x MACs + bias adds + activations + pooling): {2 * CONV_MACS_PER_POSITION + 8 + 8}*H*W"
            f" + {2 * DENSE_MACS + 2}\n") in out


def test_compare_with_an_open_side_shows_its_formula_and_no_ratio(tmp_path):
    path = _write(tmp_path, COMPARE)
    out = _run(path)
    known = 8 * 8 * 8 * 27 + 16  # the known side: 8*8*8*(3*3*3) + 8*2 MACs
    macs = next(line for line in out.splitlines() if line.strip().startswith("MACs "))
    assert re.split(r"\s{2,}", macs.strip()) == ["MACs", f"{known:,}", f"{CONV_MACS_PER_POSITION}*H*W + 16"]
    data = json.loads(_run(path, "--format", "json"))
    row = next(r for r in data["comparisons"][0]["rows"] if r["label"] == "MACs")
    assert row["values"][0] == known and row["ratio"] is None
    assert at(row["values"][1], H=8, W=8) == known  # the open side at the known side's size
    rows = list(csv.reader(io.StringIO(_run(path, "--format", "csv").split("\n\n")[1])))
    row = next(r for r in rows if r[1] == "MACs")
    # left, right model, right, ratio
    assert row[4:] == [f"{known}", "open", f"{CONV_MACS_PER_POSITION}*H*W + 16", ""]


def test_the_diagram_shows_formulas(tmp_path):
    path = _write(tmp_path, CONV)
    out = tmp_path / "net.dot"
    proc = run_nnc("diagram", path, "-o", out, "--show", "macs")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    dot = out.read_text(encoding="utf-8")
    conv = next(line for line in dot.splitlines() if "conv 3x3, 8" in line)
    assert f"MACs {CONV_MACS_PER_POSITION}*H*W<" in conv
    dense = next(line for line in dot.splitlines() if "dense 2" in line)
    assert f"MACs {DENSE_MACS}<" in dense
    title = next(line for line in dot.splitlines() if "<B>m</B>" in line)
    assert f"MACs {CONV_MACS_PER_POSITION}*H*W + {DENSE_MACS}<" in title  # the model's total


def test_both_exports_give_the_formula_and_compile(tmp_path):
    path = _write(tmp_path, CONV)
    for target in ("pytorch", "keras"):
        proc = run_nnc("export", path, "--to", target)
        assert_no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
        assert f"MACs: {CONV_MACS_PER_POSITION}*H*W + {DENSE_MACS}" in proc.stdout
        assert "MACs: unknown" not in proc.stdout and "MACs: 0" not in proc.stdout
        compile(proc.stdout, f"net_{target}.py", "exec")


def _check(tmp_path, text):
    proc = nnc_in_process("check", _write(tmp_path, text))
    assert_no_traceback(proc)
    return proc


def test_an_expectation_on_open_sizes_is_checked_as_an_identity(tmp_path):
    text = CONV.replace("conv2d 8 k=3 pad=same", "conv2d 8 k=3 pad=same -> %s")
    # 8*27 = 216 per position, written in other orders; `?` matches any size
    for expectation in (f"HxWx8 params={CONV_PARAMS} macs=216*H*W", "?x?x8 macs=H*W*8*27", "Hx?x8 macs=8*3*3*3*W*H"):
        proc = _check(tmp_path, text % expectation)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "0 differ" in proc.stdout
    # a number, or another formula, is not the count: H*W*216 equals neither 5 nor 216*H*H
    for wrong in ("macs=5", "macs=216*H*H", "macs=216*H*W+1"):
        proc = _check(tmp_path, text % f"HxWx8 {wrong}")
        assert proc.returncode == 1 and "error[E303]" in proc.stderr, proc.stdout + proc.stderr
    # W and H swapped is another shape
    proc = _check(tmp_path, text % "WxHx8")
    assert proc.returncode == 1 and "error[E301]" in proc.stderr, proc.stdout + proc.stderr


def test_an_expectation_is_not_compared_with_an_unknown_count(tmp_path):
    proc = _check(tmp_path, BROKEN)
    assert proc.returncode == 1
    codes = re.findall(r"(?:error|warning|note)\[(\w+)\]", proc.stderr)
    assert codes == ["E202"], proc.stderr  # no E301/E302/E303 for the layers after the error
    # model k's shape, params (8*2 + 2) and MACs (8*2) are still checked
    assert "expectations: 3 checked, 3 hold, 0 differ" in proc.stdout


def test_json_gives_null_for_a_shape_an_error_left_unknown(tmp_path):
    proc = nnc_in_process(_write(tmp_path, BROKEN), "--format", "json")
    assert_no_traceback(proc)
    assert proc.returncode == 1
    broken, fine = json.loads(proc.stdout)["models"]
    assert broken["ok"] is False and broken["input_shape"] == [4, 4, 3] and broken["output_shape"] is None
    assert [layer["output_shape"] for layer in broken["layers"]] == [None, None, None]
    assert "sizes" not in broken
    assert fine["ok"] is True and fine["layers"][0]["output_shape"] == [2] and fine["totals"]["macs"] == 8 * 2


def test_an_inference_peak_that_depends_on_the_sizes_is_unknown(tmp_path):
    path = _write(tmp_path, CONV)
    # the convolution holds 3*H*W + 8*H*W values, the pooling 8*H*W + 8: at 1x1 the pooling's pair
    # is the larger (16 > 11), at 2x2 the convolution's (44 > 40)
    out = _run(path, "--memory")
    peak = next(line for line in out.splitlines() if "peak at" in line)
    assert "peak at ?" in peak and "unknown" in peak
    assert "conv2d_1 11*H*W" in peak and "globalavgpool2d_1 (8*H*W + 8)" in peak
    memory = json.loads(_run(path, "--format", "json"))["models"][0]["memory"]
    assert memory["inference_peak"]["values"] is None and memory["inference_peak"]["bytes"] is None
    # what does not depend on which layer is larger is an expression: the input, every output, the parameters
    kept = memory["inference_every_activation_kept"]
    for h, w in POINTS:
        assert at(kept["bytes"], H=h, W=w) == (3 * h * w + 8 * h * w + 8 + 2 + CONV_PARAMS + DENSE_PARAMS) * 4
    for sizes, layer, values in (("H=1,W=1", "globalavgpool2d_1", 8 * 1 * 1 + 8),
                                 ("H=2,W=2", "conv2d_1", 3 * 2 * 2 + 8 * 2 * 2)):
        memory = json.loads(_run(path, "--set", sizes, "--format", "json"))["models"][0]["memory"]
        peak = memory["inference_peak"]
        assert (peak["layer"], peak["values"], peak["bytes"]) == (layer, values, values * 4)


def test_a_recurrent_layer_on_an_open_length_costs_every_step(tmp_path):
    text = """model r {
    input ?x16
    gru 32 return_sequences=true
    dense 4
}
"""
    proc = nnc_in_process(_write(tmp_path, text), "--format", "json")
    assert_no_traceback(proc)
    assert proc.returncode == 0 and "W304" not in proc.stderr, proc.stderr
    model = json.loads(proc.stdout)["models"][0]
    gru, dense = model["layers"]
    totals = model["totals"]
    for t in (1, 2, 50):
        # Keras GRU (reset_after): 3 gates x 32 x (16 + 32) MACs per step; the dense: 32*4 per step
        assert at(gru["macs"], T=t) == t * 3 * 32 * (16 + 32)
        assert at(dense["macs"], T=t) == t * 32 * 4
        assert at(totals["macs"], T=t) == t * (3 * 32 * (16 + 32) + 32 * 4)
        assert at(totals["bias_adds"], T=t) == t * 4  # the dense's 4 biases at every step
    assert "unknown_layers" not in totals
    # a GRU of 50 units on one feature: 3*50*(1 + 50) = 7,650 MACs a step
    out = _run(_write(tmp_path, "model g { input ?x1; gru 50 }\n", "g.nn"))
    assert f"\n MACs: {3 * 50 * (1 + 50):,}*T\n" in out
    assert "time step" not in out


def test_set_gives_the_sizes_values(tmp_path):
    path = _write(tmp_path, CONV)
    for args in (("--set", "H=8,W=8"), ("--set", "H=8", "--set", "W=8")):
        out = _run(path, *args)
        assert _row(out, "conv2d_1")[-1] == f"{8 * 8 * 8 * 27:,}"
        assert f"\n MACs: {8 * 8 * 8 * 27 + 16:,}\n" in out
    model = json.loads(_run(path, "--set", "H=8,W=8", "--format", "json"))["models"][0]
    assert model["input_shape"] == [8, 8, 3] and model["totals"]["macs"] == 8 * 8 * 8 * 27 + 16
