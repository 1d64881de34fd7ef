"""The pass that counts one time step where a sequence's length is unknown (see count_per_step)."""

from __future__ import annotations

import attrs

from ..formula import PerStep, Unknown
from .context import ModelContext


def count_per_step(ctx: ModelContext) -> None:
    """In a model whose recurrent layers count one time step of a sequence of unknown length
    (W304), the other layers on such a sequence count one time step too, as its totals say: a
    count known per step (formula.Unknown.step) is that count, and every count of a layer whose
    output has an unknown size is marked formula.PerStep (the report counts its bias additions
    and activations for one step). Elsewhere such counts stay unknown."""
    model = ctx.model
    if not any(n.family == "recurrent" and n.input_shape and n.input_shape[0] is None for n in model.layers):
        return
    stepped: dict = {}  # id(Result) -> its copy with the per-step count: layers that shared one share the copy
    for node in model.layers:
        result = node.result
        if result is None or node.output_shape is None or None not in node.output_shape:
            continue
        macs = result.macs
        if isinstance(macs, Unknown):
            if macs.step is None:
                continue  # unknown for another reason than the length
            macs = macs.step
        if id(result) not in stepped:
            stepped[id(result)] = (result, attrs.evolve(result, macs=PerStep(macs)))  # the original kept alive
        node.result = stepped[id(result)][1]
