"""Benchmark of the language server, `nnc lsp`, driven over stdio with raw JSON-RPC frames.

    python bench/lsp.py [--edits N] [--pace SECONDS] [--burst N] [--lines N]

The document is the examples written one after the other (their models and
blocks renamed so that every name is defined once) until it has about 3,000
lines. The script prints the median and 95th percentile of:

- paced edits: the time from a didChange to the publishDiagnostics of that
  version, for edits inside a line (a digit of a layer changed) and for edits
  that add a line near the top (every line below moves);
- a burst: N edits sent at once, then a hover; the hover's answer time, the time
  until the diagnostics of the last version arrive and how many diagnostics were
  published for the burst (each one a compilation);
- hovers sent while the server compiles.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_SCRIPT = Path(sys.executable).parent / "nnc"
SERVER = [str(_SCRIPT), "lsp"] if _SCRIPT.exists() else [sys.executable, "-m", "nnlang", "lsp"]
URI = "file:///bench/large.nn"


def document(lines_wanted: int = 3000) -> str:
    """The examples one after the other, each copy's models and blocks renamed, until `lines_wanted` lines."""
    files = sorted(EXAMPLES.glob("*.nn"))
    parts: list[str] = []
    lines, copy = 0, 0
    while lines < lines_wanted:
        copy += 1
        for index, path in enumerate(files):
            text = path.read_text(encoding="utf-8")
            names = set(re.findall(r"^\s*(?:model|block)\s+([A-Za-z_]\w*)", text, re.M))
            for name in sorted(names, key=len, reverse=True):
                text = re.sub(rf"\b{name}\b", f"{name}_{index}c{copy}", text)
            parts.append(text)
            lines += text.count("\n") + 1
            if lines >= lines_wanted:
                break
    return "\n".join(parts)


class Client:
    """`nnc lsp` in a subprocess; a thread reads its frames into an inbox."""

    def __init__(self, argv=SERVER):
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, cwd=str(ROOT))
        self.inbox: list = []  # (arrival time, message) not yet taken by wait()
        self.arrived = threading.Condition()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if not line.strip():
                    break
                key, _, value = line.decode("ascii").partition(":")
                if key.strip().lower() == "content-length":
                    length = int(value)
            message = json.loads(stream.read(length))
            with self.arrived:
                self.inbox.append((time.perf_counter(), message))
                self.arrived.notify_all()

    def send(self, message: dict) -> float:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()
        return time.perf_counter()

    def request(self, method: str, params) -> tuple[int, float]:
        self.next_id += 1
        return self.next_id, self.send({"id": self.next_id, "method": method, "params": params})

    def wait(self, predicate, timeout: float = 120.0):
        """(arrival time, message) of the first message that satisfies predicate, taken from the inbox."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for index, (arrived, message) in enumerate(self.inbox):
                    if predicate(message):
                        del self.inbox[index]
                        return arrived, message
                if not self.arrived.wait(timeout=deadline - time.monotonic()):
                    raise TimeoutError("no such message from the server")

    def drain(self) -> list:
        """Every message not yet taken, emptying the inbox."""
        with self.arrived:
            out = [message for _, message in self.inbox]
            self.inbox.clear()
        return out

    def close(self) -> None:
        try:
            request, _ = self.request("shutdown", None)
            self.wait(lambda m: m.get("id") == request, timeout=30)
            self.send({"method": "exit"})
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def published(version: int):
    return lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == version


def change(client: Client, version: int, line: int, start: int, end: int, text: str) -> float:
    return client.send({"method": "textDocument/didChange", "params": {
        "textDocument": {"uri": URI, "version": version},
        "contentChanges": [{"range": {"start": {"line": line, "character": start},
                                      "end": {"line": line, "character": end}}, "text": text}]}})


def hover(client: Client, line: int, character: int) -> float:
    """Seconds until the hover's answer arrives."""
    request, sent = client.request("textDocument/hover", {"textDocument": {"uri": URI},
                                                          "position": {"line": line, "character": character}})
    arrived, _ = client.wait(lambda m: m.get("id") == request)
    return arrived - sent


def figures(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   " \
           f"max {ordered[-1] * 1000:7.1f} ms   (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=60, help="paced edits of each kind")
    parser.add_argument("--pace", type=float, default=0.3, help="seconds between paced edits")
    parser.add_argument("--burst", type=int, default=200, help="edits in the burst")
    parser.add_argument("--lines", type=int, default=3000, help="lines of the document")
    options = parser.parse_args()

    text = document(options.lines)
    lines = text.split("\n")
    # layer lines whose first number can be changed: `conv2d 64 ...` -> `conv2d 65 ...`
    editable = [(n, m.start(1), m.end(1)) for n, line in enumerate(lines)
                if (m := re.match(r"\s*(?:\w+:\s*)?(?:conv2d|dense)\s+(\d+)\b", line))]
    random.seed(1)
    client = Client()
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {}})
        client.wait(lambda m: m.get("id") == 1)
        client.send({"method": "initialized", "params": {}})
        sent = client.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": URI, "languageId": "nn", "version": 1, "text": text}}})
        arrived, _ = client.wait(published(1))
        print(f"document: {len(lines)} lines, {len(text):,} characters; first diagnostics after "
              f"{(arrived - sent) * 1000:.0f} ms")
        version = 1

        inline, added = [], []
        for number in range(options.edits):
            line, start, end = random.choice(editable)
            old = lines[line][start:end]
            new = str(int(old) + 1)
            version += 1
            sent = change(client, version, line, start, end, new)
            arrived, _ = client.wait(published(version))
            inline.append(arrived - sent)
            lines[line] = lines[line][:start] + new + lines[line][end:]
            time.sleep(options.pace)
        for number in range(options.edits):  # a comment line added, then removed, near the top
            version += 1
            if number % 2 == 0:
                sent = change(client, version, 2, 0, 0, "# a note\n")
            else:
                sent = client.send({"method": "textDocument/didChange", "params": {
                    "textDocument": {"uri": URI, "version": version},
                    "contentChanges": [{"range": {"start": {"line": 2, "character": 0},
                                                  "end": {"line": 3, "character": 0}}, "text": ""}]}})
            arrived, _ = client.wait(published(version))
            added.append(arrived - sent)
            time.sleep(options.pace)
        print(f"paced edits inside a line ({options.pace:.2f} s apart), didChange -> publishDiagnostics:")
        print(f"    {figures(inline)}")
        print("paced edits adding or removing a line near the top:")
        print(f"    {figures(added)}")

        # hovers while the server compiles: an edit, then at once a hover on a layer
        during = []
        for number in range(options.edits // 2):
            line, start, end = random.choice(editable)
            new = str(int(lines[line][start:end]) + 1)
            version += 1
            change(client, version, line, start, end, new)
            lines[line] = lines[line][:start] + new + lines[line][end:]
            target, column, _ = random.choice(editable)
            during.append(hover(client, target, column))
            client.wait(published(version))
            time.sleep(0.05)
        print("hover sent right after a didChange (answered while compiling):")
        print(f"    {figures(during)}")

        # a burst: typing fast at the end of a comment on the first line
        client.drain()
        line0 = lines[0]
        first = version + 1
        start = time.perf_counter()
        for number in range(options.burst):
            version += 1
            change(client, version, 0, len(line0) + number, len(line0) + number, "x")
        target, column, _ = editable[len(editable) // 2]
        hover_time = hover(client, target, column)
        arrived, _ = client.wait(published(version))
        count = sum(1 for m in client.drain() if m.get("method") == "textDocument/publishDiagnostics") + 1
        print(f"burst of {options.burst} edits (versions {first}-{version}):")
        print(f"    hover sent after the burst answered in {hover_time * 1000:.1f} ms")
        print(f"    diagnostics of the last version {(arrived - start) * 1000:.0f} ms after the first edit was sent;"
              f" {count} publishDiagnostics for the burst")
    finally:
        client.close()


if __name__ == "__main__":
    main()
