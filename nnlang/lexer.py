"""The lexer Lark's LALR parser reads from: the grammar's own terminals, compiled
into one regular expression, with the language's separator rules and limits.

It also folds *simple* layer statements into ``LAYER_STMT`` tokens that carry
their finished :class:`~nnlang.ast.Layer` nodes (statements in a row share one
token). A simple statement is made of names, numbers, shapes, ``key=value``
options, a block call's literal arguments in parentheses and an expectation:

    conv1: conv2d 64 k=7 s=2 pad=3 relu -> 112x112x64 params=9472
    inception_3a: inception(64, 96, 128, 16, 32, 32, b=false) -> 28x28x256

Most lines of a real or generated network are simple; building their syntax
node here rather than through the parser's reductions (about fifteen per line,
each a Python call) makes large files several times faster to parse. Every
other statement (merges, repeats, expressions, nested parentheses) and
everything outside a statement body reaches the parser token by token, so the
grammar stays the one definition of the language; the tests check that both
routes build equal trees.
"""

from __future__ import annotations

import functools
import re

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer

from .limits import MAX_NESTING, MAX_STATEMENT_TOKENS, MAX_TOKENS
from . import ast
from .source import Span


#: Span((line, column, end_line, end_column)) without the named tuple's Python-level constructor.
_span = functools.partial(tuple.__new__, Span)

#: The terminal the grammar declares for a folded statement.
FOLDED = "LAYER_STMT"

# One letter per terminal a simple statement may contain, and the shape of such a
# statement over those letters: `[label:] kind (arg | key=value | (items))* [-> [shape] (key=n)*]`,
# where the items in parentheses (a block call's arguments) are values or name=value.
_LETTER = {"NAME": "n", "INT": "i", "SHAPE": "s", "FLOAT": "f", "QMARK": "q", "EQUAL": "=", "COLON": ":",
           "ARROW": ">", "LPAR": "(", "RPAR": ")", "COMMA": ","}
_ITEM = r"(?:n=[in]|[insfq])"
_SIMPLE = re.compile(rf"(?:n:)?n(?:n=[insfq]|[insfq]|\((?:{_ITEM}(?:,{_ITEM})*,?)?\))*(?:>[siq]?(?:n=[in])*)?"
                     ).fullmatch
#: Longest number text folded here; longer ones take the parser's route, which reports E005.
_FOLD_DIGITS = 15
#: Longest statement folded here; a longer one is most likely a mistake the parser should report.
_FOLD_TOKENS = 64


class LimitExceeded(Exception):
    """Input beyond one of the limits above; carries the token where it was noticed."""

    def __init__(self, message: str, token: Token):
        super().__init__(message)
        self.token = token


class NnLexer(Lexer):
    """A Lark custom lexer (the plain ``lex(text)`` interface)."""

    __future_interface__ = 0
    #: Fold simple statements (the tests turn it off to compare both routes).
    fold = True

    def __init__(self, conf):
        # Lark's order: priority, then the longest possible match first.
        terminals = sorted(conf.terminals, key=lambda t: (-t.priority, -t.pattern.max_width,
                                                         -len(t.pattern.value), t.name))
        self.ignore = frozenset(conf.ignore)
        # What is ignored (blanks, comments) is matched as the prefix of the token after
        # it, atomically (a lookahead and a back-reference): a comment never gives back
        # its last characters to make a token.
        skip = "(?:" + "|".join(t.pattern.to_regexp() for t in terminals if t.name in self.ignore) + ")*"
        self.skip = re.compile(skip, conf.g_regex_flags)
        tokens = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals if t.name not in self.ignore)
        self.regex = re.compile(f"(?=(?P<_skip>{skip}))(?P=_skip)(?:{tokens})", conf.g_regex_flags)
        # As Lark's own lexer: a string terminal that a regular one before it matches in
        # full (`model` and NAME) is scanned as that one and renamed afterwards.
        by_name = {t.name: t for t in terminals}
        self.keywords: dict[str, dict[str, str]] = {}
        for literal in (t for t in terminals if t.pattern.type == "str" and t.name not in self.ignore):
            word = literal.pattern.value
            found = self.regex.match(word)
            scanner = by_name[found.lastgroup] if found and found.end() == len(word) else literal
            if scanner is not literal and scanner.pattern.type == "re" and scanner.priority == literal.priority:
                self.keywords.setdefault(scanner.name, {})[word] = literal.name

    # -- scanning --------------------------------------------------------------
    def scan(self, text: str):
        """(type, text, offset, line, column) of every token that is not ignored."""
        keywords = self.keywords
        line, line_start, pos = 1, 0, 0
        match_at = self.regex.match  # anchored at pos: never searches ahead past an invalid character
        while True:
            match = match_at(text, pos)
            if match is None:
                break
            kind = match.lastgroup
            start = match.start(kind)
            value = match.group(kind)
            if kind in keywords:
                kind = keywords[kind].get(value, kind)
            if "\n" in text[pos:start]:  # a line continuation or a comment's end before the token
                line += text.count("\n", pos, start)
                line_start = text.rindex("\n", pos, start) + 1
            yield kind, value, start, line, start - line_start + 1
            pos = match.end()
            if "\n" in value:
                line += value.count("\n")
                line_start = start + value.rindex("\n") + 1
        end = self.skip.match(text, pos).end()
        if end != len(text):
            line = text.count("\n", 0, end) + 1
            raise UnexpectedCharacters(text, end, line, end - text.rfind("\n", 0, end))

    # -- the token stream the parser reads ---------------------------------------
    def lex(self, text: str):
        """Tokens for the parser: the scanner's tokens through the separator rules
        (:class:`Separators`), then simple statements folded (:func:`fold`) unless
        folding is off."""
        tokens = separate(self.scan(text), _tuple_kind, _tuple_text, _token)
        if self.fold:
            return fold(tokens)
        return map(_token, tokens)


def _tuple_kind(token) -> str:
    return token[0]


def _tuple_text(token) -> str:
    return token[1]


def separate(tokens, kind_of, text_of, as_token):
    """The language's separator rules and input limits over a stream of tokens.

    Separators (new lines, ';') are folded into one and dropped where they separate
    nothing: at the start, after '{' or ',', inside parentheses, and before a line that
    starts with '->' (which continues its statement). `kind_of` and `text_of` read a
    token's type and text (the scanner's tuples and Lark's tokens both pass through
    here); `as_token` makes a Lark token for a limit's diagnostic."""
    depth = parens = statement = count = 0
    previous = None  # type of the last token passed on, separators aside
    pending = None  # a separator held back until the next token shows whether it separates
    for token in tokens:
        kind = kind_of(token)
        count += 1
        if count > MAX_TOKENS:
            raise LimitExceeded(f"the file has more than {MAX_TOKENS:,} tokens", as_token(token))
        if kind == "_SEP":
            statement = 0
            if not (parens or previous in (None, "LBRACE", "COMMA")) and (pending is None or ";" in text_of(token)):
                pending = token
            continue
        if pending is not None:
            if kind != "ARROW" or ";" in text_of(pending):  # only a line break may precede a continuing '->'
                yield pending
            pending = None
        if kind == "LBRACE" or kind == "RBRACE":
            statement = 0
            if kind == "LBRACE":
                depth += 1
                if depth > MAX_NESTING:
                    raise LimitExceeded(f"more than {MAX_NESTING} braces and parentheses are open", as_token(token))
            elif depth:
                depth -= 1
        else:
            statement += 1
            if statement > MAX_STATEMENT_TOKENS:
                raise LimitExceeded(f"a statement of more than {MAX_STATEMENT_TOKENS:,} tokens", as_token(token))
            if kind == "LPAR" or kind == "LSQB":  # a list of numbers may span lines as a tuple does
                parens += 1
                depth += 1
                if depth > MAX_NESTING:
                    raise LimitExceeded(f"more than {MAX_NESTING} braces and parentheses are open", as_token(token))
            elif (kind == "RPAR" or kind == "RSQB") and parens:
                parens -= 1
                depth -= 1
        previous = kind
        yield token
    if pending is not None:
        yield pending


class Separators:
    """The separator rules as a Lark post-lexer: with it, the grammar file alone parses the
    language with Lark's own lexer (``Lark(grammar, parser="lalr", postlex=Separators())``);
    nnc's scanner applies the same rules through :func:`separate` and adds folding."""

    always_accept = ()

    def process(self, stream):
        return separate(stream, _lark_kind, str, _same)


def _lark_kind(token) -> str:
    return token.type


def _same(token):
    return token


def fold(tokens):
    """Scanner tokens (separators resolved) -> tokens for the parser, where simple statements
    in a row inside a statement body become one ``LAYER_STMT`` token."""
    bodies: list[bool] = []  # per open brace: does it hold statements (not a join's branches)?
    buffer: list = []  # the statement being read, while it may still be folded
    folding = False  # it began where a statement may begin
    previous = None
    run: list = []  # statements folded in a row, not passed on yet
    run_first = run_last = run_sep = None  # their first and last token, the separator after them
    for token in tokens:
        kind = token[0]
        if kind == "_SEP":
            separator = token
            if folding:
                layer = _fold(buffer)
                if layer is not None:
                    if not run:
                        run_first = buffer[0]
                    run.append(layer)
                    run_last, run_sep, buffer, separator = buffer[-1], separator, [], None
            if separator is not None:
                if run:
                    yield from _run(run, run_first, run_last, run_sep)
                    run = []
                for held in buffer:
                    yield _token(held)
                buffer = []
                yield _token(separator)
            folding = bool(bodies) and bodies[-1]
            continue
        if folding:
            if kind in _LETTER and len(buffer) < _FOLD_TOKENS:
                buffer.append(token)
                previous = kind
                continue
            if kind == "RBRACE" and buffer:
                layer = _fold(buffer)
                if layer is not None:
                    if not run:
                        run_first = buffer[0]
                    run.append(layer)
                    run_last, run_sep, buffer = buffer[-1], None, []
            folding = False
        # the token goes to the parser as it is, after what is held
        if run:
            yield from _run(run, run_first, run_last, run_sep)
            run = []
        if buffer:
            for held in buffer:
                yield _token(held)
            buffer = []
        if kind == "LBRACE":
            bodies.append(previous not in ("CONCAT", "ADD", "MULTIPLY"))
            folding = bodies[-1]
        elif kind == "RBRACE" and bodies:
            bodies.pop()
        previous = kind
        yield _token(token)
    if run:  # an unclosed body: what follows is an error the parser reports
        yield from _run(run, run_first, run_last, run_sep)
    for held in buffer:
        yield _token(held)


def _run(layers: list, first, last, separator) -> list:
    """One token for statements folded in a row, and the separator after them."""
    end = last[4] + len(last[1])
    token = Token(FOLDED, "", first[2], first[3], first[4], last[3], end, last[2] + len(last[1]))
    token.value = tuple(layers)
    return [token] if separator is None else [token, _token(separator)]


def _token(token) -> Token:
    kind, value, start, line, column = token
    if "\n" in value:  # a separator spanning lines
        end_line = line + value.count("\n")
        end_column = len(value) - value.rindex("\n")
    else:
        end_line, end_column = line, column + len(value)
    return Token(kind, value, start, line, column, end_line, end_column, start + len(value))


# -- syntax nodes of single tokens, shared with the parser's transformer ------------


def number(digits: str) -> int:
    """The value of an integer literal with optional `_` separators (the caller checks its size)."""
    return int(digits.replace("_", ""))


def shape_dims(text: str, to_int=number) -> tuple:
    """28x28x3 (or 28 x 28 x 3) -> (28, 28, 3); `?` -> None; a named size stays its name:
    HxWx3 -> ('H', 'W', 3)."""
    return tuple(None if d == "?" else d if d[0].isalpha() else to_int(d) for d in _compact(text).split("x"))


def _compact(shape: str) -> str:
    """A shape's text without the blanks it may hold around its x's."""
    return shape.replace(" ", "").replace("\t", "") if " " in shape or "\t" in shape else shape


def value_node(kind: str, text: str, where: Span, to_int=number):
    """The syntax node of a NAME, INT, SHAPE, FLOAT or QMARK token; `to_int` turns digits
    into an integer (the parser's checks the size)."""
    if kind == "NAME":
        return ast.Name(text, where)
    if kind == "INT":
        return ast.Int(to_int(text), where)
    if kind == "SHAPE":
        return ast.ShapeLit(shape_dims(text, to_int), _compact(text), where)
    if kind == "FLOAT":
        return ast.Float(float(text.replace("_", "")), text, where)
    return ast.Unknown(where)


def _value(token):
    text = token[1]
    return value_node(token[0], text, _span((token[3], token[4], token[3], token[4] + len(text))))


def _parenthesized(tokens: list, i: int):
    """(index after the ')', node) for the items in parentheses at tokens[i]: a tuple, or the
    one value of `(x)`; node None for what the grammar refuses (`(28x28)`)."""
    opening = tokens[i]
    i += 1
    items = []
    comma = False
    while tokens[i][0] != "RPAR":
        if tokens[i][0] == "COMMA":
            comma = True
            i += 1
            continue
        comma = False
        if tokens[i + 1][0] == "EQUAL":
            key, value = tokens[i], tokens[i + 2]
            node = _value(value)
            items.append(ast.KwArg(key[1], node, _span((key[3], key[4], node.span[2], node.span[3]))))
            i += 3
        else:
            items.append(_value(tokens[i]))
            i += 1
    closing = tokens[i]
    if len(items) == 1 and not comma and not isinstance(items[0], ast.KwArg):
        if tokens[i - 1][0] not in ("INT", "NAME"):
            return i + 1, None
        return i + 1, items[0]  # (x) is x
    return i + 1, ast.Tuple(tuple(items), _span((opening[3], opening[4], closing[3], closing[4] + 1)))


def _fold(tokens: list):
    """The Layer node of a simple statement, or None when the parser must read it."""
    if not _SIMPLE("".join([_LETTER[t[0]] for t in tokens])):
        return None
    for t in tokens:
        if len(t[1]) > _FOLD_DIGITS and (t[0] == "INT" or t[0] == "SHAPE"):
            return None
    n = len(tokens)
    i = 0
    label = None
    if n > 2 and tokens[1][0] == "COLON":
        label = tokens[0][1]
        i = 2
    kind = tokens[i]
    i += 1
    args, options = [], []
    while i < n and tokens[i][0] != "ARROW":
        if tokens[i][0] == "LPAR":
            i, node = _parenthesized(tokens, i)
            if node is None:
                return None
            args.append(node)
        elif i + 1 < n and tokens[i + 1][0] == "EQUAL":
            key, value = tokens[i], tokens[i + 2]
            node = _value(value)
            options.append(ast.Option(key[1], node, _span((key[3], key[4], value[3], value[4] + len(value[1]))),
                                      _span((key[3], key[4], key[3], key[4] + len(key[1])))))
            i += 3
        else:
            args.append(_value(tokens[i]))
            i += 1
    last = tokens[-1]
    end = last[4] + len(last[1])
    expect = None
    if i < n:
        arrow = tokens[i]
        i += 1
        shape = None
        if i < n and not (i + 1 < n and tokens[i + 1][0] == "EQUAL"):
            shape = _value(tokens[i])
            i += 1
        counts = []
        while i < n:
            key, value = tokens[i], tokens[i + 2]
            counts.append((key[1], _value(value), _span((key[3], key[4], value[3], value[4] + len(value[1])))))
            i += 3
        expect = ast.Expectation(shape, tuple(counts), _span((arrow[3], arrow[4], last[3], end)))
    first = tokens[0]
    return ast.Layer(label, kind[1], _span((kind[3], kind[4], kind[3], kind[4] + len(kind[1]))), tuple(args),
                     tuple(options), expect, _span((first[3], first[4], last[3], end)))
