"""The lexer (nnlang/lexer.py) against Lark's own.

Two promises are checked on generated text and on every example:

- scanning: the tokens, their types, text and positions, and where an unexpected
  character is reported, are those of Lark's basic lexer built from the same grammar;
- folding: a file parses to the same syntax tree (or the same diagnostics) whether
  simple statements are folded into one token by the lexer or read by the parser
  rule by rule.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark.exceptions import UnexpectedCharacters

from helpers_nnc import EXAMPLES
from nnlang.diagnostics import DiagnosticBag
from nnlang.lexer import FOLDED, NnLexer, Separators
from nnlang.parser import _lark, make_lark, parse
from nnlang.source import Source

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Unfolded(NnLexer):
    fold = False


@pytest.fixture(scope="module")
def lark_basic():
    return make_lark(lexer="basic", cache=False)


@pytest.fixture(scope="module")
def unfolded():
    return make_lark(lexer=Unfolded, cache=False)


@pytest.fixture(scope="module")
def grammar_alone():
    """The grammar file with Lark's own lexer and the separator rules as a post-lexer."""
    return make_lark(lexer="basic", cache=False, postlex=Separators())


def _scanner():
    return _lark().parser.lexer.lexer  # the NnLexer inside Lark's wrapper for plain lexers


def lark_tokens(lark, text):
    """(type, text, line, column) of Lark's basic lexer, and the offset of an unexpected character."""
    out = []
    try:
        for token in lark.lex(text):
            out.append((token.type, str(token), token.line, token.column))
    except UnexpectedCharacters as error:
        return out, (error.pos_in_stream, error.line, error.column)
    return out, None


def our_tokens(text):
    out = []
    try:
        for kind, value, _, line, column in _scanner().scan(text):
            out.append((kind, value, line, column))
    except UnexpectedCharacters as error:
        return out, (error.pos_in_stream, error.line, error.column)
    return out, None


def strict(node):
    """A syntax tree with each node's class name: nodes are named tuples, and a tuple equals
    any tuple with the same items."""
    if isinstance(node, tuple):
        items = tuple(strict(item) for item in node)
        return (type(node).__name__, items) if hasattr(node, "_fields") else items
    return node


def both_parses(unfolded, text, *others):
    """(syntax tree, diagnostics) with folding and without (and with any other parser given)."""
    results = []
    for lark in (None, unfolded, *others):
        bag = DiagnosticBag()
        tree = parse(Source(text, "t.nn"), bag, lark)
        results.append((strict(tree), [(d.code, d.message, d.span) for d in bag]))
    return results


# --- text that looks like .nn ------------------------------------------------------------------

NAMES = st.sampled_from(["conv2d", "dense", "x", "relu", "same", "k", "s", "pad", "params", "macs", "a_1",
                         "model", "block", "branch", "repeat", "concat", "add", "compare", "input", "c",
                         "allow", "W202", "x3"])
NUMBERS = st.sampled_from(["0", "3", "64", "1_000", "28x28x3", "?x256", "3x5", "0.5", ".5", "1e-3", "?",
                           "12345678901234567890", "2_2x3", "28 x 28", "? x\t3", "9,248"])
PUNCT = st.sampled_from(["=", ":", "->", "(", ")", "{", "}", ",", "+", "-", "*", "//", "/", "%", ";", "\n",
                         "\n->", "# note\n", "\\\n", "\t", "\r\n", "@", "$", '"same"', "'relu'", '"a b"',
                         '"', "'"])
TEXT = st.lists(st.one_of(NAMES, NUMBERS, PUNCT), max_size=60).map(" ".join)
RAW = st.text(alphabet="abcdemx_019 \t\n;#{}()=,:-+>*/%?.eE\\@\"'", max_size=80)


@SETTINGS
@given(st.one_of(TEXT, RAW))
def test_scan_matches_lark_basic_lexer(lark_basic, text):
    assert our_tokens(text) == lark_tokens(lark_basic, text)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.stem)
def test_scan_matches_lark_on_examples(lark_basic, path):
    text = path.read_text()
    tokens, error = our_tokens(text)
    assert error is None and len(tokens) > 20
    assert (tokens, error) == lark_tokens(lark_basic, text)


def test_a_comment_gives_nothing_back():
    # a comment at the end of the file must not end in a token made of its last characters
    assert our_tokens("model m { input 4 }  # xyz") == (
        [("MODEL", "model", 1, 1), ("NAME", "m", 1, 7), ("LBRACE", "{", 1, 9), ("NAME", "input", 1, 11),
         ("INT", "4", 1, 17), ("RBRACE", "}", 1, 19)], None)


# --- statements: simple ones folded, or not ----------------------------------------------------

VALUE = st.sampled_from(["3", "64", "1_024", "28x28x3", "?x8", "?", "0.5", "same", "relu", "c",
                         "99999999999999999999", "(2, 2)", "c*2", "4+c", '"same"', "'relu'", "3 x 3", '"a b"'])
SIMPLE_ARG = st.one_of(VALUE, st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["k", "s", "pad", "bias"]), VALUE))
EXPECT = st.builds(lambda shape, counts, last: " -> " + " ".join([shape, *counts, last]),
                   st.sampled_from(["", "28x28x32", "10", "?", "(4, 4)", "relu", "(None, 4, 4)", "4 x 4"]),
                   st.lists(st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["params", "macs"]),
                                      st.sampled_from(["2432", "c", "3*c", "2,432", "2,43", "1,000,000"])),
                            max_size=2),
                   st.sampled_from(["", "", "28x28x32", "allow W202", "allow W202, W205", "allow E301"]))
STATEMENT = st.builds(lambda label, kind, args, expect: label + " ".join([kind, *args]) + expect,
                      st.sampled_from(["", "conv1: ", "a_b: "]),
                      st.sampled_from(["conv2d", "dense", "maxpool2d", "flatten", "batchnorm", "f", "f(3)", "f()",
                                       "f(3,)", "f(c=2)", "f(c=2,)", "f(1, 2, c=3)", "f(1, 2,)", "f(28x28)",
                                       "f(?)", "f(0.5)", "f(?, 3x3, 0.5)", "f(c=28x28)", "f(\n3,\n4\n)",
                                       "f(3\n)", "f((3))", "f(3) (4)", "f(,)", "f(3 4)", "f(c=)"]),
                      st.lists(SIMPLE_ARG, max_size=5),
                      st.one_of(st.just(""), EXPECT))
COMPOUND = st.sampled_from(["concat {\n branch a { dense 4 }\n branch { }\n}", "add { branch { conv2d 3 k=1 } }",
                            "repeat 2 { dense 8; dense 8 }", "r: repeat 0 { }", "inception(64, 96, c=2)",
                            "x: concat { branch { dense 2 } } -> 4", "dense 3 {", "}", "concat { dense 2 }",
                            "@", "allow W202", "allow W202, W999", "Conv2d(3, 16, 3)", "Dense(10, activation='relu')",
                            "BatchNorm2d(8)", "repeat 2 { allow W201; dense 2 }"])
SEPARATOR = st.sampled_from(["\n", ";", "\n\n", " ; \n", "\n    -> 4\n", "  # note\n"])
BODY = st.lists(st.tuples(st.one_of(STATEMENT, STATEMENT, COMPOUND), SEPARATOR), max_size=12).map(
    lambda items: "".join(s + sep for s, sep in items))
FILE = st.builds(lambda block, body, total: f"block f(c=2) {{\n{block}}}\nmodel m {{\n    input 8x8x3\n{body}}}"
                                          f"{total}\n",
                 BODY, BODY, st.sampled_from(["", " -> params=1,234 10", " -> 10 macs=5", "\nallow W202"]))


def agree(first, second):
    """Two routes give the same tree (or None for both) and the same diagnostics. A file with an
    unexpected character and an error before it may have either reported first: a folded
    statement reaches the parser only once the lexer has read past its end (to the next token)."""
    assert first[0] == second[0]
    if any(code == "E002" for code, _, _ in first[1] + second[1]):
        assert bool(first[1]) == bool(second[1])
    else:
        assert first[1] == second[1]


@SETTINGS
@given(FILE)
def test_folding_builds_the_parsers_tree(unfolded, text):
    folded, plain = both_parses(unfolded, text)
    agree(folded, plain)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.stem)
def test_folding_builds_the_parsers_tree_on_examples(unfolded, path):
    folded, plain = both_parses(unfolded, path.read_text())
    assert folded[0][0] == "File" and folded == plain


def test_simple_statements_in_a_row_reach_the_parser_as_one_token():
    lines = "\n".join(f"    conv{i}: conv2d 16 k=3 pad=same relu -> 8x8x16 params=448" for i in range(100))
    text = f"model m {{\n    input 8x8x3\n{lines}\n    f(3*c)\n    dense 4\n}}\n"
    kinds = [token.type for token in _scanner().lex(text)]
    # model m { [input + 100 layers] ; f ( 3 * c ) ; [dense 4] ; } ;
    assert kinds == ["MODEL", "NAME", "LBRACE", FOLDED, "_SEP", "NAME", "LPAR", "INT", "STAR", "NAME", "RPAR",
                     "_SEP", FOLDED, "_SEP", "RBRACE", "_SEP"]
    bag = DiagnosticBag()
    tree = parse(Source(text), bag)
    body = tree.models[0].body
    assert len(body) == 103 and body[1].label == "conv0" and body[100].label == "conv99"
    statement = "conv99: conv2d 16 k=3 pad=same relu -> 8x8x16 params=448"
    assert body[100].span == (102, 5, 102, 5 + len(statement))
    assert body[100].expect.counts[0][1].value == 448


# --- the grammar file alone ----------------------------------------------------------------------

@SETTINGS
@given(FILE)
def test_the_grammar_with_lark_lexer_and_separator_rules_parses_alike(unfolded, grammar_alone, text):
    """nnc's lexer is a faster route to the trees that the grammar file, Lark's own lexer and
    the separator post-lexer define."""
    folded, plain, alone = both_parses(unfolded, text, grammar_alone)
    agree(folded, plain)
    # Lark's lexer finds an unexpected character only when the parser asks for it
    agree(folded, alone)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.stem)
def test_the_grammar_alone_parses_every_example(unfolded, grammar_alone, path):
    folded, plain, alone = both_parses(unfolded, path.read_text(), grammar_alone)
    assert alone[0][0] == "File" and folded == alone


@pytest.mark.parametrize("text, kinds", [
    # separators after '{' and ',' and inside parentheses separate nothing
    ("model m {\n\n input 4\n}", ["MODEL", "NAME", "LBRACE", "NAME", "INT", "_SEP", "RBRACE"]),
    ("f(1,\n 2\n)", ["NAME", "LPAR", "INT", "COMMA", "INT", "RPAR"]),
    # a line starting with '->' continues its statement; after ';' it does not
    ("dense 4\n  -> 4", ["NAME", "INT", "ARROW", "INT"]),
    ("dense 4;\n  -> 4", ["NAME", "INT", "_SEP", "ARROW", "INT"]),
    # a run of separators is one; a ';' in it is kept over a line break
    ("a\n;\n\nb", ["NAME", "_SEP", "NAME"]),
])
def test_separator_rules(grammar_alone, text, kinds):
    assert [t.type for t in grammar_alone.lex(text)] == kinds  # Lark applies the post-lexer


# --- what a newcomer copies: quoted words, blanks in shapes, grouped counts, allow, model totals ---

FIRST_HOUR = [
    "model m {\n    input 28 x 28 x 3\n    conv2d 8 k=3 pad=\"same\" activation='relu' -> 28x28x8 allow W202\n}\n",
    "model m {\n    allow W302, W303\n    input ?x64\n    dense 3 -> params=195 (None, None, 3)\n}"
    " -> params=195 macs=3,072 3\n",
    "allow W202\nblock b(c) { allow W205; conv2d c k=3 x 5 -> (None, 4, 4, c) }\nmodel m { input 8x8x1; b(2) }\n",
    "model m {\n    input 8x8x1\n    Conv2d(1, 4, 3)\n    BatchNorm2d(4)\n    MaxPool2d(2, stride=2)\n"
    "    Dense(10, activation=\"softmax\", name=\"out\") -> params=9,248\n}\n",
    "model m {\n    input 784\n    dense 1,000\n}\n",
]


@pytest.mark.parametrize("text", FIRST_HOUR)
def test_the_three_routes_agree_on_the_first_hour_syntax(unfolded, grammar_alone, text):
    folded, plain, alone = both_parses(unfolded, text, grammar_alone)
    assert folded == plain == alone


def test_blanks_in_a_shape_and_quotes_give_the_plain_nodes():
    bag = DiagnosticBag()
    tree = parse(Source(FIRST_HOUR[0], "t.nn"), bag)
    assert not list(bag)
    model = tree.models[0]
    shape = model.body[0].args[0]
    assert (shape.dims, shape.text) == ((28, 28, 3), "28x28x3")
    conv = model.body[1]
    assert [(o.key, o.value.name) for o in conv.options if o.key != "k"] == [("pad", "same"), ("activation", "relu")]
    (marker,) = model.allows
    assert [code for code, _ in marker.codes] == ["W202"] and marker.scope == conv.span
