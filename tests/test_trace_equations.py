"""`nnc trace FILE --symbolic` (the backpropagation equations with their sizes) and
`nnc FILE --format equation --augmented` (a dense layer as one product, [W b] [x; 1]).

The expected equations are the textbook chain rule written out here by hand; the sizes are
the layers' sizes worked out by hand (rows x columns)."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, nnc_in_process

TWO_SIGMOID = """model two {
    input 2
    dense 3 sigmoid bias=false
    dense 1 sigmoid bias=false
}
"""


def _equations(text: str) -> list:
    """The equation lines of the text format (indented by four spaces), stripped."""
    return [line.strip() for line in text.splitlines() if line.startswith("    ")]


def _symbolic(tmp_path, text, *args):
    path = tmp_path / "net.nn"
    path.write_text(text)
    return nnc_in_process("trace", path, "--symbolic", *args)


def test_exam_perceptron_equations_by_hand():
    result = nnc_in_process("trace", EXAMPLES / "exam_perceptron.nn", "--symbolic")
    assert result.returncode == 0, result.stderr
    # 3 inputs, 2 tanh outputs with a bias, mse: W is 2x3, [W b] would be 2x4
    assert _equations(result.stdout) == [
        "z_1 = W_1 x + b_1    [2x1 = (2x3)(3x1)]",
        "a_1 = tanh(z_1)    [2x1]",
        "L = 1/2 * sum((a_1 - y)^2)    [1x1]",
        "tanh'(z_1) = 1 - tanh^2(z_1) = 1 - a_1^2    [2x1]",
        "dL/da_1 = (a_1 - y)    [2x1]",
        "delta_1 = dL/da_1 * tanh'(z_1) = (a_1 - y) * (1 - a_1^2)    [2x1]",
        "dL/dW_1 = delta_1 x^T    [2x3 = (2x1)(1x3)]",
        "dL/db_1 = delta_1    [2x1]",
        "dL/dx = W_1^T delta_1    [3x1 = (3x2)(2x1)]",
    ]


def test_two_layer_sigmoid_equations_by_hand(tmp_path):
    result = _symbolic(tmp_path, TWO_SIGMOID)
    assert result.returncode == 0, result.stderr
    assert _equations(result.stdout) == [
        "z_1 = W_1 x    [3x1 = (3x2)(2x1)]",
        "a_1 = sigmoid(z_1)    [3x1]",
        "z_2 = W_2 a_1    [1x1 = (1x3)(3x1)]",
        "a_2 = sigmoid(z_2)    [1x1]",
        "L = 1/2 * sum((a_2 - y)^2)    [1x1]",
        "sigmoid'(z_2) = sigmoid(z_2) * (1 - sigmoid(z_2)) = a_2 * (1 - a_2)    [1x1]",
        "dL/da_2 = (a_2 - y)    [1x1]",
        "delta_2 = dL/da_2 * sigmoid'(z_2) = (a_2 - y) * a_2 * (1 - a_2)    [1x1]",
        "dL/dW_2 = delta_2 a_1^T    [1x3 = (1x1)(1x3)]",
        "sigmoid'(z_1) = sigmoid(z_1) * (1 - sigmoid(z_1)) = a_1 * (1 - a_1)    [3x1]",
        "dL/da_1 = W_2^T delta_2    [3x1 = (3x1)(1x1)]",
        "delta_1 = a_1 * (1 - a_1) * (W_2^T delta_2)    [3x1]",
        "dL/dW_1 = delta_1 x^T    [3x2 = (3x1)(1x2)]",
        "dL/dx = W_1^T delta_1    [2x1 = (2x3)(3x1)]",
    ]
    assert "dL/db" not in result.stdout  # no bias, no bias gradient


@pytest.mark.parametrize("loss, expected", [
    ("bce", "delta_2 = dL/dz_2 = a_2 - y    [1x1]"),  # sigmoid and bce: the slope cancels
    ("ce", "delta_2 = dL/da_2 * sigmoid'(z_2) = -y / a_2 * a_2 * (1 - a_2)    [1x1]"),
])
def test_output_delta_by_loss(tmp_path, loss, expected):
    result = _symbolic(tmp_path, TWO_SIGMOID, "--loss", loss)
    assert result.returncode == 0, result.stderr
    assert expected in _equations(result.stdout)


def test_relu_and_logits(tmp_path):
    text = "model m {\n    input 4\n    dense 3 relu\n    dense 2\n}\n"
    result = _symbolic(tmp_path, text, "--loss", "ce")
    assert result.returncode == 0, result.stderr
    lines = _equations(result.stdout)
    assert "p = softmax(z_2)    [2x1]" in lines
    assert "delta_2 = dL/dz_2 = p - y    [2x1]" in lines
    assert "delta_1 = 1[z_1 > 0] * (W_2^T delta_2)    [3x1]" in lines
    assert "dL/db_1 = delta_1    [3x1]" in lines
    assert "dL/dW_1 = delta_1 x^T    [3x4 = (3x1)(1x4)]" in lines


def test_json_sections_and_sizes(tmp_path):
    result = _symbolic(tmp_path, TWO_SIGMOID, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "two" and report["loss_function"] == "mse"
    titles = [s["title"] for s in report["sections"]]
    assert titles[0] == "Forward pass" and titles[-1] == "Input"
    by_quantity = {e["quantity"]: e for s in report["sections"] for e in s["equations"]}
    # W_1 is 3x2 (3 units, 2 inputs), W_2 is 1x3
    assert by_quantity["dL/dW_1"]["size"] == [3, 2] and by_quantity["dL/dW_1"]["factors"] == [[3, 1], [1, 2]]
    assert by_quantity["dL/dW_2"]["size"] == [1, 3]
    assert by_quantity["dL/dx"]["size"] == [2, 1] and by_quantity["dL/dx"]["factors"] == [[2, 3], [3, 1]]
    assert by_quantity["delta_1"]["equation"] == "delta_1 = a_1 * (1 - a_1) * (W_2^T delta_2)"
    assert by_quantity["delta_1"]["latex"] == (r"\delta_{1} = a_{1} \odot (1 - a_{1}) \odot "
                                               r"(W_{2}^{\mathsf{T}} \delta_{2})")
    for equation in by_quantity.values():  # every product's sizes chain
        if "factors" in equation:
            (r1, c1), (r2, c2) = equation["factors"]
            assert c1 == r2 and [r1, c2] == equation["size"]


@pytest.mark.parametrize("args", [(), ("--loss", "bce"), ("--loss", "ce", "--activation", "softmax"),
                                  ("--loss", "ce", "--activation", "linear"), ("--activation", "relu")])
def test_latex_compiles(tmp_path, args):
    tex = tmp_path / "eq.tex"
    result = _symbolic(tmp_path, TWO_SIGMOID + "model exam_perceptron {\n    input 3\n    dense 2 tanh\n}\n",
                       "--format", "latex", "-o", tex, *args)
    assert result.returncode == 0, result.stderr
    source = tex.read_text()
    assert r"\documentclass[a4paper]{article}" in source and r"\frac{\partial L}{\partial W_{1}}" in source
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "eq.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "eq.pdf").stat().st_size > 0


def test_names_escaped_in_latex(tmp_path):
    text = "model m {\n    input 2\n    out_x: dense 1 sigmoid\n}\n"
    result = _symbolic(tmp_path, text, "--format", "latex")
    assert result.returncode == 0, result.stderr
    assert r"\subsection*{Layer 1: out\_x (sigmoid), W\_1 is 1x2}" in result.stdout


def test_symbolic_needs_no_weights_and_no_numbers(tmp_path):
    both = _symbolic(tmp_path, TWO_SIGMOID, "--input", "1,2")
    assert both.returncode == 2 and "leave out --input" in both.stderr
    assert_no_traceback(both)
    missing = nnc_in_process("trace", EXAMPLES / "exam_perceptron.nn")
    assert missing.returncode == 2 and "--input is needed" in missing.stderr
    conv = _symbolic(tmp_path, "model m {\n    input 8x8x1\n    conv2d 2 k=3\n}\n")
    assert conv.returncode == 1 and "E401" in conv.stderr
    assert_no_traceback(conv)


# --- the one-matrix form ---------------------------------------------------------------------------

def test_augmented_exam_perceptron():
    result = nnc_in_process(EXAMPLES / "exam_perceptron.nn", "--format", "equation", "--augmented")
    assert result.returncode == 0, result.stderr
    folded = r"\left[\, W_{1} \;\; b_{1} \,\right]"
    stacked = r"\left[\begin{array}{c} x \\ 1 \end{array}\right]"
    assert f"  y = \\tanh\\left({folded} {stacked}\\right)" in result.stdout.splitlines()
    # [W b]: 2 outputs x (3 inputs + 1); [x; 1]: (3 + 1) x 1
    assert f"{folded} \\in \\mathbb{{R}}^{{2 \\times 4}}" in result.stdout
    assert f"{stacked} \\in \\mathbb{{R}}^{{4 \\times 1}}" in result.stdout
    plain = nnc_in_process(EXAMPLES / "exam_perceptron.nn", "--format", "equation")
    assert r"y = \tanh\left(W_{1}\, x + b_{1}\right)" in plain.stdout and "array" not in plain.stdout


def test_augmented_compiles_and_leaves_bias_free_layers(tmp_path):
    path = tmp_path / "net.nn"
    path.write_text("model m {\n    input 4\n    dense 3 relu\n    dense 2 sigmoid bias=false\n}\n")
    result = nnc_in_process(path, "--format", "equation", "--augmented")
    assert result.returncode == 0, result.stderr
    assert r"W_{2}\, \mathrm{relu}\left(\left[\, W_{1} \;\; b_{1} \,\right]" in result.stdout
    assert r"\in \mathbb{R}^{3 \times 5}" in result.stdout
    tex = tmp_path / "eq.tex"
    tex.write_text("\\documentclass[a4paper]{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                   + result.stdout + "\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "eq.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


def test_augmented_needs_the_equation_format():
    result = nnc_in_process(EXAMPLES / "exam_perceptron.nn", "--augmented")
    assert result.returncode == 2 and "--augmented goes with --format equation" in result.stderr
