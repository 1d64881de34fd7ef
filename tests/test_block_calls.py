"""Block calls take what the plain form of a statement takes, and a value a block's layer refuses
is reported at the call that gave it."""

from __future__ import annotations

from nnlang.driver import compile_text

BLOCKS = """block d(r) {
  dropout r
}
block c(n, k=3) {
  conv2d n k=k pad=same
}
block b(n) {
  dense n
}
"""


def _compile(model: str):
    return compile_text(BLOCKS + model, "calls.nn")


def test_the_call_form_takes_floats_keywords_and_shapes():
    compilation = _compile("model m {\n  input 8x8x3\n  d(0.5)\n  d(r=0.5)\n  c(4, k=1x7)\n}\n")
    assert not compilation.diagnostics.has_errors, [d.message for d in compilation.diagnostics]
    model = compilation.program.models[0]
    conv = [n for n in model.layers if n.kind == "conv2d"][0]
    assert conv.output_shape == (8, 8, 4)
    assert conv.trainable.value == 1 * 7 * 3 * 4 + 4  # k_h*k_w*C_in*filters + bias


def test_a_value_the_layer_refuses_is_reported_at_the_call():
    compilation = _compile("model m {\n  input 4\n  b(0)\n}\n")
    errors = [d for d in compilation.diagnostics if d.is_error]
    # BLOCKS is 9 lines: the model opens on line 10, `input 4` is 11, `b(0)` 12 (`dense n` is line 8)
    assert [(d.code, d.span.line) for d in errors] == [("E104", 12)]
    assert "n=0" in errors[0].message and "units must be positive" in errors[0].message
    assert any("line 8" in note for note in errors[0].notes)  # where the parameter is used


def test_an_expectation_after_a_repeat_checks_what_the_whole_repeat_computed():
    # 3 x (16*16 + 16) = 816 parameters and 3 x 16*16 = 768 MACs; then 16*8 + 8 + 8*8 + 8 = 208
    # parameters and 16*8 + 8*8 = 192 MACs
    text = ("model m {\n  input 16\n  repeat 3 { dense 16 relu } -> 16 params=816 macs=768\n"
            "  r: repeat 2 { dense 8 } -> 8 params=208 macs=192\n}\n")
    compilation = compile_text(text, "repeat.nn")
    assert not compilation.diagnostics.has_errors, [d.message for d in compilation.diagnostics]
    assert compilation.program.expectations_checked == 6
    assert [d.code for d in compile_text(text.replace("params=816", "params=800"), "r.nn").diagnostics] == ["E302"]
    assert [d.code for d in compile_text(text.replace("macs=192", "macs=200"), "r.nn").diagnostics] == ["E303"]
