"""Attention: multi-head self-attention over a sequence (T x d, channels last).

With h heads of size k (head_dim), g key/value heads (kv_heads: grouped-query
attention when fewer than h), model width d and output width o:

    parameters  d*(h*k) + 2*d*(g*k) + (h*k)*o, plus h*k + 2*g*k + o with bias
    MACs        T*d*(h*k) + 2*T*d*(g*k)         the Q, K and V projections
                + h*T*T*k                        the scores Q K^T
                + h*T*T*k                        the weighted values A V
                + T*(h*k)*o                      the output projection

The softmax (h*T*T exponentials) is not a multiply-accumulate: it is counted
with the activations, and the biases with the bias additions (`elementwise_ops`).
A causal mask changes neither count (the frameworks compute every score).
"""

from __future__ import annotations

from typing import Optional

from ..formula import F
from .base import Arg, Args, Context, Facts, LayerKind, Layout, Result, Shown, fmt_shape


class Attention(LayerKind):
    name = "attention"
    aliases = ("MultiHeadAttention", "MultiheadAttention", "mha", "multi_head_attention")
    family = "attention"
    summary = "multi-head self-attention over a sequence (T x d): Q, K, V and output projections"
    positional = (Arg("heads", "count", None, "number of attention heads", aliases=("num_heads", "n_head"),
                      required=True),)
    options = (
        Arg("head_dim", "count", None, "size of each head's queries, keys and values (default: d/heads)",
            aliases=("key_dim", "head_size")),
        Arg("kv_heads", "count", None, "key/value heads, fewer than heads for grouped-query attention "
                                       "(default: heads)", aliases=("num_kv_heads", "num_key_value_heads")),
        Arg("bias", "bool", True, "add a bias to each projection", aliases=("use_bias",)),
        Arg("out", "count", None, "output width (default: d, the input's)", aliases=("output_dim",)),
        Arg("causal", "bool", False, "each position attends to itself and the positions before it only "
                                     "(no effect on the counts)", aliases=("is_causal", "use_causal_mask")),
        Arg("dropout", "rate", 0.0, "dropout rate on the attention weights (no weights of its own)"),
    )
    ranks = (2,)
    rank_hint = "sequence length x features"
    rank_notes = {3: "an image's positions must be flattened into a sequence first, e.g. `reshape (H*W, C)`"}
    layout = Layout.LAST_AXIS
    keras_class = "MultiHeadAttention"
    torch_class = "MultiheadAttention"
    word = "attention"

    @staticmethod
    def sizes(a: dict, d) -> tuple:
        """(heads, head size, key/value heads, output width) the layer uses on an input of width d;
        the head size None where it is left to d/heads and d is not a number."""
        heads = a["heads"]
        head_dim = a.get("head_dim")
        if head_dim is None:
            head_dim = d // heads if type(d) is int else None
        kv_heads = a.get("kv_heads") or heads
        out = a.get("out") or d
        return heads, head_dim, kv_heads, out

    def adds_bias(self, a: dict) -> bool:
        # the projections add theirs (counted by elementwise_ops), not one bias per output value
        return False

    def elementwise_ops(self, a: dict, shape) -> Optional[tuple]:
        """(bias additions, activation operations) of the layer on an input of `shape`: a bias per
        projected value (T*(h*k + 2*g*k + o)), and the softmax's h*T*T exponentials; None where a
        size is unknown."""
        if shape is None or len(shape) != 2 or None in shape:
            return None
        steps, d = shape
        heads, head_dim, kv_heads, out = self.sizes(a, d)
        if head_dim is None:
            return None
        adds = steps * (heads * head_dim + 2 * kv_heads * head_dim + out) if a.get("bias") else 0
        return adds, heads * steps * steps

    def facts(self, a: dict, shape, window) -> Facts:
        heads, head_dim, _, _ = self.sizes(a, shape[-1])
        return Facts((shape[-1], heads, head_dim))  # d into heads x head size

    def describe(self, a: dict, shown: Shown) -> list:
        heads = a.get("heads", "?")
        kernel = shown.facts.kernel
        head_dim = a.get("head_dim") or (kernel[2] if kernel else None)
        kv = a.get("kv_heads")
        return [f"{'causal ' if a.get('causal') else ''}attention, {heads} heads",
                f"head {head_dim}" if head_dim is not None else "",
                f"{kv} kv heads" if kv is not None and kv != heads else ""]

    def infer(self, shape, a: Args, ctx: Context):
        steps, d = shape
        if d is None:
            ctx.error("E205", f"attention needs a known number of features (the last axis), got {fmt_shape(shape)}")
            return None
        heads = a.heads
        head_dim = a.head_dim
        if head_dim is None:
            if type(d) is not int:
                ctx.error("E205", f"attention: the head size is d/heads, and d ({d}) is left open: give head_dim=",
                          "heads")
                return None
            if d % heads:
                ctx.error("E203", f"attention: the width {d} is not a multiple of heads={heads}: "
                                  f"{d}/{heads} = {d / heads:g}", "heads",
                          "give head_dim= (the frameworks' key_dim, head_dim) to size the heads apart from d")
                return None
            head_dim = d // heads
        kv_heads = a.kv_heads if a.kv_heads is not None else heads
        if heads % kv_heads:
            ctx.error("E203", f"attention: heads={heads} is not a multiple of kv_heads={kv_heads}: in grouped-query "
                              "attention every key/value head serves the same number of query heads", "kv_heads")
            return None
        out = a.out if a.out is not None else d
        q_width, kv_width = heads * head_dim, kv_heads * head_dim
        q = F(d) * q_width
        kv = F(d) * kv_width
        o = F(q_width) * out
        if a.bias:
            q, kv, o = q + q_width, kv + kv_width, o + out
        params = q + F(2) * kv + o
        t = F(steps)
        projections = t * d * q_width + F(2) * t * d * kv_width
        products = F(2) * heads * t * t * head_dim  # Q K^T and A V
        macs = projections + products + t * q_width * out
        return Result((steps, out), trainable=params, macs=macs)


KINDS = (Attention(),)
