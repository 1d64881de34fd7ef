"""`nnc diagram FILE --ops`: the computational graph of a dense network at the level of its
operations (matrix multiplication, bias addition, activation, loss), with the size of the matrix
on every edge, as a backpropagation handout draws it. With `augmented`, a layer with a bias is one
multiplication of [W b] by [x; 1] (nnc FILE --format equation --augmented writes the same).

The layers are read as `nnc trace` reads them (nnlang.trace.network): a chain of dense layers on
a vector; anything else is refused there, with a located diagnostic.
"""

from __future__ import annotations

import graphviz

from .dot import escape

#: The losses a graph may end with, as `nnc trace --loss` names them.
LOSSES = ("mse", "bce", "ce")

_TIMES = "\u00d7"  # 2×4


def _size(rows, columns=1) -> str:
    return f"{rows}{_TIMES}{columns}"


def _label(text: str, sub: str = "") -> str:
    """An HTML-like label: the escaped text, and a smaller second line."""
    second = f'<BR/><FONT POINT-SIZE="9">{escape(sub)}</FONT>' if sub else ""
    return f"<{escape(text)}{second}>"


def build(models_and_layers: list, augmented: bool = False, loss: str = "mse",
          rankdir: str = "LR") -> graphviz.Digraph:
    """The graph of each (model name, nnlang.trace.LayerTrace list), side by side."""
    graph = graphviz.Digraph("operations", graph_attr={"rankdir": rankdir, "margin": "0", "pad": "0",
                                                       "fontname": "Helvetica", "nodesep": "0.3"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    for number, (name, layers) in enumerate(models_and_layers):
        with graph.subgraph(name=f"cluster_{number}") as part:
            part.attr(label=_label(name), labeljust="l", style="rounded", color="gray60")
            _model(part, f"m{number}_", layers, augmented, loss)
    return graph


def _model(graph, prefix: str, layers: list, augmented: bool, loss: str) -> None:
    inputs = len(layers[0].weights[0]) if layers[0].weights and layers[0].weights[0] else 0
    previous, size = f"{prefix}x", _size(inputs)
    graph.node(previous, _label("x", size), shape="ellipse")
    for index, layer in enumerate(layers, 1):
        units, fan_in = len(layer.weights), inputs
        here = f"{prefix}l{index}_"
        with_bias = layer.bias is not None
        product = here + "matmul"
        graph.node(product, _label("matmul"), shape="circle", style="filled", fillcolor="#dbe9f6")
        if augmented and with_bias:
            stack = here + "stack"
            graph.node(stack, _label("stack", "[a; 1]"), shape="circle")
            graph.edge(previous, stack, label=size)
            graph.node(here + "wb", _label(f"[W{index} b{index}]", _size(units, fan_in + 1)), shape="box")
            graph.edge(here + "wb", product, label=_size(units, fan_in + 1))
            graph.edge(stack, product, label=_size(fan_in + 1))
            out = product
        else:
            graph.node(here + "w", _label(f"W{index}", _size(units, fan_in)), shape="box")
            graph.edge(here + "w", product, label=_size(units, fan_in))
            graph.edge(previous, product, label=size)
            out = product
            if with_bias:
                add = here + "add"
                graph.node(add, _label("+"), shape="circle", style="filled", fillcolor="#e8f3e3")
                graph.node(here + "b", _label(f"b{index}", _size(units)), shape="box")
                graph.edge(product, add, label=_size(units))
                graph.edge(here + "b", add, label=_size(units))
                out = add
        size = _size(units)
        if layer.activation != "linear":
            activation = here + "act"
            graph.node(activation, _label(layer.activation), shape="circle", style="filled", fillcolor="#fdebd3")
            graph.edge(out, activation, label=f"z{index}: {size}")
            out = activation
        previous, inputs = out, units
    graph.node(prefix + "y", _label("y", size), shape="ellipse")
    graph.node(prefix + "loss", _label(f"{loss} loss"), shape="circle", style="filled", fillcolor="#f6dbdb")
    graph.edge(previous, prefix + "loss", label=f"a: {size}")
    graph.edge(prefix + "y", prefix + "loss", label=size)
    graph.node(prefix + "L", _label("L", _size(1)), shape="ellipse")
    graph.edge(prefix + "loss", prefix + "L", label=_size(1))
