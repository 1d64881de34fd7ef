"""Layer kinds against arithmetic written out here: the rules frameworks do not
cover (textbook convention, ceil mode, pool ops, warnings) and one case per kind."""

import pytest

from nnlang import layers
from nnlang.driver import compile_text


def single(text, convention="keras"):
    compilation = compile_text(f"model m {{ {text} }}", convention=convention)
    errors = [d.message for d in compilation.diagnostics if d.is_error]
    assert not errors, errors
    return compilation.program.models[0].layers[-1], compilation


@pytest.mark.parametrize(
    "text, shape, params, macs",
    [
        ("input 28x28x3; conv2d 32 k=5 pad=same", (28, 28, 32), 5 * 5 * 3 * 32 + 32, 28 * 28 * 32 * 5 * 5 * 3),
        ("input 200x300x3; conv2d 100 k=3 s=2 pad=same", (100, 150, 100), (3 * 3 * 3 + 1) * 100,
         100 * 150 * 100 * 27),
        ("input 256x256x3; conv2d 64 k=5 s=2 pad=2", (128, 128, 64), 5 * 5 * 3 * 64 + 64, 128 * 128 * 64 * 75),
        ("input 128x128x64; conv2d 128 k=7 s=2", (61, 61, 128), 7 * 7 * 64 * 128 + 128, 61 * 61 * 128 * 7 * 7 * 64),
        ("input 32x32x16; conv2d 32 k=3 groups=4 bias=false", (30, 30, 32), 3 * 3 * (16 // 4) * 32,
         30 * 30 * 32 * 3 * 3 * 4),
        ("input 32x32x8; conv2d 8 k=3 dilation=2", (28, 28, 8), 3 * 3 * 8 * 8 + 8, 28 * 28 * 8 * 72),
        ("input 100x16; conv1d 32 k=5 s=2", (48, 32), 5 * 16 * 32 + 32, 48 * 32 * 5 * 16),
        ("input 10x10x4; depthwise2d k=3 multiplier=2", (8, 8, 8), 3 * 3 * 4 * 2 + 8, 8 * 8 * 8 * 9),
        ("input 10x10x4; separable2d 16 k=3", (8, 8, 16), 3 * 3 * 4 + 4 * 16 + 16, 8 * 8 * 4 * 9 + 8 * 8 * 4 * 16),
        ("input 7x7x16; conv2d_transpose 8 k=3 s=2 pad=same", (14, 14, 8), 3 * 3 * 16 * 8 + 8, 7 * 7 * 16 * 9 * 8),
        ("input 7x7x16; conv2d_transpose 8 k=3 s=2", (15, 15, 8), 3 * 3 * 16 * 8 + 8, 7 * 7 * 16 * 9 * 8),
        ("input 1200; dense 500 bias=false", (500,), 1200 * 500, 1200 * 500),
        ("input 10x64; dense 32", (10, 32), 64 * 32 + 32, 10 * 64 * 32),
        ("input ?; embedding 62 256", (None, 256), 62 * 256, 0),
        ("input 8x8x64; layernorm", (8, 8, 64), 2 * 64, 0),
        ("input 5x10; rnn 20 return_sequences=true", (5, 20), 20 * (10 + 20) + 20, 5 * 20 * 30),
        ("input 7x8; gru 16 bidirectional=true", (32,), 2 * 3 * (16 * 24 + 2 * 16), 7 * 2 * 3 * 16 * 24),
        ("input 4x4x64; flatten", (1024,), 0, 0),
        ("input 4x4x64; reshape (-1, 64)", (16, 64), 0, 0),
        ("input 4x4x8; upsample2d 2", (8, 8, 8), 0, 0),
        ("input 4x4x8; zeropad2d 1x2", (6, 8, 8), 0, 0),
        ("input 7x7x512; globalavgpool2d", (512,), 0, 0),
        ("input 10; dropout 0.5", (10,), 0, 0),
        ("input 10; activation softmax", (10,), 0, 0),
    ],
)
def test_kind_shape_params_macs(text, shape, params, macs):
    node, _ = single(text)
    assert (node.output_shape, node.params, node.macs.value) == (shape, params, macs)


def test_textbook_counts_one_bias_per_gate():
    node, _ = single("input ?x256; gru 1024", "textbook")
    assert node.params == 3 * ((1024 + 256) * 1024 + 1024) == 3935232  # the answer key of exercise 2, 000
    node, _ = single("input ?x256; gru 1024", "keras")
    assert node.params - 3935232 == 3 * 1024  # the key's difference: one extra bias per gate


def test_batchnorm_statistics_by_convention():
    keras, _ = single("input 8x8x64; batchnorm")
    pytorch, _ = single("input 8x8x64; batchnorm", "pytorch")
    assert (keras.trainable.value, keras.non_trainable.value) == (2 * 64, 2 * 64)
    assert (pytorch.trainable.value, pytorch.non_trainable.value) == (2 * 64, 0)


def test_pooling_stride_defaults_to_size_and_counts_pool_ops():
    node, _ = single("input 24x24x64; maxpool2d 2")
    assert node.output_shape == (12, 12, 64)
    assert node.pool_ops.value == 12 * 12 * 64 * 2 * 2
    assert node.macs.value == 0


def test_pooling_ceil_mode_follows_pytorch():
    node, _ = single("input 61x61x8; maxpool2d 2 ceil=true")
    assert node.output_shape == (31, 31, 8)  # ceil((61 - 2)/2) + 1 = 30 + 1
    node, _ = single("input 5x5x1; maxpool2d 2 s=2 pad=1 ceil=true")
    # ceil((5 + 2 - 2)/2) + 1 = 4, but the 4th window would start at 6 >= 5 + 1 (right padding): 3
    assert node.output_shape == (3, 3, 1)


def test_same_pooling_like_keras():
    node, compilation = single("input 7x7x8; maxpool2d 2 pad=same")
    assert node.output_shape == (4, 4, 8)  # ceil(7/2)
    assert node.padding == "same (0/1)"
    assert [d.code for d in compilation.diagnostics] == ["W202"]


def test_dropped_rows_warning_with_arithmetic():
    node, compilation = single("input 61x61x128; maxpool2d 2")
    assert node.output_shape == (30, 30, 128)
    (warning,) = compilation.diagnostics
    assert warning.code == "W201"
    assert "(61 + 0 - 2) = 59 is not a multiple of the stride 2" in warning.message
    assert warning.notes == ("an input of 62 (or 1 more padding) would make it exact",)


def test_only_padding_dropped_is_not_reported():
    # 56 + 2 - 3 = 55 is odd, but the row left over is the right padding: no input is lost
    _, compilation = single("input 56x56x64; conv2d 128 k=3 s=2 pad=1")
    assert [d.code for d in compilation.diagnostics] == []


def test_pool_stride_larger_than_window_warns():
    _, compilation = single("input 8x8x1; maxpool2d 2 s=3")
    assert "W203" in [d.code for d in compilation.diagnostics]


def test_pool_padding_more_than_half_is_an_error():
    compilation = compile_text("model m { input 8x8x1; maxpool2d 2 pad=2 }")
    assert [d.code for d in compilation.diagnostics] == ["E203"]
    # PyTorch refuses it for any input size (pad should be at most half of the kernel size)
    compilation = compile_text("model m { input ?x?x1; maxpool2d 2 pad=2 }")
    assert [d.code for d in compilation.diagnostics] == ["E203"]
    compilation = compile_text("model m { input ?x?x1; maxpool2d 4 pad=2 }")
    assert [d.code for d in compilation.diagnostics] == []


def test_explain_formulas_are_the_ones_that_computed():
    node, _ = single("input 28x28x32; conv2d 64 k=5")
    assert node.trainable.worked() == "5*5*32*64 + 64 = 51,264"
    assert node.macs.worked() == "24*24*64*(5*5*32) = 29,491,200"
    assert node.dims[0].worked() == "(28 + 2*0 - 5)/1 + 1 = 24"
    node, _ = single("input 128x128x64; conv2d 128 k=7 s=2")
    assert node.dims[0].worked() == "floor((128 + 2*0 - 7)/2) + 1 = 61"


def test_aliases_resolve_in_any_case():
    for alias in ["Conv2D", "conv2d", "CONV2D", "Conv2d"]:
        assert layers.lookup(alias).name == "conv2d"
    assert layers.lookup("BatchNormalization").name == "batchnorm"
    assert layers.lookup("Linear").name == "dense"
    assert layers.lookup("MaxPooling2D").name == "maxpool2d"


def test_every_statement_kind_is_documented_and_named_uniquely():
    seen = {}
    for kind in layers.statement_kinds():
        assert kind.summary, kind.name
        for name in (kind.name, *kind.aliases):
            assert seen.setdefault(name.lower(), kind.name) == kind.name, name


def test_transposed_convolution_output_padding():
    # PyTorch's ConvTranspose2d: out = (n - 1)*s - 2*p + k + output_padding
    node, _ = single("input 7x7x16; conv2d_transpose 8 k=3 s=2 pad=1 output_padding=1")
    assert node.output_shape == ((7 - 1) * 2 - 2 * 1 + 3 + 1, (7 - 1) * 2 - 2 * 1 + 3 + 1, 8)
    # both frameworks refuse output_padding >= stride; so does nnc, on the option
    line = "    conv2d_transpose 8 k=3 s=2 output_padding=2"
    compilation = compile_text(f"model m {{\n    input 7x7x16\n{line}\n}}")
    (error,) = [d for d in compilation.diagnostics if d.is_error]
    assert error.code == "E104" and "smaller than the stride 2x2" in error.message
    assert (error.span.line, error.span.column) == (3, line.index("output_padding") + 1)
