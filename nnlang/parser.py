"""Parse `.nn` text into the syntax tree of :mod:`nnlang.ast`.

The grammar (``grammar/nn.lark``, shipped as ``nnlang.grammar``) is loaded
once per process. This module is the only place where Lark's exceptions are
seen: each becomes a located :class:`~nnlang.diagnostics.Diagnostic`.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Optional

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .diagnostics import Diagnostic, DiagnosticBag
from .source import Source, Span

#: Largest integer literal accepted; far beyond any real network, small enough to stay exact.
MAX_LITERAL = 10**15
#: Limits that keep hostile input cheap to reject (documented in docs/language.md).
MAX_NESTING = 100  # braces and parentheses open at once
MAX_STATEMENT_TOKENS = 2_000  # tokens in one statement (between separators and braces)
MAX_TOKENS = 1_000_000  # tokens in a file: a written-out network of about 150,000 layers
RECURSION_LIMIT = 20_000  # Python frames while parsing and compiling bounded nesting


class LimitExceeded(Exception):
    """Input beyond one of the limits above; carries the token where it was noticed."""

    def __init__(self, message: str, token: Token):
        super().__init__(message)
        self.token = token


def grammar_text() -> str:
    """The text of nn.lark, from the installed package or the source tree."""
    try:
        return resources.files("nnlang.grammar").joinpath("nn.lark").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # running from a checkout without install
        return (Path(__file__).resolve().parent.parent / "grammar" / "nn.lark").read_text(encoding="utf-8")


class _Separators:
    """Post-lexer: folds runs of newlines and ';' into one separator and drops
    those at the start, after '{' or ',', inside parentheses, and before a
    line that starts with '->' (an expectation continuing its statement).

    It holds one separator back to see the next token, which is safe with the
    basic lexer (a contextual lexer would pick terminals from a stale state).
    """

    always_accept = ("_SEP",)

    def process(self, stream):
        depth = 0  # braces and parentheses
        parens = 0  # parentheses only: separators inside them are dropped
        previous = None
        pending = None
        statement = 0
        count = 0
        for token in stream:
            kind = token.type
            count += 1
            if count > MAX_TOKENS:
                raise LimitExceeded(f"the file has more than {MAX_TOKENS:,} tokens", token)
            if kind == "_SEP":
                statement = 0
                if not (parens or previous in (None, "LBRACE", "COMMA")) and (pending is None or ";" in token):
                    pending = token
                continue
            if pending is not None:
                if kind != "ARROW" or ";" in pending:  # only a line break may precede a continuing '->'
                    yield pending
                pending = None
            if kind == "LPAR":
                parens += 1
            elif kind == "RPAR" and parens:
                parens -= 1
            if kind in ("LPAR", "LBRACE"):
                depth += 1
                if depth > MAX_NESTING:
                    raise LimitExceeded(f"more than {MAX_NESTING} braces and parentheses are open", token)
            elif kind in ("RPAR", "RBRACE") and depth:
                depth -= 1
            if kind in ("LBRACE", "RBRACE"):
                statement = 0
            else:
                statement += 1
                if statement > MAX_STATEMENT_TOKENS:
                    raise LimitExceeded(f"a statement of more than {MAX_STATEMENT_TOKENS:,} tokens", token)
            previous = kind
            yield token
        if pending is not None:
            yield pending


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        postlex=_Separators(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


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
    names = sorted({_describe_terminal(e) for e in expected})
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
    for number, line in enumerate(text.splitlines(), 1):
        for column, char in enumerate(line.split("#", 1)[0], 1):
            if char == "{":
                stack.append(Span(number, column, number, column + 1))
            elif char == "}" and stack:
                stack.pop()
    return stack[-1] if stack else None


def _syntax_diagnostic(error: UnexpectedInput, source: Source) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        char = source.text[error.pos_in_stream] if error.pos_in_stream < len(source.text) else ""
        span = Span(error.line, error.column, error.line, error.column + 1)
        return Diagnostic("E002", f"unexpected character {char!r}", span)
    if isinstance(error, UnexpectedToken) and error.token.type == "$END" or isinstance(error, UnexpectedEOF):
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
    found = "a new line" if token.type == "_SEP" and "\n" in token else repr(str(token))
    message = f"unexpected {found}; expected {_describe_expected(error.expected)}"
    notes = []
    if token.type == "NAME" and "RBRACE" in error.expected and "_SEP" in error.expected:
        notes.append("statements are separated by a new line or ';'")
    return Diagnostic("E001", message, _token_span(token), tuple(notes))


def _int(token: Token, bag: DiagnosticBag) -> int:
    digits = str(token).replace("_", "")
    value = int(digits) if len(digits) <= 16 else MAX_LITERAL + 1  # never convert a huge string
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
    def INT(self, token):
        return ast.Int(_int(token, self.bag), _token_span(token))

    def FLOAT(self, token):
        return ast.Float(float(str(token).replace("_", "")), str(token), _token_span(token))

    def NAME(self, token):
        return ast.Name(str(token), _token_span(token))

    def QMARK(self, token):
        return ast.Unknown(_token_span(token))

    def SHAPE(self, token):
        dims = tuple(None if d == "?" else _int(Token("INT", d, line=token.line, column=token.column,
                                                        end_line=token.end_line, end_column=token.end_column), self.bag)
                     for d in str(token).split("x"))
        return ast.ShapeLit(dims, str(token), _token_span(token))

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
        if children and not isinstance(children[0], tuple):
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
        return tuple(c for c in children if c is not None)

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


def parse(source: Source, bag: DiagnosticBag) -> Optional[ast.File]:
    """Parse a whole file; on a syntax error, report it and return None."""
    with deep_recursion():
        try:
            tree = _lark().parse(source.text)
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
