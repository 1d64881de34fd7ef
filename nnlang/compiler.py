"""From syntax tree to compiled models: expand blocks and repeats, resolve layer
kinds and arguments, infer shapes and costs, check expectations.

Errors are collected, never raised: a statement that fails leaves its output
unknown, later statements are still checked for what does not depend on it.
"""

from __future__ import annotations

from typing import NamedTuple, Optional


from . import ast, ir, layers
from .diagnostics import DiagnosticBag, suggest
from .formula import F
from .layers.base import ACTIVATIONS, EXPECTATION_KEYS, fmt_shape
from .parser import MAX_LITERAL
from .source import Span

#: Limits that keep a hostile or mistaken file from exhausting the machine.
MAX_LAYERS = 250_000  # layers in one expanded model
MAX_STEPS = 1_000_000  # statements executed while expanding one model, repeats included
MAX_CALL_DEPTH = 100  # nested block calls
CONVENTIONS = ("keras", "pytorch", "textbook")


class _Stop(Exception):
    """Abandons the current statement after its diagnostic was reported."""


class _TooLarge(Exception):
    """Abandons the whole model: a limit was exceeded."""


class _Tensor(NamedTuple):
    producer: int  # index of the layer that produced it, -1 for the model input
    shape: Optional[tuple]  # None: unknown because of an earlier error


class Compiler:
    def __init__(self, file: ast.File, bag: DiagnosticBag, convention: str = "keras"):
        self.file = file
        self.bag = bag
        self.convention = convention
        self.blocks: dict[str, ast.BlockDef] = {}
        self.inferred: dict = {}  # (kind, input shape, arguments) -> Result, see _infer

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
                self.bag.add("E106", f"'{item.name}' is defined twice", item.name_span,
                             f"first defined at line {first.line}")
                continue
            seen[item.name] = item.name_span
            if isinstance(item, ast.BlockDef):
                if layers.lookup(item.name) is not None:
                    self.bag.add("E115", f"block '{item.name}' has the name of a layer kind", item.name_span,
                                 "choose another name for the block")
                    continue
                self.blocks[item.name] = item
        for model in self.file.models:
            if seen.get(model.name) is model.name_span:
                program.models.append(self._model(model))
        if not self.file.models:
            self.bag.add("W001", "the file defines no model", Span(1, 1, 1, 1),
                         "a model starts with `model NAME {` and an input statement")
        names = {m.name for m in program.models}
        for compare in self.file.compares:
            ok = True
            for name, span in compare.names:
                if name not in names:
                    ok = False
                    self.bag.add("E107", f"compare: there is no model '{name}'", span, suggest(name, names))
            if ok:
                program.comparisons.append(ir.Comparison(tuple(n for n, _ in compare.names), compare.span))
        return program

    # -- models --------------------------------------------------------------
    def _model(self, node: ast.Model) -> ir.Model:
        model = ir.Model(node.name, node.span)
        model.root = ir.Group(node.name, "model", (), node.span)
        self.model = model
        self.counters: dict[str, int] = {}
        self.names: dict[tuple, set] = {}
        self.steps = 0
        self.errors_before = len([d for d in self.bag if d.is_error])
        body = node.body
        if not body or not (isinstance(body[0], ast.Layer) and body[0].kind.lower() == "input"):
            self.bag.add("E113", f"model '{node.name}' does not start with an input statement", node.name_span,
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
            self.bag.add("E103", "input needs a shape, e.g. `input 28x28x3`", stmt.span)
        if stmt.expect is not None:
            self._check_expectation(stmt.expect, shape, None, None, {})
        return shape

    # -- statements ----------------------------------------------------------
    def _body(self, stmts, tensor: _Tensor, env: dict, group: ir.Group, stack: tuple, suffix: str) -> _Tensor:
        for stmt in stmts:
            self.steps += 1
            if self.steps > MAX_STEPS:
                self.bag.add("E112", f"model '{self.model.name}' expands to more than {MAX_STEPS:,} statements",
                             stmt.span, "lower a repeat count")
                raise _TooLarge
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
        kind = layers.lookup(stmt.kind)
        if kind is None or not getattr(kind, "statement", True):
            if stmt.kind.lower() in ("concat", "add"):
                self.bag.add("E101", f"'{stmt.kind}' joins branches: write `{stmt.kind} {{ branch ... }}`",
                             stmt.kind_span)
            else:
                hint = suggest(stmt.kind, [*layers.all_names(), *self.blocks])
                self.bag.add("E101", f"unknown layer kind or block '{stmt.kind}'", stmt.kind_span, hint)
            raise _Stop
        if kind.name == "input":
            self.bag.add("E114", "input may only be the first statement of a model", stmt.kind_span)
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
        before = len(self.bag)
        result = self._infer(stmt, kind, shape, args)
        if result is None:
            if not any(d.is_error for d in self.bag.items[before:]):  # a kind must say why it failed
                self.bag.add("E203", f"{kind.name}: cannot compute the output for input {fmt_shape(shape)}",
                             stmt.span)
            return _Tensor(node.index, None)
        for dim in result.shape:
            if dim is not None and dim <= 0:
                self.bag.add("E202", f"{kind.name}: output size {fmt_shape(result.shape)} has a zero or negative "
                                     "dimension", stmt.span)
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
        """kind.infer, remembered: repeated layers on equal inputs (a chain, a block called
        again, a repeat) are computed once. What reported a diagnostic is computed again,
        so that each statement gets its own."""
        try:
            key = (kind.name, shape, tuple(args.items()))
            hash(key)
        except TypeError:  # an unhashable argument value: not remembered
            key = None
        result = self.inferred.get(key)
        if result is not None:
            return result
        reported = []

        def report(code, message, where=None, *notes):
            reported.append(code)
            self.bag.add(code, message, args.spans.get(where, stmt.span), *notes)

        result = kind.infer(shape, args, layers.Context(self.convention, report))
        if key is not None and result is not None and not reported:
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
        self.bag.add("E201", f"{kind.name} expects a {want}-D input ({kind.rank_hint}), got {fmt_shape(shape)} "
                           f"({len(shape)}-D)", stmt.kind_span, *notes)

    def _last_recurrent(self):
        for node in reversed(self.model.layers[:-1]):
            if node.family == "recurrent":
                return node
        return None

    def _call(self, stmt: ast.Layer, block: ast.BlockDef, tensor, env, group, stack, suffix) -> _Tensor:
        if block.name in stack:
            cycle = " -> ".join(stack[stack.index(block.name):] + (block.name,))
            self.bag.add("E109", f"block '{block.name}' calls itself: {cycle}", stmt.kind_span)
            raise _Stop
        if len(stack) >= MAX_CALL_DEPTH:
            self.bag.add("E112", f"blocks nested more than {MAX_CALL_DEPTH} deep", stmt.span)
            raise _Stop
        bound = self._bind(stmt, block, env)
        name = self._name(stmt.label, block.name, group, suffix, stmt.span)
        call = ir.Group(name, "block", group.path + (name,), stmt.span, block=block.name)
        group.children.append(call)
        out = self._body(block.body, tensor, bound, call, stack + (block.name,), "")
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
                self.bag.add("E108", "positional argument after a named one", item.span)
                raise _Stop
            else:
                positional.append(item)
        keywords += [(o.key, o.value, o.span) for o in stmt.options]
        params = block.params
        signature = f"{block.name}({', '.join(p.name for p in params)})"
        if len(positional) > len(params):
            self.bag.add("E108", f"{block.name} takes {len(params)} argument(s), got {len(positional)}",
                         positional[len(params)].span, f"the block is {signature}")
            raise _Stop
        bound: dict = {}
        for param, value in zip(params, positional):
            bound[param.name] = self._eval(value, env)
        names = [p.name for p in params]
        for key, value, span in keywords:
            if key not in names:
                self.bag.add("E108", f"{block.name} has no parameter '{key}'", span,
                             suggest(key, names) or f"the block is {signature}")
                raise _Stop
            if key in bound:
                self.bag.add("E108", f"parameter '{key}' is given twice", span)
                raise _Stop
            bound[key] = self._eval(value, env)
        for param in params:
            if param.name not in bound:
                if param.default is None:
                    self.bag.add("E108", f"{block.name}: missing argument '{param.name}'", stmt.span,
                                 f"the block is {signature}")
                    raise _Stop
                bound[param.name] = self._eval(param.default, bound)
        return bound

    def _merge(self, stmt: ast.Merge, tensor, env, group, stack, suffix) -> _Tensor:
        attach = stmt.label is None and group.kind == "block"
        if attach:
            owner = group
        else:
            name = self._name(stmt.label, stmt.mode, group, suffix, stmt.span)
            owner = ir.Group(name, stmt.mode, group.path + (name,), stmt.span)
            group.children.append(owner)
        start = len(owner.children)
        outputs = []
        for number, branch in enumerate(stmt.branches, 1):
            label = branch.name or f"branch_{number}"
            bname = self._unique(owner.path, label)
            bgroup = ir.Group(bname, "branch", owner.path + (bname,), branch.span)
            owner.children.append(bgroup)
            out = self._body(branch.body, tensor, env, bgroup, stack, "")
            bgroup.output_shape = out.shape
            outputs.append((bgroup, out))
        kind = layers.lookup(stmt.mode)
        # the join of a labelled or stand-alone concat/add is named like its group
        join_name = self._name(None, stmt.mode, owner, "", stmt.span) if attach else self._unique(owner.path,
                                                                                                 owner.name)
        node = ir.LayerNode(len(self.model.layers), join_name, kind.name,
                            kind.family, owner.path, tuple(o.producer for _, o in outputs),
                            outputs[0][1].shape if outputs else tensor.shape, None, span=stmt.span)
        self._append(node, owner)
        if not outputs:
            self.bag.add("E204", f"{stmt.mode} needs at least one branch", stmt.span)
            raise _Stop
        shapes = [o.shape for _, o in outputs]
        if any(s is None for s in shapes):
            return _Tensor(node.index, None)
        joined = kind.join(shapes)
        if joined is None:
            self._merge_error(stmt, outputs, tensor.shape)
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
        common = reference if reference in keys else max(set(keys), key=keys.count)
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
        self.bag.add("E204", f"{stmt.mode}: the branches' shapes must agree on {what}", stmt.span, *notes)

    def _repeat(self, stmt: ast.Repeat, tensor, env, group, stack, suffix) -> _Tensor:
        count = self._eval(stmt.count, env)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.bag.add("E104", f"repeat needs a non-negative integer count, got {count!r}", stmt.count.span)
            raise _Stop
        if count > MAX_STEPS:
            self.bag.add("E112", f"repeat {count:,} exceeds the limit of {MAX_STEPS:,}", stmt.count.span)
            raise _TooLarge
        owner = group
        if stmt.label is not None:
            name = self._name(stmt.label, "repeat", group, suffix, stmt.span)
            owner = ir.Group(name, "repeat", group.path + (name,), stmt.span, count=count)
            group.children.append(owner)
        for number in range(1, count + 1):
            self.steps += 1
            if self.steps > MAX_STEPS:
                self.bag.add("E112", f"model '{self.model.name}' expands to more than {MAX_STEPS:,} statements",
                             stmt.span, "lower a repeat count")
                raise _TooLarge
            tensor = self._body(stmt.body, tensor, env, owner, stack, f"{suffix}_{number}" if count > 1 else suffix)
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
                self.bag.add("E104", f"unknown activation '{word}'", node.span,
                             suggest(word, ACTIVATIONS) or "activations: " + ", ".join(ACTIVATIONS))
                raise _Stop
        failed = False
        unknown_option = False
        if len(positional) > len(kind.positional):
            extra = positional[len(kind.positional)][1]
            takes = ", ".join(s.name for s in kind.positional) or "no positional arguments"
            self.bag.add("E103", f"{kind.name} takes {len(kind.positional)} positional argument(s) ({takes}), got "
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
                    self.bag.add("E104", f"unknown activation {value!r}", option.value.span,
                                 suggest(str(value), ACTIVATIONS))
                    failed = True
                else:
                    args["activation"] = value.lower()
                continue
            spec = kind.arg(option.key)
            if spec is None:
                names = [s.name for s in kind.all_args()] + [a for s in kind.all_args() for a in s.aliases]
                known = ", ".join(s.name for s in kind.all_args()) or "none"
                self.bag.add("E102", f"{kind.name} has no option '{option.key}'", option.key_span,
                             suggest(option.key, names) or f"its options: {known}")
                failed = unknown_option = True
                continue
            if spec.name in args:
                self.bag.add("E105", f"{spec.name} is given twice", option.span)
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
                    self.bag.add("E103", f"{kind.name} needs {spec.doc or spec.name} ({how})", stmt.kind_span)
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
            self.bag.add("E110", f"unknown name '{node.name}' ({error})", node.span, *notes)
            return
        self.bag.add("E104", str(error), node.span)

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
        if isinstance(node, ast.Tuple):
            return tuple(self._eval(item, env) for item in node.items)
        if isinstance(node, ast.Neg):
            value = self._integer(node.operand, env)
            return -value
        if isinstance(node, ast.KwArg):
            self.bag.add("E104", f"'{node.name}=' is only allowed in a block call", node.span)
            raise _Stop
        if isinstance(node, ast.BinOp):
            left = self._integer(node.left, env)
            right = self._integer(node.right, env)
            op = node.op
            if op in ("//", "/", "%") and right == 0:
                self.bag.add("E111", f"division by zero in {op}", node.span)
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
                    self.bag.add("E104", f"{left}/{right} is not a whole number", node.span,
                                 "use // to round down")
                    raise _Stop
                value = left // right
            if abs(value) > MAX_LITERAL:
                self.bag.add("E005", f"value {value} is out of range", node.span)
                raise _Stop
            return value
        raise AssertionError(f"cannot evaluate {node!r}")

    def _integer(self, node, env) -> int:
        value = self._eval(node, env)
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(node, ast.Name):
                if env:
                    self.bag.add("E110", f"unknown name '{node.name}'", node.span,
                                 suggest(node.name, env) or f"parameters in scope: {', '.join(env)}")
                else:
                    self.bag.add("E110", f"unknown name '{node.name}'", node.span,
                                 "names in expressions are block parameters")
            else:
                self.bag.add("E104", f"expected an integer, got {value!r}", node.span)
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
                self.bag.add("E301", f"output shape: expected {fmt_shape(wanted)}, computed {fmt_shape(shape)}",
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
                self.bag.add("E304", f"unknown expectation '{key}'", span,
                             suggest(key, EXPECTATION_KEYS) or "expectations: " + ", ".join(f"{k}=N" for k in
                                                                                        EXPECTATION_KEYS))
                continue
            if got is None:
                continue
            self.program.expectations_checked += 1
            if got.value == value:
                continue
            code = "E303" if key == "macs" else "E302"
            self.bag.add(code, f"{key}: expected {value:,}, computed {got.worked()}", span)

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
                self.bag.add("W303", f"{node.name} applies softmax before the last layer", node.span,
                             "softmax usually ends a classifier")

    # -- names -----------------------------------------------------------------
    def _name(self, label: Optional[str], base: str, group: ir.Group, suffix: str, span: Span) -> str:
        if label is not None:
            name = label + suffix
            used = self.names.setdefault(group.path, set())
            if name in used:
                self.bag.add("E106", f"'{name}' is used twice in {group.name}", span)
                return self._unique(group.path, name)
            used.add(name)
            return name
        while True:
            count = self.counters.get(base, 0) + 1
            self.counters[base] = count
            name = f"{base}_{count}"
            used = self.names.setdefault(group.path, set())
            if name not in used:
                used.add(name)
                return name

    def _unique(self, path: tuple, name: str) -> str:
        used = self.names.setdefault(path, set())
        candidate, number = name, 1
        while candidate in used:
            number += 1
            candidate = f"{name}_{number}"
        used.add(candidate)
        return candidate

    def _append(self, node: ir.LayerNode, group: ir.Group) -> None:
        if len(self.model.layers) >= MAX_LAYERS:
            self.bag.add("E112", f"model '{self.model.name}' has more than {MAX_LAYERS:,} layers", node.span)
            raise _TooLarge
        self.model.layers.append(node)
        group.children.append(node)


def compile_file(file: ast.File, bag: DiagnosticBag, convention: str = "keras") -> ir.Program:
    return Compiler(file, bag, convention).compile()
