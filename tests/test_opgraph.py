"""`nnc diagram FILE --ops`: the computational graph at the level of operations, the size of the
matrix on every edge (the exam's perceptron: y = tanh(W x + b), W 2x3, b 2x1)."""

from __future__ import annotations

import re
import shutil

from helpers_nnc import EXAMPLES, assert_no_traceback, nnc_in_process

PERCEPTRON = EXAMPLES / "exam_perceptron.nn"
TIMES = "\u00d7"


def _dot(*args) -> str:
    proc = nnc_in_process("diagram", *args)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _nodes(dot: str, word: str) -> list:
    """The node statements whose label starts with `word`."""
    return re.findall(rf"^\s*(\S+) \[label=<{re.escape(word)}[<>]", dot, flags=re.M)


def _edge_labels(dot: str) -> list:
    return re.findall(r'-> \S+ \[label="([^"]*)"\]', dot)


def test_the_augmented_perceptron_is_one_matrix_multiplication():
    dot = _dot(PERCEPTRON, "--ops", "--augmented")
    assert len(_nodes(dot, "matmul")) == 1 and not _nodes(dot, "+")
    labels = _edge_labels(dot)
    # [W b] is 2x(3 + 1), [x; 1] is (3 + 1)x1, x is 3x1, z and a are 2x1, the loss 1x1
    for size in (f"2{TIMES}4", f"4{TIMES}1", f"3{TIMES}1", f"z1: 2{TIMES}1", f"a: 2{TIMES}1", f"1{TIMES}1"):
        assert size in labels, (size, labels)
    assert len(_nodes(dot, "tanh")) == 1 and len(_nodes(dot, "mse loss")) == 1


def test_without_augmenting_the_bias_is_an_addition():
    dot = _dot(PERCEPTRON, "--ops", "--loss", "ce")
    assert len(_nodes(dot, "matmul")) == 1 and len(_nodes(dot, "+")) == 1
    labels = _edge_labels(dot)
    assert f"2{TIMES}3" in labels and labels.count(f"2{TIMES}1") >= 2  # W into matmul; matmul and b into +
    assert len(_nodes(dot, "ce loss")) == 1


def test_a_two_layer_network_without_biases(tmp_path):
    path = tmp_path / "net.nn"
    path.write_text("model net {\n    input 2\n    dense 3 sigmoid bias=false\n    dense 1 sigmoid bias=false\n}\n",
                    encoding="utf-8")
    dot = _dot(path, "--ops")
    assert len(_nodes(dot, "matmul")) == 2 and not _nodes(dot, "+")
    assert len(_nodes(dot, "sigmoid")) == 2
    labels = _edge_labels(dot)
    # W1 3x2 times x 2x1, then W2 1x3 times a1 3x1
    for size in (f"3{TIMES}2", f"2{TIMES}1", f"1{TIMES}3", f"z1: 3{TIMES}1", f"z2: 1{TIMES}1"):
        assert size in labels, (size, labels)


def test_the_model_name_titles_its_frame(tmp_path):
    path = tmp_path / "net.nn"
    path.write_text('model a_b {\n    input 2\n    dense 1\n}\n', encoding="utf-8")
    dot = _dot(path, "--ops")
    assert "label=<a_b>" in dot


def test_what_is_not_a_dense_chain_is_refused_located():
    proc = nnc_in_process("diagram", EXAMPLES / "lenet5.nn", "--ops")
    assert_no_traceback(proc)
    assert proc.returncode == 1 and "error[E401]" in proc.stderr and "lenet5.nn:" in proc.stderr


def test_augmented_needs_ops():
    proc = nnc_in_process("diagram", PERCEPTRON, "--augmented")
    assert_no_traceback(proc)
    assert proc.returncode == 2 and "--ops" in proc.stderr


def test_the_graph_renders(tmp_path):
    assert shutil.which("dot"), "Graphviz's dot is missing: apt-get install graphviz"
    out = tmp_path / "ops.svg"
    proc = nnc_in_process("diagram", PERCEPTRON, "--ops", "--augmented", "-o", out)
    assert proc.returncode == 0, proc.stderr
    svg = out.read_text(encoding="utf-8")
    assert svg.count(">matmul<") == 1 and f"2{TIMES}4" in svg
