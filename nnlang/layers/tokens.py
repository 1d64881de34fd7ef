"""Learned tensors added to a sequence: a class token, a position table.

On a sequence of T positions of d features (T x d, channels last):

    class_token                   prepends one learned d-vector (ViT's cls_token):
                                  output (T + 1) x d, d parameters, 0 MACs
    position_embedding max_len=N  adds a learned N x d table, its first T rows, to the sequence
                                  (ViT's pos_embed, GPT-2's wpe, BERT's position_embeddings):
                                  output T x d, N*d parameters, 0 MACs; its T*d additions
                                  count with the bias additions (like a bias per output value)

Neither multiplies anything. A position table needs T <= N; where T is a named size the check
is left to run time (the table is sized by a number, N, whatever the length).
"""

from __future__ import annotations

from ..formula import F
from .base import Arg, Args, Context, Facts, LayerKind, Layout, Result, Shown, fmt_shape

_RANK_HINT = "sequence length x features"


def _features(kind: str, shape, ctx: Context):
    """The width d of a T x d input; None after E205 when an error upstream left it unknown."""
    d = shape[-1]
    if d is None:
        ctx.error("E205", f"{kind} needs a known number of features (the last axis), got {fmt_shape(shape)}")
    return d


class ClassToken(LayerKind):
    name = "class_token"
    aliases = ("ClassToken", "cls_token")
    family = "dense"  # learned tensors, drawn as an embedding is
    summary = "prepends one learned vector (a class token) to a sequence: T x d becomes (T + 1) x d"
    ranks = (2,)
    rank_hint = _RANK_HINT
    rank_notes = {3: "an image's patches must be flattened into a sequence first, e.g. `reshape (H*W, C)`"}
    layout = Layout.LAST_AXIS
    torch_class = "ClassToken"  # a module of the exported file: nn.Parameter and torch.cat
    word = "class token"

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts((1, shape[-1]))  # one learned vector of d

    def describe(self, a: dict, shown: Shown) -> list:
        return ["class token"]

    def infer(self, shape, a: Args, ctx: Context):
        steps, _ = shape
        d = _features(self.name, shape, ctx)
        if d is None:
            return None
        out = None if steps is None else steps + 1
        return Result((out, d), trainable=F(d))


class PositionEmbedding(LayerKind):
    name = "position_embedding"
    aliases = ("PositionEmbedding", "pos_embedding", "positional_embedding")
    family = "dense"  # learned tensors, drawn as an embedding is
    summary = "adds a learned table of max_len positions x d (absolute positions) to a sequence of T <= max_len"
    positional = (
        Arg("max_len", "count", None, "the table's number of positions, the longest sequence it takes "
                                      "(a number, also where the length T is a named size)",
            aliases=("max_length", "sequence_length", "num_positions", "n_positions", "max_position_embeddings"),
            required=True),
    )
    ranks = (2,)
    rank_hint = _RANK_HINT
    rank_notes = ClassToken.rank_notes
    layout = Layout.LAST_AXIS
    torch_class = "PositionEmbedding"  # a module of the exported file: nn.Parameter sliced to T and added
    word = "position embedding"

    def adds_bias(self, a: dict) -> bool:
        return True  # one learned value added to each output value: T*d additions

    def facts(self, a: dict, shape, window) -> Facts:
        return Facts((a["max_len"], shape[-1]))  # positions x d

    def describe(self, a: dict, shown: Shown) -> list:
        return [f"position embedding {a.get('max_len', '?')}"]

    def infer(self, shape, a: Args, ctx: Context):
        steps, _ = shape
        d = _features(self.name, shape, ctx)
        if d is None:
            return None
        limit = a.max_len
        if type(steps) is int:
            if steps > limit:
                ctx.error("E203", f"position_embedding: the sequence has {steps} positions, more than the table's "
                                  f"max_len={limit}", "max_len",
                          f"max_len={steps} or more would hold every position")
                return None
        elif steps is not None:  # a named size: an error only where it is too long for every value
            from .. import symbolic

            if symbolic.is_positive(steps - limit) is True:
                ctx.error("E203", f"position_embedding: the sequence has {steps} positions, more than the table's "
                                  f"max_len={limit} for every value of the sizes", "max_len")
                return None
        return Result(tuple(shape), trainable=F(limit) * d)


KINDS = (ClassToken(), PositionEmbedding())
