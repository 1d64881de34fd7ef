"""The nnc language server: diagnostics, hover, go to definition, completion and
document symbols for `.nn` files.

The features are plain functions of a document's text (and its compilation)
that return :mod:`lsprotocol` values, so they are tested without a client;
:func:`create_server` wires them into a pygls server (imported only there) and
:mod:`nnlang.lsp_rpc` runs it over standard input and output.

Positions: the compiler's spans are 1-based lines and columns counted in
characters, ends exclusive; LSP positions are 0-based and count code units of
the negotiated encoding (UTF-16 unless the client offers another). Lines end
at CRLF, LF or a lone CR, as the protocol and the compiler both count them. A
:class:`Lines` object converts between the two for one text.

Compiling: a text is cut into its top-level items (each `model`, `block` and
`compare` with the lines after it) and each piece is parsed on its own, its
syntax tree kept for the next version while its text is unchanged (moved with
it when lines are added above); a model is compiled again only when it or a
block it calls changed, else its earlier result is reused (moved with it too).
The result is the one `nnc check` gives: when a piece does not parse, the whole
text is parsed again for the diagnostic. The server compiles in a
worker thread, only the latest version of a document, a moment after the last
edit; hovers and completions answer at once from the last good compilation.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import queue
import re
import threading
import time
from typing import Callable, Iterable, NamedTuple, Optional

import attrs
from lsprotocol import types as lsp

from .limits import MAX_DOCUMENT_CHARS
from . import __version__, ast, ir, layers, present
from .choices import CONVENTIONS
from .diagnostics import MAX_DIAGNOSTICS, Diagnostic, DiagnosticBag
from .editor_words import keywords
from .layers.base import ACTIVATIONS
from .report import shape_with_batch
from .source import Source, Span

logger = logging.getLogger("nnlang.lsp")

SEVERITIES = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "note": lsp.DiagnosticSeverity.Information,
}
#: Shown for a statement used by many calls: this many calls in full, the rest counted.
MAX_CALLS_SHOWN = 4
KEYWORDS_TOP = ("model", "block", "compare")
#: The statement keywords inside a model or block: the grammar's (nnlang.editor_words) other than those.
KEYWORDS_BODY = tuple(word for word in keywords() if word not in KEYWORDS_TOP)
#: Seconds to wait after an edit for the next one before compiling (typing is coalesced).
DEBOUNCE = 0.025
#: Seconds a definition or outline request waits for the compilation of the current text.
FRESH_WAIT = 2.0
#: Seconds the first request on a document waits for its first compilation.
FIRST_WAIT = 30.0

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT = re.compile(r"#[^\r\n]*")
_LABEL = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*:(?!=)\s*")
_LINE_END = re.compile(r"\r\n|\r|\n")


# --- positions ------------------------------------------------------------------


def _units(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == "utf-8":
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    if encoding == "utf-32":
        return 1
    return 2 if code > 0xFFFF else 1


def _encoding_name(encoding) -> str:
    return str(getattr(encoding, "value", encoding) or "utf-16").lower()


class Lines:
    """One text split into lines at CRLF, LF and lone CR (as the protocol and the compiler
    count them), with position conversions."""

    def __init__(self, text: str, encoding: str = "utf-16", _starts: Optional[list] = None):
        self.text = text
        self.encoding = _encoding_name(encoding)
        self._starts = _starts if _starts is not None else [0, *(m.end() for m in _LINE_END.finditer(text))]

    @property
    def count(self) -> int:
        """How many lines (a text ending with a line end has an empty last line)."""
        return len(self._starts)

    def line(self, index: int) -> str:
        """Line `index` (0-based), without its end of line; '' outside the text."""
        if not 0 <= index < len(self._starts):
            return ""
        start = self._starts[index]
        if index + 1 == len(self._starts):
            return self.text[start:]
        end = self._starts[index + 1] - 1
        if self.text[end] == "\n" and end > start and self.text[end - 1] == "\r":
            end -= 1
        return self.text[start:end]

    def to_client(self, line: int, char: int) -> lsp.Position:
        """0-based line and character index -> an LSP position (clamped to the text)."""
        line = max(0, min(line, len(self._starts) - 1))
        text = self.line(line)
        char = max(0, min(char, len(text)))
        if self.encoding == "utf-32" or text.isascii():
            return lsp.Position(line=line, character=char)
        return lsp.Position(line=line, character=sum(_units(c, self.encoding) for c in text[:char]))

    def from_client(self, position: lsp.Position) -> tuple[int, int]:
        """An LSP position -> 0-based line and character index, clamped to the text: past the
        last line is the end of the text, past a line's end is that end, and a position inside
        a character (between the two halves of a UTF-16 surrogate pair) is that character."""
        if position.line >= len(self._starts):
            last = len(self._starts) - 1
            return last, len(self.line(last))
        line = max(0, position.line)
        text = self.line(line)
        target = max(0, position.character)
        if self.encoding == "utf-32" or text.isascii():
            return line, min(target, len(text))
        units = 0
        for index, char in enumerate(text):
            units += _units(char, self.encoding)
            if units > target:
                return line, index
        return line, len(text)

    def offset(self, line: int, char: int) -> int:
        """Index in the text of a 0-based line and character."""
        line = max(0, min(line, len(self._starts) - 1))
        return self._starts[line] + max(0, min(char, len(self.line(line))))

    def at_offset(self, offset: int) -> tuple[int, int]:
        """0-based line and character of a text index."""
        line = max(0, bisect.bisect_right(self._starts, offset) - 1)
        return line, offset - self._starts[line]

    def range(self, span: Optional[Span]) -> lsp.Range:
        """A compiler span (1-based, end exclusive; line 0 = nowhere) as an LSP range."""
        if span is None or not span.line:
            start = lsp.Position(line=0, character=0)
            return lsp.Range(start=start, end=start)
        start = self.to_client(span.line - 1, span.column - 1)
        end_line = span.end_line or span.line
        end_column = span.end_column or span.column
        end = self.to_client(end_line - 1, end_column - 1)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return lsp.Range(start=start, end=end)

    def replace(self, start: int, end: int, new: str) -> "Lines":
        """The Lines of the text with [start, end) replaced by `new`: the lines after the edit
        are shifted (all are found again when a CR could pair with an LF differently)."""
        text = self.text[:start] + new + self.text[end:]
        if "\r" in new or (start > 0 and self.text[start - 1] == "\r"):
            return Lines(text, self.encoding)
        starts = self._starts
        first = bisect.bisect_right(starts, start)  # lines starting at or before the edit stay
        last = bisect.bisect_right(starts, end)  # lines starting after the edit move
        shift = len(new) - (end - start)
        inserted = [start + m.end() for m in _LINE_END.finditer(new)]
        return Lines(text, self.encoding, starts[:first] + inserted + [s + shift for s in starts[last:]])


def _common(a: str, b: str, limit: int, same) -> int:
    """The largest n <= limit with same(n), by halving (each test is one comparison, in C)."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if same(middle):
            low = middle
        else:
            high = middle - 1
    return low


class LineMap:
    """Lines of an older version of a text against the current one: the lines before the
    first change and after the last one are the same text; those between have no match."""

    def __init__(self, old: Lines, new: Lines):
        self.old, self.new = old, new
        a, b = old.text, new.text
        if a == b:
            self.same = True
            self._prefix = old.count
            self._old_tail = self._new_tail = old.count
            return
        self.same = False
        prefix = _common(a, b, min(len(a), len(b)), lambda n: a[:n] == b[:n])
        self._prefix = old.at_offset(prefix)[0]  # the lines before the one where the texts part
        # lines starting inside the common suffix (taken no further back than that line) are the
        # same counted from the end; one starting right where it begins only when both texts
        # start a line there
        first_old, first_new = old._starts[self._prefix], new._starts[self._prefix]
        suffix = _common(a, b, min(len(a) - first_old, len(b) - first_new),
                         lambda n: a[len(a) - n:] == b[len(b) - n:])
        old_cut, new_cut = len(a) - suffix, len(b) - suffix
        self._old_tail = bisect.bisect_right(old._starts, old_cut)
        self._new_tail = bisect.bisect_right(new._starts, new_cut)
        if old._starts[self._old_tail - 1] == old_cut and new._starts[self._new_tail - 1] == new_cut:
            self._old_tail -= 1
            self._new_tail -= 1

    def to_old(self, line: int) -> Optional[int]:
        if line < self._prefix:
            return line
        if line >= self._new_tail:
            return line - self._new_tail + self._old_tail
        return None

    def to_new(self, line: int) -> Optional[int]:
        if line < self._prefix:
            return line
        if line >= self._old_tail:
            return line - self._old_tail + self._new_tail
        return None

    def range_to_new(self, where: lsp.Range) -> Optional[lsp.Range]:
        start, end = self.to_new(where.start.line), self.to_new(where.end.line)
        if start is None or end is None:
            return None
        return lsp.Range(start=lsp.Position(line=start, character=where.start.character),
                         end=lsp.Position(line=end, character=where.end.character))


def _contains(span: Optional[Span], line: int, column: int) -> bool:
    """Whether 1-based (line, column) lies in span, its end included (a cursor just after a word)."""
    if span is None or not span.line:
        return False
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


# --- the pieces of a text: its top-level items ------------------------------------------

#: A line end before a line whose first word is `model`, `block` or `compare`: these are
#: keywords, never names, so in a text that parses such a line always starts an item.
_CUT = re.compile(r"(?:\r\n|\r|\n)(?=[ \t]*(?:model|block|compare)(?![A-Za-z0-9_]))")
#: The head of a piece that does not parse: `model NAME` or `block NAME(params)`.
_ITEM_HEAD = re.compile(r"\s*(model|block)[ \t]+([A-Za-z_][A-Za-z0-9_]*)(?:[ \t]*\(([^)#{}]*))?")


class Piece(NamedTuple):
    """A stretch of a text that starts a top-level item (or the text before the first one)."""

    start: int  # index in the text
    end: int
    line: int  # 0-based line of start


def pieces(text: str) -> list[Piece]:
    """The text cut before each line that starts with `model`, `block` or `compare`. Each piece
    of a text that parses is whole items; in one that does not, an error (an unclosed brace, a
    statement being typed) stays inside its piece."""
    starts = [0, *(m.end() for m in _CUT.finditer(text))]
    if len(starts) > 1 and not text[: starts[1]].strip():  # only blank lines before the first item
        del starts[1]
    out, line = [], 0
    for number, start in enumerate(starts):
        if number:
            line += text.count("\n", starts[number - 1], start) if "\r" not in text else \
                len(_LINE_END.findall(text, starts[number - 1], start))
        out.append(Piece(start, starts[number + 1] if number + 1 < len(starts) else len(text), line))
    return out


class Head(NamedTuple):
    """A model or block found by its head alone, in a piece that does not parse."""

    keyword: str  # model | block
    name: str
    span: Span  # of the name, as the compiler's spans
    params: tuple[str, ...]  # a block's parameter names


def _head(text: str, piece: Piece) -> Optional[Head]:
    found = _ITEM_HEAD.match(text, piece.start, piece.end)
    if found is None:
        return None
    params: tuple[str, ...] = ()
    if found.group(3) is not None:
        names = (p.split("=")[0].strip() for p in found.group(3).split(","))
        params = tuple(p for p in names if _NAME.fullmatch(p))
    start, end = found.span(2)
    breaks = list(_LINE_END.finditer(text, piece.start, start))  # blank lines before the first item
    line = piece.line + len(breaks) + 1
    column = start - (breaks[-1].end() if breaks else piece.start) + 1
    return Head(found.group(1), found.group(2), Span(line, column, line, column + end - start), params)


def heads(text: str) -> list[Head]:
    """The models and blocks of a text found by their heads (for text that may not parse)."""
    return [head for piece in pieces(text) if (head := _head(text, piece)) is not None]


class _Parsed(NamedTuple):
    items: Optional[tuple]  # the piece's syntax nodes, None when it does not parse
    diagnostics: tuple  # what parsing it reported


class _Compiled(NamedTuple):
    model: ir.Model
    added: tuple  # every diagnostic its compilation added, in order (kept or not by the bag)
    reported: frozenset  # keys of those the bag had before the model: it kept them once
    checked: int  # expectations it checked
    line: Optional[int]  # 0-based line of the model's piece; None: not to be moved


class Cache:
    """What one document's compilations keep for the next: the pieces' syntax trees by text
    (and line), the compiled models by what they depend on. Entries the latest compilation
    did not use are dropped, so it holds about one version of the document."""

    def __init__(self):
        self.parsed: dict[str, dict[int, _Parsed]] = {}
        self.models: dict = {}
        self.hits = self.misses = 0


# --- analysis of one text ---------------------------------------------------------

_new_span = functools.partial(tuple.__new__, Span)


def _shifted(node, lines: int):
    """A syntax node (or tuple of them) with every span moved down by `lines`."""
    kind = type(node)
    if kind is Span:
        return _new_span((node[0] + lines, node[1], node[2] + lines, node[3])) if node[0] else node
    moved = []
    for value in node:
        if type(value) is Span:  # inline: half the tuples of a tree are spans
            value = _new_span((value[0] + lines, value[1], value[2] + lines, value[3])) if value[0] else value
        elif isinstance(value, tuple):
            value = _shifted(value, lines)
        moved.append(value)
    return tuple(moved) if kind is tuple else tuple.__new__(kind, moved)


def _parse_piece(text: str, line: int, name: str, cache: Optional[Cache], used: dict) -> _Parsed:
    """The syntax nodes of a piece starting at 0-based `line`: from the cache, moved when the
    piece moved, else parsed."""
    from .parser import parse

    known = cache.parsed.get(text) if cache is not None else None
    result = known.get(line) if known else None
    if result is None and known:
        at, parsed = next(iter(known.items()))
        if parsed.items is None:
            result = parsed
        else:
            result = _Parsed(_shifted(parsed.items, line - at), tuple(
                attrs.evolve(d, span=_shifted(d.span, line - at)) for d in parsed.diagnostics))
    if result is None:
        bag = DiagnosticBag()
        tree = parse(Source("\n" * line + text, name), bag)
        result = _Parsed(tree.items if tree is not None else None, tuple(bag))
    used.setdefault(text, {})[line] = result
    return result


def _stmt_kinds(body, out: set) -> None:
    for stmt in body:
        if isinstance(stmt, ast.Layer):
            out.add(stmt.kind)
        elif isinstance(stmt, ast.Merge):
            for branch in stmt.branches:
                _stmt_kinds(branch.body, out)
        else:
            _stmt_kinds(stmt.body, out)


def _is_statement_kind(name: str) -> bool:
    kind = layers.lookup(name)
    return kind is not None and getattr(kind, "statement", True)


def _key(diagnostic: Diagnostic) -> tuple:
    return diagnostic.code, diagnostic.span, diagnostic.message  # what DiagnosticBag tells apart


class _RecordingBag:
    """The compiler's bag while one model compiles: records each diagnostic added, and the
    keys of those the bag already had before the model began (it keeps a diagnostic once)."""

    def __init__(self, bag: DiagnosticBag):
        self.bag = bag
        self.added: list[Diagnostic] = []
        self.reported: set = set()
        self._keys: set = set()

    def add(self, *args):
        before = len(self.bag.items)
        diagnostic = self.bag.add(*args)
        self._record(diagnostic, before)
        return diagnostic

    def extend(self, diagnostics):
        for diagnostic in diagnostics:
            before = len(self.bag.items)
            self.bag.extend([diagnostic])
            self._record(diagnostic, before)

    def _record(self, diagnostic: Diagnostic, before: int) -> None:
        self.added.append(diagnostic)
        key = _key(diagnostic)
        if key not in self._keys:
            self._keys.add(key)
            if len(self.bag.items) == before:  # not kept: the bag had it before this model
                self.reported.add(key)

    @property
    def items(self):
        return self.bag.items

    @property
    def has_errors(self):
        return self.bag.has_errors

    def __iter__(self):
        return iter(self.bag)

    def __len__(self):
        return len(self.bag)


_MENTIONS_LINE = re.compile(r"\bline\b")


def _moved_diagnostic(diagnostic: Diagnostic, lines: int) -> Diagnostic:
    return attrs.evolve(diagnostic, span=_shifted(diagnostic.span, lines)) if lines else diagnostic


_IR = (ir.LayerNode, ir.Group, ir.Model)


@functools.lru_cache(maxsize=None)
def _ir_fields(kind: type) -> tuple[tuple[str, ...], bool]:
    """The fields of an IR class, and whether __init__ takes them all, in order, by position."""
    fields = attrs.fields(kind)
    return tuple(field.name for field in fields), all(field.init and not field.kw_only for field in fields)


def _moved_model(model: ir.Model, lines: int) -> ir.Model:
    """A copy of a compiled model whose spans (of the model, its layers and groups) are `lines` lower."""
    copies: dict[int, object] = {}

    def move(value):
        found = copies.get(id(value))
        if found is not None:
            return found
        kind = type(value)
        names, positional = _ir_fields(kind)
        values = []
        for name in names:
            old = getattr(value, name)
            if type(old) is Span:
                old = _shifted(old, lines)
            elif type(old) is list:
                if old and isinstance(old[0], _IR):
                    old = [move(item) for item in old]
            elif isinstance(old, _IR):
                old = move(old)
            values.append(old)
        if positional:
            found = kind(*values)
        else:
            found = attrs.evolve(value, **{a.alias if getattr(a, "alias", None) else a.name.lstrip("_"): v
                                           for a, v in zip(attrs.fields(kind), values)})
        copies[id(value)] = found
        return found

    return move(model)


def _compile(tree: ast.File, bag: DiagnosticBag, convention: str, cache: Optional[Cache],
             places: Optional[dict] = None) -> ir.Program:
    """compile_file, reusing the compiled models of `cache` whose inputs are unchanged.

    A model's compilation depends on its syntax node, the blocks it calls (transitively),
    every block's name when it uses an unknown kind (the suggestion lists them), the
    convention, and which of the diagnostics it adds the bag already holds (a diagnostic
    is kept once: a block's error reported by an earlier model is not repeated, and the
    compiler looks at what it kept). The first four are the cache key; the last is checked
    on each use, with the bag below its cap so that nothing is dropped for lack of room.

    With `places` (id of a syntax node -> the text of its piece, its index there, the piece's
    line), nodes are named by their text and lines relative to the model: a model that only
    moved down or up with the blocks it calls (lines added above it) is the compiled model
    moved by as many lines, unless a message of it names a line."""
    from .compiler import Compiler, compile_file

    if cache is None:
        return compile_file(tree, bag, convention)
    used: dict = {}

    def known(bag) -> set:
        return getattr(bag, "_seen", None) or {_key(d) for d in bag.items}

    def reuse(found: _Compiled, line: Optional[int], seen: set) -> Optional[_Compiled]:
        moved = 0 if found.line is None or line is None else line - found.line
        if moved and any(_MENTIONS_LINE.search(d.message) or any(_MENTIONS_LINE.search(n) for n in d.notes)
                         for d in found.added):
            return None
        added = tuple(_moved_diagnostic(d, moved) for d in found.added) if moved else found.added
        reported = frozenset((code, _shifted(span, moved), message) for code, span, message in found.reported) \
            if moved else found.reported
        if {_key(d) for d in added if _key(d) in seen} != reported:
            return None
        if not moved:
            return found
        return _Compiled(_moved_model(found.model, moved), added, reported, found.checked, line)

    class CachingCompiler(Compiler):
        def compile_model(self, node):
            key, line = self._depends(node)
            found = cache.models.get(key) if key is not None else None
            if found is not None and len(self.bag.items) + len(found.added) < MAX_DIAGNOSTICS:
                found = reuse(found, line, known(self.bag))
                if found is not None:
                    self.bag.extend(found.added)
                    self.program.expectations_checked += found.checked
                    used[key] = found
                    cache.hits += 1
                    return found.model
            cache.misses += 1
            real, checked = self.bag, self.program.expectations_checked
            self.bag = recording = _RecordingBag(real)
            try:
                model = super().compile_model(node)
            finally:
                self.bag = real
            if key is not None and len(real.items) < MAX_DIAGNOSTICS:
                used[key] = _Compiled(model, tuple(recording.added), frozenset(recording.reported),
                                      self.program.expectations_checked - checked, line)
            return model

        def _depends(self, node):
            """The cache key of a model, and its line when the key is relative to it."""
            kinds: set = set()
            _stmt_kinds(node.body, kinds)
            todo, calls = list(kinds), {}
            while todo:
                name = todo.pop()
                if name in calls:
                    continue
                block = calls[name] = self.blocks.get(name)
                if block is not None:
                    inner: set = set()
                    _stmt_kinds(block.body, inner)
                    todo.extend(inner - calls.keys())
            unknown = tuple(self.blocks) if any(block is None and not _is_statement_kind(name)
                                                for name, block in calls.items()) else None
            place = places.get(id(node)) if places is not None else None
            if place is not None and all(b is None or id(b) in places for b in calls.values()):
                text, index, line = place
                blocks = tuple(sorted((name, None if b is None else (*places[id(b)][:2], places[id(b)][2] - line))
                                      for name, b in calls.items()))
                return (text, index, blocks, unknown, self.convention), line
            key = (node, tuple(sorted(calls.items(), key=lambda item: item[0])), unknown, self.convention)
            try:
                hash(key)
            except TypeError:
                return None, None
            return key, None

    program = CachingCompiler(tree, bag, convention).compile()
    cache.models = used
    return program


class Analysis:
    """One version of a document: its syntax trees, compilation and indexes from spans to IR."""

    def __init__(self, text: str, name: str = "<input>", convention: str = "keras", *,
                 version: Optional[int] = None, cache: Optional[Cache] = None):
        self.source = text  # as given
        if text.startswith("\ufeff"):  # a byte-order mark: a space keeps every column in place
            text = " " + text[1:]
        self.text = text
        self.name = name
        self.convention = convention
        self.version = version
        self.program: Optional[ir.Program] = None
        self.tree: Optional[ast.File] = None
        #: syntax nodes of the pieces that parse, in text order (all of them when `tree` is set)
        self.items: list = []
        #: models and blocks of the pieces that do not parse, found by their heads
        self.heads: list[Head] = []
        self._lines: dict[str, Lines] = {}
        try:
            self.diagnostics: list[Diagnostic] = self._compile(cache)
        except Exception as error:  # noqa: BLE001 - a compiler bug must not stop the server
            logger.warning("nnc failed on %s (%s)", name, type(error).__name__, exc_info=True)
            self.program, self.tree = None, None
            bag = DiagnosticBag()
            bag.add("E900", f"internal compiler error ({type(error).__name__})", Span(1, 1, 1, 1),
                    "please report this bug with the input file")
            self.diagnostics = list(bag)
        self.layers: dict[Span, list[tuple[ir.Model, ir.LayerNode]]] = {}
        self.groups: dict[Span, list[tuple[ir.Model, ir.Group]]] = {}
        for model in self.program.models if self.program else ():
            for node in model.layers:
                if node.span is not None:
                    self.layers.setdefault(node.span, []).append((model, node))
            for group in model.groups():
                if group.span is not None:
                    self.groups.setdefault(group.span, []).append((model, group))

    def _compile(self, cache: Optional[Cache]) -> list[Diagnostic]:
        """Parse piece by piece (reusing `cache`), then compile as nnc's driver does."""
        from .lexer import MAX_TOKENS
        from .parser import deep_recursion, parse

        text = self.text
        if len(text) > MAX_DOCUMENT_CHARS:
            bag = DiagnosticBag()
            bag.add("E112", f"the document has more than {MAX_DOCUMENT_CHARS:,} characters, the limit for a .nn "
                            "file", Span(1, 1, 1, 2))
            return list(bag)
        if "\r" in text:  # as the driver: CRLF and lone CR are line ends
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        used: dict = {}
        failed = False
        diagnostics: list[Diagnostic] = []
        cut = pieces(text) if len(text) < MAX_TOKENS else [Piece(0, len(text), 0)]  # no piece can hit the limit
        places: dict = {}  # id of a syntax node -> its piece's text, its index there, the piece's line
        for piece in cut:
            piece_text = text[piece.start:piece.end]
            result = _parse_piece(piece_text, piece.line, self.name, cache, used)
            for index, item in enumerate(result.items or ()):
                places[id(item)] = (piece_text, index, piece.line)
            if result.items is None:
                failed = True
                head = _head(text, piece)
                if head is not None:
                    self.heads.append(head)
            else:
                self.items.extend(result.items)
                diagnostics.extend(result.diagnostics)
        if cache is not None:
            cache.parsed = used
        bag = DiagnosticBag()
        if failed:  # the diagnostic nnc check gives: the first syntax error of the whole text
            tree = parse(Source(text, self.name), bag)
            if tree is None:
                return list(bag)
            logger.warning("the pieces of %s do not parse as the whole text does", self.name)
            self.items, self.heads, cache, places = list(tree.items), [], None, None
        else:
            bag.extend(diagnostics)
            tree = ast.File(tuple(self.items))
        self.tree = tree
        with deep_recursion():
            try:
                self.program = _compile(self.tree, bag, self.convention, cache, places)
            except RecursionError:  # as the driver
                bag.add("E112", "the program nests too deeply to compile", Span(1, 1, 1, 2))
        return list(bag)

    def lines(self, encoding: str = "utf-16") -> Lines:
        encoding = _encoding_name(encoding)
        found = self._lines.get(encoding)
        if found is None:
            found = self._lines[encoding] = Lines(self.text, encoding)
        return found

    def model(self, name: str) -> Optional[ir.Model]:
        return self.program.model(name) if self.program else None

    def block_names(self) -> dict[str, ast.BlockDef]:
        """Blocks defined by the pieces that parse, each name's first definition."""
        found: dict[str, ast.BlockDef] = {}
        for item in self.items:
            if isinstance(item, ast.BlockDef):
                found.setdefault(item.name, item)
        return found

    def block_signatures(self) -> dict[str, list[str]]:
        """Every block's parameter names: from the syntax trees, else from a head."""
        found = {name: [p.name for p in block.params] for name, block in self.block_names().items()}
        for head in self.heads:
            if head.keyword == "block":
                found.setdefault(head.name, list(head.params))
        return found

    def model_names(self) -> list[str]:
        names = [item.name for item in self.items if isinstance(item, ast.Model)]
        return names + [head.name for head in self.heads if head.keyword == "model" and head.name not in names]


# --- diagnostics --------------------------------------------------------------------


def to_lsp_diagnostic(diagnostic: Diagnostic, lines: Lines) -> lsp.Diagnostic:
    message = diagnostic.message
    if diagnostic.notes:
        message += "\n" + "\n".join(f"note: {note}" for note in diagnostic.notes)
    return lsp.Diagnostic(
        range=lines.range(diagnostic.span),
        message=message,
        severity=SEVERITIES.get(diagnostic.severity, lsp.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source="nnc",
    )


def diagnostics(analysis: Analysis, encoding: str = "utf-16") -> list[lsp.Diagnostic]:
    lines = analysis.lines(encoding)
    return [to_lsp_diagnostic(d, lines) for d in analysis.diagnostics]


# --- finding what is under the cursor --------------------------------------------------


def _chain(items: Iterable, line: int, column: int) -> list:
    """The nodes containing 1-based (line, column), outermost first: item, statements, branches."""
    for item in items:
        if isinstance(item, (ast.Model, ast.BlockDef)) and _contains(item.span, line, column):
            return [item, *_chain_body(item.body, line, column)]
        if isinstance(item, ast.Compare) and _contains(item.span, line, column):
            return [item]
    return []


def _chain_body(body, line: int, column: int) -> list:
    for stmt in body:
        if not _contains(stmt.span, line, column):
            continue
        if isinstance(stmt, ast.Merge):
            for branch in stmt.branches:
                if _contains(branch.span, line, column):
                    return [stmt, branch, *_chain_body(branch.body, line, column)]
        elif isinstance(stmt, ast.Repeat):
            return [stmt, *_chain_body(stmt.body, line, column)]
        return [stmt]
    return []


# --- hover ------------------------------------------------------------------------


def _num(value: Optional[int]) -> str:
    """1,234; a count that depends on a size unknown until run time says so."""
    return "? (depends on a size unknown until run time)" if value is None else f"{value:,}"


def _shape(shape) -> str:
    return f"`{shape_with_batch(shape, None)}`" if shape is not None else "unknown (an error leaves it unknown)"


def _where(model: ir.Model, path: tuple, name: str = "") -> str:
    return " › ".join([model.name, *path, *([name] if name else [])])


def _params_line(trainable: int, non_trainable: int) -> str:
    return f"{_num(trainable + non_trainable)} (trainable {_num(trainable)}, non-trainable {_num(non_trainable)})"


def _worked(value) -> str:
    """`formula = 1,234`, or the bare number when there is no formula."""
    return _num(value.value) if value.is_literal else f"`{value.worked()}`"


def _layer_details(node: ir.LayerNode, convention: Optional[str] = None) -> list[str]:
    """The full description of one compiled layer: shape, parameters (as `convention` counts them;
    None: the compilation's convention), MACs and their formulas."""
    out = [f"- output shape: {_shape(node.output_shape)}"]
    if node.input_shape is not None:
        out[0] += f" from {_shape(node.input_shape)}"
    sizes = []
    for dim in node.dims or ():
        if dim is not None and not dim.is_literal and dim.worked() not in sizes:
            sizes.append(dim.worked())
    if sizes:
        out.append("- output size: " + "; ".join(f"`{s}`" for s in sizes))
    if node.output_shape is None:
        return out
    trainable, non_trainable = node.counts(convention)
    out.append(f"- params: {_params_line(trainable.value, non_trainable.value)}")
    if not trainable.is_literal:
        out.append(f"  - trainable: `{trainable.worked()}`")
    if not non_trainable.is_literal:
        out.append(f"  - non-trainable: `{non_trainable.worked()}`")
    out.append(f"- MACs: {_worked(node.macs)}")
    if node.pool_ops.value != 0:  # shown when unknown (None) too
        out.append(f"- pool ops: {_worked(node.pool_ops)}")
    geometry = [f"{key} {value}" for key, value in zip(("kernel", "stride", "padding"), present.geometry(node))
                if value]
    if node.activation:
        geometry.append(f"activation {node.activation}")
    if geometry:
        out.append("- " + ", ".join(geometry))
    return out


def _layer_brief(model: ir.Model, node: ir.LayerNode, convention: Optional[str] = None) -> str:
    if node.output_shape is None:
        return f"- `{_where(model, node.path, node.name)}`: output unknown"
    params = sum(count.value for count in node.counts(convention))
    return (f"- `{_where(model, node.path, node.name)}`: {_shape(node.output_shape)}, params {_num(params)}, "
            f"MACs {_num(node.macs.value)}")


def _same_numbers(nodes, convention: Optional[str] = None) -> bool:
    keys = set()
    for _, n in nodes:
        trainable, non_trainable = n.counts(convention)
        keys.add((n.output_shape, n.input_shape, trainable.text, non_trainable.text, n.macs.text, trainable.value,
                  non_trainable.value, n.macs.value))
    return len(keys) == 1


def hover_layer(entries: list[tuple[ir.Model, ir.LayerNode]], in_block: Optional[str],
                convention: Optional[str] = None) -> str:
    """Markdown for a layer statement compiled once (in a model) or once per call (in a block); the
    parameters as `convention` counts them (None: the compilation's convention)."""
    model, first = entries[0]
    if len(entries) == 1:
        where = f"block `{in_block}`, called once as " if in_block else ""
        head = f"**{first.name}** · `{first.kind}` · {where}`{_where(model, first.path)}`"
        return "\n".join([head, "", *_layer_details(first, convention)])
    count = len(entries)
    # in a block, a statement runs once per call; in a model, once per repetition of a repeat
    where, runs = (f"in block `{in_block}`", "calls") if in_block else ("repeated", "times")
    if _same_numbers(entries, convention):
        head = f"**{first.kind}** {where} · {count} {runs}, the same numbers each time"
        names = [f"`{_where(m, n.path, n.name)}`" for m, n in entries[:MAX_CALLS_SHOWN]]
        more = f" and {count - MAX_CALLS_SHOWN} more" if count > MAX_CALLS_SHOWN else ""
        return "\n".join([head, "", *_layer_details(first, convention), "", "as: " + ", ".join(names) + more])
    head = f"**{first.kind}** {where} · {count} {runs}; the first, `{_where(model, first.path, first.name)}`:"
    shown = entries if count <= MAX_CALLS_SHOWN + 1 else entries[:MAX_CALLS_SHOWN]
    out = [head, "", *_layer_details(first, convention), "", "each time:" if len(shown) == count else
           f"the first {len(shown)} of {count}:"]
    out += [_layer_brief(m, n, convention) for m, n in shown]
    if len(shown) < count:
        out.append(f"- … and {count - len(shown)} more {'calls' if in_block else ''}".rstrip())
    return "\n".join(out)


def _group_input(group: ir.Group):
    first = next(group.layers(), None)
    return first.input_shape if first is not None else None


def _group_lines(model: ir.Model, group: ir.Group, convention: Optional[str] = None) -> list[str]:
    totals = group.totals(convention)
    out = [f"- output shape: {_shape(group.output_shape)}"]
    entry = _group_input(group)
    if entry is not None:
        out[0] += f" from {_shape(entry)}"
    out.append(f"- params: {_params_line(totals.trainable, totals.non_trainable)}")
    out.append(f"- MACs: {_num(totals.macs)}")
    if totals.pool_ops != 0:  # shown when unknown (None) too
        out.append(f"- pool ops: {_num(totals.pool_ops)}")
    out.append(f"- {totals.layers} layer{'s' if totals.layers != 1 else ''}")
    return out


def hover_groups(entries: list[tuple[ir.Model, ir.Group]], what: str, convention: Optional[str] = None) -> str:
    """Markdown for a block call, a branch or a labelled join: totals of the layers inside (the
    parameters as `convention` counts them; None: the compilation's convention)."""
    model, first = entries[0]
    title = f"call of block `{first.block}`" if first.kind == "block" else what
    if len(entries) == 1:
        return "\n".join([f"**{first.name}** · {title} · `{_where(model, first.path[:-1])}`", "",
                          *_group_lines(model, first, convention)])
    count = len(entries)
    out = [f"**{title}** · {count} instances; the first, `{_where(model, first.path)}`:", "",
           *_group_lines(model, first, convention), ""]
    shown = entries if count <= MAX_CALLS_SHOWN + 1 else entries[:MAX_CALLS_SHOWN]
    out.append("every instance:" if len(shown) == count else f"the first {len(shown)} of {count}:")
    for m, group in shown:
        totals = group.totals(convention)
        out.append(f"- `{_where(m, group.path)}`: {_shape(group.output_shape)}, params {_num(totals.params)}, "
                   f"MACs {_num(totals.macs)}")
    if len(shown) < count:
        out.append(f"- … and {count - len(shown)} more")
    return "\n".join(out)


def hover_model(model: ir.Model, convention: Optional[str] = None) -> str:
    totals = model.totals(convention)
    out = [f"**model {model.name}**", "",
           f"- input {_shape(model.input_shape)} → output {_shape(model.output_shape)}",
           f"- params: {_params_line(totals.trainable, totals.non_trainable)}",
           f"- MACs: {_num(totals.macs)}",
           f"- {totals.layers} layers"]
    if not model.ok:
        out.append("- incomplete: the model has errors")
    return "\n".join(out)


def hover_block_def(analysis: Analysis, block: ast.BlockDef) -> str:
    convention = analysis.convention
    params = ", ".join(p.name for p in block.params)
    calls = []
    for entries in analysis.groups.values():
        calls += [(m, g) for m, g in entries if g.kind == "block" and g.block == block.name]
    head = f"**block {block.name}({params})**"
    if not calls:
        return "\n".join([head, "", "not called by any model"])
    model, first = calls[0]
    if len(calls) == 1:
        return "\n".join([head, "", f"called once, as `{_where(model, first.path)}`:", "",
                          *_group_lines(model, first, convention)])
    shown = calls if len(calls) <= MAX_CALLS_SHOWN + 1 else calls[:MAX_CALLS_SHOWN]
    out = [head, "", f"called {len(calls)} times; the first, `{_where(model, first.path)}`:", "",
           *_group_lines(model, first, convention), "", "each call:" if len(shown) == len(calls) else
           f"the first {len(shown)} of {len(calls)} calls:"]
    for m, group in shown:
        totals = group.totals(convention)
        out.append(f"- `{_where(m, group.path)}`: {_shape(group.output_shape)}, params {_num(totals.params)}, "
                   f"MACs {_num(totals.macs)}")
    if len(shown) < len(calls):
        out.append(f"- … and {len(calls) - len(shown)} more calls")
    return "\n".join(out)


def hover(analysis: Analysis, position: lsp.Position, encoding: str = "utf-16") -> Optional[lsp.Hover]:
    """What the statement under the cursor computes, as Markdown."""
    tree = analysis.tree
    if tree is None or analysis.program is None:
        return None
    lines = analysis.lines(encoding)
    if position.line >= lines.count:
        return None
    line, char = lines.from_client(position)
    if "#" in lines.line(line)[:char]:
        return None
    chain = _chain(tree.items, line + 1, char + 1)
    if not chain:
        return None
    item, innermost = chain[0], chain[-1]
    in_block = item.name if isinstance(item, ast.BlockDef) else None
    text: Optional[str] = None
    span = getattr(innermost, "span", None)
    if isinstance(innermost, (ast.Model, ast.BlockDef)) and not _contains(innermost.name_span, line + 1, char + 1):
        return None
    if isinstance(innermost, ast.Model):
        model = analysis.model(innermost.name)
        text, span = (hover_model(model, analysis.convention) if model is not None else None), innermost.name_span
    elif isinstance(innermost, ast.BlockDef):
        text, span = hover_block_def(analysis, innermost), innermost.name_span
    elif isinstance(innermost, ast.Layer):
        text = _hover_layer_stmt(analysis, item, innermost, in_block)
    elif isinstance(innermost, ast.Merge):
        text = _hover_merge(analysis, innermost, in_block)
    elif isinstance(innermost, ast.Branch):
        entries = analysis.groups.get(innermost.span, [])
        text = hover_groups(entries, f"branch of `{chain[-2].mode}`", analysis.convention) if entries else None
    elif isinstance(innermost, ast.Repeat):
        entries = analysis.groups.get(innermost.span, [])
        text = hover_groups(entries, "repeat", analysis.convention) if entries else None
    if not text:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text), range=lines.range(span))


def _hover_layer_stmt(analysis: Analysis, item, stmt: ast.Layer, in_block: Optional[str]) -> Optional[str]:
    if stmt.kind in analysis.block_names():
        entries = [(m, g) for m, g in analysis.groups.get(stmt.span, []) if g.kind == "block"]
        return hover_groups(entries, "block call", analysis.convention) if entries else None
    kind = layers.lookup(stmt.kind)
    if isinstance(item, ast.Model) and item.body and item.body[0] is stmt and kind is not None and kind.model_input:
        model = analysis.model(item.name)
        if model is None:
            return None
        return f"**input** of model `{model.name}`\n\n- shape: {_shape(model.input_shape)}"
    entries = analysis.layers.get(stmt.span, [])
    if not entries:
        return None
    return hover_layer(entries, in_block, analysis.convention)


def _hover_merge(analysis: Analysis, stmt: ast.Merge, in_block: Optional[str]) -> Optional[str]:
    joins = [(m, n) for m, n in analysis.layers.get(stmt.span, []) if n.kind == stmt.mode]
    if not joins:
        return None
    out = []
    limit = len(joins) if len(joins) <= MAX_CALLS_SHOWN + 1 else MAX_CALLS_SHOWN
    for number, (model, join) in enumerate(joins[:limit]):
        branches = []
        for branch in stmt.branches:
            found = analysis.groups.get(branch.span, [])
            if number < len(found):
                m, group = found[number]
                branches.append(group)
        total = ir.Totals.of((layer for group in branches for layer in group.layers()), analysis.convention)
        where = _where(model, join.path)
        if number == 0:
            title = f"**{stmt.mode}** of {len(stmt.branches)} branches · `{where}`"
            if len(joins) > 1:
                title += f" · {len(joins)} instances, the first:"
            out += [title, "", f"- output shape: {_shape(join.output_shape)}",
                    f"- params: {_params_line(total.trainable, total.non_trainable)}",
                    f"- MACs: {_num(total.macs)}"]
            for group in branches:
                totals = group.totals(analysis.convention)
                out.append(f"  - branch `{group.name}`: {_shape(group.output_shape)}, params {_num(totals.params)}, "
                           f"MACs {_num(totals.macs)}")
            if len(joins) > 1:
                out += ["", "every instance:" if len(joins) <= limit else f"the first {limit} of {len(joins)}:"]
        if len(joins) > 1:
            out.append(f"- `{where}`: {_shape(join.output_shape)}, params {_num(total.params)}, "
                       f"MACs {_num(total.macs)}")
    if len(joins) > limit:
        out.append(f"- … and {len(joins) - limit} more")
    return "\n".join(out)


# --- go to definition ------------------------------------------------------------------


def _without_comments(text: str) -> str:
    """The text with comments blanked out, every offset kept."""
    return _COMMENT.sub(lambda m: " " * len(m.group()), text)


def _word_at(lines: Lines, line: int, char: int) -> Optional[tuple[str, int, int]]:
    """The name under (or just before) the cursor: (word, start, end) in characters of the line."""
    text = lines.line(line)
    if "#" in text[:char]:
        return None
    for match in _NAME.finditer(text):
        if match.start() <= char <= match.end():
            return match.group(), match.start(), match.end()
    return None


def definition(analysis: Analysis, uri: str, position: lsp.Position,
               encoding: str = "utf-16") -> Optional[lsp.Location]:
    """From a block call to `block NAME(`, from a name in `compare` to its model."""
    lines = analysis.lines(encoding)
    if position.line >= lines.count:
        return None
    line, char = lines.from_client(position)
    word = _word_at(lines, line, char)
    if word is None:
        return None
    name = word[0]
    blocks = analysis.block_names()
    chain = _chain(analysis.items, line + 1, char + 1)
    if chain:  # in an item that parses: only a block call's kind and a compare's names lead somewhere
        innermost = chain[-1]
        if isinstance(innermost, ast.Layer) and innermost.kind == name and name in blocks \
                and _contains(innermost.kind_span, line + 1, char + 1):
            return lsp.Location(uri=uri, range=lines.range(blocks[name].name_span))
        if isinstance(innermost, ast.Compare):
            model = next((m for m in analysis.items if isinstance(m, ast.Model) and m.name == name), None)
            if model is not None:
                return lsp.Location(uri=uri, range=lines.range(model.name_span))
        return None
    # in text that does not parse (yet): the block of that name, else the model
    if name in blocks:
        return lsp.Location(uri=uri, range=lines.range(blocks[name].name_span))
    heads = {(head.keyword, head.name): head.span for head in reversed(analysis.heads)}  # the first wins
    model = next((m for m in analysis.items if isinstance(m, ast.Model) and m.name == name), None)
    span = heads.get(("block", name)) or (model.name_span if model is not None else heads.get(("model", name)))
    return lsp.Location(uri=uri, range=lines.range(span)) if span is not None else None


# --- completion ----------------------------------------------------------------------


def _scan_blocks(text: str) -> dict[str, list[str]]:
    """Block names and their parameter names, found by their heads in text that may not parse."""
    found: dict[str, list[str]] = {}
    for head in heads(text):
        if head.keyword == "block":
            found.setdefault(head.name, list(head.params))
    return found


def _scan_models(text: str) -> list[str]:
    return [head.name for head in heads(text) if head.keyword == "model"]


def _depth(text: str) -> int:
    """How many braces are open at the end of text (comments ignored)."""
    stripped = _without_comments(text)
    return max(0, stripped.count("{") - stripped.count("}"))


def _signature(kind) -> str:
    parts = [kind.name]
    for spec in kind.positional:
        parts.append(spec.name if spec.required else f"[{spec.name}]")
    for spec in kind.options:
        default = _default_text(spec)
        parts.append(f"{spec.name}=…" if spec.required else f"[{spec.name}={default}]")
    if kind.takes_activation:
        parts.append("[activation]")
    return " ".join(parts)


def _default_text(spec) -> str:
    default = spec.default
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return "x".join(str(d) for d in default)
    return "…" if default is None else str(default)


def _kind_doc(kind) -> str:
    out = [f"`{_signature(kind)}`", "", kind.summary]
    if kind.aliases:
        out += ["", "also: " + ", ".join(f"`{a}`" for a in kind.aliases)]
    specs = kind.all_args()
    if specs:
        out += [""] + [f"- `{s.name}`: {s.doc}" for s in specs]
    return "\n".join(out)


def _option_item(spec) -> lsp.CompletionItem:
    detail = spec.doc or spec.name
    if spec.required:
        detail += " (required)"
    elif spec.default is not None:
        detail += f" (default {_default_text(spec)})"
    doc = [spec.doc or spec.name]
    if spec.choices:
        doc.append("one of: " + ", ".join(f"`{c}`" for c in spec.choices))
    if spec.aliases:
        doc.append("also written: " + ", ".join(f"`{a}=`" for a in spec.aliases))
    return lsp.CompletionItem(
        label=spec.name, kind=lsp.CompletionItemKind.Property, detail=detail,
        documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(doc)),
        insert_text=f"{spec.name}=", filter_text=spec.name,
        sort_text=("0" if spec.required else "1") + spec.name,
    )


def _word_items(words: Iterable[str], detail: str, sort: str = "2") -> list[lsp.CompletionItem]:
    return [lsp.CompletionItem(label=w, kind=lsp.CompletionItemKind.EnumMember, detail=detail, sort_text=sort + w)
            for w in words]


def _statement_start_items(blocks: dict[str, list[str]]) -> list[lsp.CompletionItem]:
    items = []
    for kind in layers.statement_kinds():
        items.append(lsp.CompletionItem(
            label=kind.name, kind=lsp.CompletionItemKind.Class, detail=kind.summary,
            documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=_kind_doc(kind)),
            sort_text="1" + kind.name))
        for alias in kind.aliases:
            items.append(lsp.CompletionItem(label=alias, kind=lsp.CompletionItemKind.Class,
                                            detail=f"{kind.name}: {kind.summary}", sort_text="3" + alias.lower()))
    for name, params in blocks.items():
        items.append(lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Function,
                                        detail=f"block {name}({', '.join(params)})", sort_text="0" + name))
    for word in KEYWORDS_BODY:
        items.append(lsp.CompletionItem(label=word, kind=lsp.CompletionItemKind.Keyword, sort_text="2" + word))
    return items


def _value_items(kind, key: str) -> list[lsp.CompletionItem]:
    if key == "activation" and kind.takes_activation:
        return _word_items(ACTIVATIONS, "activation")
    spec = kind.arg(key)
    if spec is None:
        return []
    if spec.type in ("pad",):
        return _word_items(("valid", "same"), spec.doc)
    if spec.type == "bool":
        return _word_items(("true", "false"), spec.doc)
    if spec.choices:
        return _word_items(spec.choices, spec.doc)
    return []


def completions(text: str, position: lsp.Position, encoding: str = "utf-16", analysis: Optional[Analysis] = None,
                lines: Optional[Lines] = None) -> list[lsp.CompletionItem]:
    """Candidates at the cursor, from the text of the line (it need not parse while it is typed);
    the blocks and models defined come from `analysis` (a compilation of this text or of an
    earlier version), else from a search of the text for their heads."""
    if lines is None or lines.encoding != _encoding_name(encoding) or lines.text != text:
        lines = Lines(text, encoding)
    if position.line >= lines.count:
        return []
    line, char = lines.from_client(position)
    before = lines.line(line)[:char]
    if "#" in before:
        return []
    depth = _depth(text[: lines.offset(line, char)])
    segment = re.split(r"[;{}]", before)[-1]
    label = _LABEL.match(segment)
    if label:
        segment = segment[label.end():]
    partial_match = re.search(r"\S*$", segment)
    partial = partial_match.group() if partial_match else ""
    tokens = segment[: len(segment) - len(partial)].split()
    if depth == 0:
        if not tokens:
            return [lsp.CompletionItem(label=w, kind=lsp.CompletionItemKind.Keyword) for w in KEYWORDS_TOP]
        if tokens[0] == "compare":
            models = analysis.model_names() if analysis is not None else _scan_models(text)
            return [lsp.CompletionItem(label=m, kind=lsp.CompletionItemKind.Module, detail="model") for m in models]
        return []
    blocks = analysis.block_signatures() if analysis is not None else _scan_blocks(text)
    if not tokens:
        return _statement_start_items(blocks)
    if "->" in tokens or partial.startswith("->"):
        return [lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Property, insert_text=f"{k}=",
                                   detail=f"expected {k} (the total over the statement)") for k in ("params", "macs")]
    head = tokens[0].split("(")[0]
    if head in blocks:
        used = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", segment))
        return [lsp.CompletionItem(label=p, kind=lsp.CompletionItemKind.Property, insert_text=f"{p}=",
                                   detail=f"parameter of block {head}") for p in blocks[head] if p not in used]
    kind = layers.lookup(head)
    if kind is None:
        return []
    value = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[^\s=]*$", segment)
    if value:
        return _value_items(kind, value.group(1))
    written = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", segment))
    used = {spec.name for spec in kind.all_args() for key in written if key == spec.name or key in spec.aliases}
    given = [t for t in re.sub(r"[A-Za-z_][A-Za-z0-9_]*\s*=\s*\S*", " ", segment).split()[1:]
             if t.lower() not in ACTIVATIONS]
    used |= {spec.name for spec in kind.positional[: len(given)]}
    items = [_option_item(spec) for spec in kind.options if spec.name not in used]
    for spec in kind.positional:  # a positional argument may also be written by name
        if spec.name not in used:
            item = _option_item(spec)
            item.sort_text = "4" + spec.name
            items.append(item)
    if kind.takes_activation:
        has_activation = "activation" in written or any(t.lower() in ACTIVATIONS for t in tokens[1:])
        if not has_activation:
            items += _word_items(ACTIVATIONS, "activation")
    for spec in kind.positional:
        if spec.choices:
            items += _word_items(spec.choices, spec.doc)
    return items


# --- document symbols -----------------------------------------------------------------------


def _stmt_symbol(analysis: Analysis, stmt, lines: Lines, blocks: set) -> lsp.DocumentSymbol:
    if isinstance(stmt, ast.Layer):
        entries = analysis.layers.get(stmt.span, [])
        calls = analysis.groups.get(stmt.span, [])
        if stmt.kind in blocks:
            name = calls[0][1].name if len(calls) == 1 else stmt.label or stmt.kind
            detail = f"block {stmt.kind}"
            if len(calls) == 1 and calls[0][1].output_shape is not None:
                detail += " → " + shape_with_batch(calls[0][1].output_shape, None)
            kind = lsp.SymbolKind.Function
        else:
            name = entries[0][1].name if len(entries) == 1 else stmt.label or stmt.kind
            detail = stmt.kind
            if len(entries) == 1 and entries[0][1].output_shape is not None:
                detail += " → " + shape_with_batch(entries[0][1].output_shape, None)
            kind = lsp.SymbolKind.Field
        return lsp.DocumentSymbol(name=name, kind=kind, detail=detail, range=lines.range(stmt.span),
                                  selection_range=lines.range(stmt.kind_span))
    if isinstance(stmt, ast.Merge):
        children = []
        for number, branch in enumerate(stmt.branches, 1):
            branch_children = [_stmt_symbol(analysis, s, lines, blocks) for s in branch.body]
            children.append(lsp.DocumentSymbol(
                name=branch.name or f"branch_{number}", kind=lsp.SymbolKind.Namespace, detail="branch",
                range=lines.range(branch.span), selection_range=_first_line(lines.range(branch.span)),
                children=branch_children))
        return lsp.DocumentSymbol(name=stmt.label or stmt.mode, kind=lsp.SymbolKind.Struct, detail=stmt.mode,
                                  range=lines.range(stmt.span), selection_range=_first_line(lines.range(stmt.span)),
                                  children=children)
    children = [_stmt_symbol(analysis, s, lines, blocks) for s in stmt.body]
    return lsp.DocumentSymbol(name=stmt.label or "repeat", kind=lsp.SymbolKind.Array, detail="repeat",
                              range=lines.range(stmt.span), selection_range=_first_line(lines.range(stmt.span)),
                              children=children)


def _first_line(whole: lsp.Range) -> lsp.Range:
    if whole.end.line == whole.start.line:
        return whole
    return lsp.Range(start=whole.start, end=lsp.Position(line=whole.start.line, character=whole.start.character + 1))


def document_symbols(analysis: Analysis, encoding: str = "utf-16") -> list[lsp.DocumentSymbol]:
    """Models and blocks, with their statements (and branches) as children; a model or block
    whose text does not parse is listed by its head alone."""
    lines = analysis.lines(encoding)
    blocks = set(analysis.block_names())
    symbols = []
    for item in analysis.items:
        if not isinstance(item, (ast.Model, ast.BlockDef)):  # compare, allow
            continue
        children = [_stmt_symbol(analysis, stmt, lines, blocks) for stmt in item.body]
        if isinstance(item, ast.Model):
            model = analysis.model(item.name)
            detail = "model"
            if model is not None and model.root is not None and model.output_shape is not None:
                detail += f" {shape_with_batch(model.input_shape, None)} → {shape_with_batch(model.output_shape, None)}"
            kind = lsp.SymbolKind.Class
        else:
            detail = f"block ({', '.join(p.name for p in item.params)})"
            kind = lsp.SymbolKind.Function
        symbols.append(lsp.DocumentSymbol(name=item.name, kind=kind, detail=detail, range=lines.range(item.span),
                                          selection_range=lines.range(item.name_span), children=children))
    for head in analysis.heads:
        where = lines.range(head.span)
        kind = lsp.SymbolKind.Class if head.keyword == "model" else lsp.SymbolKind.Function
        symbols.append(lsp.DocumentSymbol(name=head.name, kind=kind, detail=head.keyword, range=where,
                                          selection_range=where))
    return sorted(symbols, key=lambda s: (s.range.start.line, s.range.start.character))


# --- open documents and their compilations ------------------------------------------------------


class Document:
    """An open document: its current text and version, and its latest compilations."""

    def __init__(self, uri: str, text: str, version: Optional[int], encoding: str):
        self.uri = uri
        self.version = version
        self._lines = Lines(text, encoding)
        self.cache = Cache()
        self.latest: Optional[Analysis] = None  # the compilation of the newest version compiled
        self.good: Optional[Analysis] = None  # the newest compilation that has a program (for hovers)
        self.timer: Optional[asyncio.TimerHandle] = None
        self.compiling = False
        self.last_edit = 0.0
        self.waiters: list[asyncio.Future] = []
        self._moved: Optional[tuple] = None

    @property
    def text(self) -> str:
        return self._lines.text

    @property
    def lines(self) -> Lines:
        return self._lines

    def edit(self, change, encoding: str) -> None:
        """Apply one content change (clamped to the text, as the protocol asks)."""
        where = getattr(change, "range", None)
        if where is None:
            self._lines = Lines(change.text, encoding)
            return
        lines = self._lines
        start = lines.offset(*lines.from_client(where.start))
        end = lines.offset(*lines.from_client(where.end))
        if end < start:
            start, end = end, start
        self._lines = lines.replace(start, end, change.text)

    def fresh(self) -> bool:
        """Whether the latest compilation is of the current text."""
        return self.latest is not None and self.latest.version == self.version and self.latest.source == self.text

    def moved(self, analysis: Analysis, encoding: str) -> LineMap:
        """The lines of an earlier compilation against the current text (kept for the next request)."""
        known = self._moved
        if known is not None and known[0] is analysis and known[1] is self.text:
            return known[2]
        old = Lines(analysis.source, encoding, analysis.lines(encoding)._starts)
        moved = LineMap(old, self._lines)
        self._moved = (analysis, self.text, moved)
        return moved


class Documents:
    """The open documents, compiled in a worker thread: only the latest version of each, a
    moment (DEBOUNCE) after its last edit, never two at once."""

    def __init__(self, convention: str = "keras"):
        self.convention = convention
        self.encoding = "utf-16"
        self.open: dict[str, Document] = {}
        self.compilations = 0
        #: called in the worker thread after each compilation, with the uri and version (for tests)
        self.on_compile: Optional[Callable[[str, Optional[int]], None]] = None
        self.publish: Callable[[Document, Analysis], None] = lambda document, analysis: None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._jobs: "queue.Queue" = queue.Queue()
        self._worker: Optional[threading.Thread] = None

    # -- text ------------------------------------------------------------------------
    def did_open(self, uri: str, text: str, version: Optional[int]) -> Document:
        old = self.open.pop(uri, None)
        if old is not None:
            self._close(old)
        document = self.open[uri] = Document(uri, text, version, self.encoding)
        self._start(document)
        return document

    def did_change(self, uri: str, version: Optional[int], changes) -> Optional[Document]:
        document = self.open.get(uri)
        if document is None:
            logger.info("didChange for %s, which is not open: ignored", uri)
            return None
        for change in changes:
            document.edit(change, self.encoding)
        document.version = version
        now = time.monotonic()
        quiet = now - document.last_edit > DEBOUNCE
        document.last_edit = now
        if quiet and not document.compiling and document.timer is None:
            self._start(document)
        else:
            self._debounce(document)
        return document

    def did_close(self, uri: str) -> None:
        document = self.open.pop(uri, None)
        if document is not None:
            self._close(document)

    def _close(self, document: Document) -> None:
        if document.timer is not None:
            document.timer.cancel()
            document.timer = None
        self._wake(document, None)

    # -- compiling ---------------------------------------------------------------------
    def _debounce(self, document: Document) -> None:
        if document.timer is not None:
            document.timer.cancel()
        if self.loop is None:
            self._start(document)
            return
        document.timer = self.loop.call_later(DEBOUNCE, self._due, document)

    def _due(self, document: Document) -> None:
        document.timer = None
        if self.open.get(document.uri) is document and not document.compiling:
            self._start(document)

    def _start(self, document: Document) -> None:
        """Compile the document's current text in the worker (at once without an event loop)."""
        if self.loop is None:
            self._finished(document, document.version, self._compile(document, document.text, document.version))
            return
        document.compiling = True
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="nnc-lsp-compiler", daemon=True)
            self._worker.start()
        self._jobs.put((document, document.text, document.version))

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            document, text, version = job
            analysis = None
            if self.open.get(document.uri) is document and document.version == version:  # else stale: dropped
                try:
                    analysis = self._compile(document, text, version)
                except Exception:  # noqa: BLE001 - the worker must outlive any bug
                    logger.warning("compiling %s failed", document.uri, exc_info=True)
            try:
                self.loop.call_soon_threadsafe(self._finished, document, version, analysis)
            except RuntimeError:  # the loop is closed: the server is stopping
                return

    def _compile(self, document: Document, text: str, version: Optional[int]) -> Analysis:
        started = time.perf_counter()
        hits, misses = document.cache.hits, document.cache.misses
        analysis = Analysis(text, _display_name(document.uri), self.convention, version=version,
                            cache=document.cache)
        analysis.lines(self.encoding)  # here rather than in the event loop
        logger.debug("compiled version %s of %s in %.1f ms (%d models reused, %d compiled)", version,
                     document.uri, (time.perf_counter() - started) * 1000, document.cache.hits - hits,
                     document.cache.misses - misses)
        self.compilations += 1
        if self.on_compile is not None:
            self.on_compile(document.uri, version)
        return analysis

    def _finished(self, document: Document, version: Optional[int], analysis: Optional[Analysis]) -> None:
        document.compiling = False
        if self.open.get(document.uri) is not document:
            return
        if analysis is None and version == document.version:  # it failed: wait for the next edit
            self._wake(document, None)
            return
        if analysis is not None:
            document.latest = analysis
            if analysis.program is not None:
                document.good = analysis
            if document.fresh():
                self._wake(document, analysis)
                self.publish(document, analysis)
        if not document.fresh() and document.timer is None:
            self._start(document)

    @staticmethod
    def _wake(document: Document, analysis: Optional[Analysis]) -> None:
        waiters, document.waiters = document.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(analysis)

    def stop(self) -> None:
        for document in list(self.open.values()):
            self._close(document)
        self._jobs.put(None)

    # -- what requests read -------------------------------------------------------------
    async def first(self, document: Document) -> Optional[Analysis]:
        """The latest compilation, waiting for the first one if there is none yet."""
        if document.latest is None:
            await self._wait(document, FIRST_WAIT)
        return document.latest

    async def current(self, document: Document, timeout: float = FRESH_WAIT) -> Optional[Analysis]:
        """The compilation of the current text, waiting for it up to `timeout` seconds (else the latest)."""
        if not document.fresh():
            await self._wait(document, timeout)
        return document.latest

    async def _wait(self, document: Document, timeout: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        document.waiters.append(waiter)
        if not document.compiling and document.timer is None and not document.fresh():
            self._start(document)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            pass


def _display_name(uri: str) -> str:
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(uri).path) or uri
    return uri


def hover_in(document: Document, position: lsp.Position, encoding: str = "utf-16") -> Optional[lsp.Hover]:
    """A hover from the document's last good compilation, mapped to its current text: lines
    edited since have no hover."""
    analysis = document.good
    if analysis is None:
        return None
    moved = document.moved(analysis, encoding)
    if moved.same:
        return hover(analysis, position, encoding)
    line = moved.to_old(position.line) if position.line < document.lines.count else None
    if line is None:
        return None
    found = hover(analysis, lsp.Position(line=line, character=position.character), encoding)
    if found is not None:
        found.range = moved.range_to_new(found.range) if found.range is not None else None
    return found


def _guarded(function):
    """A pygls handler that logs any exception (the traceback only at the debug level) and
    answers null, never crashing the server."""

    def log(error: Exception) -> None:
        logger.warning("nnc lsp: %s failed (%s)", function.__name__, type(error).__name__,
                       exc_info=logger.isEnabledFor(logging.DEBUG))

    if asyncio.iscoroutinefunction(function):
        async def handler(ls, params):
            try:
                return await function(ls, params)
            except Exception as error:  # noqa: BLE001 - the server must survive any input
                log(error)
                return None
    else:
        def handler(ls, params):
            try:
                return function(ls, params)
            except Exception as error:  # noqa: BLE001 - the server must survive any input
                log(error)
                return None

    handler.__name__ = function.__name__
    return handler


def create_server(convention: str = "keras"):
    """A pygls language server with every feature registered (not started; see serve())."""
    from pygls.lsp.server import LanguageServer

    from .lsp_rpc import protocol_class

    class Server(LanguageServer):
        def report_server_error(self, error, source):  # logged, never shown to the user with its details
            logger.warning("nnc lsp: %s (%s)", type(error).__name__, getattr(source, "__name__", source))

        def stop(self) -> None:
            documents.stop()

    server = Server("nnc", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
                    protocol_cls=protocol_class())
    documents = Documents(convention)
    server.nn_documents = documents

    def publish(document: Document, analysis: Analysis) -> None:
        server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=document.uri, diagnostics=diagnostics(analysis, documents.encoding), version=document.version))

    documents.publish = publish

    @server.feature(lsp.INITIALIZE)
    @_guarded
    def initialize(ls, params: lsp.InitializeParams):
        documents.loop = getattr(ls, "loop", None)
        documents.encoding = _encoding_name(ls.workspace.position_encoding)
        options = params.initialization_options
        if isinstance(options, dict) and options.get("convention") in CONVENTIONS:
            documents.convention = options["convention"]

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @_guarded
    def did_open(ls, params: lsp.DidOpenTextDocumentParams):
        item = params.text_document
        documents.did_open(item.uri, item.text, item.version)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @_guarded
    def did_change(ls, params: lsp.DidChangeTextDocumentParams):
        documents.did_change(params.text_document.uri, params.text_document.version, params.content_changes)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @_guarded
    def did_save(ls, params: lsp.DidSaveTextDocumentParams):
        pass  # the text is compiled as it changes; saving changes nothing

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @_guarded
    def did_close(ls, params: lsp.DidCloseTextDocumentParams):
        documents.did_close(params.text_document.uri)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                          diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @_guarded
    async def on_hover(ls, params: lsp.HoverParams):
        document = documents.open.get(params.text_document.uri)
        if document is None:
            return None
        if document.good is None and document.latest is None:
            await documents.first(document)
        return hover_in(document, params.position, documents.encoding)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @_guarded
    async def on_definition(ls, params: lsp.DefinitionParams):
        uri = params.text_document.uri
        document = documents.open.get(uri)
        if document is None:
            return None
        analysis = await documents.current(document)
        if analysis is None:
            return None
        moved = document.moved(analysis, documents.encoding)
        if moved.same:
            return definition(analysis, uri, params.position, documents.encoding)
        line = moved.to_old(params.position.line)
        if line is None:
            return None
        found = definition(analysis, uri, lsp.Position(line=line, character=params.position.character),
                           documents.encoding)
        if found is None:
            return None
        where = moved.range_to_new(found.range)
        return lsp.Location(uri=uri, range=where) if where is not None else None

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["="]))
    @_guarded
    def on_completion(ls, params: lsp.CompletionParams):
        document = documents.open.get(params.text_document.uri)
        if document is None:
            return lsp.CompletionList(is_incomplete=False, items=[])
        items = completions(document.text, params.position, documents.encoding, document.latest, document.lines)
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_guarded
    async def on_document_symbol(ls, params: lsp.DocumentSymbolParams):
        document = documents.open.get(params.text_document.uri)
        if document is None:
            return []
        analysis = await documents.current(document)
        if analysis is None:
            return []
        symbols = document_symbols(analysis, documents.encoding)
        moved = document.moved(analysis, documents.encoding)
        if moved.same:
            return symbols
        return _moved_symbols(symbols, moved)

    return server


def _moved_symbols(symbols: list, moved: LineMap) -> list:
    """Symbols of an older version whose lines still exist, with their lines renumbered."""
    out = []
    for symbol in symbols:
        where, selection = moved.range_to_new(symbol.range), moved.range_to_new(symbol.selection_range)
        if where is None or selection is None:
            continue
        symbol.range, symbol.selection_range = where, selection
        if symbol.children:
            symbol.children = _moved_symbols(symbol.children, moved)
        out.append(symbol)
    return out


def serve(convention: str = "keras", stdin=None, stdout=None) -> int:
    """Run the server on standard input and output until the client exits; the exit status."""
    import gc
    import sys

    from . import compiler  # noqa: F401 - loaded now, with the grammar, rather than at the first edit
    from .lsp_rpc import run
    from .parser import parse

    server = create_server(convention)
    parse(Source("", "<start>"), DiagnosticBag())
    gc.collect()
    gc.freeze()  # what is loaded now lives as long as the server: never walked by the collector again
    return run(server, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)
