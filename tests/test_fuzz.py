"""Hardened input: whatever a file holds, nnc ends with a report or diagnostics, never a
traceback, a hang or unbounded memory.

Inputs: random bytes and text, every ``examples/*.nn`` mutated (byte flips, line deletions and
duplications, token swaps, truncations), token sequences that look like .nn, structured random
networks (blocks, branches, repeats, expectations), and a list of specific hostile files (deep
nesting, huge numbers, huge and nested repeats, a 10 MB line, encodings, line ends, NUL, BOM).

Checked in-process (``compile_text``/``compile_path`` return, and every diagnostic renders with
its caret on the right source line, shown with control characters escaped; a compiled program
renders as a report) and through the command line for a sample (exit status 0 or 1, no
traceback, a located ``FILE:LINE:COL: error[CODE]`` line when the status is 1, within a memory
bound). The time limits are hang guards, far above the normal times, never speed tests: a
loaded machine must not fail them. Hypothesis runs derandomized, without deadlines: CI sees
the same inputs on every run.

A test that fails here shows an input nnc does not survive: fix the compiler, not the test.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_nnc import EXAMPLES, ROOT, nnc_in_process
from nnlang import layers
from nnlang.diagnostics import CODES, ERROR, render
from nnlang.driver import compile_path, compile_text
from nnlang.emit import json as emit_json
from nnlang.emit import text as emit_text
from nnlang.report import Options

#: Hang guards (seconds), over ten times the slowest normal time on an idle 2-core machine.
#: One in-process compilation of a small generated input or of an example: typically a few
#: milliseconds, the slowest (deep nesting, examples with a line duplicated) about 0.1 s.
TIME_LIMIT = 10
#: One specific hostile file (up to 10 MB) in-process: the slowest (10mb-digits, 10mb-name)
#: take 1-2.5 s.
SPECIFIC_TIME_LIMIT = 60
#: Time and address space one `nnc` process may use on a hostile file: the slowest take 1-2 s.
CLI_TIMEOUT = 60
CLI_MEMORY = 3 * 2**30

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CLI_SAMPLE = settings(FUZZ, max_examples=6)

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.nn"))
EXAMPLE_BYTES = [path.read_bytes() for path in EXAMPLE_FILES]

HEAD = re.compile(r"^(?P<file>.*?)(?::(?P<line>\d+):(?P<column>\d+))?: (?P<severity>error|warning|note)"
                  r"\[(?P<code>[EW]\d{3})\]: ")


# --- what every input must end in --------------------------------------------------------------------


#: Bidirectional controls (the marks and the embeddings, overrides and isolates) that reorder
#: what a terminal shows.
BIDI_MARKS = {"LEFT-TO-RIGHT MARK", "RIGHT-TO-LEFT MARK", "ARABIC LETTER MARK"}
BIDI_CLASSES = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}


def _shown(char: str) -> str:
    """How a diagnostic shows one character of a source line: a tab as a space; a control
    character (C0, DEL, C1), a line or paragraph separator, a byte order mark, a lone
    surrogate or a bidirectional control as an escape (\\x1b, \\u202e); anything else as is."""
    if char == "\t":
        return " "
    category = unicodedata.category(char)
    if (category in ("Cc", "Cs", "Zl", "Zp") or char == "\ufeff" or unicodedata.name(char, "") in BIDI_MARKS
            or unicodedata.bidirectional(char) in BIDI_CLASSES):
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    return char


def check_rendering(compilation) -> None:
    """Every diagnostic is registered and renders with its caret on its own source line."""
    lines = compilation.source.text.split("\n")
    for diagnostic in compilation.diagnostics:
        assert diagnostic.code in CODES, diagnostic
        assert diagnostic.severity == CODES[diagnostic.code].severity, diagnostic
        text = render(diagnostic, compilation.source)
        head, *rest = text.split("\n")
        match = HEAD.match(head)
        assert match and match["code"] == diagnostic.code, head
        span = diagnostic.span
        if not span.line:  # about the whole file: no location, no source line
            assert match["line"] is None and not any(line.startswith(" |") for line in rest), text
            continue
        assert (int(match["line"]), int(match["column"])) == (span.line, span.column), head
        assert 1 <= span.line <= len(lines) and span.column >= 1, (head, len(lines))
        gutter = " " * len(str(span.line))
        assert rest[0] == f"{gutter} |", text
        number, shown = rest[1].split(" | ", 1) if " | " in rest[1] else (rest[1].rstrip(" |"), "")
        assert number == str(span.line), text
        line = lines[span.line - 1]
        expected = "".join(map(_shown, line)) if len(line) <= 200 else None
        if expected is not None and len(expected) <= 200:
            assert shown == expected, f"the rendered line is not line {span.line} of the source:\n{text}"
        else:  # a window of at most 160 characters of the long line around the column, "..." where it is cut
            around = "".join(map(_shown, line[max(0, span.column - 250):span.column + 250]))
            assert shown.endswith("...") and len(shown) <= 166, text
            assert shown[:-3] in around or (shown.startswith("...") and shown[3:-3] in around), text
        caret = rest[2][len(gutter) + 3:]
        assert caret.strip() and set(caret.strip()) == {"^"}, text
        assert caret.index("^") <= len(shown), f"caret beyond the end of the line:\n{text}"


def check_compilation(compilation) -> None:
    """A report (the program renders) or diagnostics, consistently."""
    check_rendering(compilation)
    if compilation.program is None:
        assert compilation.diagnostics.has_errors, "no program and no error"
    options = Options()
    emit_json.render(compilation.program, compilation.diagnostics, options, compilation.source.name)
    if compilation.ok:
        emit_text.render(compilation.program, options)


def compile_checked(text: str, name: str = "fuzz.nn", limit: float = TIME_LIMIT):
    start = time.perf_counter()
    compilation = compile_text(text, name)
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"compiling took {elapsed:.1f} s"
    check_compilation(compilation)
    return compilation


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def compile_bytes_checked(data: bytes, path: Path, limit: float = TIME_LIMIT):
    """As nnc reads a file: decoded (E004 when not UTF-8), line ends normalised."""
    path.write_bytes(data)
    start = time.perf_counter()
    compilation = compile_path(path)
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"compiling took {elapsed:.1f} s"
    check_compilation(compilation)
    return compilation


def _limit_memory():  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (CLI_MEMORY, CLI_MEMORY))


def run_cli_checked(path: Path, *args: str, process: bool = True,
                    timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
    """`nnc FILE`: status 0 or 1, no traceback, and a located error line when it fails. In a
    real process under CLI_MEMORY and `timeout`, or (`process=False`) by the command's code in
    this process, which prints the same bytes without the cost of starting an interpreter."""
    if process:
        proc = subprocess.run([sys.executable, "-m", "nnlang", str(path), *args], capture_output=True,
                              cwd=str(ROOT), timeout=timeout, preexec_fn=_limit_memory)
        out, err = proc.stdout, proc.stderr
    else:
        proc = nnc_in_process(path, *args)
        out, err = proc.stdout_bytes, proc.stderr_bytes
    stdout = out.decode("utf-8", "replace")
    stderr = err.decode("utf-8", "replace")
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr[-3000:]
    assert proc.returncode in (0, 1), f"exit status {proc.returncode}: {stderr[-3000:]}"
    heads = [line for line in stderr.splitlines() if line.startswith(f"{path}:")]
    for line in heads:
        assert HEAD.match(line), line
    if proc.returncode == 1:
        located = re.compile(rf"^{re.escape(str(path))}:\d+:\d+: error\[E\d{{3}}\]: ")
        assert any(located.match(line) for line in heads), stderr[-3000:]
    return proc


# --- random bytes and text ---------------------------------------------------------------------------

#: Characters that Python's str.splitlines() takes as line breaks besides \n and \r, where the
#: parser does not: a diagnostic after one must still show its own line.
OTHER_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


NN_CHARS = list("model block repeat concat add branch compare input dense conv2d -> x ? {}();,:=+-*/%#._\\")
NN_ALPHABET = st.sampled_from(NN_CHARS + list("0123456789 \n\t\r\x00\x0c\u00e9\u2028\ufeff@$"))


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes(scratch, data):
    compile_bytes_checked(data, scratch / "bytes.nn")


@FUZZ
@given(data=st.binary(max_size=200).map(lambda b: b"model m {\n input 28x28x3\n" + b))
def test_random_bytes_after_a_valid_start(scratch, data):
    compile_bytes_checked(data, scratch / "start.nn")


@FUZZ
@given(text=st.text(NN_ALPHABET, max_size=600))
def test_random_text_of_nn_characters(text):
    compile_checked(text)


@FUZZ
@given(text=st.text(max_size=400))
def test_random_unicode_text(text):
    compile_checked(text)


@pytest.mark.parametrize("char", OTHER_LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_other_line_breaks_render_the_right_line(char):
    compile_checked(f"model m {{ # a{char}b\n    input 4\n    dense 2 @\n}}\n")


# --- mutated examples ------------------------------------------------------------------------------

_TOKEN = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*|\d[\dx_.?]*|->|//|\S")


def mutate(data: bytes, ops) -> bytes:
    """Apply mutations: each op is (kind, a, b) with positions taken modulo the current size."""
    for kind, a, b in ops:
        if kind == "flip" and data:
            i = a % len(data)
            data = data[:i] + bytes([data[i] ^ (1 << (b % 8))]) + data[i + 1:]
        elif kind == "byte" and data:
            i = a % len(data)
            data = data[:i] + bytes([b % 256]) + data[i + 1:]
        elif kind in ("delete_line", "duplicate_line"):
            lines = data.split(b"\n")
            i = a % len(lines)
            lines[i:i + 1] = [] if kind == "delete_line" else [lines[i], lines[i]]
            data = b"\n".join(lines)
        elif kind == "swap_lines":
            lines = data.split(b"\n")
            i, j = a % len(lines), b % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif kind in ("swap_tokens", "delete_token", "duplicate_token", "move_token"):
            tokens = list(_TOKEN.finditer(data))
            if not tokens:
                continue
            x, y = tokens[a % len(tokens)], tokens[b % len(tokens)]
            if kind == "swap_tokens" and x.start() != y.start():
                first, second = sorted((x, y), key=lambda m: m.start())
                data = (data[:first.start()] + second.group() + data[first.end():second.start()] + first.group()
                        + data[second.end():])
            elif kind == "delete_token":
                data = data[:x.start()] + data[x.end():]
            elif kind == "duplicate_token":
                data = data[:x.end()] + b" " + x.group() + data[x.end():]
            elif kind == "move_token":
                data = data[:y.start()] + x.group() + b" " + data[y.start():]
        elif kind == "truncate":
            data = data[:a % (len(data) + 1)]
    return data


MUTATION_KINDS = ("flip", "byte", "delete_line", "duplicate_line", "swap_lines", "swap_tokens", "delete_token",
                  "duplicate_token", "move_token", "truncate")
MUTATIONS = st.lists(st.tuples(st.sampled_from(MUTATION_KINDS), st.integers(0, 10**6), st.integers(0, 10**6)),
                     min_size=1, max_size=6)


@settings(FUZZ, max_examples=250)
@given(index=st.integers(0, len(EXAMPLE_BYTES) - 1), ops=MUTATIONS)
def test_mutated_examples(scratch, index, ops):
    compile_bytes_checked(mutate(EXAMPLE_BYTES[index], ops), scratch / EXAMPLE_FILES[index].name)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_lines_of_every_example_deleted_or_duplicated(scratch, path):
    data = path.read_bytes()
    count = data.count(b"\n") + 1
    for line in range(0, count, max(1, count // 20)):  # 20 lines of each file at most
        for kind in ("delete_line", "duplicate_line"):
            compile_bytes_checked(mutate(data, [(kind, line, 0)]), scratch / path.name)


# --- generated programs ---------------------------------------------------------------------------

KIND_NAMES = [name for kind in layers.statement_kinds() for name in (kind.name, *kind.aliases[:1])]
WORDS = ["model", "block", "repeat", "concat", "add", "branch", "compare", "input", "m", "n", "b", "c", "x",
         "relu", "softmax", "same", "valid", "true", "false", "k", "s", "pad", "params", "macs", *KIND_NAMES]
TOKENS = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(["{", "}", "(", ")", ",", ";", "\n", ":", "=", "->", "?", "+", "-", "*", "//", "/", "%", "#",
                     "\\\n", "\r\n"]),
    st.integers(0, 300).map(str),
    st.sampled_from(["0", "1_000", "10000000000000000", "99999999999999999999", "0.5", "1e9", ".5", "1.",
                     "28x28x3", "?x64", "3x3", "0x0", "?", "1x?x1"]),
    st.sampled_from(["k=3", "s=2", "pad=same", "pad=1", "bias=false", "return_sequences=true", "-> 10",
                     "params=10"]),
)


@FUZZ
@given(tokens=st.lists(TOKENS, max_size=80), glue=st.sampled_from([" ", "", "  "]))
def test_token_sequences(tokens, glue):
    compile_checked(glue.join(tokens))


@FUZZ
@given(tokens=st.lists(TOKENS, max_size=60))
def test_token_sequences_inside_a_model(tokens):
    compile_checked("model m {\n    input 32x32x3\n    " + " ".join(tokens) + "\n}\n")


def _deep(kind: str, depth: int) -> str:
    """A small model whose one construct nests DEPTH deep."""
    if kind == "blocks":
        return ("".join(f"block b{i}(c) {{ b{i + 1}(c) }}\n" for i in range(depth))
                + f"block b{depth}(c) {{ dense c }}\nmodel m {{ input 4; b0(3) }}\n")
    inner = {
        "parens": ("dense ", "(" * depth + "2" + ")" * depth),
        "sum": ("dense ", "+".join(["1"] * (depth * 15))),
        "tuples": ("reshape ", "(1, " * depth + "4" + ")" * depth),
        "branches": ("", "add { branch { " * depth + "dense 4" + " } }" * depth),
        "repeats": ("", "repeat 1 { " * depth + "dense 4" + " }" * depth),
        "concat-in-repeats": ("", "repeat 1 { concat { branch { " * depth + "dense 2" + " } } }" * depth),
    }[kind]
    return f"model m {{ input 4; {inner[0]}{inner[1]} }}\n"


@settings(FUZZ, max_examples=80)
@given(kind=st.sampled_from(["parens", "sum", "tuples", "branches", "repeats", "blocks", "concat-in-repeats"]),
       depth=st.integers(1, 160))
def test_nesting_around_the_limits(kind, depth):
    compile_checked(_deep(kind, depth))


def _value(draw, arg, params):
    """A value for a layer argument: mostly plausible, sometimes out of range or of the wrong kind."""
    if params and draw(st.integers(0, 5)) == 0:
        name = draw(st.sampled_from(params))
        return draw(st.sampled_from([name, f"{name}*2", f"{name}//2", f"({name} + 1)", f"{name} - {name}"]))
    kind = arg.type
    if kind in ("count", "int"):
        return str(draw(st.one_of(st.integers(1, 64), st.sampled_from([0, 1000, 10**15]))))
    if kind == "dims":
        return draw(st.one_of(st.integers(1, 7).map(str), st.sampled_from(["3x3", "1x7", "2x2x2", "0", "3x?"])))
    if kind == "pad":
        return draw(st.sampled_from(["valid", "same", "0", "1", "2", "1x2", "7"]))
    if kind == "bool":
        return draw(st.sampled_from(["true", "false", "yes", "no", "1"]))
    if kind == "rate":
        return draw(st.sampled_from(["0.5", "0", "0.99", "1.5", "2"]))
    if kind == "word":
        return draw(st.sampled_from([*arg.choices, "relu", "softmax", "nope"] if arg.choices else
                                    ["relu", "softmax", "tanh", "nope"]))
    if kind == "shape":
        return draw(st.sampled_from(["28x28x3", "784", "?x64", "(-1)", "(7, 7, -1)", "4x4", "0", "?"]))
    return draw(st.sampled_from(["1", "2", "1x2", "(1, 2)"]))


@st.composite
def layer_statement(draw, params=()):
    kind = draw(st.sampled_from(layers.statement_kinds()))
    name = draw(st.sampled_from([kind.name, *kind.aliases])) if kind.aliases else kind.name
    parts = [name]
    for arg in kind.positional:
        if arg.required or draw(st.booleans()):
            parts.append(_value(draw, arg, params))
    for arg in draw(st.lists(st.sampled_from(kind.options), max_size=3, unique_by=lambda a: a.name)
                    if kind.options else st.just([])):
        parts.append(f"{arg.name}={_value(draw, arg, params)}")
    if kind.takes_activation and draw(st.booleans()):
        parts.append(draw(st.sampled_from(["relu", "softmax", "tanh", "linear"])))
    if draw(st.integers(0, 4)) == 0:
        parts.append(draw(expectation()))
    label = draw(st.sampled_from(["", "", "", "l1: ", "l2: "]))
    return label + " ".join(parts)


@st.composite
def expectation(draw):
    shape = draw(st.sampled_from(["", "10", "28x28x32", "?", "(4, 4, 8)"]))
    counts = draw(st.lists(st.sampled_from(["params=10", "macs=100", "trainable=0", "non_trainable=0", "parms=1"]),
                           max_size=2))
    return "-> " + " ".join([shape, *counts]).strip()


@st.composite
def statements(draw, depth, params=(), blocks=()):
    out = []
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.integers(0, 9)) if depth > 0 else 0
        if choice <= 4:
            out.append(draw(layer_statement(params)))
        elif choice <= 6:
            mode = draw(st.sampled_from(["concat", "add"]))
            branches = []
            for _ in range(draw(st.integers(0, 3))):
                name = draw(st.sampled_from(["", "a ", "b "]))
                branches.append(f"branch {name}{{ {draw(statements(depth - 1, params, blocks))} }}")
            label = draw(st.sampled_from(["", "j: "]))
            out.append(f"{label}{mode} {{\n" + "\n".join(branches) + "\n}" +
                       (" " + draw(expectation()) if draw(st.integers(0, 3)) == 0 else ""))
        elif choice == 7:
            count = draw(st.one_of(st.integers(0, 3).map(str), st.sampled_from(["10000000", "(-1)", "x", "2*2"])))
            out.append(f"repeat {count} {{\n{draw(statements(depth - 1, params, blocks))}\n}}")
        elif blocks:
            name, arity = draw(st.sampled_from(blocks))
            args = [str(draw(st.integers(0, 16))) for _ in range(draw(st.integers(max(0, arity - 1), arity + 1)))]
            out.append(f"{name}({', '.join(args)})")
        else:
            out.append(draw(layer_statement(params)))
    return "\n".join(out)


@st.composite
def networks(draw):
    blocks, text = [], []
    for number in range(draw(st.integers(0, 2))):
        params = draw(st.lists(st.sampled_from(["c", "s", "r"]), max_size=3, unique=True))
        name = draw(st.sampled_from([f"blk{number}", "dense", "blk0"]))
        signature = ", ".join(f"{p}=1" if i == len(params) - 1 and draw(st.booleans()) else p
                              for i, p in enumerate(params))
        text.append(f"block {name}({signature}) {{\n{draw(statements(2, tuple(params), tuple(blocks)))}\n}}")
        blocks.append((name, len(params)))
    names = []
    for number in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from([f"m{number}", "m0"]))
        shape = draw(st.sampled_from(["28x28x3", "32x32x16", "784", "?x64", "100x20", "8x8x8x4", "?x?x3", "?"]))
        body = draw(statements(3, (), tuple(blocks)))
        text.append(f"model {name} {{\n    input {shape}\n{body}\n}}")
        names.append(name)
    if len(names) > 1 or draw(st.integers(0, 5)) == 0:
        text.append(f"compare {names[0]}, {draw(st.sampled_from([*names, 'zz']))}")
    return "\n\n".join(draw(st.permutations(text)))


# Networks that mostly type-check: each statement is chosen for the rank of its input, so most
# programs reach shape inference, expectations, warnings and the report.
_BY_RANK = {
    1: ["dense {u}", "dense {u} relu", "dropout 0.5", "batchnorm", "layernorm", "activation tanh",
        "dense {u} softmax", "reshape (-1, 1)", "embedding 100 {u}"],
    2: ["conv1d {u} k={k} pad={pad}", "maxpool1d 2", "avgpool1d 2 s=1 pad=same", "lstm {u} return_sequences=true",
        "gru {u} return_sequences=true", "rnn {u}", "lstm {u} bidirectional=true", "dense {u}",
        "layernorm", "globalavgpool1d", "globalmaxpool1d keepdims=true", "flatten"],
    3: ["conv2d {u} k={k} pad={pad} relu", "conv2d {u} k={k} s=2 pad={pad}", "maxpool2d 2", "avgpool2d 3 s=2",
        "maxpool2d 3 s=1 pad=same", "batchnorm", "dropout 0.25", "depthwise2d k=3 pad=same",
        "separable2d {u} k=3 pad=same", "conv2d_transpose {u} k=2 s=2", "upsample2d 2", "zeropad2d 1",
        "globalavgpool2d", "globalmaxpool2d keepdims=true", "flatten", "dense {u}", "conv2d {u} k={k} groups=2"],
    4: ["conv3d {u} k={k} pad={pad}", "batchnorm", "flatten"],
}
_RANK_AFTER = {"globalavgpool": 1, "globalmaxpool2d keepdims": 3, "globalmaxpool1d keepdims": 2, "flatten": 1,
               "rnn": 1, "lstm {u} bidirectional": 1, "reshape": 2, "embedding": 2}
_SAME_SHAPE = {1: ["dropout 0.1", "batchnorm", "activation relu", "dense {c}"],
               2: ["conv1d {c} k=3 pad=same", "layernorm", "dense {c}"],
               3: ["conv2d {c} k=1", "conv2d {c} k=3 pad=same", "conv2d {c} k=5 pad=same relu", "batchnorm",
                   "activation relu", "maxpool2d 3 s=1 pad=same"],
               4: ["conv3d {c} k=3 pad=same", "batchnorm"]}


def _fill(draw, template, params):
    width = draw(st.sampled_from([*params, "4", "8", "16", "32"]) if params else st.sampled_from(["4", "8", "16"]))
    return template.format(u=width, c=width, k=draw(st.sampled_from(["1", "3", "5", "3x1"])),
                           pad=draw(st.sampled_from(["same", "same", "valid", "1"])))


@st.composite
def coherent_body(draw, rank, depth, params=(), blocks=()):
    """(text, rank after it) of a body whose statements fit their inputs."""
    out = []
    for _ in range(draw(st.integers(1, 5))):
        choice = draw(st.integers(0, 9)) if depth > 0 else 0
        if choice <= 5:
            template = draw(st.sampled_from(_BY_RANK[rank]))
            out.append(_fill(draw, template, params) + (f" {draw(expectation())}" if choice == 5 else ""))
            rank = next((r for key, r in _RANK_AFTER.items() if template.startswith(key)), rank)
            if template.startswith(("lstm {u} return", "gru")):
                rank = 2
        elif choice <= 7:
            mode = draw(st.sampled_from(["concat", "add"]))
            width = draw(st.sampled_from([*params, "8"]) if params else st.just("8"))
            branches = []
            for _ in range(draw(st.integers(1, 3))):
                steps = draw(st.lists(st.sampled_from(_SAME_SHAPE[rank]), max_size=2))
                branches.append("branch { " + "; ".join(s.format(c=width) for s in steps) + " }")
            out.append(f"{mode} {{\n" + "\n".join(branches) + "\n}")
        elif choice == 8:
            inner, _ = draw(coherent_body(rank, depth - 1, params, blocks).filter(lambda r: r[1] == rank))
            out.append(f"repeat {draw(st.integers(0, 3))} {{\n{inner}\n}}")
        elif blocks and rank == 3:
            out.append(f"{draw(st.sampled_from(blocks))}({draw(st.sampled_from(['4', '8', '16']))})")
    return "\n".join(out), rank


@st.composite
def coherent_networks(draw):
    text, blocks = [], []
    if draw(st.booleans()):
        body, _ = draw(coherent_body(3, 1, ("c",)))
        text.append(f"block stage(c) {{\n{body}\n}}")
        blocks.append("stage")
    for number in range(draw(st.integers(1, 2))):
        rank, shape = draw(st.sampled_from([(3, "32x32x3"), (3, "28x28x1"), (3, "?x?x8"), (2, "50x16"),
                                            (2, "?x64"), (1, "784"), (1, "20"), (4, "8x16x16x2")]))
        body, _ = draw(coherent_body(rank, 2, (), tuple(blocks)))
        text.append(f"model m{number} {{\n    input {shape}\n{body}\n}}")
    if len(text) - len(blocks) == 2:
        text.append("compare m0, m1")
    return "\n\n".join(text)


@settings(FUZZ, max_examples=200)
@given(text=networks())
def test_structured_random_networks(text):
    compile_checked(text)


@settings(FUZZ, max_examples=200)
@given(text=coherent_networks())
def test_coherent_random_networks(text):
    compile_checked(text)


@settings(FUZZ, max_examples=100)
@given(text=st.one_of(networks(), coherent_networks()), convention=st.sampled_from(["keras", "pytorch", "textbook"]))
def test_structured_random_networks_in_every_convention(text, convention):
    start = time.perf_counter()
    compilation = compile_text(text, "fuzz.nn", convention)
    assert time.perf_counter() - start < TIME_LIMIT
    check_rendering(compilation)
    options = Options(convention=convention, batch=2, depth=1, explain=True)
    emit_json.render(compilation.program, compilation.diagnostics, options, "fuzz.nn")
    if compilation.ok:
        emit_text.render(compilation.program, options, ascii_only=True)


def test_the_generators_reach_valid_programs_and_many_codes():
    """The fuzz inputs are not all rejected at the first token: they reach inference and reports."""
    seen, ok = set(), 0

    @settings(FUZZ, max_examples=150, deadline=None)
    @given(text=st.one_of(networks(), coherent_networks()))
    def collect(text):
        nonlocal ok
        compilation = compile_text(text)
        seen.update(d.code for d in compilation.diagnostics)
        ok += compilation.ok

    collect()
    assert ok >= 30, ok
    assert len(seen) >= 18, sorted(seen)


# --- specific hostile files -------------------------------------------------------------------------

VALID = "model m {\n    input 28x28x3\n    conv2d 8 k=3 pad=same relu\n    flatten\n    dense 10 softmax\n}\n"
MB10 = 10 * 2**20


def _nested(open_: str, inner: str, close: str, n: int, before="model m { input 4; ", after=" }") -> str:
    return before + open_ * n + inner + close * n + after


SPECIFIC = {
    # sizes and encodings
    "empty": b"",
    "only-a-comment": b"# nothing here\n",
    "only-separators": b";;;\n\n;\n",
    "not-utf8": b"\xff\xfe model m { }",
    "latin1-comment": "# \u00dcbung\nmodel m { input 4; dense 2 }\n".encode("latin-1"),
    "truncated-utf8": b"model m { input 4 } # \xc3",
    "overlong-utf8": b"model m { input 4 } # \xc0\xaf",
    "utf8-surrogate": b"model m { input 4 } # \xed\xa0\x80",
    "accents-before-an-invalid-byte": "model m { input 4 } # \u00e9t\u00e9 ".encode() + b"\xff",
    "utf16": "model m { input 4 }".encode("utf-16"),
    "bom": b"\xef\xbb\xbf" + VALID.encode(),
    "two-boms": b"\xef\xbb\xbf\xef\xbb\xbf" + VALID.encode(),
    "bom-mid-file": VALID.encode() + b"\xef\xbb\xbf",
    "crlf": VALID.replace("\n", "\r\n").encode(),
    "crlf-with-error": b"model m {\r\n    input 4\r\n    dense 2 @\r\n}\r\n",
    "lone-cr": VALID.replace("\n", "\r").encode(),
    "lone-cr-with-error": b"model m {\r    input 4\r    dense 2 @\r}\r",
    "lone-cr-only": b"\r",
    "mixed-line-ends": b"model m {\r\n input 4\r dense 2\n dense 3 @\r\n}",
    "tabs": VALID.replace("    ", "\t").replace(" ", "\t").encode(),
    "tabs-with-error": b"model\tm\t{\n\tinput\t4\n\t\tdense\t2\t@\n}\n",
    "nul": b"model m {\x00 input 4 }",
    "nul-in-comment": b"model m { input 4 } # \x00\n",
    "nuls": b"\x00" * 1000,
    "form-feed-before-an-error": b"model m {\x0c\n input 4\n dense 2 @\n}\n",
    "line-separator-in-comment": "model m { # a\u2028b\n input 4; dense 2 @ }\n".encode(),
    "next-line-in-comment": "model m { # \x85 x\n input 4\n dense 2 @\n}\n".encode(),
    "backslash-at-end": b"model m { input 4; dense 2 }\\",
    "10mb-comment-line": b"model m { input 4 }  # " + b"x" * MB10,
    "10mb-name": b"model m { input 4; " + b"a" * MB10 + b" }",
    "10mb-spaces": b"model m { input 4;" + b" " * MB10 + b"dense 2 }",
    "10mb-unexpected-characters": b"model m { input 4; " + b"@" * MB10 + b" }",
    "10mb-digits": b"model m { input 4; dense " + b"9" * MB10 + b" }",
    "many-lines": b"model m {\n input 4\n" + b" dense 4\n" * 5_000 + b"}\n",
    # deep nesting
    "5000-braces": b"{" * 5000,
    "5000-closing-braces": b"}" * 5000,
    "5000-models-unclosed": b"model m {" * 5000,
    "5000-parens": b"(" * 5000,
    "5000-parens-unclosed-in-a-layer": b"model m { input 4; dense " + b"(" * 5000,
    "5000-nested-parens": _nested("(", "1", ")", 5000, "model m { input 4; dense ").encode(),
    "5000-term-sum": ("model m { input 4; dense " + "+".join(["1"] * 5000) + " }").encode(),
    "2000-nested-tuples": _nested("(1, ", "1", ")", 2000, "model m { input 4; reshape ").encode(),
    "400-nested-tuples": _nested("(1, ", "1", ")", 400, "model m { input 4; reshape ").encode(),
    "2000-nested-branches": _nested("add { branch { ", "dense 4", " } }", 2000).encode(),
    "2000-nested-repeats": _nested("repeat 1 { ", "dense 4", " }", 2000).encode(),
    "5000-arrows": b"model m { input 4; dense 2 " + b"-> " * 5000 + b"}",
    "block-calls-200-deep": ("".join(f"block b{i}(x) {{ b{i + 1}(x) }}\n" for i in range(200))
                             + "block b200(x) { dense x }\nmodel m { input 4; b0(3) }\n").encode(),
    # huge numbers
    "20-digit-literal": b"model m { input 4; dense 99999999999999999999 }",
    "5000-digit-literal": b"model m { input 4; dense 1" + b"0" * 5000 + b" }",
    "5000-digit-shape": b"model m { input 1" + b"0" * 5000 + b"x3 }",
    "5000-digit-float": b"model m { input 4; dropout 0." + b"9" * 5000 + b" }",
    "huge-float-exponent": b"model m { input 4; dropout 1e999999 }",
    "computed-overflow": b"block b(x) { dense x*x*x*x*x*x*x*x }\nmodel m { input 4; b(1000000) }",
    "huge-sizes": ("model m { input 1000000000000000x1000000000000000x3; conv2d 1000000000000000 k=3\n"
                   " flatten; dense 1000000000000000 }").encode(),
    "huge-kernel": b"model m { input 28x28x3; conv2d 8 k=1000000000000000 pad=same }",
    # huge and nested repeats
    "repeat-10^15": b"model m { input 4; repeat 1000000000000000 { dense 2 } }",
    "repeat-20-digits": b"model m { input 4; repeat 99999999999999999999 { dense 2 } }",
    "repeat-max-steps-empty": b"model m { input 4; repeat 4000000 { } }",
    "nested-repeats-empty": b"model m { input 4; repeat 1000000 { repeat 1000000 { repeat 1000000 { } } } }",
    "nested-repeats-30-deep": _nested("repeat 1000 { ", "", " }", 30).encode(),
    "repeat-in-block-calls": (b"block b(n) { repeat n { repeat n { } } }\n"
                              b"model m { input 4; repeat 100 { b(1000) } }"),
}


#: What some hostile files must end in: rejected for the right reason, or compiled.
SPECIFIC_OUTCOME = {
    "empty": "W001", "only-a-comment": "W001", "not-utf8": "E004", "utf16": "E004", "latin1-comment": "E004",
    "accents-before-an-invalid-byte": "E004", "nul": "E002", "nuls": "E002", "5000-models-unclosed": "E001",
    "20-digit-literal": "E005",
    "computed-overflow": "E005", "repeat-10^15": "E112", "repeat-20-digits": "E005", "nested-repeats-empty": "E112",
    "nested-repeats-30-deep": "E112", "repeat-in-block-calls": "E112", "block-calls-200-deep": "E112",
    "10mb-unexpected-characters": "E002", "10mb-name": "E101", "crlf-with-error": "E002",
    "lone-cr-with-error": "E002", "tabs-with-error": "E002", "5000-braces": "E001", "5000-parens": "E001",
    "5000-nested-parens": "E112", "5000-term-sum": "E112", "2000-nested-tuples": "E112", "400-nested-tuples": "E112",
    "2000-nested-branches": "E112", "2000-nested-repeats": "E112", "5000-digit-literal": "E005",
    "5000-digit-shape": "E005", "10mb-digits": "E005", "5000-arrows": "E001",
    "bom": "ok", "crlf": "ok", "lone-cr": "ok", "tabs": "ok", "10mb-comment-line": "ok", "10mb-spaces": "ok",
    "many-lines": "ok", "repeat-max-steps-empty": "E112",
}


#: The hostile files that run through a real `nnc` process, under CLI_TIMEOUT and CLI_MEMORY:
#: the large ones, where the process's time and memory are the point, and a few whose bytes
#: reach the real standard streams. The others run through the command's code in this process.
PROCESS_INPUTS = {
    "10mb-comment-line", "10mb-name", "10mb-spaces", "10mb-unexpected-characters", "10mb-digits", "many-lines",
    "huge-sizes", "repeat-10^15", "nested-repeats-empty", "repeat-in-block-calls", "2000-nested-branches",
    "5000-nested-parens", "block-calls-200-deep", "not-utf8", "utf8-surrogate", "nul", "line-separator-in-comment",
}


def test_every_outcome_names_a_specific_input():
    """A misspelt name in SPECIFIC_OUTCOME or PROCESS_INPUTS would leave its input without the check."""
    assert set(SPECIFIC_OUTCOME) <= set(SPECIFIC), sorted(set(SPECIFIC_OUTCOME) - set(SPECIFIC))
    assert PROCESS_INPUTS <= set(SPECIFIC), sorted(PROCESS_INPUTS - set(SPECIFIC))


@pytest.mark.parametrize("name", SPECIFIC)
def test_specific_input_in_process(scratch, name):
    data = SPECIFIC[name]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or text.startswith("\ufeff"):  # as nnc reads a file: decoded, BOM skipped
        compilation = compile_bytes_checked(data, scratch / f"{name}.nn", SPECIFIC_TIME_LIMIT)
    else:
        compilation = compile_checked(text, f"{name}.nn", SPECIFIC_TIME_LIMIT)
    outcome = SPECIFIC_OUTCOME.get(name)
    codes = [d.code for d in compilation.diagnostics]
    if outcome == "ok":
        assert compilation.ok, codes
    elif outcome is not None:
        assert outcome in codes, codes


@pytest.mark.parametrize("name", SPECIFIC)
def test_specific_input_through_the_cli(scratch, name):
    path = scratch / f"{name}-cli.nn"
    path.write_bytes(SPECIFIC[name])
    run_cli_checked(path, process=name in PROCESS_INPUTS)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_specific_inputs_in_other_formats(scratch, fmt):
    for name in ("nul", "crlf-with-error", "5000-models-unclosed", "repeat-10^15", "huge-sizes"):
        path = scratch / f"{name}-{fmt}.nn"
        path.write_bytes(SPECIFIC[name])
        run_cli_checked(path, "--format", fmt, process=False)


# --- a sample of the generated inputs through the command line ------------------------------------------


@settings(CLI_SAMPLE, max_examples=25)
@given(index=st.integers(0, len(EXAMPLE_BYTES) - 1), ops=MUTATIONS)
def test_cli_on_mutated_examples(scratch, index, ops):
    path = scratch / f"mutated-{EXAMPLE_FILES[index].name}"
    path.write_bytes(mutate(EXAMPLE_BYTES[index], ops))
    run_cli_checked(path, process=False)


@settings(CLI_SAMPLE, max_examples=25)
@given(text=st.one_of(networks(), coherent_networks()))
def test_cli_on_structured_random_networks(scratch, text):
    path = scratch / "network.nn"
    path.write_text(text, encoding="utf-8")
    run_cli_checked(path, process=False)


@CLI_SAMPLE
@given(data=st.binary(max_size=500))
def test_cli_on_random_bytes(scratch, data):
    path = scratch / "random.nn"
    path.write_bytes(data)
    proc = run_cli_checked(path, timeout=30)
    if proc.returncode == 0:
        assert not any("error[" in line for line in proc.stderr.decode("utf-8", "replace").splitlines())


def test_error_status_agrees_with_the_diagnostics(scratch):
    """Exit status 1 exactly when the in-process compilation has an error (the CLI adds nothing)."""
    for name in ("empty", "nul", "crlf", "bom", "20-digit-literal", "only-a-comment"):
        path = scratch / f"{name}-status.nn"
        path.write_bytes(SPECIFIC[name])
        compilation = compile_path(path)
        failed = compilation.program is None or any(d.severity == ERROR for d in compilation.diagnostics)
        assert run_cli_checked(path).returncode == int(failed), name
