"""What the PyTorch and Keras exporters share: the walk over a model and the checks
and refusals (`Emitter`, the base of both), a small code builder, names that are
valid Python, text from the input written as Python source (string literals,
docstrings, comments), the geometry of padding, the error for a construct a
framework cannot express, and what writing a block definition as one parametrised
class takes (`ParamInt`, `SourceTree`, `bind`, `ClassVariant`).

A block definition becomes one class whose constructor takes the block's
parameters. Each call of the block is written out as usual, except that an
integer a parameter gives is a `ParamInt` (true or false, a `ParamFlag`): its
value in that call together with the Python expression computing it in the class
(`c`, `4 * w`, `in_channels`), which is what `py` writes. When every call of a
definition writes the same class text, they share one class, and the text is
right for each call since each expression evaluates, in that call, to the value
the layer was compiled with. Calls whose text differs (a word taken from an
argument, a padding 'same' in one call and not in another) get a class each. The
iterations of a repeat whose count is a parameter are written the same way, each
against the others, and become a loop when they write the same code (`Loop`).

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
import operator
import re
from contextlib import contextmanager
from typing import Iterable, Optional

import attrs

from .. import ast, ir
from ..layers import kind_of
from ..layers.base import ACTIVATIONS, BOOL_WORDS
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

    Inside the class of a block definition, `env` holds the block's parameters (as `ParamInt` where
    they are integers) and `locals` the names of the layers and groups in the class, numbered
    within the block (`conv2d_1`, ...) so that every call of the block names them alike;
    `symbolic` gives a layer as the class sees it: its arguments, window and input size written
    with the parameters wherever they come from them.
    """

    #: the framework's name, as refusals give it
    framework = ""
    #: the counting convention the framework's own counts follow (docs/conventions.md): the
    #: docstrings quote the parameters as the framework counts them, whatever the compilation's
    convention = ""

    def __init__(self, program: ir.Program, source_lines: Optional[list] = None, file_name: str = "",
                 tree: Optional[ast.File] = None):
        self.program = program
        self.source_lines = source_lines or []
        self.file_name = file_name
        self._tree = tree  # the file's syntax tree, read when a block call first needs it
        self._source_tree: Optional[SourceTree] = None
        self.env: dict = {}  # the parameters of the block class being written ({} in a model)
        self.locals: Optional[dict] = None  # id(layer or group) -> its name in that class
        self.definition_now: Optional[ast.BlockDef] = None  # the definition of that class
        self.looping: frozenset = frozenset()  # the repeats being written as loops (their ids)
        self.at_top = False  # writing the class's own statements (not a branch's, a group's or a loop's)
        self.variants: dict = {}  # definition -> its ClassVariants, in order
        self.variant_list: list = []  # every ClassVariant, in the order they were made
        self.param_names: dict = {}  # definition name -> Names of its class's parameters

    def render(self, models: list) -> Export:
        raise NotImplementedError

    @property
    def tree(self) -> Optional["SourceTree"]:
        """The statements and block definitions of the file: from the syntax tree given, else from
        the source lines parsed again (once, and only for a file that calls blocks); None when
        neither is known."""
        if self._source_tree is None and (self._tree is not None or self.source_lines):
            tree = self._tree if self._tree is not None else parse_lines(self.source_lines)
            self._tree = tree if tree is not None else False
            self._source_tree = SourceTree(tree) if tree is not None else False
        return self._source_tree or None

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
        """'MACs: 1,234', 'MACs: 216*H*W + 16' (an expression of the named sizes), or 'MACs: unknown'
        when an error left a size unknown."""
        if totals.macs is None:
            return "MACs: unknown (they depend on a size unknown until run time)"
        return f"MACs: {totals.macs:,}{per_step if is_int(totals.macs) else ''}"

    def totals(self, model: ir.Model) -> Counts:
        """The model's totals as the target framework counts them (its convention)."""
        return ModelReport(model, Options(convention=self.convention)).totals

    def statement(self, group: ir.Group) -> str:
        """A block call as written in the .nn file ('' when unknown or long)."""
        return statement_text(self.source_lines, group.span)

    # -- the walk -------------------------------------------------------------------------
    def walk(self, children: list, cur, dst: str):
        """Writes `children` in order, starting from the tensor `cur` (whatever the subclass
        uses for one); returns the tensor they leave, held in the variable `dst`. In a block
        class, the layers of a repeat whose count is a parameter are a loop where they can be."""
        loops = self.loops(children)
        index = 0
        while index < len(children):
            found = loops.pop(index, None)
            if found is not None:
                result = self.loop(found, cur, dst)
                if result is not None:
                    cur, index = result, found.end
                    continue
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
            name = self.name_of(branch)
            var = self.variables.take(name)
            names.append(var)
            with self.branch(branch), self.nested():
                self.write(comment(f"branch {name}" + ("" if branch.children else ": the input itself")))
                outputs.append(self.walk(branch.children, cur, var))
        result = self.joined(node, outputs, dst)
        self.variables.used -= set(names)  # the branches' variables are free again
        return result

    @contextmanager
    def branch(self, branch: ir.Group):
        """Where the layers of `branch` go while it is written."""
        yield

    def loops(self, children: list) -> dict:
        """The runs of `children` that repeats with a count given by the block's parameters made,
        by the index they start at (none outside block classes)."""
        if self.locals is None or self.tree is None or not self.at_top or self.looping:
            return {}  # a loop is written in the class's own statements only
        found = {}
        index = 0
        while index < len(children):
            repeat = self._repeat_of(children[index])
            if repeat is None:
                index += 1
                continue
            end = index
            while end < len(children) and self._repeat_of(children[end]) is repeat:
                end += 1
            count = evaluate(repeat.count, self.env)
            size, left = divmod(end - index, int(count)) if int(count) > 0 else (0, 1)
            if size and not left:
                found[index] = Loop(repeat, count, [children[start:start + size]
                                                    for start in range(index, end, size)], end)
            index = end
        return found

    def _repeat_of(self, child):
        """The outermost repeat around `child`, not being written as a loop already, whose count
        a parameter gives; None for none."""
        for repeat in self.tree.repeats.get(child.span, ()):
            if id(repeat) not in self.looping and isinstance(evaluate(repeat.count, self.env), ParamInt):
                return repeat
        return None

    @contextmanager
    def looping_over(self, loop: Loop):
        """While the iterations of `loop` are written (the repeats inside are written in turn)."""
        self.looping = self.looping | {id(loop.repeat)}
        try:
            yield
        finally:
            self.looping = self.looping - {id(loop.repeat)}

    def loop(self, loop: Loop, cur, dst: str):
        """The layers of `loop` written as a loop; None where they cannot be (each is then
        written in turn)."""
        return None

    # -- block definitions as classes ----------------------------------------------------------
    def definition(self, group: ir.Group) -> Optional[tuple]:
        """(the block definition, the call statement) of a block call; None when the syntax tree
        of the file is not known (the call is then a class of its own)."""
        if self.tree is None:
            return None
        stmt = self.tree.statements.get(group.span)
        if not isinstance(stmt, ast.Layer):
            return None
        block = self.tree.blocks.get(stmt.kind)
        return None if block is None else (block, stmt)

    def name_of(self, item) -> str:
        """The name of a layer or group in the code being written: in a block class, its name
        in the class; elsewhere nnc's."""
        if self.locals is None:
            return item.name
        return self.locals.get(id(item), item.name)

    @contextmanager
    def inside_class(self, group: ir.Group, env: dict, block: Optional[ast.BlockDef] = None):
        """Writes the layers of the block call `group` as its class sees them: with the block's
        parameters `env` and the layers named within the class (without the `block` definition,
        as nnc names them)."""
        saved = self.env, self.locals, self.definition_now, self.looping, self.at_top
        self.env, self.definition_now, self.looping, self.at_top = env, block, frozenset(), True
        self.locals = None
        if block is not None:
            self.locals = {}
            self.locals = self._local_names(group)
            self.at_top = True
        try:
            yield
        finally:
            self.env, self.locals, self.definition_now, self.looping, self.at_top = saved

    @contextmanager
    def nested(self, top: bool = False):
        """While the statements of a branch or group are written (`top`: a labelled repeat at the
        top, whose statements are the class's own)."""
        saved = self.at_top
        self.at_top = saved and top
        try:
            yield
        finally:
            self.at_top = saved

    def class_params(self, block: ast.BlockDef) -> Names:
        """The Python names of a block class's parameters (`params[nn name]`), allocated once per
        definition: a parameter keeps its name unless Python, the generated module or the class
        itself needs it."""
        names = self.param_names.get(block.name)
        if names is None:
            names = Names({*BUILTIN_NAMES, *self.module_names(), "self"})
            names.params = {param.name: names.take(param.name) for param in block.params}
            names.extra = {}
            self.param_names[block.name] = names
        return names

    def extra_param(self, block: ast.BlockDef, wanted: str) -> str:
        """The name of a parameter the class adds to the block's (`in_channels`, `name`)."""
        names = self.class_params(block)
        if wanted not in names.extra:
            names.extra[wanted] = names.take(wanted)
        return names.extra[wanted]

    def module_names(self) -> tuple:
        """Names the generated module defines or imports (a parameter must not hide them)."""
        return ()

    def call_binding(self, block: ast.BlockDef, stmt: ast.Layer) -> tuple:
        """(the parameters bound to the call's arguments in the terms of the code around the call,
        the class's environment: each integer parameter a `ParamInt` of its own name, the arguments
        of the class's constructor as Python: as the call writes them, and a parameter it leaves
        to a default the constructor cannot have, by keyword)."""
        bound, written = bind(stmt, block, self.env)
        params = self.class_params(block).params
        env = {}
        for name, value in bound.items():
            value = plain(value)
            if is_int(value):
                value = ParamInt(value, ("name", params[name]))
            elif isinstance(value, bool) or (isinstance(value, str) and value.lower() in BOOL_WORDS):
                value = ParamFlag(BOOL_WORDS.get(str(value).lower(), value), ("name", params[name]))
            env[name] = value
        arguments = [py_argument(value) if key is None else f"{params[key]}={py_argument(value)}"
                     for key, value in written]
        given = {key for key, _ in written if key is not None}
        given.update(param.name for param, _ in zip(block.params, [v for k, v in written if k is None]))
        kept = _kept_defaults(block)
        arguments += [f"{params[param.name]}={py_argument(bound[param.name])}" for param in block.params
                      if param.name not in given and param.name not in kept]
        return bound, env, arguments

    def signature(self, block: ast.BlockDef, extra: list, trailing: list = ()) -> tuple[str, list]:
        """(the parameters of a block class's constructor, as Python: `in_channels, c, s=2`; the
        lines that compute a default depending on other parameters)."""
        params = self.class_params(block).params
        parts = list(extra)
        body = []
        names = {param.name for param in block.params}
        kept = _kept_defaults(block)
        for param in block.params:
            name = params[param.name]
            if param.name not in kept:  # no default, or one a parameter without a default follows
                parts.append(name)
            elif _names_in(param.default) & names:
                parts.append(f"{name}=None")
                body.append((f"if {name} is None:", f"{name} = {default_text(param.default, params)}"))
            else:
                parts.append(f"{name}={py_argument(evaluate(param.default, {}))}")
        parts.extend(trailing)
        return ", ".join(parts), body

    def header(self, block: ast.BlockDef, group: ir.Group) -> str:
        """'Block basic(c, s=2), line 42 of FILE.' (the block's name as the call's group has it)."""
        params = ", ".join(param.name + ("" if param.default is None else "=" + nn_text(param.default))
                           for param in block.params)
        where = f"line {block.span.line}" + (f" of {self.file_name}" if self.file_name else "")
        return f"Block {group.block}({params}), {where}."

    def register(self, key, text: str, call: "ClassCall") -> "ClassVariant":
        """The class of a block definition (`key`) whose text is `text`: one made before with the
        same text, or a new one; records the call."""
        variants = self.variants.setdefault(key, [])
        for variant in variants:
            if variant.text == text:
                variant.calls.append(call)
                return variant
        variant = ClassVariant(len(self.variant_list), key, text, [call])
        variants.append(variant)
        self.variant_list.append(variant)
        return variant

    def _local_names(self, group: ir.Group) -> dict:
        """The names of the layers and groups of a block call in its class: a label stays (with
        the suffix a repeat gives it), the rest are numbered within the block as nnc numbers them
        in a model (`conv2d_1`, `concat_1`, ...); the join of a labelled concat or add has its
        group's name. Block calls inside are left to their own classes."""
        names: dict = {}

        def visit(parent: ir.Group, parent_name: str, children: list, counters: dict) -> None:
            def fresh(base: str) -> str:
                counters[base] = counters.get(base, 0) + 1
                return f"{base}_{counters[base]}"

            def labelled(label: str) -> str:  # in a loop: the label, numbered from its second use
                counters[(label,)] = counters.get((label,), 0) + 1
                return label if counters[(label,)] == 1 else f"{label}_{counters[(label,)]}"

            loops = self.loops(children)
            index = 0
            while index < len(children):
                found = loops.pop(index, None)
                if found is not None:  # each iteration numbers its layers from 1, as a loop writes them
                    with self.looping_over(found):
                        for iteration in found.iterations:
                            visit(parent, parent_name, iteration, {})
                    index = found.end
                    continue
                child = children[index]
                index += 1
                in_loop = bool(self.looping)  # a label is numbered in a loop: nnc's suffix counts the iterations
                if isinstance(child, ir.LayerNode):
                    if child.label is not None:
                        names[id(child)] = labelled(child.label) if in_loop else child.name
                    elif kind_of(child).joins_branches and parent.kind not in ("block", "branch", "repeat"):
                        names[id(child)] = parent_name
                    else:
                        names[id(child)] = fresh(child.kind)
                    continue
                stmt = None if self.tree is None else self.tree.statements.get(child.span)
                label = getattr(stmt, "label", None)
                if child.kind == "branch":  # as written (nnc numbers a name a block uses again: `b_2`)
                    name = self.tree.branch_names.get(child.span, child.name) if self.tree else child.name
                elif in_loop and label is not None:
                    name = labelled(label)
                elif child.kind == "repeat" or label is not None or stmt is None:
                    name = child.name
                elif child.kind == "block":
                    name = fresh(getattr(stmt, "kind", child.block))
                else:
                    name = fresh(child.kind)
                names[id(child)] = name
                if child.kind != "block":
                    with self.nested(top=child.kind == "repeat"):
                        visit(child, name, child.children, counters)

        visit(group, group.name, group.children, {})
        return names

    def symbolic(self, node: ir.LayerNode, input_shape) -> tuple:
        """(the layer as the block class being written sees it, its output shape there): the
        arguments, window and input size written with the block's parameters where the layer's
        statement takes them from the parameters; the output's last axis too where it is one of
        the layer's counts (filters, units, ...) or the input's. Outside a block class, the layer
        itself."""
        node = known_sizes(node)
        output = node.output_shape
        if not self.env and not has_param(input_shape):
            return node, output
        kind = kind_of(node)
        args = dict(node.args)
        stmt = None if self.tree is None else self.tree.statements.get(node.span)
        if self.env and isinstance(stmt, ast.Layer) and stmt.kind not in self.tree.blocks:
            for name, expr in argument_expressions(stmt, kind, self.env):
                if name in args:
                    args[name] = merged(args[name], evaluate(expr, self.env))
        window = node.window
        if window is not None:
            window = _symbolic_window(window, args, node.args)
        inputs = node.input_shape
        if input_shape is not None and inputs is not None and _same_values(input_shape, inputs):
            inputs = tuple(input_shape)
        if output and is_int(output[-1]):
            # the first of the layer's counts (filters, units, ...) that gives the size, else the input's
            candidates = [value for name, value in args.items()
                          if is_int(value) and getattr(kind.arg(name), "type", "") == "count"]
            if inputs:
                candidates.append(inputs[-1])
            found = next((c for c in candidates if is_int(c) and int(c) == output[-1]), None)
            if isinstance(found, ParamInt):
                output = (*output[:-1], found)
        if args == node.args and window is node.window and inputs is node.input_shape:
            return node, output
        return attrs.evolve(node, args=args, window=window, input_shape=inputs), output

    @staticmethod
    def joined_shape(node: ir.LayerNode, shapes: list) -> tuple:
        """The output shape of a join as the block class sees it: a concat's channels are the sum
        of its branches', an add's those of its branches."""
        output = known(node.output_shape)
        if not output or not is_int(output[-1]) or not all(shapes) or not any(has_param(s) for s in shapes):
            return output
        lasts = [s[-1] for s in shapes]
        if not all(is_int(last) for last in lasts):
            return output
        channels = sum(lasts) if kind_of(node).sums_channels else lasts[0]
        if len(shapes[0]) != len(output) or not isinstance(channels, int) or int(channels) != output[-1]:
            return output
        return (*output[:-1], channels)

    @staticmethod
    def call_output(shape, out_shape, mapping: dict) -> tuple:
        """The output shape of a block call in the terms of the code around the call: the class's
        output channels (`out_shape`, in its parameters) with `mapping` (parameter -> value around
        the call) put in."""
        if not shape or not out_shape or not is_int(shape[-1]) or not isinstance(out_shape[-1], ParamInt):
            return shape
        value = substitute(out_shape[-1], mapping)
        if value is None or int(value) != shape[-1]:
            return shape
        return (*shape[:-1], value)

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

    def peek(self, wanted: str) -> str:
        """What `take(wanted)` would give, without taking it."""
        used = set(self.used)
        try:
            return self.take(wanted)
        finally:
            self.used = used


# --- values as Python source ------------------------------------------------------


#: The sets `recording` fills with the names of the ParamInts `py` writes.
_RECORDING: list = []


@contextmanager
def recording():
    """The names of the parameters whose ParamInts `py` writes until the block ends (the innermost
    recording only): which parameters a class's constructor uses."""
    used: set = set()
    _RECORDING.append(used)
    try:
        yield used
    finally:
        _RECORDING.pop()


def py(value) -> str:
    """A Python literal: 3, (3, 5), 'same', True, 0.5; the expression of a ParamInt."""
    if isinstance(value, (ParamInt, ParamFlag)):
        if _RECORDING:
            _RECORDING[-1].update(value.names)
        return value.text
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


# --- block definitions as parametrised classes ----------------------------------------

_SUM, _PRODUCT, _UNARY, _ATOM = 1, 2, 3, 4
_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv,
              "%": operator.mod}


class ParamInt(int):
    """An integer that a block's parameters give, in one call of the block: its value in that
    call, and the Python expression that computes it in the block's class (`c`, `4 * w`,
    `in_channels`), an `expr` tree: ("name", n), ("int", v), ("neg", e) or ("op", op, l, r).

    The exporters compute with it as with any integer and `py` writes the expression. It equals
    only a ParamInt of the same expression and value, so that a value a parameter gives is written as
    the parameter even where it happens to equal a default (`stride=s` when s is 1): every call
    of the block then writes the same code. Arithmetic with an integer gives the ParamInt of the
    combined expression; str() and repr() give the number (messages show values)."""

    def __new__(cls, value: int, expr: tuple):
        self = super().__new__(cls, value)
        self.expr = expr
        return self

    @property
    def text(self) -> str:
        return _expression(self.expr)[0]

    @property
    def names(self) -> set:
        return set(_expression_names(self.expr))

    def __eq__(self, other):
        return isinstance(other, ParamInt) and int(self) == int(other) and self.expr == other.expr

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((int(self), self.expr))

    def __repr__(self):
        return int.__repr__(self)

    __str__ = __repr__

    def _apply(self, other, op: str, swap: bool = False):
        if not is_int(other):
            return NotImplemented
        left, right = (other, self) if swap else (self, other)
        value = _OPERATORS[op](int(left), int(right))
        # x * 1, x // 1, x + 0, x - 0 and 0 + x, 1 * x are x
        neutral = (op in ("*", "//") and right == 1) or (op in ("+", "-") and right == 0)
        if not isinstance(right, ParamInt) and neutral:
            return left
        if not isinstance(left, ParamInt) and ((op == "*" and left == 1) or (op == "+" and left == 0)):
            return right
        return ParamInt(value, ("op", op, _expr_of(left), _expr_of(right)))

    def __add__(self, other):
        return self._apply(other, "+")

    def __radd__(self, other):
        return self._apply(other, "+", True)

    def __sub__(self, other):
        return self._apply(other, "-")

    def __rsub__(self, other):
        return self._apply(other, "-", True)

    def __mul__(self, other):
        return self._apply(other, "*")

    def __rmul__(self, other):
        return self._apply(other, "*", True)

    def __floordiv__(self, other):
        return self._apply(other, "//")

    def __rfloordiv__(self, other):
        return self._apply(other, "//", True)

    def __mod__(self, other):
        return self._apply(other, "%")

    def __rmod__(self, other):
        return self._apply(other, "%", True)

    def __neg__(self):
        return ParamInt(-int(self), ("neg", self.expr))

    def __pos__(self):
        return self


class ParamFlag:
    """true or false as a block's parameter gives it, in one call of the block: its value in that
    call and the parameter's expression in the block's class. It tests as its value; `py` writes
    the expression, and `flag` keeps it where a keyword would be left out at its default."""

    __slots__ = ("value", "expr")

    def __init__(self, value: bool, expr: tuple):
        self.value = bool(value)
        self.expr = expr

    @property
    def text(self) -> str:
        return _expression(self.expr)[0]

    @property
    def names(self) -> set:
        return set(_expression_names(self.expr))

    def __bool__(self):
        return self.value

    def __eq__(self, other):
        return isinstance(other, ParamFlag) and other.value == self.value and other.expr == self.expr

    def __hash__(self):
        return hash((self.value, self.expr))

    def __repr__(self):
        return repr(self.value)


def flag(value, default: bool = True):
    """A true/false keyword argument: None (left out) when it is the framework's default, else the
    value; a block's parameter (a ParamFlag) is always written."""
    if isinstance(value, ParamFlag):
        return value
    return None if bool(value) == default else bool(value)


def is_int(value) -> bool:
    """An integer (a ParamInt too), not a bool nor a size unknown until run time."""
    return isinstance(value, int) and not isinstance(value, bool)


def _expr_of(value) -> tuple:
    return value.expr if isinstance(value, ParamInt) else ("int", int(value))


def _expression(expr: tuple) -> tuple[str, int]:
    """(Python source of an expression tree, its precedence)."""
    kind = expr[0]
    if kind == "name":
        return expr[1], _ATOM
    if kind == "int":
        return str(expr[1]), _ATOM if expr[1] >= 0 else _UNARY
    if kind == "neg":
        text, level = _expression(expr[1])
        return "-" + (text if level >= _UNARY else f"({text})"), _UNARY
    op, left, right = expr[1:]
    level = _SUM if op in ("+", "-") else _PRODUCT
    left_text, left_level = _expression(left)
    right_text, right_level = _expression(right)
    if left_level < level:
        left_text = f"({left_text})"
    associative = op in ("+", "*") and right[0] == "op" and right[1] == op
    if right_level < level or (right_level == level and not associative):
        right_text = f"({right_text})"
    return f"{left_text} {op} {right_text}", level


def _expression_names(expr: tuple):
    if expr[0] == "name":
        yield expr[1]
    elif expr[0] == "neg":
        yield from _expression_names(expr[1])
    elif expr[0] == "op":
        yield from _expression_names(expr[2])
        yield from _expression_names(expr[3])


def has_param(value) -> bool:
    """Whether a value (a tuple's items among them) holds a ParamInt or a ParamFlag."""
    if isinstance(value, (ParamInt, ParamFlag)):
        return True
    return isinstance(value, tuple) and any(has_param(item) for item in value)


def known(shape):
    """A shape with every size unknown until run time (whatever the compiler holds for it) as None,
    as the exporters write them; None stays None."""
    if shape is None:
        return None
    return tuple(size if is_int(size) else None for size in shape)


def known_sizes(node: ir.LayerNode) -> ir.LayerNode:
    """The layer with its shapes and its window's padding as `known` gives them (itself when they are)."""
    shapes = (node.input_shape, node.output_shape)
    padding = node.window.padding if node.window is not None else ()
    if all(shape is None or all(size is None or is_int(size) for size in shape) for shape in shapes) \
            and all(size is None or is_int(size) for pair in padding for size in pair):
        return node
    window = node.window
    if window is not None:
        window = attrs.evolve(window, padding=tuple((before if is_int(before) else None,
                                                     after if is_int(after) else None) for before, after in padding))
    return attrs.evolve(node, input_shape=known(node.input_shape), output_shape=known(node.output_shape),
                        window=window)


def plain(value):
    """A value with its ParamInts turned into the numbers they hold."""
    if isinstance(value, ParamInt):
        return int(value)
    if isinstance(value, ParamFlag):
        return value.value
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    return value


def substitute(value, mapping: dict):
    """A ParamInt with the names of its expression replaced by `mapping`'s values (numbers or ParamInts of
    another scope); None when a name is missing."""
    def value_of(expr):
        kind = expr[0]
        if kind == "name":
            return mapping.get(expr[1])
        if kind == "int":
            return expr[1]
        if kind == "neg":
            inner = value_of(expr[1])
            return None if inner is None else -inner
        left, right = value_of(expr[2]), value_of(expr[3])
        if left is None or right is None or (expr[1] in ("//", "%") and int(right) == 0):
            return None
        return _OPERATORS[expr[1]](left, right)

    return value_of(value.expr) if isinstance(value, ParamInt) else value


def evaluate(node, env: dict):
    """The value of a .nn expression, as the compiler evaluates it (passes/context.py), with the
    parameters in `env`: an integer a ParamInt gives is a ParamInt of the expression (`/` is exact there,
    written `//`). The program compiled, so the expression is valid."""
    if isinstance(node, ast.Int) or isinstance(node, ast.Float):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.name, node.name)
    if isinstance(node, ast.Unknown):
        return None
    if isinstance(node, ast.ShapeLit):
        return node.dims
    if isinstance(node, ast.Tuple):
        return tuple(evaluate(item, env) for item in node.items)
    if isinstance(node, ast.Neg):
        return -evaluate(node.operand, env)
    if isinstance(node, ast.BinOp):
        op = "//" if node.op == "/" else node.op
        return _OPERATORS[op](evaluate(node.left, env), evaluate(node.right, env))
    raise AssertionError(f"cannot evaluate {node!r}")


def default_text(node, params: dict) -> str:
    """A parameter's default that depends on other parameters, as Python in the class
    (`params`: .nn name -> Python name)."""
    def tree(node):
        if isinstance(node, ast.Int):
            return ("int", node.value)
        if isinstance(node, ast.Name) and node.name in params:
            return ("name", params[node.name])
        if isinstance(node, ast.Neg):
            return ("neg", tree(node.operand))
        if isinstance(node, ast.BinOp):
            return ("op", "//" if node.op == "/" else node.op, tree(node.left), tree(node.right))
        raise ValueError(node)

    if isinstance(node, ast.Tuple):
        items = [default_text(item, params) for item in node.items]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    try:
        return _expression(tree(node))[0]
    except ValueError:  # no arithmetic: a word or a number
        return py_argument(evaluate(node, {}))


def _kept_defaults(block: ast.BlockDef) -> set:
    """The parameters whose default the class's constructor keeps: those after which every
    parameter has one (Python's rule; a call gives the others their defaults itself)."""
    kept: set = set()
    for param in reversed(block.params):
        if param.default is None:
            break
        kept.add(param.name)
    return kept


def _names_in(node) -> set:
    """The words an expression holds (parameters among them)."""
    found = set()
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, ast.Name):
            found.add(item.name)
        elif isinstance(item, ast.BinOp):
            pending += [item.left, item.right]
        elif isinstance(item, ast.Neg):
            pending.append(item.operand)
        elif isinstance(item, ast.Tuple):
            pending.extend(item.items)
    return found


def nn_text(node) -> str:
    """A .nn expression written back as .nn source (a default in a block's header)."""
    if isinstance(node, ast.Float) or isinstance(node, ast.ShapeLit):
        return node.text
    if isinstance(node, ast.Unknown):
        return "?"
    if isinstance(node, ast.Tuple):
        return "(" + ", ".join(nn_text(item) for item in node.items) + ")"

    def tree(node):
        if isinstance(node, ast.Int):
            return ("int", node.value)
        if isinstance(node, ast.Name):
            return ("name", node.name)
        if isinstance(node, ast.Neg):
            return ("neg", tree(node.operand))
        if isinstance(node, ast.BinOp):
            return ("op", node.op, tree(node.left), tree(node.right))
        raise ValueError(node)

    try:
        return _expression(tree(node))[0]
    except ValueError:
        return "..."


def py_argument(value) -> str:
    """An argument of a block class as Python: a number, the expression of a ParamInt, True or False
    for the .nn words true/false/yes/no, a string for another word, a tuple, None for `?`."""
    if isinstance(value, str) and value.lower() in BOOL_WORDS:
        return repr(BOOL_WORDS[value.lower()])
    return py(value)


def bind(stmt: ast.Layer, block: ast.BlockDef, env: dict) -> tuple[dict, list]:
    """The block's parameters bound to the call's arguments, as the compiler binds them
    (passes/expand.py), evaluated in `env`; and the arguments as the call writes them, in order:
    (the parameter's name for a keyword, None for a positional argument; value)."""
    items = stmt.args
    if len(items) == 1 and isinstance(items[0], ast.Tuple):
        items = items[0].items
    positional = [item for item in items if not isinstance(item, ast.KwArg)]
    keywords = [(item.name, item.value) for item in items if isinstance(item, ast.KwArg)]
    keywords += [(option.key, option.value) for option in stmt.options]
    bound: dict = {}
    written: list = []
    for param, expr in zip(block.params, positional):
        bound[param.name] = evaluate(expr, env)
        written.append((None, bound[param.name]))
    for key, expr in keywords:
        bound[key] = evaluate(expr, env)
        written.append((key, bound[key]))
    for param in block.params:
        if param.name not in bound:
            bound[param.name] = evaluate(param.default, bound)
    return {param.name: bound[param.name] for param in block.params}, written


def argument_expressions(stmt: ast.Layer, kind, env: dict) -> list:
    """(argument name, its expression) of a layer statement, as the compiler matches them to the
    kind's arguments (passes/expand.py): positional ones in order, a trailing activation word
    left out, options by name or alias."""
    values = list(stmt.args)
    required = [spec for spec in kind.positional if spec.required]
    if kind.takes_activation and values and len(values) > len(required):
        last = evaluate(values[-1], env)
        if isinstance(last, str) and last.lower() in ACTIVATIONS:
            values = values[:-1]
    pairs = [(spec.name, expr) for spec, expr in zip(kind.positional, values)]
    for option in stmt.options:
        spec = kind.arg(option.key)
        if spec is not None and not (option.key == "activation" and kind.takes_activation):
            pairs.append((spec.name, option.value))
    return pairs


def merged(concrete, symbolic):
    """A resolved argument (`concrete`: 3, (3, 3), 'same') with the ParamInts of the expression that
    gave it (`symbolic`) where their values are its values; else the argument itself."""
    if not has_param(symbolic):
        return concrete
    if isinstance(concrete, bool):  # bias=b: the parameter, true or false (or 1 or 0)
        if isinstance(symbolic, ParamFlag) and symbolic.value == concrete:
            return symbolic
        if isinstance(symbolic, ParamInt) and int(symbolic) in (0, 1) and bool(int(symbolic)) == concrete:
            return ParamFlag(concrete, symbolic.expr)
        return concrete
    if isinstance(symbolic, ParamFlag):
        return concrete
    if isinstance(symbolic, ParamInt):
        if is_int(concrete) and int(concrete) == int(symbolic):
            return symbolic
        if isinstance(concrete, tuple) and concrete and all(is_int(c) and c == int(symbolic) for c in concrete):
            return tuple(symbolic for _ in concrete)  # one value for every axis (k=3 is 3x3)
        return concrete
    if isinstance(symbolic, tuple):
        if isinstance(concrete, tuple) and len(concrete) == len(symbolic):
            return tuple(merged(c, s) for c, s in zip(concrete, symbolic))
        if is_int(concrete) and len(set(symbolic)) == 1:  # pad=(p, p) resolved to p
            return merged(concrete, symbolic[0])
    return concrete


def _same_values(symbolic, concrete) -> bool:
    """Whether two shapes hold the same sizes (a ParamInt as its value; any other size only as itself)."""
    return len(symbolic) == len(concrete) and all(
        int(s) == int(c) if is_int(s) and is_int(c) else s is c or s == c for s, c in zip(symbolic, concrete))


#: The arguments a window's kernel, stride and dilation come from.
_WINDOW_ARGUMENTS = (("kernel", ("k", "size")), ("stride", ("s",)), ("dilation", ("dilation",)))


def _symbolic_window(window, args: dict, resolved: dict):
    """The window with its kernel, stride and dilation taken from the arguments' ParamInts where the
    numbers agree; a pooling's stride is its size when no stride is given."""
    fields = {}
    for field, names in _WINDOW_ARGUMENTS:
        current = getattr(window, field)
        for name in names:
            value = args.get(name)
            if isinstance(value, tuple) and has_param(value) and _same_values(value, current):
                fields[field] = value
                break
    if "kernel" in fields and "stride" not in fields and "s" in resolved and resolved["s"] is None \
            and window.stride == window.kernel:
        fields["stride"] = fields["kernel"]
    return attrs.evolve(window, **fields) if fields else window


def parse_lines(source_lines: list) -> Optional[ast.File]:
    """The syntax tree of the source lines the program was compiled from (line ends as the
    compiler reads them); None when they do not parse."""
    from ..diagnostics import DiagnosticBag
    from ..parser import parse
    from ..source import Source

    text = "\n".join(str(line) for line in source_lines)
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return parse(Source(text, "<export>"), DiagnosticBag())
    except Exception:  # noqa: BLE001 - not the program's text: every call is a class of its own
        return None


class SourceTree:
    """The statements of a file by their span (the compiled layers and groups keep the span of
    the statement that made them), the repeats around each (outermost first, within its model
    or block), and the block definitions by name."""

    def __init__(self, tree: ast.File):
        self.blocks = {}
        for block in tree.blocks:
            self.blocks.setdefault(block.name, block)
        self.statements: dict = {}
        self.repeats: dict = {}
        self.branch_names: dict = {}  # span -> a branch's name as written, or branch_N as nnc names it
        bodies = [(item.body, ()) for item in tree.items if isinstance(item, (ast.Model, ast.BlockDef))]
        while bodies:
            body, around = bodies.pop()
            for stmt in body:
                self.statements[stmt.span] = stmt
                self.repeats[stmt.span] = around
                if isinstance(stmt, ast.Merge):
                    for number, branch in enumerate(stmt.branches, 1):
                        self.statements[branch.span] = branch
                        self.repeats[branch.span] = around
                        self.branch_names[branch.span] = branch.name or f"branch_{number}"
                        bodies.append((branch.body, around))
                elif isinstance(stmt, ast.Repeat):
                    bodies.append((stmt.body, around + (stmt,)))


@attrs.define
class Loop:
    """Layers a `repeat` made whose count a block's parameter gives: written as a loop when its
    iterations write the same code."""

    repeat: ast.Repeat
    count: "ParamInt"
    iterations: list  # the children each iteration made
    end: int  # the index after the last child, in the list they are in


@attrs.define
class ClassCall:
    """One call of a block class: its group, and what its shape comments hold in that call."""

    group: ir.Group
    slots: list  # per shape comment of the class: (.nn shape, layout, the shapes of later iterations of a loop)
    input_shape: tuple  # the call's input, as nnc computed it


@attrs.define
class ClassVariant:
    """The class of a block definition (or of one call, when the definition is not known), and
    the calls written with it. `text` is the class without its name and docstring: calls whose
    text is the same share the class."""

    number: int
    key: object
    text: str
    calls: list
    name: str = ""
    base: str = ""  # the name wanted for it
    header: Optional[str] = None  # the first line of its docstring (None: the class of one call)
    scope: object = None  # what the first call wrote (the framework's)

    @property
    def placeholder(self) -> str:
        """Stands for the class's name in code written before the name is chosen."""
        return f"\x02{self.number}\x02"


#: The names of the input's axes before the channels, in shape comments of a block class.
AXIS_NAMES = {1: ("T",), 2: ("H", "W"), 3: ("D", "H", "W")}


def merged_shape(calls: list, index: int) -> tuple[tuple, str, set]:
    """The shape comment number `index` of a class over all its calls: (per axis of the .nn
    shape, its text; the layout; the axis names used). A size the same in every call is its
    number (or the parameters' expression); one that follows the input is written with the
    input's axis name (`H`, `H/2`, `W*2`); any other is `?`."""
    shapes, inputs = [], []
    for call in calls:
        shape, _, more = call.slots[index]
        for one in (shape, *more):
            shapes.append(one)
            inputs.append(call.input_shape)
    layout = calls[0].slots[index][1]
    rank = len(shapes[0])
    if any(len(shape) != rank for shape in shapes):
        return tuple("?" for _ in range(rank)), layout, set()
    texts, used = [], set()
    for axis in range(rank):
        values = [shape[axis] for shape in shapes]
        first = values[0]
        if isinstance(first, ParamInt) and all(isinstance(v, ParamInt) and v.expr == first.expr for v in values):
            texts.append(first.text)
            continue
        if all(v is None for v in values):
            texts.append("?")
            continue
        if not all(is_int(v) for v in values):  # a size known by a name only: shown as it is where it agrees
            texts.append(str(first) if first is not None and all(_same_size(v, first) for v in values) else "?")
            continue
        numbers = [int(v) for v in values]
        if all(n == numbers[0] for n in numbers):
            texts.append(str(numbers[0]))
            continue
        texts.append(_relative_size(inputs, numbers, axis, rank, used))
    return tuple(texts), layout, used


def _same_size(value, other) -> bool:
    try:
        return type(value) is type(other) and bool(value == other)
    except Exception:  # noqa: BLE001 - a size that cannot tell: not the same
        return False


def _relative_size(inputs: list, numbers: list, axis: int, rank: int, used: set) -> str:
    """A size that differs between calls, written against the class's input: `H`, `H/2`, `W*2`, `H-4`,
    or `?`."""
    if axis == rank - 1 or any(len(shape) != rank for shape in inputs) or None in numbers:
        return "?"
    sizes = [shape[axis] for shape in inputs]
    if not all(is_int(size) for size in sizes):
        return "?"
    name = AXIS_NAMES.get(rank - 1, ())[axis:axis + 1]
    if not name:
        return "?"
    name = name[0]
    text = "?"
    if all(n == s for n, s in zip(numbers, sizes)):
        text = name
    elif all(n and s % n == 0 for n, s in zip(numbers, sizes)) and len({s // n for n, s in zip(numbers, sizes)}) == 1:
        text = f"{name}/{sizes[0] // numbers[0]}"
    elif all(s and n % s == 0 for n, s in zip(numbers, sizes)) and len({n // s for n, s in zip(numbers, sizes)}) == 1:
        text = f"{name}*{numbers[0] // sizes[0]}"
    elif len({s - n for n, s in zip(numbers, sizes)}) == 1:  # a valid convolution: H-4
        difference = sizes[0] - numbers[0]
        text = f"{name}-{difference}" if difference > 0 else f"{name}+{-difference}"
    if text != "?":
        used.add(name)
    return text


def slot(index: int) -> str:
    """Stands for shape comment `index` of a class until every call of the class is known."""
    return f"\x01{index}\x01"


def slots_in(text: str) -> list:
    """The shape comments `text` holds, in order (their numbers)."""
    return [int(number) for number in re.findall("\x01([0-9]+)\x01", text)]


def renumber_slots(text: str, numbers: dict) -> str:
    """`text` with its shape comments renumbered (`numbers`: old -> new)."""
    return re.sub("\x01([0-9]+)\x01", lambda m: slot(numbers[int(m.group(1))]), text)


def record(names) -> None:
    """Counts `names` as used by the innermost recording (see `recording`)."""
    if _RECORDING:
        _RECORDING[-1].update(names)


def fill(text: str, variants: list, comments) -> str:
    """`text` with the class names of `variants` and the shape comments (`comments(index)`) put in."""
    text = re.sub("\x02([0-9]+)\x02", lambda m: variants[int(m.group(1))].name, text)
    return re.sub("\x01([0-9]+)\x01", lambda m: comments(int(m.group(1))), text)


# --- geometry shared by both exporters ---------------------------------------------


def window_pads(node: ir.LayerNode, framework: str) -> list[tuple[int, int]]:
    """Padding (before, after) per spatial axis of a convolution or pooling window, as inference
    resolved it; a refusal where it depends on a size unknown until run time."""
    window = node.window
    for axis, (before, after) in enumerate(window.padding):
        if not is_int(before) or not is_int(after):
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
        if not all(is_int(count.value) for count in node.counts()):
            raise refuse(framework, node, "its parameters depend on a size unknown until run time",
                         "a framework's layer needs its sizes when it is built: give the input a known size")
