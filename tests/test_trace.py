"""`nnc trace` and weights in .nn files: list literals, size checks, the worked pass by hand.

Expected numbers are the arithmetic written out here with the math module (independent of
nnc's exact arithmetic); tests/frameworks/test_trace_frameworks.py compares with PyTorch."""

from __future__ import annotations

import json
import math

import pytest

from helpers_nnc import EXAMPLES, nnc_in_process


def _sig(v):
    return 1 / (1 + math.exp(-v))


def _trace(tmp_path, text, *args):
    path = tmp_path / "net.nn"
    path.write_text(text)
    return nnc_in_process("trace", path, *args)


def test_exam_backprop_by_hand():
    result = nnc_in_process("trace", EXAMPLES / "exam_backprop.nn", "--model", "exam_backprop", "--input", "2,-1",
                            "--target", "0", "--loss", "mse", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    z1, z2 = 0.1 * 2 + (-0.3) * (-1), 0.5 * 2 + 0.2 * (-1)
    a1, a2 = _sig(z1), _sig(z2)
    z3 = 0.4 * a1 + (-0.6) * a2
    a3 = _sig(z3)
    d3 = (a3 - 0) * a3 * (1 - a3)
    d1, d2 = 0.4 * d3 * a1 * (1 - a1), -0.6 * d3 * a2 * (1 - a2)
    first, second = report["layers"]
    assert [first["name"], second["name"]] == ["dense_1", "dense_2"]
    assert first["z"] == pytest.approx([z1, z2], abs=1e-15)
    assert first["a"] == pytest.approx([a1, a2], rel=1e-14)
    assert second["a"] == pytest.approx([a3], rel=1e-14)
    assert report["loss"] == pytest.approx(0.5 * a3 ** 2, rel=1e-14)
    assert second["delta"] == pytest.approx([d3], rel=1e-13)
    assert first["delta"] == pytest.approx([d1, d2], rel=1e-13)
    assert first["grad_weights"] == [pytest.approx([d1 * 2, d1 * -1], rel=1e-13),
                                     pytest.approx([d2 * 2, d2 * -1], rel=1e-13)]
    assert second["grad_weights"] == [pytest.approx([d3 * a1, d3 * a2], rel=1e-13)]
    assert "grad_bias" not in first and "bias" not in first
    assert report["grad_input"] == pytest.approx([0.1 * d1 + 0.5 * d2, -0.3 * d1 + 0.2 * d2], rel=1e-13)


def test_relu_redo_and_comparison():
    relu = nnc_in_process("trace", EXAMPLES / "exam_backprop.nn", "--model", "exam_backprop", "--input", "2,-1",
                          "--target", "0", "--activation", "relu", "--format", "json")
    report = json.loads(relu.stdout)
    # relu(0.5) = 0.5, relu(0.8) = 0.8; 0.4*0.5 - 0.6*0.8 = -0.28 -> 0: no error at all
    assert report["layers"][0]["a"] == [0.5, 0.8]
    assert report["layers"][1]["z"] == pytest.approx([-0.28])
    assert report["loss"] == 0 and report["activation"] == "relu"
    both = nnc_in_process("trace", EXAMPLES / "exam_backprop.nn", "--input", "2,-1", "--target", "0",
                          "--format", "json")
    models = json.loads(both.stdout)["models"]
    assert [m["model"] for m in models] == ["exam_backprop", "exam_backprop_relu"]
    assert models[1]["loss"] == 0
    text = nnc_in_process("trace", EXAMPLES / "exam_backprop.nn", "--input", "2,-1", "--target", "0").stdout
    assert "Comparison" in text and "L(exam_backprop_relu) = 0\n" in text
    assert "delta1 = (a - y) * a * (1 - a) = (0.4588 - 0) * 0.4588 * (1 - 0.4588) = 0.1139" in text


def test_exact_fractions_and_one_step(tmp_path):
    # relu and linear keep the file's fractions exact: z = 1/3*3 + 1/2*(-1) + 1/6 = 2/3
    result = _trace(tmp_path, "model m {\n input 2\n dense 1 relu bias=[1/6] weights=[[1/3, 1/2]]\n}\n",
                    "--input", "3,-1", "--target", "0", "--lr", "0.5", "--format", "text")
    assert result.returncode == 0, result.stderr
    assert "= 1/3 * 3 + 0.5 * (-1) + 1/6 = 2/3 (~0.6667)" in result.stdout  # 1/2 is the decimal 0.5
    # L = 1/2 (2/3)^2 = 2/9; delta = 2/3; dL/dw = 2/3 * 3 = 2, 2/3 * (-1); w <- 1/3 - 1/2 * 2 = -2/3
    assert "L = 1/2 * ((2/3 - 0)^2) = 2/9 (~0.2222)" in result.stdout
    assert "w1_1 <- 1/3 - 0.5 * 2 = -2/3 (~-0.6667)" in result.stdout
    assert "b1 <- 1/6 - 0.5 * 2/3 = -1/6 (~-0.1667)" in result.stdout


def test_digits_and_markdown_latex(tmp_path):
    text = "model my_net {\n input 1\n dense 1 sigmoid bias=false weights=[[1]]\n}\n"
    shown = _trace(tmp_path, text, "--input", "1", "--target", "0", "--digits", "6").stdout
    assert f"a1 = sigmoid(z1) = sigmoid(1) = {_sig(1):.6f}" in shown
    markdown = _trace(tmp_path, text, "--input", "1", "--target", "0", "--format", "markdown").stdout
    assert markdown.startswith("# Model my_net: forward and backward pass\n")
    latex = _trace(tmp_path, text, "--input", "1", "--target", "0", "--format", "latex").stdout
    assert r"\section*{Model my\_net: forward and backward pass}" in latex
    assert latex.count(r"\begin{align*}") == latex.count(r"\end{align*}") > 0


def test_weights_parse_over_lines_and_compile(tmp_path):
    path = tmp_path / "net.nn"
    path.write_text("model m {\n input 2\n dense 2 weights=[\n   [0.1, -0.3],\n   [0.5, 0.2],\n ] bias=[0, -1e-2]"
                    " -> 2 params=6\n}\n")
    result = nnc_in_process(path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("layer,message,column", [
    ("dense 2 weights=[[0.1, 0.2, 0.3], [1, 2, 3]]", "weights: each row has 3 number(s), dense 2 needs 2", 10),
    ("dense 3 weights=[[0.1, 0.2], [1, 2]]", "weights has 2 row(s), dense 3 needs 3", 10),
    ("dense 2 weights=[[0.1, 0.2], [1]]", "weights: the rows have different lengths (1, 2)", 18),
    ("dense 2 bias=[1, 2, 3]", "bias has 3 value(s), dense 2 needs 2", 10),
    ("dense 2 weights=[0.1, 0.2]", "weights must be a list of rows", 18),
])
def test_size_errors_are_located(tmp_path, layer, message, column):
    path = tmp_path / "bad.nn"
    path.write_text(f"model m {{\n input 2\n {layer}\n}}\n")
    result = nnc_in_process(path)
    assert result.returncode == 1
    assert f"bad.nn:3:{column}: error[E104]: {message}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_trace_refusals(tmp_path):
    missing = _trace(tmp_path, "model m {\n input 2\n dense 1\n}\n", "--input", "1,2", "--target", "0")
    assert missing.returncode == 1 and "net.nn:3:2: error[E103]: dense_1 adds a bias without" not in missing.stderr
    assert "net.nn:3:2: error[E103]: dense_1 has no weights" in missing.stderr and missing.stdout == ""
    bias = _trace(tmp_path, "model m {\n input 2\n dense 1 weights=[[1, 2]]\n}\n", "--input", "1,2", "--target", "0")
    assert bias.returncode == 1 and "error[E103]: dense_1 adds a bias without its values" in bias.stderr
    conv = _trace(tmp_path, "model m {\n input 4x4x1\n conv2d 1 k=3\n}\n", "--input", "1", "--target", "0")
    assert conv.returncode == 1 and "net.nn:3:2: error[E401]: nnc trace computes dense layers only" in conv.stderr
    size = _trace(tmp_path, "model m {\n input 2\n dense 1 bias=false weights=[[1, 2]]\n}\n",
                  "--input", "1,2,3", "--target", "0")
    assert size.returncode == 2 and "--input has 3 value(s), the model takes 2" in size.stderr
    word = _trace(tmp_path, "model m {\n input 2\n dense 1 bias=false weights=[[1, 2]]\n}\n",
                  "--input", "1,x", "--target", "0")
    assert word.returncode == 2 and "'x' is not a number" in word.stderr


def test_bracket_outside_an_option(tmp_path):
    path = tmp_path / "bad.nn"
    path.write_text("model m {\n input [2]\n}\n")
    result = nnc_in_process(path)
    assert result.returncode == 1 and "bad.nn:2:8: error[E001]" in result.stderr
    assert "a list in brackets is an option's value" in result.stderr


def test_ce_class_index(tmp_path):
    # softmax over z = [0, ln 3] gives [1/4, 3/4]; ce with class 1: -ln(3/4); delta = a - y
    text = "model m {\n input 1\n dense 2 softmax bias=false weights=[[0], [1]]\n}\n"
    ln3 = math.log(3)
    result = _trace(tmp_path, text, "--input", repr(ln3), "--target", "1", "--loss", "ce", "--format", "json")
    report = json.loads(result.stdout)
    assert report["layers"][0]["a"] == pytest.approx([0.25, 0.75], rel=1e-12)
    assert report["loss"] == pytest.approx(-math.log(0.75), rel=1e-12)
    assert report["layers"][0]["delta"] == pytest.approx([0.25, -0.25], rel=1e-12)
