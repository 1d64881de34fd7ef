"""Bad input: every case names its expected diagnostics inline as (code, line, column)."""

import pytest

from helpers_nnc import assert_no_traceback, run_nnc
from nnlang.diagnostics import CODES, render
from nnlang.driver import compile_text

CASES = [
    # syntax
    ("model m {\n  input 28x28x3\n  conv2d 32 k=3\n", [("E003", 3, 16)]),
    ("model m { input 4; dense 4 @ }", [("E002", 1, "@")]),
    ("model m { input 4 dense 2 }\nmodel", [("E003", 2, 6)]),
    ("model m { input 4; -> 3 }", [("E001", 1, "->")]),
    ("model { }", [("E001", 1, "{")]),
    # names and arguments
    ("model m {\n input 28x28x3\n conv2 32 k=3\n}", [("E101", 3, "conv2")]),
    ("model m {\n input 28x28x3\n conv2d 32 kernl=3\n}", [("E102", 3, "kernl")]),
    ("model m { input 8x8x3; conv2d 32 }", [("E103", 1, "conv2d")]),
    ("model m { input 4; dense 10 relux }", [("E104", 1, "relux")]),
    ("model m { input 4; dense 0 }", [("E104", 1, "0")]),
    ("model m { input 4; dropout 1.5 }", [("E104", 1, "1.5")]),
    ("model m { input 8x8x3; conv2d 4 k=3 k=5 }", [("E105", 1, "k=5")]),
    ("model m { input 4 }\nmodel m { input 5 }", [("E106", 2, "m {")]),
    ("model a { input 4 }\ncompare a, bb", [("E107", 2, "bb")]),
    ("block a(x) { dense x }\nmodel m { input 4; a(1, 2) }", [("E108", 2, "2)")]),
    ("block a(x) { dense x }\nmodel m { input 4; a(y=1) }", [("E108", 2, "y=1")]),
    ("block a(x) { dense x }\nmodel m { input 4; a() }", [("E108", 2, "a()")]),
    ("block a(x) { b(x) }\nblock b(y) { a(y) }\nmodel m { input 4; a(3) }", [("E109", 2, "a(y)")]),
    ("block a(x) { dense xx }\nmodel m { input 4; a(3) }", [("E110", 1, "xx")]),
    ("block a(x) { dense x // (x - 3) }\nmodel m { input 4; a(3) }", [("E111", 1, "x //")]),
    ("model m { input 4; repeat 100000000000 { dense 4 } }", [("E112", 1, "100000000000")]),
    ("model m { dense 4 }", [("E113", 1, "m {")]),
    ("model m { input 4; input 5 }", [("E114", 1, "input 5")]),
    ("block dense() { }\nmodel m { input 4 }", [("E115", 1, "dense")]),
    # shapes
    ("model m {\n input 784\n conv2d 8 k=3\n}", [("E201", 3, "conv2d")]),
    ("model m {\n input 10x8\n lstm 4\n lstm 4\n}", [("E201", 4, "lstm")]),
    ("model m { input 3x3x1; conv2d 4 k=5 }", [("E202", 1, "k=5")]),
    ("model m { input 8x8x3; concat { branch { conv2d 4 k=3 } branch { conv2d 4 k=1 } } }", [("E204", 1, "concat")]),
    ("model m { input 8x8x3; add { branch { conv2d 4 k=1 } branch {} } }", [("E204", 1, "add")]),
    ("model m { input ?x3; flatten }", [("E205", 1, "flatten")]),
    ("model m { input 4x4; reshape 3x5 }", [("E206", 1, "3x5")]),
    # expectations
    ("model m { input 28x28x3; conv2d 32 k=5 -> 28x28x32 }", [("E301", 1, "28x28x32 }")]),
    ("model m { input 32x32x32; conv2d 32 k=3 -> params=9284 }", [("E302", 1, "params")]),
    ("model m { input 4; dense 2 -> macs=9 }", [("E303", 1, "macs")]),
    ("model m { input 4; dense 2 -> parms=9 }", [("E304", 1, "parms")]),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[f"{c[1][0][0]}-{i}" for i, c in enumerate(CASES)])
def test_diagnostic_code_and_position(text, expected):
    lines = text.split("\n")
    # a column is given as a number, or as the text that starts at it (its first occurrence on the line)
    expected = [(code, line, at if isinstance(at, int) else lines[line - 1].index(at) + 1)
                for code, line, at in expected]
    compilation = compile_text(text, "bad.nn")
    found = [(d.code, d.span.line, d.span.column) for d in compilation.diagnostics if d.is_error]
    assert found == expected, [render(d, compilation.source) for d in compilation.diagnostics]


def test_every_error_code_is_exercised_or_internal():
    exercised = {code for _, expected in CASES for code, _, _ in expected}
    untested = {c for c, entry in CODES.items() if entry.severity == "error"} - exercised
    # E004 (not UTF-8) and E005 (huge literal) are tested below through the CLI; E203 is a pooling
    # padding limit tested in test_layers; E401 is nnc export's, tested in test_export and by its
    # documented example (test_diagnostic_docs); E900 is the internal-error line.
    assert untested <= {"E004", "E005", "E203", "E401", "E900"}, untested


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
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    path = tmp_path / "ok.nn"
    path.write_text("model m { input 4; dense 2 }")
    bad_option = run_nnc(path, "--format", "pdf")
    assert bad_option.returncode == 2
    assert_no_traceback(bad_option)


def test_failed_compile_writes_no_output_file(tmp_path):
    source = tmp_path / "bad.nn"
    source.write_text("model m { input 4; dense 0 }")
    target = tmp_path / "out.json"
    proc = run_nnc(source, "--format", "json", "-o", target)
    assert proc.returncode == 1
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [source]


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
