"""`multiply`, broadcasting `add`, `slice` and `select` against the frameworks: the squeeze-and-excitation
MBConv block of examples/squeeze_excitation.nn written in plain torch.nn as torchvision's
EfficientNet-B0 builds it (parameters, output shape, MACs by FlopCounterMode), the exported PyTorch
and Keras code run on real tensors and compared with the product computed by hand, and the
slices against torch indexing."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

from helpers_nnc import EXAMPLES  # noqa: E402
from nnlang.driver import compile_path, compile_text  # noqa: E402
from nnlang.emit import keras as keras_emit  # noqa: E402
from nnlang.emit import pytorch as torch_emit  # noqa: E402

pytestmark = pytest.mark.frameworks


def _totals(compilation, convention_index=0):
    model = compilation.program.models[convention_index]
    return model, sum(n.trainable.value + n.non_trainable.value for n in model.layers), \
        sum(n.macs.value for n in model.layers)


def _mbconv_torch():
    """EfficientNet-B0 stage 2, block 1 (MBConv6 16 -> 24, stride 2) as torchvision writes it:
    Conv2dNormActivation(16, 96, 1), depthwise Conv2dNormActivation(96, 96, 3, 2, groups=96),
    SqueezeExcitation(96, max(1, 16 // 4)), Conv2dNormActivation(96, 24, 1, no activation)."""
    import torch.nn as nn

    class SqueezeExcitation(nn.Module):
        def __init__(self, channels, squeeze):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(channels, squeeze, 1)
            self.fc2 = nn.Conv2d(squeeze, channels, 1)
            self.activation, self.scale_activation = nn.SiLU(), nn.Sigmoid()

        def forward(self, x):
            scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
            return scale * x

    return nn.Sequential(
        nn.Conv2d(16, 96, 1, bias=False), nn.BatchNorm2d(96), nn.SiLU(),
        nn.Conv2d(96, 96, 3, 2, 1, groups=96, bias=False), nn.BatchNorm2d(96), nn.SiLU(),
        SqueezeExcitation(96, max(1, 16 // 4)),
        nn.Conv2d(96, 24, 1, bias=False), nn.BatchNorm2d(24))


def test_the_mbconv_block_with_se_matches_torch():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    block = _mbconv_torch()
    compilation = compile_path(EXAMPLES / "squeeze_excitation.nn", convention="pytorch")
    model, params, macs = _totals(compilation)
    assert params == sum(p.numel() for p in block.parameters()) == 6004
    x = torch.randn(1, 16, 112, 112)
    with FlopCounterMode(display=False) as counter:
        out = block(x)
    assert tuple(out.shape[1:]) == (24, 56, 56)
    assert model.layers[-1].output_shape == (56, 56, 24)
    # FlopCounterMode counts convolutions (2 FLOPs per MAC), not the elementwise product
    assert macs == counter.get_total_flops() // 2


def test_the_exported_se_blocks_compute_the_product():
    import numpy as np
    import torch
    import keras

    text = ("model se {\n    input 6x6x8\n    multiply {\n        branch {}\n        branch s {\n"
            "            globalavgpool2d keepdims=true; conv2d 2 k=1 relu; conv2d 8 k=1 sigmoid\n"
            "        }\n    }\n}\n"
            "model v {\n    input 6x6x8\n    add {\n        branch {}\n        branch s { globalavgpool2d; "
            "dense 8 }\n    }\n}\n")
    compilation = compile_text(text, "a.nn", "pytorch")
    assert compilation.ok
    namespace = {}
    exec(torch_emit.export(compilation.program, source_lines=text.splitlines()).code, namespace)
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6)
    se = namespace["Se"]().eval()
    scale = torch.sigmoid(se.multiply_1.s.conv2d_2(torch.relu(se.multiply_1.s.conv2d_1(
        x.mean(dim=(2, 3), keepdim=True)))))
    assert torch.allclose(se(x), x * scale, atol=1e-6)
    v = namespace["V"]().eval()
    shift = v.add_1.s.dense_1(x.mean(dim=(2, 3)))
    assert torch.allclose(v(x), x + shift[:, :, None, None], atol=1e-6)
    assert sum(p.numel() for p in se.parameters()) == 8 * 2 + 2 + 2 * 8 + 8

    keras_compilation = compile_text(text, "a.nn")
    namespace = {}
    exec(keras_emit.export(keras_compilation.program, source_lines=text.splitlines()).code, namespace)
    model = namespace["build_v"]()
    assert model.count_params() == 8 * 8 + 8
    xs = np.random.default_rng(0).standard_normal((2, 6, 6, 8)).astype("float32")
    dense = model.get_layer("dense_1")
    kernel, bias = (w.detach().cpu().numpy() if hasattr(w, "detach") else np.asarray(w) for w in dense.weights)
    expected = xs + (xs.mean(axis=(1, 2)) @ kernel + bias)[:, None, None, :]
    assert np.allclose(np.asarray(keras.ops.convert_to_numpy(model(xs))), expected, atol=1e-5)
    assert namespace["build_se"]().count_params() == 8 * 2 + 2 + 2 * 8 + 8


def test_the_exported_slices_index_as_torch_does():
    import torch

    text = ("model m {\n    input 8x8x116\n    slice stop=58\n    slice axis=0 start=1 step=2\n"
            "    slice axis=1 stop=7 step=3\n}\n"
            "model t {\n    input 10x16\n    slice axis=0 start=1\n    select axis=0 index=2\n}\n")
    compilation = compile_text(text, "a.nn", "pytorch")
    assert compilation.ok
    namespace = {}
    exec(torch_emit.export(compilation.program, source_lines=text.splitlines()).code, namespace)
    x = torch.randn(2, 116, 8, 8)  # channels first, as the exported class takes it
    out = namespace["M"]()(x)
    assert torch.equal(out, x[:, :58, 1::2, 0:7:3])
    assert tuple(out.shape[1:]) == (58, 4, 3)
    assert compilation.program.models[0].layers[-1].output_shape == (4, 3, 58)
    s = torch.randn(2, 10, 16)
    assert torch.equal(namespace["T"]()(s), s[:, 1:][:, 2])
    assert compilation.program.models[1].layers[-1].output_shape == (16,)
