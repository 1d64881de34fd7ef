"""The compiler's passes: their order, the order their diagnostics come out in, and each lint rule.

Expected diagnostics are written out here from the language's rules (LANGUAGE.md): a dense
layer of N units outputs N values; the W303 rule; a sliding window's output size
(n + 2p - k)/s + 1.
"""

from __future__ import annotations

from nnlang import ast, ir, layers
from nnlang.compiler import Compiler
from nnlang.diagnostics import DiagnosticBag
from nnlang.driver import compile_text
from nnlang.parser import parse
from nnlang.passes import LINT_RULES, PASSES, check_expectations, expand_and_infer
from nnlang.passes.lint import softmax_before_last_layer
from nnlang.source import Source


def _found(text: str) -> list[tuple]:
    compilation = compile_text(text, "t.nn")
    return [(d.code, d.span.line, d.message, d.notes) for d in compilation.diagnostics]


def _codes(text: str) -> list[tuple]:
    return [(code, line) for code, line, _, _ in _found(text)]


def test_the_passes_in_order():
    assert LINT_RULES == (softmax_before_last_layer,)
    assert PASSES == (expand_and_infer, check_expectations, softmax_before_last_layer)


def test_a_compiler_runs_its_passes_in_order_once_per_model():
    ran = []

    def recorded(each):
        def run(ctx):
            ran.append((ctx.model.name, each.__name__))
            each(ctx)
        return run

    source = Source("model a {\n input 4\n dense 2\n}\nmodel b {\n input 3\n dense 1\n}\n", "t.nn")
    bag = DiagnosticBag()
    compiler = Compiler(parse(source, bag), bag)
    compiler.passes = tuple(recorded(each) for each in PASSES)
    program = compiler.compile()
    assert [m.name for m in program.models] == ["a", "b"]
    names = ["expand_and_infer", "check_expectations", "softmax_before_last_layer"]
    assert ran == [("a", name) for name in names] + [("b", name) for name in names]


def test_compile_model_is_the_entry_point_per_model():
    class Counting(Compiler):
        compiled: list = []

        def compile_model(self, node: ast.Model) -> ir.Model:
            self.compiled.append(node.name)
            return super().compile_model(node)

    source = Source("model a {\n input 4\n dense 2 -> 3\n}\nmodel b {\n input 3\n}\n", "t.nn")
    bag = DiagnosticBag()
    program = Counting(parse(source, bag), bag).compile()
    assert Counting.compiled == ["a", "b"]
    assert [(m.name, m.ok) for m in program.models] == [("a", False), ("b", True)]
    assert program.expectations_checked == 1
    assert [(d.code, d.message) for d in bag] == [("E301", "output shape: expected 3, computed 2")]


def test_an_expectation_is_reported_where_it_is_written_and_lint_last():
    # line 3: dense 4 outputs 4, not 5; line 4: 0 units; line 5: softmax, then another layer
    text = "model m {\n input 8\n dense 4 -> 5\n dense 0\n dense 2 softmax\n dense 1\n}\n"
    assert _codes(text) == [("E301", 3), ("E104", 4), ("W303", 5)]


def test_the_expectations_of_a_block_call_come_after_those_inside_it():
    # the call's totals: dense 3 on 4 inputs, 4*3 + 3 = 15 parameters, not 16
    text = ("block b() {\n dense 3 -> 2\n}\n"
            "model m {\n input 4\n b() -> 3 params=16\n dense 1 -> 9\n}\n")
    found = _found(text)
    assert [(code, line) for code, line, _, _ in found] == [("E301", 2), ("E302", 6), ("E301", 7)]
    assert found[1][2] == "params: expected 16, computed the sum over its 1 layers = 15"


def test_an_expectation_that_cannot_be_evaluated_on_the_input():
    # a name outside a block is unknown: reported, the model still compiled
    text = "model m {\n input 4 -> (x*2, 1)\n dense 3\n}\n"
    assert _found(text) == [("E110", 2, "unknown name 'x'", ("names in expressions are block parameters",))]


def test_a_failed_expectation_leaves_the_shapes_known():
    # the expectation on line 3 fails to evaluate; dense 5 still outputs 5, and its own `-> 7` is checked
    text = "model m {\n input 4\n dense 3 -> (x*2, 1)\n dense 5 -> 7\n}\n"
    assert _codes(text) == [("E110", 3), ("E301", 4)]
    model = compile_text(text).program.models[0]
    assert [layer.output_shape for layer in model.layers] == [(3,), (5,)]


# -- lint rules ------------------------------------------------------------------------------------

def test_softmax_before_the_last_layer():
    text = ("model m {\n input 6\n dense 10 softmax\n activation softmax\n dropout 0.5\n dense 3\n"
            " dense 3 softmax\n dropout 0.2\n}\n")
    assert _found(text) == [
        ("W303", 3, "dense_1 applies softmax before the last layer", ("softmax usually ends a classifier",)),
        ("W303", 4, "activation_1 applies softmax before the last layer", ("softmax usually ends a classifier",)),
    ]


def test_softmax_last_is_fine_also_before_a_dropout():
    assert _found("model m {\n input 6\n dense 3 softmax\n dropout 0.5\n}\n") == []
    assert _found("model m {\n input 6\n dense 3\n activation softmax\n}\n") == []
    assert _found("model m {\n input 6\n activation tanh\n dense 3\n}\n") == []


def test_the_lint_rules_skip_a_model_refused_for_its_size():
    # 300,000 layers are more than a model may have (250,000): refused, and not linted
    text = "model m {\n input 4\n dense 4 softmax\n repeat 300000 { dense 4 }\n}\n"
    assert [code for code, _ in _codes(text)] == ["E112"]


# -- what the expansion reads from the kinds -------------------------------------------------------

def test_join_mismatch_notes_read_the_window():
    # 8x8: conv k=3 valid gives (8 - 3)/1 + 1 = 6; maxpool 2 gives (8 - 2)/2 + 1 = 4, and with an even
    # size its valid padding is what 'same' pads (none), so only the stride is named
    text = ("model m {\n input 8x8x3\n concat {\n  branch a { conv2d 4 k=3 }\n  branch b { maxpool2d 2 }\n"
            "  branch c { }\n }\n}\n")
    assert _found(text) == [("E204", 3, "concat: the branches' shapes must agree on all but the channel axis", (
        "branch a: 6x6x4", "branch b: 4x4x3", "branch c: 8x8x3",
        "in branch a, conv2d_1 (line 4) turns 8x8 into 6x6: pad=same would keep the size",
        "in branch b, maxpool2d_1 (line 5) turns 8x8 into 4x4: its stride 2x2 shrinks the size"))]


def test_add_mismatch_note_comes_from_the_kind():
    # both branches keep 4x4; the channels differ (3 and 5)
    text = "model m {\n input 4x4x3\n add {\n  branch { conv2d 5 k=1 }\n  branch { }\n }\n}\n"
    assert _found(text) == [("E204", 3, "add: the branches' shapes must agree on every axis", (
        "branch branch_1: 4x4x5", "branch branch_2: 4x4x3",
        "the channel counts differ: a 1x1 convolution on the shortcut can match them"))]


def test_the_rank_notes_are_the_kinds():
    # a 2-D input is below conv2d's rank (3): the reshape hint comes first, as before the kinds declared notes
    text = "model m {\n input 10x3\n conv2d 4 k=3\n}\n"
    assert _found(text) == [("E201", 3, "conv2d expects a 3-D input (height x width x channels), got 10x3 (2-D)",
                             ("add a reshape before it, e.g. `reshape NxNx1`",))]
    assert layers.lookup("conv2d").rank_notes == {2: "for a sequence (length x channels) use conv1d"}


def test_an_alias_of_input_starts_a_model():
    # InputLayer is registered as the input kind (layers/shape.py), as it is where E114 refuses a second input
    model = compile_text("model m {\n InputLayer 4\n dense 3\n}\n").program.models[0]
    assert model.ok and model.input_shape == (4,) and model.output_shape == (3,)
    assert _codes("model m {\n input 4\n InputLayer 4\n}\n") == [("E114", 3)]
