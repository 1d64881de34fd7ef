"""A Pygments lexer for `.nn` files: ``pygmentize -l nn``, Sphinx and MkDocs ```` ```nn ```` fences.

Registered through the ``pygments.lexers`` entry point of nnlang's packaging.
Only Pygments' users import this module; the word lists come from the layer
registry (:mod:`nnlang.editor_words`) when it is imported, so they never drift.

Token types: keywords ``Keyword`` (``model``/``block``/``compare``:
``Keyword.Declaration``), layer kinds and their aliases ``Name.Builtin``,
options ``Name.Attribute``, activation words ``Keyword.Pseudo``, option value
words ``Name.Constant``, booleans and ``?`` ``Keyword.Constant``, shapes and
numbers ``Number``, expectation keys ``Name.Tag``, labels ``Name.Label``, model
names ``Name.Class``, blocks (defined and called) ``Name.Function``, branch
names ``Name.Namespace``, quoted words ``String``, the codes after ``allow``
``Name.Constant``.
"""

from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, default, include, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from . import editor_words

__all__ = ["NnLexer"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_INT = r"[0-9]+(?:_[0-9]+)*"
# A statement starts a line, or follows '{', ';' or a label's ':'.
_START = r"(?:^|(?<=[{;:]))([ \t]*)"


def _any_case(names) -> str:
    return "(?i:" + editor_words.alternation(names) + ")"


_WORDS = editor_words.word_lists()
_DECLARATIONS = ("model", "block", "compare")


class NnLexer(RegexLexer):
    """The .nn language of nnlang: neural networks described layer by layer."""

    name = "nn"
    aliases = ["nn", "nnlang"]
    filenames = ["*.nn"]
    mimetypes = ["text/x-nn"]

    flags = re.MULTILINE

    tokens = {
        "root": [
            (rf"\b(model)\b(?:([ \t]+)({_NAME}))?", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"\b(block)([ \t]+)({_NAME})([ \t]*)(\()",
             bygroups(Keyword.Declaration, Whitespace, Name.Function, Whitespace, Punctuation), "parameters"),
            (rf"\b(block)\b(?:([ \t]+)({_NAME}))?", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"\b(compare)\b", Keyword.Declaration, "compare"),
            (rf"\b(branch)\b(?:([ \t]+)(?!\{{)({_NAME}))?", bygroups(Keyword, Whitespace, Name.Namespace)),
            # the first word of a statement: a label, a layer kind (any spelling), a keyword or a block call
            (rf"{_START}({_NAME})([ \t]*)(:)", bygroups(Whitespace, Name.Label, Whitespace, Punctuation)),
            (_START + r"(" + _any_case((*_WORDS["kinds"], *_WORDS["aliases"])) + r")\b",
             bygroups(Whitespace, Name.Builtin)),
            (r"\b(allow)\b", Keyword, "allow"),
            (words([w for w in _WORDS["keywords"] if w not in _DECLARATIONS], prefix=r"\b", suffix=r"\b"), Keyword),
            (_START + r"(?!(?:" + editor_words.alternation(_WORDS["keywords"]) + r")\b)(" + _NAME + r")",
             bygroups(Whitespace, Name.Function)),
            (r"->", Operator, "expectation"),
            (r"[{}]", Punctuation),
            include("value"),
        ],
        "space": [
            (r"[ \t\f\r]+", Whitespace),
            (r"\n", Whitespace),
            (r"#.*?$", Comment.Single),
        ],
        "continuation": [
            # a backslash at the end of a line joins the next line to the statement
            (r"(\\)([ \t\r]*\n)", bygroups(Punctuation, Whitespace), "continued"),
        ],
        "value": [
            include("space"),
            include("continuation"),
            (r";", Punctuation),
            include("expression"),
        ],
        "expression": [
            (r'"[^"\n]*"', String.Double),
            (r"'[^'\n]*'", String.Single),
            (r"\[", Punctuation, "brackets"),
            (r"\(", Punctuation, "parens"),
            (r"\b(" + editor_words.alternation(_WORDS["options"]) + r")([ \t]*)(=)",
             bygroups(Name.Attribute, Whitespace, Operator)),
            (rf"\b({_NAME})([ \t]*)(=)", bygroups(Name.Variable, Whitespace, Operator)),
            (r"\b" + _any_case(_WORDS["activations"]) + r"\b", Keyword.Pseudo),
            (words(_WORDS["values"], prefix=r"\b", suffix=r"\b"), Name.Constant),
            (r"\b" + _any_case(_WORDS["booleans"]) + r"\b", Keyword.Constant),
            (rf"(?<![A-Za-z0-9_.])(?:{_INT}|\?)(?:[ \t]*x[ \t]*(?:{_INT}|\?))+(?![A-Za-z0-9_])", Number),
            (rf"(?<![A-Za-z0-9_.])(?:{_INT}\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
             rf"|[0-9]+[eE][-+]?[0-9]+)", Number.Float),
            (rf"(?<![A-Za-z0-9_.]){_INT}", Number.Integer),
            (r"\?", Keyword.Constant),
            (r"//|[-+*/%=]", Operator),
            (r"[,:]", Punctuation),
            (_NAME, Name.Variable),
        ],
        "parens": [
            # a tuple or a block call's arguments: may span lines, holds no statement
            (r"\)", Punctuation, "#pop"),
            include("value"),
        ],
        "brackets": [
            # a list of numbers (weights=[[0.1, -0.3], [0.5, 0.2]]): may span lines
            (r"\]", Punctuation, "#pop"),
            (r"\[", Punctuation, "#push"),
            include("value"),
        ],
        "parameters": [
            (r"\)", Punctuation, "#pop"),
            (rf"(?:(?<=[(,])|^)([ \t]*)({_NAME})", bygroups(Whitespace, Name.Variable)),
            include("value"),
        ],
        "expectation": [
            # -> SHAPE params=N macs=N, up to the end of the statement
            (r"[ \t]+", Whitespace),
            include("continuation"),
            (r"\b(allow)\b", Keyword, ("#pop", "allow")),
            (r"\b(" + editor_words.alternation(_WORDS["expectation_keys"]) + r")([ \t]*)(=)",
             bygroups(Name.Tag, Whitespace, Operator)),
            include("expression"),
            default("#pop"),
        ],
        "continued": [
            # the line after a backslash: the statement goes on, no new one starts
            (r"[ \t]+", Whitespace),
            include("continuation"),
            (r"->", Operator, "expectation"),
            include("expression"),
            default("#pop"),
        ],
        "allow": [
            # allow W202, W205: the codes of warnings and notes a file means
            (r"[ \t]+", Whitespace),
            include("continuation"),
            (words(_WORDS["codes"], prefix=r"\b", suffix=r"\b"), Name.Constant),
            (r",", Punctuation),
            (_NAME, Name.Variable),
            default("#pop"),
        ],
        "compare": [
            # compare A, B: may go on to the next line after a comma
            (r"[ \t]+", Whitespace),
            (_NAME, Name.Class),
            (r"(,)(\s*)", bygroups(Punctuation, Whitespace)),
            default("#pop"),
        ],
    }
