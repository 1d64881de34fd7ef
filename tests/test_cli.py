"""The nnc command line: formats, options, the JSON contract, files written atomically."""

import csv
import io
import json

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, nnc_json, run_nnc

EXAM = EXAMPLES / "exam_cnn_rgb28.nn"


def test_json_report_has_the_contract_keys():
    report = nnc_json(EXAM)
    (model,) = report["models"]
    assert {"name", "input_shape", "output_shape", "layers", "totals", "blocks"} <= set(model)
    assert model["input_shape"] == [28, 28, 3] and model["output_shape"] == [10]
    first = model["layers"][0]
    assert {"name", "type", "path", "output_shape", "params", "trainable_params", "non_trainable_params",
            "macs"} <= set(first)
    assert first == {**first, "name": "conv2d_1", "type": "conv2d", "path": [], "output_shape": [28, 28, 32],
                     "params": 2432, "trainable_params": 2432, "non_trainable_params": 0,
                     "macs": 28 * 28 * 32 * (5 * 5 * 3)}
    assert model["totals"]["params"] == 686090
    assert model["totals"]["macs"] == sum(layer["macs"] for layer in model["layers"])
    assert report["diagnostics"] == []


def test_json_diagnostics_are_located(tmp_path):
    path = tmp_path / "warn.nn"
    path.write_text("model m {\n  input 61x61x8\n  maxpool2d 2\n}\n")
    report = nnc_json(path)
    (diagnostic,) = report["diagnostics"]
    assert (diagnostic["severity"], diagnostic["code"], diagnostic["line"], diagnostic["column"]) == (
        "warning", "W201", 3, 3)


def test_json_names_an_open_dimension_and_nulls_an_unknown_one(tmp_path):
    path = tmp_path / "seq.nn"
    path.write_text("model m { input ?x8; lstm 4 return_sequences=true }")
    (model,) = nnc_json(path)["models"]
    length = {"expr": "T", "text": "T"}  # an open length is named T
    assert model["sizes"] == ["T"]
    assert model["input_shape"] == [length, 8] and model["layers"][0]["output_shape"] == [length, 4]
    for t in (1, 9, 100):  # 4 gates x 4 units x (8 + 4) MACs per step
        assert eval(model["layers"][0]["macs"]["expr"], {"__builtins__": {}}, {"T": t}) == t * 4 * 4 * (8 + 4)
    # a shape an error leaves unknown (a 5-wide window over 4 steps) is null
    path.write_text("model m { input 4x8; conv1d 2 k=5; lstm 4 }")
    (model,) = nnc_json(path, status=1)["models"]
    assert model["input_shape"] == [4, 8] and model["output_shape"] is None
    assert [layer["output_shape"] for layer in model["layers"]] == [None, None]


@pytest.mark.parametrize("convention, params", [("keras", 4 * 64), ("pytorch", 2 * 64), ("textbook", 2 * 64)])
def test_convention_option(tmp_path, convention, params):
    path = tmp_path / "bn.nn"
    path.write_text("model m { input 8x8x64; batchnorm }")
    (model,) = nnc_json(path, "--convention", convention)["models"]
    assert model["totals"]["params"] == params


@pytest.mark.parametrize("dtype, units, text", [
    ("float64", "si", "5.49 MB"),  # 686,090 * 8 / 10^6
    ("float64", "iec", "5.23 MiB"),  # 686,090 * 8 / 2^20 = 5.2345
    ("float32", "si", "2.74 MB"),  # 686,090 * 4 / 10^6
    ("float16", "iec", "1.31 MiB"),  # 686,090 * 2 / 2^20 = 1.3086
])
def test_parameter_memory_in_the_chosen_unit(dtype, units, text):
    proc = run_nnc(EXAM, "--dtype", dtype, "--units", units)
    assert proc.returncode == 0
    assert f"Total params: 686,090 ({text} at {dtype})" in proc.stdout


def test_text_table_reads_like_keras():
    proc = run_nnc(EXAM)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith('Model: "exam1"')
    header = lines[2]
    for title in ["Layer (type)", "Output Shape", "Param #", "Kernel", "Stride", "Padding", "MACs"]:
        assert title in header
    row = next(line for line in lines if "conv2d_1" in line)
    assert "(None, 28, 28, 32)" in row and "2,432" in row and "same (2)" in row and "5x5x3" in row
    assert " Trainable params: 686,090" in lines


def test_ascii_and_batch_options():
    proc = run_nnc(EXAM, "--ascii", "--batch", "50")
    assert proc.returncode == 0
    assert "(50, 28, 28, 32)" in proc.stdout
    assert all(ord(ch) < 128 for ch in proc.stdout)


def test_explain_shows_worked_formulas():
    proc = run_nnc(EXAM, "--explain")
    assert "params: 5*5*3*32 + 32 = 2,432" in proc.stdout
    assert "MACs: 24*24*64*(5*5*32) = 29,491,200" in proc.stdout
    assert "(28 + 2*0 - 5)/1 + 1 = 24" in proc.stdout


def test_markdown_and_csv_carry_the_json_numbers():
    report = nnc_json(EXAM)
    params = [layer["params"] for layer in report["models"][0]["layers"]]
    rows = list(csv.DictReader(io.StringIO(run_nnc(EXAM, "--format", "csv").stdout)))
    assert [int(r["params"]) for r in rows] == params
    markdown = run_nnc(EXAM, "--format", "markdown").stdout
    assert "| conv2d_1 (conv2d) | (None, 28, 28, 32) | 2,432 |" in markdown


def test_output_file_is_written(tmp_path):
    target = tmp_path / "report.json"
    proc = run_nnc(EXAM, "--format", "json", "-o", target)
    assert proc.returncode == 0 and proc.stdout == ""
    assert json.loads(target.read_text())["models"][0]["name"] == "exam1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_check_summarises_the_answer_key(tmp_path):
    path = tmp_path / "key.nn"
    path.write_text("model m {\n input 32x32x32\n conv2d 32 k=3 pad=same -> 32x32x32 params=9284\n"
                    " maxpool2d 2 -> 16x16x32\n}\n")
    proc = run_nnc("check", path)
    assert proc.returncode == 1
    assert "expectations: 3 checked, 2 hold, 1 differ" in proc.stdout
    assert "params: expected 9,284, computed 3*3*32*32 + 32 = 9,248" in proc.stdout
    assert proc.stdout.count("Param #") == 0


def test_explain_command():
    proc = run_nnc("explain", "E302")
    assert proc.returncode == 0 and "E302" in proc.stdout
    assert run_nnc("explain", "E999").returncode == 2


def test_help_and_version():
    assert "Usage" in run_nnc("--help").stdout
    version = run_nnc("--version")
    assert version.returncode == 0 and "nnc" in version.stdout
    assert_no_traceback(version)


def test_every_example_compiles_without_error():
    for path in sorted(EXAMPLES.glob("*.nn")):
        proc = run_nnc(path)
        assert_no_traceback(proc)
        assert proc.returncode == 0, f"{path.name}: {proc.stderr}"
