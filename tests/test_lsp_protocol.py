"""The language server's protocol layer: framing that survives malformed bytes, the checks
every message gets, the life cycle (initialize, shutdown, exit), positions at the edges of
the text and of the protocol's ranges, line ends, and the coalescing of edits.

The server runs as `nnc lsp` in a subprocess spoken to with raw frames, or in this process
on pipes when a test needs its hooks (how many compilations ran, a compilation held back).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time

import pytest
from lsprotocol import types

from helpers_nnc import EXAMPLES, ROOT
from nnlang import lsp as nnlsp
from nnlang import lsp_rpc
from nnlang.diagnostics import DiagnosticBag
from nnlang.driver import compile_text
from nnlang.parser import parse
from nnlang.source import Source

SERVER = [sys.executable, "-m", "nnlang", "lsp"]
#: Hang guard for one answer: ten times and more what a slow machine needs.
GUARD = 30.0

SMALL = "model m {\n    input 28x28x3\n    conv2d 8 k=3\n    flatten\n    dense 10\n}\n"
HOVER_CONV = {"line": 2, "character": 6}  # on `conv2d`


def _frame(message, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    body = message if isinstance(message, bytes) else json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
    return header % len(body) + body


class _Client:
    """Raw frames to a server's stdin; a thread reads its frames into an inbox."""

    def __init__(self, stdin, stdout):
        self.stdin, self.stdout = stdin, stdout
        self.inbox: list[dict] = []
        self.arrived = threading.Condition()
        self.next_id = 100
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            length = None
            while True:
                line = self.stdout.readline()
                if not line:
                    return
                if not line.strip():
                    break
                key, _, value = line.decode("ascii").partition(":")
                if key.strip().lower() == "content-length":
                    length = int(value)
            message = json.loads(self.stdout.read(length).decode("utf-8"))
            with self.arrived:
                self.inbox.append(message)
                self.arrived.notify_all()

    def send_bytes(self, data: bytes) -> None:
        self.stdin.write(data)
        self.stdin.flush()

    def send(self, message: dict, header: bytes = b"Content-Length: %d\r\n\r\n") -> None:
        self.send_bytes(_frame(message, header))

    def request(self, method: str, params=None) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, **({} if params is None else {"params": params})})
        return self.next_id

    def receive(self, predicate, timeout: float = GUARD) -> dict:
        """The first message satisfying predicate, taken from the inbox (others stay)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for index, message in enumerate(self.inbox):
                    if predicate(message):
                        return self.inbox.pop(index)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such message from the server; inbox: {self.inbox[-5:]}")
                self.arrived.wait(left)

    def reply(self, msg_id) -> dict:
        return self.receive(lambda m: "method" not in m and m.get("id") == msg_id)

    def call(self, method: str, params=None) -> dict:
        return self.reply(self.request(method, params))

    def published(self, uri: str, version=None) -> dict:
        return self.receive(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                            and m["params"]["uri"] == uri and (version is None or m["params"].get("version") == version))

    def initialize(self, capabilities=None) -> dict:
        reply = self.call("initialize", {"processId": None, "rootUri": None, "capabilities": capabilities or {}})
        self.send({"method": "initialized", "params": {}})
        return reply

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "nn", "version": version, "text": text}}})

    def change(self, uri: str, version: int, changes: list) -> None:
        self.send({"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version}, "contentChanges": changes}})

    def hover(self, uri: str, position: dict) -> dict:
        return self.call("textDocument/hover", {"textDocument": {"uri": uri}, "position": position})


def _edit(line: int, start: int, end: int, text: str, end_line=None) -> dict:
    return {"range": {"start": {"line": line, "character": start},
                      "end": {"line": line if end_line is None else end_line, "character": end}}, "text": text}


class _Subprocess(_Client):
    """`nnc lsp` in a subprocess."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([*SERVER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, cwd=str(ROOT))
        super().__init__(self.process.stdin, self.process.stdout)

    def finish(self) -> tuple[int, str]:
        """The exit status (after `exit`, or after closing stdin) and what the server wrote to stderr."""
        try:
            status = self.process.wait(timeout=GUARD)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        stderr = self.process.stderr.read().decode("utf-8", errors="replace")
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        return status, stderr

    def close(self) -> tuple[int, str]:
        try:
            self.call("shutdown")
            self.send({"method": "exit"})
        except (OSError, AssertionError):
            pass
        return self.finish()


class _InProcess(_Client):
    """The server in a thread of this process, on pipes: nnlang.lsp's hooks are reachable."""

    def __init__(self):
        self.server = nnlsp.create_server()
        self.documents = self.server.nn_documents
        to_server, from_client = os.pipe()
        to_client, from_server = os.pipe()
        server_in, server_out = open(to_server, "rb"), open(from_server, "wb")
        self.status = None

        def run():
            try:
                self.status = lsp_rpc.run(self.server, server_in, server_out)
            finally:
                server_out.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        super().__init__(open(from_client, "wb"), open(to_client, "rb"))

    def close(self) -> int:
        self.call("shutdown")
        self.send({"method": "exit"})
        self.thread.join(GUARD)
        assert not self.thread.is_alive()
        self.stdin.close()  # the server's reading thread ends at the end of its input
        return self.status


@pytest.fixture
def server():
    client = _Subprocess()
    yield client
    if client.process.poll() is None:
        client.close()


# --- framing ---------------------------------------------------------------------------------------------

PING = {"id": 1, "method": "shutdown"}
PING_BODY = json.dumps({"jsonrpc": "2.0", **PING}).encode()


def _bodies(reader: lsp_rpc.FrameReader, data: bytes, step: int = 0) -> tuple[list, list]:
    out = []
    if step:
        for index in range(0, len(data), step):
            out += reader.feed(data[index:index + step])
    else:
        out = reader.feed(data)
    return [x for x in out if isinstance(x, bytes)], [x for x in out if isinstance(x, lsp_rpc.FrameError)]


def test_frames_are_split_however_the_bytes_arrive():
    data = _frame(PING) + _frame({"method": "exit"})
    for step in (1, 3, 17, len(data)):
        bodies, errors = _bodies(lsp_rpc.FrameReader(), data, step)
        assert [json.loads(b)["method"] for b in bodies] == ["shutdown", "exit"] and not errors


@pytest.mark.parametrize("header", [b"content-length: %d\r\n\r\n", b"CONTENT-LENGTH:%d\r\n\r\n",
                                    b"Content-Length: %d\n\n", b"Content-Length: %d  \r\n\n",
                                    b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
                                    b"content-Length: %d\r\n\r\n"])
def test_header_names_in_any_case_and_bare_line_feeds_are_accepted(header):
    bodies, errors = _bodies(lsp_rpc.FrameReader(), _frame(PING, header), 1)
    assert bodies == [PING_BODY] and not errors


@pytest.mark.parametrize("bad", [
    b'Content-Length: abc\r\n\r\n{"jsonrpc":"2.0","id":9,"method":"shutdown"}',
    b'Content-Length: -5\r\n\r\n{"jsonrpc":"2.0"}',
    b"Content-Length: 99999999999999999999\r\n\r\n{}",
    b"Content-Length: 12\r\nContent-Length: 13\r\n\r\n{}",
    b"Content-Type: application/json\r\n\r\n{}",
    b"this is not a header\r\n\r\n",
    b"\x00\xff\xfe junk without any line end " * 10,
    b"X" * 10_000,  # a header block longer than the reader takes
])
def test_a_malformed_frame_is_skipped_and_the_next_one_is_read(bad):
    for step in (0, 7):
        bodies, errors = _bodies(lsp_rpc.FrameReader(), bad + _frame(PING), step)
        assert bodies == [PING_BODY]
        assert errors


def test_a_content_length_too_long_gives_back_the_frame_it_swallowed():
    first = json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode()
    data = b"Content-Length: %d\r\n\r\n" % (len(first) + 30) + first + _frame(PING)
    bodies, errors = _bodies(lsp_rpc.FrameReader(), data)
    assert bodies == [first, PING_BODY]


# --- message checks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", [{"a": 1}, [1], 1.5, True, None])
def test_an_id_that_is_not_an_integer_or_a_string_is_an_invalid_request(bad_id):
    found = lsp_rpc.classify({"jsonrpc": "2.0", "id": bad_id, "method": "textDocument/hover", "params": {}})
    assert found == lsp_rpc.Invalid(None, -32600, found.message)


@pytest.mark.parametrize("message", [[], [{"jsonrpc": "2.0", "method": "exit"}], 3, "text", None,
                                     {"id": 1, "method": "shutdown"}, {"jsonrpc": "1.0", "id": 1, "method": "x"},
                                     {"jsonrpc": "2.0", "id": 1, "method": 7},
                                     {"jsonrpc": "2.0", "id": 1, "method": "x", "params": "scalar"},
                                     {"jsonrpc": "2.0", "id": 1}])
def test_what_is_not_a_json_rpc_message_is_an_invalid_request(message):
    found = lsp_rpc.classify(message)
    assert isinstance(found, lsp_rpc.Invalid) and found.code == -32600
    assert found.id == (1 if isinstance(message, dict) and message.get("id") == 1 else None)


def test_requests_notifications_and_responses_are_told_apart():
    assert lsp_rpc.classify({"jsonrpc": "2.0", "id": "a", "method": "m", "params": [1]}) == \
        lsp_rpc.Request("a", "m", [1])
    assert lsp_rpc.classify({"jsonrpc": "2.0", "method": "m"}) == lsp_rpc.Notification("m", None)
    assert lsp_rpc.classify({"jsonrpc": "2.0", "id": 4, "result": None}) == lsp_rpc.Response(4, None, None)
    assert lsp_rpc.decode(b"{not json") == lsp_rpc.Invalid(None, -32700, "the message is not valid JSON")
    assert lsp_rpc.decode(b'"\xff"').code == -32700


def test_internal_errors_reach_the_client_without_traceback_or_path():
    from pygls.exceptions import JsonRpcInternalError

    server = nnlsp.create_server()
    written = []
    server.protocol.set_writer(type("Writer", (), {"write": lambda self, data: written.append(data)})())
    try:
        open(os.path.join(str(ROOT), "no-such-file.nn"))
    except OSError:
        server.protocol._send_response(7, error=JsonRpcInternalError.of(sys.exc_info()).to_response_error())
    body = json.loads(written[0].split(b"\r\n\r\n", 1)[1])
    assert body["id"] == 7 and body["error"]["code"] == -32603
    assert "data" not in body["error"] and "Traceback" not in body["error"]["message"]
    assert str(ROOT) not in json.dumps(body) and "/" not in body["error"]["message"]


# --- the server over stdio -----------------------------------------------------------------------------------


def test_malformed_frames_never_silence_the_server(server):
    server.initialize()
    uri = "file:///tmp/frames.nn"
    server.open(uri, SMALL)
    server.published(uri)
    bad_frames = [b'Content-Length: abc\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"shutdown"}',
                  b"garbage\r\n\r\n", b"\x00\x01\x02", b"Content-Length: 3\r\n\r\n{{{"]
    for number, bad in enumerate(bad_frames):
        server.send_bytes(bad)
        for header in (b"Content-Length: %d\r\n\r\n", b"content-length: %d\n\n"):
            server.next_id += 1
            server.send({"id": server.next_id, "method": "textDocument/hover", "params": {
                "textDocument": {"uri": uri}, "position": HOVER_CONV}}, header)
            reply = server.reply(server.next_id)
            assert "(None, 26, 26, 8)" in reply["result"]["contents"]["value"], (number, reply)
    status, stderr = server.close()
    assert status == 0 and "Traceback" not in stderr


def test_a_position_outside_the_protocol_is_refused_with_invalid_params(server):
    server.initialize()
    uri = "file:///tmp/positions.nn"
    server.open(uri, SMALL)
    for position in ({"line": -1, "character": 0}, {"line": 2**53, "character": 0}, {"line": 0, "character": -1},
                     {"line": 0, "character": 2**53}, {"line": "one", "character": 0}, {"line": 0}):
        for method in ("textDocument/hover", "textDocument/definition", "textDocument/completion"):
            reply = server.call(method, {"textDocument": {"uri": uri}, "position": position})
            assert reply["error"]["code"] == -32602, (position, reply)
            assert "position" in reply["error"]["message"]
    assert server.hover(uri, HOVER_CONV)["result"] is not None  # still serving


def test_a_position_past_the_text_gets_an_empty_answer(server):
    server.initialize()
    uri = "file:///tmp/far.nn"
    server.open(uri, SMALL)
    far = 2**31 - 1  # the largest position the protocol allows
    # past the end of a line is the end of that line, as the protocol says
    assert server.hover(uri, {"line": 2, "character": far})["result"] == \
        server.hover(uri, {"line": 2, "character": len("    conv2d 8 k=3")})["result"]
    for position in ({"line": far, "character": 0}, {"line": far, "character": far}):
        assert server.hover(uri, position)["result"] is None
        assert server.call("textDocument/definition", {"textDocument": {"uri": uri},
                                                       "position": position})["result"] is None
        completion = server.call("textDocument/completion", {"textDocument": {"uri": uri}, "position": position})
        assert "error" not in completion


def test_a_bad_id_gets_invalid_request_with_a_null_id():
    server = _Subprocess()
    server.initialize()
    for bad_id in ({"a": 1}, [1, 2], 1.5, True, False, None):
        server.send({"id": bad_id, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": "file:///tmp/x.nn"}, "position": {"line": 0, "character": 0}}})
        reply = server.receive(lambda m: "error" in m)
        assert reply["id"] is None and reply["error"]["code"] == -32600, bad_id
        assert set(reply["error"]) == {"code", "message"}
        assert "Traceback" not in reply["error"]["message"] and "/" not in reply["error"]["message"]
    status, stderr = server.close()
    assert status == 0 and "Traceback" not in stderr and str(ROOT) not in stderr


def test_not_json_gets_a_parse_error_and_a_batch_an_invalid_request(server):
    server.initialize()
    server.send_bytes(_frame(b"{this is not json"))
    assert server.receive(lambda m: "error" in m)["error"]["code"] == -32700
    server.send_bytes(_frame(b'[{"jsonrpc": "2.0", "id": 5, "method": "shutdown"}]'))
    reply = server.receive(lambda m: "error" in m)
    assert reply["id"] is None and reply["error"]["code"] == -32600
    assert server.call("textDocument/hover", {"textDocument": {"uri": "file:///tmp/none.nn"},
                                              "position": {"line": 0, "character": 0}})["result"] is None


def test_before_initialize_requests_get_server_not_initialized_and_notifications_are_dropped(server):
    uri = "file:///tmp/early.nn"
    server.open(uri, "model m {\n  conv2x 3\n}\n")  # dropped: not initialized yet
    for method in ("textDocument/hover", "shutdown", "textDocument/documentSymbol"):
        reply = server.call(method, {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
                            if method != "shutdown" else None)
        assert reply["error"]["code"] == -32002
    assert "capabilities" in server.initialize()["result"]
    assert server.call("initialize", {"processId": None, "rootUri": None, "capabilities": {}})["error"]["code"] \
        == -32600  # only once
    later = "file:///tmp/later.nn"
    server.open(later, "model m {\n  conv2x 3\n}\n")
    server.published(later)  # messages are handled in order: the early document would have come first
    assert not [m for m in server.inbox if m.get("params", {}).get("uri") == uri]
    assert server.hover(uri, {"line": 1, "character": 3})["result"] is None  # it was never opened
    status, stderr = server.close()
    assert status == 0


def test_after_shutdown_requests_are_invalid_and_exit_ends_with_status_0(server):
    server.initialize()
    assert server.call("shutdown") == {"jsonrpc": "2.0", "id": server.next_id, "result": None}
    for method in ("textDocument/hover", "shutdown"):
        assert server.call(method, {"textDocument": {"uri": "file:///a.nn"}, "position": {"line": 0, "character": 0}}
                           if method != "shutdown" else None)["error"]["code"] == -32600
    server.send({"method": "exit"})
    assert server.finish()[0] == 0


def test_exit_without_shutdown_ends_with_status_1():
    server = _Subprocess()
    server.initialize()
    server.send({"method": "exit"})
    assert server.finish()[0] == 1
    server = _Subprocess()
    server.stdin.close()  # the client went away
    assert server.finish()[0] == 1


def test_unknown_methods_and_cancellations(server):
    server.initialize()
    assert server.call("nnc/unknown", {})["error"]["code"] == -32601
    assert server.call("$/unknown", {})["error"]["code"] == -32601
    server.send({"method": "nnc/unknownNotification", "params": {}})
    server.send({"method": "$/cancelRequest", "params": {"id": 12345}})
    server.send({"method": "$/cancelRequest", "params": {"id": {"not": "an id"}}})
    server.send({"method": "textDocument/didChange", "params": {"textDocument": {"uri": "file:///never.nn",
                                                                                  "version": 2},
                                                                 "contentChanges": [{"text": "model"}]}})
    assert server.hover("file:///never.nn", {"line": 0, "character": 0})["result"] is None
    status, stderr = server.close()
    assert status == 0 and "Traceback" not in stderr


def test_edits_outside_the_text_are_clamped_to_it(server):
    server.initialize()
    uri = "file:///tmp/clamp.nn"
    server.open(uri, "model m {\n    input 8\n}\n")
    server.published(uri, 1)
    # past the last line: at the end of the text
    server.change(uri, 2, [_edit(1000, 0, 5, "model n {\n    input 4\n    conv2x 1\n}\n", end_line=2000)])
    (diagnostic,) = server.published(uri, 2)["params"]["diagnostics"]
    assert diagnostic["code"] == "E101"
    assert diagnostic["range"] == {"start": {"line": 5, "character": 4}, "end": {"line": 5, "character": 10}}
    # past the end of a line, and a range given end first: the end of line 5 up to line 5 col 4
    server.change(uri, 3, [_edit(5, 10_000, 4, "dense 3")])
    assert server.published(uri, 3)["params"]["diagnostics"] == []
    status, _ = server.close()
    assert status == 0


def test_a_position_inside_a_surrogate_pair_is_the_character_it_splits():
    client = _InProcess()
    try:
        client.initialize()
        uri = "file:///tmp/emoji.nn"
        client.open(uri, "# 😀 and é\nmodel m {\n    input 8\n    conv2x 1\n}\n")
        client.published(uri, 1)
        # UTF-16: '#', ' ', then the emoji's two units (2 and 3): 3 splits it, and the edit takes it whole
        client.change(uri, 2, [_edit(0, 3, 4, "!")])
        client.change(uri, 3, [_edit(3, 4, 10, "dense")])
        assert client.published(uri, 3)["params"]["diagnostics"] == []
        assert client.documents.open[uri].text == "# ! and é\nmodel m {\n    input 8\n    dense 1\n}\n"
    finally:
        assert client.close() == 0


# --- line ends -----------------------------------------------------------------------------------------------

LINE_ENDS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}


@pytest.mark.parametrize("ends", [("LF",) * 4, ("CRLF",) * 4, ("CR",) * 4, ("CR", "CRLF", "LF", "CR")])
def test_every_line_end_counts_as_the_compiler_counts_it(ends, tmp_path):
    lines = ["model m {", "    input 8x8x3", "    conv2x 3", "}", ""]
    text = "".join(line + LINE_ENDS[end] for line, end in zip(lines, ends))
    # conv2x is on line 3, column 5 (1-based): 0-based line 2, character 4 in the protocol
    (diagnostic,) = nnlsp.diagnostics(nnlsp.Analysis(text))
    assert diagnostic.range == types.Range(start=types.Position(line=2, character=4),
                                           end=types.Position(line=2, character=10))
    path = tmp_path / "ends.nn"
    path.write_bytes(text.encode("utf-8"))
    check = subprocess.run([sys.executable, "-m", "nnlang", "check", str(path)], capture_output=True, text=True)
    assert f"{path}:3:5: error[E101]" in check.stdout + check.stderr
    lines_of = nnlsp.Lines(text)
    assert [lines_of.line(i) for i in range(lines_of.count)] == lines


def test_a_model_that_does_not_parse_is_found_on_its_line_whatever_the_line_ends():
    for end in LINE_ENDS.values():
        text = end.join(["", "model a {", "    input 8", "}", "", "model b {", "    dense 3 k=", "}", ""])
        symbols = nnlsp.document_symbols(nnlsp.Analysis(text))
        # a's name at line 1 (0-based), b's at line 5, both at character 6 ("model " before them)
        assert [(s.name, s.selection_range.start.line, s.selection_range.start.character,
                 s.selection_range.end.character) for s in symbols] == [("a", 1, 6, 7), ("b", 5, 6, 7)]


def _starts(text: str) -> list[int]:
    """Where each line starts: after every LF, and after every CR not followed by an LF."""
    return [0] + [i + 1 for i, c in enumerate(text) if c == "\n" or (c == "\r" and text[i + 1:i + 2] != "\n")]


def test_lines_stay_right_through_edits_that_join_and_split_line_ends():
    generator = random.Random(7)
    pieces = ["\r", "\n", "\r\n", "a", "bc", "😀", " "]
    for _ in range(400):
        text = "".join(generator.choice(pieces) for _ in range(generator.randrange(0, 12)))
        lines = nnlsp.Lines(text)
        assert lines._starts == _starts(text)
        for _ in range(5):
            start = generator.randrange(len(lines.text) + 1)
            end = generator.randrange(start, len(lines.text) + 1)
            new = "".join(generator.choice(pieces) for _ in range(generator.randrange(0, 4)))
            lines = lines.replace(start, end, new)
            assert lines._starts == _starts(lines.text), repr(lines.text)


def test_utf16_positions_inside_a_surrogate_pair_round_down():
    lines = nnlsp.Lines("😀x\n")
    assert lines.from_client(types.Position(line=0, character=0)) == (0, 0)
    assert lines.from_client(types.Position(line=0, character=1)) == (0, 0)  # between the two halves
    assert lines.from_client(types.Position(line=0, character=2)) == (0, 1)
    assert lines.from_client(types.Position(line=0, character=9)) == (0, 2)  # past the end: the end
    assert lines.from_client(types.Position(line=7, character=0)) == (1, 0)  # past the last line: the end
    assert nnlsp.Lines("😀x\n", "utf-8").from_client(types.Position(line=0, character=3)) == (0, 0)


def test_a_line_map_follows_the_lines_around_an_edit():
    old = nnlsp.Lines("a\nb\nc\nd\ne\n")
    new = nnlsp.Lines("a\nb\nX\nY\nc\nd\ne\n")  # two lines inserted before c
    moved = nnlsp.LineMap(old, new)
    assert [moved.to_new(line) for line in range(6)] == [0, 1, 4, 5, 6, 7]
    assert [moved.to_old(line) for line in range(8)] == [0, 1, None, None, 2, 3, 4, 5]
    assert nnlsp.LineMap(old, old).same


# --- pieces and the compilation cache ------------------------------------------------------------------------


def _summary(program):
    if program is None:
        return None
    return ([(m.name, m.ok, m.input_shape, [(n.name, n.kind, n.output_shape, n.params, n.macs.value, n.span)
                                            for n in m.layers]) for m in program.models],
            program.expectations_checked, [tuple(c) for c in program.comparisons])


def _same_as_nnc(text: str, cache=None) -> nnlsp.Analysis:
    analysis = nnlsp.Analysis(text, cache=cache)
    reference = compile_text(text)
    assert [(d.code, d.message, d.span, d.notes) for d in analysis.diagnostics] == \
        [(d.code, d.message, d.span, d.notes) for d in reference.diagnostics]
    assert _summary(analysis.program) == _summary(reference.program)
    return analysis


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.stem)
def test_the_pieces_of_an_example_parse_into_the_whole_files_tree(path):
    text = path.read_text(encoding="utf-8")
    analysis = _same_as_nnc(text)
    assert analysis.tree == parse(Source(text), DiagnosticBag())
    assert len(nnlsp.pieces(text)) >= len(re.findall(r"^[ \t]*(?:model|block|compare)\b", text, re.M))


def test_edits_compile_to_what_nnc_check_reports():
    """Random edits (braces, new lines, statements, keywords) of every example, each version
    compiled with the cache of the one before and compared with the compiler's own result."""
    generator = random.Random(11)
    inserts = list("{}()\n #:=x019;,") + ["->", "model ", "block ", "compare a, b\n", "dense 3", "input 8x8x3\n",
                                          "conv2d 8 k=3", "}\n", "repeat 2 {", "b(", "add {", "branch {",
                                          "\ndense 99999999999999999\n"]
    for path in sorted(EXAMPLES.glob("*.nn")):
        text = path.read_text(encoding="utf-8")
        cache = nnlsp.Cache()
        _same_as_nnc(text, cache)
        for _ in range(15):
            start = generator.randrange(len(text) + 1)
            end = min(len(text), start + generator.choice([0, 0, 1, 3, 12]))
            text = text[:start] + generator.choice(inserts) + text[end:]
            _same_as_nnc(text, cache)


SHARED = """block b(c) {
    conv2d c k=3
    dense 0
}
model m1 {
    input 8x8x3
    b(4)
}
model m2 {
    input 8x8x3
    b(4)
    b(5)
}
model m3 {
    input 8x8x3
    conv2x 3
}
"""


def test_a_model_is_compiled_again_only_when_what_it_depends_on_changes():
    cache = nnlsp.Cache()
    _same_as_nnc(SHARED, cache)
    assert (cache.hits, cache.misses) == (0, 3)
    _same_as_nnc(SHARED.replace("b(5)", "b(6)"), cache)  # m2 only
    assert (cache.hits, cache.misses) == (2, 4)
    # a line added above everything: each model is the one compiled before, moved one line down
    _same_as_nnc("# a new first line\n" + SHARED.replace("b(5)", "b(6)"), cache)
    assert (cache.hits, cache.misses) == (5, 4)
    # the first line removed and two blank lines added after m2 (they end its piece): the block,
    # m1 and m2 move up one line, m3 down one; m1 and m3 are reused, m2 (its text grew) is not
    moved = SHARED.replace("b(5)", "b(6)").replace("model m3", "\n\nmodel m3")
    _same_as_nnc(moved, cache)
    assert (cache.hits, cache.misses) == (7, 5)
    # m1 no longer reports the block's errors first: m2 must report them, not reuse a compilation that did not
    edited = SHARED.replace("model m1 {\n    input 8x8x3\n    b(4)", "model m1 {\n    input 8x8x3\n    dense 3")
    for text in (SHARED, edited, SHARED, SHARED.replace("dense 0", "dense 1"), SHARED,
                 SHARED.replace("block b(c)", "block conv2y(c)"), SHARED + "block conv2w(c) {\n dense c\n}\n"):
        _same_as_nnc(text, cache)


# --- coalescing and answering while compiling (the server in this process) ----------------------------------


def _document(models: int) -> str:
    body = "".join(f"    conv2d {8 + i % 5} k=3 pad=same relu\n    batchnorm\n" for i in range(12))
    return "".join(f"# model {n}\nmodel m{n} {{\n    input 32x32x3\n{body}    flatten\n    dense 10\n}}\n\n"
                   for n in range(models))


def test_a_burst_of_edits_is_compiled_a_few_times_and_hovers_are_answered_meanwhile():
    client = _InProcess()
    compiled = []
    release = threading.Event()
    release.set()

    def hook(uri, version):  # each compilation is slow, and one can be held back
        compiled.append(version)
        time.sleep(0.02)
        release.wait(GUARD)

    client.documents.on_compile = hook
    try:
        client.initialize()
        uri = "file:///tmp/burst.nn"
        text = _document(40)
        client.open(uri, text)
        client.published(uri, 1)
        compiled.clear()
        edits = 200
        for number in range(edits):  # typing at the end of the first line, a comment
            column = len("# model 0") + number
            client.change(uri, number + 2, [_edit(0, column, column, "x")])
        hover = client.hover(uri, {"line": 3, "character": 6})
        assert "conv2d" in hover["result"]["contents"]["value"]
        assert client.published(uri, edits + 1)["params"]["diagnostics"] == []
        assert compiled[-1] == edits + 1
        assert len(compiled) <= edits // 10, compiled

        # a compilation held back: hovers and completions are answered from the last one meanwhile
        release.clear()
        client.change(uri, edits + 2, [_edit(3, 11, 12, "9")])  # conv2d 8 -> conv2d 9 in model m0
        hover = client.hover(uri, {"line": 4, "character": 6})
        assert "batchnorm" in hover["result"]["contents"]["value"]
        completion = client.call("textDocument/completion", {"textDocument": {"uri": uri},
                                                             "position": {"line": 5, "character": 4}})
        assert "conv2d" in {item["label"] for item in completion["result"]["items"]}
        assert not [m for m in client.inbox if m.get("params", {}).get("version") == edits + 2]
        release.set()
        assert client.published(uri, edits + 2)["params"]["diagnostics"] == []
    finally:
        release.set()
        assert client.close() == 0


def test_hovers_come_from_the_last_good_compilation_while_the_text_does_not_parse():
    client = _InProcess()
    try:
        client.initialize()
        uri = "file:///tmp/broken.nn"
        client.open(uri, SMALL)
        client.published(uri, 1)
        client.change(uri, 2, [_edit(2, 0, 0, "    conv2d 4 k=\n")])  # a statement being typed, above conv2d 8
        (error,) = client.published(uri, 2)["params"]["diagnostics"]
        assert error["code"].startswith("E0")
        hover = client.hover(uri, {"line": 3, "character": 6})  # conv2d 8, one line lower than it was
        value = hover["result"]["contents"]["value"]
        assert "(None, 26, 26, 8)" in value  # (28 - 3)/1 + 1 = 26
        assert hover["result"]["range"]["start"]["line"] == 3
        assert client.hover(uri, {"line": 2, "character": 6})["result"] is None  # the line being typed
        symbols = client.call("textDocument/documentSymbol", {"textDocument": {"uri": uri}})["result"]
        assert [s["name"] for s in symbols] == ["m"]
    finally:
        assert client.close() == 0


def test_a_line_map_only_pairs_lines_that_are_the_same():
    generator = random.Random(5)
    words = ["conv2d 8", "dense 3", "}", "", "# c", "model m {", "\r", "x"]
    for _ in range(300):
        old_text = "\n".join(generator.choice(words) for _ in range(generator.randrange(1, 15)))
        start = generator.randrange(len(old_text) + 1)
        end = generator.randrange(start, len(old_text) + 1)
        new_text = old_text[:start] + generator.choice(["", "\n", "dense 3\n", "x", "\r\n}"]) + old_text[end:]
        old, new = nnlsp.Lines(old_text), nnlsp.Lines(new_text)
        moved = nnlsp.LineMap(old, new)
        pairs = [(line, moved.to_new(line)) for line in range(old.count)]
        mapped = [(o, n) for o, n in pairs if n is not None]
        assert all(old.line(o) == new.line(n) and moved.to_old(n) == o for o, n in mapped)
        assert [n for _, n in mapped] == sorted({n for _, n in mapped})  # in order, never two on one
        first_touched = old.at_offset(start)[0]
        assert all(moved.to_new(line) == line for line in range(first_touched))  # above the edit: unmoved


def test_a_request_waiting_for_a_compilation_can_be_cancelled():
    client = _InProcess()
    release = threading.Event()
    client.documents.on_compile = lambda uri, version: release.wait(GUARD)
    try:
        client.initialize()
        uri = "file:///tmp/held.nn"
        client.open(uri, SMALL)  # its first compilation is held back
        waiting = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        client.send({"method": "$/cancelRequest", "params": {"id": waiting}})
        assert client.reply(waiting)["error"]["code"] == -32800
        release.set()
        client.published(uri, 1)
        symbols = client.call("textDocument/documentSymbol", {"textDocument": {"uri": uri}})["result"]
        assert [s["name"] for s in symbols] == ["m"]
    finally:
        release.set()
        assert client.close() == 0


LINES_IN_MESSAGES = """model r {
    input 10x4
    lstm 8
    lstm 8
}
model j {
    input 8x8x3
    concat {
        branch { conv2d 4 k=3 }
        branch { conv2d 4 k=1 }
    }
}
"""


def test_a_model_whose_messages_name_lines_is_compiled_again_when_it_moves():
    cache = nnlsp.Cache()
    first = _same_as_nnc(LINES_IN_MESSAGES, cache)
    notes = [note for d in first.diagnostics for note in d.notes]
    assert "the lstm at line 3 returns only its last output: give it return_sequences=true" in notes
    assert any("(line 9)" in note for note in notes)
    moved = _same_as_nnc("# one line more\n" + LINES_IN_MESSAGES, cache)
    notes = [note for d in moved.diagnostics for note in d.notes]
    assert "the lstm at line 4 returns only its last output: give it return_sequences=true" in notes
    assert any("(line 10)" in note for note in notes)
    assert cache.misses == 4
