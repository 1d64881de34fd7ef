"""Layer kinds against arithmetic written out here: what a `->` expectation cannot say
(pooling operations, padding shown, warning messages, worked formulas, the registry).

One case per kind (shape, parameters, MACs), the counting conventions, PyTorch's ceil mode and
the pooling warnings are fixtures in tests/fixtures/layers/, run by tests/test_fixtures.py."""

from nnlang import layers, present
from nnlang.driver import compile_text


def single(text):
    compilation = compile_text(f"model m {{ {text} }}")
    errors = [d.message for d in compilation.diagnostics if d.is_error]
    assert not errors, errors
    return compilation.program.models[0].layers[-1], compilation


def test_pooling_stride_defaults_to_size_and_counts_pool_ops():
    node, _ = single("input 24x24x64; maxpool2d 2")
    assert node.output_shape == (12, 12, 64)
    assert node.pool_ops.value == 12 * 12 * 64 * 2 * 2
    assert node.macs.value == 0


def test_same_pooling_like_keras():
    node, compilation = single("input 7x7x8; maxpool2d 2 pad=same")
    assert node.output_shape == (4, 4, 8)  # ceil(7/2)
    assert present.geometry(node).padding == "same (0/1)"  # (2*(4 - 1) + 2 - 7) = 1 extra: 0 before, 1 after
    assert [d.code for d in compilation.diagnostics] == ["W202"]


def test_dropped_rows_warning_with_arithmetic():
    node, compilation = single("input 61x61x128; maxpool2d 2")
    assert node.output_shape == (30, 30, 128)
    (warning,) = compilation.diagnostics
    assert warning.code == "W201"
    assert "(61 + 0 - 2) = 59 is not a multiple of the stride 2" in warning.message
    assert warning.notes == ("an input of 62 (or 1 more padding) would make it exact",)


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
