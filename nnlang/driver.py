"""Compile a source text end to end: parse, then expand and infer."""

from __future__ import annotations

import os
from typing import Optional

import attrs

from . import ir
from .diagnostics import DiagnosticBag
from .source import Source, Span, read_source_bytes


@attrs.define
class Compilation:
    source: Source
    program: Optional[ir.Program]
    diagnostics: DiagnosticBag

    @property
    def ok(self) -> bool:
        return self.program is not None and not self.diagnostics.has_errors


def decode(data: bytes, name: str, bag: DiagnosticBag) -> Optional[Source]:
    """Text of a file, or None (with a located E004) when it is not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        # columns count characters, as in the line shown (decoded with replacement characters)
        column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", errors="replace")) + 1
        bag.add("E004", f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8",
                Span(line, column, line, column + 1), "save the file as UTF-8")
        return None
    return Source(text, name)


def compile_source(source: Source, convention: str = "keras", size_values=None) -> Compilation:
    """Compile `source`; `size_values` gives named sizes values (name -> int), as --set does."""
    from .compiler import compile_file
    from .parser import deep_recursion, parse

    bag = DiagnosticBag()
    text = source.text
    if text.startswith("\ufeff"):  # a byte-order mark is not part of the program
        text = text[1:]
    if "\r" in text:  # CRLF and old Mac line ends: lines counted as every editor counts them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text is not source.text:
        source = Source(text, source.name)
    tree = parse(source, bag)
    program = None
    if tree is not None:
        with deep_recursion():
            try:
                program = compile_file(tree, bag, convention, size_values)
            except RecursionError:  # bounded by the limits; kept as a last guard
                bag.add("E112", "the program nests too deeply to compile", Span(1, 1, 1, 2))
    return Compilation(source, program, bag)


def compile_text(text: str, name: str = "<input>", convention: str = "keras", size_values=None) -> Compilation:
    return compile_source(Source(text, name), convention, size_values)


def compile_path(path: str | os.PathLike, convention: str = "keras", size_values=None) -> Compilation:
    """Compile the file PATH; OSError when it cannot be read or is refused (see read_source_bytes)."""
    path = os.fspath(path)
    bag = DiagnosticBag()
    data = read_source_bytes(path)
    source = decode(data, path, bag)
    if source is None:  # shown with replacement characters, so the caret has a line to point into
        return Compilation(Source(data.decode("utf-8", errors="replace"), path), None, bag)
    return compile_source(source, convention, size_values)
