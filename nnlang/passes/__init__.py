"""The compiler's passes over one model, run in the order of PASSES over a ModelContext.

1. expand_and_infer: blocks, repeats, names, arguments, shapes and costs (one pass: see
   nnlang/passes/expand.py for why expansion and inference are not split);
2. check_expectations: every `->` met by the expansion, compared with what was computed;
3. the lint rules (LINT_RULES), warnings about the whole model;
4. unused_allows: a note for an `allow` of the model that silenced nothing.

Each pass is a plain function of the context and reports through ctx.report; the context hands
the diagnostics to the bag in the order one walk of the program finds them. The lint rules run
only on a model whose expansion ran to its end (not one refused for its size).
"""

from __future__ import annotations

from .context import ModelContext, Scope, Site, Stop, TooLarge
from .expand import expand_and_infer
from .expectations import check_expectations
from .lint import LINT_RULES, unused_allows

#: The passes, in order.
PASSES = (expand_and_infer, check_expectations, *LINT_RULES)


def run_passes(ctx: ModelContext, passes=PASSES):
    """Run `passes` over the model of ctx, then hand their diagnostics to the bag; the model."""
    for each in passes:
        if each in LINT_RULES and not ctx.expanded:
            continue
        ctx.place(float("inf") if each in LINT_RULES else None)
        each(ctx)
    if ctx.expanded and ctx.node.allows:
        ctx.place(float("inf"))
        unused_allows(ctx)
    ctx.place(None)
    ctx.flush()
    return ctx.model


__all__ = ["LINT_RULES", "PASSES", "ModelContext", "Scope", "Site", "Stop", "TooLarge", "check_expectations",
           "expand_and_infer", "run_passes", "unused_allows"]
