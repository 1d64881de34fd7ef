"""The Kernel, Stride and Padding texts (nnlang/present.py) and the diagram's line of a layer, from the
facts its kind declares. Every expected text is written out here, with its arithmetic."""

import json

import pytest

from nnlang import present
from nnlang.driver import compile_text
from nnlang.emit import dot
from nnlang.emit import json as emit_json
from nnlang.emit import text as emit_text
from nnlang.layers.base import Facts
from nnlang.report import Options


def last(text):
    """The last layer of `model m { text }`, compiled without errors."""
    compilation = compile_text(f"model m {{ {text} }}")
    errors = [d.message for d in compilation.diagnostics if d.is_error]
    assert not errors, errors
    return compilation.program.models[0].layers[-1], compilation


CASES = [
    # statement, (kernel, stride, padding), the diagram's line
    # a global pooling's window is its input's size: open sizes by their names (?x? is HxW, ?x16 is Tx16)
    ("input ?x?x64; globalavgpool2d", ("HxW", "", ""), "global avg pool"),
    ("input ?x5x8; globalmaxpool2d", ("Hx5", "", ""), "global max pool"),
    ("input 7x7x512; globalavgpool2d", ("7x7", "", ""), "global avg pool"),
    ("input ?x16; globalmaxpool1d", ("T", "", ""), "global max pool 1d"),
    # 'same' over 7 with a window of 2, stride 2: ceil(7/2) = 4 outputs need (4-1)*2 + 2 = 8 rows,
    # one more than 7, padded after (as Keras pads it)
    ("input 7x7x8; maxpool2d 2 pad=same", ("2x2", "2x2", "same (0/1)"), "max pool 2x2, /2, pad same (0/1)"),
    ("input 7x8; avgpool1d 3 s=1", ("3", "1", "0"), "avg pool 1d 3"),
    ("input 9x9x4; maxpool2d 3 s=2 ceil=true", ("3x3", "2x2", "0"), "max pool 3x3, /2, ceil"),
    # one row of padding above and below, none left and right; each filter reads 3x3 over 3 channels
    ("input 8x8x3; conv2d 4 k=3 pad=1x0", ("3x3x3", "1x1", "1x0"), "conv 3x3, 4, pad 1x0"),
    ("input 8x8x3; conv2d 4 k=3 s=2x1", ("3x3x3", "2x1", "0"), "conv 3x3, 4, /2x1"),
    # a 3x3 kernel dilated by 2 spans 2*(3-1) + 1 = 5: 'same' pads 4, 2 on each side
    ("input 32x32x3; conv2d 8 k=3 dilation=2 pad=same", ("3x3x3", "1x1", "same (2)"),
     "conv 3x3, 8, pad same (2), dilation 2"),
    # an open height H with stride 2: its 'same' padding depends on H (0 or 1 before), written ?;
    # width ceil(8/2) = 4 outputs need (4-1)*2 + 3 = 9 columns: one after
    ("input ?x8x3; conv2d 4 k=3 s=2 pad=same", ("3x3x3", "2x2", "same (?x0/1)"), "conv 3x3, 4, /2, pad same (?x0/1)"),
    # 4 input channels in 2 groups: each filter reads 2
    ("input 8x8x4; conv2d 8 k=3 groups=2 bias=false", ("3x3x2", "1x1", "0"), "conv 3x3, 8, groups 2, no bias"),
    ("input 28x3; conv1d 16 k=5 pad=2", ("5x3", "1", "2"), "conv1d 5, 16, pad 2"),
    ("input 8x8x16; depthwise2d k=3 multiplier=2", ("3x3x1", "1x1", "0"), "depthwise conv 3x3, x2 per channel"),
    # depthwise 3x3 per channel, then a pointwise 1x1 over 16*2 = 32 channels
    ("input 8x8x16; separable2d 32 k=3 multiplier=2", ("3x3x1 + 1x1x32", "1x1", "0"),
     "separable conv 3x3, 32, x2 per channel"),
    # a transposed convolution: each filter spans 3x3 over the 16 input channels; pad=1 is cropped
    ("input 7x7x16; conv2d_transpose 8 k=3 s=2 pad=1 output_padding=1", ("3x3x16", "2x2", "1"),
     "transposed conv 3x3, 8, stride 2, pad 1"),
    ("input 7x7x16; conv2d_transpose 8 k=2 s=2", ("2x2x16", "2x2", "0"), "transposed conv 2x2, 8, stride 2"),
    ("input 7x7x16; conv2d_transpose 8 k=3 pad=same", ("3x3x16", "1x1", "same"), "transposed conv 3x3, 8, pad same"),
    # zero padding: top/bottom x left/right
    ("input 8x8x3; zeropad2d (1, 2, 3, 4)", ("", "", "1/2x3/4"), "zero pad 1/2x3/4"),
    ("input 8x8x3; zeropad2d 1x2", ("", "", "1/1x2/2"), "zero pad 1x2"),
    ("input 8x8x3; zeropad2d 1", ("", "", "1/1x1/1"), "zero pad 1"),
    # recurrent: gates x (features + units) x units
    ("input 10x32; lstm 64", ("4x96x64", "", ""), "LSTM 64"),  # 4 gates, 32 + 64 = 96
    ("input 10x32; gru 8 bidirectional=true return_sequences=true", ("3x40x8", "", ""),
     "bidirectional GRU 8, return_sequences"),  # 3 gates, 32 + 8 = 40
    ("input 10x32; rnn 16", ("48x16", "", ""), "RNN 16"),  # one gate: 32 + 16 = 48
    # dense: inputs x units
    ("input 512; dense 10 softmax", ("512x10", "", ""), "dense 10, softmax"),
    ("input 100; embedding 1000 16", ("1000x16", "", ""), "embedding 1000, dim 16"),
    ("input 8x8x3; upsample2d 2x3 interpolation=bilinear", ("2x3", "", ""), "upsample x2x3, bilinear"),
    ("input 8x8x3; upsample2d 2", ("2x2", "", ""), "upsample x2"),
    ("input 8x8x3; flatten", ("", "", ""), "flatten"),
    ("input 8x8x3; batchnorm", ("", "", ""), "batch norm"),
    ("input 8x8x3; dropout 0.5", ("", "", ""), "dropout 0.5"),
    ("input 8x8x3; reshape 64x3", ("", "", ""), "reshape 64x3"),
]


@pytest.mark.parametrize("statement, texts, line", CASES, ids=[c[0] for c in CASES])
def test_texts_and_diagram_line(statement, texts, line):
    node, _ = last(statement)
    assert tuple(present.geometry(node)) == texts
    assert dot.describe(node) == line


def test_an_open_global_pool_size_reads_as_its_names_everywhere():
    node, compilation = last("input ?x?x64; globalavgpool2d")
    report = json.loads(emit_json.render(compilation.program, compilation.diagnostics, Options(), "m.nn"))
    layer = report["models"][0]["layers"][-1]
    assert layer["kernel"] == "HxW" and "stride" not in layer and "padding" not in layer
    table = emit_text.render(compilation.program, Options())
    row = next(line for line in table.splitlines() if "(globalavgpool2d)" in line)
    assert [cell.strip() for cell in row.split("│")[4:7]] == ["HxW", "", ""]  # Kernel, Stride, Padding
    assert "None, H, W, 64" in table  # the input
    assert "?" not in table and "NonexNone" not in table
    assert "None" not in dot.source(compilation.program.models)


def test_the_json_report_carries_the_texts():
    node, compilation = last("input 7x7x8; maxpool2d 2 pad=same")
    report = json.loads(emit_json.render(compilation.program, compilation.diagnostics, Options(), "m.nn"))
    layer = report["models"][0]["layers"][-1]
    assert (layer["kernel"], layer["stride"], layer["padding"]) == ("2x2", "2x2", "same (0/1)")


def test_an_unknown_output_has_no_texts():
    compilation = compile_text("model m { input 4x4x3; conv2d 8 k=7 }")  # a 7x7 window over 4x4: refused
    assert any(d.is_error for d in compilation.diagnostics)
    node = compilation.program.models[0].layers[-1]
    assert node.output_shape is None
    assert tuple(present.geometry(node)) == ("", "", "")


FACTS = [
    (Facts(), ("", "", "")),
    (Facts((None, None)), ("?x?", "", "")),
    (Facts((5, 5, 3), stride=(1, 1), padding=((2, 2), (2, 2)), same=True), ("5x5x3", "1x1", "same (2)")),
    (Facts((2, 2), stride=(2, 2), padding=((0, 1), (0, 1)), same=True), ("2x2", "2x2", "same (0/1)")),
    (Facts((3, 3), stride=(2, 1), padding=((1, 1), (0, 0))), ("3x3", "2x1", "1x0")),
    (Facts((3, 3), stride=(1, 1), padding=((0, 0), (0, 0))), ("3x3", "1x1", "0")),
    (Facts((3, 3, 1), pointwise=(1, 1, 64), stride=(1, 1), padding=((1, 1), (1, 1))),
     ("3x3x1 + 1x1x64", "1x1", "1")),
    (Facts((4, 4, 32), stride=(2, 2), crop="same"), ("4x4x32", "2x2", "same")),
    (Facts((4, 4, 32), stride=(2, 2), crop=0), ("4x4x32", "2x2", "0")),
    (Facts(sides=(0, 1, 2, 3)), ("", "", "0/1x2/3")),
    (Facts((4, 40, 8)), ("4x40x8", "", "")),
    (Facts((1024, 512)), ("1024x512", "", "")),
]


@pytest.mark.parametrize("facts, texts", FACTS)
def test_texts_of_facts(facts, texts):
    assert tuple(present.texts(facts)) == texts


def test_layers_that_share_a_shape_keep_their_own_geometry_in_reports():
    """The report works out each distinct geometry once: layers that look alike (same kind, same
    output) but differ in what they read must still show their own kernel, stride and padding."""
    from nnlang.driver import compile_text
    from nnlang.emit import json as emit_json
    from nnlang.report import Options, Report
    import json

    text = """model m {
  input 8x8x4
  a: concat {
    branch { globalavgpool2d; reshape 1x1x4 }
    branch { maxpool2d 2; globalavgpool2d; reshape 1x1x4 }
  }
  conv2d 4 k=1
  conv2d 4 k=1 pad=same
}
"""
    program = compile_text(text).program
    rows = {row.name: (row.kernel, row.stride, row.padding) for row in Report.of(program, Options()).models[0].rows}
    assert rows["globalavgpool2d_1"][0] == "8x8"  # pools the whole 8x8 input
    assert rows["globalavgpool2d_2"][0] == "4x4"  # after the 2x2 max pool: (8 - 2)/2 + 1 = 4
    assert rows["conv2d_1"] == ("1x1x8", "1x1", "0")
    assert rows["conv2d_2"] == ("1x1x4", "1x1", "same (0)")
    layers = {layer["name"]: layer for layer in json.loads(emit_json.render(program, [], Options(), "m.nn"))
              ["models"][0]["layers"]}
    assert (layers["globalavgpool2d_1"]["kernel"], layers["globalavgpool2d_2"]["kernel"]) == ("8x8", "4x4")
