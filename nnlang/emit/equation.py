"""`--format equation`: a chain network written as one formula in LaTeX, with the matrix sizes.

With `augmented` (`--augmented`) a dense layer on a vector with a bias is one multiplication,
the bias folded in as the last column of the weights: `tanh([W b] [x; 1])`, `[W b]` of size
outputs x (inputs + 1) times `[x; 1]` of size (inputs + 1) x 1."""

from __future__ import annotations

from .. import ir
from ..layers import Weighted, kind_of
from ..layers.base import fmt_dim
from .tables import latex_escape

_FUNCTIONS = {"tanh": r"\tanh", "sigmoid": r"\sigma", "linear": ""}
#: What stands between the weights and the input, by the operation a layer performs.
_OPERATORS = {"product": r"\,", "convolution": r" \ast"}


#: How the weights' sizes read, by operation, written under the formula: a matrix is outputs x
#: inputs, as `y = W x` needs, while the summary's Kernel column writes weights inputs first
#: (docs/conventions.md, "Orientation of weights").
_ORIENTATION = {
    "product": r"$W$ is outputs $\times$ inputs, one row per output, as $y = W x$ reads it (the Kernel column "
               r"of the summary writes inputs $\times$ outputs, $W^{\mathsf{T}}$)",
    "convolution": r"$K$ is the kernel's size along each axis $\times$ input channels $\times$ filters",
}


class NotAChain(ValueError):
    """The model branches: it has no single nested formula."""


def _apply(function: str, inner: str) -> str:
    name = _FUNCTIONS.get(function, rf"\mathrm{{{latex_escape(function)}}}")
    if not name:
        return inner
    return rf"{name}\left({inner}\right)"


def _dims(sizes: tuple) -> str:
    """Sizes joined by \\times; a size unknown until run time is written `?`, a named size (T, Seq_len,
    ceil(H/2) - 1) as text in math mode, escaped."""
    return r" \times ".join(_size(d) for d in sizes) if sizes else ""


def _size(d) -> str:
    if d is None:
        return "?"
    if type(d) is int:
        return str(d)
    return latex_escape(fmt_dim(d)).replace("*", r" \cdot ")


def _stacked(inner: str) -> str:
    """[inner; 1]: the input with a 1 under it (core LaTeX, no package)."""
    return rf"\left[\begin{{array}}{{c}} {inner} \\ 1 \end{{array}}\right]"


def model_equation(model: ir.Model, augmented: bool = False) -> str:
    if any(kind_of(n).joins_branches for n in model.layers):
        raise NotAChain(f"model '{model.name}' has branches: --format equation needs a chain of layers")
    expression = "x"
    shapes = [rf"x \in \mathbb{{R}}^{{{_dims(model.input_shape)}}}"] if model.input_shape else []
    weighted = 0
    folds = 0
    operations = set()
    for node in model.layers:
        kind = kind_of(node)
        term = kind.equation_term(node.args, node.input_shape)
        if term is None:
            continue
        if isinstance(term, Weighted):
            weighted += 1
            operations.add(term.operation)
            index = latex_escape(node.label) if node.label else str(weighted)
            symbol = f"{term.symbol}_{{{index}}}"
            if augmented and term.operation == "product" and kind.adds_bias(node.args) \
                    and len(node.input_shape or ()) == 1 and type(node.input_shape[0]) is int:
                inputs = node.input_shape[0]
                named = "x" if weighted == 1 else f"a_{{{weighted - 1}}}"
                folded = rf"\left[\, {symbol} \;\; b_{{{index}}} \,\right]"
                expression = rf"{folded} {_stacked(expression)}"
                shapes.append(rf"{folded} \in \mathbb{{R}}^{{{_dims((term.sizes[0], inputs + 1))}}}")
                shapes.append(rf"{_stacked(named)} \in \mathbb{{R}}^{{{inputs + 1} \times 1}}")
                folds += 1
                if node.activation:
                    expression = _apply(node.activation, expression)
                continue
            expression = f"{symbol}{_OPERATORS[term.operation]} {expression}"
            shapes.append(rf"{symbol} \in \mathbb{{R}}^{{{_dims(term.sizes)}}}")
            if kind.adds_bias(node.args):
                expression += rf" + b_{{{index}}}"
                shapes.append(rf"b_{{{index}}} \in \mathbb{{R}}^{{{node.output_shape[-1]}}}")
        else:
            expression = _apply(term.function, expression)
        if node.activation:
            expression = _apply(node.activation, expression)
    lines = [f"% model {model.name}", r"\[", f"  y = {expression}", r"\]"]
    if shapes:
        lines += [r"\[", "  " + r",\quad ".join(shapes), r"\]"]
    notes = [_ORIENTATION[operation] for operation in _ORIENTATION if operation in operations]
    if folds:
        notes.append(r"$[W\; b]$ is $W$ with the bias $b$ as one more column, times the input with a 1 under it: "
                     r"$[W\; b] \left[\begin{array}{c} x \\ 1 \end{array}\right] = W x + b$, "
                     r"$a_{k}$ the output of the $k$-th weighted layer")
    if notes:
        lines.append(r"\noindent Sizes: " + "; ".join(notes) + ".")
    return "\n".join(lines)


def render(program, augmented: bool = False) -> str:
    return "\n\n".join(model_equation(m, augmented) for m in program.models) + "\n"
