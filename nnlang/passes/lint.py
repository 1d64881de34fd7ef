"""Lint rules: warnings about a whole compiled model, each a small function of the context, run in
the order of LINT_RULES after the expectations are checked (only on a model expanded to its end);
then `unused_allows`, which reads what every other pass reported."""

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


def unused_allows(ctx: ModelContext) -> None:
    """W002: an `allow` of the model (a statement, or a marker at the end of one of its statements)
    whose code nothing there reported. Run after every other pass, on a model without errors
    (one with errors may not have reached what the `allow` is for). The `allow`s written in
    blocks are not checked: a block's layers may warn for some arguments and not for others."""
    if ctx.errors:
        return
    for allow in ctx.node.allows:
        for code, span in allow.codes:
            if (allow, code) in ctx.allowed:
                continue
            if allow.scope is None:
                ctx.report("W002", f"allow {code}: no {code} is reported in model '{ctx.node.name}'", span,
                           "remove it, or check the code: `nnc explain CODE` describes one")
            elif allow.span[2:] != allow.scope[2:]:  # a statement in a branch or a repeat
                ctx.report("W002", f"allow {code}: no {code} is reported here", span,
                           "an `allow` in a branch or a repeat covers the statements written inside it")
            else:  # a marker: it ends the statement it covers
                ctx.report("W002", f"allow {code}: no {code} is reported here", span,
                           "an `allow` at the end of a statement covers what that statement reports (for a "
                           "block call, not the layers of the block: write the `allow` in the block, or as "
                           "a statement of the model)")
