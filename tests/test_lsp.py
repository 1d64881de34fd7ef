"""The language server, `nnc lsp`: end to end with pytest-lsp, with a bare JSON-RPC
client over pipes, and its feature functions directly."""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
import threading
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from helpers_nnc import EXAMPLES, ROOT, nnc_json
from nnlang import lsp as nnlsp
from nnlang.report import shape_with_batch

SERVER = [sys.executable, "-m", "nnlang", "lsp"]
EXAM = EXAMPLES / "exam_cnn_rgb28.nn"
RESNET = EXAMPLES / "resnet18.nn"

BROKEN = """model m {
    input 28x28x3
    conv2x 32 k=3
    flatten
}
"""
FIXED = BROKEN.replace("conv2x", "conv2d")

BLOCKS = """block pair(c) {
    conv2d c k=3 pad=same relu
    conv2d c k=3 pad=same relu
}

model two {
    input 32x32x3
    first: pair(16)
    second: pair(32)
    flatten
}
"""

#: The async tests share one server (started once for the module) and its event loop.
lsp_test = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    params = types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="nn", version=version, text=text)))


async def _diagnostics(client: LanguageClient, uri: str, condition, timeout: float = 10.0):
    """The diagnostics last published for uri, once `condition` holds for them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        published = client.diagnostics.get(uri)
        if published is not None and condition(published):
            return published
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics for {uri} satisfying the condition; last: {client.diagnostics.get(uri)}")


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.split("\n")) if needle in line)


# --- end to end with pytest-lsp -----------------------------------------------------------------


@lsp_test
async def test_diagnostics_on_open_then_cleared_on_change(client: LanguageClient):
    uri = "file:///tmp/lsp_broken.nn"
    _open(client, uri, BROKEN)
    (diagnostic,) = await _diagnostics(client, uri, lambda d: len(d) > 0)
    assert diagnostic.code == "E101"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.source == "nnc"
    assert diagnostic.range.start == types.Position(line=2, character=4)
    assert diagnostic.range.end == types.Position(line=2, character=10)
    assert "conv2x" in diagnostic.message and "did you mean 'conv2d'?" in diagnostic.message  # the note

    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=2, character=4), end=types.Position(line=2, character=10)),
            text="conv2d")]))
    assert list(await _diagnostics(client, uri, lambda d: len(d) == 0)) == []


@lsp_test
async def test_warning_severity_and_code(client: LanguageClient):
    uri = "file:///tmp/lsp_warning.nn"
    _open(client, uri, "model m {\n  input 61x61x8\n  maxpool2d 2\n}\n")
    (diagnostic,) = await _diagnostics(client, uri, lambda d: len(d) > 0)
    assert (diagnostic.code, diagnostic.severity) == ("W201", types.DiagnosticSeverity.Warning)
    assert diagnostic.range.start == types.Position(line=2, character=2)


@lsp_test
async def test_hover_matches_the_json_report(client: LanguageClient):
    text = EXAM.read_text(encoding="utf-8")
    uri = EXAM.as_uri()
    _open(client, uri, text)
    await _diagnostics(client, uri, lambda d: True)
    (model,) = nnc_json(EXAM)["models"]
    convolutions = [layer for layer in model["layers"] if layer["type"] == "conv2d"]
    assert convolutions
    for layer in convolutions:
        line = layer["line"] - 1
        column = text.split("\n")[line].index("conv2d") + 2
        result = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=column)))
        assert result is not None, layer["name"]
        value = result.contents.value
        assert shape_with_batch(tuple(layer["output_shape"]), None) in value
        assert f"params: {layer['params']:,} (trainable {layer['trainable_params']:,}, " \
               f"non-trainable {layer['non_trainable_params']:,})" in value
        assert f"{layer['formulas']['trainable_params']} = {layer['trainable_params']:,}" in value
        assert f"{layer['formulas']['macs']} = {layer['macs']:,}" in value
        assert result.range.start.line == line


@lsp_test
async def test_hover_inside_a_block_shows_every_call(client: LanguageClient):
    uri = "file:///tmp/lsp_blocks.nn"
    _open(client, uri, BLOCKS)
    await _diagnostics(client, uri, lambda d: True)
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=6)))
    value = result.contents.value
    assert "2 calls" in value
    assert "two › first › conv2d_1" in value and "two › second › conv2d_3" in value
    assert "(None, 32, 32, 16)" in value and "(None, 32, 32, 32)" in value
    # a block call: the block's totals
    line = _line_of(BLOCKS, "second: pair")
    result = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=13)))
    value = result.contents.value
    first = 3 * 3 * 16 * 32 + 32
    second = 3 * 3 * 32 * 32 + 32
    assert "call of block `pair`" in value and f"params: {first + second:,}" in value


@lsp_test
async def test_definition_jumps_from_a_call_to_the_block(client: LanguageClient):
    text = RESNET.read_text(encoding="utf-8")
    uri = RESNET.as_uri()
    _open(client, uri, text)
    await _diagnostics(client, uri, lambda d: True)
    line = _line_of(text, "layer1_0: basic(")
    column = text.split("\n")[line].index("basic(") + 1
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=column)))
    location = result[0] if isinstance(result, list) else result
    target = _line_of(text, "block basic(")
    assert location.uri == uri
    assert location.range.start == types.Position(line=target, character=len("block "))
    assert location.range.end == types.Position(line=target, character=len("block basic"))


@lsp_test
async def test_completion_of_kinds_and_options(client: LanguageClient):
    uri = "file:///tmp/lsp_complete.nn"
    text = "model m {\n    input 28x28x3\n    \n    conv2d 32 \n}\n"
    _open(client, uri, text)
    await _diagnostics(client, uri, lambda d: True)

    async def labels(line: int, character: int) -> dict:
        position = types.Position(line=line, character=character)
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position))
        items = result.items if isinstance(result, types.CompletionList) else result
        return {item.label: item for item in items}

    kinds = await labels(2, 4)
    assert "conv2d" in kinds and kinds["conv2d"].detail == "2-D convolution"
    assert "dense" in kinds and "repeat" in kinds
    options = await labels(3, len("    conv2d 32 "))
    assert "k" in options and options["k"].insert_text == "k="
    assert "kernel size" in options["k"].detail
    assert "relu" in options  # activation words
    assert "conv2d" not in options


@lsp_test
async def test_document_symbols_list_models_and_blocks(client: LanguageClient):
    text = RESNET.read_text(encoding="utf-8")
    uri = RESNET.as_uri()
    _open(client, uri, text)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    by_name = {symbol.name: symbol for symbol in symbols}
    assert {"basic", "basic_down", "resnet18"} <= set(by_name)
    assert by_name["resnet18"].kind == types.SymbolKind.Class
    assert by_name["basic"].kind == types.SymbolKind.Function
    children = [child.name for child in by_name["resnet18"].children]
    assert "layer1_0" in children and "conv1" in children


@lsp_test
async def test_bad_input_never_crashes_the_server(client: LanguageClient):
    uri = "file:///tmp/lsp_garbage.nn"
    _open(client, uri, "model {{{ ((( \x00 ü -> ->\n block x(")
    await _diagnostics(client, uri, lambda d: len(d) > 0)
    for line, character in ((0, 0), (0, 3), (1, 9), (50, 200)):
        position = types.Position(line=line, character=character)
        document = types.TextDocumentIdentifier(uri=uri)
        assert await client.text_document_hover_async(types.HoverParams(text_document=document,
                                                                         position=position)) is None
        await client.text_document_definition_async(types.DefinitionParams(text_document=document,
                                                                            position=position))
        await client.text_document_completion_async(types.CompletionParams(text_document=document,
                                                                           position=position))
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert [s.name for s in symbols] == ["x"]
    # a document the server never saw: no answer, no crash
    missing = types.TextDocumentIdentifier(uri="file:///tmp/never_opened.nn")
    await client.text_document_hover_async(types.HoverParams(text_document=missing,
                                                             position=types.Position(line=0, character=0)))
    # and the server still works
    _open(client, "file:///tmp/lsp_after_garbage.nn", FIXED)
    assert list(await _diagnostics(client, "file:///tmp/lsp_after_garbage.nn", lambda d: True)) == []
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri="file:///tmp/lsp_after_garbage.nn"),
        position=types.Position(line=3, character=4)))
    assert any(item.label == "conv2d" for item in result.items)


# --- a bare JSON-RPC client: the server without pytest-lsp ------------------------------------------


class _Pipe:
    """Content-Length framed JSON-RPC over a subprocess' pipes; a thread reads the replies."""

    def __init__(self):
        self.process = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, cwd=str(ROOT))
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            headers = {}
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                key, _, value = line.decode("ascii").partition(":")
                headers[key.strip().lower()] = value.strip()
            self.messages.put(json.loads(stream.read(int(headers["content-length"])).decode("utf-8")))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self, predicate, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if predicate(message):
                return message


def test_bare_json_rpc_session():
    pipe = _Pipe()
    try:
        pipe.send({"id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": None, "capabilities": {},
            "initializationOptions": {"convention": "pytorch"}}})
        reply = pipe.receive(lambda m: m.get("id") == 1)
        capabilities = reply["result"]["capabilities"]
        assert capabilities["hoverProvider"] and capabilities["definitionProvider"]
        assert capabilities["documentSymbolProvider"] and "completionProvider" in capabilities
        pipe.send({"method": "initialized", "params": {}})
        pipe.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///tmp/bare.nn", "languageId": "nn", "version": 1, "text": BROKEN}}})
        published = pipe.receive(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        (diagnostic,) = published["params"]["diagnostics"]
        assert diagnostic["code"] == "E101" and diagnostic["severity"] == 1
        assert diagnostic["range"]["start"] == {"line": 2, "character": 4}
        # the convention of initializationOptions: PyTorch counts no batch-norm statistics
        pipe.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///tmp/bare_bn.nn", "languageId": "nn", "version": 1,
            "text": "model m {\n  input 4x4x8\n  batchnorm\n}\n"}}})
        pipe.send({"id": 2, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": "file:///tmp/bare_bn.nn"}, "position": {"line": 2, "character": 4}}})
        hover = pipe.receive(lambda m: m.get("id") == 2)
        assert "params: 16 (trainable 16, non-trainable 0)" in hover["result"]["contents"]["value"]
        pipe.send({"id": 3, "method": "shutdown"})
        assert pipe.receive(lambda m: m.get("id") == 3).get("error") is None
        pipe.send({"method": "exit"})
        assert pipe.process.wait(timeout=15) == 0
        assert b"Traceback" not in pipe.process.stderr.read()
    finally:
        if pipe.process.poll() is None:
            pipe.process.kill()
            pipe.process.wait()
        for stream in (pipe.process.stdin, pipe.process.stdout, pipe.process.stderr):
            stream.close()


# --- the feature functions, without a client -------------------------------------------------------


def test_positions_count_utf16_code_units():
    text = "# 😀 é\nmodel m {\n"
    lines = nnlsp.Lines(text, "utf-16")
    assert lines.to_client(0, 3) == types.Position(line=0, character=4)  # after the emoji: 2 code units
    assert lines.from_client(types.Position(line=0, character=4)) == (0, 3)
    assert nnlsp.Lines(text, "utf-8").to_client(0, 5) == types.Position(line=0, character=9)
    assert nnlsp.Lines(text, types.PositionEncodingKind.Utf32).to_client(0, 3).character == 3
    # a span (1-based, end exclusive) becomes a 0-based range; line 0 means no position
    whole = nnlsp.Lines("model m {\n  conv2x 3\n}\n").range(nnlsp.Span(2, 3, 2, 9))
    assert (whole.start.line, whole.start.character, whole.end.line, whole.end.character) == (1, 2, 1, 8)
    assert nnlsp.Lines("").range(nnlsp.Span(0, 0, 0, 0)).start == types.Position(line=0, character=0)


def test_completion_values_and_block_parameters():
    text = "block b(c, s=1) {\n  conv2d c k=3\n}\nmodel m {\n  input 8x8x3\n  conv2d 4 k=3 pad=\n  b(4, \n}\n"
    values = {item.label for item in nnlsp.completions(text, types.Position(line=5, character=19))}
    assert values == {"valid", "same"}
    params = {item.label for item in nnlsp.completions(text, types.Position(line=6, character=7))}
    assert params == {"c", "s"}
    top = {item.label for item in nnlsp.completions(text, types.Position(line=8, character=0))}
    assert top == {"model", "block", "compare"}
    start = {item.label for item in nnlsp.completions(text, types.Position(line=6, character=2))}
    assert "b" in start and "conv2d" in start


def test_definition_and_symbols_survive_a_syntax_error():
    text = "block pair(c) {\n  conv2d c k=3\n}\nmodel m {\n  input 8x8x3\n  pair(4\n  conv2d 3 k=\n}\n"
    analysis = nnlsp.Analysis(text)
    assert analysis.tree is None and analysis.diagnostics[0].code.startswith("E")
    location = nnlsp.definition(analysis, "file:///x.nn", types.Position(line=5, character=3))
    assert location.range.start == types.Position(line=0, character=6)
    assert [s.name for s in nnlsp.document_symbols(analysis)] == ["pair", "m"]


def test_hover_on_a_model_name_and_an_input():
    text = EXAM.read_text(encoding="utf-8")
    analysis = nnlsp.Analysis(text)
    line = _line_of(text, "model exam1")
    value = nnlsp.hover(analysis, types.Position(line=line, character=7)).contents.value
    assert "686,090" in value and "(None, 10)" in value
    line = _line_of(text, "input 28x28x3")
    value = nnlsp.hover(analysis, types.Position(line=line, character=6)).contents.value
    assert "(None, 28, 28, 3)" in value
    assert nnlsp.hover(analysis, types.Position(line=0, character=3)) is None  # a comment


def test_items_that_parse_keep_their_syntax_tree_while_another_does_not():
    text = BLOCKS + "model broken {\n    input 8\n    pair(4\n}\ncompare two, \n"
    analysis = nnlsp.Analysis(text)
    assert analysis.tree is None and analysis.program is None
    symbols = nnlsp.document_symbols(analysis)
    assert [s.name for s in symbols] == ["pair", "two", "broken"]
    assert [c.name for c in symbols[1].children] == ["input", "first", "second", "flatten"]  # from the tree
    assert symbols[2].children is None or symbols[2].children == []  # by its head alone
    block_name = types.Position(line=0, character=len("block "))
    # from a call in an item that parses, and from one in an item that does not
    for needle in ("first: pair", "    pair(4"):
        line = _line_of(text, needle)
        column = text.split("\n")[line].index("pair(") + 2
        location = nnlsp.definition(analysis, "file:///x.nn", types.Position(line=line, character=column))
        assert location.range.start == block_name, needle
    line = _line_of(text, "compare two")
    models = {i.label for i in nnlsp.completions(text, types.Position(line=line, character=len("compare two, ")),
                                                 analysis=analysis)}
    assert models == {"two", "broken"}
    kinds = {i.label for i in nnlsp.completions(text, types.Position(line=_line_of(text, "    pair(4"), character=4),
                                                analysis=analysis)}
    assert "pair" in kinds and "conv2d" in kinds
