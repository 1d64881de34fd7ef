"""Lint rules: warnings about a whole compiled model, each a small function of the context, run in
the order of LINT_RULES after the expectations are checked (only on a model expanded to its end)."""

from __future__ import annotations

from .. import layers
from .context import ModelContext


def softmax_before_last_layer(ctx: ModelContext) -> None:
    """W303: softmax turns scores into probabilities; a layer after it (other than one that passes
    its input through at inference, such as dropout) works on probabilities."""
    real = [node for node in ctx.model.layers if not layers.kind_of(node).identity_at_inference]
    for node in real[:-1]:
        if node.activation == "softmax" or layers.kind_of(node).activation_function(node.args) == "softmax":
            ctx.report("W303", f"{node.name} applies softmax before the last layer", node.span,
                       "softmax usually ends a classifier")


#: In the order they run; each reports through ctx.report.
LINT_RULES = (softmax_before_last_layer,)
