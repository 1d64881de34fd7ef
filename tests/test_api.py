"""The Python API (nnlang.load / nnlang.loads): the objects, the JSON agreement with nnc, options
as keyword arguments, the exception, notebook display and plots. Expected numbers are arithmetic
written out here, or nnc's own JSON report where the contract is that the two agree."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nnlang
from helpers_nnc import EXAMPLES, ROOT, nnc_in_process

INCEPTION = EXAMPLES / "inception_naive_vs_bottleneck.nn"

SMALL = """
model small {
    input 8x8x3
    conv2d 4 k=3 relu
    maxpool2d 2
    flatten
    dense 5 softmax
}
"""

#: a sequence of T vectors of 16: dense acts on the last axis, once per position
SEQUENCE = "model seq {\n  input Tx16\n  dense 32 relu\n  dense 8\n}\n"


def _cli_json(path, *options) -> dict:
    proc = nnc_in_process(path, "--format", "json", *options)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.name)
def test_to_dict_equals_the_json_report_for_every_example(path):
    expected = _cli_json(path)
    program = nnlang.load(path)
    assert [m["name"] for m in expected["models"]] == list(program.models)
    for entry in expected["models"]:
        assert program.models[entry["name"]].to_dict() == entry
    assert program.to_dict() == expected


@pytest.mark.parametrize("names, options, keywords", [
    (("vgg16.nn", "alexnet.nn"), ("--convention", "pytorch", "--dtype", "float16", "--batch", "8"),
     {"convention": "pytorch", "dtype": "float16", "batch": 8}),
    (("exam_stacked_lstm.nn", "resnet18.nn"), ("--units", "iec", "--batch", "B", "--optimizer", "sgd"),
     {"units": "iec", "batch": "B", "optimizer": "sgd"}),
])
def test_options_as_keywords_match_the_command_line(names, options, keywords):
    for path in (EXAMPLES / name for name in names):
        expected = _cli_json(path, *options)
        assert nnlang.load(path, **keywords).to_dict() == expected


@pytest.mark.parametrize("fmt", ["text", "markdown", "csv", "latex", "json"])
def test_summary_is_the_command_output(fmt):
    proc = nnc_in_process(INCEPTION, "--format", fmt)
    assert proc.returncode == 0
    assert nnlang.load(INCEPTION).summary(fmt) == proc.stdout


def test_html_summary_is_the_command_output():
    proc = nnc_in_process(INCEPTION, "--format", "html", "--no-diagram")
    assert nnlang.load(INCEPTION).summary("html", diagrams=False) == proc.stdout


def test_layers_and_totals_of_a_small_model():
    model = nnlang.loads(SMALL).models["small"]
    assert [(layer.name, layer.kind) for layer in model.layers] == [
        ("conv2d_1", "conv2d"), ("maxpool2d_1", "maxpool2d"), ("flatten_1", "flatten"), ("dense_1", "dense")]
    conv = model.layer("conv2d_1")
    assert conv.output_shape == (6, 6, 4)  # 8 - 3 + 1
    assert conv.params == conv.trainable == 3 * 3 * 3 * 4 + 4
    assert conv.non_trainable == 0
    assert conv.macs == 6 * 6 * 4 * (3 * 3 * 3)
    assert conv.formulas["trainable"].endswith("= 112")
    assert conv.activation == "relu"
    dense = model.layer("dense_1")
    assert dense.output_shape == (5,)
    assert dense.params == 3 * 3 * 4 * 5 + 5
    assert model.totals.params == 112 + 185
    assert model.totals.macs == 6 * 6 * 4 * 27 + 36 * 5
    assert model.totals.flops == 2 * (6 * 6 * 4 * 27 + 36 * 5)
    assert model.input_shape == (8, 8, 3) and model.output_shape == (5,)
    with pytest.raises(KeyError):
        model.layer("dense_9")


def test_blocks_and_branches_carry_their_totals():
    program = nnlang.load(INCEPTION)
    module = program.models["bottleneck"].blocks[0]
    assert (module.name, module.kind, module.block) == ("module", "block", "bottleneck_inception")
    by_name = {branch.name: branch for branch in module.branches}
    assert list(by_name) == ["b1", "b3", "b5", "pool"]
    assert by_name["b1"].totals.params == 512 * 64 + 64
    assert by_name["b3"].totals.params == (512 * 64 + 64) + (9 * 64 * 128 + 128)
    assert by_name["b3"].totals.macs == 16_384 * 64 * 512 + 16_384 * 128 * 9 * 64
    assert by_name["b5"].layers == ("conv2d_4", "conv2d_5")
    assert module.totals.params == 537_472
    assert module.output_shape == (128, 128, 64 + 128 + 64 + 512)
    assert program.models["naive"].totals.macs == 23_622_320_128


def test_comparison_ratio():
    program = nnlang.load(INCEPTION)
    (comparison,) = program.comparisons
    assert (comparison.left, comparison.right) == ("naive", "bottleneck")
    assert comparison.ratio("MACs") == pytest.approx(8_791_261_184 / 23_622_320_128)
    assert comparison.ratio("params") == pytest.approx(537_472 / 1_442_048)
    again = program.compare("naive", "bottleneck")
    assert again.rows == comparison.rows
    html = comparison._repr_html_()
    assert "<table" in html and "0.372x" in html  # 8,791,261,184 / 23,622,320,128 = 0.3722
    with pytest.raises(KeyError, match="nope"):
        program.compare("naive", "nope")


def test_conventions_dtype_and_batch():
    lstm = "model r { input 10x8; lstm 16 }"
    # four gates of 16 units over 8 inputs and 16 recurrent values; Keras one bias, PyTorch two per gate unit
    assert nnlang.loads(lstm).models["r"].totals.params == 4 * (16 * (8 + 16) + 16)
    assert nnlang.loads(lstm, convention="pytorch").models["r"].totals.params == 4 * (16 * (8 + 16) + 2 * 16)
    model = nnlang.loads(SMALL, dtype="float16", batch=8, memory=True).models["small"]
    assert model.memory.params.bytes == 297 * 2
    assert model.memory.bytes_per_value == 2
    # largest input+output pair: the conv, 8*8*3 in + 6*6*4 out = 336 values, times the batch of 8
    assert model.memory.inference_peak.values == 336 * 8
    assert model.memory.peak_layer == "conv2d_1"
    assert "Memory (float16" in model.summary()


def test_named_sizes_given_and_evaluated():
    model = nnlang.loads(SEQUENCE).models["seq"]
    assert model.sizes == ("T",)
    assert model.evaluate(model.totals.macs, T=128) == 128 * (16 * 32 + 32 * 8)
    assert model.to_dict()["totals"]["macs"] == {"expr": "768*T", "text": "768*T"}
    fixed = nnlang.loads(SEQUENCE, sizes={"T": 128}).models["seq"]
    assert fixed.totals.macs == 128 * (16 * 32 + 32 * 8)
    with pytest.raises(ValueError, match="named size 'X'"):
        nnlang.loads(SEQUENCE, sizes={"X": 3})


def test_sweep_of_a_named_size():
    rows = nnlang.loads(SEQUENCE).models["seq"].sweep("T", [64, 128, 512])
    params = 16 * 32 + 32 + 32 * 8 + 8
    for row, t in zip(rows, (64, 128, 512)):
        assert row["T"] == t
        assert row["params"] == params
        assert row["macs"] == t * (16 * 32 + 32 * 8)
        assert row["inference_peak_bytes"] == (16 * t + 32 * t) * 4  # dense_1's input and output, float32
        # parameters, gradients, Adam's two moments, then the input and every output kept
        assert row["training_bytes"] == 4 * params * 4 + (16 * t + 32 * t + 8 * t) * 4
    with pytest.raises(ValueError, match="no open size"):
        nnlang.loads(SEQUENCE).models["seq"].sweep("H", [1])


def test_errors_raise_one_exception_with_located_diagnostics():
    text = "model m {\n    input 8\n    dense 4 frobnicate\n    dense 2\n}\n"
    with pytest.raises(nnlang.NnError) as caught:
        nnlang.loads(text, name="bad.nn")
    (diagnostic,) = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E104", 3, 13)
    message = str(caught.value)
    assert "bad.nn:3:13: error[E104]" in message
    assert "3 |     dense 4 frobnicate" in message
    assert "  |             ^^^^^^^^^^" in message


def test_werror_and_warnings():
    program = nnlang.loads(SEQUENCE)
    assert {d.code for d in program.diagnostics} == {"W302"}
    with pytest.raises(nnlang.NnError):
        nnlang.loads("model w { input 1x8; lstm 4 }", werror=True)


def test_wrong_options_and_missing_files():
    with pytest.raises(ValueError, match="convention='tf'"):
        nnlang.loads(SMALL, convention="tf")
    with pytest.raises(ValueError, match="batch"):
        nnlang.loads(SMALL, batch=0)
    with pytest.raises(ValueError, match="size"):
        nnlang.loads(SEQUENCE, sizes={"T": -1})
    with pytest.raises(OSError):
        nnlang.load(ROOT / "no_such_file.nn")
    with pytest.raises(ValueError, match="format"):
        nnlang.loads(SMALL).models["small"].summary("yaml")


def test_text_from_the_file_is_escaped_in_html():
    with pytest.raises(nnlang.NnError) as caught:
        nnlang.loads("model m { input 8; dense 4 <script> }", name="<b>x</b>.nn")
    html = caught.value._repr_html_()
    assert "<script>" not in html and "<b>" not in html and "&lt;script&gt;" in html


def test_model_display_has_the_table_and_the_diagram():
    model = nnlang.loads(SMALL).models["small"]
    bundle = model._repr_mimebundle_()
    assert "<table" in bundle["text/html"] and "conv2d_1 (conv2d, relu)" in bundle["text/html"]
    assert bundle["image/svg+xml"].startswith("<svg")  # Graphviz's dot is installed where the tests run
    assert "<svg" in bundle["text/html"]
    assert "<script" not in bundle["text/html"]
    assert bundle["text/plain"] == model.summary()


def test_without_graphviz_the_display_is_html_only(monkeypatch):
    monkeypatch.setenv("PATH", "")
    bundle = nnlang.loads(SMALL).models["small"]._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "<table" in bundle["text/html"]


def test_plots(monkeypatch):
    model = nnlang.loads(SEQUENCE).models["seq"]
    figure = model.plot_sweep("T", [64, 128])
    left, right = figure.axes
    assert list(left.lines[0].get_ydata()) == [64 * 768, 128 * 768]
    assert list(right.lines[0].get_ydata()) == [48 * 64 * 4, 48 * 128 * 4]
    share = nnlang.loads(SMALL).models["small"].plot_share()
    params_bars = [bar.get_width() for bar in share.axes[0].patches]
    assert sorted(params_bars) == pytest.approx(sorted([100 * 112 / 297, 100 * 185 / 297]))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        model.plot_sweep("T", [64])


def test_import_nnlang_stays_light():
    code = "import sys, nnlang; print(sorted(m for m in sys.modules if m.startswith('nnlang')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.strip() == "['nnlang']"
    assert nnlang.loads is nnlang.api.loads
    with pytest.raises(AttributeError):
        nnlang.no_such_name  # noqa: B018


def test_docs_api_examples_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, "docs/api.md", str(ROOT / "docs" / "api.md"), 0)
    assert len(test.examples) >= 10
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{runner.failures} of {len(test.examples)} examples in docs/api.md failed"
