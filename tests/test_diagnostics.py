"""Bad input: what the diagnostics say, how they are shown, and what the command line does with them.

Which code each kind of bad input gets, and where, is written in the fixtures of
tests/fixtures/diagnostics/ (run by tests/test_fixtures.py).
"""

import json

import pytest

from helpers_nnc import assert_no_traceback, run_nnc
from nnlang.diagnostics import render
from nnlang.driver import compile_text


def test_several_errors_in_one_run():
    text = "model m {\n input 28x28x3\n conv2 32 k=3\n conv2d 32 kernl=3\n dense 10 relux\n}"
    codes = [d.code for d in compile_text(text).diagnostics if d.is_error]
    assert codes == ["E101", "E102", "E104"]


def test_suggestions_name_the_closest_valid_spelling():
    text = "model m { input 28x28x3; conv2 32 k=3 }\nmodel n { input 8x8x3; conv2d 4 kernl=3 }"
    notes = [d.notes for d in compile_text(text).diagnostics]
    assert notes[0] == ("did you mean 'conv2d'?",)
    assert notes[1] == ("did you mean 'kernel'?",)


def test_expectation_shows_both_values_and_the_formula():
    text = "model m { input 32x32x32; conv2d 32 k=3 pad=same -> params=9284 }"
    (diagnostic,) = compile_text(text).diagnostics
    assert diagnostic.message == "params: expected 9,284, computed 3*3*32*32 + 32 = 9,248"
    assert 3 * 3 * 32 * 32 + 32 == 9248


def test_rendering_has_location_source_line_and_caret():
    compilation = compile_text("model m {\n  input 28x28x3\n  conv2 32 k=3\n}", "exam.nn")
    text = render(compilation.diagnostics.items[0], compilation.source)
    assert text.splitlines() == [
        "exam.nn:3:3: error[E101]: unknown layer kind or block 'conv2'",
        "  |",
        "3 |   conv2 32 k=3",
        "  |   ^^^^^",
        "  = did you mean 'conv2d'?",
    ]


def test_stacked_recurrent_error_names_the_line_to_fix():
    (diagnostic,) = compile_text("model m {\n input 10x8\n lstm 4\n lstm 4\n}").diagnostics
    assert diagnostic.notes == ("the lstm at line 3 returns only its last output: give it return_sequences=true",)


# --- through the command line -------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"model m {\n  input 28x28x3\n  conv2d 32 k=3\n",  # unclosed
        b"\xff\xfe model m { }",  # not UTF-8
        b"model m { input 99999999999999999999; dense 2 }",  # literal too large
        b"model m { input 4; repeat 3000 { repeat 3000 { } } }",  # expansion limit
        b"model m {" * 5000,  # deep nesting
    ],
    ids=["unclosed", "not-utf8", "huge-literal", "expansion-limit", "deep-nesting"],
)
def test_bad_files_exit_1_with_a_located_diagnostic(tmp_path, content):
    path = tmp_path / "bad.nn"
    path.write_bytes(content)
    proc = run_nnc(path)
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    assert f"{path}:" in proc.stderr and "error[E" in proc.stderr
    assert "^" in proc.stderr
    assert proc.stdout == ""


def test_missing_file_and_bad_option_exit_2(tmp_path):
    missing = run_nnc(tmp_path / "nope.nn")
    assert missing.returncode == 2
    # one line that names the file, not the usage of a command the help never lists
    assert missing.stderr == f"nnc: error: cannot read {tmp_path / 'nope.nn'}: No such file or directory\n"
    path = tmp_path / "ok.nn"
    path.write_text("model m { input 4; dense 2 }")
    bad_option = run_nnc(path, "--format", "pdf")
    assert bad_option.returncode == 2
    assert_no_traceback(bad_option)


def test_failed_compile_writes_the_json_report_with_its_diagnostics(tmp_path):
    source = tmp_path / "bad.nn"
    source.write_text("model m { input 4; dense 0 }")
    target = tmp_path / "out.json"
    proc = run_nnc(source, "--format", "json", "-o", target)
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    report = json.loads(target.read_text(encoding="utf-8"))
    # `dense 0` is at column 20; its argument 0, the value refused, at column 26
    assert [(d["code"], d["line"], d["column"]) for d in report["diagnostics"]] == [("E104", 1, 26)]
    assert sorted(tmp_path.iterdir()) == sorted([source, target])  # no temporary file left
    to_stdout = run_nnc(source, "--format", "json")
    assert to_stdout.returncode == 1
    assert target.read_text(encoding="utf-8") == to_stdout.stdout


def test_empty_file_warns(tmp_path):
    path = tmp_path / "empty.nn"
    path.write_text("")
    proc = run_nnc(path)
    assert proc.returncode == 0
    assert "warning[W001]" in proc.stderr


def test_werror_turns_warnings_into_errors(tmp_path):
    path = tmp_path / "w.nn"
    path.write_text("model m { input 61x61x8; maxpool2d 2 }")  # (61 - 2) is odd: a row is dropped
    assert run_nnc(path).returncode == 0
    proc = run_nnc(path, "--werror")
    assert proc.returncode == 1 and "warning[W201]" in proc.stderr
