"""The nnc language server: diagnostics, hover, go to definition, completion and
document symbols for `.nn` files.

The features are plain functions of a document's text (and its compilation)
that return :mod:`lsprotocol` values, so they are tested without a client;
:func:`create_server` wires them into a pygls server (imported only there).

Positions: the compiler's spans are 1-based lines and columns counted in
characters, ends exclusive; LSP positions are 0-based and count code units of
the negotiated encoding (UTF-16 unless the client offers another). A
:class:`Lines` object converts between the two for one text.
"""

from __future__ import annotations

import logging
import re
from typing import Iterable, Optional

from lsprotocol import types as lsp

from . import __version__, ast, ir, layers
from .diagnostics import Diagnostic, DiagnosticBag
from .layers.base import ACTIVATIONS
from .report import shape_with_batch
from .source import Source, Span

logger = logging.getLogger("nnlang.lsp")

CONVENTIONS = ("keras", "pytorch", "textbook")
SEVERITIES = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "note": lsp.DiagnosticSeverity.Information,
}
#: Shown for a statement used by many calls: this many calls in full, the rest counted.
MAX_CALLS_SHOWN = 4
KEYWORDS_TOP = ("model", "block", "compare")
KEYWORDS_BODY = ("concat", "add", "branch", "repeat")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT = re.compile(r"#[^\n]*")
_BLOCK_DEF = re.compile(r"^[ \t]*block[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(([^)]*)\)?", re.M)
_MODEL_DEF = re.compile(r"^[ \t]*model[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.M)
_LABEL = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*:(?!=)\s*")


# --- positions ------------------------------------------------------------------


def _units(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == "utf-8":
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    if encoding == "utf-32":
        return 1
    return 2 if code > 0xFFFF else 1


class Lines:
    """One text split at '\\n' (as the parser counts lines), with position conversions."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.lines = text.split("\n")
        self.encoding = str(getattr(encoding, "value", encoding) or "utf-16").lower()
        self._starts = []
        offset = 0
        for line in self.lines:
            self._starts.append(offset)
            offset += len(line) + 1

    def line(self, index: int) -> str:
        """Line `index` (0-based), without its end of line; '' outside the text."""
        if 0 <= index < len(self.lines):
            return self.lines[index].rstrip("\r")
        return ""

    def to_client(self, line: int, char: int) -> lsp.Position:
        """0-based line and character index -> an LSP position (clamped to the text)."""
        line = max(0, min(line, len(self.lines) - 1))
        text = self.line(line)
        char = max(0, min(char, len(text)))
        if self.encoding in ("utf-32",) or text.isascii():
            return lsp.Position(line=line, character=char)
        return lsp.Position(line=line, character=sum(_units(c, self.encoding) for c in text[:char]))

    def from_client(self, position: lsp.Position) -> tuple[int, int]:
        """An LSP position -> 0-based line and character index (clamped to the text)."""
        line = max(0, min(position.line, len(self.lines) - 1))
        text = self.line(line)
        if self.encoding == "utf-32" or text.isascii():
            return line, max(0, min(position.character, len(text)))
        units = 0
        for index, char in enumerate(text):
            if units >= position.character:
                return line, index
            units += _units(char, self.encoding)
        return line, len(text)

    def offset(self, line: int, char: int) -> int:
        """Index in the text of a 0-based line and character."""
        line = max(0, min(line, len(self.lines) - 1))
        return self._starts[line] + max(0, min(char, len(self.lines[line])))

    def at_offset(self, offset: int) -> tuple[int, int]:
        """0-based line and character of a text index."""
        import bisect

        line = max(0, bisect.bisect_right(self._starts, offset) - 1)
        return line, offset - self._starts[line]

    def range(self, span: Optional[Span]) -> lsp.Range:
        """A compiler span (1-based, end exclusive; line 0 = nowhere) as an LSP range."""
        if span is None or not span.line:
            start = lsp.Position(line=0, character=0)
            return lsp.Range(start=start, end=start)
        start = self.to_client(span.line - 1, span.column - 1)
        end_line = span.end_line or span.line
        end_column = span.end_column or span.column
        end = self.to_client(end_line - 1, end_column - 1)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return lsp.Range(start=start, end=end)

    def offset_range(self, start: int, end: int) -> lsp.Range:
        return lsp.Range(start=self.to_client(*self.at_offset(start)), end=self.to_client(*self.at_offset(end)))


def _contains(span: Optional[Span], line: int, column: int) -> bool:
    """Whether 1-based (line, column) lies in span, its end included (a cursor just after a word)."""
    if span is None or not span.line:
        return False
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


# --- analysis of one text ---------------------------------------------------------


class Analysis:
    """One version of a document: its compilation, syntax tree and indexes from spans to IR."""

    def __init__(self, text: str, name: str = "<input>", convention: str = "keras"):
        from .driver import compile_text

        if text.startswith("\ufeff"):  # a byte-order mark: a space keeps every column in place
            text = " " + text[1:]
        self.text = text
        self.name = name
        self.convention = convention
        self.program: Optional[ir.Program] = None
        self._tree = None
        self._parsed = False
        try:
            compilation = compile_text(text, name, convention)
            self.program = compilation.program
            self.diagnostics: list[Diagnostic] = list(compilation.diagnostics)
        except Exception as error:  # noqa: BLE001 - a compiler bug must not stop the server
            logger.exception("nnc failed on %s", name)
            bag = DiagnosticBag()
            bag.add("E900", f"internal compiler error ({type(error).__name__}: {error})"[:300],
                    Span(1, 1, 1, 1), "please report this bug with the input file")
            self.diagnostics = list(bag)
        self.layers: dict[Span, list[tuple[ir.Model, ir.LayerNode]]] = {}
        self.groups: dict[Span, list[tuple[ir.Model, ir.Group]]] = {}
        for model in self.program.models if self.program else ():
            for node in model.layers:
                if node.span is not None:
                    self.layers.setdefault(node.span, []).append((model, node))
            for group in model.groups():
                if group.span is not None:
                    self.groups.setdefault(group.span, []).append((model, group))

    @property
    def tree(self) -> Optional[ast.File]:
        """The syntax tree, or None when the text does not parse (parsed on first use)."""
        if not self._parsed:
            self._parsed = True
            from .parser import parse

            try:
                self._tree = parse(Source(self.text, self.name), DiagnosticBag())
            except Exception:  # noqa: BLE001
                logger.exception("parsing %s failed", self.name)
                self._tree = None
        return self._tree

    def model(self, name: str) -> Optional[ir.Model]:
        return self.program.model(name) if self.program else None

    def block_names(self) -> dict[str, ast.BlockDef]:
        tree = self.tree
        if tree is None:
            return {}
        found: dict[str, ast.BlockDef] = {}
        for block in tree.blocks:
            found.setdefault(block.name, block)
        return found


# --- diagnostics --------------------------------------------------------------------


def to_lsp_diagnostic(diagnostic: Diagnostic, lines: Lines) -> lsp.Diagnostic:
    message = diagnostic.message
    if diagnostic.notes:
        message += "\n" + "\n".join(f"note: {note}" for note in diagnostic.notes)
    return lsp.Diagnostic(
        range=lines.range(diagnostic.span),
        message=message,
        severity=SEVERITIES.get(diagnostic.severity, lsp.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source="nnc",
    )


def diagnostics(analysis: Analysis, encoding: str = "utf-16") -> list[lsp.Diagnostic]:
    lines = Lines(analysis.text, encoding)
    return [to_lsp_diagnostic(d, lines) for d in analysis.diagnostics]


# --- finding what is under the cursor --------------------------------------------------


def _chain(tree: ast.File, line: int, column: int) -> list:
    """The nodes containing 1-based (line, column), outermost first: item, statements, branches."""
    for item in tree.items:
        if isinstance(item, (ast.Model, ast.BlockDef)) and _contains(item.span, line, column):
            return [item, *_chain_body(item.body, line, column)]
        if isinstance(item, ast.Compare) and _contains(item.span, line, column):
            return [item]
    return []


def _chain_body(body, line: int, column: int) -> list:
    for stmt in body:
        if not _contains(stmt.span, line, column):
            continue
        if isinstance(stmt, ast.Merge):
            for branch in stmt.branches:
                if _contains(branch.span, line, column):
                    return [stmt, branch, *_chain_body(branch.body, line, column)]
        elif isinstance(stmt, ast.Repeat):
            return [stmt, *_chain_body(stmt.body, line, column)]
        return [stmt]
    return []


# --- hover ------------------------------------------------------------------------


def _num(value: int) -> str:
    return f"{value:,}"


def _shape(shape) -> str:
    return f"`{shape_with_batch(shape, None)}`" if shape is not None else "unknown (an error leaves it unknown)"


def _where(model: ir.Model, path: tuple, name: str = "") -> str:
    return " › ".join([model.name, *path, *([name] if name else [])])


def _params_line(trainable: int, non_trainable: int) -> str:
    return f"{_num(trainable + non_trainable)} (trainable {_num(trainable)}, non-trainable {_num(non_trainable)})"


def _worked(value) -> str:
    """`formula = 1,234`, or the bare number when there is no formula."""
    return _num(value.value) if value.is_literal else f"`{value.worked()}`"


def _layer_details(node: ir.LayerNode) -> list[str]:
    """The full description of one compiled layer: shape, parameters, MACs and their formulas."""
    out = [f"- output shape: {_shape(node.output_shape)}"]
    if node.input_shape is not None:
        out[0] += f" from {_shape(node.input_shape)}"
    sizes = []
    for dim in node.dims or ():
        if dim is not None and not dim.is_literal and dim.worked() not in sizes:
            sizes.append(dim.worked())
    if sizes:
        out.append("- output size: " + "; ".join(f"`{s}`" for s in sizes))
    if node.output_shape is None:
        return out
    out.append(f"- params: {_params_line(node.trainable.value, node.non_trainable.value)}")
    if not node.trainable.is_literal:
        out.append(f"  - trainable: `{node.trainable.worked()}`")
    if not node.non_trainable.is_literal:
        out.append(f"  - non-trainable: `{node.non_trainable.worked()}`")
    out.append(f"- MACs: {_worked(node.macs)}")
    if node.pool_ops.value:
        out.append(f"- pool ops: {_worked(node.pool_ops)}")
    geometry = [f"{key} {value}" for key, value in (("kernel", node.kernel), ("stride", node.stride),
                                                    ("padding", node.padding)) if value]
    if node.activation:
        geometry.append(f"activation {node.activation}")
    if geometry:
        out.append("- " + ", ".join(geometry))
    return out


def _layer_brief(model: ir.Model, node: ir.LayerNode) -> str:
    if node.output_shape is None:
        return f"- `{_where(model, node.path, node.name)}`: output unknown"
    return (f"- `{_where(model, node.path, node.name)}`: {_shape(node.output_shape)}, params {_num(node.params)}, "
            f"MACs {_num(node.macs.value)}")


def _same_numbers(nodes) -> bool:
    keys = {(n.output_shape, n.input_shape, n.trainable.text, n.non_trainable.text, n.macs.text, n.trainable.value,
             n.non_trainable.value, n.macs.value) for _, n in nodes}
    return len(keys) == 1


def hover_layer(entries: list[tuple[ir.Model, ir.LayerNode]], in_block: Optional[str]) -> str:
    """Markdown for a layer statement compiled once (in a model) or once per call (in a block)."""
    model, first = entries[0]
    if len(entries) == 1:
        where = f"block `{in_block}`, called once as " if in_block else ""
        head = f"**{first.name}** · `{first.kind}` · {where}`{_where(model, first.path)}`"
        return "\n".join([head, "", *_layer_details(first)])
    count = len(entries)
    # in a block, a statement runs once per call; in a model, once per repetition of a repeat
    where, runs = (f"in block `{in_block}`", "calls") if in_block else ("repeated", "times")
    if _same_numbers(entries):
        head = f"**{first.kind}** {where} · {count} {runs}, the same numbers each time"
        names = [f"`{_where(m, n.path, n.name)}`" for m, n in entries[:MAX_CALLS_SHOWN]]
        more = f" and {count - MAX_CALLS_SHOWN} more" if count > MAX_CALLS_SHOWN else ""
        return "\n".join([head, "", *_layer_details(first), "", "as: " + ", ".join(names) + more])
    head = f"**{first.kind}** {where} · {count} {runs}; the first, `{_where(model, first.path, first.name)}`:"
    shown = entries if count <= MAX_CALLS_SHOWN + 1 else entries[:MAX_CALLS_SHOWN]
    out = [head, "", *_layer_details(first), "", "each time:" if len(shown) == count else
           f"the first {len(shown)} of {count}:"]
    out += [_layer_brief(m, n) for m, n in shown]
    if len(shown) < count:
        out.append(f"- … and {count - len(shown)} more {'calls' if in_block else ''}".rstrip())
    return "\n".join(out)


def _group_input(group: ir.Group):
    first = next(group.layers(), None)
    return first.input_shape if first is not None else None


def _group_lines(model: ir.Model, group: ir.Group) -> list[str]:
    totals = group.totals()
    out = [f"- output shape: {_shape(group.output_shape)}"]
    entry = _group_input(group)
    if entry is not None:
        out[0] += f" from {_shape(entry)}"
    out.append(f"- params: {_params_line(totals.trainable, totals.non_trainable)}")
    out.append(f"- MACs: {_num(totals.macs)}")
    if totals.pool_ops:
        out.append(f"- pool ops: {_num(totals.pool_ops)}")
    out.append(f"- {totals.layers} layer{'s' if totals.layers != 1 else ''}")
    return out


def hover_groups(entries: list[tuple[ir.Model, ir.Group]], what: str) -> str:
    """Markdown for a block call, a branch or a labelled join: totals of the layers inside."""
    model, first = entries[0]
    title = f"call of block `{first.block}`" if first.kind == "block" else what
    if len(entries) == 1:
        return "\n".join([f"**{first.name}** · {title} · `{_where(model, first.path[:-1])}`", "",
                          *_group_lines(model, first)])
    count = len(entries)
    out = [f"**{title}** · {count} instances; the first, `{_where(model, first.path)}`:", "",
           *_group_lines(model, first), ""]
    shown = entries if count <= MAX_CALLS_SHOWN + 1 else entries[:MAX_CALLS_SHOWN]
    out.append("every instance:" if len(shown) == count else f"the first {len(shown)} of {count}:")
    for m, group in shown:
        totals = group.totals()
        out.append(f"- `{_where(m, group.path)}`: {_shape(group.output_shape)}, params {_num(totals.params)}, "
                   f"MACs {_num(totals.macs)}")
    if len(shown) < count:
        out.append(f"- … and {count - len(shown)} more")
    return "\n".join(out)


def hover_model(model: ir.Model) -> str:
    totals = model.totals()
    out = [f"**model {model.name}**", "",
           f"- input {_shape(model.input_shape)} → output {_shape(model.output_shape)}",
           f"- params: {_params_line(totals.trainable, totals.non_trainable)}",
           f"- MACs: {_num(totals.macs)}",
           f"- {totals.layers} layers"]
    if not model.ok:
        out.append("- incomplete: the model has errors")
    return "\n".join(out)


def hover_block_def(analysis: Analysis, block: ast.BlockDef) -> str:
    params = ", ".join(p.name for p in block.params)
    calls = []
    for entries in analysis.groups.values():
        calls += [(m, g) for m, g in entries if g.kind == "block" and g.block == block.name]
    head = f"**block {block.name}({params})**"
    if not calls:
        return "\n".join([head, "", "not called by any model"])
    model, first = calls[0]
    if len(calls) == 1:
        return "\n".join([head, "", f"called once, as `{_where(model, first.path)}`:", "",
                          *_group_lines(model, first)])
    shown = calls if len(calls) <= MAX_CALLS_SHOWN + 1 else calls[:MAX_CALLS_SHOWN]
    out = [head, "", f"called {len(calls)} times; the first, `{_where(model, first.path)}`:", "",
           *_group_lines(model, first), "", "each call:" if len(shown) == len(calls) else
           f"the first {len(shown)} of {len(calls)} calls:"]
    for m, group in shown:
        totals = group.totals()
        out.append(f"- `{_where(m, group.path)}`: {_shape(group.output_shape)}, params {_num(totals.params)}, "
                   f"MACs {_num(totals.macs)}")
    if len(shown) < len(calls):
        out.append(f"- … and {len(calls) - len(shown)} more calls")
    return "\n".join(out)


def hover(analysis: Analysis, position: lsp.Position, encoding: str = "utf-16") -> Optional[lsp.Hover]:
    """What the statement under the cursor computes, as Markdown."""
    tree = analysis.tree
    if tree is None or analysis.program is None:
        return None
    lines = Lines(analysis.text, encoding)
    line, char = lines.from_client(position)
    if "#" in lines.line(line)[:char]:
        return None
    chain = _chain(tree, line + 1, char + 1)
    if not chain:
        return None
    item, innermost = chain[0], chain[-1]
    in_block = item.name if isinstance(item, ast.BlockDef) else None
    text: Optional[str] = None
    span = getattr(innermost, "span", None)
    if isinstance(innermost, (ast.Model, ast.BlockDef)) and not _contains(innermost.name_span, line + 1, char + 1):
        return None
    if isinstance(innermost, ast.Model):
        model = analysis.model(innermost.name)
        text, span = (hover_model(model) if model is not None else None), innermost.name_span
    elif isinstance(innermost, ast.BlockDef):
        text, span = hover_block_def(analysis, innermost), innermost.name_span
    elif isinstance(innermost, ast.Layer):
        text = _hover_layer_stmt(analysis, item, innermost, in_block)
    elif isinstance(innermost, ast.Merge):
        text = _hover_merge(analysis, innermost, in_block)
    elif isinstance(innermost, ast.Branch):
        entries = analysis.groups.get(innermost.span, [])
        text = hover_groups(entries, f"branch of `{chain[-2].mode}`") if entries else None
    elif isinstance(innermost, ast.Repeat):
        entries = analysis.groups.get(innermost.span, [])
        text = hover_groups(entries, "repeat") if entries else None
    if not text:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text), range=lines.range(span))


def _hover_layer_stmt(analysis: Analysis, item, stmt: ast.Layer, in_block: Optional[str]) -> Optional[str]:
    if stmt.kind in analysis.block_names():
        entries = [(m, g) for m, g in analysis.groups.get(stmt.span, []) if g.kind == "block"]
        return hover_groups(entries, "block call") if entries else None
    if isinstance(item, ast.Model) and item.body and item.body[0] is stmt and stmt.kind.lower() == "input":
        model = analysis.model(item.name)
        if model is None:
            return None
        return f"**input** of model `{model.name}`\n\n- shape: {_shape(model.input_shape)}"
    entries = analysis.layers.get(stmt.span, [])
    if not entries:
        return None
    return hover_layer(entries, in_block)


def _hover_merge(analysis: Analysis, stmt: ast.Merge, in_block: Optional[str]) -> Optional[str]:
    joins = [(m, n) for m, n in analysis.layers.get(stmt.span, []) if n.kind == stmt.mode]
    if not joins:
        return None
    out = []
    limit = len(joins) if len(joins) <= MAX_CALLS_SHOWN + 1 else MAX_CALLS_SHOWN
    for number, (model, join) in enumerate(joins[:limit]):
        branches = []
        for branch in stmt.branches:
            found = analysis.groups.get(branch.span, [])
            if number < len(found):
                m, group = found[number]
                branches.append(group)
        total = ir.Totals.of(layer for group in branches for layer in group.layers())
        where = _where(model, join.path)
        if number == 0:
            title = f"**{stmt.mode}** of {len(stmt.branches)} branches · `{where}`"
            if len(joins) > 1:
                title += f" · {len(joins)} instances, the first:"
            out += [title, "", f"- output shape: {_shape(join.output_shape)}",
                    f"- params: {_params_line(total.trainable, total.non_trainable)}",
                    f"- MACs: {_num(total.macs)}"]
            for group in branches:
                totals = group.totals()
                out.append(f"  - branch `{group.name}`: {_shape(group.output_shape)}, params {_num(totals.params)}, "
                           f"MACs {_num(totals.macs)}")
            if len(joins) > 1:
                out += ["", "every instance:" if len(joins) <= limit else f"the first {limit} of {len(joins)}:"]
        if len(joins) > 1:
            out.append(f"- `{where}`: {_shape(join.output_shape)}, params {_num(total.params)}, "
                       f"MACs {_num(total.macs)}")
    if len(joins) > limit:
        out.append(f"- … and {len(joins) - limit} more")
    return "\n".join(out)


# --- go to definition ------------------------------------------------------------------


def _without_comments(text: str) -> str:
    """The text with comments blanked out, every offset kept."""
    return _COMMENT.sub(lambda m: " " * len(m.group()), text)


def _word_at(lines: Lines, line: int, char: int) -> Optional[tuple[str, int, int]]:
    """The name under (or just before) the cursor: (word, start, end) in characters of the line."""
    text = lines.line(line)
    if "#" in text[:char]:
        return None
    for match in _NAME.finditer(text):
        if match.start() <= char <= match.end():
            return match.group(), match.start(), match.end()
    return None


def definition(analysis: Analysis, uri: str, position: lsp.Position,
               encoding: str = "utf-16") -> Optional[lsp.Location]:
    """From a block call to `block NAME(`, from a name in `compare` to its model."""
    lines = Lines(analysis.text, encoding)
    line, char = lines.from_client(position)
    word = _word_at(lines, line, char)
    if word is None:
        return None
    name = word[0]
    tree = analysis.tree
    if tree is not None:
        chain = _chain(tree, line + 1, char + 1)
        innermost = chain[-1] if chain else None
        blocks = analysis.block_names()
        if isinstance(innermost, ast.Layer) and innermost.kind == name and name in blocks \
                and _contains(innermost.kind_span, line + 1, char + 1):
            return lsp.Location(uri=uri, range=lines.range(blocks[name].name_span))
        if isinstance(innermost, ast.Compare):
            model = next((m for m in tree.models if m.name == name), None)
            if model is not None:
                return lsp.Location(uri=uri, range=lines.range(model.name_span))
        return None
    # the text does not parse (yet): fall back to the definitions a scan of the text finds
    for pattern in (_BLOCK_DEF, _MODEL_DEF):
        for match in pattern.finditer(_without_comments(analysis.text)):
            if match.group(1) == name:
                return lsp.Location(uri=uri, range=lines.offset_range(match.start(1), match.end(1)))
    return None


# --- completion ----------------------------------------------------------------------


def _scan_blocks(text: str) -> dict[str, list[str]]:
    """Block names and their parameter names, found in text that may not parse."""
    found: dict[str, list[str]] = {}
    for match in _BLOCK_DEF.finditer(_without_comments(text)):
        params = [p.split("=")[0].strip() for p in (match.group(2) or "").split(",")]
        found.setdefault(match.group(1), [p for p in params if _NAME.fullmatch(p)])
    return found


def _scan_models(text: str) -> list[str]:
    return [m.group(1) for m in _MODEL_DEF.finditer(_without_comments(text))]


def _depth(text: str) -> int:
    """How many braces are open at the end of text (comments ignored)."""
    stripped = _without_comments(text)
    return max(0, stripped.count("{") - stripped.count("}"))


def _signature(kind) -> str:
    parts = [kind.name]
    for spec in kind.positional:
        parts.append(spec.name if spec.required else f"[{spec.name}]")
    for spec in kind.options:
        default = _default_text(spec)
        parts.append(f"{spec.name}=…" if spec.required else f"[{spec.name}={default}]")
    if kind.takes_activation:
        parts.append("[activation]")
    return " ".join(parts)


def _default_text(spec) -> str:
    default = spec.default
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return "x".join(str(d) for d in default)
    return "…" if default is None else str(default)


def _kind_doc(kind) -> str:
    out = [f"`{_signature(kind)}`", "", kind.summary]
    if kind.aliases:
        out += ["", "also: " + ", ".join(f"`{a}`" for a in kind.aliases)]
    specs = kind.all_args()
    if specs:
        out += [""] + [f"- `{s.name}`: {s.doc}" for s in specs]
    return "\n".join(out)


def _option_item(spec) -> lsp.CompletionItem:
    detail = spec.doc or spec.name
    if spec.required:
        detail += " (required)"
    elif spec.default is not None:
        detail += f" (default {_default_text(spec)})"
    doc = [spec.doc or spec.name]
    if spec.choices:
        doc.append("one of: " + ", ".join(f"`{c}`" for c in spec.choices))
    if spec.aliases:
        doc.append("also written: " + ", ".join(f"`{a}=`" for a in spec.aliases))
    return lsp.CompletionItem(
        label=spec.name, kind=lsp.CompletionItemKind.Property, detail=detail,
        documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n".join(doc)),
        insert_text=f"{spec.name}=", filter_text=spec.name,
        sort_text=("0" if spec.required else "1") + spec.name,
    )


def _word_items(words: Iterable[str], detail: str, sort: str = "2") -> list[lsp.CompletionItem]:
    return [lsp.CompletionItem(label=w, kind=lsp.CompletionItemKind.EnumMember, detail=detail, sort_text=sort + w)
            for w in words]


def _statement_start_items(text: str) -> list[lsp.CompletionItem]:
    items = []
    for kind in layers.statement_kinds():
        items.append(lsp.CompletionItem(
            label=kind.name, kind=lsp.CompletionItemKind.Class, detail=kind.summary,
            documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=_kind_doc(kind)),
            sort_text="1" + kind.name))
        for alias in kind.aliases:
            items.append(lsp.CompletionItem(label=alias, kind=lsp.CompletionItemKind.Class,
                                            detail=f"{kind.name}: {kind.summary}", sort_text="3" + alias.lower()))
    for name, params in _scan_blocks(text).items():
        items.append(lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Function,
                                        detail=f"block {name}({', '.join(params)})", sort_text="0" + name))
    for word in KEYWORDS_BODY:
        items.append(lsp.CompletionItem(label=word, kind=lsp.CompletionItemKind.Keyword, sort_text="2" + word))
    return items


def _value_items(kind, key: str) -> list[lsp.CompletionItem]:
    if key == "activation" and kind.takes_activation:
        return _word_items(ACTIVATIONS, "activation")
    spec = kind.arg(key)
    if spec is None:
        return []
    if spec.type in ("pad",):
        return _word_items(("valid", "same"), spec.doc)
    if spec.type == "bool":
        return _word_items(("true", "false"), spec.doc)
    if spec.choices:
        return _word_items(spec.choices, spec.doc)
    return []


def completions(text: str, position: lsp.Position, encoding: str = "utf-16") -> list[lsp.CompletionItem]:
    """Candidates at the cursor, from the text alone (it need not parse while it is typed)."""
    lines = Lines(text, encoding)
    line, char = lines.from_client(position)
    before = lines.line(line)[:char]
    if "#" in before:
        return []
    depth = _depth(text[: lines.offset(line, char)])
    segment = re.split(r"[;{}]", before)[-1]
    label = _LABEL.match(segment)
    if label:
        segment = segment[label.end():]
    partial_match = re.search(r"\S*$", segment)
    partial = partial_match.group() if partial_match else ""
    tokens = segment[: len(segment) - len(partial)].split()
    if depth == 0:
        if not tokens:
            return [lsp.CompletionItem(label=w, kind=lsp.CompletionItemKind.Keyword) for w in KEYWORDS_TOP]
        if tokens[0] == "compare":
            return [lsp.CompletionItem(label=m, kind=lsp.CompletionItemKind.Module, detail="model")
                    for m in _scan_models(text)]
        return []
    if not tokens:
        return _statement_start_items(text)
    if "->" in tokens or partial.startswith("->"):
        return [lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Property, insert_text=f"{k}=",
                                   detail=f"expected {k} (the total over the statement)") for k in ("params", "macs")]
    head = tokens[0].split("(")[0]
    blocks = _scan_blocks(text)
    if head in blocks:
        used = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", segment))
        return [lsp.CompletionItem(label=p, kind=lsp.CompletionItemKind.Property, insert_text=f"{p}=",
                                   detail=f"parameter of block {head}") for p in blocks[head] if p not in used]
    kind = layers.lookup(head)
    if kind is None:
        return []
    value = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[^\s=]*$", segment)
    if value:
        return _value_items(kind, value.group(1))
    written = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", segment))
    used = {spec.name for spec in kind.all_args() for key in written if key == spec.name or key in spec.aliases}
    given = [t for t in re.sub(r"[A-Za-z_][A-Za-z0-9_]*\s*=\s*\S*", " ", segment).split()[1:]
             if t.lower() not in ACTIVATIONS]
    used |= {spec.name for spec in kind.positional[: len(given)]}
    items = [_option_item(spec) for spec in kind.options if spec.name not in used]
    for spec in kind.positional:  # a positional argument may also be written by name
        if spec.name not in used:
            item = _option_item(spec)
            item.sort_text = "4" + spec.name
            items.append(item)
    if kind.takes_activation:
        has_activation = "activation" in written or any(t.lower() in ACTIVATIONS for t in tokens[1:])
        if not has_activation:
            items += _word_items(ACTIVATIONS, "activation")
    for spec in kind.positional:
        if spec.choices:
            items += _word_items(spec.choices, spec.doc)
    return items


# --- document symbols -----------------------------------------------------------------------


def _stmt_symbol(analysis: Analysis, stmt, lines: Lines, blocks: set) -> lsp.DocumentSymbol:
    if isinstance(stmt, ast.Layer):
        entries = analysis.layers.get(stmt.span, [])
        calls = analysis.groups.get(stmt.span, [])
        if stmt.kind in blocks:
            name = calls[0][1].name if len(calls) == 1 else stmt.label or stmt.kind
            detail = f"block {stmt.kind}"
            if len(calls) == 1 and calls[0][1].output_shape is not None:
                detail += " → " + shape_with_batch(calls[0][1].output_shape, None)
            kind = lsp.SymbolKind.Function
        else:
            name = entries[0][1].name if len(entries) == 1 else stmt.label or stmt.kind
            detail = stmt.kind
            if len(entries) == 1 and entries[0][1].output_shape is not None:
                detail += " → " + shape_with_batch(entries[0][1].output_shape, None)
            kind = lsp.SymbolKind.Field
        return lsp.DocumentSymbol(name=name, kind=kind, detail=detail, range=lines.range(stmt.span),
                                  selection_range=lines.range(stmt.kind_span))
    if isinstance(stmt, ast.Merge):
        children = []
        for number, branch in enumerate(stmt.branches, 1):
            branch_children = [_stmt_symbol(analysis, s, lines, blocks) for s in branch.body]
            children.append(lsp.DocumentSymbol(
                name=branch.name or f"branch_{number}", kind=lsp.SymbolKind.Namespace, detail="branch",
                range=lines.range(branch.span), selection_range=_first_line(lines.range(branch.span)),
                children=branch_children))
        return lsp.DocumentSymbol(name=stmt.label or stmt.mode, kind=lsp.SymbolKind.Struct, detail=stmt.mode,
                                  range=lines.range(stmt.span), selection_range=_first_line(lines.range(stmt.span)),
                                  children=children)
    children = [_stmt_symbol(analysis, s, lines, blocks) for s in stmt.body]
    return lsp.DocumentSymbol(name=stmt.label or "repeat", kind=lsp.SymbolKind.Array, detail="repeat",
                              range=lines.range(stmt.span), selection_range=_first_line(lines.range(stmt.span)),
                              children=children)


def _first_line(whole: lsp.Range) -> lsp.Range:
    if whole.end.line == whole.start.line:
        return whole
    return lsp.Range(start=whole.start, end=lsp.Position(line=whole.start.line, character=whole.start.character + 1))


def document_symbols(analysis: Analysis, encoding: str = "utf-16") -> list[lsp.DocumentSymbol]:
    """Models and blocks, with their statements (and branches) as children."""
    lines = Lines(analysis.text, encoding)
    tree = analysis.tree
    if tree is None:  # keep the outline while the text does not parse: definitions found by a scan
        text = _without_comments(analysis.text)
        symbols = []
        for pattern, kind, what in ((_MODEL_DEF, lsp.SymbolKind.Class, "model"),
                                    (_BLOCK_DEF, lsp.SymbolKind.Function, "block")):
            for match in pattern.finditer(text):
                where = lines.offset_range(match.start(1), match.end(1))
                symbols.append(lsp.DocumentSymbol(name=match.group(1), kind=kind, detail=what, range=where,
                                                  selection_range=where))
        return sorted(symbols, key=lambda s: (s.range.start.line, s.range.start.character))
    blocks = set(analysis.block_names())
    symbols = []
    for item in tree.items:
        if isinstance(item, ast.Compare):
            continue
        children = [_stmt_symbol(analysis, stmt, lines, blocks) for stmt in item.body]
        if isinstance(item, ast.Model):
            model = analysis.model(item.name)
            detail = "model"
            if model is not None and model.root is not None and model.output_shape is not None:
                detail += f" {shape_with_batch(model.input_shape, None)} → {shape_with_batch(model.output_shape, None)}"
            kind = lsp.SymbolKind.Class
        else:
            detail = f"block ({', '.join(p.name for p in item.params)})"
            kind = lsp.SymbolKind.Function
        symbols.append(lsp.DocumentSymbol(name=item.name, kind=kind, detail=detail, range=lines.range(item.span),
                                          selection_range=lines.range(item.name_span), children=children))
    return symbols


# --- the server ---------------------------------------------------------------------------


class Workspace:
    """The analyses of open documents, recompiled when their text changes."""

    def __init__(self, convention: str = "keras"):
        self.convention = convention
        self._cache: dict[str, Analysis] = {}

    def analysis(self, uri: str, text: str) -> Analysis:
        cached = self._cache.get(uri)
        if cached is not None and cached.text == text and cached.convention == self.convention:
            return cached
        analysis = Analysis(text, _display_name(uri), self.convention)
        self._cache[uri] = analysis
        return analysis

    def forget(self, uri: str) -> None:
        self._cache.pop(uri, None)


def _display_name(uri: str) -> str:
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(uri).path) or uri
    return uri


def _guarded(function):
    """A pygls handler that logs any exception and returns nothing, never crashing the server."""

    def handler(ls, params):
        try:
            return function(ls, params)
        except Exception as error:  # noqa: BLE001 - the server must survive any input
            logger.exception("nnc lsp: %s failed", function.__name__)
            try:
                ls.window_log_message(lsp.LogMessageParams(
                    type=lsp.MessageType.Error, message=f"nnc lsp: {function.__name__} failed: "
                                                        f"{type(error).__name__}: {error}"))
            except Exception:  # noqa: BLE001
                pass
            return None

    handler.__name__ = function.__name__
    return handler


def create_server(convention: str = "keras"):
    """A pygls language server with every feature registered (not started)."""
    from pygls.lsp.server import LanguageServer

    server = LanguageServer("nnc", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
    documents = Workspace(convention)
    server.nn_documents = documents

    def encoding(ls) -> str:
        kind = ls.workspace.position_encoding or "utf-16"
        return str(getattr(kind, "value", kind))

    def current(ls, uri: str) -> Analysis:
        document = ls.workspace.get_text_document(uri)
        return documents.analysis(uri, document.source)

    def publish(ls, uri: str) -> None:
        document = ls.workspace.get_text_document(uri)
        analysis = documents.analysis(uri, document.source)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, diagnostics=diagnostics(analysis, encoding(ls)), version=document.version))

    @server.feature(lsp.INITIALIZE)
    @_guarded
    def initialize(ls, params: lsp.InitializeParams):
        options = params.initialization_options
        if isinstance(options, dict) and options.get("convention") in CONVENTIONS:
            documents.convention = options["convention"]

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @_guarded
    def did_open(ls, params: lsp.DidOpenTextDocumentParams):
        publish(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @_guarded
    def did_change(ls, params: lsp.DidChangeTextDocumentParams):
        publish(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @_guarded
    def did_save(ls, params: lsp.DidSaveTextDocumentParams):
        publish(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @_guarded
    def did_close(ls, params: lsp.DidCloseTextDocumentParams):
        documents.forget(params.text_document.uri)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                          diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @_guarded
    def on_hover(ls, params: lsp.HoverParams):
        return hover(current(ls, params.text_document.uri), params.position, encoding(ls))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @_guarded
    def on_definition(ls, params: lsp.DefinitionParams):
        uri = params.text_document.uri
        return definition(current(ls, uri), uri, params.position, encoding(ls))

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["="]))
    @_guarded
    def on_completion(ls, params: lsp.CompletionParams):
        document = ls.workspace.get_text_document(params.text_document.uri)
        return lsp.CompletionList(is_incomplete=False,
                                  items=completions(document.source, params.position, encoding(ls)))

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_guarded
    def on_document_symbol(ls, params: lsp.DocumentSymbolParams):
        return document_symbols(current(ls, params.text_document.uri), encoding(ls))

    return server


def serve(convention: str = "keras") -> int:
    """Run the server on standard input and output until the client exits; the exit status."""
    server = create_server(convention)
    server.start_io()
    return 0 if getattr(server.protocol, "_shutdown", True) else 1
