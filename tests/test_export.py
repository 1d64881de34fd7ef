"""`nnc export`: the generated PyTorch and Keras code runs, and its numbers are nnc's.

The differential tests (marked ``frameworks``) export every ``examples/*.nn``
and a few hundred generated networks, execute the generated code, build each
model and compare it with nnc layer by layer:

* PyTorch: one forward pass on a zero tensor (``?`` sizes made concrete) with a
  forward hook on the module of every nnc layer: its output shape (turned
  channels-last), its parameters against ``--convention pytorch``, and its MACs
  against ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per MAC, oneDNN
  switched off so that nn.LSTM is counted);
* Keras: the Keras layers of every nnc layer: output shape, trainable and
  non-trainable weights against ``--convention keras``, and the model's totals;
* both, where both frameworks take a network: the two exports compute the same
  output for the same random input once their weights are set alike (where
  padding goes, the order of flattened and joined values, softmax's axis, ...).

Any disagreement fails, except a construct the framework cannot express, which
must be refused with a message naming it (REFUSALS; docs/conventions.md,
"Agreement with Keras and PyTorch", and docs/export.md). What is refused or not run
is written down (KERAS_REFUSED_EXAMPLES, TOO_LARGE_TO_RUN, HAND_NOT_RUN, CASES_REFUSED)
and asserted to be exactly that, so that no case drops out unnoticed.

The tests not marked ``frameworks`` (those lists against the exporters, the refusals,
the command line) import neither framework.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from typing import Optional

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from helpers_nnc import EXAMPLES, ROOT, assert_no_traceback, run_nnc
from nnlang.driver import compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit.codegen import ExportError, window_pads

os.environ.setdefault("KERAS_BACKEND", "torch")

#: Length given to every `?` size when a model runs.
UNKNOWN = 6

#: Models larger than this (parameters or MACs) are built on PyTorch's "meta" device:
#: shapes, parameter counts and FlopCounterMode work as on the CPU, without the memory
#: and the time (exam_homework_cnn has a dense layer of 1.7 billion weights).
REAL_LIMIT = 5_000_000

#: What each framework may refuse, and nothing else: the construct the message names.
REFUSALS = {
    "pytorch": [
        r"reset_after=false",  # nn.GRU is the reset-after form only
        r"activation \w+: nn\.(LSTM|GRU) always uses tanh",
        r"activation \w+: nn\.RNN has tanh or relu only",
        r"pad=same with stride \d+ on an axis of unknown size",
        r"scale and center differ",  # BatchNorm's affine is both or neither
        r"center=true with scale=false",
        r"output_padding=\d+, but PyTorch requires it to be smaller than the stride",
        r"pad=same with ceil=true where the padding is uneven",
        r"the input feeds an embedding \(token ids\) and this layer",
        r"its parameters depend on a size unknown until run time",
        r"nn\.MultiheadAttention cannot express",
        r"Keras' Normalization has no PyTorch layer",
    ],
    "keras": [
        r"Keras has no layer that slices along an axis",
        r"Keras has no (layer scale|stochastic depth) layer",
        r"Keras has no built-in layer for a learned (class token|position table)",
        r"explicit pooling padding pad=\S+: Keras' max pooling pads 'valid' or 'same' only",
        r"ceil=true changes the output size here, and Keras' pooling has no ceil mode",
        r"a stride above 1 together with a dilation above 1",
        r"output_padding=\d+, but Keras requires it to be smaller than the stride",
        r"the input feeds an embedding \(token ids\) and this layer",
        r"its parameters depend on a size unknown until run time",
    ],
}


# ----------------------------------------------------------------------------- nnc side


def nnc(text: str, convention: str):
    """The program compiled under `convention`. The file must compile under Keras' (the
    default); expectations written for it may not hold under another (E302)."""
    compilation = compile_text(text, "<test>", convention)
    allowed = () if convention == "keras" else ("E302",)
    errors = [f"{d.code} line {d.span.line}: {d.message}" for d in compilation.diagnostics
              if d.is_error and d.code not in allowed]
    assert compilation.program is not None and not errors, "\n".join(errors) + "\n" + text
    return compilation


def refused(framework: str, error: ExportError) -> None:
    """An export refusal must name one of the constructs REFUSALS lists for `framework`."""
    assert any(re.search(pattern, error.message) for pattern in REFUSALS[framework]), (
        f"unexpected refusal by the {framework} exporter: {error.message}")


def _size(size):
    """A size as a number, None where it is unknown until run time (nnc may hold a name for it)."""
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _sizes(shape) -> tuple:
    return tuple(_size(size) for size in shape)


def _known(shape) -> bool:
    return shape is not None and None not in _sizes(shape)


# ------------------------------------------------------------------------- PyTorch side


@dataclass
class Measured:
    """One nnc layer as a framework built it: channels-last output shape (batch left out),
    trainable and non-trainable parameters, MACs (PyTorch: FlopCounterMode's FLOPs / 2;
    None where not measured)."""

    shape: tuple
    params: int
    frozen: int = 0
    macs: Optional[int] = None
    runs: int = 1


def torch_measure(text: str):
    """Export `text` to PyTorch, run every model once on zeros and measure every nnc layer.

    Returns (export, {model name: {layer index: Measured}}, {model name: (model output shape,
    total parameters)}); raises ExportError when the exporter refuses."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    checked = nnc(text, "keras")
    export = torch_emit.export(checked.program, source_lines=checked.source.lines)
    namespace: dict = {}
    exec(compile(export.code, "<pytorch export>", "exec"), namespace)
    layers, models = {}, {}
    for made in export.models:
        model = checked.program.model(made.name)
        torch.manual_seed(0)
        # measured on the meta device (shapes only) when large, and with attention, whose fused CPU
        # kernels FlopCounterMode counts as 0
        device = "cpu" if _small(model) and not any(n.family == "attention" for n in model.layers) else "meta"
        with torch.device(device):
            module = namespace[made.class_name]().eval()
        length = _length_for(text, model.name) if None in made.input_shape else UNKNOWN
        shape = (1, *(length if d is None else d for d in made.input_shape))
        x = torch.zeros(shape, dtype=torch.long if made.input_dtype == "long" else torch.float32, device=device)
        seen: dict = {}
        handles = [module.get_submodule(path).register_forward_hook(
            lambda _m, _i, output, index=index: seen.setdefault(index, []).append(output))
            for index, path in made.modules.items()]
        counter = FlopCounterMode(display=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), counter:
                output = module(x)
        for handle in handles:
            handle.remove()
        flops = counter.get_flop_counts()
        measured = {}
        for index, path in made.modules.items():
            outputs = seen.get(index, [])
            total = sum(flops.get(f"{made.class_name}.{path}", {}).values())
            measured[index] = Measured(
                _channels_last(outputs[0].shape[1:], made.layouts[index]) if outputs else (),
                sum(p.numel() for p in module.get_submodule(path).parameters()),
                macs=None if total % 2 else total // 2, runs=len(outputs))
        layers[made.name] = measured
        layout = made.layouts[model.layers[-1].index] if model.layers else made.input_layout
        models[made.name] = (_channels_last(output.shape[1:], layout), sum(p.numel() for p in module.parameters()))
    return export, layers, models


def _measured(framework: str, measure, text: str, code_out: list | None):
    """(export, models measured, walk) where walk yields (made, nnc's model, its layers as
    (node, where, measured layer or None)); None when the exporter refused (with an allowed reason)."""
    try:
        export, layers, models = measure(text)
    except ExportError as error:
        refused(framework, error)
        return None
    if code_out is not None:
        code_out.append(export.code)
    counted = nnc(text, framework).program

    def layer_walk(made, model):
        measured = layers[made.name]
        for node in model.layers:
            yield node, f"{made.name}/{'/'.join((*node.path, node.name))} ({node.kind})", measured.get(node.index)

    walk = ((made, counted.model(made.name), layer_walk(made, counted.model(made.name))) for made in export.models)
    return export, models, walk


def torch_problems(text: str, code_out: list | None = None) -> list[str] | None:
    """Disagreements between nnc (--convention pytorch) and the exported PyTorch modules;
    None when the exporter refused (with an allowed reason)."""
    found = _measured("pytorch", torch_measure, text, code_out)
    if found is None:
        return None
    export, models, walk = found
    problems = []
    for made, model, layer_problems in walk:
        for node, where, got in layer_problems:
            if got is None or got.runs != 1:
                problems.append(f"{where}: its module ran {0 if got is None else got.runs} times")
                continue
            want = node.output_shape
            if not _same_shape(want, got.shape):
                problems.append(f"{where}: output shape nnc {want} != PyTorch {got.shape}")
            if got.params != node.params or node.non_trainable.value != 0:
                problems.append(f"{where}: params nnc {node.params} ({node.non_trainable.value} non-trainable) "
                                f"!= PyTorch {got.params}")
            if _known(node.input_shape) and _known(node.output_shape) and _known(model.input_shape):
                if got.macs != node.macs.value:
                    problems.append(f"{where}: MACs nnc {node.macs.value} != FlopCounterMode {got.macs}")
        shape, total = models[made.name]
        if total != model.totals().params:
            problems.append(f"{made.name}: total params nnc {model.totals().params} != PyTorch {total}")
        if not _same_shape(model.output_shape, shape):
            problems.append(f"{made.name}: model output nnc {model.output_shape} != PyTorch {shape}")
    return problems


def _same_shape(want, got) -> bool:
    """nnc's shape, where an unknown size (None) stands for whatever the model ran with."""
    return len(got) == len(want) and all(_size(w) is None or w == g for w, g in zip(want, got))


def _length_for(text: str, name: str) -> int:
    """A size for the `?` of model `name`'s input that every window of the model fits in
    (nnc cannot check windows along an axis of unknown size): the smallest of a few
    candidates for which the model compiles with `?` replaced."""
    pattern = re.compile(r"(model\s+" + re.escape(name) + r"\s*\{\s*input\s+)(\S+)")
    for length in (UNKNOWN, 12, 24, 48, 96, 192):
        concrete = pattern.sub(lambda m: m.group(1) + m.group(2).replace("?", str(length)), text, count=1)
        compilation = compile_text(concrete)
        if not any(d.is_error and not d.code.startswith("E3") for d in compilation.diagnostics):
            return length
    return UNKNOWN


def _small(model) -> bool:
    totals = model.totals()
    # MACs unknown until run time (None, or an expression of the sizes) depend on the length the
    # test picks (_length_for: a small one)
    macs = totals.macs if isinstance(totals.macs, int) else 0
    return totals.params <= REAL_LIMIT and macs <= 20 * REAL_LIMIT


def _channels_last(shape, layout: str) -> tuple:
    dims = tuple(int(d) for d in shape)
    if layout == "cf" and len(dims) >= 2:
        return (*dims[1:], dims[0])
    return dims


# --------------------------------------------------------------------------- Keras side


def keras_measure(text: str):
    """Export `text` to Keras, build every model and measure every nnc layer (no MACs).

    Returns (export, {model name: {layer index: Measured}}, {model name: (model output
    shape, total parameters, Keras layers no nnc layer maps to)}); raises ExportError
    when the exporter refuses."""
    import keras

    checked = nnc(text, "keras")
    export = keras_emit.export(checked.program, source_lines=checked.source.lines)
    namespace: dict = {}
    exec(compile(export.code, "<keras export>", "exec"), namespace)
    layers, models = {}, {}
    for made in export.models:
        model = checked.program.model(made.name)
        with warnings.catch_warnings(), keras.device("cpu" if _small(model) else "meta"):
            warnings.simplefilter("ignore")
            built = namespace[made.function]()
        assert isinstance(built, keras.Model)
        measured = {}
        for index, names in made.layers.items():
            parts = [built.get_layer(name) for name in names]
            measured[index] = Measured(
                tuple(None if d is None else int(d) for d in parts[-1].output.shape[1:]),
                sum(math.prod(w.shape) for layer in parts for w in layer.trainable_weights),
                frozen=sum(math.prod(w.shape) for layer in parts for w in layer.non_trainable_weights))
        layers[made.name] = measured
        mapped = {name for names in made.layers.values() for name in names}
        extra = [layer.name for layer in built.layers
                 if layer.name not in mapped and not isinstance(layer, keras.layers.InputLayer)]
        models[made.name] = (tuple(None if d is None else int(d) for d in built.output_shape[1:]),
                             built.count_params(), extra)
    return export, layers, models


def keras_problems(text: str, code_out: list | None = None) -> list[str] | None:
    """Disagreements between nnc (--convention keras) and the exported Keras models;
    None when the exporter refused (with an allowed reason)."""
    found = _measured("keras", keras_measure, text, code_out)
    if found is None:
        return None
    export, models, walk = found
    problems = []
    for made, model, layer_problems in walk:
        for node, where, got in layer_problems:
            if got is None:
                problems.append(f"{where}: no Keras layer for this layer")
                continue
            if got.shape != _sizes(node.output_shape):
                problems.append(f"{where}: output shape nnc {node.output_shape} != Keras {got.shape}")
            if (got.params, got.frozen) != (node.trainable.value, node.non_trainable.value):
                problems.append(f"{where}: params nnc {node.trainable.value} trainable + {node.non_trainable.value} "
                                f"non-trainable != Keras {got.params} + {got.frozen}")
        shape, total, extra = models[made.name]
        if extra:
            problems.append(f"{made.name}: Keras layers without an nnc layer: {extra}")
        if total != model.totals().params:
            problems.append(f"{made.name}: total params nnc {model.totals().params} != Keras {total}")
        if shape != _sizes(model.output_shape):
            problems.append(f"{made.name}: model output nnc {model.output_shape} != Keras {shape}")
    return problems


def check(text: str, framework: str) -> bool:
    """Assert nnc and `framework` agree on `text`; False when the export was refused."""
    code: list = []
    problems = (torch_problems if framework == "pytorch" else keras_problems)(text, code)
    if problems is None:
        return False
    assert not problems, "\n".join([f"{len(problems)} disagreement(s) with {framework}:", *problems,
                                    "--- .nn ---", text, "--- export ---", *code])
    return True


# ------------------------------------------------------------------------------ examples

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.nn"))

#: The examples Keras cannot express, and the construct its exporter names: exactly the
#: examples the Keras exporter refuses (test_every_example_exports_as_listed). PyTorch
#: takes every example of the repository.
KERAS_REFUSED_EXAMPLES = {
    "googlenet": "explicit pooling padding pad=1",
    "resnet18": "explicit pooling padding pad=1",
    "resnet50": "explicit pooling padding pad=1",
}
KERAS_EXAMPLES = [p for p in EXAMPLE_FILES if p.stem not in KERAS_REFUSED_EXAMPLES]

#: The models of the examples that are too large to run (_small: more than REAL_LIMIT parameters
#: or 20 x REAL_LIMIT MACs): test_example_agrees_with_framework measures them on the "meta"
#: device (shapes, parameters, MACs); their two exports are not run on an input.
TOO_LARGE_TO_RUN = {
    "alexnet": ["alexnet"],
    "exam_five_conv_blocks": ["five_conv_blocks", "five_conv_blocks_b"],
    "exam_homework_cnn": ["homework_cnn"],
    "exam_stride2_convs": ["stride2_convs"],
    "googlenet": ["googlenet", "googlenet_weights"],
    "inception_naive_vs_bottleneck": ["naive", "bottleneck"],
    "mobilenet_v1": ["mobilenet_v1"],
    "resnet18": ["resnet18"],
    "resnet50": ["resnet50"],
    "vgg16": ["vgg16"],
}


@pytest.mark.frameworks
@pytest.mark.parametrize("framework", ["pytorch", "keras"])
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_agrees_with_framework(path, framework):
    exported = check(path.read_text(encoding="utf-8"), framework)
    assert exported == (framework == "pytorch" or path.stem not in KERAS_REFUSED_EXAMPLES), (
        "exported" if exported else "refused")


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_example_exports_as_listed(path):
    """PyTorch, whose padding and pooling options are the richer, takes every example of the
    repository; Keras refuses exactly KERAS_REFUSED_EXAMPLES, for the construct listed."""
    compilation = nnc(path.read_text(encoding="utf-8"), "keras")
    program, lines = compilation.program, compilation.source.lines
    assert torch_emit.export(program, source_lines=lines).code
    if path.stem not in KERAS_REFUSED_EXAMPLES:
        assert keras_emit.export(program, source_lines=lines).code
        return
    with pytest.raises(ExportError) as error:
        keras_emit.export(program, source_lines=lines)
    assert KERAS_REFUSED_EXAMPLES[path.stem] in error.value.message, error.value.message
    refused("keras", error.value)


def test_the_example_lists_name_examples_and_models():
    stems = {p.stem for p in EXAMPLE_FILES}
    assert set(KERAS_REFUSED_EXAMPLES) | set(TOO_LARGE_TO_RUN) <= stems
    for stem, names in TOO_LARGE_TO_RUN.items():
        program = nnc((EXAMPLES / f"{stem}.nn").read_text(encoding="utf-8"), "keras").program
        assert sorted(m.name for m in program.models if not _small(m)) == sorted(names), stem


# ------------------------------------------------------------------- generated networks

LABELS = ("forward", "items", "type", "training", "x", "self", "F", "torch", "layers", "inputs", "model",
          "pass", "keys", "fc", "head")


def _shape_of(blocks: list, body: list):
    """The output shape of `body` (with the block definitions), or None when nnc reports an error."""
    text = "\n".join(blocks) + "\nmodel m {\n" + "\n".join(body) + "\n}\n"
    compilation = compile_text(text)
    if not compilation.ok:
        return None
    return compilation.program.models[0].output_shape


class _Net:
    """A network being drawn: block definitions, the model body, labels used."""

    def __init__(self, draw, first: str):
        self.draw = draw
        self.blocks: list = []
        self.body: list = [first]
        self.labels: set = set()
        self.shape = _shape_of([], self.body)

    def label(self) -> str:
        if not self.draw(st.integers(0, 5)) == 0:
            return ""
        name = self.draw(st.sampled_from(LABELS))
        if name in self.labels:
            return ""
        self.labels.add(name)
        return f"{name}: "

    def add(self, lines: list) -> bool:
        shape = _shape_of(self.blocks, self.body + lines)
        if shape is None:
            return False
        self.body += lines
        self.shape = shape
        return True

    def text(self, name: str) -> str:
        return "\n".join(self.blocks) + f"\nmodel {name} {{\n" + "\n".join("    " + line for line in self.body) + "\n}\n"


ACTIVATIONS = ("", "", "", "relu", "tanh", "sigmoid", "softmax", "elu", "gelu", "swish", "leaky_relu", "relu6",
               "hard_sigmoid", "hard_swish", "mish", "softplus", "softsign", "selu", "linear", "exponential",
               "log_softmax")


def _act(draw) -> str:
    word = draw(st.sampled_from(ACTIVATIONS))
    return f" {word}" if word else ""


def _dims(draw, low: int, high: int, axes: int) -> str:
    if axes > 1 and draw(st.integers(0, 3)) == 0:
        return "x".join(str(draw(st.integers(low, high))) for _ in range(axes))
    return str(draw(st.integers(low, high)))


def _pad(draw, axes: int) -> str:
    choice = draw(st.sampled_from(["", "", "same", "same", "1", "0", "2", "tuple"]))
    if choice == "tuple":
        return " pad=" + "x".join(str(draw(st.integers(0, 1))) for _ in range(axes))
    return f" pad={choice}" if choice else ""


def _conv(draw, kind: str, channels: int, axes: int) -> str:
    groups = draw(st.sampled_from([g for g in (1, 1, 2, 3) if channels % g == 0]))
    filters = groups * draw(st.integers(1, 3))
    text = f"{kind} {filters} k={_dims(draw, 1, 3, axes)}"
    if draw(st.booleans()):
        text += f" s={_dims(draw, 1, 2, axes)}"
    text += _pad(draw, axes)
    if draw(st.integers(0, 4)) == 0:
        text += f" dilation={draw(st.integers(1, 2))}"
    if groups > 1:
        text += f" groups={groups}"
    if draw(st.integers(0, 3)) == 0:
        text += " bias=false"
    return text + _act(draw)


def _pool(draw, kind: str, axes: int) -> str:
    text = f"{kind} {_dims(draw, 1, 3, axes)}"
    if draw(st.booleans()):
        text += f" s={_dims(draw, 1, 2, axes)}"
    pad = draw(st.sampled_from(["", "", "same", "1"]))
    if pad == "1" and "x" not in text.split()[1] and text.split()[1] == "1":
        pad = ""  # nnc checks padding <= size/2 only where the size is known (E203)
    if pad:
        text += f" pad={pad}"
    if draw(st.integers(0, 3)) == 0 and pad != "same":
        text += " ceil=true"  # with pad=same PyTorch refuses it where the padding is uneven, Keras always
    return text


def _norm(draw) -> str:
    kind = draw(st.sampled_from(["batchnorm", "batchnorm", "layernorm"]))
    options = draw(st.sampled_from(["", "", "", " scale=false", " center=false", " scale=false center=false"]))
    return kind + options


def _image_layer(draw, shape) -> str:
    channels = shape[-1]
    choice = draw(st.sampled_from(["conv", "conv", "conv", "depthwise", "separable", "transpose", "maxpool",
                                   "avgpool", "norm", "dropout", "activation", "zeropad", "upsample", "dense"]))
    if choice == "conv":
        return _conv(draw, "conv2d", channels, 2)
    if choice == "depthwise":
        text = f"depthwise2d k={_dims(draw, 1, 3, 2)}"
        if draw(st.booleans()):
            text += f" s={_dims(draw, 1, 2, 2)}"
        text += _pad(draw, 2)
        if draw(st.integers(0, 2)) == 0:
            text += f" multiplier={draw(st.integers(2, 3))}"
        if draw(st.integers(0, 3)) == 0:
            text += " bias=false"
        return text + _act(draw)
    if choice == "separable":
        text = f"separable2d {draw(st.integers(1, 4))} k={_dims(draw, 1, 3, 2)}"
        if draw(st.booleans()):
            text += f" s={draw(st.integers(1, 2))}"
        text += _pad(draw, 2)
        if draw(st.integers(0, 3)) == 0:
            text += f" multiplier={draw(st.integers(2, 3))}"
        if draw(st.integers(0, 4)) == 0:
            text += f" dilation={draw(st.integers(1, 2))}"
        return text + _act(draw)
    if choice == "transpose":
        text = f"conv2d_transpose {draw(st.integers(1, 4))} k={_dims(draw, 1, 3, 2)}"
        if draw(st.booleans()):
            text += f" s={_dims(draw, 1, 3, 2)}"
        text += draw(st.sampled_from(["", "", " pad=same", " pad=1", " pad=0"]))
        if draw(st.integers(0, 4)) == 0 and " s=" in text and " s=1" not in text:
            text += " output_padding=1"  # nnc accepts output_padding >= stride too; neither framework does
        if draw(st.integers(0, 3)) == 0:
            text += " bias=false"
        return text + _act(draw)
    if choice in ("maxpool", "avgpool"):
        return _pool(draw, f"{choice}2d", 2)
    if choice == "norm":
        return _norm(draw)
    if choice == "dropout":
        return f"dropout 0.{draw(st.integers(0, 9))}"
    if choice == "activation":
        return "activation " + (_act(draw).strip() or "relu")
    if choice == "zeropad":
        return "zeropad2d " + draw(st.sampled_from(["1", "1x2", "(0, 1, 2, 0)"]))
    if choice == "upsample":
        return "upsample2d " + draw(st.sampled_from(["2", "1x2", "2 interpolation=bilinear"]))
    return f"dense {draw(st.integers(1, 4))}" + _act(draw)


def _sequence_layer(draw, shape) -> str:
    channels = shape[-1]
    choice = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool", "rnn", "lstm", "gru", "gru", "dense",
                                   "norm", "dropout", "activation"]))
    if choice == "conv":
        return _conv(draw, "conv1d", channels, 1)
    if choice in ("maxpool", "avgpool"):
        return _pool(draw, f"{choice}1d", 1)
    if choice in ("rnn", "lstm", "gru"):
        text = f"{choice} {draw(st.integers(1, 5))} return_sequences=true"
        if draw(st.integers(0, 2)) == 0:
            text += " bidirectional=true"
        if draw(st.integers(0, 4)) == 0:
            text += " bias=false"
        if choice == "gru" and draw(st.integers(0, 4)) == 0:
            text += " reset_after=false"
        if choice == "rnn" and draw(st.integers(0, 3)) == 0:
            text += " relu"
        if choice == "lstm" and draw(st.integers(0, 9)) == 0:
            text += " sigmoid"
        return text
    if choice == "dense":
        return f"dense {draw(st.integers(1, 4))}" + _act(draw)
    if choice == "norm":
        return _norm(draw)
    if choice == "dropout":
        return "dropout 0.5"
    return "activation " + (_act(draw).strip() or "tanh")


def _branches(draw, net: _Net, layer) -> bool:
    """concat/add of 2-3 branches of 0-2 layers that keep the size (or a mismatch nnc rejects: retried)."""
    mode = draw(st.sampled_from(["concat", "add"]))
    label = net.label()
    lines = [f"{label}{mode} {{"]
    width = draw(st.integers(1, 4))
    for number in range(draw(st.integers(2, 3))):
        name = draw(st.sampled_from(["", "", "a", "b", "x", "self", "pool", "F", "inputs"]))
        body = []
        for _ in range(draw(st.integers(0, 2))):
            if not _known(net.shape):  # nnc cannot check that branches of unknown length agree: keep the length
                body.append(draw(st.sampled_from(["dense 3", "layernorm", "activation relu", "dropout 0.5",
                                                  f"conv1d {width} k=3 pad=same", "lstm 2 return_sequences=true"])))
            else:
                body.append(layer(draw, net.shape))
        if mode == "add" and body:
            body.append(draw(st.sampled_from([f"dense {width}", f"{'conv2d' if len(net.shape) == 3 else 'conv1d'} "
                                              f"{width} k=1"])))
        lines.append(f"    branch {name if name else ''} {{ {'; '.join(body)} }}".replace("branch  {",
                                                                                         "branch {"))
    lines.append("}")
    if len(set(lines)) != len(lines):  # two branches of the same name
        return False
    return net.add(lines)


#: In a generated block, the numbers a parameter may take: a layer's first number (filters, units,
#: pool size, ...), its kernel size, stride, dilation or padding (not a dropout rate, nor a
#: number in a shape such as 1x2).
_PARAMETRISABLE = re.compile(r"(^[a-z0-9_]+ |\b(?:k|s|dilation|pad)=)([0-9]+)(?![.x0-9])")


def _maybe_block(draw, net: _Net, layer) -> bool:
    """A few layers as a block definition and its call; some of their numbers, biases and a
    repeat count are the block's parameters (some with defaults), and the block may be called
    again with other arguments, or in a repeat."""
    number = len(net.blocks) + 1
    body = [layer(draw, net.shape) for _ in range(draw(st.integers(1, 3)))]
    params: list = []  # (name, value in the first call)

    def parametrise(match) -> str:
        if draw(st.integers(0, 2)):
            return match.group(0)
        params.append((f"p{len(params) + 1}", match.group(2)))
        return match.group(1) + params[-1][0]

    def parametrise_bias(match) -> str:
        if draw(st.booleans()):
            return match.group(0)
        params.append((f"p{len(params) + 1}", match.group(1)))
        return "bias=" + params[-1][0]

    body = [re.sub(r"bias=(true|false)", parametrise_bias, _PARAMETRISABLE.sub(parametrise, line)) for line in body]
    if draw(st.integers(0, 3)) == 0:  # a repeat count as a parameter (a loop in the classes)
        params.append((f"p{len(params) + 1}", str(draw(st.integers(1, 3)))))
        body[-1] = f"repeat {params[-1][0]} {{ {body[-1]} }}"
    defaults = {name: value for name, value in params if draw(st.integers(0, 2)) == 0}
    signature = ", ".join(name + (f"={defaults[name]}" if name in defaults else "") for name, _ in params)
    definition = f"block blk{number}({signature}) {{\n" + "\n".join(f"    {line}" for line in body) + "\n}"

    def call(values: list) -> str:
        arguments, keywords = [], False
        for (name, _), value in zip(params, values):
            if name in defaults and value == defaults[name] and draw(st.booleans()):
                keywords = True  # left out: its default
                continue
            keywords = keywords or (name in defaults and draw(st.booleans()))
            arguments.append(f"{name}={value}" if keywords else value)
        return f"{net.label()}blk{number}({', '.join(arguments)})"

    first = call([value for _, value in params])
    if draw(st.integers(0, 3)) == 0:
        first = f"repeat 2 {{ {first} }}"
    net.blocks.append(definition)
    if not net.add([first]):
        net.blocks.pop()
        return False
    for _ in range(draw(st.integers(0, 2))):  # called again, with other arguments where they fit
        values = [value if value in ("true", "false") or draw(st.booleans()) else str(max(int(value) + draw(
            st.sampled_from([-1, 1, 2])), 1 if "pad" not in name else 0)) for name, value in params]
        net.add([call(values)])
    return True


def _grow(draw, net: _Net, layer, steps: int) -> None:
    for _ in range(steps):
        what = draw(st.sampled_from(["layer", "layer", "layer", "merge", "block"]))
        for _attempt in range(3):
            if what == "merge":
                done = _branches(draw, net, layer)
            elif what == "block":
                done = _maybe_block(draw, net, layer)
            else:
                done = net.add([net.label() + layer(draw, net.shape)])
            if done:
                break


@st.composite
def image_networks(draw):
    h, w, c = draw(st.integers(4, 10)), draw(st.integers(4, 10)), draw(st.integers(1, 4))
    net = _Net(draw, f"input {h}x{w}x{c}")
    _grow(draw, net, _image_layer, draw(st.integers(1, 6)))
    head = draw(st.sampled_from(["", "flatten", "globalavgpool2d", "globalmaxpool2d", "globalavgpool2d keepdims=true",
                                 "reshape (-1, {c})"]))
    if head:
        net.add([head.format(c=net.shape[-1])])
        if draw(st.booleans()):
            net.add([f"{net.label()}dense {draw(st.integers(1, 5))}" + _act(draw)])
    return net.text("image")


@st.composite
def sequence_networks(draw):
    start = draw(st.sampled_from(["features", "features", "unknown", "ids", "unknown_ids"]))
    steps = draw(st.integers(3, 8))
    if start == "features":
        net = _Net(draw, f"input {steps}x{draw(st.integers(1, 4))}")
    elif start == "unknown":
        net = _Net(draw, f"input ?x{draw(st.integers(1, 4))}")
    else:
        net = _Net(draw, f"input {'?' if start == 'unknown_ids' else steps}")
        net.add([f"embedding {draw(st.integers(2, 20))} {draw(st.integers(1, 4))}"])
    _grow(draw, net, _sequence_layer, draw(st.integers(1, 6)))
    head = draw(st.sampled_from(["", "flatten", "globalavgpool1d", "globalmaxpool1d keepdims=true",
                                 "lstm 3", "gru 2 bidirectional=true", "rnn 2"]))
    if head:
        net.add([head])
        if draw(st.booleans()):
            net.add([f"dense {draw(st.integers(1, 4))}" + _act(draw)])
    return net.text("sequence")


@st.composite
def small_networks(draw):
    """Vectors, reshapes into images or sequences, and 3-D convolutions."""
    kind = draw(st.sampled_from(["vector", "vector", "volume"]))
    if kind == "vector":
        n = draw(st.sampled_from([4, 6, 8, 12]))
        net = _Net(draw, f"input {n}")
        for _ in range(draw(st.integers(1, 4))):
            choice = draw(st.sampled_from(["dense", "dense", "norm", "dropout", "activation", "reshape"]))
            if choice == "dense":
                line = f"dense {draw(st.integers(1, 8))}" + _act(draw)
            elif choice == "norm":
                line = _norm(draw)
            elif choice == "dropout":
                line = "dropout 0.25"
            elif choice == "activation":
                line = "activation " + (_act(draw).strip() or "relu")
            else:
                size = net.shape[-1] if len(net.shape) == 1 else math.prod(net.shape)
                line = draw(st.sampled_from([f"reshape (-1, 2)", f"reshape 2x{max(size // 2, 1)}",
                                             f"reshape (1, -1, 2)", "flatten"]))
            net.add([net.label() + line])
        return net.text("vector")
    d, h, w = (draw(st.integers(2, 5)) for _ in range(3))
    net = _Net(draw, f"input {d}x{h}x{w}x{draw(st.integers(1, 3))}")
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.sampled_from(["conv", "conv", "norm", "dense", "dropout"]))
        if choice == "conv":
            line = _conv(draw, "conv3d", net.shape[-1], 3)
        elif choice == "norm":
            line = _norm(draw)
        elif choice == "dense":
            line = f"dense {draw(st.integers(1, 3))}"
        else:
            line = "dropout 0.1"
        net.add([line])
    if draw(st.booleans()):
        net.add(["flatten", f"dense {draw(st.integers(1, 3))}"])
    return net.text("volume")


GENERATED = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(HealthCheck))


def _both(text: str) -> None:
    exported = [check(text, framework) for framework in ("pytorch", "keras")]
    # both may refuse (each for an allowed reason): an unknown length with pad=same and s=2 (PyTorch)
    # and a ceil=true (Keras) in one network; such a network does not count as an example
    assume(any(exported))
    event("both frameworks" if all(exported) else "PyTorch only" if exported[0] else "Keras only")
    if all(exported):
        not_run = assert_same_outputs(text)
        # the generated networks are small: only the known Keras difference stops a comparison
        assert set(not_run.values()) <= {UNEVEN_SAME_AVERAGE}, not_run
        event("outputs not compared: " + UNEVEN_SAME_AVERAGE if not_run else "outputs compared")


# ------------------------------------------------ the two exports compute the same function

def _weight(node) -> float:
    """The value every weight (kernel, scale, embedding) of a layer is set to in both frameworks,
    every bias and offset being 0: the two exports of a network then compute the same function
    whatever order the frameworks store their weights in, and what is compared is where padding
    goes, which values are pooled, flattened, concatenated, the axis softmax normalizes, ...
    About 1 / (weights per output), so that values stay near 1 however deep the network."""
    per_output = node.trainable.value / max(node.output_shape[-1], 1)
    return 1.0 / max(per_output, 1.0)


def _uneven_same_average(node) -> bool:
    """An average pooling with uneven 'same' padding. Keras 3 on the torch backend pads it by
    replicating the border (keras/src/backend/torch/nn.py, _apply_same_padding with
    mode="replicate") and averages over the replicas, where TensorFlow and JAX, and the
    PyTorch export, average over the part of the window inside the input: the two exports
    differ there (test_same_average_pooling_leaves_the_padding_out checks the PyTorch side)."""
    if node.kind not in ("avgpool1d", "avgpool2d") or node.args["pad"] != "same":
        return False
    return any(before != after for before, after in window_pads(node, "?"))


#: Why assert_same_outputs does not run a model.
TOO_LARGE = "too large to run"
UNEVEN_SAME_AVERAGE = "average pooling with uneven 'same' padding (Keras on torch replicates the border)"


def assert_same_outputs(text: str) -> dict:
    """The PyTorch and the Keras export of `text` give the same output for the same random input.

    Returns the models not run, with the reason (TOO_LARGE, UNEVEN_SAME_AVERAGE); the caller
    asserts that these are the ones it expects."""
    import keras
    import numpy as np
    import torch

    compilation = nnc(text, "keras")
    program = compilation.program
    torch_export = torch_emit.export(program, source_lines=compilation.source.lines)
    keras_export = keras_emit.export(program, source_lines=compilation.source.lines)
    # each in a namespace of its own: both define a class per block definition, by the same names
    torch_namespace: dict = {}
    exec(compile(torch_export.code, "<pytorch export>", "exec"), torch_namespace)
    keras_namespace: dict = {}
    exec(compile(keras_export.code, "<keras export>", "exec"), keras_namespace)
    rng = np.random.default_rng(0)
    not_run = {}
    for made_torch, made_keras in zip(torch_export.models, keras_export.models):
        model = program.model(made_torch.name)
        if not _small(model):
            not_run[model.name] = TOO_LARGE
            continue
        if any(_uneven_same_average(node) for node in model.layers):
            not_run[model.name] = UNEVEN_SAME_AVERAGE
            continue
        length = _length_for(text, model.name)
        shape = tuple(length if _size(d) is None else d for d in model.input_shape)
        if made_torch.input_dtype == "long":
            vocab = min(n.args["vocab"] for n in model.layers if n.kind == "embedding")
            x = rng.integers(0, vocab, size=(2, *shape))
        else:
            x = rng.uniform(-1, 1, size=(2, *shape)).astype("float32")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch_namespace[made_torch.class_name]().eval()
            with torch.no_grad():
                for node in model.layers:
                    for name, parameter in module.get_submodule(made_torch.modules[node.index]).named_parameters():
                        parameter.fill_(0.0 if name.rsplit(".", 1)[-1].startswith("bias") else _weight(node))
                tensor = torch.as_tensor(x)
                if made_torch.input_layout == "cf" and len(shape) >= 2:
                    tensor = tensor.movedim(-1, 1)
                ours = module(tensor)
            built = keras_namespace[made_keras.function]()
            for node in model.layers:
                for name in made_keras.layers[node.index]:
                    for weight in built.get_layer(name).trainable_weights:
                        value = 0.0 if weight.name in ("bias", "beta") else _weight(node)
                        weight.assign(np.full(tuple(weight.shape), value, dtype="float32"))
            theirs = keras.ops.convert_to_numpy(built(x, training=False))
        layout = made_torch.layouts[model.layers[-1].index] if model.layers else made_torch.input_layout
        ours = ours.numpy()
        if layout == "cf" and ours.ndim >= 3:
            ours = np.moveaxis(ours, 1, -1)
        assert ours.shape == theirs.shape, (ours.shape, theirs.shape, text)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5,
                                   err_msg=f"the PyTorch and Keras exports differ\n{text}")
    return not_run


@pytest.mark.frameworks
@GENERATED
@given(image_networks())
def test_generated_images_agree(text):
    _both(text)


@pytest.mark.frameworks
@GENERATED
@given(sequence_networks())
def test_generated_sequences_agree(text):
    _both(text)


@pytest.mark.frameworks
@settings(GENERATED, max_examples=120)
@given(small_networks())
def test_generated_vectors_and_volumes_agree(text):
    _both(text)


# ------------------------------------------------------- specific constructs, by hand

HAND = {
    "asymmetric_same_conv_and_pool": """
        input 9x8x3
        conv2d 4 k=3 s=2 pad=same relu
        maxpool2d 2 pad=same
        avgpool2d 3 s=2 pad=same
        conv2d 2 k=4 pad=same
    """,
    "flatten_after_conv_keeps_dense_size": """
        input 5x6x3
        conv2d 4 k=3
        flatten
        dense 7 softmax
    """,
    "dense_on_image_and_concat": """
        input 6x6x2
        concat {
            branch a { conv2d 3 k=3 pad=same }
            branch b { dense 5 }
            branch {}
        }
        batchnorm
        globalavgpool2d
    """,
    "residual_with_names_python_reserves": """
        input 8x8x4
        forward: conv2d 4 k=1
        add {
            branch self { conv2d 4 k=3 pad=1; batchnorm; activation relu }
            branch x {}
        }
        items: globalmaxpool2d
    """,
    "recurrent_stack": """
        input 7x3
        lstm 4 return_sequences=true bidirectional=true
        gru 3 return_sequences=true
        rnn 2 relu
        dense 1 sigmoid
    """,
    "tokens": """
        input ?
        embedding 30 4
        conv1d 5 k=3 pad=same relu
        gru 3 return_sequences=true bidirectional=true
        dense 2
    """,
    "transposed": """
        input 4x5x3
        conv2d_transpose 2 k=3 s=2 pad=same
        conv2d_transpose 2 k=1 s=2
        conv2d_transpose 3 k=3 s=2 pad=1 output_padding=1
    """,
}


NESTED = """
block unit(c, s=1) {
    conv2d c k=3 s=s pad=same relu
}
block pair(c) {
    first: unit(c)
    second: unit(c, s=2)
}
block res(c) {
    add {
        branch main { unit(c); conv2d c k=1 }
        branch {}
    }
    activation relu
}
block empty() {
}
model nested {
    input 16x16x3
    stem: pair(8)
    r: repeat 2 { res(8) }
    nothing: empty()
    mix: concat {
        branch left {
            inner: add {
                branch a { conv2d 4 k=1 }
                branch b { conv2d 4 k=3 pad=1; batchnorm }
            }
        }
        branch right { maxpool2d 3 s=1 pad=same }
        branch { unit(2) }
    }
    single: concat { branch only { dense 5 } }
    globalavgpool2d
    dense 3 softmax
}
model second_model {
    input 6x5
    a: unit1d()
    lstm 3
}
block unit1d() {
    concat { branch { conv1d 2 k=3 pad=same } branch { lstm 2 return_sequences=true } }
}
"""


#: Blocks with parameters, each called with several arguments: one class per definition (the
#: layers' sizes, strides, biases and a repeat count taken from the parameters, a default that
#: depends on another parameter, blocks calling blocks), loops whose channels grow, a repeat inside
#: a branch and a repeat inside a repeat, and two models sharing the classes.
BLOCKS = """
block unit(c, s=1) {
    conv2d c k=3 s=s pad=same relu
}
block stage(c, n, b=true) {
    repeat n { conv2d c k=3 pad=1 bias=b; batchnorm; activation relu }
    maxpool2d 2
}
block widen(c, d=c*2) {
    concat {
        branch a { conv2d c k=1 }
        branch b { conv2d d k=1; unit(d // 2) }
        branch {}
    }
}
block grow(g, n) {
    repeat n {
        concat { branch { } branch new { conv2d g k=3 pad=same } }
    }
}
block branchy(c, n) {
    add {
        branch main { repeat n { conv2d c k=1 } }
        branch {}
    }
}
block nested_loops(c, n, m) {
    repeat n { repeat m { conv2d c k=1 }; batchnorm }
}
block dense_stack(u, n) {
    r: repeat n { fc: dense u relu; dropout 0.1 }
}
model blocks {
    input 16x16x3                  -> 16x16x3
    s1: stage(8, 2)                -> 8x8x8
    s2: stage(8, 3, b=false)       -> 4x4x8
    s3: stage(16, 1)               -> 2x2x16
    w1: widen(4)                   -> 2x2x24     # 4 + 8//2 + 16
    w2: widen(6, d=4)              -> 2x2x32     # 6 + 4//2 + 24
    g1: grow(2, 3)                 -> 2x2x38
    g2: grow(3, 2)                 -> 2x2x44
    br: branchy(44, 2)             -> 2x2x44
    nl: nested_loops(5, 2, 3)      -> 2x2x5
    repeat 2 { u: unit(5) -> 2x2x5 }
    globalavgpool2d                -> 5
    d1: dense_stack(8, 2)          -> 8
    d2: dense_stack(4, 3)          -> 4
    dense 3 softmax                -> 3
}
model blocks_b {
    input 8x8x2
    s: stage(4, 2, b=false)        -> 4x4x4
    u: unit(3, s=2)                -> 2x2x3
    g: grow(1, 1)                  -> 2x2x4
    flatten                        -> 16
    d: dense_stack(2, 1)           -> 2
}
"""

#: The hand-written networks that are whole files.
FILES = {"nested": NESTED, "blocks": BLOCKS}


def _hand(name: str) -> str:
    return FILES[name] if name in FILES else f"model {name} {{{HAND[name]}}}"


@pytest.mark.frameworks
@pytest.mark.parametrize("framework", ["pytorch", "keras"])
@pytest.mark.parametrize("name", sorted(HAND) + sorted(FILES))
def test_hand_written_network_agrees(name, framework):
    assert check(_hand(name), framework), "refused"


#: Hand-written networks whose outputs are not compared, and why.
HAND_NOT_RUN = {"asymmetric_same_conv_and_pool": {"asymmetric_same_conv_and_pool": UNEVEN_SAME_AVERAGE}}


@pytest.mark.frameworks
@pytest.mark.parametrize("name", sorted(HAND) + sorted(FILES))
def test_hand_written_exports_compute_the_same(name):
    assert assert_same_outputs(_hand(name)) == HAND_NOT_RUN.get(name, {})


#: The cases of tests/frameworks/cases.py that an exporter refuses, and the construct it names.
CASES_REFUSED = {
    ("conv2d_explicit_pad", "keras"): "a stride above 1 together with a dilation above 1",
    ("pool1d_ceil", "keras"): "ceil=true changes the output size",
    ("pool2d_ceil", "keras"): "ceil=true changes the output size",
    ("pool2d_ceil_last_window", "keras"): "explicit pooling padding pad=1",
    ("pool2d_explicit_pad", "keras"): "explicit pooling padding pad=1",
    ("gru_reset_before", "pytorch"): "reset_after=false",
}


def _refusal(text: str, framework: str) -> str | None:
    """The exporter's refusal message for `text`, None when it exports."""
    try:
        (torch_emit if framework == "pytorch" else keras_emit).export(nnc(text, "keras").program)
    except ExportError as error:
        return error.message
    return None


@pytest.mark.frameworks
def test_the_framework_suite_cases_agree():
    """The single-path networks of tests/frameworks/cases.py (every layer kind, option and alias
    written three times by hand) through the exporters, in both frameworks; both exports of
    every case that both frameworks take compute the same outputs."""
    from frameworks.cases import CASES

    assert {name for name, _ in CASES_REFUSED} <= {case.name for case in CASES}
    failures = []
    for case in CASES:
        exported = []
        for framework in ("pytorch", "keras"):
            reason = CASES_REFUSED.get((case.name, framework))
            try:
                assert check(case.source, framework) == (reason is None), (
                    f"refused: {_refusal(case.source, framework)}" if reason is None else "exported")
                assert reason is None or reason in _refusal(case.source, framework)
                exported.append(reason is None)
            except AssertionError as error:
                failures.append(f"{case.name} ({framework}): {str(error)[:2000]}")
        if all(exported) and len(exported) == 2:
            try:
                assert assert_same_outputs(case.source) == {}, "outputs not compared"
            except AssertionError as error:
                failures.append(f"{case.name} (same outputs): {str(error)[:2000]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.frameworks
@pytest.mark.parametrize("size, stride, n", [(3, 2, 4), (2, 1, 5), (3, 3, 7), (4, 2, 6), (2, 2, 3)])
def test_same_average_pooling_leaves_the_padding_out(size, stride, n):
    """Keras' 'same' average pooling (as TensorFlow and JAX compute it): the average of the
    part of each window inside the input, whatever the padding; the PyTorch export's
    SamePool against that definition written out."""
    import numpy as np
    import torch

    program = nnc(f"model m {{\ninput {n}x{n + 1}x2\navgpool2d {size} s={stride} pad=same\n}}", "keras").program
    export = torch_emit.export(program)
    namespace: dict = {}
    exec(export.code, namespace)
    x = np.random.default_rng(1).uniform(-1, 1, size=(1, n, n + 1, 2)).astype("float32")
    with torch.no_grad():
        ours = namespace["M"]()(torch.as_tensor(x).movedim(-1, 1)).movedim(1, -1).numpy()[0]
    node = program.models[0].layers[0]
    (top, _), (left, _) = window_pads(node, "test")
    expected = np.zeros(node.output_shape, dtype="float32")
    for i in range(node.output_shape[0]):
        for j in range(node.output_shape[1]):
            rows = slice(max(i * stride - top, 0), min(i * stride - top + size, n))
            cols = slice(max(j * stride - left, 0), min(j * stride - left + size, n + 1))
            expected[i, j] = x[0, rows, cols].mean(axis=(0, 1))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.frameworks
@pytest.mark.parametrize("path", KERAS_EXAMPLES, ids=lambda p: p.stem)
def test_example_exports_compute_the_same(path):
    """Where both frameworks take an example; the models too large to run are listed."""
    not_run = assert_same_outputs(path.read_text(encoding="utf-8"))
    assert not_run == {name: TOO_LARGE for name in TOO_LARGE_TO_RUN.get(path.stem, [])}


REFUSED = [
    ("keras", "input 8x8x2\nmaxpool2d 3 s=2 pad=1", "explicit pooling padding pad=1"),
    ("keras", "input 8x8x2\nmaxpool2d 3 s=2 ceil=true", "ceil=true"),
    ("keras", "input 9x9x2\nconv2d 2 k=3 s=2 dilation=2", "stride above 1 together with a dilation"),
    ("pytorch", "input 5x2\ngru 3 reset_after=false", "reset_after=false"),
    ("pytorch", "input 5x2\nlstm 3 relu", "always uses tanh"),
    ("pytorch", "input ?x2\nconv1d 3 k=3 s=2 pad=same", "pad=same with stride 2 on an axis of unknown size"),
    ("pytorch", "input 4x4x2\nbatchnorm scale=false", "scale and center differ"),
    ("pytorch", "input 5x5x2\nconv2d_transpose 2 k=1 s=2 output_padding=1", "smaller than the stride 2"),
    ("keras", "input 5x5x2\nconv2d_transpose 2 k=3 s=2 pad=same output_padding=1", "smaller than the stride 2"),
    ("pytorch", "input 6\nconcat { branch { embedding 9 2; flatten } branch { dense 12 } }", "feeds an embedding"),
    ("keras", "input 6\nconcat { branch { embedding 9 2; flatten } branch { dense 12 } }", "feeds an embedding"),
]


@pytest.mark.parametrize("framework, body, message", REFUSED)
def test_refusals_name_the_construct(framework, body, message):
    program = nnc(f"model m {{\n{body}\n}}", "keras").program
    emitter = torch_emit if framework == "pytorch" else keras_emit
    with pytest.raises(ExportError) as error:
        emitter.export(program)
    assert message in error.value.message and error.value.span.line >= 3
    refused(framework, error.value)


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_expressible_neighbours_are_not_refused(framework):
    """What looks like a refused construct but is exact: pooling padding that is Keras'
    'same', average pooling padding (a ZeroPadding layer), ceil that does not change the size."""
    program = nnc("model m {\ninput 8x8x2\nmaxpool2d 3 s=1 pad=1\navgpool2d 3 s=2 pad=1\n"
                  "maxpool2d 2 ceil=true\n}", "keras").program
    emitter = torch_emit if framework == "pytorch" else keras_emit
    assert emitter.export(program).code


# ------------------------------------------------------------------- the command line

TINY = "model tiny_net {\n    input 6x6x1\n    conv2d 2 k=3 relu\n    flatten\n    dense 3 softmax\n}\n"


def test_export_writes_standard_output_or_a_file(tmp_path):
    source = tmp_path / "tiny.nn"
    source.write_text(TINY)
    proc = run_nnc("export", source, "--to", "pytorch")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "class TinyNet(nn.Module):" in proc.stdout
    compile(proc.stdout, "tiny.py", "exec")
    out = tmp_path / "tiny_keras.py"
    proc = run_nnc("export", source, "--to", "keras", "-o", out)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    code = out.read_text()
    assert "def build_tiny_net():" in code and 'name="conv2d_1"' in code
    compile(code, str(out), "exec")


def test_export_picks_a_model_and_rejects_an_unknown_one(tmp_path):
    source = tmp_path / "two.nn"
    source.write_text(TINY + TINY.replace("tiny_net", "other_net"))
    proc = run_nnc("export", source, "--to", "pytorch", "--model", "other_net")
    assert proc.returncode == 0 and "class OtherNet(" in proc.stdout and "TinyNet" not in proc.stdout
    proc = run_nnc("export", source, "--to", "keras", "--model", "tiny_nett")
    assert_no_traceback(proc)
    assert proc.returncode == 2 and "no model 'tiny_nett'" in proc.stderr and "did you mean" in proc.stderr


def test_export_of_an_inexpressible_construct_is_a_located_error(tmp_path):
    source = tmp_path / "ceil.nn"
    source.write_text("model m {\n    input 7x7x2\n    maxpool2d 2 ceil=true\n}\n")
    out = tmp_path / "m.py"
    proc = run_nnc("export", source, "--to", "keras", "-o", out)
    assert_no_traceback(proc)
    assert proc.returncode == 1 and not out.exists() and proc.stdout == ""
    assert f"{source}:3:5: error[E401]: cannot export to Keras: maxpool2d_1 (maxpool2d): ceil=true" in proc.stderr
    assert run_nnc("export", source, "--to", "pytorch").returncode == 0


def test_export_of_a_file_with_errors_fails(tmp_path):
    source = tmp_path / "bad.nn"
    source.write_text("model m {\n    input 4x4x1\n    conv2d 2 k=5\n}\n")
    proc = run_nnc("export", source, "--to", "pytorch")
    assert_no_traceback(proc)
    assert proc.returncode == 1 and "error[E202]" in proc.stderr and proc.stdout == ""
    assert run_nnc("export", source).returncode == 2  # --to is required


def test_export_checks_expectations_under_the_chosen_convention(tmp_path):
    """params= written for Keras' batch norm (4C) must not stop a PyTorch export."""
    source = tmp_path / "bn.nn"
    source.write_text("model m {\n    input 4x4x8\n    batchnorm -> 4x4x8 params=32\n}\n")
    proc = run_nnc("export", source, "--to", "pytorch")
    assert proc.returncode == 0, proc.stderr
    assert "Parameters: 16 as nnc counts them (--convention pytorch)" in proc.stdout
    assert run_nnc("export", source, "--to", "pytorch", "--convention", "pytorch").returncode == 1


def test_nnlang_never_imports_the_frameworks():
    code = ("import sys\nfrom nnlang.cli import main\nimport nnlang.commands.export, nnlang.emit.pytorch, "
            "nnlang.emit.keras\nfrom nnlang.driver import compile_path\nfrom nnlang.emit import pytorch, keras\n"
            f"p = compile_path({str(EXAMPLES / 'googlenet.nn')!r}).program\npytorch.export(p)\n"
            "assert not {'torch', 'keras', 'tensorflow'} & set(sys.modules), sorted(sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_generated_code_is_stable_and_names_follow_the_file():
    compilation = nnc((EXAMPLES / "googlenet.nn").read_text(), "keras")
    program, lines = compilation.program, compilation.source.lines
    first = torch_emit.export(program, ["googlenet"], source_lines=lines)
    assert first.code == torch_emit.export(program, ["googlenet"], source_lines=lines).code
    (made,) = first.models
    assert made.class_name == "Googlenet"
    nodes = [n for n in program.model("googlenet").layers if n.path == ("inception_3a", "b3")]
    # in the class of block inception, the convolutions are numbered within the block: b1 has the
    # first, b3 the second and third
    assert [made.modules[node.index] for node in nodes] == ["inception_3a.b3.conv2d_2", "inception_3a.b3.conv2d_3"]
    # without the source, every block call is a class of its own and keeps nnc's names
    (alone,) = torch_emit.export(program, ["googlenet"]).models
    assert [alone.modules[node.index] for node in nodes] == [f"inception_3a.b3.{node.name}" for node in nodes]


def test_the_examples_in_docs_export_md_are_what_export_writes():
    """docs/export.md shows the export of examples/exam_cnn_rgb28.nn: it must be the real output."""
    doc = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    for target in ("pytorch", "keras"):
        command = f"$ nnc export examples/exam_cnn_rgb28.nn --to {target}\n...\n"
        assert command in doc, command
        shown = doc.split(command)[1].split("```")[0]
        proc = run_nnc("export", "examples/exam_cnn_rgb28.nn", "--to", target)
        assert proc.returncode == 0, proc.stderr
        assert shown in proc.stdout, f"docs/export.md is stale for --to {target}:\n{proc.stdout}"
    command = "$ nnc export examples/resnet18.nn --to keras\n"
    shown = doc.split(command)[1].split("```")[0]
    proc = run_nnc("export", "examples/resnet18.nn", "--to", "keras")
    assert proc.returncode == 1 and proc.stderr == shown, proc.stderr


def test_the_block_classes_in_docs_export_md_are_what_export_writes():
    """Every excerpt of an export in docs/export.md (a code block after the text naming the
    command, `nnc export examples/NAME.nn --to TARGET`) is part of what the command writes."""
    doc = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    parts = doc.split("```")
    checked = 0
    for before, block in zip(parts[0::2], parts[1::2]):
        named = re.findall(r"`nnc export (examples/\w+\.nn) --to (pytorch|keras)`", before)
        if not named:
            continue
        path, target = named[-1]
        proc = run_nnc("export", path, "--to", target)
        assert proc.returncode == 0, proc.stderr
        assert block.strip("\n") in proc.stdout, f"docs/export.md is stale for {path} --to {target}:\n{block}"
        checked += 1
    assert checked == 4  # the block basic, its calls, vgg_stage in PyTorch and in Keras
