"""The report object (nnlang.report.Report / ModelReport): every figure computed once, from
which every back end formats. Expected numbers are arithmetic written out here."""

import csv
import io

import pytest

from helpers_nnc import EXAMPLES, nnc_in_process, nnc_json
from nnlang import report as report_module
from nnlang.driver import compile_text
from nnlang.report import Counts, ModelReport, Options, Report, layer_counts

STRIDE2 = EXAMPLES / "exam_stride2_convs.nn"

#: conv 8x8x3 -> 6x6x4 (relu), maxpool 2 -> 3x3x4, activation tanh, flatten -> 36, dense 5 softmax
SMALL = """
model small {
    input 8x8x3
    conv2d 4 k=3 relu
    maxpool2d 2
    activation tanh
    flatten
    dense 5 softmax
}
"""


def model_report(text: str, **options) -> ModelReport:
    compilation = compile_text(text)
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    return Report.of(compilation.program, Options(**options)).models[0]


def test_operation_counts_of_a_small_model():
    totals = model_report(SMALL).totals
    params = (3 * 3 * 3 + 1) * 4 + (36 * 5 + 5)
    macs = 6 * 6 * 4 * (3 * 3 * 3) + 36 * 5
    bias = 6 * 6 * 4 + 5  # one addition per output value of the conv and the dense layer
    activations = 6 * 6 * 4 + 3 * 3 * 4 + 5  # relu on the conv, the tanh layer, softmax on the dense layer
    pool = 3 * 3 * 4 * (2 * 2)  # a 2x2 window per output value
    assert (totals.params, totals.trainable, totals.non_trainable) == (params, params, 0) == (297, 297, 0)
    assert (totals.macs, totals.bias_adds, totals.activation_ops, totals.pool_ops) == (macs, bias, activations, pool)
    assert totals.layers == 5
    assert totals.flops == 2 * macs
    assert totals.flops_all == 2 * macs + bias + activations + pool == 8614
    assert [totals.ops(kind) for kind in ("macs", "flops", "flops-all")] == [macs, 2 * macs, 8614]


def test_the_activation_kind_counts_one_operation_per_value_and_a_view_none():
    report = model_report("model m { input 4x5; activation sigmoid; flatten; dropout 0.5; dense 3 bias=false }")
    counts = [layer_counts(row.layer) for row in report.rows]
    assert [(c.bias_adds, c.activation_ops) for c in counts] == [(0, 4 * 5), (0, 0), (0, 0), (0, 0)]


def test_group_counts_and_folded_rows():
    text = """
block pair(c) {
    conv2d c k=1
    conv2d c k=1 relu
}
model m {
    input 4x4x2
    first: pair(3)
    second: pair(5)
}
"""
    report = model_report(text, depth=1)
    first = (2 * 3 + 3) + (3 * 3 + 3)  # 1x1 convolutions: (c_in + 1) * c_out
    second = (3 * 5 + 5) + (5 * 5 + 5)
    assert [(row.depth, row.name, row.type, row.collapsed, row.params) for row in report.rows] == [
        (0, "first", "pair", True, first), (0, "second", "pair", True, second)]
    assert report.rows[0].macs == 4 * 4 * 3 * 2 + 4 * 4 * 3 * 3
    assert report.rows[1].counts.activation_ops == 4 * 4 * 5
    assert report.totals.params == first + second
    unfolded = model_report(text)
    assert [row.name for row in unfolded.rows] == ["first", "conv2d_1", "conv2d_2", "second", "conv2d_3", "conv2d_4"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.stem)
def test_totals_are_the_sums_of_the_layers(path):
    """The one bottom-up pass gives each group and the model the sums of their own layers."""
    program = compile_text(path.read_text()).program
    for model in program.models:
        report = ModelReport(model, Options())

        def summed(layers):
            return Counts(*map(sum, zip(*(layer_counts(layer) for layer in layers)))) if layers else Counts()

        assert report.totals == summed(model.layers)
        for group in model.groups():
            assert report.counts(group) == summed(list(group.layers())), group.name


def test_every_layer_is_counted_once_whatever_the_nesting(monkeypatch):
    text = """
block inner(c) {
    add {
        branch { conv2d c k=1; batchnorm }
        branch {}
    }
}
block middle(c) {
    concat {
        branch a { inner(c) }
        branch b { conv2d c k=3 pad=same; inner(c) }
    }
    conv2d c k=1
}
model m {
    input 8x8x4
    repeat 4 { middle(4) }
}
"""
    compilation = compile_text(text)
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    model = compilation.program.models[0]
    calls = []
    original = report_module.elementwise_ops
    monkeypatch.setattr(report_module, "elementwise_ops", lambda layer: calls.append(layer) or original(layer))
    report = ModelReport(model, Options())
    report.totals
    for group in model.groups():
        report.counts(group)
    # per middle: inner (conv, batchnorm, add) twice, a 3x3 conv, the concat, a 1x1 conv
    assert len(model.layers) == 4 * (2 * 3 + 1 + 1 + 1)
    # one pass: no layer is worked out twice; equal layers (one inference) are worked out once
    assert len({id(layer) for layer in calls}) == len(calls)
    inferred = [(id(layer.result), layer.activation) for layer in calls if layer.result is not None]
    assert len(set(inferred)) == len(inferred) and len(calls) < len(model.layers)


def test_memory_lines_of_question_2_of_001():
    """exam_stride2_convs.nn: 903,400 parameters; one image 200*300*3; outputs 1.5M, 0.75M, 0.38M values."""
    params, image, outputs, peak = 903_400, 200 * 300 * 3, 1_500_000 + 750_000 + 380_000, 1_500_000 + 750_000
    memory = model_report(STRIDE2.read_text(), batch=50).memory
    assert memory.peak_plus_params.bytes == (peak * 50 + params) * 4 == 453_613_600
    assert memory.every_activation_kept.bytes == ((image + outputs) * 50 + params) * 4 == 565_613_600
    assert memory.every_activation_kept.values == (image + outputs) * 50 + params
    one = model_report(STRIDE2.read_text()).memory
    assert one.peak_plus_params.bytes == (peak + params) * 4 == 12_613_600  # "about 12.6 MB" in the file


def test_json_memory_carries_every_line_of_the_text():
    (model,) = nnc_json(STRIDE2, "--batch", "50", in_process=True)["models"]
    memory = model["memory"]
    assert memory["inference_peak_plus_params"]["bytes"] == (2_250_000 * 50 + 903_400) * 4
    assert memory["inference_every_activation_kept"]["bytes"] == ((180_000 + 2_630_000) * 50 + 903_400) * 4
    assert set(memory) >= {"dtype", "units", "bytes_per_value", "batch", "params", "input", "activations",
                           "inference_peak", "training"}  # the keys that were there before stay
    text = nnc_in_process(STRIDE2, "--memory", "--batch", "50").stdout
    # each line of the text section is one of the JSON lines, in kB (10^3 bytes) below 10^6 bytes, else MB
    lines = [memory[key] for key in ("params", "input", "activations", "inference_peak",
                                     "inference_peak_plus_params", "inference_every_activation_kept")]
    lines += memory["training"]["lines"]
    section = text.split("Memory (float32; kB, MB, GB = 10^3, 10^6, 10^9 bytes)\n")[1].splitlines()
    amounts = [line.split("  ")[-2].strip() for line in section if " MB " in line or " kB " in line]

    def fitting(count):
        return f"{count / 10**3:,.2f} kB" if count < 10**6 else f"{count / 10**6:,.2f} MB"

    assert amounts == [fitting(line["bytes"]) for line in lines]
    assert "720.00 kB" in amounts  # the input image: 200*300*3 values x 4 bytes = 720,000 bytes


def _csv_tables(text: str) -> list[list[list[str]]]:
    return [list(csv.reader(io.StringIO(block + "\n"))) for block in text.rstrip("\n").split("\n\n")]


def test_csv_memory_is_a_second_table():
    out = nnc_in_process(STRIDE2, "--format", "csv", "--memory", "--batch", "50").stdout
    layers, memory = _csv_tables(out)
    assert layers[0][:3] == ["model", "depth", "name"] and len(layers) == 1 + 3
    assert memory[0] == ["model", "item", "bytes", "values", "how"]
    rows = {row[1]: row for row in memory[1:]}
    assert len(rows) == len(memory) - 1 == 6 + 5
    assert rows["parameters"][2:4] == [str(903_400 * 4), str(903_400)]
    assert rows["inference, batch 50: peak at conv2d_2"][2:4] == [str(2_250_000 * 50 * 4), str(2_250_000 * 50)]
    assert rows["inference, batch 50: peak + parameters"][2] == str((2_250_000 * 50 + 903_400) * 4)
    assert rows["training: input and activations (batch 50)"][2] == str((180_000 + 2_630_000) * 50 * 4)
    assert rows["training: total"][2:4] == [str(2 * 903_400 * 4 + 2 * 903_400 * 4 + 562_000_000), ""]
    assert {row[0] for row in memory[1:]} == {"stride2_convs"}
    assert _csv_tables(nnc_in_process(STRIDE2, "--format", "csv").stdout) == [layers]  # no --memory: one table


def test_csv_tables_come_in_order_layers_memory_comparison(tmp_path):
    source = tmp_path / "two.nn"
    source.write_text("model a { input 4; dense 2 }\nmodel b { input 4; dense 3 }\ncompare a, b\n")
    layers, memory, comparison = _csv_tables(nnc_in_process(source, "--format", "csv", "--memory").stdout)
    assert [row[0] for row in layers[1:]] == ["a", "b"]
    assert [row[:3] for row in memory[1:] if row[1] == "parameters"] == [["a", "parameters", str((4 + 1) * 2 * 4)],
                                                                         ["b", "parameters", str((4 + 1) * 3 * 4)]]
    assert comparison[0][0] == "compare"
    assert comparison[1][1:] == ["params", "", "a", str(10), "b", str(15), repr(15 / 10)]


def test_comparisons_read_the_model_reports():
    compilation = compile_text("model a { input 4; dense 2 }\nmodel b { input 4; dense 3 relu }\ncompare a, b\n")
    report = Report.of(compilation.program, Options(dtype="float16"))
    (comparison,) = report.comparisons
    figures = {row.label: (row.left, row.right) for row in comparison.rows}
    assert figures["params"] == ((4 + 1) * 2, (4 + 1) * 3)
    assert figures["MACs"] == (4 * 2, 4 * 3)
    assert figures["parameter bytes (float16)"] == (10 * 2, 15 * 2)


def test_json_totals_are_the_small_models_arithmetic(tmp_path):
    source = tmp_path / "small.nn"
    source.write_text(SMALL)
    (model,) = nnc_json(source, in_process=True)["models"]
    totals = model["totals"]
    assert (totals["params"], totals["macs"], totals["bias_adds"], totals["activation_ops"], totals["pool_ops"]) == (
        297, 6 * 6 * 4 * 27 + 36 * 5, 6 * 6 * 4 + 5, 6 * 6 * 4 + 36 + 5, 3 * 3 * 4 * 4)
    flops_all = nnc_in_process(source, "--ops", "flops-all").stdout
    assert f"FLOPs (2 x MACs + bias adds + activations + pooling): {8614:,}" in flops_all
