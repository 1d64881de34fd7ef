"""Elementwise joins that broadcast (`multiply`, `add`) and slicing along an axis (`slice`,
`select`): shapes and counts written out as arithmetic, the diagnostics, and the exports."""

from __future__ import annotations

import pytest

from nnlang import layers, symbolic
from nnlang.driver import compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit.codegen import ExportError

from helpers_nnc import EXAMPLES, nnc_in_process

SE = ("model m {{\n    input 8x8x32\n    {mode} {{\n        branch {{}}\n        branch se {{ {squeeze}; "
      "conv2d 8 k=1 relu; conv2d 32 k=1 sigmoid }}\n    }}\n}}\n")


def _compile(text: str, **kw):
    compilation = compile_text(text, "a.nn", **kw)
    errors = [(d.code, d.span.line, d.message) for d in compilation.diagnostics if d.is_error]
    return compilation, errors


def _model(text: str, **kw):
    compilation, errors = _compile(text, **kw)
    assert not errors, errors
    return compilation.program.models[0]


def _layer(statement: str, shape: str, **kw):
    model = _model(f"model m {{\n    input {shape}\n    probe: {statement}\n}}\n", **kw)
    (node,) = [n for n in model.layers if n.name == "probe"]
    return node


def _errors(statement: str, shape: str) -> list:
    return _compile(f"model m {{\n    input {shape}\n    {statement}\n}}\n")[1]


# -- multiply and add broadcast ------------------------------------------------------------------

@pytest.mark.parametrize("squeeze", ["globalavgpool2d keepdims=true", "globalavgpool2d; reshape 1x1x32"])
def test_squeeze_and_excitation_multiplies_channel_by_channel(squeeze):
    # the 1x1x32 branch stretches over 8x8x32
    model = _model(SE.format(mode="multiply", squeeze=squeeze))
    join = model.layers[-1]
    assert join.kind == "multiply" and join.output_shape == (8, 8, 32)
    # squeeze 32*8 + 8 = 264, excite 8*32 + 32 = 288; the product itself: no parameters, no MACs
    assert sum(n.trainable.value for n in model.layers) == 32 * 8 + 8 + 8 * 32 + 32 == 552
    assert join.macs.value == 0 and join.trainable.value == 0
    assert sum(n.macs.value for n in model.layers) == 32 * 8 + 8 * 32 == 512


def test_a_vector_branch_lines_up_with_the_last_axis():
    text = ("model m {\n    input 8x8x32\n    multiply {\n        branch {}\n"
            "        branch { globalavgpool2d; dense 32 sigmoid -> 32 }\n    } -> 8x8x32\n}\n")
    assert _model(text).layers[-1].output_shape == (8, 8, 32)


def test_add_broadcasts_too_and_keeps_its_error_for_other_shapes():
    text = SE.format(mode="add", squeeze="globalavgpool2d keepdims=true")
    assert _model(text).layers[-1].output_shape == (8, 8, 32)
    # 4x4x5 and 4x4x3: neither channel count is 1, so they cannot broadcast
    text = "model m {\n input 4x4x3\n add {\n  branch { conv2d 5 k=1 }\n  branch { }\n }\n}\n"
    errors = _compile(text)[1]
    assert errors == [("E204", 3, "add: the branches' shapes must agree on every axis")]


def test_multiply_refuses_shapes_that_cannot_broadcast():
    text = ("model m {\n input 8x8x4\n multiply {\n  branch { maxpool2d 2 }\n  branch { }\n }\n}\n")
    assert _compile(text)[1] == [("E204", 3, "multiply: the branches' shapes must agree on every axis (or be 1 "
                                             "there)")]


def test_a_size_of_one_on_any_axis_stretches():
    # 8x1x4 times 1x6x4 gives 8x6x4 (each 1 stretches to the other's size)
    text = ("model m {\n input 8x6x4\n multiply {\n  branch { avgpool2d 1x6 }\n  branch { avgpool2d 8x1 }\n"
            " } -> 8x6x4\n}\n")
    assert _model(text).layers[-1].output_shape == (8, 6, 4)


def test_named_sizes_broadcast_exactly():
    text = ("model m {\n input HxWx16\n multiply {\n  branch { }\n"
            "  branch { globalavgpool2d keepdims=true; conv2d 16 k=1 sigmoid }\n } -> HxWx16\n}\n")
    model = _model(text)
    assert str(model.layers[-1].output_shape[0]) == "H"


def test_the_names_and_aliases():
    assert layers.lookup("Multiply") is layers.lookup("multiply") is layers.lookup("mul")
    assert layers.lookup("multiply").joins_branches


def test_multiply_is_a_keyword_that_opens_branches():
    assert _errors("multiply", "8") == [("E001", 3, "unexpected end of line; expected '{'")]


# -- slice and select -------------------------------------------------------------------------

def test_a_channel_split_keeps_half_the_channels():
    assert _layer("slice start=0 stop=58", "28x28x116").output_shape == (28, 28, 58)
    assert _layer("slice start=58", "28x28x116").output_shape == (28, 28, 116 - 58)


def test_strided_spatial_slices():
    # Swin's patch merging takes x[0::2, 0::2]: ceil(56/2) = 28 rows; from 1 with step 2 on 7: 1, 3, 5
    assert _layer("slice axis=0 start=0 step=2", "56x56x96").output_shape == (28, 56, 96)
    assert _layer("slice axis=1 start=1 step=2", "7x7x8").output_shape == (7, 3, 8)
    assert _layer("slice axis=0 start=1 stop=6 step=2", "7x7x8").output_shape == (3, 7, 8)  # 1, 3, 5


def test_select_takes_one_token_and_removes_the_axis():
    node = _layer("select axis=0 index=0", "197x768")
    assert node.output_shape == (768,)
    assert node.trainable.value == 0 and node.macs.value == 0
    assert _layer("select index=3", "5x4").output_shape == (5,)  # the last axis by default


def test_slices_of_named_sizes_are_exact():
    node = _layer("slice axis=0 start=1", "Tx768")
    assert str(node.output_shape[0]) == "T - 1" and node.output_shape[1] == 768
    node = _layer("slice axis=0 step=2", "Tx768")
    for t in (1, 2, 7, 196):
        assert symbolic.evaluate(node.output_shape[0], {"T": t}) == len(range(0, t, 2))
    text = "model m {\n    input Tx768\n    slice axis=0 start=1 -> (T - 1, 768)\n    select axis=0 -> 768\n}\n"
    _model(text)


@pytest.mark.parametrize("statement, code, message", [
    ("slice stop=20", "E104", "slice: stop=20 is beyond the end of axis 2, of size 16 (input 8x8x16)"),
    ("slice axis=0 start=8", "E104", "slice: start=8 is not before the end of axis 0 (size 8): the slice would "
                                     "be empty"),
    ("slice start=4 stop=4", "E104", "slice: stop=4 must be after start=4: the slice would be empty"),
    ("select axis=3", "E104", "select: axis=3 does not exist in a 3-D input 8x8x16 (axes 0 to 2, batch left out)"),
    ("select index=16", "E104", "select: index=16 is not within axis 2, of size 16 (positions 0 to 15)"),
    ("slice step=0", "E104", "step must be positive, got 0"),
])
def test_slice_diagnostics(statement, code, message):
    assert _errors(statement, "8x8x16") == [(code, 3, message)]


def test_select_needs_an_axis_left():
    assert _errors("select", "16")[0][0] == "E201"


# -- the example and the exports -----------------------------------------------------------

def test_the_example_meets_its_expectations():
    proc = nnc_in_process(str(EXAMPLES / "squeeze_excitation.nn"))
    assert proc.returncode == 0, proc.stdout
    # 1,536 + 384 + 864 + 384 + 388 + 480 + 2,304 + 96 (batch norm 4 per channel, Keras' count)
    assert " Total params: 6,436 " in proc.stdout
    assert " Pooling operations (not MACs): 301,056\n" in proc.stdout  # 56*56*96


def _export(module, text: str) -> str:
    compilation, errors = _compile(text)
    assert not errors, errors
    return module.export(compilation.program, source_lines=text.splitlines()).code


def test_pytorch_export_broadcasts_in_channels_first():
    text = ("model m {\n    input 8x8x32\n    multiply {\n        branch {}\n"
            "        branch se { globalavgpool2d; dense 32 sigmoid }\n    }\n}\n")
    code = _export(torch_emit, text)
    assert "Multiply()" in code and "class Multiply(nn.Module):" in code
    assert "se[:, :, None, None]" in code  # (N, 32) -> (N, 32, 1, 1) beside (N, 32, 8, 8)


def test_pytorch_export_slices_on_the_tensor_axis():
    text = "model m {\n    input 8x8x116\n    slice stop=58\n    slice axis=0 start=1 step=2\n}\n"
    code = _export(torch_emit, text)
    assert "Slice(1, stop=58)" in code  # channels first: the channels are dim 1
    assert "Slice(2, start=1, step=2)" in code  # the rows: dim 2
    text = "model m {\n    input 10x16\n    select axis=0\n}\n"
    assert "Select(1)" in _export(torch_emit, text)


def test_keras_export_multiplies_and_refuses_slices():
    text = SE.format(mode="multiply", squeeze="globalavgpool2d keepdims=true")
    assert 'layers.Multiply(name="multiply_1")' in _export(keras_emit, text)
    compilation, _ = _compile("model m {\n    input 8x8x116\n    slice stop=58\n}\n")
    with pytest.raises(ExportError) as caught:
        keras_emit.export(compilation.program)
    assert caught.value.diagnostic().code == "E401"
    assert "Keras has no layer that slices along an axis" in caught.value.message
