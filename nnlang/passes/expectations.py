"""The expectation pass: every `->` the expansion met (on the input, a layer, a block call or a
join) compared with what inference computed, in the order they were met.

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
    ctx.place(None)


def _check_group(ctx: ModelContext, site: Site) -> None:
    inside = ir.Totals.of(ir.Group("", "block", (), None, children=list(site.covers)).layers(), ctx.convention)
    where = f"the sum over its {inside.layers} layers"
    macs = None if inside.macs is None else F(inside.macs, where)  # unknown until run time: not compared
    _check(ctx, site.expect, site.shape, F(inside.params, where), macs, site.env, (),
           {"trainable": F(inside.trainable, where), "non_trainable": F(inside.non_trainable, where)})


def _check(ctx: ModelContext, expect: ast.Expectation, shape, params: Optional[F], macs: Optional[F], env,
           dims=(), counts: Optional[dict] = None) -> None:
    program = ctx.program
    if expect.shape is not None and shape is not None:
        try:
            wanted = ctx.evaluate(expect.shape, env)
        except Stop:
            return
        if not isinstance(wanted, tuple):
            wanted = (wanted,)
        program.expectations_checked += 1
        if tuple(wanted) != tuple(shape):
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
        ctx.report(code, f"{key}: expected {value:,}, computed {got.worked()}", span)
