"""`attention` against the frameworks: parameters exact against PyTorch's nn.MultiheadAttention,
Keras' MultiHeadAttention and GroupQueryAttention and Hugging Face GPT-2's attention (c_attn +
c_proj, built from its config with random weights); MACs against
torch.utils.flop_counter.FlopCounterMode (FLOPs / 2) at two sequence lengths, with the modules
built on the meta device (FlopCounterMode counts the fused CPU attention kernel as 0); the
exported code builds modules with nnc's counts."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

from helpers_nnc import EXAMPLES  # noqa: E402
from nnlang.driver import compile_path, compile_text  # noqa: E402
from nnlang.emit import keras as keras_emit  # noqa: E402
from nnlang.emit import pytorch as torch_emit  # noqa: E402

pytestmark = pytest.mark.frameworks

LENGTHS = (16, 64)


def _node(statement: str, shape: str, convention: str = "keras", size_values=None):
    compilation = compile_text(f"model m {{\n    input {shape}\n    probe: {statement}\n}}\n", "a.nn",
                               convention, size_values)
    assert compilation.ok, [d.message for d in compilation.diagnostics if d.is_error]
    (node,) = [n for n in compilation.program.models[0].layers if n.name == "probe"]
    return node


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _macs(module, *inputs, **keywords) -> int:
    """MACs of one forward pass of a batch of one, as FlopCounterMode counts them (FLOPs / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    module.eval()
    with FlopCounterMode(display=False) as counter:
        module(*inputs, **keywords)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("bias", [True, False])
def test_pytorch_multihead_attention(bias):
    import torch
    from torch import nn

    for steps in LENGTHS:
        with torch.device("meta"):
            module = nn.MultiheadAttention(512, 8, bias=bias, batch_first=True)
            x = torch.empty(1, steps, 512)
        node = _node(f"attention 8 bias={str(bias).lower()}", "Tx512", "pytorch", {"T": steps})
        assert node.trainable.value == _params(module)
        assert node.macs.value == _macs(module, x, x, x, need_weights=False)


def test_pytorch_transformer_encoder_layer_against_the_example():
    import torch
    from torch import nn

    with torch.device("meta"):
        module = nn.TransformerEncoderLayer(512, 8, 2048, activation="gelu", batch_first=True)
    for steps in LENGTHS:
        compilation = compile_path(EXAMPLES / "transformer_encoder_layer.nn", "pytorch", {"T": steps})
        assert compilation.ok
        model = compilation.program.models[0]
        params = sum(node.trainable.value + node.non_trainable.value for node in model.layers)
        macs = sum(node.macs.value for node in model.layers)
        assert params == _params(module) == 3_152_384
        with torch.device("meta"):
            x = torch.empty(1, steps, 512)
        assert macs == _macs(module, x)


@pytest.mark.parametrize("statement, build", [
    ("attention 8", lambda layers: layers.MultiHeadAttention(8, 64)),
    ("attention 8 bias=false", lambda layers: layers.MultiHeadAttention(8, 64, use_bias=False)),
    ("attention 4 head_dim=32 out=256", lambda layers: layers.MultiHeadAttention(4, 32, output_shape=256)),
    ("attention 8 kv_heads=2", lambda layers: layers.GroupQueryAttention(64, 8, 2)),
])
def test_keras_attention_layers(statement, build):
    import keras
    from keras import layers

    layer = build(layers)
    x = keras.Input(shape=(10, 512))
    layer(x, x)
    assert _node(statement, "10x512").trainable.value == layer.count_params()


def test_gpt2_attention_from_its_config():
    from transformers import GPT2Config
    from transformers.models.gpt2.modeling_gpt2 import GPT2Attention

    config = GPT2Config(n_embd=768, n_head=12)
    module = GPT2Attention(config)
    # c_attn: 768 -> 3*768 (Q, K, V), c_proj: 768 -> 768, each with its bias
    assert _params(module) == 768 * 3 * 768 + 3 * 768 + 768 * 768 + 768
    assert _node("attention 12 causal=true", "Tx768").trainable.value == _params(module)


def _run(code: str) -> dict:
    namespace: dict = {}
    exec(compile(code, "export", "exec"), namespace)
    return namespace


def test_the_pytorch_export_builds_nncs_counts():
    import torch

    source = "model m {\n    input 12x64\n    attention 4 causal=true\n    attention 8 bias=false\n}\n"
    compilation = compile_text(source, "a.nn", "pytorch")
    code = torch_emit.export(compilation.program).code
    module = _run(code)["M"]()
    nodes = compilation.program.models[0].layers
    assert _params(module) == sum(node.trainable.value for node in nodes)
    out = module(torch.randn(2, 12, 64))
    assert tuple(out.shape) == (2, 12, 64)
    # causal: the first position sees only itself, so changing the last position leaves it alone
    x = torch.randn(1, 12, 64)
    y = x.clone()
    y[0, -1] += 1.0
    first = module.attention_1
    assert torch.allclose(first(x)[0, 0], first(y)[0, 0])


def test_the_keras_export_builds_nncs_counts():
    source = ("model m {\n    input 12x64\n    attention 4 causal=true\n    attention 8 kv_heads=2\n"
              "    attention 2 head_dim=16 out=32\n}\n")
    compilation = compile_text(source, "a.nn")
    code = keras_emit.export(compilation.program).code
    model = _run(code)["build_m"]()
    nodes = compilation.program.models[0].layers
    assert model.count_params() == sum(node.trainable.value for node in nodes)
    assert tuple(model.output_shape) == (None, 12, 32)
