"""Learned tensors added to a sequence (`class_token`, `position_embedding`): shapes, parameters
and operations written out as arithmetic (ViT-B/16, GPT-2 small), named sequence lengths, the
diagnostics, and the exports (PyTorch writes a module, Keras refuses)."""

from __future__ import annotations

import pytest

from nnlang import layers
from nnlang.driver import compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit.codegen import ExportError

from helpers_nnc import nnc_in_process


def _compile(body: str, size_values=None):
    return compile_text(f"model m {{\n{body}}}\n", "a.nn", size_values=size_values)


def _layers(body: str, size_values=None) -> dict:
    compilation = _compile(body, size_values)
    errors = [(d.code, d.message) for d in compilation.diagnostics if d.is_error]
    assert not errors, errors
    return {n.name: n for n in compilation.program.models[0].layers}


def _errors(body: str) -> list:
    compilation = _compile(body)
    return [(d.code, d.span.line, d.span.column, d.message) for d in compilation.diagnostics if d.is_error]


def test_the_names_and_aliases_are_one_kind_each():
    assert layers.lookup("ClassToken") is layers.lookup("class_token")
    assert layers.lookup("cls_token") is layers.lookup("class_token")
    assert layers.lookup("PositionEmbedding") is layers.lookup("position_embedding")
    assert layers.lookup("class_token") is not layers.lookup("position_embedding")


def test_vit_b16_class_token_and_position_table():
    # ViT-B/16 at 224x224: (224/16)^2 = 196 patches of 768, one class token, 197 positions
    found = _layers("    input 196x768\n    cls: class_token\n    pos: position_embedding 197\n")
    cls, pos = found["cls"], found["pos"]
    assert cls.output_shape == (196 + 1, 768)
    assert cls.trainable.value == 768 and cls.non_trainable.value == 0
    assert cls.macs.value == 0
    assert pos.output_shape == (197, 768)
    assert pos.trainable.value == 197 * 768 == 151_296
    assert pos.macs.value == 0
    assert cls.trainable.value + pos.trainable.value == 768 + 197 * 768 == 152_064


def test_gpt2_position_table_on_an_open_length():
    # GPT-2 small: wte 50257 x 768, wpe 1024 x 768
    body = "    input T\n    wte: embedding 50257 768\n    wpe: position_embedding max_len=1024\n"
    found = _layers(body)
    assert found["wpe"].trainable.value == 1024 * 768 == 786_432
    assert str(found["wpe"].output_shape[0]) == "T" and found["wpe"].output_shape[1] == 768
    for t in (1, 1024):  # the longest sequence the table holds
        assert _layers(body, {"T": t})["wpe"].output_shape == (t, 768)
    too_long = _compile(body, {"T": 1025})
    assert [d.code for d in too_long.diagnostics if d.is_error] == ["E203"]


def test_the_option_has_the_frameworks_names():
    for spelling in ("max_len=64", "max_length=64", "sequence_length=64", "n_positions=64",
                     "max_position_embeddings=64", "64"):
        node = _layers(f"    input 10x8\n    p: position_embedding {spelling}\n")["p"]
        assert node.trainable.value == 64 * 8


def test_a_class_token_on_an_open_length_adds_one_position():
    found = _layers("    input Tx64\n    c: class_token\n    p: position_embedding 512\n")
    steps = found["c"].output_shape[0]
    assert str(steps) == "T + 1"
    assert found["c"].trainable.value == 64
    assert found["p"].trainable.value == 512 * 64
    for t in (3, 511):  # T + 1 <= 512
        assert _layers("    input Tx64\n    c: class_token\n    p: position_embedding 512\n",
                       {"T": t})["p"].output_shape == (t + 1, 64)


def test_flops_with_everything_count_the_table_additions(tmp_path):
    path = tmp_path / "m.nn"
    path.write_text("model m {\n  input 196x768\n  class_token\n  position_embedding 197\n}\n", encoding="utf-8")
    proc = nnc_in_process(path, "--ops", "flops-all")
    assert proc.returncode == 0, proc.stderr
    # no MACs; the table adds one value to each of the 197 x 768 outputs; the class token computes nothing
    assert f"FLOPs (2 x MACs + bias adds + activations + pooling): {197 * 768:,}" in proc.stdout


def test_flops_with_everything_on_an_open_length(tmp_path):
    path = tmp_path / "m.nn"
    path.write_text("model m {\n  input Tx64\n  position_embedding 512\n}\n", encoding="utf-8")
    proc = nnc_in_process(path, "--ops", "flops-all")
    assert proc.returncode == 0, proc.stderr
    assert "FLOPs (2 x MACs + bias adds + activations + pooling): 64*T" in proc.stdout


def test_expectations_hold():
    body = ("    input 196x768\n    class_token -> 197x768 params=768 macs=0\n"
            "    position_embedding 197 -> 197x768 params=151296 macs=0\n")
    assert _errors(body) == []
    assert [e[0] for e in _errors(body.replace("params=768 ", "params=769 "))] == ["E302"]  # the parameters differ


def test_a_sequence_longer_than_the_table():
    line = "    position_embedding 256"
    (error,) = _errors(f"    input 300x64\n{line}\n")
    code, row, column, message = error
    assert (code, row, column) == ("E203", 3, line.index("256") + 1)
    assert message == "position_embedding: the sequence has 300 positions, more than the table's max_len=256"


def test_the_class_token_counts_against_the_table():
    (error,) = _errors("    input 196x768\n    class_token\n    position_embedding 196\n")
    assert error[0] == "E203" and "197 positions" in error[3] and "max_len=196" in error[3]


def test_the_table_size_is_a_number():
    (error,) = _errors("    input Tx64\n    position_embedding max_len=T\n")
    assert error[0] == "E104" and error[1] == 3
    (error,) = _errors("    input 10x64\n    position_embedding 0\n")
    assert error[0] == "E104"
    (error,) = _errors("    input 10x64\n    position_embedding\n")
    assert error[1] == 3


@pytest.mark.parametrize("statement", ["class_token", "position_embedding 64"])
def test_an_image_must_be_flattened_first(statement):
    (error,) = _errors(f"    input 14x14x768\n    {statement}\n")
    assert error[0] == "E201" and "2-D input" in error[3] and "14x14x768" in error[3]


def _export(emitter, body: str):
    compilation = _compile(body)
    assert compilation.ok
    return emitter.export(compilation.program, source_lines=compilation.source.lines, file_name="a.nn")


def test_pytorch_writes_the_modules():
    code = _export(torch_emit, "    input 196x768\n    class_token\n    position_embedding 197\n").code
    assert "ClassToken(768)" in code and "PositionEmbedding(197, 768)" in code
    assert "nn.Parameter(torch.zeros(1, 1, dim))" in code and "torch.cat(" in code
    assert "nn.Parameter(torch.zeros(max_len, dim))" in code and "self.table[: x.size(1)]" in code
    compile(code, "<export>", "exec")


@pytest.mark.parametrize("statement, what", [("class_token", "class token"),
                                             ("position_embedding 64", "position table")])
def test_keras_refuses_with_the_reason(statement, what):
    with pytest.raises(ExportError) as caught:
        _export(keras_emit, f"    input 10x8\n    {statement}\n")
    diagnostic = caught.value.diagnostic()
    assert (diagnostic.code, diagnostic.span.line) == ("E401", 3)
    assert f"Keras has no built-in layer for a learned {what}" in caught.value.message
