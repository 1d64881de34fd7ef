"""Joining PDF documents into one, page after page: the pages of a diagram on paper are rendered
one by one by Graphviz (cairo), which writes one page per document.

Only what such documents hold is read: numbered objects (streams kept byte for byte), object
streams (/ObjStm, unpacked), and the catalog that the trailer (or the cross-reference stream)
names. Every object is renumbered into the joined document, whose cross-reference table is
written anew; its information dictionary carries a fixed date, so the same pages give the same bytes.
"""

from __future__ import annotations

import re
import zlib
from typing import NamedTuple, Optional


class PdfError(ValueError):
    """A document this reader does not understand."""


class Name(str):
    """/Name."""


class Ref(NamedTuple):
    number: int
    generation: int


class Raw(bytes):
    """A token written back as read: a number, a string, true, false, null."""


_DELIMITERS = b"()<>[]{}/%"
_WHITE = b" \t\r\n\f\x00"
_OBJECT = re.compile(rb"(\d+)\s+(\d+)\s+obj\b")
_NUMBER = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)")


class _Reader:
    def __init__(self, data: bytes, position: int = 0):
        self.data = data
        self.position = position

    def skip(self) -> None:
        data, position = self.data, self.position
        while position < len(data):
            if data[position] in _WHITE:
                position += 1
            elif data[position] == ord("%"):
                end = data.find(b"\n", position)
                position = len(data) if end < 0 else end + 1
            else:
                break
        self.position = position

    def token(self) -> bytes:
        """The next bare word (a number, a keyword)."""
        self.skip()
        start = position = self.position
        while position < len(self.data) and self.data[position] not in _WHITE + _DELIMITERS:
            position += 1
        self.position = position
        return self.data[start:position]

    def value(self):
        self.skip()
        data, position = self.data, self.position
        if position >= len(data):
            raise PdfError("unexpected end of data")
        if data.startswith(b"<<", position):
            self.position += 2
            out = {}
            while True:
                self.skip()
                if self.data.startswith(b">>", self.position):
                    self.position += 2
                    return out
                key = self.value()
                if not isinstance(key, Name):
                    raise PdfError("a dictionary key is not a name")
                out[key] = self.value()
        if data[position] == ord("["):
            self.position += 1
            out = []
            while True:
                self.skip()
                if self.data.startswith(b"]", self.position):
                    self.position += 1
                    return out
                out.append(self.value())
        if data[position] == ord("/"):
            self.position += 1
            word = self.token()
            return Name(word.decode("latin-1"))
        if data[position] == ord("("):
            depth, end = 0, position
            while end < len(data):
                if data[end] == ord("\\"):
                    end += 2
                    continue
                if data[end] == ord("("):
                    depth += 1
                elif data[end] == ord(")"):
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            self.position = end + 1
            return Raw(data[position:end + 1])
        if data[position] == ord("<"):
            end = data.index(b">", position)
            self.position = end + 1
            return Raw(data[position:end + 1])
        word = self.token()
        if not word:
            raise PdfError(f"unexpected {data[position:position + 10]!r}")
        if re.fullmatch(rb"\d+", word):  # perhaps a reference: N G R
            mark = self.position
            generation = self.token()
            if re.fullmatch(rb"\d+", generation) and self.token() == b"R":
                return Ref(int(word), int(generation))
            self.position = mark
        return Raw(word)


def _write(value) -> bytes:
    if isinstance(value, Name):
        return b"/" + value.encode("latin-1")
    if isinstance(value, Ref):
        return b"%d %d R" % (value.number, value.generation)
    if isinstance(value, dict):
        return b"<< " + b" ".join(_write(k) + b" " + _write(v) for k, v in value.items()) + b" >>"
    if isinstance(value, list):
        return b"[ " + b" ".join(_write(v) for v in value) + b" ]"
    if isinstance(value, int):
        return b"%d" % value
    return bytes(value)


class _Object(NamedTuple):
    value: object
    stream: Optional[bytes]  # the raw stream data, for a stream object


def _stream_data(obj: _Object) -> bytes:
    data = obj.stream
    filters = obj.value.get("Filter")
    filters = filters if isinstance(filters, list) else [filters] if filters else []
    for name in filters:
        if name != "FlateDecode" or obj.value.get("DecodeParms"):
            raise PdfError(f"object stream filter {name} is not read")
        data = zlib.decompress(data)
    return data


def read(data: bytes) -> tuple:
    """(objects: number -> _Object, the trailer's dictionary) of a document."""
    objects: dict = {}
    trailer: dict = {}
    position = 0
    while True:
        match = _OBJECT.search(data, position)
        if match is None:
            break
        number = int(match.group(1))
        reader = _Reader(data, match.end())
        value = reader.value()
        reader.skip()
        stream = None
        if data.startswith(b"stream", reader.position):
            start = reader.position + len(b"stream")
            start += 2 if data.startswith(b"\r\n", start) else 1
            length = value.get("Length") if isinstance(value, dict) else None
            if isinstance(length, Ref):
                found = re.search(rb"(?<!\d)%d\s+%d\s+obj\s*(\d+)\s*endobj" % (length.number, length.generation),
                                  data)
                length = int(found.group(1)) if found else None
            elif length is not None:
                length = int(length)
            if length is not None and data.startswith(b"endstream", _after_white(data, start + length)):
                end = start + length
            else:  # no usable length: the data ends with the end of line before `endstream`
                end = data.index(b"endstream", start)
                end -= 2 if data[end - 2:end] == b"\r\n" else 1 if data[end - 1:end] in (b"\n", b"\r") else 0
            stream = data[start:end]
            reader.position = data.index(b"endstream", end) + len(b"endstream")
        reader.skip()
        if not data.startswith(b"endobj", reader.position):
            raise PdfError(f"object {number} does not end")
        position = reader.position + len(b"endobj")
        kind = value.get("Type") if isinstance(value, dict) else None
        if kind == "XRef":
            trailer.update(value)
        elif kind == "ObjStm":
            _unpack(_stream_data(_Object(value, stream)), value, objects)
        else:
            objects[number] = _Object(value, stream)
    for match in re.finditer(rb"(?<![A-Za-z])trailer\s*<<", data):
        try:
            found = _Reader(data, match.end() - 2).value()
        except (PdfError, ValueError, IndexError):
            continue  # not a trailer after all: bytes of a stream
        if isinstance(found, dict):
            trailer.update(found)
    if not isinstance(trailer.get("Root"), Ref):
        raise PdfError("no catalog")
    return objects, trailer


def _after_white(data: bytes, position: int) -> int:
    while position < len(data) and data[position] in _WHITE:
        position += 1
    return position


def _unpack(data: bytes, header: dict, objects: dict) -> None:
    """The objects of an object stream."""
    count, first = int(header["N"]), int(header["First"])
    numbers = [int(n) for n in data[:first].split()]
    pairs = list(zip(numbers[0::2], numbers[1::2]))[:count]
    for number, offset in pairs:
        objects.setdefault(number, _Object(_Reader(data, first + offset).value(), None))


def _pages(objects: dict, node: Ref, inherited: dict, out: list) -> None:
    """The page objects under a page-tree node, in order, with what they inherit."""
    value = objects[node.number].value
    found = dict(inherited)
    for key in ("Resources", "MediaBox", "CropBox", "Rotate"):
        if key in value:
            found[key] = value[key]
    if value.get("Type") == "Pages":
        for kid in value.get("Kids", []):
            _pages(objects, kid, found, out)
    else:
        out.append((node.number, found))


def join(documents: list, date: bytes = b"D:19700101000000Z") -> bytes:
    """One document holding the pages of `documents`, in order."""
    if len(documents) == 1:
        return documents[0]
    written: list = []  # (value, stream) of the joined document; object n is written[n - 1]
    kids = []
    pages = Ref(2, 0)  # object 1 is the catalog
    written += [None, None]
    for document in documents:
        objects, trailer = read(document)
        root = objects[trailer["Root"].number].value
        found: list = []
        _pages(objects, root["Pages"], {}, found)
        skip = {trailer["Root"].number} | _tree(objects, root["Pages"])
        if isinstance(trailer.get("Info"), Ref):
            skip.add(trailer["Info"].number)
        numbers = {}
        for number in sorted(objects):
            if number not in skip:
                written.append(None)
                numbers[number] = len(written)
        page_of = dict(found)

        def renumber(value):
            if isinstance(value, Ref):
                if value.number not in numbers:
                    return Raw(b"null")
                return Ref(numbers[value.number], 0)
            if isinstance(value, dict):
                return {k: renumber(v) for k, v in value.items()}
            if isinstance(value, list):
                return [renumber(v) for v in value]
            return value

        for number, new in numbers.items():
            obj = objects[number]
            value = renumber(obj.value)
            if number in page_of:
                inherited = renumber(page_of[number])
                value = {**{k: v for k, v in inherited.items() if k not in value}, **value}
                value["Parent"] = pages
            if obj.stream is not None:
                value = dict(value)
                value["Length"] = len(obj.stream)
            written[new - 1] = (value, obj.stream)
        kids += [Ref(numbers[number], 0) for number, _ in found]
    written[0] = ({Name("Type"): Name("Catalog"), Name("Pages"): pages}, None)
    written[1] = ({Name("Type"): Name("Pages"), Name("Kids"): kids, Name("Count"): len(kids)}, None)
    written.append(({Name("Producer"): Raw(b"(nnc)"), Name("CreationDate"): Raw(b"(" + date + b")")}, None))
    info = len(written)
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, (value, stream) in enumerate(written, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + _write(_names(value))
        if stream is not None:
            out += b"\nstream\n" + stream + b"\nendstream"
        out += b"\nendobj\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(written) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(written) + 1, info, start)
    return bytes(out)


def _names(value):
    """Keys as names (the dictionaries built here use str keys)."""
    if isinstance(value, dict):
        return {Name(k): _names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_names(v) for v in value]
    return value


def _tree(objects: dict, node: Ref) -> set:
    """The numbers of the page-tree nodes (not the pages) under node."""
    value = objects[node.number].value
    if value.get("Type") != "Pages":
        return set()
    out = {node.number}
    for kid in value.get("Kids", []):
        out |= _tree(objects, kid)
    return out


def page_count(data: bytes) -> int:
    objects, trailer = read(data)
    found: list = []
    _pages(objects, objects[trailer["Root"].number].value["Pages"], {}, found)
    return len(found)
