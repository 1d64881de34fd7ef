"""Recurrent layers: simple RNN, LSTM, GRU.

Parameters per direction, with g gates, u units and f input features:
    g * (u*(f + u) + b*u)
where b is the number of bias vectors per gate: Keras has one (two for a GRU
with reset_after=True, its default), PyTorch always two (b_ih and b_hh), the
textbook one.
"""

from __future__ import annotations

from ..choices import CONVENTIONS
from ..formula import ZERO, F
from .base import Arg, Args, Context, Facts, LayerKind, Layout, Result, Shown, fmt_shape


class Recurrent(LayerKind):
    family = "recurrent"
    takes_activation = True
    ranks = (2,)
    rank_hint = "time steps x features"
    positional = (Arg("units", "count", None, "size of the hidden state", aliases=("hidden_size",), required=True),)
    layout = Layout.LAST_AXIS
    export_as = "recurrent"

    def __init__(self, name: str, gates: int, aliases: tuple, summary: str, keras_class: str, torch_class: str,
                 gru: bool = False):
        self.name, self.gates, self.aliases, self.summary = name, gates, aliases, summary
        self.word = name.upper()  # RNN, LSTM, GRU
        self.keras_class, self.torch_class = keras_class, torch_class
        options = [
            Arg("return_sequences", "bool", False, "output every time step (T x units) instead of the last"),
            Arg("bidirectional", "bool", False, "run forwards and backwards and concatenate (2 x units)"),
            Arg("bias", "bool", True, "use bias vectors", aliases=("use_bias",)),
        ]
        if gru:
            options.append(Arg("reset_after", "bool", True,
                               "apply the reset gate after the recurrent product (Keras' default: 2 biases/gate)"))
        self.options = tuple(options)

    def facts(self, a: dict, shape, window) -> Facts:
        # per gate, the input and the hidden state (features + units) into the units
        inputs = shape[-1] + a["units"]
        return Facts((self.gates, inputs, a["units"]) if self.gates > 1 else (inputs, a["units"]))

    def describe(self, a: dict, shown: Shown) -> list:
        head = f"{'bidirectional ' if a.get('bidirectional') else ''}{self.word} {a.get('units', '?')}"
        return [head, "return_sequences" if a.get("return_sequences") else ""]

    def biases_per_gate(self, a: Args, convention: str) -> int:
        if not a.bias:
            return 0
        if convention == "pytorch":
            return 2
        if convention == "keras" and a.get("reset_after", False):
            return 2
        return 1

    def infer(self, shape, a: Args, ctx: Context):
        steps, features = shape
        if features is None:
            ctx.error("E205", f"{self.name} needs a known number of features (the last axis), got {fmt_shape(shape)}")
            return None
        if steps == 1:
            ctx.warn("W301", f"{self.name} receives a sequence of one time step: the recurrence never runs, "
                             "so it acts as a dense layer with extra parameters",
                     None, "feed it the sequence (time steps x features), or use dense")
        u, g = a.units, self.gates
        directions = 2 if a.bidirectional else 1
        by_biases: dict = {}  # biases per gate -> the parameters

        def parameters(biases: int) -> F:
            per_gate = F(u) * (F(features) + u)
            if biases:
                per_gate = per_gate + (F(biases) * u if biases > 1 else F(u))
            params = F(g) * per_gate if g > 1 else per_gate
            return F(2) * params if directions == 2 else params

        counts = {}
        for convention in CONVENTIONS:
            biases = self.biases_per_gate(a, convention)
            if biases not in by_biases:
                by_biases[biases] = parameters(biases)
            counts[convention] = (by_biases[biases], ZERO)
        per_step = F(g) * u * (F(features) + u) if g > 1 else F(u) * (F(features) + u)
        if directions == 2:
            per_step = F(2) * per_step
        macs = F(steps) * per_step  # T*per_step for a length T left open (UNKNOWN after an error)
        width = directions * u
        out = (steps, width) if a.return_sequences else (width,)
        return Result(out, trainable=counts["keras"][0], macs=macs, by_convention=counts)


KINDS = (
    Recurrent("rnn", 1, ("SimpleRNN", "RNN", "simple_rnn", "simplernn"), "simple (Elman) recurrent layer",
              "SimpleRNN", "RNN"),
    Recurrent("lstm", 4, ("LSTM",), "long short-term memory: 4 gates", "LSTM", "LSTM"),
    Recurrent("gru", 3, ("GRU",), "gated recurrent unit: 3 gates", "GRU", "GRU", gru=True),
)
