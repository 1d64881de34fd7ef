"""Group and RMS norm, layer scale, stochastic depth and Keras' Normalization: parameters and MACs
written out as arithmetic under each convention, the diagnostics, and the classes the exports
write (or their refusals)."""

from __future__ import annotations

import pytest

from nnlang import layers
from nnlang.driver import compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit.codegen import ExportError

from helpers_nnc import assert_no_traceback, run_nnc

CONVENTIONS = ("keras", "pytorch", "textbook")


def _source(statement: str, shape: str) -> str:
    return f"model m {{\n    input {shape}\n    probe: {statement}\n}}\n"


def _layer(statement: str, shape: str = "10x16", convention: str = "keras"):
    compilation = compile_text(_source(statement, shape), "a.nn", convention)
    errors = [(d.code, d.message) for d in compilation.diagnostics if d.is_error]
    assert not errors, errors
    (node,) = [n for n in compilation.program.models[0].layers if n.name == "probe"]
    return node


def _errors(statement: str, shape: str = "10x16") -> list:
    compilation = compile_text(_source(statement, shape), "a.nn")
    return [(d.code, d.span.line, d.span.column, d.message) for d in compilation.diagnostics if d.is_error]


def _counts(node) -> tuple:
    return node.trainable.value, node.non_trainable.value, node.macs.value


def _export(module, statement: str, shape: str = "10x16") -> str:
    return module.export(compile_text(_source(statement, shape), "a.nn").program).code


@pytest.mark.parametrize("name, aliases", [
    ("groupnorm", ("GroupNormalization", "GroupNorm", "gn")),
    ("rmsnorm", ("RMSNormalization", "RMSNorm")),
    ("layerscale", ("LayerScale",)),
    ("droppath", ("DropPath", "stochastic_depth", "StochasticDepth")),
    ("normalization", ("Normalization",)),
])
def test_names_and_aliases_are_one_kind(name, aliases):
    kind = layers.lookup(name)
    assert kind is not None and kind.name == name
    for alias in aliases:
        assert layers.lookup(alias) is kind


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_groupnorm_learns_a_scale_and_an_offset_per_channel(convention):
    node = _layer("groupnorm 8", "14x14x32", convention)
    assert node.output_shape == (14, 14, 32)
    assert _counts(node) == (2 * 32, 0, 0)  # γ and β per channel, whatever the groups; no MACs


def test_groupnorm_with_one_group_per_channel_and_one_group_for_all():
    assert _layer("groupnorm 32", "8x8x32").trainable.value == 64
    assert _layer("groupnorm 1", "8x8x32").trainable.value == 64
    assert _layer("GroupNormalization groups=4", "20x12").trainable.value == 24


def test_groupnorm_groups_must_divide_the_channels():
    errors = _errors("groupnorm 4", "8x8x6")
    # line 3 "    probe: groupnorm 4": the groups are at column 22
    assert [(code, line, col) for code, line, col, _ in errors] == [("E104", 3, 22)]
    assert "groups=4 must divide the channels (6)" in errors[0][3] and "6/4 = 1.5" in errors[0][3]


def test_groupnorm_needs_its_groups():
    assert [(code, line, col) for code, line, col, _ in _errors("groupnorm")] == [("E103", 3, 12)]


def test_groupnorm_on_an_open_size():
    node = _layer("groupnorm 4", "HxWx16")
    assert node.trainable.value == 2 * 16


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_rmsnorm_learns_a_scale_only(convention):
    node = _layer("rmsnorm", "10x64", convention)
    assert node.output_shape == (10, 64)
    assert _counts(node) == (64, 0, 0)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_layerscale_learns_a_scale_per_channel_and_costs_no_macs(convention):
    node = _layer("layerscale", "7x7x768", convention)
    assert _counts(node) == (768, 0, 0)


@pytest.mark.parametrize("statement", ["droppath 0.1", "stochastic_depth 0.1", "DropPath rate=0.25"])
def test_droppath_has_nothing_to_count(statement):
    node = _layer(statement, "7x7x96")
    assert node.kind == "droppath" and node.output_shape == (7, 7, 96)
    assert _counts(node) == (0, 0, 0)


def test_droppath_rate_must_be_below_one():
    errors = _errors("droppath 1.5")
    assert [(code, line, col) for code, line, col, _ in errors] == [("E104", 3, 21)]
    assert "[0, 1)" in errors[0][3]


@pytest.mark.parametrize("convention, expected", [
    ("keras", (0, 2 * 16 + 1)),  # mean and variance per feature, and the count: non-trainable weights
    ("pytorch", (0, 0)),  # nothing learned: the frameworks' parameters
    ("textbook", (0, 0)),
])
def test_keras_normalization_keeps_statistics_not_parameters(convention, expected):
    node = _layer("normalization", "10x16", convention)
    assert (node.trainable.value, node.non_trainable.value) == expected
    assert node.macs.value == 0


def test_a_convnext_block():
    # ConvNeXt-T, stage 1 (C = 96): 7x7 depthwise, layer norm, 4C and back, layer scale, drop path
    text = """model m {
    input 56x56x96
    add {
        branch {
            depthwise2d k=7 pad=same
            layernorm
            dense 384 gelu
            dense 96
            layerscale
            stochastic_depth 0.1
        }
        branch {}
    }
}
"""
    compilation = compile_text(text, "a.nn")
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    totals = compilation.program.models[0].totals()
    depthwise = 7 * 7 * 96 + 96
    norm = 2 * 96
    expand = 96 * 384 + 384
    project = 384 * 96 + 96
    scale = 96
    assert totals.trainable == depthwise + norm + expand + project + scale == 79_296
    assert totals.non_trainable == 0
    positions = 56 * 56
    assert totals.macs == positions * (96 * 7 * 7 + 96 * 384 + 384 * 96)


def test_pytorch_export_writes_the_classes():
    assert "nn.GroupNorm(4, 16, eps=0.001)" in _export(torch_emit, "groupnorm 4", "8x8x16")
    assert "nn.RMSNorm(16, eps=1e-06)" in _export(torch_emit, "rmsnorm")
    code = _export(torch_emit, "layerscale")
    assert "class LayerScale(nn.Module):" in code and "LayerScale(16)" in code
    code = _export(torch_emit, "droppath 0.2")
    assert "class DropPath(nn.Module):" in code and "DropPath(0.2)" in code
    compile(code, "export.py", "exec")


def test_keras_export_writes_the_classes():
    assert "layers.GroupNormalization(groups=4" in _export(keras_emit, "groupnorm 4", "8x8x16")
    assert "layers.RMSNormalization(" in _export(keras_emit, "rmsnorm")
    assert "layers.Normalization(" in _export(keras_emit, "normalization")


@pytest.mark.parametrize("module, statement, words", [
    (keras_emit, "layerscale", "Keras has no layer scale layer"),
    (keras_emit, "droppath 0.1", "Keras has no stochastic depth layer"),
    (torch_emit, "normalization", "Keras' Normalization has no PyTorch layer"),
])
def test_refusals_say_why(module, statement, words):
    with pytest.raises(ExportError) as error:
        _export(module, statement)
    assert words in error.value.message


def test_the_command_line_reports_a_bad_group_count(tmp_path):
    path = tmp_path / "g.nn"
    path.write_text(_source("groupnorm 5", "4x4x8"), encoding="utf-8")
    proc = run_nnc(path)
    assert_no_traceback(proc)
    assert proc.returncode == 1
    assert "g.nn:3:22" in proc.stderr and "E104" in proc.stderr and "^" in proc.stderr
