"""Diagnostics: stable codes, located messages and their rendering.

Every problem nnc reports is a :class:`Diagnostic` with a code from
:data:`CODES`. Passes collect diagnostics in a :class:`DiagnosticBag` and keep
going, so one run shows every error of a file.
"""

from __future__ import annotations

import re
from typing import Iterable, NamedTuple

import attrs

from .limits import MAX_DIAGNOSTICS
from .source import NOWHERE, Source, Span

ERROR = "error"
WARNING = "warning"
NOTE = "note"


class Code(NamedTuple):
    code: str
    severity: str
    title: str


def _codes(*rows: tuple[str, str, str]) -> dict[str, Code]:
    return {code: Code(code, severity, title) for code, severity, title in rows}


#: Every diagnostic nnc can report. Codes are stable: never renumber one.
CODES: dict[str, Code] = _codes(
    # Reading and parsing
    ("W001", WARNING, "the file defines no model"),
    ("W002", NOTE, "an allow that silences nothing"),
    ("E001", ERROR, "syntax error"),
    ("E002", ERROR, "unexpected character"),
    ("E003", ERROR, "unexpected end of file"),
    ("E004", ERROR, "file is not valid UTF-8 text"),
    ("E005", ERROR, "number out of range"),
    ("E006", ERROR, "digits grouped where they cannot be"),
    ("E007", ERROR, "quoted text that is not a word"),
    # Names, arguments and options
    ("E101", ERROR, "unknown layer kind or block"),
    ("E102", ERROR, "unknown option"),
    ("E103", ERROR, "wrong number of positional arguments"),
    ("E104", ERROR, "invalid option or argument value"),
    ("E105", ERROR, "option given twice"),
    ("E106", ERROR, "name defined twice"),
    ("E107", ERROR, "unknown model"),
    ("E108", ERROR, "block arguments do not match its parameters"),
    ("E109", ERROR, "block calls itself"),
    ("E110", ERROR, "unknown name in an expression"),
    ("E111", ERROR, "division by zero"),
    ("E112", ERROR, "network too large"),
    ("E113", ERROR, "model has no input"),
    ("E114", ERROR, "misplaced input statement"),
    ("E115", ERROR, "block name shadows a layer kind"),
    ("E116", ERROR, "layer written as a framework call"),
    ("E117", ERROR, "allow of a code that is not a warning"),
    # Shapes
    ("E201", ERROR, "layer does not accept an input of this rank"),
    ("E202", ERROR, "output size is zero or negative"),
    ("E203", ERROR, "invalid size"),
    ("E204", ERROR, "branches do not agree"),
    ("E205", ERROR, "dimension must be known"),
    ("E206", ERROR, "shapes do not match"),
    # Expectations (answer keys)
    ("E301", ERROR, "output shape differs from the expectation"),
    ("E302", ERROR, "parameter count differs from the expectation"),
    ("E303", ERROR, "MAC count differs from the expectation"),
    ("E304", ERROR, "unknown expectation"),
    # Exporting (nnc export)
    ("E401", ERROR, "the target framework cannot express this"),
    # Warnings: consistency of padding, stride and structure
    ("W201", WARNING, "stride does not divide the padded input: rows or columns are dropped"),
    ("W202", WARNING, "'same' padding is asymmetric"),
    ("W203", WARNING, "pooling stride larger than its window: inputs never read"),
    ("W204", WARNING, "padding of half the kernel or more"),
    ("W205", WARNING, "output collapses to 1x1"),
    ("W301", WARNING, "recurrent layer receives a single time step"),
    ("W302", NOTE, "dense layer acts on the last axis"),
    ("W303", NOTE, "softmax before the last layer"),
    # Internal
    ("E900", ERROR, "internal compiler error"),
)


@attrs.frozen
class Diagnostic:
    code: str
    message: str
    span: Span = NOWHERE
    notes: tuple[str, ...] = ()
    severity: str = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.severity is None:
            object.__setattr__(self, "severity", CODES[self.code].severity)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_json(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "line": self.span.line or None,
            "column": self.span.column or None,
            "end_line": self.span.end_line or None,
            "end_column": self.span.end_column or None,
            "notes": list(self.notes),
        }




class DiagnosticBag:
    """Collects diagnostics in the order they are found."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self._seen: set = set()

    def add(self, code: str, message: str, span: Span = NOWHERE, *notes: str) -> Diagnostic:
        diagnostic = Diagnostic(code, message, span, tuple(n for n in notes if n))
        self._keep(diagnostic)
        return diagnostic

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            self._keep(diagnostic)

    def _keep(self, diagnostic: Diagnostic) -> None:
        # a statement inside a repeat or a block called several times reports a problem once
        key = (diagnostic.code, diagnostic.span, diagnostic.message)
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self.items) < MAX_DIAGNOSTICS:
            self.items.append(diagnostic)
        elif len(self.items) == MAX_DIAGNOSTICS:
            self.items.append(Diagnostic("E112", f"more than {MAX_DIAGNOSTICS} diagnostics: the rest are not shown",
                                         diagnostic.span))

    def drop(self, unwanted) -> set:
        """Remove the diagnostics for which `unwanted(diagnostic)` holds; the codes of those removed."""
        codes = {d.code for d in self.items if unwanted(d)}
        if codes:
            self.items[:] = [d for d in self.items if not unwanted(d)]
        return codes

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


#: suggest's answers by (name, candidates): a misspelling inside a block called many times is met
#: again at every call. Emptied when full, so that a long-running language server stays small.
_SUGGESTED: dict = {}
_SUGGESTED_MAX = 1024


def suggest(name: str, candidates: Iterable[str]) -> str:
    """'did you mean ...?' for the closest candidate, or an empty string."""
    candidates = tuple(candidates)
    key = (name, candidates)
    hint = _SUGGESTED.get(key)
    if hint is None:
        if len(_SUGGESTED) >= _SUGGESTED_MAX:
            _SUGGESTED.clear()
        hint = _SUGGESTED[key] = _closest(name, candidates)
    return hint


def _closest(name: str, candidates: tuple) -> str:
    lowered: dict[str, str] = {}
    for candidate in candidates:  # the first spelling wins: canonical names come before aliases
        lowered.setdefault(candidate.lower(), candidate)
    import difflib  # only when a name is unknown

    matches = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean '{lowered[matches[0]]}'?" if matches else ""


#: Characters a terminal may act on rather than show: C0 and C1 controls (escape sequences
#: that set the window title, write the clipboard or change colours begin with one), DEL,
#: and the bidirectional controls that reorder what is shown ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ufeff\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every character a terminal could act on shown as an escape (`\\x1b`),
    tabs as one space: safe to print, whatever the file held."""
    text = text.replace("\t", " ")
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def _printable_line(text: str, column: int) -> tuple[str, int]:
    """The source line made printable, and where 1-based `column` lands in it."""
    before = printable(text[: column - 1])
    return before + printable(text[column - 1:]), len(before) + 1


def render(diagnostic: Diagnostic, source: Source) -> str:
    """`file:line:col: severity[CODE]: message`, the source line and a caret. Text from the
    file (its name, the line, names quoted in messages) is shown with control characters escaped."""
    span = diagnostic.span
    message = printable(diagnostic.message)
    notes = [printable(n) for n in diagnostic.notes]
    name = printable(source.name)
    if not span.line:
        head = f"{name}: {diagnostic.severity}[{diagnostic.code}]: {message}"
        return "\n".join([head] + [f"  = {n}" for n in notes])
    head = f"{name}:{span.line}:{span.column}: {diagnostic.severity}[{diagnostic.code}]: {message}"
    line = source.line_text(span.line)
    text, column = _printable_line(line, span.column)
    width = 1
    if span.end_line == span.line and span.end_column > span.column:
        width = _printable_line(line, span.end_column)[1] - column
    if len(text) > 200:  # keep the gutter readable for very long lines
        start = max(0, column - 60)
        text = ("..." if start else "") + text[start : start + 160] + "..."
        column = column - start + (3 if start else 0)
    width = max(1, min(width, max(1, len(text) - column + 1)))
    gutter = " " * len(str(span.line))
    lines = [
        head,
        f"{gutter} |",
        f"{span.line} | {text}",
        f"{gutter} | {' ' * (column - 1)}{'^' * width}",
    ]
    lines += [f"{gutter} = {note}" for note in notes]
    return "\n".join(lines)
