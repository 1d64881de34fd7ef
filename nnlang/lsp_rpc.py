"""JSON-RPC for `nnc lsp`: the framing of the Language Server Protocol's base
protocol, the checks every message gets, the server's life cycle, and the loop
that runs a pygls server over standard input and output.

Framing: header lines `Name: value` (names case-insensitive; each line ends with
CRLF, a bare LF is accepted), a blank line, then Content-Length bytes of UTF-8
JSON. A frame whose headers are malformed (no Content-Length, a length that is
not a number or is too large, a line that is not a header) is skipped: the
reader looks for the next `Content-Length: N` header in the bytes that follow and
carries on from there, so one bad frame never silences the server. Only the
protocol's two headers, Content-Length and Content-Type, are accepted: a line
of garbage that ends in a header is not taken for an unknown header.

Messages: what is not JSON gets a Parse error (-32700); what is not a JSON-RPC
2.0 request, notification or response (an id that is neither an integer nor a
string, a method that is not a string, params that are neither an object nor an
array, a batch) gets Invalid Request (-32600) with the id null when the id
itself is wrong; params that do not fit the method get Invalid params (-32602).
Before `initialize`, requests get ServerNotInitialized (-32002) and
notifications are dropped (except `exit`); after `shutdown`, requests get
Invalid Request. No error message carries a traceback or a file path: the
details go to the server's log, and only at the debug level.

pygls is imported only by :func:`protocol_class` and :func:`run`: the framing
and the checks are plain functions, tested without a server.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import os
import re
import threading
from typing import Any, NamedTuple, Optional, Union
from .limits import MAX_CONTENT_LENGTH, MAX_HEADER_BYTES

logger = logging.getLogger("nnlang.lsp")

#: What the reader keeps of discarded bytes while it looks for a header: a header may straddle two reads.
_RESYNC_TAIL = 64

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800

#: The message of every internal error: the details are logged, never sent.
INTERNAL_MESSAGE = "internal error in the nnc language server (run it with --verbose to log the details)"

_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*(.*?)[ \t]*")
#: A Content-Length header line anywhere in the stream: where a frame may start. Valid JSON
#: never contains one (a raw line break cannot be inside a JSON string), so a body that does
#: is two frames run together.
_CONTENT_LENGTH_LINE = re.compile(rb"content-length[ \t]*:[ \t]*[0-9]+[ \t]*\r?\n", re.IGNORECASE)


# --- framing ------------------------------------------------------------------------


class FrameError(NamedTuple):
    """Bytes skipped because they were not a well-formed frame, and why."""

    reason: str


class FrameReader:
    """Splits a byte stream into message bodies; malformed frames are skipped (see the module doc).

    feed() takes the bytes read so far and returns the complete bodies (bytes) and a
    FrameError for each stretch of bytes skipped, in stream order.
    """

    def __init__(self, max_content_length: int = MAX_CONTENT_LENGTH):
        self.max_content_length = max_content_length
        self._buffer = bytearray()
        self._length: Optional[int] = None  # the body being read, once its headers are complete
        self._searching = False  # skipping bytes until a Content-Length header

    def feed(self, data: bytes) -> list[Union[bytes, FrameError]]:
        self._buffer += data
        out: list[Union[bytes, FrameError]] = []
        while True:
            if self._searching and not self._search():
                break
            if self._length is not None:
                if len(self._buffer) < self._length:
                    break
                body = bytes(self._buffer[: self._length])
                del self._buffer[: self._length]
                self._length = None
                joined = _CONTENT_LENGTH_LINE.search(body)
                if joined is not None:  # the length was too long: the next frame's headers are inside
                    self._buffer[:0] = body[joined.start():]
                    body = body[: joined.start()]
                out.append(body)
                continue
            if not self._headers(out):
                break
        return out

    def _search(self) -> bool:
        """Drop bytes up to the next Content-Length header; False when none has arrived yet."""
        found = _CONTENT_LENGTH_LINE.search(self._buffer)
        if found is None:
            del self._buffer[: max(0, len(self._buffer) - _RESYNC_TAIL)]
            return False
        del self._buffer[: found.start()]
        self._searching = False
        return True

    def _skip(self, out: list, reason: str, resume: int) -> None:
        """A malformed frame: report it and look for the next header from `resume` on."""
        out.append(FrameError(reason))
        del self._buffer[:resume]
        self._searching = True

    def _headers(self, out: list) -> bool:
        """Read one header block; False when it has not fully arrived."""
        buffer = self._buffer
        position = 0
        length: Optional[int] = None
        while True:
            end = buffer.find(b"\n", position)
            if end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    self._skip(out, "a header block longer than 8 KB", 1)
                    return True
                return False
            line = bytes(buffer[position:end]).rstrip(b"\r")
            if not line.strip():
                if position == 0:  # a blank line between frames
                    del buffer[: end + 1]
                    continue
                if length is None:
                    self._skip(out, "a header block without Content-Length", end + 1)
                    return True
                del buffer[: end + 1]
                self._length = length
                return True
            header = _HEADER.fullmatch(line)
            name = header.group(1).lower() if header is not None else None
            if name not in (b"content-length", b"content-type"):  # the only headers of the protocol
                self._skip(out, "a malformed header line", position + 1)
                return True
            if name == b"content-length":
                value = header.group(2)
                if not value.isdigit() or len(value) > 15 or int(value) > self.max_content_length:
                    self._skip(out, "an invalid Content-Length" if not value.isdigit() else
                               f"a Content-Length above {self.max_content_length:,} bytes", position + 1)
                    return True
                if length is not None and int(value) != length:
                    self._skip(out, "two different Content-Length headers", position + 1)
                    return True
                length = int(value)
            position = end + 1


# --- message checks -------------------------------------------------------------------


class Request(NamedTuple):
    id: Union[int, str]
    method: str
    params: Any


class Notification(NamedTuple):
    method: str
    params: Any


class Response(NamedTuple):
    id: Union[int, str, None]
    result: Any
    error: Any


class Invalid(NamedTuple):
    """A message to answer with an error: the id to answer (None: null), the code and the message."""

    id: Union[int, str, None]
    code: int
    message: str


_ABSENT = object()


def _valid_id(value) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def classify(data) -> Union[Request, Notification, Response, Invalid]:
    """What a decoded JSON value is as a JSON-RPC 2.0 message."""
    if isinstance(data, list):
        return Invalid(None, INVALID_REQUEST, "batches of messages are not supported")
    if not isinstance(data, dict):
        return Invalid(None, INVALID_REQUEST, "a message must be a JSON object")
    msg_id = data.get("id", _ABSENT)
    good_id = _valid_id(msg_id)
    answer = msg_id if good_id else None
    if data.get("jsonrpc") != "2.0":
        return Invalid(answer, INVALID_REQUEST, 'a message must have "jsonrpc": "2.0"')
    if "method" not in data:
        if msg_id is not _ABSENT and ("result" in data or "error" in data):
            return Response(msg_id if good_id else None, data.get("result"), data.get("error"))
        return Invalid(answer, INVALID_REQUEST, "a message must have a method, or be a response")
    method = data["method"]
    if not isinstance(method, str):
        return Invalid(answer, INVALID_REQUEST, "the method must be a string")
    if msg_id is not _ABSENT and not good_id:
        return Invalid(None, INVALID_REQUEST, "the id must be an integer or a string")
    params = data.get("params")
    if params is not None and not isinstance(params, (dict, list)):
        return Invalid(answer, INVALID_REQUEST, "params must be an object or an array")
    if msg_id is _ABSENT:
        return Notification(method, params)
    return Request(msg_id, method, params)


def decode(body: bytes):
    """The JSON value of a body, or an Invalid (Parse error) when it is not UTF-8 JSON."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Invalid(None, PARSE_ERROR, "the message is not valid JSON")


def _params_problem(error: Exception) -> str:
    """Where params failed to convert, as JSON paths (no values, no Python details)."""
    try:
        import cattrs

        places = [m.split(" @ ", 1)[1] for m in cattrs.transform_error(error) if " @ " in m]
    except Exception:  # noqa: BLE001 - the message is a courtesy
        places = []
    places = sorted({p.replace("$.params", "params", 1) for p in places if p.startswith("$.params")})
    message = "invalid params" + (": " + ", ".join(places[:5]) if places else "")
    if any(p.endswith(("position", ".line", ".character", ".start", ".end")) for p in places):
        message += " (a line and a character are integers from 0 to 2147483647)"
    return message


# --- the protocol: pygls's, with the checks and the life cycle above -------------------------------


@functools.lru_cache(maxsize=1)
def protocol_class():
    """The LanguageServerProtocol subclass that checks messages and keeps the life cycle (imports pygls)."""
    from lsprotocol import types
    from pygls.protocol import LanguageServerProtocol
    from pygls.protocol.language_server import lsp_method

    class Protocol(LanguageServerProtocol):
        """Messages arrive as bodies (handle_body), are checked, then go to pygls's handlers."""

        def __init__(self, server, converter):
            super().__init__(server, converter)
            self.state = "new"  # -> "running" (initialize) -> "shutdown" -> "exited"
            self.exit_code: Optional[int] = None
            self.on_exit = None  # called once when the exit notification arrives

        # -- reading -----------------------------------------------------------------------
        def handle_body(self, item) -> None:
            """One frame from the reader: a body to decode and dispatch, or a skipped stretch to log."""
            if isinstance(item, FrameError):
                logger.warning("skipped %s", item.reason)
                return
            data = decode(item)
            message = data if isinstance(data, Invalid) else classify(data)
            try:
                contextvars.copy_context().run(self.dispatch, message)
            except Exception:  # noqa: BLE001 - nothing a client sends may stop the server
                logger.warning("a message could not be handled", exc_info=True)
                if isinstance(message, Request):
                    self.reply_error(message.id, INTERNAL_ERROR, INTERNAL_MESSAGE)

        def dispatch(self, message) -> None:
            if isinstance(message, Invalid):
                logger.warning("invalid message: %s", message.message)
                self.reply_error(message.id, message.code, message.message)
            elif isinstance(message, Response):
                logger.debug("dropped a response to id %r: the server sends no requests", message.id)
            elif isinstance(message, Notification):
                self._notification(message)
            else:
                self._request(message)

        def _notification(self, message: Notification) -> None:
            if message.method == types.EXIT:
                self.exit()
                return
            if self.state != "running":
                logger.info("dropped %s: the server is %s", message.method,
                            "not initialized" if self.state == "new" else "shutting down")
                return
            message_type = self.get_message_type(message.method)
            if message_type is None:
                logger.info("ignored the notification %s", message.method)
                return
            try:
                params = {} if message.params is None else message.params  # `initialized` may omit them
                structured = self._converter.structure(
                    {"jsonrpc": "2.0", "method": message.method, "params": params}, message_type)
            except Exception as error:  # noqa: BLE001
                logger.warning("dropped %s: %s", message.method, _params_problem(error))
                return
            self._handle_notification(message.method, structured.params)

        def _request(self, message: Request) -> None:
            method = message.method
            if self.state == "new" and method != types.INITIALIZE:
                self.reply_error(message.id, SERVER_NOT_INITIALIZED, "the server is not initialized yet")
                return
            if self.state == "running" and method == types.INITIALIZE:
                self.reply_error(message.id, INVALID_REQUEST, "the server is already initialized")
                return
            if self.state in ("shutdown", "exited"):
                self.reply_error(message.id, INVALID_REQUEST, "the server is shutting down")
                return
            message_type = self.get_message_type(method)
            params = message.params
            if message_type is not None:
                try:
                    raw = {"jsonrpc": "2.0", "id": message.id, "method": method}
                    if params is not None:
                        raw["params"] = params
                    params = self._converter.structure(raw, message_type).params
                except Exception as error:  # noqa: BLE001
                    self.reply_error(message.id, INVALID_PARAMS, f"{method}: {_params_problem(error)}")
                    return
            if method == types.INITIALIZE:
                self.state = "running"
            elif method == types.SHUTDOWN:
                self.state = "shutdown"
            self._handle_request(message.id, method, params)

        def exit(self) -> None:
            if self.exit_code is None:
                self.exit_code = 0 if self.state == "shutdown" else 1
                self.state = "exited"
                if self.on_exit is not None:
                    self.on_exit()

        # -- writing -----------------------------------------------------------------------
        def reply_error(self, msg_id, code: int, message: str) -> None:
            self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

        def _send_response(self, msg_id, result=None, error=None):
            if error is not None:  # never a traceback or a path: pygls puts them in data and message
                code = getattr(error, "code", INTERNAL_ERROR)
                text = getattr(error, "message", "")
                if code == INTERNAL_ERROR or not isinstance(text, str) or "Traceback" in text or "\n" in text:
                    text = INTERNAL_MESSAGE
                self.reply_error(msg_id, code, text)
                return
            super()._send_response(msg_id, result=result)

        # -- documents: the server keeps its own copies (see nnlang.lsp.Documents) ------------
        @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
        def lsp_text_document__did_open(self, params):
            if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
                yield handler, (params,), None

        @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
        def lsp_text_document__did_change(self, params):
            if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
                yield handler, (params,), None

        @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
        def lsp_text_document__did_close(self, params):
            if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
                yield handler, (params,), None

        @lsp_method(types.EXIT)
        def lsp_exit(self, *args):  # handled in _notification; kept so pygls never calls sys.exit
            self.exit()
            yield from ()

    return Protocol


# --- the loop over standard input and output ----------------------------------------------------


class _Writer:
    """Writes frames to a binary stream; a closed pipe stops the server instead of raising."""

    def __init__(self, stream, on_broken):
        self._stream = stream
        self._on_broken = on_broken
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._on_broken()

    def close(self) -> None:
        pass


def run(server, stdin, stdout) -> int:
    """Serve one client on the binary streams stdin and stdout until `exit` or the end of stdin.

    A thread reads stdin and splits it into frames; the messages are handled on an
    asyncio event loop in this thread. Returns the exit status: 0 after shutdown
    then exit (or the end of input after shutdown), 1 otherwise.
    """
    protocol = server.protocol
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    finished = loop.create_future()

    def stop() -> None:
        if not finished.done():
            finished.set_result(None)

    def stop_soon() -> None:
        try:
            loop.call_soon_threadsafe(stop)
        except RuntimeError:  # the loop is closed already
            pass

    protocol.on_exit = stop
    protocol.set_writer(_Writer(stdout, stop_soon))
    server.loop = loop

    def read() -> None:
        reader = FrameReader()
        try:  # the file descriptor itself: a buffered stream's lock would block its closing at exit
            descriptor = stdin.fileno()
            read_some = functools.partial(os.read, descriptor)
        except (AttributeError, OSError, ValueError):
            read_some = getattr(stdin, "read1", None) or stdin.read
        try:
            while not finished.done():
                data = read_some(65536)
                if not data:
                    break
                for item in reader.feed(data):
                    loop.call_soon_threadsafe(protocol.handle_body, item)
        except (OSError, ValueError, RuntimeError):  # stdin closed under us, or the loop is gone
            pass
        except Exception:  # noqa: BLE001 - a bug here must end the session, not hang it
            logger.warning("reading standard input failed", exc_info=True)
        stop_soon()

    threading.Thread(target=read, name="nnc-lsp-reader", daemon=True).start()
    try:
        loop.run_until_complete(finished)
    except KeyboardInterrupt:
        pass
    finally:
        if hasattr(server, "stop"):
            server.stop()
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
    if protocol.exit_code is not None:
        return protocol.exit_code
    return 0 if protocol.state == "shutdown" else 1
