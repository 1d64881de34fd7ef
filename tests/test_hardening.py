"""Hostile or unusual text in a file: what reaches the terminal, what counts as a number,
per-axis paddings with a zero, open sizes in formulas, input that must be rejected in linear time."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from nnlang.diagnostics import printable, render
from nnlang.driver import compile_text
from nnlang.report import Options
from nnlang.emit import equation, tables


def nnc(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "nnlang", *args], capture_output=True, text=True, input=stdin,
                          timeout=120)


# --- terminal escape sequences --------------------------------------------------------------------

#: An OSC window title, an OSC 52 clipboard write, a colour, a bell, a bidirectional override.
HOSTILE = ["\x1b]0;pwned\x07", "\x1b]52;c;ZWNobyBoaQ==\x07", "\x1b[31m", "\x07", "\u202e", "\x9b31m", "\r"]


@pytest.mark.parametrize("payload", HOSTILE, ids=["osc-title", "osc52", "colour", "bell", "bidi", "csi-c1", "cr"])
def test_control_characters_from_the_file_are_shown_escaped(tmp_path, payload):
    """Whatever the file holds, the diagnostics printed (even into a pipe) carry no control character."""
    path = tmp_path / "net.nn"
    path.write_text(f"model m {{\n  input 4 # {payload} comment\n  dense 2 {payload}x\n}}\n", encoding="utf-8",
                    newline="")
    result = nnc("check", str(path))
    assert result.returncode == 1
    shown = result.stderr
    assert "error[E" in shown
    # nothing but printable text, tabs aside, and the line ends
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown), repr(shown)


def test_the_caret_points_at_the_escaped_character():
    source_text = "model m {\n  input 4\n  dense 2 \x1b[31mred\n}\n"
    compilation = compile_text(source_text, "net.nn")
    first = next(iter(compilation.diagnostics))
    lines = render(first, compilation.source).split("\n")
    # "3 |   dense 2 \x1b[31mred": the escape is four characters wide, and the caret covers them
    assert lines[2] == "3 |   dense 2 \\x1b[31mred"
    assert lines[3] == "  |           ^^^^"


def test_a_file_name_with_control_characters_is_escaped(tmp_path):
    path = tmp_path / "a\x1b]0;t\x07b.nn"
    path.write_text("model m {\n  input 4\n  bogus\n}\n", encoding="utf-8")
    result = nnc("check", str(path))
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "a\\x1b]0;t\\x07b.nn:3:3: error[E101]" in result.stderr


def test_printable_keeps_ordinary_text():
    assert printable("conv2d 32 k=5 # déjà vu, 日本") == "conv2d 32 k=5 # déjà vu, 日本"
    assert printable("a\tb") == "a b"
    assert printable("\x00\x7f\u2028") == "\\x00\\x7f\\u2028"


# --- numbers are ASCII digits ---------------------------------------------------------------------

@pytest.mark.parametrize("text, column", [("input \u0664x\u0664x\u0663", 9), ("input 4\n  dense \uff11\u0660", 9),
                                          ("input 4\n  dense 1\u0660", 10)])
def test_non_ascii_digits_are_not_numbers(text, column):
    """Arabic-Indic and full-width digits are refused with E002, as docs/language.md says."""
    compilation = compile_text(f"model m {{\n  {text}\n}}\n", "net.nn")
    codes = [(d.code, d.span.column) for d in compilation.diagnostics if d.is_error]
    assert codes[0] == ("E002", column), codes


# --- per-axis padding with a zero -------------------------------------------------------------------

@pytest.mark.parametrize("statement, shape, params, macs", [
    # H: (9 + 2*0 - 3)/1 + 1 = 7, W: (9 + 2*1 - 3)/1 + 1 = 9; params 3*3*2*4 + 4 = 76; MACs 7*9*4 * 3*3*2
    ("conv2d 4 k=3 pad=0x1", (7, 9, 4), 76, 7 * 9 * 4 * 3 * 3 * 2),
    ("conv2d 4 k=3 pad=1x0", (9, 7, 4), 76, 9 * 7 * 4 * 3 * 3 * 2),
    # torchvision's Inception v3 (InceptionC): kernel_size=(1, 7), padding=(0, 3) keeps 9x9
    ("conv2d 4 k=(1, 7) pad=(0, 3)", (9, 9, 4), 1 * 7 * 2 * 4 + 4, 9 * 9 * 4 * 1 * 7 * 2),
    # H: (9 + 2*1 - 3)/1 + 1 = 9, W: (9 - 3)/1 + 1 = 7
    ("avgpool2d 3 s=1 pad=1x0", (9, 7, 2), 0, 0),
])
def test_per_axis_padding_may_be_zero_on_one_axis(statement, shape, params, macs):
    compilation = compile_text(f"model m {{\n  input 9x9x2\n  {statement}\n}}\n", "net.nn")
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    layer = compilation.program.models[0].layers[0]
    assert layer.output_shape == shape
    assert layer.trainable.value == params
    assert layer.macs.value == macs


@pytest.mark.parametrize("value", ["(0, -1)", "(-1, 0)"])
def test_negative_padding_is_refused(value):
    compilation = compile_text(f"model m {{\n  input 9x9x2\n  conv2d 4 k=3 pad={value}\n}}\n", "net.nn")
    errors = [d for d in compilation.diagnostics if d.is_error]
    assert [d.code for d in errors] == ["E104"]
    assert "non-negative" in errors[0].message


# --- open sizes in the equation, memory in every table format ------------------------------------------

def test_equation_writes_an_open_size_by_its_name():
    # the open length of ?x16 is named T; the weights do not depend on it
    compilation = compile_text("model m {\n  input ?x16\n  dense 4 relu\n}\n", "net.nn")
    text = equation.render(compilation.program)
    assert r"x \in \mathbb{R}^{T \times 16}" in text
    assert r"W_{1} \in \mathbb{R}^{4 \times 16}" in text
    assert "None" not in text and "?" not in text


def test_latex_carries_the_memory_section():
    compilation = compile_text("model m {\n  input 8\n  dense 4 relu\n}\n", "net.nn")
    text = tables.render(compilation.program, Options(memory=True), "latex")
    # parameters: (8*4 + 4) = 36 x 4 bytes; the line says how
    assert r"\hspace{1em}parameters & 144 B & 36 x 4 B \\" in text
    assert r"optimizer state (adam: 2 per parameter)" in text
    assert text.count(r"\begin{longtable}") == 1 and text.count(r"\begin{tabular}") == 1


# --- the lexer never searches ahead ---------------------------------------------------------------------

def test_an_invalid_character_run_is_rejected_at_its_first_character():
    """10 MB of '@' after a statement: the error is at the first '@' (the scanner matches at
    its position; a search ahead would take tens of seconds here)."""
    text = "model m { input 4; " + "@" * (10 * 2**20) + " }"
    compilation = compile_text(text, "net.nn")
    errors = [d for d in compilation.diagnostics if d.is_error]
    assert [(d.code, d.span.line, d.span.column) for d in errors] == [("E002", 1, 20)]
