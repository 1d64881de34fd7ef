"""Source text and positions."""

from __future__ import annotations

import errno
import functools
import os
import stat
from typing import NamedTuple

import attrs
from .limits import MAX_SOURCE_BYTES


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


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


class UnreadableSource(OSError):
    """A path nnc refuses to read; `strerror` says why."""


def _check_readable(status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _KINDS if test(status.st_mode)), "not a file")
        raise UnreadableSource(errno.EISDIR if stat.S_ISDIR(status.st_mode) else errno.EINVAL,
                               f"not a regular file ({kind})")
    if status.st_size > MAX_SOURCE_BYTES:
        raise UnreadableSource(errno.EFBIG, _too_large(status.st_size))


def _too_large(size: int) -> str:
    return (f"the file is larger than {MAX_SOURCE_BYTES // 2**20} MiB ({MAX_SOURCE_BYTES:,} bytes), "
            f"the limit for a .nn file" + (f"; it has {size:,} bytes" if size > MAX_SOURCE_BYTES + 1 else ""))


def read_source_bytes(path: str) -> bytes:
    """The bytes of the file PATH: a regular file of at most MAX_SOURCE_BYTES, else UnreadableSource.

    Devices, pipes and folders are refused before they are opened for reading, so `/dev/zero` or a
    FIFO nobody writes to neither fills the memory nor blocks; at most MAX_SOURCE_BYTES + 1 bytes
    are read, so a file growing while it is read is bounded too.
    """
    _check_readable(os.stat(path))
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        status = os.fstat(descriptor)
        _check_readable(status)  # the path may name another file since it was examined
        chunks = []
        left = MAX_SOURCE_BYTES + 1
        wanted = status.st_size + 1  # a single read in the common case; /proc files report size 0
        while left > 0:
            chunk = os.read(descriptor, min(wanted, left))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            wanted = 2**16
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > MAX_SOURCE_BYTES:
        raise UnreadableSource(errno.EFBIG, _too_large(len(data)))
    return data


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
