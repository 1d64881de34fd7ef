"""A worked forward and backward pass (nnlang/trace.py) as JSON.

Per model: `model`, `loss_function`, `input`, `target`, `loss`, `layers` (in order: `name`,
`activation`, `weights`, `bias`, `z`, `a`, `delta` = dL/dz, `grad_weights` oriented as
`weights=`, one row per output neuron, `grad_bias`; `bias` and `grad_bias` absent without a
bias; `weights_after` and `bias_after` with a learning rate), `grad_input` (dL/dx) and `lr`.
Numbers are plain JSON numbers (the nearest double). One model gives its report at the top
level, several give `{"models": [...]}`.
"""

from __future__ import annotations

import json


def _numbers(values):
    if isinstance(values, list):
        return [_numbers(v) for v in values]
    return float(values.value)


def report(trace) -> dict:
    out = {"model": trace.model, "loss_function": trace.loss_name, "input": _numbers(trace.x),
           "target": _numbers(trace.target), "loss": float(trace.loss.value)}
    if trace.logits:
        out["logits"] = trace.logits
        out["probabilities"] = _numbers(trace.outputs)
    if trace.activation_override:
        out["activation"] = trace.activation_override
    layers = []
    for layer in trace.layers:
        entry = {"name": layer.name, "activation": layer.activation, "weights": _numbers(layer.weights)}
        if layer.bias is not None:
            entry["bias"] = _numbers(layer.bias)
        entry.update({"z": _numbers(layer.z), "a": _numbers(layer.a), "delta": _numbers(layer.delta),
                      "grad_weights": _numbers(layer.grad_weights)})
        if layer.grad_bias is not None:
            entry["grad_bias"] = _numbers(layer.grad_bias)
        if layer.weights_after is not None:
            entry["weights_after"] = _numbers(layer.weights_after)
            if layer.bias_after is not None:
                entry["bias_after"] = _numbers(layer.bias_after)
        layers.append(entry)
    out["layers"] = layers
    out["grad_input"] = _numbers(trace.grad_input)
    if trace.lr is not None:
        out["lr"] = float(trace.lr.value)
    return out


def dumps(traces: list) -> str:
    body = report(traces[0]) if len(traces) == 1 else {"models": [report(t) for t in traces]}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def symbolic_report(name: str, layers: list, loss: str) -> dict:
    """`--symbolic`: per model `model`, `loss_function` and `sections` in order (the forward pass,
    the loss, each layer from the last, the input), each a `title` and its `equations`: `quantity`,
    `equation` (plain text), `latex`, `size` ([rows, columns]) and, for a product, `factors` (the
    sizes of its two factors)."""
    from .trace_text import symbolic

    sections = []
    for title, equations in symbolic(name, layers, loss):
        items = []
        for equation in equations:
            item = {"quantity": equation.quantity, "equation": equation.math.plain, "latex": equation.math.tex,
                    "size": list(equation.size)}
            if equation.factors:
                item["factors"] = [list(f) for f in equation.factors]
            items.append(item)
        sections.append({"title": title, "equations": items})
    return {"model": name, "loss_function": loss, "sections": sections}


def dumps_symbolic(networks: list) -> str:
    """[(model name, layers, loss)] as JSON: one model at the top level, several as `{"models": [...]}`."""
    reports = [symbolic_report(*n) for n in networks]
    body = reports[0] if len(reports) == 1 else {"models": reports}
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
