"""From syntax tree to compiled models: expand blocks and repeats, resolve layer
kinds and arguments, infer shapes and costs, check expectations.

Errors are collected, never raised: a statement that fails leaves its output
unknown, later statements are still checked for what does not depend on it.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple, Optional


from .limits import MAX_CALL_DEPTH, MAX_DEPTH, MAX_LAYERS, MAX_NAME, MAX_NODES, MAX_STEPS, MAX_VALUES  # noqa: F401 (also read from here)
from . import ast, ir, layers
from .diagnostics import CODES, ERROR, DiagnosticBag, suggest
from .formula import F
from .layers.base import ACTIVATIONS, EXPECTATION_KEYS, fmt_shape
from .parser import MAX_LITERAL
from .source import NOWHERE, Span

CONVENTIONS = ("keras", "pytorch", "textbook")
#: Forecast sizes stop growing here: far above every limit, and small numbers to multiply.
_SATURATED = 10**18


_STEPS_NOTE = "a step is a statement, a repeat iteration, a block parameter or an operator"
_NODES_NOTE = "groups are block calls, branches, joins and labelled repeats"


class _Stop(Exception):
    """Abandons the current statement after its diagnostic was reported."""


class _TooLarge(Exception):
    """Abandons the whole model: a limit was exceeded."""


class _Tensor(NamedTuple):
    producer: int  # index of the layer that produced it, -1 for the model input
    shape: Optional[tuple]  # None: unknown because of an earlier error


class _Cost(NamedTuple):
    """What expanding some statements takes when none of them fails (see Compiler._cost)."""

    steps: int = 0
    nodes: int = 0  # layers and groups
    layers: int = 0


def _values(shape: tuple) -> int:
    """How many values a tensor of this shape holds (unknown dimensions left out), or
    MAX_VALUES + 1 as soon as it is more."""
    total = 1
    for dim in shape:
        if dim is not None:
            total *= dim
            if total > MAX_VALUES:
                return MAX_VALUES + 1
    return total


def _calls(stmts, blocks: dict):
    """The names of the blocks that stmts call, at any depth of branches and repeats."""
    pending = list(stmts)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, ast.Layer):
            if stmt.kind in blocks:
                yield stmt.kind
        elif isinstance(stmt, ast.Merge):
            for branch in stmt.branches:
                pending.extend(branch.body)
        else:
            pending.extend(stmt.body)


def _cycles(blocks: dict) -> set:
    """The blocks that can call themselves, through other blocks or directly (Tarjan's strongly
    connected components, iterative: a file may define many blocks)."""
    calls = {name: list(dict.fromkeys(_calls(block.body, blocks))) for name, block in blocks.items()}
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    cyclic: set = set()
    for root in calls:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            name, position = work.pop()
            if position == 0:
                index[name] = low[name] = len(index)
                stack.append(name)
                on_stack.add(name)
            callees = calls[name]
            if position < len(callees):
                work.append((name, position + 1))
                callee = callees[position]
                if callee not in index:
                    work.append((callee, 0))
                elif callee in on_stack:
                    low[name] = min(low[name], index[callee])
                continue
            if work:  # back in the caller
                caller = work[-1][0]
                low[caller] = min(low[caller], low[name])
            if low[name] == index[name]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == name:
                        break
                if len(component) > 1 or name in calls[name]:
                    cyclic.update(component)
    return cyclic


def _label_span(label: str, span: Span) -> Span:
    """Where the label of a statement is written: a statement (at span) starts with its label."""
    return Span(span.line, span.column, span.line, span.column + len(label))


class Compiler:
    def __init__(self, file: ast.File, bag: DiagnosticBag, convention: str = "keras"):
        self.file = file
        self.bag = bag
        self.convention = convention
        self.blocks: dict[str, ast.BlockDef] = {}
        self.refused: set = set()  # blocks whose name is too long: reported once, calls to them are skipped
        self.inferred: dict = {}  # (kind, input shape, arguments) -> Result, see _infer
        self.costs: dict = {}  # (statements, merges attach to a block, environment) -> _Cost, see _cost
        self.cyclic: set = set()  # blocks on a cycle of calls (an error when it runs), see _cycles
        self.contextual = False  # _cost met a block of self.cyclic or the nesting limit
        self.in_context = False  # some remembered costs are for one stack of calls
        self.errors = 0  # errors reported, duplicates the bag drops included
        self.quiet = False  # forecasting (see _quietly): nothing is reported

    # -- entry point ---------------------------------------------------------
    def compile(self) -> ir.Program:
        program = ir.Program(convention=self.convention)
        self.program = program
        seen: dict[str, Span] = {}
        for item in self.file.items:
            if isinstance(item, ast.Compare):
                continue
            if item.name in seen:
                first = seen[item.name]
                self._add("E106", f"'{item.name}' is defined twice", item.name_span,
                          f"first defined at line {first.line}")
                continue
            seen[item.name] = item.name_span
            if isinstance(item, ast.BlockDef):
                if self._long_name(item.name, item.name_span, "block name"):
                    self.refused.add(item.name)
                    continue
                if layers.lookup(item.name) is not None:
                    self._add("E115", f"block '{item.name}' has the name of a layer kind", item.name_span,
                              "choose another name for the block")
                    continue
                self.blocks[item.name] = item
        self.cyclic = _cycles(self.blocks)
        for model in self.file.models:
            if seen.get(model.name) is model.name_span:
                program.models.append(self._model(model))
        if not self.file.models:
            self._add("W001", "the file defines no model", Span(1, 1, 1, 1),
                      "a model starts with `model NAME {` and an input statement")
        names = {m.name for m in program.models}
        for compare in self.file.compares:
            ok = True
            for name, span in compare.names:
                if name not in names:
                    ok = False
                    self._add("E107", f"compare: there is no model '{name}'", span, suggest(name, names))
            if ok:
                program.comparisons.append(ir.Comparison(tuple(n for n, _ in compare.names), compare.span))
        return program

    def _add(self, code: str, message: str, span: Span = NOWHERE, *notes: str) -> None:
        """Report a diagnostic; every error is counted, also one the bag drops as a duplicate."""
        if self.quiet:
            return
        if CODES[code].severity == ERROR:
            self.errors += 1
        self.bag.add(code, message, span, *notes)

    def _quietly(self, work, *args):
        """work(*args) as a forecast: nothing reported, no step counted; None when it fails."""
        quiet, steps = self.quiet, self.steps
        self.quiet = True
        try:
            return work(*args)
        except _Stop:
            return None
        finally:
            self.quiet, self.steps = quiet, steps

    def _long_name(self, name: str, span: Span, what: str) -> bool:
        """Report a name or label longer than MAX_NAME: each use would copy it into the compiled model."""
        if len(name) <= MAX_NAME:
            return False
        self._name_too_long(name, span, what)
        return True

    def _name_too_long(self, name: str, span: Span, what: str) -> None:
        self._add("E112", f"a {what} of {len(name):,} characters: names and labels may have at most {MAX_NAME}",
                  span, "choose a shorter name")

    # -- models --------------------------------------------------------------
    def _model(self, node: ast.Model) -> ir.Model:
        model = ir.Model(node.name, node.span)
        model.root = ir.Group(node.name, "model", (), node.span)
        self.model = model
        self.counters: dict[str, int] = {}
        self.names: dict[tuple, set] = {}
        self.numbered: dict[tuple, int] = {}  # (path, name) -> the last number _unique gave it
        self.twice: set = set()  # spans of the labels reported as used twice
        self.steps = 0
        self.nodes = 0  # layers and groups
        self.recurrent = self.recurrent_before = None  # the last recurrent layer, and the one before it
        self.covered = False  # expanding what a forecast (see _cost) has found within the limits
        self.forecast = 0  # statements read by _cost for this model
        self.errors_before = len([d for d in self.bag if d.is_error])
        if self._long_name(node.name, node.name_span, "model name"):
            model.ok = False
            return model
        body = node.body
        if not body or not (isinstance(body[0], ast.Layer) and body[0].kind.lower() == "input"):
            self._add("E113", f"model '{node.name}' does not start with an input statement", node.name_span,
                      "begin the model with e.g. `input 28x28x3`")
            model.ok = False
            return model
        shape = self._input_shape(body[0])
        model.input_shape = shape
        tensor = _Tensor(-1, shape)
        try:
            tensor = self._body(body[1:], tensor, {}, model.root, (), "")
        except _TooLarge:
            model.ok = False
            return model
        model.root.output_shape = tensor.shape
        if tensor.shape is None or len([d for d in self.bag if d.is_error]) > self.errors_before:
            model.ok = False
        self._check_softmax(model)
        return model

    def _input_shape(self, stmt: ast.Layer) -> Optional[tuple]:
        kind = layers.lookup("input")
        try:
            args = self._arguments(stmt, kind, {}, None)
        except _Stop:
            return None
        shape = args.get("shape")
        if shape is None:
            self._add("E103", "input needs a shape, e.g. `input 28x28x3`", stmt.span)
        elif _values(shape) > MAX_VALUES:
            self._too_many_values("input", shape, stmt.span)
            return None
        if stmt.expect is not None:
            self._check_expectation(stmt.expect, shape, None, None, {})
        return shape

    # -- statements ----------------------------------------------------------
    def _body(self, stmts, tensor: _Tensor, env: dict, group: ir.Group, stack: tuple, suffix: str) -> _Tensor:
        for stmt in stmts:
            self.steps += 1
            if self.steps > MAX_STEPS:
                self._too_many_steps(stmt.span)
            try:
                if isinstance(stmt, ast.Layer):
                    tensor = self._layer_or_call(stmt, tensor, env, group, stack, suffix)
                elif isinstance(stmt, ast.Merge):
                    tensor = self._merge(stmt, tensor, env, group, stack, suffix)
                else:
                    tensor = self._repeat(stmt, tensor, env, group, stack, suffix)
            except _Stop:
                tensor = _Tensor(tensor.producer, None)
        return tensor

    def _layer_or_call(self, stmt: ast.Layer, tensor, env, group, stack, suffix) -> _Tensor:
        block = self.blocks.get(stmt.kind)
        if block is not None:
            return self._call(stmt, block, tensor, env, group, stack, suffix)
        if stmt.kind in self.refused:
            raise _Stop
        kind = layers.lookup(stmt.kind)
        if kind is None or not getattr(kind, "statement", True):
            if stmt.kind.lower() in ("concat", "add"):
                self._add("E101", f"'{stmt.kind}' joins branches: write `{stmt.kind} {{ branch ... }}`",
                          stmt.kind_span)
            else:
                hint = suggest(stmt.kind, [*layers.all_names(), *self.blocks])
                self._add("E101", f"unknown layer kind or block '{stmt.kind}'", stmt.kind_span, hint)
            raise _Stop
        if kind.name == "input":
            self._add("E114", "input may only be the first statement of a model", stmt.kind_span)
            raise _Stop
        return self._layer(stmt, kind, tensor, env, group, suffix)

    def _layer(self, stmt: ast.Layer, kind, tensor: _Tensor, env, group, suffix) -> _Tensor:
        shape = tensor.shape
        args = self._arguments(stmt, kind, env, shape)
        activation = args.pop("activation", "")
        name = self._name(stmt.label, kind.name, group, suffix, stmt.span)
        node = ir.LayerNode(len(self.model.layers), name, kind.name, kind.family, group.path, (tensor.producer,),
                            shape, None, span=stmt.span, label=stmt.label, activation=activation, args=dict(args))
        self._append(node, group)
        if shape is None:
            return _Tensor(node.index, None)
        if kind.ranks and len(shape) not in kind.ranks:
            self._rank_error(stmt, kind, shape)
            return _Tensor(node.index, None)
        errors = self.errors
        result = self._infer(stmt, kind, shape, args)
        if result is None:
            if self.errors == errors:  # a kind must say why it failed
                self._add("E203", f"{kind.name}: cannot compute the output for input {fmt_shape(shape)}",
                          stmt.span)
            return _Tensor(node.index, None)
        node.output_shape = tuple(result.shape)
        node.trainable, node.non_trainable = result.trainable, result.non_trainable
        node.macs, node.pool_ops = result.macs, result.pool_ops
        node.kernel, node.stride, node.padding, node.dims = result.kernel, result.stride, result.padding, result.dims
        node.window = result.window
        if stmt.expect is not None:
            self._check_expectation(stmt.expect, node.output_shape, node.trainable + node.non_trainable
                                    if node.non_trainable.value else node.trainable, node.macs, env, node.dims,
                                    {"trainable": node.trainable, "non_trainable": node.non_trainable})
        return _Tensor(node.index, node.output_shape)

    def _infer(self, stmt: ast.Layer, kind, shape: tuple, args: layers.Args) -> Optional[layers.Result]:
        """kind.infer, with its output size checked, remembered: repeated layers on equal inputs
        (a chain, a block called again, a repeat) are computed once. What reported a diagnostic
        is computed again, so that each statement gets its own."""
        key = (kind.name, shape, tuple(args.items()))
        try:
            result = self.inferred.get(key)
        except TypeError:  # an unhashable argument value: not remembered
            key = result = None
        if result is not None:
            return result
        reported = []

        def report(code, message, where=None, *notes):
            reported.append(code)
            self._add(code, message, args.spans.get(where, stmt.span), *notes)

        result = kind.infer(shape, args, layers.Context(self.convention, report))
        if result is None:
            return None
        values = 1
        for dim in result.shape:
            if dim is not None:
                if dim <= 0:
                    self._add("E202", f"{kind.name}: output size {fmt_shape(result.shape)} has a zero or negative "
                                      "dimension", stmt.span)
                    return None
                values *= dim
        if values > MAX_VALUES:
            self._too_many_values(kind.name, result.shape, stmt.span)
            return None
        if key is not None and not reported:
            self.inferred[key] = result
        return result

    def _rank_error(self, stmt, kind, shape) -> None:
        want = kind.ranks[0]
        notes = []
        if kind.family == "recurrent" and len(shape) == 1:
            lower = self._last_recurrent()
            if lower is not None:
                notes.append(f"the {lower.kind} at line {lower.span.line} returns only its last output: give it "
                             "return_sequences=true")
            else:
                notes.append("a recurrent layer needs a sequence: time steps x features")
        elif len(shape) < want:
            notes.append(f"add a reshape before it, e.g. `reshape {fmt_shape((None,) * (want - 1) + (1,))}`"
                         .replace("?", "N") if want > 1 else "")
        elif kind.name == "conv2d" and len(shape) == 2:
            notes.append("for a sequence (length x channels) use conv1d")
        self._add("E201", f"{kind.name} expects a {want}-D input ({kind.rank_hint}), got {fmt_shape(shape)} "
                        f"({len(shape)}-D)", stmt.kind_span, *notes)

    def _last_recurrent(self):
        """The last recurrent layer before the one just appended, itself a recurrent layer."""
        return self.recurrent_before

    def _call(self, stmt: ast.Layer, block: ast.BlockDef, tensor, env, group, stack, suffix) -> _Tensor:
        if block.name in stack:
            cycle = " -> ".join(stack[stack.index(block.name):] + (block.name,))
            self._add("E109", f"block '{block.name}' calls itself: {cycle}", stmt.kind_span)
            raise _Stop
        if len(stack) >= MAX_CALL_DEPTH:
            self._add("E112", f"blocks nested more than {MAX_CALL_DEPTH} deep", stmt.span)
            raise _Stop
        bound = self._bind(stmt, block, env)
        inner = stack + (block.name,)
        covered = self.covered
        if not covered:  # what it expands to is forecast once; the calls and repeats inside are covered
            cost = self._cost(block.body, bound, inner, True)
            self._afford(_Cost(cost.steps, 1 + cost.nodes, cost.layers), stmt.span,
                         f"the call of block '{block.name}'",
                         "count what the blocks it calls expand to: calls and repeats multiply")
        name = self._name(stmt.label, block.name, group, suffix, stmt.span)
        call = self._group(name, "block", group, stmt.span, block=block.name)
        self.covered = True
        try:
            out = self._body(block.body, tensor, bound, call, inner, "")
        finally:
            self.covered = covered
        call.output_shape = out.shape
        if stmt.expect is not None and out.shape is not None:
            self._check_group_expectation(stmt.expect, call.children, out.shape, env)
        return out

    def _bind(self, stmt: ast.Layer, block: ast.BlockDef, env: dict) -> dict:
        """The block's parameters bound to the call's arguments."""
        positional: list = []
        keywords: list = []  # (name, value expr, span)
        items = stmt.args
        if len(items) == 1 and isinstance(items[0], ast.Tuple):
            items = items[0].items
        for item in items:
            if isinstance(item, ast.KwArg):
                keywords.append((item.name, item.value, item.span))
            elif keywords:
                self._add("E108", "positional argument after a named one", item.span)
                raise _Stop
            else:
                positional.append(item)
        if stmt.options:
            keywords += [(o.key, o.value, o.span) for o in stmt.options]
        params = block.params
        self.steps += len(params)

        def signature() -> str:
            return f"{block.name}({', '.join(p.name for p in params)})"

        if len(positional) > len(params):
            self._add("E108", f"{block.name} takes {len(params)} argument(s), got {len(positional)}",
                      positional[len(params)].span, f"the block is {signature()}")
            raise _Stop
        bound: dict = {}
        for param, value in zip(params, positional):
            bound[param.name] = self._eval(value, env)
        names = {p.name: None for p in params} if keywords else {}  # in order, for the hint; found at once
        for key, value, span in keywords:
            if key not in names:
                self._add("E108", f"{block.name} has no parameter '{key}'", span,
                          suggest(key, names) or f"the block is {signature()}")
                raise _Stop
            if key in bound:
                self._add("E108", f"parameter '{key}' is given twice", span)
                raise _Stop
            bound[key] = self._eval(value, env)
        for param in params:
            if param.name not in bound:
                if param.default is None:
                    self._add("E108", f"{block.name}: missing argument '{param.name}'", stmt.span,
                              f"the block is {signature()}")
                    raise _Stop
                bound[param.name] = self._eval(param.default, bound)
        return bound

    def _merge(self, stmt: ast.Merge, tensor, env, group, stack, suffix) -> _Tensor:
        attach = stmt.label is None and group.kind == "block"
        if attach:
            owner = group
        else:
            name = self._name(stmt.label, stmt.mode, group, suffix, stmt.span)
            owner = self._group(name, stmt.mode, group, stmt.span)
        start = len(owner.children)
        outputs = []
        for number, branch in enumerate(stmt.branches, 1):
            if branch.name is not None and len(branch.name) > MAX_NAME:
                self._name_too_long(branch.name, branch.span, "branch name")
                raise _Stop
            label = branch.name or f"branch_{number}"
            bname = self._unique(owner.path, label)
            bgroup = self._group(bname, "branch", owner, branch.span)
            out = self._body(branch.body, tensor, env, bgroup, stack, "")
            bgroup.output_shape = out.shape
            outputs.append((bgroup, out))
        kind = layers.lookup(stmt.mode)
        # the join of a labelled or stand-alone concat/add is named like its group
        join_name = self._name(None, stmt.mode, owner, "", stmt.span) if attach else self._unique(owner.path,
                                                                                                 owner.name)
        node = ir.LayerNode(len(self.model.layers), join_name, kind.name,
                            kind.family, owner.path, tuple([o.producer for _, o in outputs]),
                            outputs[0][1].shape if outputs else tensor.shape, None, span=stmt.span)
        self._append(node, owner)
        if not outputs:
            self._add("E204", f"{stmt.mode} needs at least one branch", stmt.span)
            raise _Stop
        shapes = [o.shape for _, o in outputs]
        if None in shapes:
            return _Tensor(node.index, None)
        joined = kind.join(shapes)
        if joined is None:
            self._merge_error(stmt, outputs, tensor.shape)
            return _Tensor(node.index, None)
        if _values(joined) > MAX_VALUES:
            self._too_many_values(stmt.mode, joined, stmt.span)
            return _Tensor(node.index, None)
        node.output_shape = joined
        if not attach:
            owner.output_shape = joined
        if stmt.expect is not None:
            self._check_group_expectation(stmt.expect, owner.children[start:], joined, env)
        return _Tensor(node.index, joined)

    def _merge_error(self, stmt: ast.Merge, outputs, entry: Optional[tuple]) -> None:
        shapes = [o.shape for _, o in outputs]
        what = "all but the channel axis" if stmt.mode == "concat" else "every axis"
        notes = [f"branch {g.name}: {fmt_shape(o.shape)}" for g, o in outputs]
        if stmt.mode == "concat":
            keys = [s[:-1] for s in shapes]
        else:
            keys = shapes
        reference = None if entry is None else (entry[:-1] if stmt.mode == "concat" else entry)
        # the size the branches should keep: the input's, when some branch keeps it, else the most common
        counts = Counter(keys)
        common = reference if reference in counts else max(set(keys), key=counts.__getitem__)
        for bgroup, out in outputs:
            key = out.shape[:-1] if stmt.mode == "concat" else out.shape
            if key == common:
                continue
            for layer in bgroup.layers():
                if layer.input_shape and layer.output_shape and layer.input_shape[:-1] != layer.output_shape[:-1] \
                        and len(layer.input_shape) == len(layer.output_shape):
                    fix = []
                    if layer.stride and set(layer.stride.split("x")) != {"1"}:
                        fix.append(f"its stride {layer.stride} shrinks the size")
                    if layer.padding and not layer.padding.startswith("same"):
                        fix.append("pad=same would keep the size")
                    notes.append(f"in branch {bgroup.name}, {layer.name} (line {layer.span.line}) turns "
                                 f"{fmt_shape(layer.input_shape[:-1])} into {fmt_shape(layer.output_shape[:-1])}"
                                 + (": " + " and ".join(fix) if fix else ""))
        if stmt.mode == "add" and len({s[:-1] for s in shapes}) == 1:
            notes.append("the channel counts differ: a 1x1 convolution on the shortcut can match them")
        self._add("E204", f"{stmt.mode}: the branches' shapes must agree on {what}", stmt.span, *notes)

    def _repeat(self, stmt: ast.Repeat, tensor, env, group, stack, suffix) -> _Tensor:
        count = self._eval(stmt.count, env)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self._add("E104", f"repeat needs a non-negative integer count, got {count!r}", stmt.count.span)
            raise _Stop
        if count > MAX_STEPS:
            self._add("E112", f"repeat {count:,} exceeds the limit of {MAX_STEPS:,}", stmt.count.span)
            raise _TooLarge
        labelled = stmt.label is not None
        covered = self.covered
        if not covered and count:  # what it expands to is forecast once; the calls and repeats inside are covered
            once = self._cost(stmt.body, env, stack, group.kind == "block" and not labelled)
            self._afford(_Cost(count * (1 + once.steps), count * once.nodes + labelled, count * once.layers),
                         stmt.count.span, f"repeat {count:,}", "lower the repeat count")
        owner = group
        if labelled:
            name = self._name(stmt.label, "repeat", group, suffix, stmt.span)
            owner = self._group(name, "repeat", group, stmt.span, count=count)
        # An iteration depends on its input shape only (names aside). Once an error inside has left the
        # shape unknown, an iteration on the unknown shape reports what it can; the next ones would only
        # repeat it and add layers of unknown shape, so the expansion stops there. (Errors that leave the
        # shape known, such as a wrong expectation, keep the model's layers and totals whole.)
        errors = self.errors
        unknown = False  # an iteration ran on an unknown shape since an error inside
        self.covered = True
        try:
            for number in range(1, count + 1):
                if tensor.shape is None and self.errors > errors:
                    if unknown:
                        break
                    unknown = True
                self.steps += 1
                if self.steps > MAX_STEPS:
                    self._too_many_steps(stmt.span)
                tensor = self._body(stmt.body, tensor, env, owner, stack,
                                    f"{suffix}_{number}" if count > 1 else suffix)
        finally:
            self.covered = covered
        if owner is not group:
            owner.output_shape = tensor.shape
        return tensor

    # -- arguments -------------------------------------------------------------
    def _arguments(self, stmt: ast.Layer, kind, env: dict, shape) -> layers.Args:
        axes = layers.spatial_axes(kind, shape)
        values = [(self._eval(arg, env), arg) for arg in stmt.args]
        args = layers.Args()
        args.spans = {}  # argument name -> where it is written, for placing diagnostics
        positional = values
        required = [s for s in kind.positional if s.required]
        if kind.takes_activation and values and isinstance(values[-1][0], str) and len(values) > len(required):
            word, node = values[-1]
            if word.lower() in ACTIVATIONS:
                args["activation"] = word.lower()
                positional = values[:-1]
            elif len(values) > len(kind.positional):
                self._add("E104", f"unknown activation '{word}'", node.span,
                          suggest(word, ACTIVATIONS) or "activations: " + ", ".join(ACTIVATIONS))
                raise _Stop
        failed = False
        unknown_option = False
        if len(positional) > len(kind.positional):
            extra = positional[len(kind.positional)][1]
            takes = ", ".join(s.name for s in kind.positional) or "no positional arguments"
            self._add("E103", f"{kind.name} takes {len(kind.positional)} positional argument(s) ({takes}), got "
                              f"{len(positional)}", extra.span, "options are written key=value")
            raise _Stop
        for spec, (value, node) in zip(kind.positional, positional):
            args.spans[spec.name] = node.span
            try:
                args[spec.name] = layers.coerce(spec, value, axes)
            except layers.BadValue as error:
                self._bad_value(error, node, env)
                args[spec.name] = None  # reported: not missing
                failed = True
        for option in stmt.options:
            if option.key in ("activation",) and kind.takes_activation:
                value = self._eval(option.value, env)
                if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
                    self._add("E104", f"unknown activation {value!r}", option.value.span,
                              suggest(str(value), ACTIVATIONS))
                    failed = True
                else:
                    args["activation"] = value.lower()
                continue
            spec = kind.arg(option.key)
            if spec is None:
                names = [s.name for s in kind.all_args()] + [a for s in kind.all_args() for a in s.aliases]
                known = ", ".join(s.name for s in kind.all_args()) or "none"
                self._add("E102", f"{kind.name} has no option '{option.key}'", option.key_span,
                          suggest(option.key, names) or f"its options: {known}")
                failed = unknown_option = True
                continue
            if spec.name in args:
                self._add("E105", f"{spec.name} is given twice", option.span)
                failed = True
                continue
            value = self._eval(option.value, env)
            args.spans[spec.name] = option.span
            try:
                args[spec.name] = layers.coerce(spec, value, axes)
            except layers.BadValue as error:
                self._bad_value(error, option.value, env)
                args[spec.name] = None  # reported: not missing
                failed = True
        for spec in kind.all_args():
            if spec.name not in args:
                if spec.required and unknown_option:
                    continue  # most likely the misspelt option just reported
                if spec.required:
                    how = f"{spec.name}=..." if spec in kind.options else spec.name
                    self._add("E103", f"{kind.name} needs {spec.doc or spec.name} ({how})", stmt.kind_span)
                    failed = True
                else:
                    default = spec.default
                    if spec.type == "dims" and isinstance(default, int):
                        default = (default,) * axes
                    args[spec.name] = default
        if failed:
            raise _Stop
        return args

    def _bad_value(self, error, node, env) -> None:
        notes = []
        if isinstance(node, ast.Name) and env:
            notes.append(suggest(node.name, env) or f"parameters in scope: {', '.join(env)}")
            self._add("E110", f"unknown name '{node.name}' ({error})", node.span, *notes)
            return
        self._add("E104", str(error), node.span)

    # -- expressions ----------------------------------------------------------
    def _eval(self, node, env: dict):
        if isinstance(node, ast.Int):
            return node.value
        if isinstance(node, ast.Float):
            return node.value
        if isinstance(node, ast.Name):
            return env.get(node.name, node.name)
        if isinstance(node, ast.Unknown):
            return None
        if isinstance(node, ast.ShapeLit):
            return node.dims
        self.steps += 1  # an operator: counted, since a repeat or a block evaluates it again
        if isinstance(node, ast.Tuple):
            return tuple(self._eval(item, env) for item in node.items)
        if isinstance(node, ast.Neg):
            value = self._integer(node.operand, env)
            return -value
        if isinstance(node, ast.KwArg):
            self._add("E104", f"'{node.name}=' is only allowed in a block call", node.span)
            raise _Stop
        if isinstance(node, ast.BinOp):
            left = self._integer(node.left, env)
            right = self._integer(node.right, env)
            op = node.op
            if op in ("//", "/", "%") and right == 0:
                self._add("E111", f"division by zero in {op}", node.span)
                raise _Stop
            if op == "+":
                value = left + right
            elif op == "-":
                value = left - right
            elif op == "*":
                value = left * right
            elif op == "//":
                value = left // right
            elif op == "%":
                value = left % right
            else:
                if left % right:
                    self._add("E104", f"{left}/{right} is not a whole number", node.span,
                              "use // to round down")
                    raise _Stop
                value = left // right
            if abs(value) > MAX_LITERAL:
                self._add("E005", f"value {value} is out of range", node.span)
                raise _Stop
            return value
        raise AssertionError(f"cannot evaluate {node!r}")

    def _integer(self, node, env) -> int:
        value = self._eval(node, env)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(node, ast.Name):
                if env:
                    self._add("E110", f"unknown name '{node.name}'", node.span,
                              suggest(node.name, env) or f"parameters in scope: {', '.join(env)}")
                else:
                    self._add("E110", f"unknown name '{node.name}'", node.span,
                              "names in expressions are block parameters")
            else:
                self._add("E104", f"expected an integer, got {value!r}", node.span)
            raise _Stop
        return value

    # -- expectations -----------------------------------------------------------
    def _check_expectation(self, expect: ast.Expectation, shape, params: Optional[F], macs: Optional[F], env,
                           dims=(), counts: Optional[dict] = None) -> None:
        if expect.shape is not None and shape is not None:
            wanted = self._eval(expect.shape, env)
            if not isinstance(wanted, tuple):
                wanted = (wanted,)
            self.program.expectations_checked += 1
            if tuple(wanted) != tuple(shape):
                notes = []
                spatial = [d for d in dims if d is not None]
                if spatial:
                    notes.append("computed: " + ", ".join(d.worked() for d in spatial))
                self._add("E301", f"output shape: expected {fmt_shape(wanted)}, computed {fmt_shape(shape)}",
                          expect.shape.span, *notes)
        for key, node, span in expect.counts:
            try:
                value = self._integer(node, env)
            except _Stop:
                continue
            if key == "params":
                got = params
            elif key == "macs":
                got = macs
            elif key in ("trainable", "non_trainable") and counts is not None:
                got = counts[key]
            else:
                self._add("E304", f"unknown expectation '{key}'", span,
                          suggest(key, EXPECTATION_KEYS) or "expectations: " + ", ".join(f"{k}=N" for k in
                                                                                     EXPECTATION_KEYS))
                continue
            if got is None:
                continue
            self.program.expectations_checked += 1
            if got.value == value:
                continue
            code = "E303" if key == "macs" else "E302"
            self._add(code, f"{key}: expected {value:,}, computed {got.worked()}", span)

    def _check_group_expectation(self, expect, children, shape, env) -> None:
        inside = ir.Group("", "block", (), None, children=list(children)).totals()
        where = f"the sum over its {inside.layers} layers"
        self._check_expectation(expect, shape, F(inside.params, where), F(inside.macs, where), env, (),
                                {"trainable": F(inside.trainable, where),
                                 "non_trainable": F(inside.non_trainable, where)})

    def _check_softmax(self, model: ir.Model) -> None:
        real = [n for n in model.layers if n.kind not in ("dropout",)]
        for node in real[:-1]:
            if node.activation == "softmax" or (node.kind == "activation" and node.args.get("function") == "softmax"):
                self._add("W303", f"{node.name} applies softmax before the last layer", node.span,
                          "softmax usually ends a classifier")

    # -- names -----------------------------------------------------------------
    def _name(self, label: Optional[str], base: str, group: ir.Group, suffix: str, span: Span) -> str:
        if label is not None:
            if len(label) > MAX_NAME:
                self._name_too_long(label, _label_span(label, span), "label")
                raise _Stop
            name = label + suffix
            used = self.names.get(group.path)
            if used is None:
                used = self.names[group.path] = set()
            elif name in used:
                if span not in self.twice:  # once per statement, not once per repetition or call
                    self.twice.add(span)
                    self._add("E106", f"'{name}' is used twice in {group.name}", span)
                return self._unique(group.path, name)
            used.add(name)
            return name
        used = self.names.get(group.path)
        if used is None:
            used = self.names[group.path] = set()
        while True:
            count = self.counters.get(base, 0) + 1
            self.counters[base] = count
            name = f"{base}_{count}"
            if name not in used:
                used.add(name)
                return name

    def _unique(self, path: tuple, name: str) -> str:
        """name, or the first of name_2, name_3, ... not used in path yet."""
        used = self.names.setdefault(path, set())
        if name not in used:
            used.add(name)
            return name
        number = self.numbered.get((path, name), 1)  # the numbers below it are taken: names stay used
        candidate = name
        while candidate in used:
            number += 1
            candidate = f"{name}_{number}"
        self.numbered[path, name] = number
        used.add(candidate)
        return candidate

    def _append(self, node: ir.LayerNode, group: ir.Group) -> None:
        if len(self.model.layers) >= MAX_LAYERS:
            self._add("E112", f"model '{self.model.name}' has more than {MAX_LAYERS:,} layers", node.span)
            raise _TooLarge
        if self.nodes >= MAX_NODES:
            self._too_many_nodes(node.span)
        self.nodes += 1
        if node.family == "recurrent":
            self.recurrent_before, self.recurrent = self.recurrent, node
        self.model.layers.append(node)
        group.children.append(node)

    def _group(self, name: str, kind: str, parent: ir.Group, span: Span, **fields) -> ir.Group:
        """A new group inside parent, counted against the limits before it is made."""
        if len(parent.path) >= MAX_DEPTH:
            self._add("E112", f"blocks, branches, joins and repeats nested more than {MAX_DEPTH} deep", span)
            raise _Stop
        if self.nodes >= MAX_NODES:
            self._too_many_nodes(span)
        self.nodes += 1
        group = ir.Group(name, kind, parent.path + (name,), span, **fields)
        parent.children.append(group)
        return group

    # -- limits -----------------------------------------------------------------
    def _too_many_steps(self, span: Span):
        self._add("E112", f"model '{self.model.name}' takes more than {MAX_STEPS:,} steps to expand", span,
                  _STEPS_NOTE, "lower a repeat count")
        raise _TooLarge

    def _too_many_nodes(self, span: Span):
        self._add("E112", f"model '{self.model.name}' has more than {MAX_NODES:,} layers and groups", span,
                  _NODES_NOTE, "lower a repeat count")
        raise _TooLarge

    def _too_many_values(self, what: str, shape: tuple, span: Span) -> None:
        self._add("E112", f"{what}: a tensor of {fmt_shape(shape)} holds more than {MAX_VALUES:,} values", span,
                  "check the sizes: no network has tensors this large")

    def _afford(self, cost: _Cost, span: Span, what: str, hint: str) -> None:
        """Refuse, before expanding it, what would take the model past a limit."""
        if len(self.model.layers) + cost.layers <= MAX_LAYERS and self.nodes + cost.nodes <= MAX_NODES \
                and self.steps + cost.steps <= MAX_STEPS:
            return
        if cost.steps >= _SATURATED:  # the forecast gave up: reading the program went past MAX_STEPS
            self._add("E112", f"{what} expands to more than the {MAX_STEPS:,} steps model '{self.model.name}' "
                              "may take", span, _STEPS_NOTE, hint)
            raise _TooLarge
        for need, have, limit, unit, verb, note in (
                (cost.layers, len(self.model.layers), MAX_LAYERS, "layers", "have", ""),
                (cost.nodes, self.nodes, MAX_NODES, "layers and groups", "have", _NODES_NOTE),
                (cost.steps, self.steps, MAX_STEPS, "steps", "take", _STEPS_NOTE)):
            if have + need > limit:
                if have > limit:  # passed already, by operators not forecast
                    self._too_many_steps(span)
                amount = f"{need:,}" if need < _SATURATED else f"more than {_SATURATED:,}"
                self._add("E112", f"{what} expands to {amount} {unit}: model '{self.model.name}' would {verb} more "
                                  f"than {limit:,}", span, note, hint)
                raise _TooLarge

    def _cost(self, stmts: tuple, env: dict, stack: tuple, attach: bool) -> _Cost:
        """What expanding stmts takes when none of them fails: the steps (statements, repeat
        iterations, block parameters; operators are left out), the layers and groups it makes.
        Read from the program text without expanding it, so that a limit fires before the memory
        and time are spent. `attach`: stmts sit directly in a block, where an unlabelled join
        makes no group of its own.

        Remembered per (statements, attach, environment), and per stack of calls too when it met
        a block of a call cycle or the nesting limit, which depend on the calls around it (both
        are errors, reported when the model is expanded)."""
        key = (id(stmts), attach, tuple(env.items()))
        try:
            cost = self.costs.get(key)
        except TypeError:  # an unhashable value: not remembered
            key = cost = None
        if cost is None and key is not None and self.in_context:
            cost = self.costs.get(key + (stack,))
        if cost is not None:
            return cost
        # Every statement read here runs at least once when the model is expanded (bodies repeated 0
        # times are not read), so reading more than MAX_STEPS of them means the expansion would take more.
        self.forecast += len(stmts)
        if self.forecast > MAX_STEPS:
            return _Cost(_SATURATED, _SATURATED, _SATURATED)
        contextual, self.contextual = self.contextual, False
        steps = nodes = count = 0
        for stmt in stmts:
            steps += 1
            if isinstance(stmt, ast.Layer):
                block = self.blocks.get(stmt.kind)
                if block is None:
                    kind = layers.lookup(stmt.kind)
                    if kind is not None and getattr(kind, "statement", True) and kind.name != "input":
                        nodes += 1
                        count += 1
                    continue
                if len(stack) >= MAX_CALL_DEPTH or block.name in self.cyclic:
                    self.contextual = True
                    if len(stack) >= MAX_CALL_DEPTH or block.name in stack:
                        continue  # an error, reported when it is expanded
                bound = self._quietly(self._bind, stmt, block, env)
                if bound is not None:
                    inner = self._cost(block.body, bound, stack + (block.name,), True)
                    steps += len(block.params) + inner.steps
                    nodes += 1 + inner.nodes
                    count += inner.layers
            elif isinstance(stmt, ast.Merge):
                nodes += len(stmt.branches) + 1 + (stmt.label is not None or not attach)  # branches, join, group
                count += 1
                for branch in stmt.branches:
                    inner = self._cost(branch.body, env, stack, False)
                    steps, nodes, count = steps + inner.steps, nodes + inner.nodes, count + inner.layers
            else:
                times = self._quietly(self._eval, stmt.count, env)
                if not isinstance(times, int) or isinstance(times, bool) or times <= 0:
                    continue
                labelled = stmt.label is not None
                inner = self._cost(stmt.body, env, stack, attach and not labelled)
                steps += times * (1 + inner.steps)
                nodes += times * inner.nodes + labelled
                count += times * inner.layers
        cost = _Cost(min(steps, _SATURATED), min(nodes, _SATURATED), min(count, _SATURATED))
        if key is not None:
            if self.contextual:
                key += (stack,)
                self.in_context = True
            self.costs[key] = cost
        self.contextual = self.contextual or contextual
        return cost


def compile_file(file: ast.File, bag: DiagnosticBag, convention: str = "keras") -> ir.Program:
    return Compiler(file, bag, convention).compile()
