"""Group and RMS norm, layer scale, stochastic depth and Keras' Normalization: the exported PyTorch
and Keras code run on real tensors and compared with the formulas computed here in numpy."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

from nnlang.driver import compile_text  # noqa: E402
from nnlang.emit import keras as keras_emit  # noqa: E402
from nnlang.emit import pytorch as torch_emit  # noqa: E402

pytestmark = pytest.mark.frameworks

TEXT = ("model g {\n    input 5x5x12\n    groupnorm 3\n}\n"
        "model r {\n    input 7x10\n    rmsnorm\n}\n"
        "model n {\n    input 7x10\n    normalization\n}\n"
        "model s {\n    input 7x10\n    layerscale\n    droppath 0.5\n}\n")


def _group_norm(x, groups, eps=1e-3):
    """x: (N, H, W, C), channels last; every group of C/groups channels over its positions."""
    n, h, w, c = x.shape
    g = x.reshape(n, h, w, groups, c // groups)
    mean = g.mean(axis=(1, 2, 4), keepdims=True)
    var = g.var(axis=(1, 2, 4), keepdims=True)
    return ((g - mean) / (var + eps) ** 0.5).reshape(n, h, w, c)


def _rms_norm(x, eps=1e-6):
    return x / ((x ** 2).mean(axis=-1, keepdims=True) + eps) ** 0.5


def _exported(module, convention, text=TEXT):
    program = compile_text(text, "a.nn", convention).program
    namespace = {}
    exec(module.export(program, ["g", "r", "s"] if module is torch_emit else ["g", "r", "n"],
                       source_lines=text.splitlines()).code, namespace)
    return namespace


def test_the_pytorch_export_computes_the_formulas():
    import numpy as np
    import torch

    namespace = _exported(torch_emit, "pytorch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 5, 12)).astype("float32") * 3 + 1
    got = namespace["G"]().eval()(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy()
    assert np.allclose(got, _group_norm(x, 3), atol=1e-4)
    t = rng.standard_normal((2, 7, 10)).astype("float32") * 2
    got = namespace["R"]().eval()(torch.from_numpy(t)).detach().numpy()
    assert np.allclose(got, _rms_norm(t), atol=1e-5)
    s = namespace["S"]()
    assert sum(p.numel() for p in s.parameters()) == 10
    s.eval()  # layer scale starts at 1e-6; drop path is the identity at inference
    assert np.allclose(s(torch.from_numpy(t)).detach().numpy(), t * 1e-6, rtol=1e-5)
    s.train()
    torch.manual_seed(0)
    out = s(torch.from_numpy(t).repeat(50, 1, 1)).detach().numpy() / 1e-6
    scaled = np.tile(t, (50, 1, 1))
    kept = [np.allclose(o, 2 * want, rtol=1e-4) for o, want in zip(out, scaled)]  # 1/(1 - 0.5)
    dropped = [not o.any() for o in out]
    assert all(k != d for k, d in zip(kept, dropped))  # each sample whole: kept and scaled, or zeroed
    assert 10 < sum(dropped) < 90


def test_the_keras_export_computes_the_formulas():
    import keras
    import numpy as np

    namespace = _exported(keras_emit, "keras")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 5, 12)).astype("float32") * 3 + 1
    got = keras.ops.convert_to_numpy(namespace["build_g"]()(x))
    assert np.allclose(got, _group_norm(x, 3), atol=1e-4)
    t = rng.standard_normal((2, 7, 10)).astype("float32") * 2
    assert np.allclose(keras.ops.convert_to_numpy(namespace["build_r"]()(t)), _rms_norm(t), atol=1e-5)
    model = namespace["build_n"]()
    layer = model.layers[-1]
    assert [tuple(w.shape) for w in layer.non_trainable_weights] == [(10,), (10,), ()]
    assert model.count_params() == 2 * 10 + 1
