"""Worked forward and backward passes through a dense network whose weights the file gives.

`trace(model, x, target, loss)` runs one input through a compiled model (input, dense layers
with `weights=` and `bias=[...]`, dropout as at inference) and back: every pre-activation `z`,
activation `a`, delta `dL/dz`, the gradient of every weight and bias, the gradient of the
input, and with a learning rate the parameters after one step of gradient descent. The
emitters in nnlang/emit/trace_*.py write it as text, Markdown, LaTeX or JSON.

Numbers are exact where they can be: the file's decimals and fractions are fractions
(`0.1` is 1/10), and sums, products and ReLU keep them so. A value that goes through an
exponential (sigmoid, tanh, softmax) or a logarithm (the loss) is irrational in general: it
is computed to `PRECISION` significant digits and marked inexact (`Num.exact`), so that
what is printed to `--digits` is the exact value correctly rounded, or the value rounded
from far more digits than shown.

Losses (over the outputs, summed, for one example):

- mse: `1/2 * sum((a - y)^2)`, the textbook form whose output delta is `(a - y) * f'(z)`;
- bce: `-sum(y log a + (1 - y) log(1 - a))`;
- ce: `-sum(y log a)`, the target a class index or a vector of probabilities.

When the last layer has no activation (linear), bce and ce read its outputs as logits, as
PyTorch's BCEWithLogitsLoss and CrossEntropyLoss do: bce applies a sigmoid and ce a softmax
inside the loss, and the output delta is `p - y`.
"""

from __future__ import annotations

import decimal
from fractions import Fraction
from typing import Optional

import attrs

from .source import Span

#: Significant digits of a value computed through an exponential or a logarithm.
PRECISION = 50

LOSSES = ("mse", "bce", "ce")
#: The activations a trace computes (with their derivative), and those it reads as none.
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")

_CONTEXT = decimal.Context(prec=PRECISION + 10)


class TraceError(Exception):
    """What a trace cannot compute: a message, where in the file, a stable code."""

    def __init__(self, code: str, message: str, span: Optional[Span] = None, notes: tuple = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.span = span
        self.notes = tuple(notes)

    def diagnostic(self):
        from .diagnostics import Diagnostic
        from .source import NOWHERE

        return Diagnostic(self.code, self.message, self.span or NOWHERE, self.notes)


# --- exact numbers, and numbers computed to PRECISION digits ---------------------------


@attrs.frozen
class Num:
    """A value as a Fraction, exact or rounded to PRECISION significant digits."""

    value: Fraction
    exact: bool = True

    @staticmethod
    def of(value) -> "Num":
        return value if isinstance(value, Num) else Num(Fraction(value))

    def __add__(self, other):
        other = Num.of(other)
        return _made(self.value + other.value, self.exact and other.exact)

    __radd__ = __add__

    def __sub__(self, other):
        other = Num.of(other)
        return _made(self.value - other.value, self.exact and other.exact)

    def __rsub__(self, other):
        return Num.of(other) - self

    def __mul__(self, other):
        other = Num.of(other)
        if (self.value == 0 and self.exact) or (other.value == 0 and other.exact):
            return Num(Fraction(0))
        return _made(self.value * other.value, self.exact and other.exact)

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = Num.of(other)
        return _made(self.value / other.value, self.exact and other.exact)

    def __rtruediv__(self, other):
        return Num.of(other) / self

    def __neg__(self):
        return Num(-self.value, self.exact)

    def __float__(self):
        return float(self.value)


def _made(value: Fraction, exact: bool) -> Num:
    return Num(value, True) if exact else Num(_rounded(value), False)


def _rounded(value: Fraction) -> Fraction:
    """`value` to PRECISION significant digits (keeps inexact values' fractions small)."""
    if value == 0:
        return value
    return Fraction(_decimal(value))


def _decimal(value: Fraction) -> decimal.Decimal:
    return _CONTEXT.divide(decimal.Decimal(value.numerator), decimal.Decimal(value.denominator))


def exp(x: Num) -> Num:
    if x.value == 0:
        return Num(Fraction(1), x.exact)
    return Num(Fraction(_CONTEXT.exp(_decimal(x.value))), False)


def log(x: Num) -> Num:
    if x.value <= 0:
        raise ValueError("log of a value that is not positive")
    if x.value == 1:
        return Num(Fraction(0), x.exact)
    return Num(Fraction(_CONTEXT.ln(_decimal(x.value))), False)


def sigmoid(z: Num) -> Num:
    if z.value == 0:
        return Num(Fraction(1, 2), z.exact)
    return 1 / (1 + exp(-z))


def tanh(z: Num) -> Num:
    if z.value == 0:
        return Num(Fraction(0), z.exact)
    e = exp(2 * z)
    return (e - 1) / (e + 1)


def softmax(z: list) -> list:
    top = max(z, key=lambda v: v.value)
    e = [exp(v - top) for v in z]
    total = sum(e[1:], e[0])
    return [v / total for v in e]


def activate(function: str, z: list) -> list:
    if function == "linear":
        return list(z)
    if function == "relu":
        return [v if v.value > 0 else Num(Fraction(0), v.exact) for v in z]
    if function == "sigmoid":
        return [sigmoid(v) for v in z]
    if function == "tanh":
        return [tanh(v) for v in z]
    if function == "softmax":
        return softmax(z)
    raise AssertionError(function)


def derivative(function: str, z: Num, a: Num) -> Num:
    """f'(z) of an elementwise activation, from z and a = f(z). ReLU's is 0 at z = 0, as in PyTorch."""
    if function == "linear":
        return Num(Fraction(1))
    if function == "relu":
        return Num(Fraction(1 if z.value > 0 else 0), z.exact)
    if function == "sigmoid":
        return a * (1 - a)
    if function == "tanh":
        return 1 - a * a
    raise AssertionError(function)


# --- the trace ------------------------------------------------------------------------


@attrs.define
class LayerTrace:
    name: str
    activation: str  # one of ACTIVATIONS
    weights: list  # rows of Num, one per output neuron
    bias: Optional[list]  # Num per output neuron; None without a bias
    x: list  # the layer's input
    z: list = attrs.Factory(list)
    a: list = attrs.Factory(list)
    #: dL/da per output neuron (from the loss, or from the layer after)
    grad_a: list = attrs.Factory(list)
    #: f'(z) per neuron (elementwise activations; None for softmax)
    slope: Optional[list] = None
    delta: list = attrs.Factory(list)
    grad_weights: list = attrs.Factory(list)
    grad_bias: Optional[list] = None
    weights_after: Optional[list] = None
    bias_after: Optional[list] = None
    span: Optional[Span] = None
    #: the activation was given on the command line (--activation), not in the file
    overridden: bool = False


@attrs.define
class Trace:
    model: str
    loss_name: str
    x: list
    target: list
    layers: list
    loss: Num = Num(Fraction(0))
    #: the outputs the loss reads: `a` of the last layer, or the probabilities of logits
    outputs: list = attrs.Factory(list)
    #: bce or ce on a linear output: the loss applies the sigmoid or softmax ("sigmoid", "softmax"), else ""
    logits: str = ""
    grad_input: list = attrs.Factory(list)
    lr: Optional[Num] = None
    activation_override: str = ""

    @property
    def output_delta_rule(self) -> str:
        """The output delta as a formula of a, y and z."""
        last = self.layers[-1]
        if self.logits or (last.activation == "softmax" and self.loss_name == "ce") or (
                last.activation == "sigmoid" and self.loss_name == "bce"):
            return "p - y" if self.logits else "a - y"
        if last.activation == "softmax":
            return "a * (g - sum(g * a)), g = dL/da"
        grad = {"mse": "(a - y)", "bce": "(a - y) / (a * (1 - a))", "ce": "(-y / a)"}[self.loss_name]
        return f"{grad} * {SLOPE_RULE[last.activation]}"


#: f'(z) of each elementwise activation, as the worked solution writes it.
SLOPE_RULE = {"linear": "1", "relu": "(z > 0 ? 1 : 0)", "sigmoid": "a * (1 - a)", "tanh": "(1 - a^2)"}


def parse_numbers(text: str) -> list:
    """`2,-1`, `0.5, 1/3` (an option's value) -> exact Nums; ValueError with a message."""
    values = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            raise ValueError(f"{text!r}: an empty value between commas")
        try:
            if "/" in item:
                top, bottom = item.split("/", 1)
                value = Fraction(Fraction(top.strip()), Fraction(bottom.strip()))
            else:
                value = Fraction(item)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{item!r} is not a number (write 2, -1, 0.5 or 1/3)") from None
        values.append(Num(value))
    return values


def network(model, activation: str = "", values: bool = True) -> list:
    """The dense layers of a compiled model as LayerTraces (weights as Nums); TraceError for what a
    trace cannot compute. With `values` false (the equations without numbers, `--symbolic`) a layer
    needs no weights: its weights and bias are zeros of the layer's sizes."""
    from . import layers as kinds

    found = []
    previous = -1
    for node in model.layers:
        kind = kinds.kind_of(node)
        where = "/".join((*node.path, node.name))
        if node.inputs != (previous,):
            raise TraceError("E401", f"nnc trace computes a chain of layers: {where} has another input",
                             node.span)
        previous = node.index
        if kind.identity_at_inference and not node.activation:  # dropout: as at inference
            continue
        if not kind.traceable:
            raise TraceError("E401", f"nnc trace computes dense layers only: {where} is a {node.kind} layer",
                             node.span, ("write the network with dense layers (an activation as a dense "
                                         "layer's word: dense 2 sigmoid)",))
        if len(node.input_shape or ()) != 1:
            raise TraceError("E401", f"nnc trace computes dense layers on a vector: {where} gets "
                                     f"{kinds.fmt_shape(node.input_shape)}", node.span)
        args = node.args
        if not values:
            function = activation or node.activation or "linear"
            if function not in ACTIVATIONS:
                raise TraceError("E401", f"nnc trace computes {', '.join(ACTIVATIONS)}: {where} uses {function}",
                                 node.span)
            units, inputs = args["units"], node.input_shape[0]
            found.append(LayerTrace(
                node.name if not node.path else where, function, [[Num(0)] * inputs for _ in range(units)],
                [Num(0)] * units if args.get("bias") not in (None, False) else None, [], span=node.span,
                overridden=bool(activation)))
            continue
        if args.get("weights") is None:
            raise TraceError("E103", f"{where} has no weights: nnc trace needs them (weights=[[...], ...], one "
                                     "row per output neuron)", node.span,
                             (f"e.g. {_example(args['units'], node.input_shape[0])}",))
        function = activation or node.activation or "linear"
        if function not in ACTIVATIONS:
            raise TraceError("E401", f"nnc trace computes {', '.join(ACTIVATIONS)}: {where} uses {function}",
                             node.span)
        bias = args.get("bias")
        if bias is True:
            raise TraceError("E103", f"{where} adds a bias without its values: write them (bias=[...], one per "
                                     "output neuron) or bias=false", node.span,
                             (f"e.g. bias=[{', '.join(['0'] * args['units'])}]",))
        found.append(LayerTrace(
            node.name if not node.path else where, function,
            [[Num(v) for v in row] for row in args["weights"]],
            [Num(v) for v in bias] if isinstance(bias, tuple) else None, [], span=node.span,
            overridden=bool(activation)))
    if not found:
        raise TraceError("E401", "nnc trace needs at least one dense layer", model.span)
    return found


def _example(units: int, inputs: int) -> str:
    row = "[" + ", ".join(["0.1"] * inputs) + "]"
    return "weights=[" + ", ".join([row] * units) + "]"


def run(name: str, layers: list, x: list, target: list, loss: str, lr: Optional[Num] = None,
        activation: str = "") -> Trace:
    """Forward, loss, backward (and one step with `lr`) through `layers`; ValueError for a target or
    input that does not fit (the message says why)."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r} (one of {', '.join(LOSSES)})")
    inputs = len(layers[0].weights[0])
    if len(x) != inputs:
        raise ValueError(f"--input has {len(x)} value(s), the model takes {inputs}")
    outputs = len(layers[-1].weights)
    if loss == "ce" and len(target) == 1 and outputs > 1:  # a class index
        index = target[0].value
        if index.denominator != 1 or not 0 <= index < outputs:
            raise ValueError(f"--target {index}: with ce and {outputs} outputs, a class index from 0 to "
                             f"{outputs - 1} (or {outputs} probabilities)")
        target = [Num(Fraction(int(i == index))) for i in range(outputs)]
    if len(target) != outputs:
        raise ValueError(f"--target has {len(target)} value(s), the model gives {outputs}")
    trace = Trace(name, loss, list(x), list(target), layers, lr=lr, activation_override=activation)
    # forward
    values = list(x)
    for layer in layers:
        layer.x = values
        layer.z = []
        for i, row in enumerate(layer.weights):
            total = layer.bias[i] if layer.bias is not None else Num(Fraction(0))
            for w, v in zip(row, values):
                total = total + w * v
            layer.z.append(total)
        layer.a = activate(layer.activation, layer.z)
        values = layer.a
    last = layers[-1]
    if loss in ("bce", "ce") and last.activation == "linear":
        trace.logits = "sigmoid" if loss == "bce" else "softmax"
        probs = activate(trace.logits, last.z)
    else:
        probs = last.a
    trace.outputs = probs
    y = target
    # the loss
    if loss == "mse":
        total = Num(Fraction(0))
        for p, t in zip(probs, y):
            total = total + (p - t) * (p - t)
        trace.loss = total / 2
    else:
        total = Num(Fraction(0))
        for p, t in zip(probs, y):
            if loss == "bce":
                if not 0 <= t.value <= 1:
                    raise ValueError(f"bce: a target of {float(t.value):g} is not in [0, 1]")
                total = total - _xlog(t, p) - _xlog(1 - t, 1 - p)
            else:
                total = total - _xlog(t, p)
        trace.loss = total
    # backward: the output layer
    if trace.logits or (loss == "ce" and last.activation == "softmax") or (
            loss == "bce" and last.activation == "sigmoid"):
        last.delta = [p - t for p, t in zip(probs, y)]
        last.grad_a = ([p - t for p, t in zip(probs, y)] if trace.logits else
                       [_loss_grad(loss, p, t) for p, t in zip(probs, y)])
        if not trace.logits:
            last.slope = None if last.activation == "softmax" else [derivative(last.activation, z, a)
                                                                    for z, a in zip(last.z, last.a)]
    else:
        last.grad_a = [_loss_grad(loss, p, t) for p, t in zip(probs, y)]
        _deltas(last)
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        if index < len(layers) - 1:
            after = layers[index + 1]
            layer.grad_a = [_dot([row[j] for row in after.weights], after.delta) for j in range(len(layer.a))]
            _deltas(layer)
        layer.grad_weights = [[d * v for v in layer.x] for d in layer.delta]
        layer.grad_bias = list(layer.delta) if layer.bias is not None else None
        if lr is not None:
            layer.weights_after = [[w - lr * g for w, g in zip(row, grads)]
                                   for row, grads in zip(layer.weights, layer.grad_weights)]
            if layer.bias is not None:
                layer.bias_after = [b - lr * g for b, g in zip(layer.bias, layer.grad_bias)]
    first = layers[0]
    trace.grad_input = [_dot([row[j] for row in first.weights], first.delta) for j in range(len(x))]
    return trace


def _dot(weights: list, deltas: list) -> Num:
    total = Num(Fraction(0))
    for w, d in zip(weights, deltas):
        total = total + w * d
    return total


def _xlog(t: Num, p: Num) -> Num:
    """t * log(p), 0 when t is 0 (whatever p)."""
    if t.value == 0:
        return Num(Fraction(0), t.exact)
    if p.value <= 0:
        raise ValueError("the loss is infinite: a probability of 0 where the target is not 0")
    return t * log(p)


def _loss_grad(loss: str, p: Num, t: Num) -> Num:
    if loss == "mse":
        return p - t
    if loss == "bce":
        if p.value in (0, 1):
            raise ValueError("bce: an output of exactly 0 or 1 has no gradient")
        return (p - t) / (p * (1 - p))
    if t.value == 0:
        return Num(Fraction(0), t.exact)
    return -t / p


def _deltas(layer: LayerTrace) -> None:
    """delta = dL/dz from dL/da through the layer's activation."""
    if layer.activation == "softmax":
        weighted = _dot(layer.grad_a, layer.a)
        layer.slope = None
        layer.delta = [a * (g - weighted) for a, g in zip(layer.a, layer.grad_a)]
        return
    layer.slope = [derivative(layer.activation, z, a) for z, a in zip(layer.z, layer.a)]
    layer.delta = [g * s for g, s in zip(layer.grad_a, layer.slope)]


# --- numbers as text ----------------------------------------------------------------------


def decimal_text(value: Fraction, digits: int, strip: bool = False) -> str:
    """`value` rounded half away from zero to `digits` decimals (trailing zeros dropped with `strip`)."""
    quantum = decimal.Decimal(1).scaleb(-digits)
    rounded = _decimal(value).quantize(quantum, rounding=decimal.ROUND_HALF_UP, context=_CONTEXT)
    text = format(rounded, "f")
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]
    return text


def show(num: Num, digits: int) -> str:
    """A value as the worked solution writes it: an exact value in full when it has at most
    `digits` decimals, an exact fraction as p/q, anything else rounded to `digits` decimals."""
    value = num.value
    if num.exact:
        if value.denominator == 1:
            return str(value.numerator)
        shown = decimal_text(value, digits, strip=True)
        if Fraction(shown) == value:
            return shown
        return f"{value.numerator}/{value.denominator}"
    return decimal_text(value, digits)


def approx(num: Num, digits: int) -> str:
    """`show`, with the decimal value after an exact fraction: 1/3 (~0.3333)."""
    text = show(num, digits)
    if "/" in text:
        return f"{text} (~{decimal_text(num.value, digits)})"
    return text
