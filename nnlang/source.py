"""Source text and positions."""

from __future__ import annotations

import functools
import os
from typing import NamedTuple

import attrs


class Span(NamedTuple):
    """A region of a source file; lines and columns are 1-based, ends inclusive of the last column + 1.

    A named tuple: the parser makes one for every token it keeps, so it must be cheap.
    """

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
        return Span(self[0], self[1], other[2], other[3])


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


def grammar_text() -> str:
    """The text of nn.lark: installed as nnlang/grammar/, or beside nnlang/ in a checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (os.path.join(here, "grammar"), os.path.join(os.path.dirname(here), "grammar")):
        path = os.path.join(folder, "nn.lark")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as file:
                return file.read()
    raise FileNotFoundError("nn.lark is missing from the installation")
