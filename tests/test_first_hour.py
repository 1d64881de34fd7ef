"""The first hour with nnc: what a newcomer copies from Keras, PyTorch or nnc's own report is
accepted or answered with a message that names the fix; a model's totals are an expectation;
a file acknowledges the warnings it means with `allow`, and the bundled examples run clean.

Expected numbers are arithmetic written out here. More cases, each with its diagnostics
written inline, are in tests/fixtures/language/first_hour.nn and
tests/fixtures/diagnostics/first_hour.nn.
"""

from __future__ import annotations

import re

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, nnc_in_process
from nnlang.diagnostics import render
from nnlang.driver import compile_text


def compile_(text: str, convention: str = "keras"):
    return compile_text(text, "key.nn", convention)


def diagnostics(text: str) -> list[tuple]:
    return [(d.code, d.span.line, d.span.column) for d in compile_(text).diagnostics]


def only(text: str, code: str):
    """The one diagnostic of `text`, which must have `code`."""
    found = list(compile_(text).diagnostics)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def run(tmp_path, text: str, *args):
    path = tmp_path / "key.nn"
    path.write_text(text)
    proc = nnc_in_process(*args, path)
    assert_no_traceback(proc)
    return proc


# --- 8: what is copied from elsewhere ---------------------------------------------------------


def test_a_shape_copied_from_keras_summary_is_accepted():
    # Keras prints the batch as a leading None: (None, 24, 24, 32) is 24x24x32 (28 - 5 + 1 = 24)
    text = "model m { input 28x28x3; conv2d 32 k=5 -> (None, 24, 24, 32) }"
    compilation = compile_(text)
    assert list(compilation.diagnostics) == [] and compilation.program.expectations_checked == 1


def test_a_wrong_shape_copied_from_keras_reads_without_the_batch():
    d = only("model m { input 28x28x3; conv2d 32 k=5 -> (None, 28, 28, 32) }", "E301")
    assert d.message == "output shape: expected 28x28x32, computed 24x24x32"
    assert "None" not in d.message


@pytest.mark.parametrize("written", ["9,248", "9_248", "9248"])
def test_counts_as_nnc_prints_them(written):
    # 3*3*32*32 + 32 = 9248
    text = f"model m {{ input 32x32x32; conv2d 32 k=3 pad=same -> params={written} }}"
    compilation = compile_(text)
    assert list(compilation.diagnostics) == [] and compilation.program.expectations_checked == 1


def test_a_grouped_count_that_differs_shows_both_values():
    text = "model m { input 32x32x32; conv2d 32 k=3 pad=same -> params=9,284 }"
    d = only(text, "E302")
    assert d.message == "params: expected 9,284, computed 3*3*32*32 + 32 = 9,248"
    assert (d.span.line, d.span.column, d.span.end_column) == (1, text.index("params") + 1, text.index(" }") + 1)


@pytest.mark.parametrize("written", ["9,24", "92,48", "9, 248", "09,248", "9,2480"])
def test_misgrouped_counts_name_the_fix(written):
    text = f"model m {{ input 784; dense 10 -> params={written} }}"
    d = only(text, "E006")
    assert (d.span.line, d.span.column, d.span.end_column) == (1, text.index(written) + 1,
                                                               text.index(written) + len(written) + 1)
    assert "9,248" in d.message and "9248" in d.notes[0] and "9_248" in d.notes[0]


def test_a_comma_in_a_number_outside_an_expectation_names_the_fix():
    d = only("model m {\n    input 784\n    dense 1,000\n}\n", "E006")
    assert (d.span.line, d.span.column, d.span.end_column) == (3, 11, 16)
    assert d.message == "1,000: a ',' does not group digits here"
    assert d.notes[0].startswith("write 1000 or 1_000")


def test_keras_quotes_mean_the_bare_word():
    quoted = compile_("model m { input 28x28x3; conv2d 32 k=5 pad=\"same\" activation='relu' -> 28x28x32 }")
    assert list(quoted.diagnostics) == []
    (node,) = quoted.program.models[0].layers
    assert node.args["pad"] == "same" and node.activation == "relu"
    assert node.params == 5 * 5 * 3 * 32 + 32


@pytest.mark.parametrize("quoted, fix", [('"same padding"', "write same without quotes"),
                                         ('"3"', "write 3"), ("' '", "write the value without quotes")])
def test_quoted_text_that_is_not_a_word_names_the_fix(quoted, fix):
    text = f"model m {{ input 28x28x3; conv2d 8 k=3 pad={quoted} }}"
    found = list(compile_(text).diagnostics)
    assert found[0].code == "E007" and found[0].notes == (fix,)
    column = text.index(quoted) + 1
    assert (found[0].span.column, found[0].span.end_column) == (column, column + len(quoted))


@pytest.mark.parametrize("written", ["input 28 x 28 x 3", "input 28 x28 x 3", "input 28\tx 28x3", "input (28, 28, 3)"])
def test_blanks_in_a_shape(written):
    compilation = compile_(f"model m {{ {written}; conv2d 8 k=3 -> 26x26x8 }}")  # 28 - 3 + 1 = 26
    assert list(compilation.diagnostics) == []
    assert compilation.program.models[0].input_shape == (28, 28, 3)


@pytest.mark.parametrize("call, spelled, note", [
    ("Conv2d(3, 16, 3)", "conv2d 16 k=3", "the input size (3)"),
    ("Conv2d(3, 16, kernel_size=3, stride=2, padding=1, bias=False)", "conv2d 16 k=3 s=2 pad=1 bias=false",
     "the input size (3)"),
    ("Conv2D(16, (3, 3), strides=(2, 2), padding='same', activation='relu')", "conv2d 16 k=3 s=2 pad=same relu",
     None),
    ("MaxPool2d(3, 2)", "maxpool2d 3 s=2", None),
    ("MaxPooling2D(pool_size=(2, 2))", "maxpool2d 2", None),
    ("BatchNorm2d(3)", "batchnorm", "the input size (3)"),
    ("Flatten()", "flatten", None),
    ("Dense(10, activation='softmax', name='out')", "out: dense 10 softmax", None),
    ("conv2d(16, k=3)", "conv2d 16 k=3", "calls a block"),
])
def test_a_framework_call_shows_the_nnc_spelling(call, spelled, note):
    found = compile_(f"model m {{\n    input 28x28x3\n    {call}\n}}\n").diagnostics
    e116 = [d for d in found if d.code == "E116"]
    assert len(e116) == 1 and f"in nnc write `{spelled}`" in e116[0].message
    assert (e116[0].span.line, e116[0].span.column, e116[0].span.end_column) == (3, 5, 5 + len(call))
    if note:
        assert any(note in n for n in e116[0].notes), e116[0].notes
    # what the message says to write compiles without an error
    fixed = compile_(f"model m {{\n    input 28x28x3\n    {spelled}\n}}\n")
    assert not any(d.is_error for d in fixed.diagnostics)


def test_keras_input_shows_the_input_statement():
    text = "model m {\n    Input(shape=(28, 28, 3))\n    conv2d 8 k=3 -> 26x26x8\n}\n"  # 28 - 3 + 1 = 26
    found = list(compile_(text).diagnostics)
    assert [d.code for d in found] == ["E116"]
    assert found[0].message.endswith("in nnc write `input 28x28x3`")


def test_a_framework_call_is_compiled_as_its_nnc_spelling():
    # the rest of the model is checked: conv2d 16 k=3 gives 26x26x16 (28 - 3 + 1), and flatten 26*26*16
    text = "model m {\n    input 28x28x3\n    Conv2d(3, 16, 3)\n    flatten -> 10816\n}\n"
    assert diagnostics(text) == [("E116", 3, 5)]
    assert compile_(text).program.models[0].layers[0].params == 3 * 3 * 3 * 16 + 16


@pytest.mark.parametrize("text", [
    "model m { input 28x28x3; Dense(10) -> 28x28x10 allow W302 }",
    "model m { input(28, 28, 3); reshape(2352) -> 2352 }",
    "model m { input 28x28x3; maxpool2d (2, 1) -> 14x28x3 }",
    "block b(c, k=3) { conv2d c k=k }\nmodel m { input 28x28x3; b(4, k=5) -> 24x24x4 }",
])
def test_what_nnc_writes_with_parentheses_stays_nnc(text):
    assert diagnostics(text) == []


@pytest.mark.parametrize("char, hint", [("\u00d7", "letter x"), ("\u201c", "typographic quotes")])
def test_characters_pasted_from_documents_name_the_fix(char, hint):
    d = only(f"model m {{ input 28{char}28 }}", "E002")
    assert hint in d.notes[0]


def test_a_shape_in_brackets_names_how_shapes_are_written():
    # `[` starts a list of numbers, which only an option takes (weights=[[...]]): here it is misplaced
    d = only("model m { input [28, 28] }", "E001")
    assert "shapes are written 28x28x3 or (28, 28, 3)" in d.notes[0]


@pytest.mark.parametrize("written, name", [("nn.Linear(3, 4)", "Linear"), ("tf.keras.layers.Dense(4)", "Dense")])
def test_a_layer_with_its_module_names_the_fix(written, name):
    d = only(f"model m {{\n    input 3\n    {written}\n}}\n", "E002")
    assert (d.span.line, d.span.column) == (3, 5 + written.index("."))
    assert d.notes == (f"a layer is named without its module: `{name}`, not `{written.split('(')[0]}`",)


BAD_SYNTAX = [
    "model m {\n    input 28x28x3\n    conv2d 32 k=\n}\n",
    "model m {\n    input 28x28x3\n    conv2d 32 k=5 -> params=\n}\n",
    "model m \n{\n    input 28x28x3\n}\n",
    "model m {\n    input 28x28x3\n    dense 10,\n}\n",
    "model m {\n    input 28x28x3\n    x:\n}\n",
    "model m {\n    input 28x28x3\n    dense 3 -> 3 params=1 2\n}\n",
    "model m {\n    input 28x28x3\n    repeat {\n dense 3\n }\n}\n",
    "model m {\n    input 28x28x3;;\n    concat {\n branch { dense 3 }\n dense 4\n }\n}\n",
    "model m { input 3 } ->\n -> 3",
    "model m {\n    input 3\n    dense 3 ; -> 3\n}\n",
    "block b() { dense 2 } -> params=6\nmodel m { input 2; b() }\n",
    "model m {\n    input 28x28x3\n    conv2d 32 k=5 pad= \"same\"\"\n}\n",
    "compare a\n",
]


@pytest.mark.parametrize("text", BAD_SYNTAX)
def test_syntax_errors_read_as_sentences(text):
    (d,) = compile_(text).diagnostics
    assert d.code in ("E001", "E002", "E003")
    assert not re.search(r"unexpected (a|an|the) ", d.message), d.message  # "unexpected a new line"
    assert "..." not in d.message and " or or " not in d.message
    assert not re.search(r"expected .*\bor a new line or\b", d.message), d.message
    rendered = render(d, compile_(text).source)
    assert rendered.startswith(f"key.nn:{d.span.line}:{d.span.column}: error[{d.code}]: ")


def test_a_comma_between_arguments_names_the_fix():
    (d,) = compile_("model m {\n    input 28x28x3\n    conv2d 32, k=5\n}\n").diagnostics
    assert d.code == "E001" and "separated by spaces" in d.notes[0]


def test_an_expectation_after_a_block_says_where_one_goes():
    (d,) = compile_("block b() { dense 2 } -> params=6\nmodel m { input 2; b() }\n").diagnostics
    assert d.code == "E001" and "`} -> params=N`" in d.notes[0]


def test_the_cli_reports_a_framework_call_located_with_a_caret(tmp_path):
    proc = run(tmp_path, "model m {\n    input 28x28x3\n    Conv2d(3, 16, 3)\n}\n")
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].endswith("key.nn:3:5: error[E116]: Conv2d(...) is the PyTorch spelling; in nnc write "
                             "`conv2d 16 k=3`")
    assert lines[2] == "3 |     Conv2d(3, 16, 3)" and lines[3] == "  |     ^^^^^^^^^^^^^^^^"


# --- 9: the model's totals ------------------------------------------------------------------

EXAM = """model exam1 {
    input 28x28x3
    conv2d 32 k=5 pad=same
    maxpool2d 2
    flatten
    dense 10 softmax
}"""
# conv2d: 5*5*3*32 + 32 = 2432 params, 28*28*32*(5*5*3) = 1881600 MACs
# dense: 14*14*32*10 + 10 = 62730 params, 6272*10 = 62720 MACs
PARAMS = 5 * 5 * 3 * 32 + 32 + 14 * 14 * 32 * 10 + 10
MACS = 28 * 28 * 32 * (5 * 5 * 3) + 14 * 14 * 32 * 10


@pytest.mark.parametrize("expect, checks", [
    (f"-> params={PARAMS:,} macs={MACS:,} 10", 3),  # the spelling of the contract: shape last
    (f"-> 10 params={PARAMS} macs={MACS}", 3),
    (f"-> (None, 10) trainable={PARAMS} non_trainable=0", 3),
    (f"-> params={PARAMS:_}", 1),
])
def test_a_model_expectation_that_holds(expect, checks):
    compilation = compile_(f"{EXAM} {expect}\n")
    assert list(compilation.diagnostics) == []
    assert compilation.program.expectations_checked == checks


def test_a_model_expectation_that_differs_fails_like_a_layers():
    text = f"{EXAM} -> params=453,750 macs={MACS} 12\n"
    found = compile_(text).diagnostics
    assert [(d.code, d.span.line, d.span.column) for d in found] == [("E301", 7, 34), ("E302", 7, 6)]
    shape, params = found
    assert shape.message == "output shape: expected 12, computed 10"
    assert params.message == f"params: expected 453,750, computed the model's total over its 4 layers = {PARAMS:,}"
    assert params.notes == ("by layer: conv2d_1 2,432 + dense_1 62,730",)


def test_check_counts_the_model_expectation_and_fails(tmp_path):
    proc = run(tmp_path, f"{EXAM} -> params={PARAMS + 1} macs={MACS}\n", "check")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "expectations: 2 checked, 1 hold, 1 differ"
    assert f"line 7: params: expected {PARAMS + 1:,}" in proc.stdout
    assert "key.nn:7:6: error[E302]" in proc.stderr
    ok = run(tmp_path, f"{EXAM} -> params={PARAMS} macs={MACS}\n", "check")
    assert ok.returncode == 0 and ok.stdout.strip() == "expectations: 2 checked, 2 hold, 0 differ"


def test_the_summary_fails_on_a_model_expectation(tmp_path):
    proc = run(tmp_path, f"{EXAM} -> trainable=1\n")
    assert proc.returncode == 1 and "error[E302]: trainable: expected 1" in proc.stderr


def test_a_model_expectation_counts_in_the_chosen_convention():
    # batch norm on 4 channels: Keras 4*4 = 16 parameters (8 of them statistics), PyTorch 2*4 = 8
    text = "model m { input 8x8x4; batchnorm } -> params=16 trainable=8 non_trainable=8\n"
    assert diagnostics(text) == []
    assert [d.code for d in compile_(text, "pytorch").diagnostics] == ["E302", "E302"]


def test_a_model_expectation_is_not_checked_when_the_model_fails():
    # the error is reported once, at the layer; the total is not compared with a partial sum
    assert diagnostics(f"{EXAM.replace('dense 10', 'dense 0')} -> params=1\n") == [("E104", 6, 11)]


# --- 15: warnings said once per layer, and the ones a file means ----------------------------


def test_a_warning_is_said_once_per_layer_with_both_axes():
    # 'same' with stride 2 on 200x300: ceil(200/2) = 100 needs (100 - 1)*2 + 3 - 200 = 1 row: 0 before, 1 after
    d = only("model m { input 200x300x3; conv2d 8 k=3 s=2 pad=same }", "W202")
    assert d.message.endswith("0 before and 1 after, as TensorFlow/Keras pad it (along height and width)")
    # PyTorch's symmetric padding: floor((200 - 3)/2) + 1 = 99, floor((300 - 3)/2) + 1 = 149
    assert d.notes == ("in PyTorch, padding=0 gives 99x149, not 100x150; padding=1 gives the same size 100x150 "
                       "but shifts the windows",)


def test_axes_with_other_numbers_share_one_warning():
    # (28 - 3) = 25 and (30 - 3) = 27 are both odd: one row and one column are dropped
    d = only("model m { input 28x30x3; conv2d 8 k=3 s=2 }", "W201")
    assert "(28 + 0 - 3) = 25" in d.message and "(along height)" in d.message
    assert "(30 + 0 - 3) = 27" in d.message and "(along width)" in d.message
    assert d.notes == ("along height: an input of 29 (or 1 more padding) would make it exact",
                       "along width: an input of 31 (or 1 more padding) would make it exact")


def test_the_bundled_examples_run_clean():
    for path in sorted(EXAMPLES.glob("*.nn")):
        proc = nnc_in_process(path)
        assert proc.returncode == 0 and proc.stderr == "", (path.name, proc.stderr)


def test_the_examples_acknowledge_what_they_mean():
    # without their allows, the examples would warn as they did: say so, so the allows are not dead
    def warnings(name, *allows):
        text = (EXAMPLES / name).read_text()
        for allow in allows:
            text = text.replace(allow, "")
        return sorted({d.code for d in compile_text(text, name).diagnostics})
    assert warnings("exam_stride2_convs.nn", "allow W202") == ["W202"]
    assert warnings("googlenet.nn", "allow W205") == ["W205"]
    assert warnings("exam_homework_cnn.nn", "allow W201") == ["W201"]
    assert warnings("exam_gru_text.nn", "allow W302") == ["W302"]
    assert warnings("exam_mnist_autoencoder.nn", "allow W202") == ["W202"]


MODEL = "model m {\n    input 28x28x3\n    conv2d 8 k=3 s=2 pad=same%s\n    conv2d 8 k=3 s=2 pad=same\n}\n"


def test_a_marker_covers_its_statement_only():
    assert diagnostics(MODEL % " allow W202") == [("W202", 4, 22)]
    assert diagnostics(MODEL % " -> 14x14x8 allow W202") == [("W202", 4, 22)]


def test_an_allow_statement_covers_its_model():
    assert diagnostics(MODEL.replace("    input", "    allow W202\n    input") % "") == []
    assert diagnostics("allow W202\n" + MODEL % "") == []


def test_allow_takes_several_codes_and_leaves_the_others():
    text = "model m {\n    allow W202, W303\n    input 28x28x3\n    conv2d 8 k=3 s=2 pad=same\n    dense 4 softmax\n" \
           "    flatten\n    dense 2\n}\n"
    assert diagnostics(text) == [("W302", 5, 5)]


def test_an_allowed_warning_is_gone_from_every_output(tmp_path):
    text = "model m {\n    allow W202\n    input 28x28x3\n    conv2d 8 k=3 s=2 pad=same\n}\n"
    proc = run(tmp_path, text, "--format", "json")
    assert proc.returncode == 0 and proc.stderr == "" and '"diagnostics": []' in proc.stdout
    assert run(tmp_path, text, "--werror").returncode == 0
    assert run(tmp_path, text.replace("    allow W202\n", ""), "--werror").returncode == 1


def test_an_unknown_code_suggests_the_closest():
    d = only("allow W2O2\nmodel m { input 4; dense 2 }", "E117")  # a letter O for the zero
    assert d.message == "'W2O2' is not a diagnostic code" and d.notes == ("did you mean 'W202'?",)
    d = only("allow w202\nmodel m { input 4; dense 2 }", "E117")
    assert d.notes == ("did you mean 'W202'?",)
    d = only("allow E301\nmodel m { input 4; dense 2 }", "E117")
    assert d.message == "E301 is an error: only warnings and notes can be allowed"


def test_an_allow_that_silences_nothing_is_a_note():
    d = only("model m {\n    allow W205\n    input 4\n    dense 2\n}\n", "W002")
    assert (d.span.line, d.span.column, d.severity) == (2, 11, "note")
    assert d.message == "allow W205: no W205 is reported in model 'm'"


def test_an_allowed_error_code_does_not_hide_the_error():
    found = diagnostics("allow E301\nmodel m { input 4; dense 2 -> 3 }")
    assert found == [("E117", 1, 7), ("E301", 2, 31)]


def test_allow_is_a_keyword():
    assert [d.code for d in compile_("model m { input 4; allow: dense 2 }").diagnostics] == ["E001"]
