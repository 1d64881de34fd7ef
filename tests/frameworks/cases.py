"""Single-path networks written three times: in `.nn`, in Keras and in PyTorch.

Each :class:`Case` holds

* ``body``: the statements of one `.nn` model (``input`` first); ``source``
  wraps them as ``model NAME { ... }``;
* ``keras``: a function building the same network as a Keras ``Sequential``
  (channels-last), or ``None`` when Keras has no such layer or option. Keras
  layers map one to one, in order, onto nnc's ``layers`` (a trailing activation
  word is the layer's ``activation=``; ``Bidirectional(...)`` is one layer);
* ``torch``: a function returning a :class:`TorchNet`, or ``None`` when PyTorch
  has no equivalent. Its entries are ``cf(module)`` / ``cl(module)``, which
  map one to one, in order, onto nnc's layers (their output is channels-first
  NC... or already channels-last, such as Linear/RNN/Embedding outputs), and
  ``glue(module)``: permutes, Keras-style asymmetric 'same' padding and the
  activation modules nnc folds into the layer before them; glue is not
  compared;
* ``macs``: MACs written out by hand for some layers (index into nnc's
  ``layers``), where no framework counts them (Keras GRU ``reset_after=False``)
  or as a cross-check of FlopCounterMode.

``run_nnc_json`` runs the compiler as a user does; ``nnc_model`` runs every
case at once (one process per convention) and falls back to one run per case
when the combined file does not compile.

The framework side is computed by ``keras_numbers`` and ``torch_numbers``
(cached): per mapped layer the kind, the output shape without the batch axis
in channels-last order, the parameter counts and (PyTorch) the MACs measured by
``torch.utils.flop_counter.FlopCounterMode`` (which counts 2 FLOPs per MAC).
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import torch  # noqa: E402
from keras import layers as K  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- nnc


def run_nnc_json(source_text: str, *extra_args: str) -> dict:
    """Compile ``source_text`` with ``python -m nnlang FILE --format json``.

    Asserts exit status 0 (warnings are allowed) and returns the parsed report.
    """
    with tempfile.TemporaryDirectory(prefix="nnc-frameworks-") as tmp:
        path = Path(tmp) / "case.nn"
        path.write_text(source_text, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "nnlang", str(path), "--format", "json", *extra_args],
            capture_output=True,
            text=True,
            cwd=str(ROOT),
            timeout=120,
        )
    assert proc.returncode == 0, (
        f"nnc exited {proc.returncode} for {' '.join(extra_args)}\n"
        f"--- source ---\n{source_text}\n--- stderr ---\n{proc.stderr}"
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as error:  # pragma: no cover - failure message only
        raise AssertionError(f"nnc's stdout is not JSON ({error}):\n{proc.stdout[:2000]}") from None


@functools.lru_cache(maxsize=None)
def _combined_report(convention: str) -> Optional[dict]:
    """All cases in one file, compiled once; None if that file does not compile."""
    text = "\n".join(case.source for case in CASES)
    try:
        report = run_nnc_json(text, "--convention", convention)
    except (AssertionError, subprocess.TimeoutExpired):
        return None
    models = {model.get("name"): model for model in report.get("models", [])}
    if not all(case.name in models for case in CASES):
        return None
    return models


@functools.lru_cache(maxsize=None)
def nnc_model(case_name: str, convention: str) -> dict:
    """nnc's JSON entry for one case's model under ``--convention``."""
    combined = _combined_report(convention)
    if combined is not None:
        return combined[case_name]
    case = CASE_BY_NAME[case_name]
    report = run_nnc_json(case.source, "--convention", convention)
    models = [m for m in report["models"] if m.get("name") == case.name]
    assert len(models) == 1, f"expected one model named {case.name} in {report!r}"
    return models[0]


# ---------------------------------------------------------------- torch helpers


@dataclass
class Entry:
    module: nn.Module
    layout: Optional[str]  # "cf": output is N,C,...; "cl": output is already channels-last; None: glue
    kind: Optional[str] = None  # nnc's canonical kind, when the class alone does not tell


def cf(module: nn.Module, kind: Optional[str] = None) -> Entry:
    """A layer whose output is channels-first (N, C, *spatial)."""
    return Entry(module, "cf", kind)


def cl(module: nn.Module, kind: Optional[str] = None) -> Entry:
    """A layer whose output is already channels-last (N, ..., C) or flat (N, F)."""
    return Entry(module, "cl", kind)


def glue(module: nn.Module) -> Entry:
    """A module without an nnc counterpart (layout changes, folded activations)."""
    return Entry(module, None)


@dataclass
class TorchNet:
    """A PyTorch network as entries, and the example input that drives it.

    ``input`` is the `.nn` input shape, channels-last, with every ``?`` given a
    concrete length; ``layout`` says how to feed it: "cf" moves channels to
    axis 1, "cl" passes it as is, "ids" makes a LongTensor of token ids.
    """

    input: tuple
    layout: str
    entries: list


class ToChannelsLast(nn.Module):
    """N, C, *S -> N, *S, C."""

    def forward(self, x):
        return x.movedim(1, -1)


class ToChannelsFirst(nn.Module):
    """N, *S, C -> N, C, *S."""

    def forward(self, x):
        return x.movedim(-1, 1)


class OnLastAxis(nn.Module):
    """Applies ``inner`` to a channels-first tensor viewed channels-last (LayerNorm)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.movedim(1, -1)).movedim(-1, 1)


class OnChannelAxis(nn.Module):
    """Applies ``inner`` to a channels-last tensor viewed channels-first (BatchNorm1d on N,L,C)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.movedim(-1, 1)).movedim(1, -1)


def keras_same_padding(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """Keras/TensorFlow 'same': output ceil(n/s); the odd pixel goes after (bottom/right)."""
    k_eff = (k - 1) * d + 1
    total = max((math.ceil(n / s) - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


class KerasSamePad(nn.Module):
    """Zero padding as Keras' padding='same' would add before a conv of kernel k, stride s.

    PyTorch's own padding='same' only exists for stride 1; it pads symmetrically
    with the odd pixel after as well.
    """

    def __init__(self, k, s, d=1):
        super().__init__()
        self.k, self.s, self.d = _pair_or_single(k), _pair_or_single(s), _pair_or_single(d)

    def forward(self, x):
        spatial = x.shape[2:]
        k = self.k * len(spatial) if len(self.k) == 1 else self.k
        s = self.s * len(spatial) if len(self.s) == 1 else self.s
        d = self.d * len(spatial) if len(self.d) == 1 else self.d
        pads = []
        for n, kk, ss, dd in reversed(list(zip(spatial, k, s, d))):  # F.pad wants the last axis first
            pads.extend(keras_same_padding(int(n), kk, ss, dd))
        return nn.functional.pad(x, pads)


def _pair_or_single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class Separable2d(nn.Module):
    """Keras SeparableConv2D: depthwise k x k (no bias) then pointwise 1x1 (with bias)."""

    kind = "separable2d"

    def __init__(self, cin, filters, k, s=1, padding=0, bias=True):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, k, stride=s, padding=padding, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, filters, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class Recurrent(nn.Module):
    """nn.RNN/LSTM/GRU (batch_first) returning what Keras returns.

    return_sequences: the whole output (N, L, H*dirs); otherwise the final state,
    for a bidirectional layer the forward and backward final states concatenated
    as Keras' Bidirectional(merge_mode='concat') does.
    """

    def __init__(self, rnn: nn.RNNBase, return_sequences: bool = False):
        super().__init__()
        assert rnn.batch_first
        self.rnn = rnn
        self.return_sequences = return_sequences
        self.kind = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}[type(rnn)]

    def forward(self, x):
        out, h = self.rnn(x)
        if self.return_sequences:
            return out
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        if self.rnn.bidirectional:
            return torch.cat([h[-2], h[-1]], dim=-1)
        return h[-1]


class Reshape(nn.Module):
    """Keras Reshape on a channels-last tensor (target shape without the batch axis)."""

    kind = "reshape"

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class GlobalPool2d(nn.Module):
    """GlobalAveragePooling2D / GlobalMaxPooling2D: N,C,H,W -> N,C."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.pool = nn.AdaptiveAvgPool2d(1) if kind == "globalavgpool2d" else nn.AdaptiveMaxPool2d(1)

    def forward(self, x):
        return self.pool(x).flatten(1)


def rnn(cls, inp, units, return_sequences=False, bidirectional=False):
    return cl(Recurrent(cls(inp, units, batch_first=True, bidirectional=bidirectional), return_sequences))


# ----------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    body: str
    keras: Optional[Callable[[], "keras.Model"]]
    torch: Optional[Callable[[], TorchNet]]
    macs: dict = field(default_factory=dict)  # nnc layer index -> MACs written out by hand
    note: str = ""

    @property
    def source(self) -> str:
        body = textwrap.indent(textwrap.dedent(self.body).strip("\n"), "    ")
        return f"# {self.note}\nmodel {self.name} {{\n{body}\n}}\n" if self.note else f"model {self.name} {{\n{body}\n}}\n"

    def __repr__(self):  # short pytest ids / messages
        return f"Case({self.name})"


def seq(input_shape, *layers, dtype="float32"):
    return keras.Sequential([keras.Input(shape=input_shape, dtype=dtype), *layers])


CASES: list[Case] = []


def case(name, body, keras=None, torch=None, macs=None, note=""):
    CASES.append(Case(name, body, keras, torch, dict(macs or {}), note))


# -- the contract's first file, verbatim (its expectations must hold)
case(
    "exam1",
    """
    input 28x28x3
    conv2d 32 k=5 pad=same        -> 28x28x32  params=2432
    conv2d 64 k=5                 -> 24x24x64  params=51264
    maxpool2d 2                   -> 12x12x64
    conv2d 64 k=5                 -> 8x8x64    params=102464
    maxpool2d 2                   -> 4x4x64
    flatten                       -> 1024
    dense 512 relu                -> 512       params=524800
    dense 10 softmax              -> 10        params=5130
    """,
    keras=lambda: seq(
        (28, 28, 3),
        K.Conv2D(32, 5, padding="same"),
        K.Conv2D(64, 5),
        K.MaxPooling2D(2),
        K.Conv2D(64, 5),
        K.MaxPooling2D(2),
        K.Flatten(),
        K.Dense(512, activation="relu"),
        K.Dense(10, activation="softmax"),
    ),
    torch=lambda: TorchNet((28, 28, 3), "cf", [
        cf(nn.Conv2d(3, 32, 5, padding="same")),
        cf(nn.Conv2d(32, 64, 5)),
        cf(nn.MaxPool2d(2)),
        cf(nn.Conv2d(64, 64, 5)),
        cf(nn.MaxPool2d(2)),
        glue(ToChannelsLast()),  # flatten in Keras' (channels-last) order
        cl(nn.Flatten()),
        cl(nn.Linear(1024, 512)), glue(nn.ReLU()),
        cl(nn.Linear(512, 10)), glue(nn.Softmax(-1)),
    ]),
)

# -- conv2d
case(
    "conv2d_strides",
    """
    input 16x16x3
    conv2d 8 k=3 relu
    conv2d 16 k=3 s=2
    conv2d 16 k=2 s=2
    conv2d 4 k=1 bias=false
    conv2d 6 k=3x1
    """,
    keras=lambda: seq(
        (16, 16, 3),
        K.Conv2D(8, 3, activation="relu"),
        K.Conv2D(16, 3, strides=2),  # 14 -> 6: (14-3)/2 floored, one row dropped
        K.Conv2D(16, 2, strides=2),
        K.Conv2D(4, 1, use_bias=False),
        K.Conv2D(6, (3, 1)),
    ),
    torch=lambda: TorchNet((16, 16, 3), "cf", [
        cf(nn.Conv2d(3, 8, 3)), glue(nn.ReLU()),
        cf(nn.Conv2d(8, 16, 3, stride=2)),
        cf(nn.Conv2d(16, 16, 2, stride=2)),
        cf(nn.Conv2d(16, 4, 1, bias=False)),
        cf(nn.Conv2d(4, 6, (3, 1))),
    ]),
)

case(
    "conv2d_same_stride1",
    """
    input 15x15x4
    conv2d 8 k=5 pad=same
    conv2d 8 k=3x5 pad=same
    conv2d 6 k=4 pad=same
    conv2d 6 k=3 pad=same dilation=2
    """,
    keras=lambda: seq(
        (15, 15, 4),
        K.Conv2D(8, 5, padding="same"),
        K.Conv2D(8, (3, 5), padding="same"),
        K.Conv2D(6, 4, padding="same"),  # even kernel: 1 before, 2 after
        K.Conv2D(6, 3, padding="same", dilation_rate=2),
    ),
    torch=lambda: TorchNet((15, 15, 4), "cf", [
        cf(nn.Conv2d(4, 8, 5, padding="same")),
        cf(nn.Conv2d(8, 8, (3, 5), padding="same")),
        cf(nn.Conv2d(8, 6, 4, padding="same")),
        cf(nn.Conv2d(6, 6, 3, padding="same", dilation=2)),
    ]),
)

case(
    "conv2d_same_strided",
    """
    input 28x28x3
    conv2d 8 k=3 s=2 pad=same
    conv2d 8 k=5 s=2 pad=same
    conv2d 8 k=3 s=3 pad=same
    conv2d 4 k=1 s=2 pad=same
    """,
    note="Keras 'same' with a stride: output ceil(n/s), the odd padding row/column goes at the bottom/right",
    keras=lambda: seq(
        (28, 28, 3),
        K.Conv2D(8, 3, strides=2, padding="same"),  # 28 -> 14, pads 0 top / 1 bottom
        K.Conv2D(8, 5, strides=2, padding="same"),  # 14 -> 7, pads 1 / 2
        K.Conv2D(8, 3, strides=3, padding="same"),  # 7 -> 3, pads 1 / 1
        K.Conv2D(4, 1, strides=2, padding="same"),  # 3 -> 2, no padding
    ),
    torch=lambda: TorchNet((28, 28, 3), "cf", [
        glue(KerasSamePad(3, 2)), cf(nn.Conv2d(3, 8, 3, stride=2)),
        glue(KerasSamePad(5, 2)), cf(nn.Conv2d(8, 8, 5, stride=2)),
        glue(KerasSamePad(3, 3)), cf(nn.Conv2d(8, 8, 3, stride=3)),
        glue(KerasSamePad(1, 2)), cf(nn.Conv2d(8, 4, 1, stride=2)),
    ]),
)

case(
    "conv2d_same_strided_rect",
    """
    input 7x9x2
    conv2d 4 k=4 s=2 pad=same relu
    depthwise2d k=3 s=2 pad=same
    """,
    keras=lambda: seq(
        (7, 9, 2),
        K.Conv2D(4, 4, strides=2, padding="same", activation="relu"),  # 4x5
        K.DepthwiseConv2D(3, strides=2, padding="same"),  # 2x3
    ),
    torch=lambda: TorchNet((7, 9, 2), "cf", [
        glue(KerasSamePad(4, 2)), cf(nn.Conv2d(2, 4, 4, stride=2)), glue(nn.ReLU()),
        glue(KerasSamePad(3, 2)), cf(nn.Conv2d(4, 4, 3, stride=2, groups=4), "depthwise2d"),
    ]),
)

case(
    "conv2d_valid_floor",
    """
    input 10x11x3
    conv2d 4 k=3 s=2
    conv2d 4 k=2 s=3
    """,
    note="(n - k) not a multiple of the stride: floored (nnc warns), exit status still 0",
    keras=lambda: seq((10, 11, 3), K.Conv2D(4, 3, strides=2), K.Conv2D(4, 2, strides=3)),  # 4x5, 1x2
    torch=lambda: TorchNet((10, 11, 3), "cf", [
        cf(nn.Conv2d(3, 4, 3, stride=2)),
        cf(nn.Conv2d(4, 4, 2, stride=3)),
    ]),
)

case(
    "conv2d_explicit_pad",
    """
    input 12x12x3
    conv2d 8 k=3 pad=1
    conv2d 8 k=5 s=2 pad=2
    conv2d 4 k=3 pad=1x2
    conv2d 4 k=3 s=2 pad=2 dilation=2
    """,
    note="explicit padding exists in PyTorch only",
    torch=lambda: TorchNet((12, 12, 3), "cf", [
        cf(nn.Conv2d(3, 8, 3, padding=1)),  # 12
        cf(nn.Conv2d(8, 8, 5, stride=2, padding=2)),  # 6
        cf(nn.Conv2d(8, 4, 3, padding=(1, 2))),  # 6x8
        cf(nn.Conv2d(4, 4, 3, stride=2, padding=2, dilation=2)),  # 3x4
    ]),
)

case(
    "conv2d_dilation",
    """
    input 20x20x3
    conv2d 8 k=3 dilation=2
    conv2d 8 k=3 dilation=3 pad=same
    conv2d 4 k=2x3 dilation=2
    """,
    keras=lambda: seq(
        (20, 20, 3),
        K.Conv2D(8, 3, dilation_rate=2),  # 16
        K.Conv2D(8, 3, dilation_rate=3, padding="same"),  # 16
        K.Conv2D(4, (2, 3), dilation_rate=2),  # 14x12
    ),
    torch=lambda: TorchNet((20, 20, 3), "cf", [
        cf(nn.Conv2d(3, 8, 3, dilation=2)),
        cf(nn.Conv2d(8, 8, 3, dilation=3, padding="same")),
        cf(nn.Conv2d(8, 4, (2, 3), dilation=2)),
    ]),
)

case(
    "conv2d_groups",
    """
    input 16x16x8
    conv2d 16 k=3 groups=2
    conv2d 16 k=1 groups=4 bias=false
    conv2d 8 k=3 groups=8 pad=same relu
    """,
    keras=lambda: seq(
        (16, 16, 8),
        K.Conv2D(16, 3, groups=2),
        K.Conv2D(16, 1, groups=4, use_bias=False),
        K.Conv2D(8, 3, groups=8, padding="same", activation="relu"),
    ),
    torch=lambda: TorchNet((16, 16, 8), "cf", [
        cf(nn.Conv2d(8, 16, 3, groups=2)),
        cf(nn.Conv2d(16, 16, 1, groups=4, bias=False)),
        cf(nn.Conv2d(16, 8, 3, groups=8, padding="same")), glue(nn.ReLU()),
    ]),
)

# -- conv1d
case(
    "conv1d",
    """
    input 50x8
    conv1d 16 k=5 relu
    conv1d 16 k=3 s=2 pad=same
    conv1d 4 k=3 dilation=2 bias=false
    conv1d 8 k=1 groups=2
    maxpool1d 2
    """,
    keras=lambda: seq(
        (50, 8),
        K.Conv1D(16, 5, activation="relu"),  # 46
        K.Conv1D(16, 3, strides=2, padding="same"),  # 23, pads 0 / 1
        K.Conv1D(4, 3, dilation_rate=2, use_bias=False),  # 19
        K.Conv1D(8, 1, groups=2),
        K.MaxPooling1D(2),  # 9
    ),
    torch=lambda: TorchNet((50, 8), "cf", [
        cf(nn.Conv1d(8, 16, 5)), glue(nn.ReLU()),
        glue(KerasSamePad(3, 2)), cf(nn.Conv1d(16, 16, 3, stride=2)),
        cf(nn.Conv1d(16, 4, 3, dilation=2, bias=False)),
        cf(nn.Conv1d(4, 8, 1, groups=2)),
        cf(nn.MaxPool1d(2)),
    ]),
)

case(
    "conv1d_explicit_pad",
    """
    input 32x4
    conv1d 8 k=3 pad=1
    conv1d 8 k=4 s=2 pad=1
    """,
    note="explicit padding exists in PyTorch only",
    torch=lambda: TorchNet((32, 4), "cf", [
        cf(nn.Conv1d(4, 8, 3, padding=1)),  # 32
        cf(nn.Conv1d(8, 8, 4, stride=2, padding=1)),  # 16
    ]),
)

case(
    "conv1d_unknown_length",
    """
    input ?x8
    conv1d 16 k=3 pad=same
    conv1d 4 k=3 s=2
    dense 3
    """,
    keras=lambda: seq((None, 8), K.Conv1D(16, 3, padding="same"), K.Conv1D(4, 3, strides=2), K.Dense(3)),
    torch=lambda: TorchNet((30, 8), "cf", [
        cf(nn.Conv1d(8, 16, 3, padding="same")),
        cf(nn.Conv1d(16, 4, 3, stride=2)),
        glue(ToChannelsLast()),
        cl(nn.Linear(4, 3)),
    ]),
)

# -- depthwise / separable / transposed
case(
    "depthwise2d",
    """
    input 16x16x8
    depthwise2d k=3
    depthwise2d k=3 multiplier=2 pad=same
    depthwise2d k=3 s=2 bias=false
    depthwise2d k=3 s=2 pad=same multiplier=3
    """,
    keras=lambda: seq(
        (16, 16, 8),
        K.DepthwiseConv2D(3),  # 14x14x8
        K.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),  # 14x14x16
        K.DepthwiseConv2D(3, strides=2, use_bias=False),  # 6x6x16
        K.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=3),  # 3x3x48
    ),
    torch=lambda: TorchNet((16, 16, 8), "cf", [
        cf(nn.Conv2d(8, 8, 3, groups=8), "depthwise2d"),
        cf(nn.Conv2d(8, 16, 3, padding="same", groups=8), "depthwise2d"),
        cf(nn.Conv2d(16, 16, 3, stride=2, groups=16, bias=False), "depthwise2d"),
        glue(KerasSamePad(3, 2)), cf(nn.Conv2d(16, 48, 3, stride=2, groups=16), "depthwise2d"),
    ]),
)

case(
    "separable2d",
    """
    input 16x16x8
    separable2d 16 k=3 pad=same
    separable2d 32 k=3 s=2 relu
    separable2d 8 k=3 bias=false
    separable2d 8 k=3 s=2 pad=same
    """,
    note="Keras SeparableConv2D: k*k*Cin depthwise weights (no bias) + Cin*F pointwise + F bias",
    keras=lambda: seq(
        (16, 16, 8),
        K.SeparableConv2D(16, 3, padding="same"),
        K.SeparableConv2D(32, 3, strides=2, activation="relu"),  # 7x7
        K.SeparableConv2D(8, 3, use_bias=False),  # 5x5
        K.SeparableConv2D(8, 3, strides=2, padding="same"),  # 3x3
    ),
    torch=lambda: TorchNet((16, 16, 8), "cf", [
        cf(Separable2d(8, 16, 3, padding="same")),
        cf(Separable2d(16, 32, 3, s=2)), glue(nn.ReLU()),
        cf(Separable2d(32, 8, 3, bias=False)),
        glue(KerasSamePad(3, 2)), cf(Separable2d(8, 8, 3, s=2)),
    ]),
)


def conv_transpose_same(cin, cout, k, s, bias=True):
    """ConvTranspose2d reproducing Keras' padding='same' (output n*s):
    padding = ceil((k-s)/2), output_padding = s - k + 2*padding."""
    p = max(math.ceil((k - s) / 2), 0)
    return nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=s - k + 2 * p, bias=bias)


case(
    "conv2d_transpose",
    """
    input 7x7x16
    conv2d_transpose 8 k=3 s=2 pad=same
    conv2d_transpose 4 k=3 s=2
    conv2d_transpose 4 k=2 s=2 bias=false
    conv2d_transpose 2 k=3
    conv2d_transpose 2 k=5 pad=same relu
    """,
    note="transposed conv: valid -> (n-1)*s + k, same -> n*s; params k*k*Cin*F + F",
    keras=lambda: seq(
        (7, 7, 16),
        K.Conv2DTranspose(8, 3, strides=2, padding="same"),  # 14
        K.Conv2DTranspose(4, 3, strides=2),  # 29
        K.Conv2DTranspose(4, 2, strides=2, use_bias=False),  # 58
        K.Conv2DTranspose(2, 3),  # 60
        K.Conv2DTranspose(2, 5, padding="same", activation="relu"),  # 60
    ),
    torch=lambda: TorchNet((7, 7, 16), "cf", [
        cf(conv_transpose_same(16, 8, 3, 2)),  # padding=1, output_padding=1
        cf(nn.ConvTranspose2d(8, 4, 3, stride=2)),
        cf(nn.ConvTranspose2d(4, 4, 2, stride=2, bias=False)),
        cf(nn.ConvTranspose2d(4, 2, 3)),
        cf(conv_transpose_same(2, 2, 5, 1)), glue(nn.ReLU()),
    ]),
)

case(
    "conv2d_transpose_keras_rule",
    """
    input 5x5x3
    conv2d_transpose 2 k=1 s=2
    conv2d_transpose 2 k=4 s=2 pad=same
    conv2d_transpose 2 k=3 s=3 pad=same
    """,
    note="Keras valid: n*s + max(k-s, 0), so k=1 s=2 gives 2n where PyTorch's (n-1)*s + k gives 2n-1",
    keras=lambda: seq(
        (5, 5, 3),
        K.Conv2DTranspose(2, 1, strides=2),  # 10
        K.Conv2DTranspose(2, 4, strides=2, padding="same"),  # 20
        K.Conv2DTranspose(2, 3, strides=3, padding="same"),  # 60
    ),
    torch=lambda: TorchNet((5, 5, 3), "cf", [
        cf(nn.ConvTranspose2d(3, 2, 1, stride=2, output_padding=1)),  # Keras' extra row/column
        cf(conv_transpose_same(2, 2, 4, 2)),  # padding=1, output_padding=0
        cf(conv_transpose_same(2, 2, 3, 3)),  # padding=0, output_padding=0
    ]),
)

# -- pooling
case(
    "pool2d",
    """
    input 32x32x8
    maxpool2d 2
    avgpool2d 3 s=2
    maxpool2d 2 s=1
    avgpool2d 2
    maxpool2d 2
    """,
    keras=lambda: seq(
        (32, 32, 8),
        K.MaxPooling2D(2),  # 16 (stride defaults to the pool size)
        K.AveragePooling2D(3, strides=2),  # 7
        K.MaxPooling2D(2, strides=1),  # 6
        K.AveragePooling2D(2),  # 3
        K.MaxPooling2D(2),  # 1
    ),
    torch=lambda: TorchNet((32, 32, 8), "cf", [
        cf(nn.MaxPool2d(2)),
        cf(nn.AvgPool2d(3, stride=2)),
        cf(nn.MaxPool2d(2, stride=1)),
        cf(nn.AvgPool2d(2)),
        cf(nn.MaxPool2d(2)),
    ]),
)

case(
    "pool2d_same",
    """
    input 15x15x4
    maxpool2d 3 s=2 pad=same
    avgpool2d 2 pad=same
    maxpool2d 3 s=1 pad=same
    avgpool2d 3 pad=same
    """,
    note="pooling padding='same' exists in Keras only: output ceil(n/s)",
    keras=lambda: seq(
        (15, 15, 4),
        K.MaxPooling2D(3, strides=2, padding="same"),  # 8
        K.AveragePooling2D(2, padding="same"),  # 4
        K.MaxPooling2D(3, strides=1, padding="same"),  # 4
        K.AveragePooling2D(3, padding="same"),  # 2
    ),
)

case(
    "pool2d_ceil",
    """
    input 14x14x4
    maxpool2d 3 s=2 ceil=true
    avgpool2d 3 s=2 pad=1 ceil=true
    maxpool2d 2 ceil=true
    """,
    note="ceil_mode exists in PyTorch only",
    torch=lambda: TorchNet((14, 14, 4), "cf", [
        cf(nn.MaxPool2d(3, stride=2, ceil_mode=True)),  # 7 (floor: 6)
        cf(nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)),  # 4
        cf(nn.MaxPool2d(2, ceil_mode=True)),  # 2
    ]),
)

case(
    "pool2d_ceil_last_window",
    """
    input 5x5x4
    maxpool2d 2 s=2 pad=1 ceil=true
    avgpool2d 2 ceil=true
    """,
    note="PyTorch ceil_mode drops a last window that would start inside the right padding",
    torch=lambda: TorchNet((5, 5, 4), "cf", [
        # ceil((5 + 2 - 2) / 2) + 1 = 4, but window 4 would start at 6 >= 5 + 1: 3
        cf(nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)),
        cf(nn.AvgPool2d(2, ceil_mode=True)),  # ceil(1/2) + 1 = 2; window 2 starts at 2 < 3: kept
    ]),
)

case(
    "pool2d_explicit_pad",
    """
    input 14x14x4
    maxpool2d 3 s=2 pad=1
    avgpool2d 2 pad=1
    """,
    note="explicit pooling padding exists in PyTorch only",
    torch=lambda: TorchNet((14, 14, 4), "cf", [
        cf(nn.MaxPool2d(3, stride=2, padding=1)),  # 7
        cf(nn.AvgPool2d(2, padding=1)),  # 4
    ]),
)

case(
    "pool1d",
    """
    input 40x6
    maxpool1d 2
    avgpool1d 3 s=2
    maxpool1d 3 s=1
    """,
    keras=lambda: seq((40, 6), K.MaxPooling1D(2), K.AveragePooling1D(3, strides=2), K.MaxPooling1D(3, strides=1)),
    torch=lambda: TorchNet((40, 6), "cf", [
        cf(nn.MaxPool1d(2)),  # 20
        cf(nn.AvgPool1d(3, stride=2)),  # 9
        cf(nn.MaxPool1d(3, stride=1)),  # 7
    ]),
)

case(
    "pool1d_same",
    """
    input 41x6
    maxpool1d 2 pad=same
    avgpool1d 3 s=2 pad=same
    """,
    keras=lambda: seq((41, 6), K.MaxPooling1D(2, padding="same"), K.AveragePooling1D(3, strides=2, padding="same")),
)

case(
    "pool1d_ceil",
    """
    input 41x6
    maxpool1d 2 ceil=true
    avgpool1d 3 s=2 ceil=true
    """,
    torch=lambda: TorchNet((41, 6), "cf", [
        cf(nn.MaxPool1d(2, ceil_mode=True)),  # 21
        cf(nn.AvgPool1d(3, stride=2, ceil_mode=True)),  # 10
    ]),
)

case(
    "globalavgpool2d",
    """
    input 9x9x3
    conv2d 16 k=3 relu
    globalavgpool2d
    dense 10 softmax
    """,
    keras=lambda: seq(
        (9, 9, 3),
        K.Conv2D(16, 3, activation="relu"),
        K.GlobalAveragePooling2D(),
        K.Dense(10, activation="softmax"),
    ),
    torch=lambda: TorchNet((9, 9, 3), "cf", [
        cf(nn.Conv2d(3, 16, 3)), glue(nn.ReLU()),
        cl(GlobalPool2d("globalavgpool2d")),
        cl(nn.Linear(16, 10)), glue(nn.Softmax(-1)),
    ]),
)

case(
    "globalmaxpool2d",
    """
    input 9x9x3
    conv2d 16 k=3 s=2
    globalmaxpool2d
    dense 4
    """,
    keras=lambda: seq((9, 9, 3), K.Conv2D(16, 3, strides=2), K.GlobalMaxPooling2D(), K.Dense(4)),
    torch=lambda: TorchNet((9, 9, 3), "cf", [
        cf(nn.Conv2d(3, 16, 3, stride=2)),
        cl(GlobalPool2d("globalmaxpool2d")),
        cl(nn.Linear(16, 4)),
    ]),
)

# -- resizing and reshaping
case(
    "upsample_zeropad",
    """
    input 8x8x4
    upsample2d 2
    zeropad2d 1
    zeropad2d 1x2
    conv2d 4 k=3
    upsample2d 3
    """,
    keras=lambda: seq(
        (8, 8, 4),
        K.UpSampling2D(2),  # 16x16
        K.ZeroPadding2D(1),  # 18x18
        K.ZeroPadding2D((1, 2)),  # 20x22: 1 row top and bottom, 2 columns left and right
        K.Conv2D(4, 3),  # 18x20
        K.UpSampling2D(3),  # 54x60
    ),
    torch=lambda: TorchNet((8, 8, 4), "cf", [
        cf(nn.Upsample(scale_factor=2, mode="nearest")),
        cf(nn.ZeroPad2d(1)),
        cf(nn.ZeroPad2d((2, 2, 1, 1))),  # (left, right, top, bottom)
        cf(nn.Conv2d(4, 4, 3)),
        cf(nn.Upsample(scale_factor=3, mode="nearest")),
    ]),
)

case(
    "flatten_reshape",
    """
    input 8x8x4
    conv2d 8 k=3
    flatten
    reshape 6x6x8
    conv2d 4 k=3 pad=same
    reshape (-1, 8)
    dense 5
    flatten
    reshape 9x10
    """,
    keras=lambda: seq(
        (8, 8, 4),
        K.Conv2D(8, 3),  # 6x6x8
        K.Flatten(),  # 288
        K.Reshape((6, 6, 8)),
        K.Conv2D(4, 3, padding="same"),  # 6x6x4
        K.Reshape((-1, 8)),  # 18x8
        K.Dense(5),  # 18x5
        K.Flatten(),  # 90
        K.Reshape((9, 10)),
    ),
    torch=lambda: TorchNet((8, 8, 4), "cf", [
        cf(nn.Conv2d(4, 8, 3)),
        glue(ToChannelsLast()),
        cl(nn.Flatten()),
        cl(Reshape(6, 6, 8)),
        glue(ToChannelsFirst()),
        cf(nn.Conv2d(8, 4, 3, padding="same")),
        glue(ToChannelsLast()),
        cl(Reshape(-1, 8)),
        cl(nn.Linear(8, 5)),
        cl(nn.Flatten()),
        cl(Reshape(9, 10)),
    ]),
)

case(
    "reshape_tuple",
    """
    input 32
    reshape (4, 4, 2)
    conv2d 3 k=2
    flatten
    """,
    keras=lambda: seq((32,), K.Reshape((4, 4, 2)), K.Conv2D(3, 2), K.Flatten()),
    torch=lambda: TorchNet((32,), "cl", [
        cl(Reshape(4, 4, 2)),
        glue(ToChannelsFirst()),
        cf(nn.Conv2d(2, 3, 2)),
        glue(ToChannelsLast()),
        cl(nn.Flatten()),
    ]),
)

# -- dense
case(
    "dense",
    """
    input 64
    dense 32 relu
    dense 16 bias=false
    dense 10 softmax
    """,
    keras=lambda: seq(
        (64,),
        K.Dense(32, activation="relu"),
        K.Dense(16, use_bias=False),
        K.Dense(10, activation="softmax"),
    ),
    torch=lambda: TorchNet((64,), "cl", [
        cl(nn.Linear(64, 32)), glue(nn.ReLU()),
        cl(nn.Linear(32, 16, bias=False)),
        cl(nn.Linear(16, 10)), glue(nn.Softmax(-1)),
    ]),
)

case(
    "dense_sequence",
    """
    input 10x16
    dense 8
    dense 4 bias=false tanh
    """,
    note="dense on a sequence acts on the last axis; MACs are per position times the length",
    keras=lambda: seq((10, 16), K.Dense(8), K.Dense(4, use_bias=False, activation="tanh")),
    torch=lambda: TorchNet((10, 16), "cl", [
        cl(nn.Linear(16, 8)),
        cl(nn.Linear(8, 4, bias=False)), glue(nn.Tanh()),
    ]),
)

case(
    "dense_3d",
    """
    input 4x4x8
    dense 3 relu
    flatten
    dense 2
    """,
    keras=lambda: seq((4, 4, 8), K.Dense(3, activation="relu"), K.Flatten(), K.Dense(2)),
    torch=lambda: TorchNet((4, 4, 8), "cl", [
        cl(nn.Linear(8, 3)), glue(nn.ReLU()),
        cl(nn.Flatten()),
        cl(nn.Linear(48, 2)),
    ]),
)

# -- dropout, activation, normalization
case(
    "dropout_activation",
    """
    input 32
    dense 16
    dropout 0.2
    activation relu
    dense 4
    activation softmax
    """,
    keras=lambda: seq(
        (32,),
        K.Dense(16),
        K.Dropout(0.2),
        K.Activation("relu"),
        K.Dense(4),
        K.Activation("softmax"),
    ),
    torch=lambda: TorchNet((32,), "cl", [
        cl(nn.Linear(32, 16)),
        cl(nn.Dropout(0.2)),
        cl(nn.ReLU(), "activation"),
        cl(nn.Linear(16, 4)),
        cl(nn.Softmax(-1), "activation"),
    ]),
)

case(
    "dropout_activation_conv",
    """
    input 8x8x3
    conv2d 4 k=3
    activation tanh
    dropout 0.5
    maxpool2d 2
    """,
    keras=lambda: seq((8, 8, 3), K.Conv2D(4, 3), K.Activation("tanh"), K.Dropout(0.5), K.MaxPooling2D(2)),
    torch=lambda: TorchNet((8, 8, 3), "cf", [
        cf(nn.Conv2d(3, 4, 3)),
        cf(nn.Tanh(), "activation"),
        cf(nn.Dropout(0.5)),
        cf(nn.MaxPool2d(2)),
    ]),
)

case(
    "batchnorm",
    """
    input 8x8x3
    conv2d 8 k=3 bias=false
    batchnorm
    activation relu
    flatten
    dense 16
    batchnorm
    dense 4
    """,
    note="Keras: 4C weights, the moving mean/variance (2C) non-trainable; PyTorch: 2C parameters, stats are buffers",
    keras=lambda: seq(
        (8, 8, 3),
        K.Conv2D(8, 3, use_bias=False),
        K.BatchNormalization(),
        K.Activation("relu"),
        K.Flatten(),
        K.Dense(16),
        K.BatchNormalization(),
        K.Dense(4),
    ),
    torch=lambda: TorchNet((8, 8, 3), "cf", [
        cf(nn.Conv2d(3, 8, 3, bias=False)),
        cf(nn.BatchNorm2d(8)),
        cf(nn.ReLU(), "activation"),
        glue(ToChannelsLast()),
        cl(nn.Flatten()),
        cl(nn.Linear(288, 16)),
        cl(nn.BatchNorm1d(16)),
        cl(nn.Linear(16, 4)),
    ]),
)

case(
    "batchnorm_sequence",
    """
    input 10x6
    batchnorm
    lstm 4
    """,
    keras=lambda: seq((10, 6), K.BatchNormalization(), K.LSTM(4)),
    torch=lambda: TorchNet((10, 6), "cl", [
        cl(OnChannelAxis(nn.BatchNorm1d(6)), "batchnorm"),
        rnn(nn.LSTM, 6, 4),
    ]),
)

case(
    "layernorm",
    """
    input 10x16
    layernorm
    dense 8
    layernorm
    """,
    keras=lambda: seq((10, 16), K.LayerNormalization(), K.Dense(8), K.LayerNormalization()),
    torch=lambda: TorchNet((10, 16), "cl", [
        cl(nn.LayerNorm(16)),
        cl(nn.Linear(16, 8)),
        cl(nn.LayerNorm(8)),
    ]),
)

case(
    "layernorm_conv",
    """
    input 8x8x3
    conv2d 4 k=3
    layernorm
    """,
    note="Keras LayerNormalization normalizes the last axis only by default: 2C parameters",
    keras=lambda: seq((8, 8, 3), K.Conv2D(4, 3), K.LayerNormalization()),
    torch=lambda: TorchNet((8, 8, 3), "cf", [
        cf(nn.Conv2d(3, 4, 3)),
        cf(OnLastAxis(nn.LayerNorm(4)), "layernorm"),
    ]),
)

# -- embedding and recurrent layers
case(
    "embedding",
    """
    input 20
    embedding 1000 64
    lstm 32
    dense 1 sigmoid
    """,
    keras=lambda: seq((20,), K.Embedding(1000, 64), K.LSTM(32), K.Dense(1, activation="sigmoid"), dtype="int32"),
    torch=lambda: TorchNet((20,), "ids", [
        cl(nn.Embedding(1000, 64)),
        rnn(nn.LSTM, 64, 32),
        cl(nn.Linear(32, 1)), glue(nn.Sigmoid()),
    ]),
)

case(
    "embedding_unknown_length",
    """
    input ?
    embedding 500 16
    gru 8 return_sequences=true
    rnn 4
    """,
    keras=lambda: seq(
        (None,),
        K.Embedding(500, 16),
        K.GRU(8, return_sequences=True),
        K.SimpleRNN(4),
        dtype="int32",
    ),
    torch=lambda: TorchNet((7,), "ids", [
        cl(nn.Embedding(500, 16)),
        rnn(nn.GRU, 16, 8, return_sequences=True),
        rnn(nn.RNN, 8, 4),
    ]),
)

case(
    "rnn",
    """
    input 10x8
    rnn 16 return_sequences=true
    rnn 8
    dense 2
    """,
    keras=lambda: seq((10, 8), K.SimpleRNN(16, return_sequences=True), K.SimpleRNN(8), K.Dense(2)),
    torch=lambda: TorchNet((10, 8), "cl", [
        rnn(nn.RNN, 8, 16, return_sequences=True),
        rnn(nn.RNN, 16, 8),
        cl(nn.Linear(8, 2)),
    ]),
    # per step: units * (inputs + units); 10 steps
    macs={0: 10 * 16 * (8 + 16), 1: 10 * 8 * (16 + 8), 2: 8 * 2},
)

case(
    "rnn_bidirectional",
    """
    input 12x5
    rnn 6 return_sequences=true bidirectional=true
    rnn 4 bidirectional=true
    """,
    keras=lambda: seq(
        (12, 5),
        K.Bidirectional(K.SimpleRNN(6, return_sequences=True)),  # 12x12
        K.Bidirectional(K.SimpleRNN(4)),  # 8
    ),
    torch=lambda: TorchNet((12, 5), "cl", [
        rnn(nn.RNN, 5, 6, return_sequences=True, bidirectional=True),
        rnn(nn.RNN, 12, 4, bidirectional=True),
    ]),
    macs={0: 2 * 12 * 6 * (5 + 6), 1: 2 * 12 * 4 * (12 + 4)},
)

case(
    "lstm",
    """
    input 15x8
    lstm 32 return_sequences=true
    lstm 16
    dense 1 sigmoid
    """,
    keras=lambda: seq(
        (15, 8),
        K.LSTM(32, return_sequences=True),
        K.LSTM(16),
        K.Dense(1, activation="sigmoid"),
    ),
    torch=lambda: TorchNet((15, 8), "cl", [
        rnn(nn.LSTM, 8, 32, return_sequences=True),
        rnn(nn.LSTM, 32, 16),
        cl(nn.Linear(16, 1)), glue(nn.Sigmoid()),
    ]),
    # 4 gates, each units * (inputs + units) per step; 15 steps
    macs={0: 15 * 4 * 32 * (8 + 32), 1: 15 * 4 * 16 * (32 + 16), 2: 16},
)

case(
    "lstm_bidirectional",
    """
    input 15x8
    lstm 10 bidirectional=true return_sequences=true
    lstm 6 bidirectional=true
    """,
    keras=lambda: seq(
        (15, 8),
        K.Bidirectional(K.LSTM(10, return_sequences=True)),  # 15x20
        K.Bidirectional(K.LSTM(6)),  # 12
    ),
    torch=lambda: TorchNet((15, 8), "cl", [
        rnn(nn.LSTM, 8, 10, return_sequences=True, bidirectional=True),
        rnn(nn.LSTM, 20, 6, bidirectional=True),
    ]),
    macs={0: 2 * 15 * 4 * 10 * (8 + 10), 1: 2 * 15 * 4 * 6 * (20 + 6)},
)

case(
    "gru",
    """
    input 15x8
    gru 32 return_sequences=true
    gru 16 reset_after=true
    """,
    note="Keras GRU reset_after=True (the default) has two bias vectors per gate, like PyTorch",
    keras=lambda: seq((15, 8), K.GRU(32, return_sequences=True), K.GRU(16, reset_after=True)),
    torch=lambda: TorchNet((15, 8), "cl", [
        rnn(nn.GRU, 8, 32, return_sequences=True),
        rnn(nn.GRU, 32, 16),
    ]),
    macs={0: 15 * 3 * 32 * (8 + 32), 1: 15 * 3 * 16 * (32 + 16)},
)

case(
    "gru_bidirectional",
    """
    input 9x4
    gru 8 return_sequences=true bidirectional=true
    gru 3 bidirectional=true
    """,
    keras=lambda: seq(
        (9, 4),
        K.Bidirectional(K.GRU(8, return_sequences=True)),  # 9x16
        K.Bidirectional(K.GRU(3)),  # 6
    ),
    torch=lambda: TorchNet((9, 4), "cl", [
        rnn(nn.GRU, 4, 8, return_sequences=True, bidirectional=True),
        rnn(nn.GRU, 16, 3, bidirectional=True),
    ]),
    macs={0: 2 * 9 * 3 * 8 * (4 + 8), 1: 2 * 9 * 3 * 3 * (16 + 3)},
)

case(
    "gru_reset_before",
    """
    input 15x8
    gru 12 reset_after=false return_sequences=true
    gru 6 reset_after=false bidirectional=true
    """,
    note="Keras GRU reset_after=False: one bias per gate, 3*(units*(inputs+units) + units); no PyTorch equivalent",
    keras=lambda: seq(
        (15, 8),
        K.GRU(12, reset_after=False, return_sequences=True),
        K.Bidirectional(K.GRU(6, reset_after=False)),
    ),
    # same matrix products as reset_after=True: 3 gates, units * (inputs + units) per step
    macs={0: 15 * 3 * 12 * (8 + 12), 1: 2 * 15 * 3 * 6 * (12 + 6)},
)

case(
    "recurrent_unknown_length",
    """
    input ?x8
    lstm 16 return_sequences=true
    gru 4
    """,
    keras=lambda: seq((None, 8), K.LSTM(16, return_sequences=True), K.GRU(4)),
    torch=lambda: TorchNet((11, 8), "cl", [
        rnn(nn.LSTM, 8, 16, return_sequences=True),
        rnn(nn.GRU, 16, 4),
    ]),
)

# -- Keras and PyTorch class names as aliases; nnc reports the canonical kinds
case(
    "aliases",
    """
    input 28x28x1
    Conv2D 8 k=3 relu
    MaxPooling2D 2
    BatchNormalization
    Flatten
    Linear 10
    """,
    keras=lambda: seq(
        (28, 28, 1),
        K.Conv2D(8, 3, activation="relu"),
        K.MaxPooling2D(2),
        K.BatchNormalization(),
        K.Flatten(),
        K.Dense(10),
    ),
    torch=lambda: TorchNet((28, 28, 1), "cf", [
        cf(nn.Conv2d(1, 8, 3)), glue(nn.ReLU()),
        cf(nn.MaxPool2d(2)),
        cf(nn.BatchNorm2d(8)),
        glue(ToChannelsLast()),
        cl(nn.Flatten()),
        cl(nn.Linear(1352, 10)),
    ]),
)

CASE_BY_NAME = {c.name: c for c in CASES}
assert len(CASE_BY_NAME) == len(CASES), "case names must be unique"

KERAS_CASES = [c for c in CASES if c.keras is not None]
TORCH_CASES = [c for c in CASES if c.torch is not None]


# ------------------------------------------------------- framework-side numbers

KERAS_KINDS = {
    "Conv1D": "conv1d",
    "Conv2D": "conv2d",
    "DepthwiseConv2D": "depthwise2d",
    "SeparableConv2D": "separable2d",
    "Conv2DTranspose": "conv2d_transpose",
    "MaxPooling1D": "maxpool1d",
    "AveragePooling1D": "avgpool1d",
    "MaxPooling2D": "maxpool2d",
    "AveragePooling2D": "avgpool2d",
    "GlobalAveragePooling2D": "globalavgpool2d",
    "GlobalMaxPooling2D": "globalmaxpool2d",
    "UpSampling2D": "upsample2d",
    "ZeroPadding2D": "zeropad2d",
    "Flatten": "flatten",
    "Reshape": "reshape",
    "Dense": "dense",
    "Dropout": "dropout",
    "BatchNormalization": "batchnorm",
    "LayerNormalization": "layernorm",
    "Activation": "activation",
    "Embedding": "embedding",
    "SimpleRNN": "rnn",
    "LSTM": "lstm",
    "GRU": "gru",
}

TORCH_KINDS = {
    nn.Conv1d: "conv1d",
    nn.Conv2d: "conv2d",
    nn.ConvTranspose2d: "conv2d_transpose",
    nn.MaxPool1d: "maxpool1d",
    nn.AvgPool1d: "avgpool1d",
    nn.MaxPool2d: "maxpool2d",
    nn.AvgPool2d: "avgpool2d",
    nn.Upsample: "upsample2d",
    nn.ZeroPad2d: "zeropad2d",
    nn.Flatten: "flatten",
    nn.Linear: "dense",
    nn.Dropout: "dropout",
    nn.BatchNorm1d: "batchnorm",
    nn.BatchNorm2d: "batchnorm",
    nn.LayerNorm: "layernorm",
    nn.Embedding: "embedding",
}


def _count(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


@functools.lru_cache(maxsize=None)
def keras_numbers(case_name: str) -> dict:
    """Per Keras layer: kind, output shape (no batch axis, None for unknown), params."""
    case = CASE_BY_NAME[case_name]
    model = case.keras()
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    rows = []
    for layer in layers:
        inner = layer.forward_layer if isinstance(layer, K.Bidirectional) else layer
        trainable = _count(layer.trainable_weights)
        non_trainable = _count(layer.non_trainable_weights)
        assert trainable + non_trainable == layer.count_params()
        rows.append({
            "keras_class": type(layer).__name__,
            "type": KERAS_KINDS[type(inner).__name__],
            "output_shape": [None if d is None else int(d) for d in layer.output.shape[1:]],
            "params": layer.count_params(),
            "trainable_params": trainable,
            "non_trainable_params": non_trainable,
        })
    return {
        "layers": rows,
        "total_params": model.count_params(),
        "input_shape": [None if d is None else int(d) for d in model.input_shape[1:]],
        "output_shape": [None if d is None else int(d) for d in model.output_shape[1:]],
    }


def _torch_input(net: TorchNet) -> torch.Tensor:
    if net.layout == "ids":
        return torch.zeros((1, *net.input), dtype=torch.long)
    x = torch.zeros((1, *net.input))
    return x.movedim(-1, 1) if net.layout == "cf" else x


def _channels_last(shape, layout) -> list:
    dims = list(shape[1:])
    if layout == "cf" and len(dims) >= 2:
        dims = dims[1:] + dims[:1]
    return [int(d) for d in dims]


def measure_macs(module: nn.Module, *inputs) -> int:
    """MACs of one forward pass as FlopCounterMode sees them (FLOPs / 2).

    oneDNN (mkldnn) is switched off: nn.LSTM on CPU otherwise runs as
    aten.mkldnn_rnn_layer, which FlopCounterMode has no formula for (it counts 0);
    without it the LSTM is decomposed into addmm calls that are counted.
    """
    counter = FlopCounterMode(display=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "TF32 acceleration on top of oneDNN ..." from mkldnn.flags
        with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), counter:
            module(*inputs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


@functools.lru_cache(maxsize=None)
def torch_numbers(case_name: str) -> dict:
    """Per mapped PyTorch module: kind, channels-last output shape, params, MACs."""
    case = CASE_BY_NAME[case_name]
    torch.manual_seed(0)
    net = case.torch()
    model = nn.Sequential(*[entry.module for entry in net.entries]).eval()
    mapped = [entry for entry in net.entries if entry.layout is not None]
    seen = {}

    def hook(entry):
        def record(module, inputs, output):
            seen[id(entry)] = (inputs, output)
        return record

    handles = [entry.module.register_forward_hook(hook(entry)) for entry in mapped]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # padding='same' with an even kernel warns about a copy
        model(_torch_input(net))
    for handle in handles:
        handle.remove()

    rows = []
    for entry in mapped:
        inputs, output = seen[id(entry)]
        module = entry.module
        params = list(module.parameters())
        kind = entry.kind or getattr(module, "kind", None) or TORCH_KINDS[type(module)]
        rows.append({
            "torch_class": type(module).__name__,
            "type": kind,
            "output_shape": _channels_last(output.shape, entry.layout),
            "params": sum(p.numel() for p in params),
            "trainable_params": sum(p.numel() for p in params if p.requires_grad),
            "non_trainable_params": sum(p.numel() for p in params if not p.requires_grad),
            "macs": measure_macs(module, *inputs),
        })
    return {"layers": rows, "total_params": sum(p.numel() for p in model.parameters()), "input": list(net.input)}


def is_open(value) -> bool:
    """Whether nnc's JSON gives `value` as an expression of named sizes ({"expr", "text"})."""
    return isinstance(value, dict) and "expr" in value


def sizes_bound(nnc_input_shape: list, concrete_input: list) -> dict:
    """The named sizes of nnc's input shape bound to the lengths a framework ran with."""
    return {dim["expr"]: value for dim, value in zip(nnc_input_shape, concrete_input) if is_open(dim)}


def at(value, sizes: dict):
    """nnc's number at the given sizes: an expression evaluated (integers, names, + - * // **)."""
    return eval(value["expr"], {"__builtins__": {}}, dict(sizes)) if is_open(value) else value  # noqa: S307


def describe_mismatches(case: Case, problems: list, convention: str) -> str:
    """A failure message: the case's source and one line per disagreeing number."""
    lines = [f"{case.name} (--convention {convention}): {len(problems)} disagreement(s)"]
    lines += [f"  {p}" for p in problems]
    lines += ["--- source ---", case.source.rstrip()]
    return "\n".join(lines)


def layer_label(index: int, layer: dict) -> str:
    return f"layer {index} {layer.get('name')!s} ({layer.get('type')})"


if __name__ == "__main__":  # print the framework side, e.g. while nnc is not runnable yet
    for c in CASES:
        print(f"== {c.name}")
        k = keras_numbers(c.name) if c.keras else None
        t = torch_numbers(c.name) if c.torch else None
        n = len((k or t)["layers"])
        for i in range(n):
            kr = k["layers"][i] if k else {}
            tr = t["layers"][i] if t else {}
            print(
                f"  {(kr or tr)['type']:16} keras {str(kr.get('output_shape')):16} "
                f"p={kr.get('params')} nt={kr.get('non_trainable_params')} | torch "
                f"{str(tr.get('output_shape')):16} p={tr.get('params')} macs={tr.get('macs')}"
                + (f" | hand macs={c.macs[i]}" if i in c.macs else "")
            )
        if k and t:
            assert len(k["layers"]) == len(t["layers"]), c.name
