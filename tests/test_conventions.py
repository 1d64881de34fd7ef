"""The counting conventions (docs/conventions.md) read from one compiled program.

A layer whose counts depend on the convention (batch norm's moving statistics, the biases of
a recurrent gate) carries them for every convention, so that a program compiled once can be
reported in any of them, and `nnc export` compiles a file once. The expected numbers are
written out as the arithmetic of docs/conventions.md.
"""

from __future__ import annotations

import json

import pytest

from helpers_nnc import assert_no_traceback, nnc_in_process
from nnlang import compiler as compiler_module
from nnlang.driver import compile_text
from nnlang.emit import json as emit_json
from nnlang.report import Options, Report

CONVENTIONS = ("keras", "pytorch", "textbook")


def compiled(text: str, convention: str):
    compilation = compile_text(text, "conventions.nn", convention)
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    return compilation.program


def last_layer(text: str, convention: str):
    return compiled(text, convention).models[0].layers[-1]


def counts(node, convention: str) -> tuple:
    trainable, non_trainable = node.counts(convention)
    return trainable.value, non_trainable.value


C = 64
U, FEATURES = 32, 8

#: .nn text -> {convention: (trainable, non-trainable)}, from docs/conventions.md
CASES = {
    # gamma and beta learned; Keras keeps the moving mean and variance as non-trainable weights,
    # PyTorch as buffers (not parameters), the textbook not at all
    f"model m {{ input 8x8x{C}; batchnorm }}": {
        "keras": (2 * C, 2 * C), "pytorch": (2 * C, 0), "textbook": (2 * C, 0)},
    f"model m {{ input 8x8x{C}; batchnorm scale=false }}": {
        "keras": (C, 2 * C), "pytorch": (C, 0), "textbook": (C, 0)},
    # GRU: Keras' reset_after=True and PyTorch keep two bias vectors per gate, the textbook one
    f"model m {{ input 15x{FEATURES}; gru {U} }}": {
        "keras": (3 * (U * (FEATURES + U) + 2 * U), 0),
        "pytorch": (3 * (U * (FEATURES + U) + 2 * U), 0),
        "textbook": (3 * (U * (FEATURES + U) + U), 0)},
    f"model m {{ input 15x{FEATURES}; gru {U} reset_after=false }}": {
        "keras": (3 * (U * (FEATURES + U) + U), 0),
        "pytorch": (3 * (U * (FEATURES + U) + 2 * U), 0),
        "textbook": (3 * (U * (FEATURES + U) + U), 0)},
    # LSTM: one bias vector per gate in Keras and the textbook, two (b_ih, b_hh) in PyTorch
    f"model m {{ input 15x{FEATURES}; lstm {U} }}": {
        "keras": (4 * (U * (FEATURES + U) + U), 0),
        "pytorch": (4 * (U * (FEATURES + U) + 2 * U), 0),
        "textbook": (4 * (U * (FEATURES + U) + U), 0)},
    "model m { input 7x8; lstm 16 bidirectional=true }": {
        "keras": (2 * 4 * (16 * (8 + 16) + 16), 0),
        "pytorch": (2 * 4 * (16 * (8 + 16) + 2 * 16), 0),
        "textbook": (2 * 4 * (16 * (8 + 16) + 16), 0)},
    "model m { input 5x10; rnn 20 }": {
        "keras": (20 * (10 + 20) + 20, 0), "pytorch": (20 * (10 + 20) + 2 * 20, 0),
        "textbook": (20 * (10 + 20) + 20, 0)},
    "model m { input 5x10; rnn 20 bias=false }": {
        "keras": (20 * (10 + 20), 0), "pytorch": (20 * (10 + 20), 0), "textbook": (20 * (10 + 20), 0)},
    # what no convention changes
    "model m { input 28x28x3; conv2d 32 k=5 }": {
        "keras": (5 * 5 * 3 * 32 + 32, 0), "pytorch": (5 * 5 * 3 * 32 + 32, 0),
        "textbook": (5 * 5 * 3 * 32 + 32, 0)},
}


@pytest.mark.parametrize("compiled_in", CONVENTIONS)
@pytest.mark.parametrize("text", list(CASES))
def test_one_compilation_read_in_every_convention(text, compiled_in):
    node = last_layer(text, compiled_in)
    assert {convention: counts(node, convention) for convention in CONVENTIONS} == CASES[text]
    # the node's own fields keep the compilation's convention
    assert (node.trainable.value, node.non_trainable.value) == CASES[text][compiled_in]


@pytest.mark.parametrize("text", list(CASES))
def test_counts_read_in_a_convention_are_that_convention_compilation_s(text):
    """Formulas and all: what one compilation reads in a convention is what compiling in it gives."""
    node = last_layer(text, "keras")
    for convention in CONVENTIONS:
        own = last_layer(text, convention)
        trainable, non_trainable = node.counts(convention)
        assert (trainable.text, trainable.worked(), non_trainable.text, non_trainable.worked()) == \
               (own.trainable.text, own.trainable.worked(), own.non_trainable.text, own.non_trainable.worked())


def test_the_worked_formulas_of_each_convention():
    node = last_layer(f"model m {{ input 15x{FEATURES}; gru {U} reset_after=false }}", "keras")
    assert node.counts("keras")[0].worked() == "3*(32*(8 + 32) + 32) = 3,936"
    assert node.counts("pytorch")[0].worked() == "3*(32*(8 + 32) + 2*32) = 4,032"
    node = last_layer(f"model m {{ input 8x8x{C}; batchnorm }}", "pytorch")
    assert node.counts("keras")[1].worked() == "2*64 = 128"
    assert node.counts("pytorch")[1].is_literal and node.counts("pytorch")[1].value == 0


NETWORK = f"""model m {{
    input 15x{FEATURES}
    gru {U} return_sequences=true
    batchnorm
    lstm {U}
}}
"""
#: per convention: (trainable, non-trainable) of the whole network
GRU = U * (FEATURES + U)
LSTM = U * (U + U)
NETWORK_TOTALS = {
    "keras": (3 * (GRU + 2 * U) + 2 * U + 4 * (LSTM + U), 2 * U),
    "pytorch": (3 * (GRU + 2 * U) + 2 * U + 4 * (LSTM + 2 * U), 0),
    "textbook": (3 * (GRU + U) + 2 * U + 4 * (LSTM + U), 0),
}


@pytest.mark.parametrize("compiled_in", CONVENTIONS)
def test_the_report_reads_the_counts_in_its_own_convention(compiled_in):
    program = compiled(NETWORK, compiled_in)
    for convention in CONVENTIONS:
        options = Options(convention=convention)
        totals = Report.of(program, options).models[0].totals
        assert (totals.trainable, totals.non_trainable) == NETWORK_TOTALS[convention]
        assert program.models[0].totals(convention)[:2] == NETWORK_TOTALS[convention]
        data = json.loads(emit_json.render(program, [], options, "conventions.nn"))
        model = data["models"][0]
        assert (model["totals"]["trainable_params"], model["totals"]["non_trainable_params"]) == \
               NETWORK_TOTALS[convention]
        assert sum(layer["params"] for layer in model["layers"]) == sum(NETWORK_TOTALS[convention])


@pytest.fixture
def compile_calls(monkeypatch):
    """How often a file is compiled in this process."""
    calls = []
    original = compiler_module.Compiler.compile

    def counted(self):
        calls.append(self.convention)
        return original(self)

    monkeypatch.setattr(compiler_module.Compiler, "compile", counted)
    return calls


@pytest.mark.parametrize("target, convention, quoted", [
    # the docstring quotes the framework's own counts, whatever the convention of the expectations
    ("pytorch", "keras", f"Parameters: {sum(NETWORK_TOTALS['pytorch']):,} as nnc counts them (--convention pytorch)"),
    ("pytorch", "textbook",
     f"Parameters: {sum(NETWORK_TOTALS['pytorch']):,} as nnc counts them (--convention pytorch)"),
    ("keras", "pytorch", f"Parameters: {sum(NETWORK_TOTALS['keras']):,} ({2 * U:,} non-trainable) as nnc counts "
                         "them (--convention keras)"),
    ("keras", "keras", f"Parameters: {sum(NETWORK_TOTALS['keras']):,} ({2 * U:,} non-trainable) as nnc counts "
                       "them (--convention keras)"),
])
def test_export_compiles_once(tmp_path, compile_calls, target, convention, quoted):
    source = tmp_path / "net.nn"
    source.write_text(NETWORK)
    proc = nnc_in_process("export", source, "--to", target, "--convention", convention)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert compile_calls == [convention]
    assert quoted in " ".join(proc.stdout.split())


def test_export_checks_expectations_in_the_chosen_convention_only(tmp_path, compile_calls):
    """params= written as Keras counts a batch norm (4C) holds for --convention keras only; the
    PyTorch export still quotes PyTorch's 2C."""
    source = tmp_path / "bn.nn"
    source.write_text("model m {\n    input 4x4x8\n    batchnorm -> 4x4x8 params=32 non_trainable=16\n}\n")
    proc = nnc_in_process("export", source, "--to", "pytorch")
    assert proc.returncode == 0, proc.stderr
    assert f"Parameters: {2 * 8} as nnc counts them (--convention pytorch)" in " ".join(proc.stdout.split())
    assert compile_calls == ["keras"]
    proc = nnc_in_process("export", source, "--to", "pytorch", "--convention", "pytorch")
    assert proc.returncode == 1 and "params" in proc.stderr
    assert compile_calls == ["keras", "pytorch"]
