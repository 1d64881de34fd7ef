"""Source text and positions."""

from __future__ import annotations

import functools

import attrs


@attrs.frozen
class Span:
    """A region of a source file; lines and columns are 1-based, ends inclusive of the last column + 1."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def of(cls, meta_or_token) -> "Span":
        line = getattr(meta_or_token, "line", None)
        if line is None:
            return NOWHERE
        return cls(line, meta_or_token.column, meta_or_token.end_line, meta_or_token.end_column)

    def to(self, other: "Span") -> "Span":
        return Span(self.line, self.column, other.end_line, other.end_column)


NOWHERE = Span(0, 0, 0, 0)


@attrs.frozen(slots=False)
class Source:
    """The text of one `.nn` file and the name it is reported under."""

    text: str
    name: str = "<input>"

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")  # as the parser counts lines: form feeds and U+2028 are not breaks

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return ""
