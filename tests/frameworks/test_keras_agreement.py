"""nnc's shapes and parameter counts (``--convention keras``) against Keras 3.

Every case of ``cases.py`` that has a Keras builder is compiled by nnc and built
in Keras; nnc's ``layers`` (which leave out ``input``) and the Keras layers map
one to one, in order. Shapes are compared with ``layer.output.shape[1:]`` (an
unknown dimension is ``None`` in Keras and ``null`` in nnc's JSON); parameters
with ``count_params()``, split into trainable and non-trainable weights.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

from .cases import (  # noqa: E402
    CASES,
    is_open,
    KERAS_CASES,
    describe_mismatches,
    keras_numbers,
    layer_label,
    nnc_model,
)

pytestmark = pytest.mark.frameworks

CONVENTION = "keras"


def _pairs(case):
    model = nnc_model(case.name, CONVENTION)
    ours = model["layers"]
    theirs = keras_numbers(case.name)["layers"]
    assert len(ours) == len(theirs), describe_mismatches(
        case,
        [f"nnc reports {len(ours)} layers {[l.get('type') for l in ours]}, "
         f"Keras has {len(theirs)} {[l['keras_class'] for l in theirs]}"],
        CONVENTION,
    )
    return model, list(enumerate(zip(ours, theirs)))


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c.name)
def test_layer_kinds(case):
    """One nnc layer per Keras layer, with the canonical kind (aliases resolved)."""
    _, pairs = _pairs(case)
    problems = [
        f"{layer_label(i, ours)}: Keras {theirs['keras_class']} is {theirs['type']!r}"
        for i, (ours, theirs) in pairs
        if ours.get("type") != theirs["type"]
    ]
    assert not problems, describe_mismatches(case, problems, CONVENTION)


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c.name)
def test_output_shapes(case):
    model, pairs = _pairs(case)
    problems = [
        f"{layer_label(i, ours)}: output_shape nnc {ours.get('output_shape')} != Keras {theirs['output_shape']}"
        for i, (ours, theirs) in pairs
        if _as_keras(ours.get("output_shape")) != theirs["output_shape"]
    ]
    keras_side = keras_numbers(case.name)
    if _as_keras(model.get("input_shape")) != keras_side["input_shape"]:
        problems.append(f"model input_shape nnc {model.get('input_shape')} != Keras {keras_side['input_shape']}")
    if _as_keras(model.get("output_shape")) != keras_side["output_shape"]:
        problems.append(f"model output_shape nnc {model.get('output_shape')} != Keras {keras_side['output_shape']}")
    assert not problems, describe_mismatches(case, problems, CONVENTION)


def _as_keras(shape):
    """nnc's shape as Keras gives it: a size left open (an expression of named sizes) is None."""
    return shape if not isinstance(shape, list) else [None if is_open(d) else d for d in shape]


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c.name)
def test_params(case):
    """params, trainable_params and non_trainable_params per layer, and the totals."""
    model, pairs = _pairs(case)
    problems = []
    for i, (ours, theirs) in pairs:
        for key in ("params", "trainable_params", "non_trainable_params"):
            if ours.get(key) != theirs[key]:
                problems.append(f"{layer_label(i, ours)}: {key} nnc {ours.get(key)} != Keras {theirs[key]}")
    total = keras_numbers(case.name)["total_params"]
    if model["totals"].get("params") != total:
        problems.append(f"totals.params nnc {model['totals'].get('params')} != Keras model.count_params() {total}")
    assert not problems, describe_mismatches(case, problems, CONVENTION)


MAC_CASES = [c for c in CASES if c.macs]


@pytest.mark.parametrize("convention", ["keras", "pytorch"])
@pytest.mark.parametrize("case", MAC_CASES, ids=lambda c: c.name)
def test_recurrent_macs_by_hand(case, convention):
    """Recurrent MACs written out: gates * units * (inputs + units) per step, times steps
    (and directions). Keras has no MAC counter; for GRU reset_after=False there is no
    PyTorch layer, so this arithmetic is the only check. The same numbers are measured
    with FlopCounterMode in test_torch_agreement for the cases PyTorch can build."""
    layers = nnc_model(case.name, convention)["layers"]
    problems = [
        f"{layer_label(i, layers[i])}: macs nnc {layers[i].get('macs')} != by hand {expected}"
        for i, expected in sorted(case.macs.items())
        if layers[i].get("macs") != expected
    ]
    assert not problems, describe_mismatches(case, problems, convention)
