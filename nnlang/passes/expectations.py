"""The expectation pass: every `->` the expansion met (on the input, a layer, a block call or a
join) compared with what inference computed, in the order they were met; then the model's own,
`} -> params=N macs=N SHAPE`, compared with its totals and its output shape.

A site's diagnostics are placed right after the expansion diagnostics reported before it, so
that a file reads as one walk of the program: a layer's expectation is reported before what the
statements after it find."""

from __future__ import annotations

from typing import Optional

from .. import ast, ir
from ..diagnostics import suggest
from ..formula import F
from ..layers.base import EXPECTATION_KEYS, fmt_shape
from .context import ModelContext, Site, Stop


def check_expectations(ctx: ModelContext) -> None:
    expansion_errors = ctx.errors
    for site in ctx.expectations:
        ctx.place(site.order)
        if site.covers is not None:
            _check_group(ctx, site)
        elif site.layer is not None:
            node = site.layer
            # checked as the compilation's convention counts them (as `nnc FILE` reports them)
            trainable, non_trainable = node.counts(ctx.convention)
            params = trainable + non_trainable if non_trainable.value else trainable
            _check(ctx, site.expect, site.shape, params, node.macs, site.env, node.dims,
                   {"trainable": trainable, "non_trainable": non_trainable})
        else:  # the model input
            _check(ctx, site.expect, site.shape, None, None, site.env)
    if ctx.node.expect is not None and ctx.expanded and not expansion_errors:  # else the totals are partial
        ctx.place(ctx.found)  # after everything the statements reported
        _check_model(ctx)
    ctx.place(None)


def _check_model(ctx: ModelContext) -> None:
    """`} -> params=N macs=N SHAPE`: the model's totals (as `nnc FILE` reports them) and its output."""
    model = ctx.model
    totals = ir.Totals.of(model.layers, ctx.convention)
    where = f"the model's total over its {totals.layers} layer{'s' if totals.layers != 1 else ''}"
    macs = None if totals.macs is None else F(totals.macs, where)
    _check(ctx, ctx.node.expect, model.output_shape, F(totals.params, where), macs, {}, (),
           {"trainable": F(totals.trainable, where), "non_trainable": F(totals.non_trainable, where)},
           lambda key: _by_layer(model.layers, key, ctx.convention))


#: Layers a note on a model's total lists at most.
_SHOWN_LAYERS = 12


def _by_layer(layers, key: str, convention: str) -> str:
    """'by layer: conv2d_1 2,432 + dense_1 5,130' for a model's count `key`, layers of 0 left out."""
    values = []
    for node in layers:
        trainable, non_trainable = node.counts(convention)
        value = {"params": trainable.value + non_trainable.value, "trainable": trainable.value,
                 "non_trainable": non_trainable.value, "macs": node.macs.value}.get(key)
        if value:
            values.append(f"{node.name} {value:,}")
    if not values:
        return ""
    more = len(values) - _SHOWN_LAYERS
    shown = " + ".join(values[:_SHOWN_LAYERS]) + (f" + {more} more" if more > 0 else "")
    return f"by layer: {shown}"


def _check_group(ctx: ModelContext, site: Site) -> None:
    inside = ir.Totals.of(ir.Group("", "block", (), None, children=list(site.covers)).layers(), ctx.convention)
    where = f"the sum over its {inside.layers} layers"
    macs = None if inside.macs is None else F(inside.macs, where)  # unknown until run time: not compared
    _check(ctx, site.expect, site.shape, F(inside.params, where), macs, site.env, (),
           {"trainable": F(inside.trainable, where), "non_trainable": F(inside.non_trainable, where)})


def _shape_matches(wanted: tuple, computed: tuple) -> bool:
    """Whether a written shape is what was computed: `?` matches any size, a named size's
    expression (Tx512, (H//2)x(W//2)x64) matches the computed one exactly, as an identity."""
    return len(wanted) == len(computed) and all(w is None or w == c for w, c in zip(wanted, computed))


def _check(ctx: ModelContext, expect: ast.Expectation, shape, params: Optional[F], macs: Optional[F], env,
           dims=(), counts: Optional[dict] = None, explain=None) -> None:
    """Compare `expect` with what was computed; `explain(key)`, when given, is a note on a count
    that differs."""
    program = ctx.program
    if expect.shape is not None and shape is not None:
        try:
            wanted = ctx.evaluate(expect.shape, env)
        except Stop:
            return
        if not isinstance(wanted, tuple):
            wanted = (wanted,)
        program.expectations_checked += 1
        if not _shape_matches(tuple(wanted), tuple(shape)):
            notes = []
            spatial = [d for d in dims if d is not None]
            if spatial:
                notes.append("computed: " + ", ".join(d.worked() for d in spatial))
            ctx.report("E301", f"output shape: expected {fmt_shape(wanted)}, computed {fmt_shape(shape)}",
                       expect.shape.span, *notes)
    for key, node, span in expect.counts:
        try:
            value = ctx.integer(node, env)
        except Stop:
            continue
        if key == "params":
            got = params
        elif key == "macs":
            got = macs
        elif key in ("trainable", "non_trainable") and counts is not None:
            got = counts[key]
        else:
            ctx.report("E304", f"unknown expectation '{key}'", span,
                       suggest(key, EXPECTATION_KEYS) or "expectations: " + ", ".join(f"{k}=N" for k in
                                                                                  EXPECTATION_KEYS))
            continue
        if got is None or got.value is None:  # nothing to compare, or unknown until run time
            continue
        program.expectations_checked += 1
        if got.value == value:
            continue
        code = "E303" if key == "macs" else "E302"
        ctx.report(code, f"{key}: expected {value:,}, computed {got.worked()}", span,
                   explain(key) if explain is not None else "")
