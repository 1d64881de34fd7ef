"""What the PyTorch and Keras exporters share: the walk over a model and the checks
and refusals (`Emitter`, the base of both), a small code builder, names that are
valid Python, text from the input written as Python source (string literals,
docstrings, comments), the geometry of padding, and the error for a construct a
framework cannot express.

Text that comes from the input (the file's path, model, block, branch and layer
names, a statement quoted from the source) reaches the generated code only
through `string_literal`, `docstring`, `comment` and `Names.take`, so that no
name or path can end a string or a comment early, make the file a syntax error
or a warning, or run anything when the module is imported.

Nothing here imports torch or keras: only the generated code does.
"""

from __future__ import annotations

import builtins
import importlib
import keyword
import re
from contextlib import contextmanager
from typing import Iterable, Optional

import attrs

from .. import ir
from ..layers import kind_of
from ..report import Counts, ModelReport, Options
from ..source import Span


@attrs.define
class Export:
    """The generated file and what was generated for each model (the framework's ModelExport)."""

    code: str
    models: list


class Emitter:
    """What an exporter knows while it writes one file, and what every exporter does alike.

    The base class walks a model (layers, block calls, branches and their joins, labelled
    groups), checks what no framework can export, and turns a construct the framework cannot
    express into a refusal (E401, `unsupported`). A framework's subclass writes the code: one
    method `_k_<export_as>` per layer kind (`LayerKind.export_as`, which kinds of one class
    share), and the hooks `layer`, `joined`, `block`, `labelled`, `write` and `variables`.
    A kind without a method is refused, never a crash.
    """

    #: the framework's name, as refusals give it
    framework = ""
    #: the counting convention the framework's own counts follow (docs/conventions.md): the
    #: docstrings quote the parameters as the framework counts them, whatever the compilation's
    convention = ""

    def __init__(self, program: ir.Program, source_lines: Optional[list] = None, file_name: str = ""):
        self.program = program
        self.source_lines = source_lines or []
        self.file_name = file_name

    def render(self, models: list) -> Export:
        raise NotImplementedError

    # -- refusals and dispatch -------------------------------------------------------
    def unsupported(self, node: ir.LayerNode, what: str, *notes: str) -> ExportError:
        """The refusal of a layer the framework has no exact equivalent for (to raise)."""
        return refuse(self.framework, node, what, *notes)

    def kind_method(self, node: ir.LayerNode):
        """The method that writes `node`'s kind; a refusal when the exporter has none."""
        kind = kind_of(node)
        method = getattr(self, f"_k_{kind.export_as or kind.name}", None)
        if method is None:
            raise self.unsupported(node, "nnc does not know how to export this layer kind")
        return method

    # -- shared checks ------------------------------------------------------------------
    def check_model(self, model: ir.Model) -> bool:
        """Refuses a model nnc could not compile or whose input some layers read as token ids
        and others as numbers; returns whether the input is token ids."""
        check_exportable(model, self.framework)
        fed = [node for node in model.layers if -1 in node.inputs]
        ids = any(kind_of(node).takes_ids for node in fed)
        numbers = next((node for node in fed if not kind_of(node).takes_ids), None)
        if ids and numbers is not None:
            raise self.unsupported(numbers, "the input feeds an embedding (token ids) and this layer (numbers)")
        return ids

    @staticmethod
    def macs_text(totals: Counts, per_step: str) -> str:
        """'MACs: 1,234 (one step ...)', or 'MACs: unknown (...)' when a size is unknown until run time."""
        if totals.macs is None:
            return "MACs: unknown (they depend on a size unknown until run time)"
        return f"MACs: {totals.macs:,}{per_step}"

    def totals(self, model: ir.Model) -> Counts:
        """The model's totals as the target framework counts them (its convention)."""
        return ModelReport(model, Options(convention=self.convention)).totals

    def statement(self, group: ir.Group) -> str:
        """A block call as written in the .nn file ('' when unknown or long)."""
        return statement_text(self.source_lines, group.span)

    # -- the walk -------------------------------------------------------------------------
    def walk(self, children: list, cur, dst: str):
        """Writes `children` in order, starting from the tensor `cur` (whatever the subclass
        uses for one); returns the tensor they leave, held in the variable `dst`."""
        index = 0
        while index < len(children):
            child = children[index]
            if isinstance(child, ir.Group) and child.kind == "branch":
                branches, node, index = merge_children(children, index)
                cur = self.join(branches, node, cur, dst)
                continue
            index += 1
            if isinstance(child, ir.LayerNode):
                cur = self.layer(child, cur, dst)
            elif child.kind == "block":
                cur = self.block(child, cur, dst)
            else:  # a labelled concat, add or repeat
                cur = self.labelled(child, cur, dst)
        return cur

    def join(self, branches: list, node: ir.LayerNode, cur, dst: str):
        """Each branch from `cur` into a variable named after it, then the layer joining them."""
        outputs, names = [], []
        for branch in branches:
            var = self.variables.take(branch.name)
            names.append(var)
            with self.branch(branch):
                self.write(comment(f"branch {branch.name}" + ("" if branch.children else ": the input itself")))
                outputs.append(self.walk(branch.children, cur, var))
        result = self.joined(node, outputs, dst)
        self.variables.used -= set(names)  # the branches' variables are free again
        return result

    @contextmanager
    def branch(self, branch: ir.Group):
        """Where the layers of `branch` go while it is written."""
        yield

    # -- what a framework writes -------------------------------------------------------------
    @property
    def variables(self) -> Names:
        """The variable names of the code being written."""
        raise NotImplementedError

    def write(self, text: str) -> None:
        """A line of the code being written."""
        raise NotImplementedError

    def layer(self, node: ir.LayerNode, cur, dst: str):
        """The code computing one layer (its kind's method says what) from `cur` into `dst`."""
        raise NotImplementedError

    def joined(self, node: ir.LayerNode, outputs: list, dst: str):
        """The layer that joins the branches' `outputs` (a concat or add)."""
        raise NotImplementedError

    def block(self, group: ir.Group, cur, dst: str):
        """A block call."""
        return self.labelled(group, cur, dst)

    def labelled(self, group: ir.Group, cur, dst: str):
        """A labelled concat, add or repeat: its layers in order."""
        return self.walk(group.children, cur, dst)


def export_with(emitter: type, program: ir.Program, names: Optional[list], **context) -> Export:
    """Code for the models of `program` (all of them, or those named); raises ExportError."""
    models = list(program.models) if not names else [program.model(name) for name in names]
    return emitter(program, **context).render(models)


def exporter(target: str):
    """The module that exports to `target` ("pytorch" or "keras"): its export() writes the code."""
    return importlib.import_module(f"{__package__}.{target}")


class ExportError(Exception):
    """A construct the target framework cannot express; `span` locates it in the .nn file."""

    def __init__(self, message: str, span: Optional[Span] = None, notes: tuple = ()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes = tuple(notes)

    def diagnostic(self):
        """The located E401 nnc reports for it."""
        from ..diagnostics import Diagnostic
        from ..source import NOWHERE

        return Diagnostic("E401", self.message, self.span or NOWHERE, self.notes)


def refuse(framework: str, node: ir.LayerNode, what: str, *notes: str) -> ExportError:
    """The error for a layer `framework` has no exact equivalent for."""
    where = "/".join((*node.path, node.name))
    return ExportError(f"cannot export to {framework}: {where} ({node.kind}): {what}", node.span, notes)


# --- the code builder -----------------------------------------------------------

#: What ends a line of Python source (or cannot be in one) wherever it appears.
_LINE_BREAKING = re.compile("[\n\r\x00]")


class Code:
    """Lines of Python with an indentation level: `line`, `blank`, `block`."""

    def __init__(self, indent: str = "    "):
        self.lines: list[str] = []
        self.level = 0
        self.indent = indent

    def line(self, text: str = "") -> None:
        if _LINE_BREAKING.search(text):  # a bug of the exporter: input text must go through the helpers below
            raise AssertionError(f"a generated line holds a line break or NUL: {text!r}")
        self.lines.append(f"{self.indent * self.level}{text}" if text else "")

    def lines_of(self, text: str) -> None:
        for part in text.split("\n"):
            self.line(part)

    def blank(self, count: int = 1) -> None:
        """Up to `count` empty lines (never more in a row, never at the start)."""
        trailing = 0
        for existing in reversed(self.lines):
            if existing:
                break
            trailing += 1
        if self.lines:
            self.lines.extend([""] * max(0, count - trailing))

    @contextmanager
    def block(self, header: str):
        self.line(header)
        self.level += 1
        try:
            yield self
        finally:
            self.level -= 1

    def extend(self, other: "Code") -> None:
        for text in other.lines:
            self.line(text) if text else self.lines.append("")

    def text(self) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


# --- text from the input as Python source -------------------------------------------

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "'": "\\'"}


def _escape_character(character: str) -> str:
    known = _ESCAPES.get(character)
    if known is not None:
        return known
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape(text: str, quote: str = "") -> str:
    """`text` with backslashes, `quote` and every character that is not printable (line ends,
    tabs, NUL, form feeds, U+2028, bidirectional controls, lone surrogates, ...) written as
    Python escapes: what a string literal or a comment of generated code may hold as is."""
    if text.isprintable() and "\\" not in text and (not quote or quote not in text):
        return text
    return "".join(_escape_character(c) if c == "\\" or c == quote or not c.isprintable() else c for c in text)


def string_literal(text: str) -> str:
    """A double-quoted Python string literal whose value is `text`."""
    quote = '"'
    return quote + escape(str(text), quote) + quote


def docstring(*lines: str) -> list[str]:
    """The source lines of a docstring holding `lines` (each one line of text, escaped): one
    line closed on the same line, or several with the closing quotes on a line of their own."""
    body = [escape(line, '"') for line in lines]
    if len(body) == 1:
        return [f'"""{body[0]}"""']
    return [f'"""{body[0]}', *body[1:], '"""']


def comment(text: str) -> str:
    """`# text`, escaped: nothing in `text` can end the comment's line."""
    return "# " + escape(text)


def statement_text(source_lines: list, span, limit: int = 100) -> str:
    """The statement at `span` as written (its label and call, without the expectation or
    comments; lines joined by a line continuation or inside parentheses read as one line),
    or '' when it is unknown or longer than `limit` characters."""
    if span is None or not (1 <= span.line <= span.end_line <= len(source_lines)):
        return ""
    parts = []
    for number in range(span.line, span.end_line + 1):
        text = str(source_lines[number - 1])
        if number == span.end_line:
            text = text[:max(span.end_column - 1, 0)]
        if number == span.line:
            text = text[max(span.column - 1, 0):]
        text = text.split("#")[0]
        if number < span.end_line:
            text = re.sub(r"\\[ \t]*\r?$", "", text)  # the line continuation
        parts.append(text.strip())
    text = " ".join(part for part in parts if part).split("->")[0].strip()
    return text if len(text) <= limit else ""


# --- names --------------------------------------------------------------------------

PYTHON_RESERVED = frozenset(keyword.kwlist) | frozenset(getattr(keyword, "softkwlist", ())) | {"self"}
#: What a name at the module level of a generated file must not hide (besides PYTHON_RESERVED).
BUILTIN_NAMES = frozenset(name for name in dir(builtins) if not name.startswith("_"))


def camel(name: str) -> str:
    """inception_3a -> Inception3a, layer1_0 -> Layer1_0, mnist_autoencoder -> MnistAutoencoder."""
    parts = [p for p in name.split("_") if p]
    if not parts:
        return "Model"
    out = parts[0][:1].upper() + parts[0][1:]
    for part in parts[1:]:
        if out[-1].isdigit() and part[0].isdigit():
            out += "_"
        out += part[:1].upper() + part[1:]
    return out


class Names:
    """Allocates unique Python names, avoiding reserved ones: `x`, `x_2`, ..."""

    def __init__(self, reserved: Iterable[str] = (), identifiers: bool = True):
        # identifiers=False: any text is a name (Keras layer names), only uniqueness matters
        self.identifiers = identifiers
        self.reserved = set(reserved) | set(PYTHON_RESERVED) if identifiers else set(reserved)
        self.used = set(self.reserved)

    def take(self, wanted: str) -> str:
        """`wanted`, or `wanted_` when Python or the framework reserves it, or `wanted_2`, ... when taken.

        An identifier keeps ASCII letters, digits and underscores only (others become `_`),
        does not start with a digit, and starts with one underscore at most: Python mangles
        `__name` inside a class body, and `__call__` or `__init__` are nn.Module's own.
        """
        base = str(wanted)
        if self.identifiers:
            base = re.sub(r"[^0-9A-Za-z_]", "_", base) or "_"
            if base.startswith("__"):
                base = "_" + base.lstrip("_")
            if base[0].isdigit():
                base = "_" + base
        if base in self.reserved:
            base += "_"
        candidate, number = base, 1
        while candidate in self.used:
            number += 1
            candidate = f"{base}_{number}"
        if self.identifiers and not (candidate.isidentifier() and not keyword.iskeyword(candidate)):
            raise AssertionError(f"not a Python name: {candidate!r}")
        self.used.add(candidate)
        return candidate


# --- values as Python source ------------------------------------------------------


def py(value) -> str:
    """A Python literal: 3, (3, 5), 'same', True, 0.5."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else f'float("{value}")'
    if isinstance(value, (tuple, list)):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return str(value)


def dims(value) -> object:
    """(3, 3) -> 3, (3, 5) stays; an int stays."""
    if isinstance(value, tuple) and value and len(set(value)) == 1:
        return value[0]
    return value


def call(function: str, *positional, **keywords) -> str:
    """`function(a, b, key=value)` with keywords whose value is not None."""
    parts = [py(v) if not isinstance(v, Raw) else v.text for v in positional]
    for key, value in keywords.items():
        if value is None:
            continue
        parts.append(f"{key}={value.text if isinstance(value, Raw) else py(value)}")
    return f"{function}({', '.join(parts)})"


class Raw:
    """Source text passed through `call` as is."""

    def __init__(self, text: str):
        self.text = text


# --- geometry shared by both exporters ---------------------------------------------


def window_pads(node: ir.LayerNode, framework: str) -> list[tuple[int, int]]:
    """Padding (before, after) per spatial axis of a convolution or pooling window, as inference
    resolved it; a refusal where it depends on a size unknown until run time."""
    window = node.window
    for axis, (before, _) in enumerate(window.padding):
        if before is None:
            raise refuse(framework, node, f"pad=same with stride {window.stride[axis]} on an axis of unknown "
                                          "size: the padding depends on the size",
                         "give the input a known size, or use pad=N")
    return list(window.padding)


def keras_transpose_output_padding(node: ir.LayerNode) -> Optional[tuple]:
    """The `output_padding` the Keras export gives a transposed convolution (None: Keras' default).

    Keras with an output_padding gives (n - 1)*s + k - 2*pad + output_padding, pad = k//2
    for 'same' and 0 for 'valid' (pad=N is exported as 'valid', then cropped); nnc gives
    valid (n - 1)*s + k (n*s when k < s), same n*s, N (n - 1)*s - 2N + k, plus its own
    output_padding. None of these depend on n.
    """
    a = node.args
    if a["pad"] in ("valid", "same") and not any(a["output_padding"]):
        return None
    values = []
    for k, s, extra in zip(a["k"], a["s"], a["output_padding"]):
        if a["pad"] == "valid":
            values.append(extra + (s - k if k < s else 0))
        elif a["pad"] == "same":
            values.append(s - k + 2 * (k // 2) + extra)
        else:
            values.append(extra)
    return tuple(values)


def transpose_crops(node: ir.LayerNode, axis: int) -> tuple[int, int]:
    """Rows (columns) a transposed convolution removes from the start and the end of its full
    output of (n - 1)*s + k, as Keras places them (negative: added at the end).

    Keras computes it as JAX does (keras/src/backend/common/backend_utils.py): 'valid' keeps
    the full output and adds output_padding at the end; 'same' pads s + k - 2 in total
    (k + k%2 - 2 + output_padding when one is given), the larger half before. pad=N is
    PyTorch's: N from each side, output_padding added at the end.
    """
    a = node.args
    k, s = a["k"][axis], a["s"][axis]
    pad = a["pad"]
    if pad not in ("valid", "same"):
        crop = pad if isinstance(pad, int) else pad[axis]
        return crop, crop - a["output_padding"][axis]
    given = keras_transpose_output_padding(node)
    extra = None if given is None else given[axis]
    if pad == "valid":
        extra = max(k, s) - k if extra is None else extra
        before, after = k - 1, k - 1 + extra
    else:
        total = s + k - 2 if extra is None else k + k % 2 - 2 + extra
        before = min(total // 2 + total % 2, k - 1)
        after = total - before
    return k - 1 - before, k - 1 - after


def merge_children(children: list, start: int) -> tuple[list, Optional[ir.LayerNode], int]:
    """The branches starting at children[start] and the concat/add node that joins them."""
    branches = []
    index = start
    while index < len(children) and isinstance(children[index], ir.Group) and children[index].kind == "branch":
        branches.append(children[index])
        index += 1
    node = children[index] if index < len(children) else None
    if not (isinstance(node, ir.LayerNode) and kind_of(node).joins_branches):
        raise AssertionError("branches must be followed by their concat/add")
    return branches, node, index + 1


def activation_of(node: ir.LayerNode) -> str:
    """The trailing activation word of a layer, '' for none (linear is none)."""
    word = node.activation or ""
    return "" if word == "linear" else word


def check_exportable(model: ir.Model, framework: str) -> None:
    if not model.ok or model.input_shape is None:
        raise ExportError(f"cannot export to {framework}: model '{model.name}' has errors", model.span)
    for node in model.layers:
        if node.output_shape is None:
            raise refuse(framework, node, "its output shape is unknown")
