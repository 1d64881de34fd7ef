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
from .diagnostics import CODES, ERROR, Diagnostic, DiagnosticBag, suggest
from .lexer import FOLDED, LimitExceeded, NnLexer, number, value_node
from .source import Source, Span, grammar_text
from . import framework_calls

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
    "_SEP": "a new line",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "CONCAT": "'concat'",
    "ADD": "'add'",
    "MULTIPLY": "'multiply'",
    "ARROW": "'->'",
    "STRING": "a quoted word",
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
    expected = {e for e in expected if e != FOLDED}
    if {"INT", "FLOAT"} <= expected:  # an integer is a number
        expected.discard("INT")
    names = sorted(_describe_terminal(e) for e in expected)
    last = [n for n in names if n.startswith("the end of")]
    names = [n for n in names if n not in last] + last  # "..., a name or the end of the file"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _expected(error: UnexpectedInput):
    """The terminals the parser could take where it stopped: exactly (Lark's `expected` of an
    LALR state may hold those of other contexts that share it), else as Lark gives them."""
    parser = getattr(error, "interactive_parser", None)
    if parser is not None:
        try:
            return parser.accepts()
        except Exception:  # noqa: BLE001 - a message is never worth a crash
            pass
    return getattr(error, "expected", None) or ()


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


#: Characters pasted from documents and slides, and what to write instead.
_CHARACTER_HINTS = {
    "\u00d7": "shapes are written with the letter x: 28x28x3",
    "\u201c": "typographic quotes: write the word without quotes (or with \" or ')",
    "\u201d": "typographic quotes: write the word without quotes (or with \" or ')",
    "\u2018": "typographic quotes: write the word without quotes (or with \" or ')",
    "\u2019": "typographic quotes: write the word without quotes (or with \" or ')",
    "\u2212": "a typographic minus: write - (and a negative number in parentheses, (-1))",
}


#: `nn.Conv2d`, `layers.Dense`: a framework's module before a layer's name.
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _syntax_diagnostic(error: UnexpectedInput, source: Source) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        text = source.text
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        span = Span(error.line, error.column, error.line, error.column + 1)
        notes = []
        if char in "\"'":
            notes.append(f"a quoted word ends with the same quote ({char}) on the same line: \"same\"")
        elif char in _CHARACTER_HINTS:
            notes.append(_CHARACTER_HINTS[char])
        elif char == ".":
            start = error.pos_in_stream
            while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
                start -= 1
            dotted = _DOTTED.match(text, start) if start < error.pos_in_stream else None
            if dotted is not None:  # nn.Conv2d, tf.keras.layers.Dense
                written = dotted.group()
                notes.append(f"a layer is named without its module: `{written.rsplit('.', 1)[1]}`, not `{written}`")
        return Diagnostic("E002", f"unexpected character {char!r}", span, tuple(notes))
    at_end = isinstance(error, UnexpectedToken) and error.token.type == "_SEP" and not _ENDING.sub(
        "", source.text[error.token.start_pos:])  # only line ends, blanks and comments are left
    if isinstance(error, UnexpectedToken) and error.token.type == "$END" or isinstance(error, UnexpectedEOF) \
            or at_end:
        lines = source.text.splitlines() or [""]
        span = Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        opened = _unclosed_brace(source.text)
        notes = (f"the '{{' at line {opened.line}, column {opened.column} is not closed",) if opened else ()
        expected = _expected(error)
        message = "unexpected end of file"
        if expected:
            message += f"; expected {_describe_expected(expected)}"
        return Diagnostic("E003", message, span, notes)
    assert isinstance(error, UnexpectedToken)
    token = error.token
    grouped = _grouped_number(token, source.text)
    if grouped is not None:
        return grouped
    expected = _expected(error)
    message = f"unexpected {_describe_found(token)}; expected {_describe_expected(expected)}"
    notes = []
    if token.type == "NAME" and "RBRACE" in expected and "_SEP" in expected:
        notes.append("statements are separated by a new line or ';'")
    elif token.type == "COMMA" and "RPAR" not in expected:
        notes.append("the arguments of a layer are separated by spaces (`conv2d 32 k=3 s=2`); ',' separates "
                     "the items in parentheses")
    elif token.type == "LSQB" and "LSQB" not in expected:
        notes.append("a list in brackets is an option's value (weights=[[0.1, -0.3], [0.5, 0.2]]); shapes are "
                     "written 28x28x3 or (28, 28, 3)")
    elif token.type == "ARROW" and "ARROW" not in expected:
        notes.append("an expectation `->` ends a layer statement, a block call, a concat/add or a model "
                     "(`} -> params=N`)")
    return Diagnostic("E001", message, _token_span(token), tuple(notes))


def _describe_found(token: Token) -> str:
    """What the parser met, as the message names it: 'end of line', "';'", "'dense'"."""
    if token.type == "_SEP":
        return "end of line" if "\n" in token else "';'"
    if token.type == FOLDED:  # simple statements the lexer folded: name the first
        layers = token.value
        return f"'{layers[0].kind}'" if layers else "a statement"
    return repr(str(token))


#: `9,248`: a number whose digits are grouped by commas, right at the comma.
_GROUPED = re.compile(r"[0-9]+(?:,[0-9]{3})+(?![0-9_])")


def _grouped_number(token: Token, text: str) -> Optional[Diagnostic]:
    """E006 for a number written with thousands separators where a ',' cannot group digits
    (anywhere but a count of an expectation)."""
    if token.type != "COMMA" or token.start_pos is None:
        return None
    start = token.start_pos
    while start > 0 and text[start - 1].isdigit():
        start -= 1
    if start == token.start_pos or (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.")):
        return None
    found = _GROUPED.match(text, start)
    if found is None:
        return None
    written = found.group()
    digits = written.replace(",", "")
    line = token.line
    column = token.column - (token.start_pos - start)
    return Diagnostic("E006", f"{written}: a ',' does not group digits here", Span(line, column, line,
                      column + len(written)), (f"write {digits} or {_underscored(digits)}; ',' separates "
                                               "the items in parentheses, and groups digits only in the "
                                               "counts of an expectation (params=9,248)",))


def _underscored(digits: str) -> str:
    """9248 -> 9_248."""
    head = len(digits) % 3 or 3
    return "_".join([digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)])


def _int(token: Token, bag: DiagnosticBag) -> int:
    digits = str(token).replace("_", "")
    value = number(digits) if len(digits) <= 16 else MAX_LITERAL + 1  # never convert a huge string
    if value > MAX_LITERAL:
        bag.add("E005", f"number {token} is too large (the limit is {MAX_LITERAL:,})", _token_span(token))
        return MAX_LITERAL
    return value


#: A quoted value must hold one word.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: What a quoted value holds when a number or a shape was quoted: "3", "0.5", "28x28x3".
_NUMBER_OR_SHAPE = re.compile(r"[0-9]+(?:_[0-9]+)*(?:\.[0-9]+)?|(?:[0-9]+(?:_[0-9]+)*|\?)(?:[ \t]*x[ \t]*(?:[0-9]+"
                              r"(?:_[0-9]+)*|\?))+")
#: Codes an `allow` takes: warnings and notes.
_ALLOWABLE = tuple(code for code, entry in CODES.items() if entry.severity != ERROR)


def _inside(inner: Span, outer: Span) -> bool:
    return (outer.line, outer.column) <= (inner.line, inner.column) \
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def _without_batch(shape):
    """An expectation's shape as Keras prints it, `(None, 24, 24, 32)`: the leading None is the
    batch dimension (left out in nnc), a None after it an unknown size (`?`)."""
    if type(shape) is not ast.Tuple or not any(type(i) is ast.Name and i.name == "None" for i in shape.items):
        return shape
    items = list(shape.items)
    if len(items) > 1 and type(items[0]) is ast.Name and items[0].name == "None":
        del items[0]
    items = [ast.Unknown(i.span) if type(i) is ast.Name and i.name == "None" else i for i in items]
    return ast.Tuple(tuple(items), shape.span)


def _with_tail(first, tail: list):
    """`3,932,160` then `*T + 150`: the grouped number as the first factor, `*` and `//` binding
    before `+` and `-`."""
    terms, signs, term = [], [], first
    for op, operand in tail:
        if op in ("*", "//"):
            term = ast.BinOp(op, term, operand, term.span.to(operand.span))
        else:
            terms.append(term)
            signs.append(op)
            term = operand
    value = terms[0] if terms else term
    for op, operand in zip(signs, terms[1:] + [term]):
        value = ast.BinOp(op, value, operand, value.span.to(operand.span))
    return value


@v_args(meta=True)
class _ToAst(Transformer):
    """Parse tree -> ast: one method per grammar rule."""

    def __init__(self, bag: DiagnosticBag, source: Optional[Source] = None):
        super().__init__()
        self.bag = bag
        self.lines = source.lines if source is not None else None
        #: `allow`s met since the last model or block (a tree is transformed bottom-up, in order:
        #: those of a model or block are the ones met while transforming it)
        self.allows: list[ast.Allow] = []

    def _text(self, span: Span) -> Optional[str]:
        """The source text of a one-line span."""
        if self.lines is None or span.line != span.end_line or not 1 <= span.line <= len(self.lines):
            return None
        return self.lines[span.line - 1][span.column - 1:span.end_column - 1]

    # terminals
    def _terminal(self, token):
        def checked(digits):  # E005 on the token for a literal too large
            return _int(Token("INT", digits, line=token.line, column=token.column, end_line=token.end_line,
                              end_column=token.end_column), self.bag)
        return value_node(token.type, str(token), _token_span(token), checked)

    INT = FLOAT = NAME = QMARK = SHAPE = _terminal

    def STRING(self, token):  # noqa: N802 - "same", 'relu': the bare word
        text = str(token)[1:-1].strip()
        span = _token_span(token)
        if _WORD.fullmatch(text):
            return ast.Name(text, span)
        # not one word: reported, and read as the number or shape it holds, else as its first word,
        # so that what follows is checked as it most likely was meant ("same padding" as same)
        if _NUMBER_OR_SHAPE.fullmatch(text):
            self.bag.add("E007", f"{str(token)} is not a word: numbers and shapes are written without quotes",
                         span, f"write {text}")
            kind = "INT" if text.replace("_", "").isdigit() else "FLOAT" if "x" not in text else "SHAPE"
            return self._terminal(Token(kind, text, token.start_pos, token.line, token.column, token.end_line,
                                        token.end_column))
        found = _WORD.search(text)
        word = found.group() if found else text
        self.bag.add("E007", f"{str(token)} is not one word: nnc reads quoted text as the word inside the quotes",
                     span, f"write {word} without quotes" if found else "write the value without quotes")
        return ast.Name(word, span)

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
    pow = _binop("^")
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

    def number(self, meta, children):  # 0.1, 3, 1/3 in a list: exact
        from fractions import Fraction  # only files with weights need it (start-up time)

        value, divisor = children
        exact = Fraction(value.text.replace("_", "")) if type(value) is ast.Float else value.value
        span = Span.of(meta)
        if divisor is not None:
            if divisor.value == 0:
                self.bag.add("E111", "division by zero in /", span)
            else:
                exact = Fraction(exact) / divisor.value
        if type(exact) is Fraction and exact.denominator == 1:
            exact = int(exact)
        return ast.Float(exact, self._text(span) or str(exact), span)

    def negative(self, meta, children):
        value = children[0]
        span = Span.of(meta)
        return ast.Float(-value.value, self._text(span) or f"-{value.text}", span)

    def numbers(self, meta, children):
        return ast.Numbers(tuple(c for c in children if c is not None), Span.of(meta))

    def option(self, meta, children):
        key, value = children
        return ast.Option(key.name, value, Span.of(meta), key.span)

    def exp_opt(self, meta, children):
        key, value, *groups = children
        tail = groups.pop() if groups and type(groups[-1]) is list else None
        if groups:
            value = self._grouped(value, groups)
            if value is None:  # reported: not compared
                return None
        if tail:
            if any(operand is None for _, operand in tail):  # a misgrouped number, reported
                return None
            value = _with_tail(value, tail)
        return (key.name, value, Span.of(meta))

    def grouped(self, meta, children):
        """`1,048,576` after the first number of an expectation's expression."""
        return self._grouped(children[0], children[1:])  # None: reported (the expectation is not compared)

    def exp_tail(self, meta, children):
        """[(op, operand), ...] after a grouped number."""
        return [(str(children[i]), children[i + 1]) for i in range(0, len(children), 2)]

    def _grouped(self, first, groups: list):
        """`9,248`: digits grouped by commas, as nnc prints counts; E006 unless it is exactly that."""
        whole = first.span.to(groups[-1].span)
        written = self._text(whole)
        if isinstance(first, ast.Int) and written is not None and _GROUPED.fullmatch(written) \
                and len(written.split(",", 1)[0]) <= 3 and not written.startswith("0"):
            value = int(written.replace(",", ""))
            if value > MAX_LITERAL:
                self.bag.add("E005", f"number {written} is too large (the limit is {MAX_LITERAL:,})", whole)
                value = MAX_LITERAL
            return ast.Int(value, whole)
        shown = written if written is not None else "this number"
        self.bag.add("E006", f"{shown} is not a number: digits are grouped by three from the right, with no "
                             "blank around a ',' (9,248)",
                     whole, "or write the number without separators (9248), or with '_' (9_248)")
        return None

    def expect(self, meta, children):
        shape = None
        counts = []
        for child in children:
            if type(child) is tuple:  # an exp_opt
                counts.append(child)
            elif child is not None and not (isinstance(child, Token) and child.type == "ARROW"):
                shape = _without_batch(child)
        return ast.Expectation(shape, tuple(counts), Span.of(meta))

    def label(self, meta, children):
        return children[0]

    # statements
    def allow(self, meta, children):
        codes = []
        for name in children:
            entry = CODES.get(name.name)
            if entry is None:
                self.bag.add("E117", f"'{name.name}' is not a diagnostic code", name.span,
                             suggest(name.name, _ALLOWABLE) or "a code is a letter and three digits, e.g. W202; "
                             "`nnc explain CODE` describes one")
            elif entry.severity == ERROR:
                self.bag.add("E117", f"{entry.code} is an error: only warnings and notes can be allowed",
                             name.span, "fix what the error says; `allow` takes codes such as W202")
            else:
                codes.append((entry.code, name.span))
        node = ast.Allow(tuple(codes), Span.of(meta))
        self.allows.append(node)
        return node

    def layer(self, meta, children):
        label, kind, *rest = children
        marker = rest.pop() if rest else None
        expect = rest.pop() if rest else None
        args = tuple(r for r in rest if not isinstance(r, ast.Option))
        options = tuple(r for r in rest if isinstance(r, ast.Option))
        span = Span.of(meta)
        if marker is not None:  # it covers the statement it ends
            self.allows[self.allows.index(marker)] = marker._replace(scope=span)
        return ast.Layer(label.name if label else None, kind.name, kind.span, args, options, expect, span)

    def _scope(self, span: Span) -> None:
        """The `allow` statements met inside `span` (a branch, a repeat, a block) cover it."""
        for index, allow in enumerate(self.allows):
            if allow.scope is None and _inside(allow.span, span):
                self.allows[index] = allow._replace(scope=span)

    def _collect(self, span: Span) -> tuple:
        """The `allow`s met inside `span` (a model or a block); those before it stand at the top level."""
        found = tuple(allow for allow in self.allows if _inside(allow.span, span))
        self.allows = [allow for allow in self.allows if not _inside(allow.span, span)]
        return found

    def branch(self, meta, children):
        name, body = children
        span = Span.of(meta)
        self._scope(span)
        return ast.Branch(name.name if name else None, body, span)

    def merge(self, meta, children):
        label, mode, *rest = children
        expect = rest.pop() if rest else None
        return ast.Merge(label.name if label else None, str(mode), tuple(rest), expect, Span.of(meta))

    def repeat(self, meta, children):
        label, count, body, expect = children
        span = Span.of(meta)
        self._scope(span)
        return ast.Repeat(label.name if label else None, count, body, span, expect)

    def body(self, meta, children):
        statements = []
        for child in children:
            if type(child) is tuple:  # simple statements in a row, folded by the lexer
                statements.extend(child)
            elif child is not None and type(child) is not ast.Allow:  # kept by self.allows
                statements.append(child)
        for index, stmt in enumerate(statements):
            if type(stmt) is ast.Layer and len(stmt.args) == 1:
                called = self._called(stmt)
                if called is not None:
                    found = framework_calls.rewrite(stmt, *called)
                    if found is not None:  # a layer written as a framework call: compiled as nnc reads it
                        message, notes, statements[index] = found
                        self.bag.add("E116", message, stmt.kind_span.to(called[1]), *notes)
        return tuple(statements)

    def _called(self, stmt: ast.Layer) -> Optional[tuple]:
        """(items, span) of a statement's one argument in parentheses: a tuple's items, or the
        value of `(x)` written right after the name (`BatchNorm2d(64)`); None for anything else."""
        arg = stmt.args[0]
        if type(arg) is ast.Tuple:
            return arg.items, arg.span
        kind_end = stmt.kind_span
        span = arg.span
        if span.line == kind_end.end_line and span.column == kind_end.end_column + 1 \
                and self._text(Span(span.line, kind_end.end_column, span.line, span.column)) == "(" \
                and self._text(Span(span.end_line, span.end_column, span.end_line, span.end_column + 1)) == ")":
            return (arg,), Span(span.line, kind_end.end_column, span.end_line, span.end_column + 1)
        return None

    def param(self, meta, children):
        name, default = children
        return ast.Param(name.name, default, Span.of(meta))

    def model(self, meta, children):
        name, body, expect = children
        span = Span.of(meta)
        return ast.Model(name.name, body, span, name.span, expect, self._collect(span))

    def block_def(self, meta, children):
        name, *params, body = children
        span = Span.of(meta)
        self._scope(span)
        return ast.BlockDef(name.name, tuple(p for p in params if p is not None), body, span, name.span,
                            self._collect(span))

    def compare(self, meta, children):
        return ast.Compare(tuple((c.name, c.span) for c in children), Span.of(meta))

    def start(self, meta, children):
        self.allows = []
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
            return _ToAst(bag, source).transform(tree)
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
