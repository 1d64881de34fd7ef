"""The fixed parts of the language contract: each construct parses and means what it says.

Expected numbers are arithmetic written out here, never nnc's own output. What a `->`
expectation can say (unknown dimensions, tuple shapes, numbers with underscores, expectations
without a shape) is written in tests/fixtures/language/, run by tests/test_fixtures.py.
"""

import pytest

from nnlang.driver import compile_text


def compile_ok(text, convention="keras"):
    compilation = compile_text(text, "test.nn", convention)
    errors = [f"{d.code} {d.span.line}:{d.span.column} {d.message}" for d in compilation.diagnostics if d.is_error]
    assert not errors, errors
    return compilation.program


def layer_table(model):
    return [(n.name, n.kind, n.output_shape, n.params, n.macs.value) for n in model.layers]


def test_first_file_of_the_contract():
    program = compile_ok(
        """
        # Exercise 1 of 000_8644fb4713615bca.txt: RGB 28x28 input
        model exam1 {
            input 28x28x3
            conv2d 32 k=5 pad=same        -> 28x28x32  params=2432
            conv2d 64 k=5                 -> 24x24x64  params=51264
            maxpool2d 2                   -> 12x12x64
            conv2d 64 k=5                 -> 8x8x64    params=102464
            maxpool2d 2                   -> 4x4x64
            flatten                       -> 1024
            dense 512 relu                -> 512       params=524800
            dense 10 softmax              -> 10        params=5130
        }
        """
    )
    (model,) = program.models
    assert model.input_shape == (28, 28, 3)
    assert layer_table(model) == [
        ("conv2d_1", "conv2d", (28, 28, 32), 5 * 5 * 3 * 32 + 32, 28 * 28 * 32 * (5 * 5 * 3)),
        ("conv2d_2", "conv2d", (24, 24, 64), 5 * 5 * 32 * 64 + 64, 24 * 24 * 64 * (5 * 5 * 32)),
        ("maxpool2d_1", "maxpool2d", (12, 12, 64), 0, 0),
        ("conv2d_3", "conv2d", (8, 8, 64), 5 * 5 * 64 * 64 + 64, 8 * 8 * 64 * (5 * 5 * 64)),
        ("maxpool2d_2", "maxpool2d", (4, 4, 64), 0, 0),
        ("flatten_1", "flatten", (1024,), 0, 0),
        ("dense_1", "dense", (512,), 1024 * 512 + 512, 1024 * 512),
        ("dense_2", "dense", (10,), 512 * 10 + 10, 512 * 10),
    ]
    assert model.totals().params == 686090
    assert model.layers[6].activation == "relu"


def test_semicolons_comments_and_several_models():
    program = compile_ok("model a { input 10; dense 5 }  # two models\nmodel b {\n input 4\n\n dense 2 ; ; dense 1\n}")
    assert [m.name for m in program.models] == ["a", "b"]
    assert program.models[1].totals().params == (4 * 2 + 2) + (2 * 1 + 1)


def test_labels_name_layers_and_aliases_give_canonical_types():
    program = compile_ok("model m { input 8x8x3\n stem: Conv2D 4 kernel_size=3 padding=same\n MaxPooling2D 2\n Linear 3 }")
    (model,) = program.models
    assert [(n.name, n.kind) for n in model.layers] == [("stem", "conv2d"), ("maxpool2d_1", "maxpool2d"),
                                                       ("dense_1", "dense")]
    assert model.layers[2].output_shape == (4, 4, 3)


def test_blocks_branches_and_repeat_from_the_contract():
    program = compile_ok(
        """
        block inception(c1, r3, c3, r5, c5, pp) {
            concat {
                branch b1 { conv2d c1 k=1 relu }
                branch b3 { conv2d r3 k=1 relu; conv2d c3 k=3 pad=same relu }
                branch b5 { conv2d r5 k=1 relu; conv2d c5 k=5 pad=same relu }
                branch pool { maxpool2d 3 s=1 pad=same; conv2d pp k=1 relu }
            }
        }

        block residual(c, s=1) {
            add {
                branch main { conv2d c k=3 s=s pad=same; batchnorm; activation relu
                              conv2d c k=3 pad=same; batchnorm }
                branch shortcut { conv2d c k=1 s=s; batchnorm }
            }
            activation relu
        }

        model tiny_googlenet {
            input 28x28x192
            inception_3a: inception(64, 96, 128, 16, 32, 32)   -> 28x28x256
            repeat 2 { residual(256) }
        }
        """
    )
    (model,) = program.models
    assert model.output_shape == (28, 28, 256)
    inception = next(g for g in model.groups() if g.name == "inception_3a")
    branch_params = {g.name: g.totals().params for g in inception.children if hasattr(g, "children")}
    assert branch_params == {
        "b1": 192 * 64 + 64,
        "b3": (192 * 96 + 96) + (3 * 3 * 96 * 128 + 128),
        "b5": (192 * 16 + 16) + (5 * 5 * 16 * 32 + 32),
        "pool": 192 * 32 + 32,
    }
    residual = 2 * (3 * 3 * 256 * 256 + 256) + (256 * 256 + 256) + 3 * 4 * 256
    assert [g.totals().params for g in model.groups() if g.kind == "block" and g.block == "residual"] == [residual] * 2
    paths = {n.path for n in model.layers}
    assert ("inception_3a", "b3") in paths and ("residual_2", "shortcut") in paths


def test_block_expressions_defaults_and_named_arguments():
    program = compile_ok(
        """
        block bottleneck(c, expand=4, s=1) {
            conv2d c k=1; conv2d c k=3 s=s pad=same; conv2d expand*c k=1 -> params=(c + 1)*expand*c
        }
        block halve(c) { conv2d c//2 k=1; conv2d (c - c % 3)/3*3 k=1 }
        model m {
            input 16x16x64
            bottleneck(16)
            b: bottleneck(c=8, s=2) -> 8x8x32
            bottleneck 4 expand=2
            halve(64)
        }
        """
    )
    (model,) = program.models
    assert model.layers[2].output_shape == (16, 16, 64)
    assert model.layers[5].output_shape == (8, 8, 32)
    assert model.layers[8].output_shape == (8, 8, 8)
    assert model.layers[9].output_shape == (8, 8, 32)
    assert model.layers[10].output_shape == (8, 8, 63)  # (64 - 64 % 3)/3*3 = 63


def test_empty_branch_is_identity_and_concat_sums_channels():
    program = compile_ok("model m { input 8x8x16; concat { branch {} branch { conv2d 8 k=1 } } -> 8x8x24 }")
    (model,) = program.models
    assert model.output_shape == (8, 8, 24)
    assert model.layers[-1].kind == "concat"


def test_compare_is_recorded():
    program = compile_ok("model a { input 4; dense 2 }\nmodel b { input 4; dense 3 }\ncompare a, b")
    assert [c.names for c in program.comparisons] == [("a", "b")]


def test_line_continuation_and_multiline_call():
    program = compile_ok("block b(x, y) { dense x + y }\nmodel m { input 4\n dense \\\n 3\n b(1,\n   2) }")
    assert program.models[0].output_shape == (3,)


@pytest.mark.parametrize("text", ["model m { input 4; dense 2 }\r\n", "model m {\r\n\tinput 4\r\n\tdense 2\r\n}\r\n"])
def test_crlf_and_tabs(text):
    assert compile_ok(text).models[0].output_shape == (2,)
