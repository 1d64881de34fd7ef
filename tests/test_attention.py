"""Multi-head self-attention (`attention`): shapes, parameters and MACs written out as arithmetic,
the T^2 cost of an open sequence length, grouped-query attention, the diagnostics, the
operation counts beside the MACs (biases, softmax) and the exports."""

from __future__ import annotations

import pytest

from nnlang import layers
from nnlang.driver import compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit.codegen import ExportError

from helpers_nnc import EXAMPLES, nnc_in_process


def _layer(statement: str, shape: str = "10x512", size_values=None):
    compilation = compile_text(f"model m {{\n    input {shape}\n    probe: {statement}\n}}\n", "a.nn",
                               size_values=size_values)
    errors = [(d.code, d.message) for d in compilation.diagnostics if d.is_error]
    assert not errors, errors
    (node,) = [n for n in compilation.program.models[0].layers if n.name == "probe"]
    return node


def _errors(statement: str, shape: str = "10x512") -> list:
    compilation = compile_text(f"model m {{\n    input {shape}\n    {statement}\n}}\n", "a.nn")
    return [(d.code, d.span.line, d.message) for d in compilation.diagnostics if d.is_error]


def test_the_names_and_aliases_are_one_kind():
    kind = layers.lookup("attention")
    for name in ("MultiHeadAttention", "MultiheadAttention", "mha"):
        assert layers.lookup(name) is kind


def test_eight_heads_on_512_features():
    node = _layer("attention 8")
    assert node.output_shape == (10, 512)
    # Q, K, V and output projections, each 512x512 weights and 512 biases
    assert node.trainable.value == 4 * (512 * 512 + 512) == 1_050_624
    assert node.non_trainable.value == 0
    # projections 4 * T*512*512, then Q K^T and A V: 8 heads * T*T*64 each, T = 10
    assert node.macs.value == 4 * 10 * 512 * 512 + 2 * 8 * 10 * 10 * 64 == 10_588_160


def test_without_bias():
    node = _layer("attention 8 bias=false")
    assert node.trainable.value == 4 * 512 * 512


def test_head_dim_out_and_framework_spellings():
    # 4 heads of 32 (a 128-wide inner product), 256 outputs; Keras' spellings of the same
    node = _layer("MultiHeadAttention num_heads=4 key_dim=32 output_dim=256", "6x100")
    assert node.output_shape == (6, 256)
    inner = 4 * 32
    assert node.trainable.value == 3 * (100 * inner + inner) + inner * 256 + 256
    assert node.macs.value == 3 * 6 * 100 * inner + 2 * 4 * 6 * 6 * 32 + 6 * inner * 256


def test_grouped_query_attention():
    # 8 query heads of 64, 2 key/value heads: K and V project 512 -> 2*64
    node = _layer("attention 8 kv_heads=2")
    q, kv = 8 * 64, 2 * 64
    assert node.trainable.value == (512 * q + q) + 2 * (512 * kv + kv) + (q * 512 + 512) == 656_640
    assert node.macs.value == 10 * 512 * q + 2 * 10 * 512 * kv + 2 * 8 * 10 * 10 * 64 + 10 * q * 512


def test_causal_and_dropout_change_no_count():
    plain = _layer("attention 8")
    other = _layer("attention 8 causal=true dropout=0.1")
    assert (other.trainable.value, other.macs.value) == (plain.trainable.value, plain.macs.value)
    assert other.args["causal"] is True and other.args["dropout"] == 0.1


def test_an_open_length_gives_a_t_squared_expression():
    source = ("model m {\n    input Tx512\n"
              # 4*T*512*512 = 1,048,576*T; 2*8*T*T*64 = 1,024*T*T
              "    attention 8 -> Tx512 params=1050624 macs=1024*T*T+1048576*T\n}\n")
    compilation = compile_text(source, "a.nn")
    assert not [d for d in compilation.diagnostics if d.is_error]
    wrong = compile_text(source.replace("1024*T*T", "1000*T*T"), "a.nn")
    assert [d.code for d in wrong.diagnostics if d.is_error] == ["E303"]  # the MACs differ
    for t in (128, 512):
        node = _layer("attention 8", "Tx512", size_values={"T": t})
        assert node.macs.value == 1024 * t * t + 1_048_576 * t


def test_the_macs_read_as_an_expression_in_the_table():
    proc = nnc_in_process(EXAMPLES / "transformer_encoder_layer.nn")
    assert proc.returncode == 0, proc.stderr
    # 1,024*T^2 + 3,145,728*T = 1,024*T*(T + 3,072)
    assert " MACs: 1,024*T*(T + 3,072)" in proc.stdout
    assert " Total params: 3,152,384" in proc.stdout


def test_the_encoder_layer_example_at_two_lengths():
    for t, macs in ((128, 1024 * 128 * 128 + 3_145_728 * 128), (512, 1024 * 512 * 512 + 3_145_728 * 512)):
        proc = nnc_in_process(EXAMPLES / "transformer_encoder_layer.nn", "--set", f"T={t}")
        assert proc.returncode == 0, proc.stderr
        assert f" MACs: {macs:,}\n" in proc.stdout
    assert macs == 1_879_048_192


@pytest.mark.parametrize("statement, code, words", [
    ("attention 7", "E203", "512 is not a multiple of heads=7"),
    ("attention 8 kv_heads=3", "E203", "heads=8 is not a multiple of kv_heads=3"),
    ("attention 8 dropout=1.5", "E104", "dropout"),
    ("attention", "E103", "heads"),
])
def test_bad_arguments_are_located_diagnostics(statement, code, words):
    (found,) = _errors(statement)
    assert found[0] == code and found[1] == 3 and words in found[2], found


def test_an_image_is_refused_with_a_hint():
    (found,) = _errors("attention 8", "4x4x512")
    assert found[0] == "E201" and "sequence length x features" in found[2]


def test_an_open_width_needs_head_dim():
    (found,) = _errors("attention 8", "TxD")
    assert found[0] == "E205" and "head_dim" in found[2]
    node = _layer("attention 8 head_dim=16", "TxD")
    assert node.output_shape[-1] == node.input_shape[-1]


def test_biases_and_softmax_are_counted_beside_the_macs():
    kind = layers.lookup("attention")
    node = _layer("attention 8 kv_heads=2")
    # a bias per projected value: T*(8*64 + 2*2*64 + 512); the softmax: 8 heads * T*T exponentials
    assert kind.elementwise_ops(node.args, node.input_shape) == (10 * (512 + 256 + 512), 8 * 10 * 10)
    unbiased = _layer("attention 8 bias=false")
    assert kind.elementwise_ops(unbiased.args, unbiased.input_shape) == (0, 800)


def _export(module, statement: str, shape: str = "10x512"):
    compilation = compile_text(f"model m {{\n    input {shape}\n    probe: {statement}\n}}\n", "a.nn")
    return module.export(compilation.program, source_lines=compilation.source.lines, file_name="a.nn").code


def test_pytorch_export_is_multihead_attention():
    code = _export(torch_emit, "attention 8 causal=true dropout=0.1")
    assert ("self.probe = SelfAttention(nn.MultiheadAttention(512, 8, dropout=0.1, batch_first=True), "
            "causal=True)") in code
    assert "class SelfAttention(nn.Module):" in code
    compile(code, "export", "exec")


@pytest.mark.parametrize("statement, words", [
    ("attention 8 kv_heads=2", "kv_heads=2 is not heads=8"),
    ("attention 8 head_dim=32", "head_dim=32 is not the width 512 over heads=8"),
    ("attention 8 out=256", "out=256 is not the input's width 512"),
])
def test_pytorch_refuses_what_multihead_attention_cannot_express(statement, words):
    with pytest.raises(ExportError) as caught:
        _export(torch_emit, statement)
    diagnostic = caught.value.diagnostic()
    assert diagnostic.code == "E401" and diagnostic.span.line == 3
    assert "probe (attention)" in caught.value.message and words in caught.value.message


def test_keras_export_calls_the_layer_on_the_input_twice():
    code = _export(keras_emit, "attention 4 head_dim=32 out=256 causal=true")
    assert ('(lambda attention: lambda x: attention(x, x, use_causal_mask=True))'
            '(layers.MultiHeadAttention(4, 32, output_shape=256, name="probe"))(inputs)') in code
    grouped = _export(keras_emit, "attention 8 kv_heads=2 bias=false")
    assert 'layers.GroupQueryAttention(64, 8, 2, use_bias=False, name="probe")' in grouped
    with pytest.raises(ExportError) as caught:
        _export(keras_emit, "attention 8 kv_heads=2 out=256")
    assert caught.value.diagnostic().code == "E401"


def test_flops_with_everything_count_the_biases_and_the_softmax(tmp_path):
    path = tmp_path / "m.nn"
    path.write_text("model m {\n  input 10x512\n  attention 8\n}\n", encoding="utf-8")
    proc = nnc_in_process(path, "--ops", "flops-all")
    assert proc.returncode == 0, proc.stderr
    # MACs: projections 10*512*(3*512) + 10*512*512, products 2 * 8*10*10*64 -> 10,588,160;
    # FLOPs 2 x MACs, + the biases 10*(3*512 + 512) + the softmax 8*10*10
    macs = 10 * 512 * 3 * 512 + 10 * 512 * 512 + 2 * 8 * 10 * 10 * 64
    assert macs == 10_588_160
    assert f"FLOPs (2 x MACs + bias adds + activations + pooling): {2 * macs + 10 * 2048 + 800:,}" in proc.stdout

