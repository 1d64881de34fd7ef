"""`--format equation`: a chain network written as one formula in LaTeX, with the matrix sizes."""

from __future__ import annotations

from .. import ir
from .tables import latex_escape

_FUNCTIONS = {"tanh": r"\tanh", "sigmoid": r"\sigma", "linear": ""}


class NotAChain(ValueError):
    """The model branches: it has no single nested formula."""


def _apply(function: str, inner: str) -> str:
    name = _FUNCTIONS.get(function, rf"\mathrm{{{latex_escape(function)}}}")
    if not name:
        return inner
    return rf"{name}\left({inner}\right)"


def _dims(*values) -> str:
    """Sizes joined by \\times; a size unknown until run time is written `?`."""
    return r" \times ".join("?" if v is None else str(v) for v in values)


def model_equation(model: ir.Model) -> str:
    if any(n.kind in ("concat", "add") for n in model.layers):
        raise NotAChain(f"model '{model.name}' has branches: --format equation needs a chain of layers")
    expression = "x"
    shapes = [rf"x \in \mathbb{{R}}^{{{_dims(*model.input_shape)}}}"] if model.input_shape else []
    weighted = 0
    for node in model.layers:
        name = latex_escape(node.label) if node.label else None
        if node.kind in ("dense", "conv1d", "conv2d", "conv3d"):
            weighted += 1
            index = name or str(weighted)
            symbol = "W" if node.kind == "dense" else "K"
            fan_in = node.input_shape[-1]
            if node.kind == "dense":
                term = rf"{symbol}_{{{index}}}\, {expression}"
                shapes.append(rf"{symbol}_{{{index}}} \in \mathbb{{R}}^{{{_dims(node.args['units'], fan_in)}}}")
            else:
                term = rf"{symbol}_{{{index}}} \ast {expression}"
                kernel = node.args["k"]
                shapes.append(rf"{symbol}_{{{index}}} \in \mathbb{{R}}^{{{_dims(*kernel, fan_in, node.args['filters'])}}}")
            if node.args.get("bias"):
                width = node.output_shape[-1]
                term += rf" + b_{{{index}}}"
                shapes.append(rf"b_{{{index}}} \in \mathbb{{R}}^{{{width}}}")
            expression = term
            if node.activation:
                expression = _apply(node.activation, expression)
        elif node.kind == "activation":
            expression = _apply(node.args.get("function", "relu"), expression)
        elif node.kind in ("dropout",):
            continue
        else:
            expression = _apply(node.kind, expression)
            if node.activation:
                expression = _apply(node.activation, expression)
    lines = [f"% model {model.name}", r"\[", f"  y = {expression}", r"\]"]
    if shapes:
        lines += [r"\[", "  " + r",\quad ".join(shapes), r"\]"]
    return "\n".join(lines)


def render(program) -> str:
    return "\n\n".join(model_equation(m) for m in program.models) + "\n"
