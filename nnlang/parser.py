"""Parse `.nn` text into the syntax tree of :mod:`nnlang.ast`.

The grammar (``grammar/nn.lark``, shipped as ``nnlang.grammar``) is loaded
once per process. This module is the only place where Lark's exceptions are
seen: each becomes a located :class:`~nnlang.diagnostics.Diagnostic`.
"""

from __future__ import annotations

import functools
import re
from typing import Optional

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .limits import MAX_LITERAL, MAX_NESTING, MAX_STATEMENT_TOKENS, MAX_TOKENS, RECURSION_LIMIT
from . import ast
from .diagnostics import Diagnostic, DiagnosticBag
from .lexer import FOLDED, LimitExceeded, NnLexer, number, value_node
from .source import Source, Span, grammar_text

__all__ = ["MAX_LITERAL", "MAX_NESTING", "MAX_STATEMENT_TOKENS", "MAX_TOKENS", "RECURSION_LIMIT", "parse"]



def make_lark(lexer=NnLexer, cache: bool = True, postlex=None) -> Lark:
    """The parser of nn.lark. nnc's own lexer (:class:`~nnlang.lexer.NnLexer`) applies the
    separator rules itself; Lark's lexer needs them as a post-lexer:
    ``make_lark("basic", postlex=Separators())`` parses the language from the grammar file
    alone (the tests compare both)."""
    return Lark(grammar_text(), parser="lalr", lexer=lexer, propagate_positions=True, maybe_placeholders=True,
                cache=cache, postlex=postlex)


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return make_lark()


# Human names for the grammar's terminals, used in "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "SHAPE": "a shape such as 28x28x3",
    "QMARK": "'?'",
    "_SEP": "a new line or ';'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "CONCAT": "'concat'",
    "ADD": "'add'",
    "ARROW": "'->'",
    "$END": "the end of the file",
}


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = next(t for t in _lark().terminals if t.name == name).pattern
        return f"'{pattern.value}'"
    except StopIteration:
        return name.lower()


def _describe_expected(expected) -> str:
    # a folded layer statement starts with a name, which is listed already
    names = sorted({_describe_terminal(e) for e in expected if e != FOLDED})
    if len(names) > 6:
        names = names[:6] + ["..."]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _token_span(token: Token) -> Span:
    line = token.line or 1
    column = token.column or 1
    end_line = token.end_line or line
    end_column = token.end_column or column + max(1, len(str(token)))
    return Span(line, column, end_line, end_column)


def _unclosed_brace(text: str) -> Optional[Span]:
    """Position of the last '{' never closed, ignoring comments."""
    stack: list[Span] = []
    for row, line in enumerate(text.splitlines(), 1):
        for column, char in enumerate(line.split("#", 1)[0], 1):
            if char == "{":
                stack.append(Span(row, column, row, column + 1))
            elif char == "}" and stack:
                stack.pop()
    return stack[-1] if stack else None


#: What may follow the last token of a file: blanks, separators, comments.
_ENDING = re.compile(r"(?:[\s;]|#[^\n]*)*")


def _syntax_diagnostic(error: UnexpectedInput, source: Source) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        char = source.text[error.pos_in_stream] if error.pos_in_stream < len(source.text) else ""
        span = Span(error.line, error.column, error.line, error.column + 1)
        return Diagnostic("E002", f"unexpected character {char!r}", span)
    at_end = isinstance(error, UnexpectedToken) and error.token.type == "_SEP" and not _ENDING.sub(
        "", source.text[error.token.start_pos:])  # only line ends, blanks and comments are left
    if isinstance(error, UnexpectedToken) and error.token.type == "$END" or isinstance(error, UnexpectedEOF) \
            or at_end:
        lines = source.text.splitlines() or [""]
        span = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        opened = _unclosed_brace(source.text)
        notes = (f"the '{{' at line {opened.line}, column {opened.column} is not closed",) if opened else ()
        expected = getattr(error, "expected", None) or ()
        message = "unexpected end of file"
        if expected:
            message += f"; expected {_describe_expected(expected)}"
        return Diagnostic("E003", message, span, notes)
    assert isinstance(error, UnexpectedToken)
    token = error.token
    found = "end of line" if token.type == "_SEP" and "\n" in token else repr(str(token))
    message = f"unexpected {found}; expected {_describe_expected(error.expected)}"
    notes = []
    if token.type == "NAME" and "RBRACE" in error.expected and "_SEP" in error.expected:
        notes.append("statements are separated by a new line or ';'")
    return Diagnostic("E001", message, _token_span(token), tuple(notes))


def _int(token: Token, bag: DiagnosticBag) -> int:
    digits = str(token).replace("_", "")
    value = number(digits) if len(digits) <= 16 else MAX_LITERAL + 1  # never convert a huge string
    if value > MAX_LITERAL:
        bag.add("E005", f"number {token} is too large (the limit is {MAX_LITERAL:,})", _token_span(token))
        return MAX_LITERAL
    return value


@v_args(meta=True)
class _ToAst(Transformer):
    """Parse tree -> ast: one method per grammar rule."""

    def __init__(self, bag: DiagnosticBag):
        super().__init__()
        self.bag = bag

    # terminals
    def _terminal(self, token):
        def checked(digits):  # E005 on the token for a literal too large
            return _int(Token("INT", digits, line=token.line, column=token.column, end_line=token.end_line,
                              end_column=token.end_column), self.bag)
        return value_node(token.type, str(token), _token_span(token), checked)

    INT = FLOAT = NAME = QMARK = SHAPE = _terminal

    def LAYER_STMT(self, token):  # noqa: N802 - statements the lexer built (nnlang.lexer)
        return token.value

    def __default_token__(self, token):
        return token

    # values
    def _binop(op):  # noqa: N805 - a factory used at class creation
        def method(self, meta, children):
            left, right = children
            return ast.BinOp(op, left, right, Span.of(meta))
        return method

    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")
    floordiv = _binop("//")
    truediv = _binop("/")
    mod = _binop("%")
    del _binop

    def paren(self, meta, children):
        return children[0]

    def neg(self, meta, children):
        return ast.Neg(children[0], Span.of(meta))

    def kwarg(self, meta, children):
        name, value = children
        return ast.KwArg(name.name, value, Span.of(meta))

    def tuple(self, meta, children):
        return ast.Tuple(tuple(c for c in children if c is not None), Span.of(meta))

    def option(self, meta, children):
        key, value = children
        return ast.Option(key.name, value, Span.of(meta), key.span)

    def exp_opt(self, meta, children):
        key, value = children
        return (key.name, value, Span.of(meta))

    def expect(self, meta, children):
        children = [c for c in children if not (isinstance(c, Token) and c.type == "ARROW")]
        shape = None
        if children and type(children[0]) is not tuple:  # a shape node (or None), not an exp_opt
            shape, *children = children
        counts = tuple(c for c in children if c is not None)
        return ast.Expectation(shape, counts, Span.of(meta))

    def label(self, meta, children):
        return children[0]

    # statements
    def layer(self, meta, children):
        label, kind, *rest = children
        expect = rest.pop() if rest else None
        args = tuple(r for r in rest if not isinstance(r, ast.Option))
        options = tuple(r for r in rest if isinstance(r, ast.Option))
        return ast.Layer(label.name if label else None, kind.name, kind.span, args, options, expect, Span.of(meta))

    def branch(self, meta, children):
        name, body = children
        return ast.Branch(name.name if name else None, body, Span.of(meta))

    def merge(self, meta, children):
        label, mode, *rest = children
        expect = rest.pop() if rest else None
        return ast.Merge(label.name if label else None, str(mode), tuple(rest), expect, Span.of(meta))

    def repeat(self, meta, children):
        label, count, body = children
        return ast.Repeat(label.name if label else None, count, body, Span.of(meta))

    def body(self, meta, children):
        statements = []
        for child in children:
            if type(child) is tuple:  # simple statements in a row, folded by the lexer
                statements.extend(child)
            elif child is not None:
                statements.append(child)
        return tuple(statements)

    def param(self, meta, children):
        name, default = children
        return ast.Param(name.name, default, Span.of(meta))

    def model(self, meta, children):
        name, body = children
        return ast.Model(name.name, body, Span.of(meta), name.span)

    def block_def(self, meta, children):
        name, *params, body = children
        return ast.BlockDef(name.name, tuple(p for p in params if p is not None), body, Span.of(meta), name.span)

    def compare(self, meta, children):
        return ast.Compare(tuple((c.name, c.span) for c in children), Span.of(meta))

    def start(self, meta, children):
        return ast.File(tuple(c for c in children if c is not None))


def parse(source: Source, bag: DiagnosticBag, lark: Optional[Lark] = None) -> Optional[ast.File]:
    """Parse a whole file; on a syntax error, report it and return None."""
    with deep_recursion():
        try:
            tree = (lark or _lark()).parse(source.text)
        except UnexpectedInput as error:
            bag.extend([_syntax_diagnostic(error, source)])
            return None
        except LimitExceeded as error:
            bag.add("E112", f"input too large: {error}", _token_span(error.token),
                    "see the limits in docs/language.md")
            return None
        try:
            return _ToAst(bag).transform(tree)
        except VisitError as error:  # a bug in a rule method: let the CLI report it as internal
            raise error.orig_exc from None


class deep_recursion:
    """Raise Python's recursion limit while walking trees whose depth the limits above bound."""

    def __enter__(self):
        import sys

        self.saved = sys.getrecursionlimit()
        sys.setrecursionlimit(max(self.saved, RECURSION_LIMIT))

    def __exit__(self, *exc):
        import sys

        sys.setrecursionlimit(self.saved)
