"""The first pass: expand blocks and repeats, name layers, resolve arguments, infer shapes and costs.

Expansion and inference are one pass, not two: resolving a layer's arguments needs the rank of
its input (a per-axis option such as `k=3` becomes one entry per spatial axis, see
`layers.spatial_axes`), which only inference of the layers before it gives; and how the
expansion goes on after an error (a repeat stops once an iteration ran on an unknown shape, a
layer of unknown input reports only what does not depend on it) depends on what inference found.

Work is bounded before it is done: a block call or repeat is forecast from the program text
(`forecast`) and refused with a located E112 when it would take the model past a limit.
Expectations (`->`) met on the way are recorded in the context for the expectation pass.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple, Optional

from .. import ast, ir, layers
from ..formula import is_sym, is_symbolic_error
from ..diagnostics import suggest
from ..layers.base import ACTIVATIONS, fmt_dims, fmt_shape
from ..limits import MAX_CALL_DEPTH, MAX_DEPTH, MAX_LAYERS, MAX_NAME, MAX_NODES, MAX_STEPS, MAX_VALUES
from ..source import Span
from .context import ModelContext, Scope, Site, Stop, TooLarge, operators

#: Forecast sizes stop growing here: far above every limit, and small numbers to multiply.
SATURATED = 10**18

_STEPS_NOTE = "a step is a statement, a repeat iteration, a block parameter or an operator"
_NODES_NOTE = "groups are block calls, branches, joins and labelled repeats"


class Tensor(NamedTuple):
    producer: int  # index of the layer that produced it, -1 for the model input
    shape: Optional[tuple]  # None: unknown because of an earlier error


class Cost(NamedTuple):
    """What expanding some statements takes when none of them fails (see Expansion.forecast)."""

    steps: int = 0
    nodes: int = 0  # layers and groups
    layers: int = 0


def values_in(shape: tuple) -> int:
    """How many values a tensor of this shape holds (unknown and named sizes left out), or
    MAX_VALUES + 1 as soon as it is more."""
    total = 1
    for dim in shape:
        if type(dim) is int:
            total *= dim
            if total > MAX_VALUES:
                return MAX_VALUES + 1
    return total


def _plain(value) -> bool:
    """An integer, a word, an unknown, or a tuple of them: values equal only when of equal type."""
    kind = type(value)
    if kind is int or kind is str or value is None:
        return True
    return kind is tuple and all(_plain(item) for item in value)


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


def cycles(blocks: dict) -> set:
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


def name_too_long(ctx: ModelContext, name: str, span: Span, what: str) -> None:
    ctx.report("E112", f"a {what} of {len(name):,} characters: names and labels may have at most {MAX_NAME}",
               span, "choose a shorter name")


def expand_and_infer(ctx: ModelContext) -> None:
    """The pass: the model's layers and groups, with shapes and costs, in ctx.model."""
    Expansion(ctx).run()


class Expansion:
    def __init__(self, ctx: ModelContext):
        self.ctx = ctx
        compiler = ctx.compiler
        self.blocks = compiler.blocks
        self.refused = compiler.refused
        self.cyclic = compiler.cyclic
        self.inferred = compiler.inferred  # (kind, input shape, arguments) -> Result, see infer
        self.forecasts = compiler.forecasts  # file-wide memory of the forecast, see forecast
        self.resolved = compiler.resolved  # (statement, axes, environment) -> arguments, see resolve
        self.calls: list = []  # (block, span) of the block calls being expanded, innermost last
        self.model = ctx.model
        self.report = ctx.report
        self.evaluate = ctx.evaluate

    def run(self) -> None:
        ctx, node, model = self.ctx, self.ctx.node, self.model
        if len(node.name) > MAX_NAME:
            name_too_long(ctx, node.name, node.name_span, "model name")
            model.ok = False
            return
        body = node.body
        first = layers.lookup(body[0].kind) if body and isinstance(body[0], ast.Layer) else None
        if first is None or not first.model_input:
            self.report("E113", f"model '{node.name}' does not start with an input statement", node.name_span,
                        "begin the model with e.g. `input 28x28x3`")
            model.ok = False
            return
        shape = self.input_shape(body[0], first)
        model.input_shape = shape
        try:
            tensor = self.body(body[1:], Tensor(-1, shape), Scope({}, model.root, (), ""))
        except TooLarge:
            model.ok = False
            return
        model.root.output_shape = tensor.shape
        if tensor.shape is None:
            model.ok = False
        ctx.expanded = True

    def expect(self, expect: ast.Expectation, env: dict, shape, layer=None, covers=None) -> None:
        """Record an expectation for the expectation pass, counting the steps checking it takes."""
        ctx = self.ctx
        ctx.steps += operators(expect.shape) if shape is not None else 0
        ctx.steps += sum(operators(node) for _, node, _ in expect.counts)
        ctx.expectations.append(Site(ctx.found, expect, env, shape, layer, covers))

    def input_shape(self, stmt: ast.Layer, kind) -> Optional[tuple]:
        try:
            args = self.arguments(stmt, kind, {}, None)
        except Stop:
            return None
        shape = args.get("shape")
        if shape is None:
            self.report("E103", "input needs a shape, e.g. `input 28x28x3`", stmt.span)
        else:
            shape = self.named_sizes(shape)
        if shape is not None and values_in(shape) > MAX_VALUES:
            self.too_many_values("input", shape, stmt.span)
            return None
        if stmt.expect is not None:
            self.expect(stmt.expect, {}, shape)
        return shape

    def named_sizes(self, shape: tuple) -> tuple:
        """The input shape with every size that is not a number made a named size (a Sym): a name
        written in it (`input HxWx3`, `input T`) is that name; an unnamed `?` is named after its
        axis where the rank makes it clear (T for a sequence's length or tokens, H and W for an image's
        height and width, D H W for a volume's), else ?1, ?2 ... A size --set gives a value is
        that number (kept in model.size_values); the model's other sizes, by name, in model.sizes."""
        sizes = self.model.sizes
        written = {d for d in shape if isinstance(d, str)}
        axes = {1: ("T",), 2: ("T", None), 3: ("H", "W", None), 4: ("D", "H", "W", None)}.get(len(shape), ())
        out = []
        for axis, dim in enumerate(shape):
            if dim is None:
                name = axes[axis] if axis < len(axes) else None
                if name is None or name in written or name in sizes:
                    number = 1
                    while f"?{number}" in sizes:
                        number += 1
                    name = f"?{number}"
                dim = name
            if isinstance(dim, str):
                from .. import symbolic

                value = self.ctx.compiler.size_values.get(dim)
                if value is not None:  # --set gives it a value
                    self.model.size_values[dim] = dim = value
                else:
                    dim = sizes.setdefault(dim, symbolic.symbol(dim))
            out.append(dim)
        return tuple(out)

    # -- statements ----------------------------------------------------------
    def body(self, stmts, tensor: Tensor, scope: Scope) -> Tensor:
        ctx = self.ctx
        layer_or_call, Layer, Merge = self.layer_or_call, ast.Layer, ast.Merge
        for stmt in stmts:
            steps = ctx.steps = ctx.steps + 1
            if steps > MAX_STEPS:
                self.too_many_steps(stmt.span)
            try:
                if isinstance(stmt, Layer):
                    tensor = layer_or_call(stmt, tensor, scope)
                elif isinstance(stmt, Merge):
                    tensor = self.merge(stmt, tensor, scope)
                else:
                    tensor = self.repeat(stmt, tensor, scope)
            except Stop:
                tensor = Tensor(tensor.producer, None)
        return tensor

    def layer_or_call(self, stmt: ast.Layer, tensor: Tensor, scope: Scope) -> Tensor:
        block = self.blocks.get(stmt.kind)
        if block is not None:
            return self.call(stmt, block, tensor, scope)
        if stmt.kind in self.refused:
            raise Stop
        kind = layers.lookup(stmt.kind)
        if kind is None or not kind.statement:
            if kind is not None and kind.joins_branches and stmt.kind.lower() == kind.name:  # its keyword
                self.report("E101", f"'{stmt.kind}' joins branches: write `{stmt.kind} {{ branch ... }}`",
                            stmt.kind_span)
            else:
                hint = suggest(stmt.kind, [*layers.all_names(), *self.blocks])
                self.report("E101", f"unknown layer kind or block '{stmt.kind}'", stmt.kind_span, hint)
            raise Stop
        if kind.model_input:
            self.report("E114", "input may only be the first statement of a model", stmt.kind_span)
            raise Stop
        return self.layer(stmt, kind, tensor, scope)

    def layer(self, stmt: ast.Layer, kind, tensor: Tensor, scope: Scope) -> Tensor:
        ctx = self.ctx
        shape = tensor.shape
        args, activation, items = self.resolve(stmt, kind, scope.env, shape,
                                               again=bool(scope.stack or scope.suffix))
        group = scope.group
        name = self.name(stmt.label, kind.name, group, scope.suffix, stmt.span)
        node = ir.LayerNode(len(self.model.layers), name, kind.name, kind.family, group.path,
                            (tensor.producer,), shape, None, span=stmt.span, label=stmt.label,
                            activation=activation, args=dict(args), convention=ctx.convention)
        self.append(node, group)
        if shape is None:
            return Tensor(node.index, None)
        if kind.ranks and len(shape) not in kind.ranks:
            self.rank_error(stmt, kind, shape)
            return Tensor(node.index, None)
        errors = ctx.errors
        result = self.infer(stmt, kind, shape, args, items)
        if result is None:
            if ctx.errors == errors:  # a kind must say why it failed
                self.report("E203", f"{kind.name}: cannot compute the output for input {fmt_shape(shape)}",
                            stmt.span)
            return Tensor(node.index, None)
        node.output_shape = tuple(result.shape)
        node.result = result  # its fields copied, see ir.LayerNode
        if stmt.expect is not None:
            self.expect(stmt.expect, scope.env, node.output_shape, layer=node)
        return Tensor(node.index, node.output_shape)

    def infer(self, stmt: ast.Layer, kind, shape: tuple, args: layers.Args, items: tuple) -> Optional[layers.Result]:
        """kind.infer, with its output size checked, remembered: repeated layers on equal inputs
        (a chain, a block called again, a repeat) are computed once. What reported a diagnostic
        is computed again, so that each statement gets its own. `items`: tuple(args.items())."""
        key = (kind.name, shape, items)
        try:
            result = self.inferred.get(key)
        except TypeError:  # an unhashable argument value: not remembered
            key = result = None
        if result is not None:
            return result
        reported = []

        def report(code, message, where=None, *notes):
            reported.append(code)
            self.report(code, message, args.spans.get(where, stmt.span), *notes)

        try:
            result = kind.infer(shape, args, layers.Context(report))
        except ValueError as error:  # a named size's formula that depends on its value
            if not is_symbolic_error(error):
                raise
            report("E205", f"{kind.name}: the output depends on the named sizes in a way no single formula "
                           f"gives ({error})", None, "give the sizes values: --set NAME=VALUE")
            return None
        if result is None:
            return None
        values = 1
        for dim in result.shape:
            if dim is not None:
                if type(dim) is not int:  # a named size's expression: an error only where it cannot be positive
                    if layers.base.never_positive(dim):
                        self.report("E202", f"{kind.name}: output size {fmt_shape(result.shape)} is zero or negative "
                                            "for every value of its sizes", stmt.span)
                        return None
                    continue
                if dim <= 0:
                    self.report("E202", f"{kind.name}: output size {fmt_shape(result.shape)} has a zero or negative "
                                        "dimension", stmt.span)
                    return None
                values *= dim
        if values > MAX_VALUES:
            self.too_many_values(kind.name, result.shape, stmt.span)
            return None
        if key is not None and not reported:
            self.inferred[key] = result
        return result

    def rank_error(self, stmt, kind, shape) -> None:
        want = kind.ranks[0]
        notes = []
        if kind.family == "recurrent" and len(shape) == 1:
            lower = self.ctx.recurrent_before  # the recurrent layer before this one
            if lower is not None:
                notes.append(f"the {lower.kind} at line {lower.span.line} returns only its last output: give it "
                             "return_sequences=true")
            else:
                notes.append("a recurrent layer needs a sequence: time steps x features")
        elif len(shape) < want:
            notes.append(f"add a reshape before it, e.g. `reshape {fmt_shape((None,) * (want - 1) + (1,))}`"
                         .replace("?", "N") if want > 1 else "")
        else:
            notes.append(getattr(kind, "rank_notes", {}).get(len(shape), ""))
        self.report("E201", f"{kind.name} expects a {want}-D input ({kind.rank_hint}), got {fmt_shape(shape)} "
                            f"({len(shape)}-D)", stmt.kind_span, *notes)

    def call(self, stmt: ast.Layer, block: ast.BlockDef, tensor: Tensor, scope: Scope) -> Tensor:
        ctx, stack = self.ctx, scope.stack
        if block.name in stack:
            cycle = " -> ".join(stack[stack.index(block.name):] + (block.name,))
            self.report("E109", f"block '{block.name}' calls itself: {cycle}", stmt.kind_span)
            raise Stop
        if len(stack) >= MAX_CALL_DEPTH:
            self.report("E112", f"blocks nested more than {MAX_CALL_DEPTH} deep", stmt.span)
            raise Stop
        bound = self.bind(stmt, block, scope.env)
        inner = stack + (block.name,)
        covered = ctx.covered
        if not covered:  # what it expands to is forecast once; the calls and repeats inside are covered
            cost = self.forecast(block.body, bound, inner, True)
            self.afford(Cost(cost.steps, 1 + cost.nodes, cost.layers), stmt.span,
                        f"the call of block '{block.name}'",
                        "count what the blocks it calls expand to: calls and repeats multiply")
        name = self.name(stmt.label, block.name, scope.group, scope.suffix, stmt.span)
        group = self.group(name, "block", scope.group, stmt.span, block=block.name, labelled=stmt.label is not None,
                           arguments=tuple(bound.values()) if stack else None)
        ctx.covered = True
        self.calls.append((block.name, stmt.span))
        try:
            out = self.body(block.body, tensor, Scope(bound, group, inner, ""))
        finally:
            ctx.covered = covered
            self.calls.pop()
        group.output_shape = out.shape
        if stmt.expect is not None and out.shape is not None:
            self.expect(stmt.expect, scope.env, out.shape, covers=group.children)
        return out

    def bind(self, stmt: ast.Layer, block: ast.BlockDef, env: dict) -> dict:
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
                self.report("E108", "positional argument after a named one", item.span)
                raise Stop
            else:
                positional.append(item)
        if stmt.options:
            keywords += [(o.key, o.value, o.span) for o in stmt.options]
        params = block.params
        self.ctx.steps += len(params)

        def signature() -> str:
            return f"{block.name}({', '.join(p.name for p in params)})"

        if len(positional) > len(params):
            self.report("E108", f"{block.name} takes {len(params)} argument(s), got {len(positional)}",
                        positional[len(params)].span, f"the block is {signature()}")
            raise Stop
        bound: dict = {}
        for param, value in zip(params, positional):
            bound[param.name] = self.evaluate(value, env)
        names = {p.name: None for p in params} if keywords else {}  # in order, for the hint; found at once
        for key, value, span in keywords:
            if key not in names:
                self.report("E108", f"{block.name} has no parameter '{key}'", span,
                            suggest(key, names) or f"the block is {signature()}")
                raise Stop
            if key in bound:
                self.report("E108", f"parameter '{key}' is given twice", span)
                raise Stop
            bound[key] = self.evaluate(value, env)
        for param in params:
            if param.name not in bound:
                if param.default is None:
                    self.report("E108", f"{block.name}: missing argument '{param.name}'", stmt.span,
                                f"the block is {signature()}")
                    raise Stop
                bound[param.name] = self.evaluate(param.default, bound)
        return bound

    def merge(self, stmt: ast.Merge, tensor: Tensor, scope: Scope) -> Tensor:
        group = scope.group
        attach = stmt.label is None and group.kind == "block"
        if attach:
            owner = group
        else:
            name = self.name(stmt.label, stmt.mode, group, scope.suffix, stmt.span)
            owner = self.group(name, stmt.mode, group, stmt.span, labelled=stmt.label is not None)
        start = len(owner.children)
        outputs = []
        for number, branch in enumerate(stmt.branches, 1):
            if branch.name is not None and len(branch.name) > MAX_NAME:
                name_too_long(self.ctx, branch.name, branch.span, "branch name")
                raise Stop
            label = branch.name or f"branch_{number}"
            bname = self.unique(owner.path, label)
            bgroup = self.group(bname, "branch", owner, branch.span, labelled=branch.name is not None)
            out = self.body(branch.body, tensor, Scope(scope.env, bgroup, scope.stack, ""))
            bgroup.output_shape = out.shape
            outputs.append((bgroup, out))
        kind = layers.lookup(stmt.mode)
        # the join of a labelled or stand-alone concat/add is named like its group
        join_name = self.name(None, stmt.mode, owner, "", stmt.span) if attach else self.unique(owner.path,
                                                                                               owner.name)
        node = ir.LayerNode(len(self.model.layers), join_name, kind.name,
                            kind.family, owner.path, tuple([o.producer for _, o in outputs]),
                            outputs[0][1].shape if outputs else tensor.shape, None, span=stmt.span,
                            convention=self.ctx.convention)
        self.append(node, owner)
        if not outputs:
            self.report("E204", f"{stmt.mode} needs at least one branch", stmt.span)
            raise Stop
        shapes = [o.shape for _, o in outputs]
        if None in shapes:
            return Tensor(node.index, None)
        joined = kind.join(shapes)
        if joined is None:
            self.merge_error(stmt, kind, outputs, tensor.shape)
            return Tensor(node.index, None)
        if values_in(joined) > MAX_VALUES:
            self.too_many_values(stmt.mode, joined, stmt.span)
            return Tensor(node.index, None)
        node.output_shape = joined
        if not attach:
            owner.output_shape = joined
        if stmt.expect is not None:
            self.expect(stmt.expect, scope.env, joined, covers=owner.children[start:])
        return Tensor(node.index, joined)

    def merge_error(self, stmt: ast.Merge, kind, outputs, entry: Optional[tuple]) -> None:
        shapes = [o.shape for _, o in outputs]
        notes = [f"branch {g.name}: {fmt_shape(o.shape)}" for g, o in outputs]
        keys = [kind.compared(s) for s in shapes]
        reference = None if entry is None else kind.compared(entry)
        # the size the branches should keep: the input's, when some branch keeps it, else the most common
        counts = Counter(keys)
        common = reference if reference in counts else max(set(keys), key=counts.__getitem__)
        for bgroup, out in outputs:
            if kind.compared(out.shape) == common:
                continue
            for layer in bgroup.layers():
                if layer.input_shape and layer.output_shape and layer.input_shape[:-1] != layer.output_shape[:-1] \
                        and len(layer.input_shape) == len(layer.output_shape):
                    fix = []
                    window = layer.window
                    if window is not None and any(step != 1 for step in window.stride):
                        fix.append(f"its stride {fmt_dims(window.stride)} shrinks the size")
                    if window is not None and not window.same:
                        fix.append("pad=same would keep the size")
                    notes.append(f"in branch {bgroup.name}, {layer.name} (line {layer.span.line}) turns "
                                 f"{fmt_shape(layer.input_shape[:-1])} into {fmt_shape(layer.output_shape[:-1])}"
                                 + (": " + " and ".join(fix) if fix else ""))
        notes.append(kind.mismatch_note(shapes))
        self.report("E204", f"{stmt.mode}: the branches' shapes must agree on {kind.agreement}", stmt.span, *notes)

    def repeat(self, stmt: ast.Repeat, tensor: Tensor, scope: Scope) -> Tensor:
        ctx, group = self.ctx, scope.group
        count = self.evaluate(stmt.count, scope.env)
        if is_sym(count):
            self.report("E104", f"repeat needs a number of times, not a named size ({count})", stmt.count.span,
                        f"give the size a value: --set {sorted(count.names)[0]}=N")
            raise Stop
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.report("E104", f"repeat needs a non-negative integer count, got {count!r}", stmt.count.span)
            raise Stop
        if count > MAX_STEPS:
            self.report("E112", f"repeat {count:,} exceeds the limit of {MAX_STEPS:,}", stmt.count.span)
            raise TooLarge
        labelled = stmt.label is not None
        covered = ctx.covered
        if not covered and count:  # what it expands to is forecast once; the calls and repeats inside are covered
            once = self.forecast(stmt.body, scope.env, scope.stack, group.kind == "block" and not labelled)
            self.afford(Cost(count * (1 + once.steps), count * once.nodes + labelled, count * once.layers),
                        stmt.count.span, f"repeat {count:,}", "lower the repeat count")
        owner = group
        if labelled:
            name = self.name(stmt.label, "repeat", group, scope.suffix, stmt.span)
            owner = self.group(name, "repeat", group, stmt.span, count=count, labelled=True)
        # An iteration depends on its input shape only (names aside). Once an error inside has left the
        # shape unknown, an iteration on the unknown shape reports what it can; the next ones would only
        # repeat it and add layers of unknown shape, so the expansion stops there. (Errors that leave the
        # shape known, such as a wrong expectation, keep the model's layers and totals whole.)
        errors = ctx.errors
        unknown = False  # an iteration ran on an unknown shape since an error inside
        ctx.covered = True
        suffix = scope.suffix
        start = len(owner.children)  # what the repeat adds: an expectation after it checks their totals
        try:
            for number in range(1, count + 1):
                if tensor.shape is None and ctx.errors > errors:
                    if unknown:
                        break
                    unknown = True
                ctx.steps += 1
                if ctx.steps > MAX_STEPS:
                    self.too_many_steps(stmt.span)
                tensor = self.body(stmt.body, tensor, Scope(scope.env, owner, scope.stack,
                                                            f"{suffix}_{number}" if count > 1 else suffix))
        finally:
            ctx.covered = covered
        if owner is not group:
            owner.output_shape = tensor.shape
        if stmt.expect is not None and tensor.shape is not None:
            self.expect(stmt.expect, scope.env, tensor.shape, covers=owner.children[start:])
        return tensor

    # -- arguments -------------------------------------------------------------
    def resolve(self, stmt: ast.Layer, kind, env: dict, shape, again: bool = True) -> tuple:
        """arguments() without the activation: (args, activation, tuple(args.items())),
        remembered per (statement, spatial axes, environment) when the statement may be met
        `again` (inside a repeat or a block): a statement repeated or in a block called again
        resolves its arguments once for the same parameters; one written once is not kept. What failed is resolved
        again, so that each statement gets its own diagnostics; a hit counts the operators its
        evaluation took. Remembered only for environments of integers, words and unknowns
        (tuples of them too), whose equal values are of equal types: 1, 1.0 and True are not."""
        ctx = self.ctx
        key = (id(stmt), layers.spatial_axes(kind, shape), tuple(env.items())) if env else \
            (id(stmt), layers.spatial_axes(kind, shape))
        if self.model.sizes:  # a name may be one of them here, and a word in another model
            key += (tuple(self.model.sizes),)
        if not again or (env and not all(_plain(value) for value in env.values())):
            key = None
        else:
            found = self.resolved.get(key)
            if found is not None:
                ctx.steps += found[3]
                return found[:3]
        steps = ctx.steps
        args = self.arguments(stmt, kind, env, shape)
        activation = args.pop("activation", "")
        found = (args, activation, tuple(args.items()), ctx.steps - steps)
        if key is not None:
            self.resolved[key] = found
        return found[:3]

    def arguments(self, stmt: ast.Layer, kind, env: dict, shape) -> layers.Args:
        evaluate, report = self.evaluate, self.report
        axes = layers.spatial_axes(kind, shape)
        values = [(evaluate(arg, env), arg) for arg in stmt.args]
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
                report("E104", f"unknown activation '{word}'", node.span,
                       suggest(word, ACTIVATIONS) or "activations: " + ", ".join(ACTIVATIONS))
                raise Stop
        failed = False
        unknown_option = False
        if len(positional) > len(kind.positional):
            extra = positional[len(kind.positional)][1]
            takes = ", ".join(s.name for s in kind.positional) or "no positional arguments"
            report("E103", f"{kind.name} takes {len(kind.positional)} positional argument(s) ({takes}), got "
                           f"{len(positional)}", extra.span, "options are written key=value")
            raise Stop
        for spec, (value, node) in zip(kind.positional, positional):
            args.spans[spec.name] = node.span
            try:
                args[spec.name] = layers.coerce(spec, value, axes)
            except layers.BadValue as error:
                self.bad_value(error, node, env)
                args[spec.name] = None  # reported: not missing
                failed = True
        for option in stmt.options:
            if option.key in ("activation",) and kind.takes_activation:
                value = evaluate(option.value, env)
                if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
                    report("E104", f"unknown activation {value!r}", option.value.span,
                           suggest(str(value), ACTIVATIONS))
                    failed = True
                else:
                    args["activation"] = value.lower()
                continue
            spec = kind.arg(option.key)
            if spec is None:
                names = [s.name for s in kind.all_args()] + [a for s in kind.all_args() for a in s.aliases]
                known = ", ".join(s.name for s in kind.all_args()) or "none"
                report("E102", f"{kind.name} has no option '{option.key}'", option.key_span,
                       suggest(option.key, names) or f"its options: {known}")
                failed = unknown_option = True
                continue
            if spec.name in args:
                report("E105", f"{spec.name} is given twice", option.span)
                failed = True
                continue
            value = evaluate(option.value, env)
            args.spans[spec.name] = option.span
            try:
                args[spec.name] = layers.coerce(spec, value, axes)
            except layers.BadValue as error:
                self.bad_value(error, option.value, env)
                args[spec.name] = None  # reported: not missing
                failed = True
        for spec in kind.all_args():
            if spec.name not in args:
                if spec.required and unknown_option:
                    continue  # most likely the misspelt option just reported
                if spec.required:
                    how = f"{spec.name}=..." if spec in kind.options else spec.name
                    report("E103", f"{kind.name} needs {spec.doc or spec.name} ({how})", stmt.kind_span)
                    failed = True
                else:
                    default = spec.default
                    if spec.type == "dims" and isinstance(default, int):
                        default = (default,) * axes
                    args[spec.name] = default
        if failed:
            raise Stop
        return args

    def bad_value(self, error, node, env) -> None:
        notes = []
        if isinstance(node, ast.Name) and node.name in env and self.calls:
            # a block parameter the call gave a value the layer refuses: said at the call
            block, span = self.calls[-1]
            value = env[node.name]
            shown = repr(value) if isinstance(value, str) else value  # a word quoted; a number or a size as written
            self.report("E104", f"{block}: {node.name}={shown} does not fit: {error}", span,
                        f"{node.name} is used at line {node.span.line}, column {node.span.column}")
            return
        if isinstance(node, ast.Name) and env:
            notes.append(suggest(node.name, env) or f"parameters in scope: {', '.join(env)}")
            self.report("E110", f"unknown name '{node.name}' ({error})", node.span, *notes)
            return
        self.report("E104", str(error), node.span)

    # -- names -----------------------------------------------------------------
    def name(self, label: Optional[str], base: str, group: ir.Group, suffix: str, span: Span) -> str:
        ctx = self.ctx
        if label is not None:
            if len(label) > MAX_NAME:
                name_too_long(ctx, label, _label_span(label, span), "label")
                raise Stop
            name = label + suffix
            used = ctx.names.get(group.path)
            if used is None:
                used = ctx.names[group.path] = set()
            elif name in used:
                if span not in ctx.twice:  # once per statement, not once per repetition or call
                    ctx.twice.add(span)
                    self.report("E106", f"'{name}' is used twice in {group.name}", span)
                return self.unique(group.path, name)
            used.add(name)
            return name
        used = ctx.names.get(group.path)
        if used is None:
            used = ctx.names[group.path] = set()
        counters = ctx.counters
        while True:
            count = counters.get(base, 0) + 1
            counters[base] = count
            name = f"{base}_{count}"
            if name not in used:
                used.add(name)
                return name

    def unique(self, path: tuple, name: str) -> str:
        """name, or the first of name_2, name_3, ... not used in path yet."""
        ctx = self.ctx
        used = ctx.names.setdefault(path, set())
        if name not in used:
            used.add(name)
            return name
        number = ctx.numbered.get((path, name), 1)  # the numbers below it are taken: names stay used
        candidate = name
        while candidate in used:
            number += 1
            candidate = f"{name}_{number}"
        ctx.numbered[path, name] = number
        used.add(candidate)
        return candidate

    def append(self, node: ir.LayerNode, group: ir.Group) -> None:
        ctx = self.ctx
        if ctx.layers_before + len(self.model.layers) >= MAX_LAYERS:
            self.report("E112", f"model '{self.model.name}' has more than {MAX_LAYERS:,} layers", node.span,
                        self.earlier_models())
            raise TooLarge
        if ctx.nodes >= MAX_NODES:
            self.too_many_nodes(node.span)
        ctx.nodes += 1
        if node.family == "recurrent":
            ctx.recurrent_before, ctx.recurrent = ctx.recurrent, node
        self.model.layers.append(node)
        group.children.append(node)

    def group(self, name: str, kind: str, parent: ir.Group, span: Span, **fields) -> ir.Group:
        """A new group inside parent, counted against the limits before it is made."""
        ctx = self.ctx
        if len(parent.path) >= MAX_DEPTH:
            self.report("E112", f"blocks, branches, joins and repeats nested more than {MAX_DEPTH} deep", span)
            raise Stop
        if ctx.nodes >= MAX_NODES:
            self.too_many_nodes(span)
        ctx.nodes += 1
        group = ir.Group(name, kind, parent.path + (name,), span, **fields)
        parent.children.append(group)
        return group

    # -- limits -----------------------------------------------------------------
    def too_many_steps(self, span: Span):
        self.report("E112", f"model '{self.model.name}' takes more than {MAX_STEPS:,} steps to expand", span,
                    _STEPS_NOTE, self.earlier_models(), "lower a repeat count")
        raise TooLarge

    def too_many_nodes(self, span: Span):
        self.report("E112", f"model '{self.model.name}' has more than {MAX_NODES:,} layers and groups", span,
                    _NODES_NOTE, self.earlier_models(), "lower a repeat count")
        raise TooLarge

    def earlier_models(self) -> str:
        """A note when the models before this one count against the file's limits."""
        ctx = self.ctx
        if not ctx.nodes_before and not ctx.steps_before:
            return ""
        return (f"the limit holds for the whole file: the models before it have {ctx.layers_before:,} layers, "
                f"{ctx.nodes_before:,} layers and groups, and took {ctx.steps_before:,} steps")

    def too_many_values(self, what: str, shape: tuple, span: Span) -> None:
        self.report("E112", f"{what}: a tensor of {fmt_shape(shape)} holds more than {MAX_VALUES:,} values", span,
                    "check the sizes: no network has tensors this large")

    def afford(self, cost: Cost, span: Span, what: str, hint: str) -> None:
        """Refuse, before expanding it, what would take the model past a limit."""
        ctx = self.ctx
        if ctx.layers_before + len(self.model.layers) + cost.layers <= MAX_LAYERS \
                and ctx.nodes + cost.nodes <= MAX_NODES \
                and ctx.steps + cost.steps <= MAX_STEPS:
            return
        if cost.steps >= SATURATED:  # the forecast gave up: reading the program went past MAX_STEPS
            self.report("E112", f"{what} expands to more than the {MAX_STEPS:,} steps model '{self.model.name}' "
                                "may take", span, _STEPS_NOTE, hint)
            raise TooLarge
        for need, have, limit, unit, verb, note in (
                (cost.layers, ctx.layers_before + len(self.model.layers), MAX_LAYERS, "layers", "have",
                 self.earlier_models()),
                (cost.nodes, ctx.nodes, MAX_NODES, "layers and groups", "have",
                 _NODES_NOTE + ("; " + self.earlier_models() if ctx.nodes_before else "")),
                (cost.steps, ctx.steps, MAX_STEPS, "steps", "take", _STEPS_NOTE)):
            if have + need > limit:
                if have > limit:  # passed already, by operators not forecast
                    self.too_many_steps(span)
                amount = f"{need:,}" if need < SATURATED else f"more than {SATURATED:,}"
                self.report("E112", f"{what} expands to {amount} {unit}: model '{self.model.name}' would {verb} "
                                    f"more than {limit:,}", span, note, hint)
                raise TooLarge

    def quietly(self, work, *args):
        """work(*args) as a forecast: nothing reported, no step counted; None when it fails."""
        ctx = self.ctx
        quiet, steps = ctx.quiet, ctx.steps
        ctx.quiet = True
        try:
            return work(*args)
        except Stop:
            return None
        finally:
            ctx.quiet, ctx.steps = quiet, steps

    def forecast(self, stmts: tuple, env: dict, stack: tuple, attach: bool) -> Cost:
        """What expanding stmts takes when none of them fails: the steps (statements, repeat
        iterations, block parameters; operators are left out), the layers and groups it makes.
        Read from the program text without expanding it, so that a limit fires before the memory
        and time are spent. `attach`: stmts sit directly in a block, where an unlabelled join
        makes no group of its own.

        Remembered per (statements, attach, environment), and per stack of calls too when it met
        a block of a call cycle or the nesting limit, which depend on the calls around it (both
        are errors, reported when the model is expanded)."""
        memory, ctx = self.forecasts, self.ctx
        key = (id(stmts), attach, tuple(env.items()))
        try:
            cost = memory.costs.get(key)
        except TypeError:  # an unhashable value: not remembered
            key = cost = None
        if cost is None and key is not None and memory.in_context:
            cost = memory.costs.get(key + (stack,))
        if cost is not None:
            return cost
        # Every statement read here runs at least once when the model is expanded (bodies repeated 0
        # times are not read), so reading more than MAX_STEPS of them means the expansion would take more.
        ctx.forecast += len(stmts)
        if ctx.forecast > MAX_STEPS:
            return Cost(SATURATED, SATURATED, SATURATED)
        contextual, memory.contextual = memory.contextual, False
        steps = nodes = count = 0
        for stmt in stmts:
            steps += 1
            if isinstance(stmt, ast.Layer):
                block = self.blocks.get(stmt.kind)
                if block is None:
                    kind = layers.lookup(stmt.kind)
                    if kind is not None and kind.statement and not kind.model_input:
                        nodes += 1
                        count += 1
                    continue
                if len(stack) >= MAX_CALL_DEPTH or block.name in self.cyclic:
                    memory.contextual = True
                    if len(stack) >= MAX_CALL_DEPTH or block.name in stack:
                        continue  # an error, reported when it is expanded
                bound = self.quietly(self.bind, stmt, block, env)
                if bound is not None:
                    inner = self.forecast(block.body, bound, stack + (block.name,), True)
                    steps += len(block.params) + inner.steps
                    nodes += 1 + inner.nodes
                    count += inner.layers
            elif isinstance(stmt, ast.Merge):
                nodes += len(stmt.branches) + 1 + (stmt.label is not None or not attach)  # branches, join, group
                count += 1
                for branch in stmt.branches:
                    inner = self.forecast(branch.body, env, stack, False)
                    steps, nodes, count = steps + inner.steps, nodes + inner.nodes, count + inner.layers
            else:
                times = self.quietly(self.evaluate, stmt.count, env)
                if not isinstance(times, int) or isinstance(times, bool) or times <= 0:
                    continue
                labelled = stmt.label is not None
                inner = self.forecast(stmt.body, env, stack, attach and not labelled)
                steps += times * (1 + inner.steps)
                nodes += times * inner.nodes + labelled
                count += times * inner.layers
        cost = Cost(min(steps, SATURATED), min(nodes, SATURATED), min(count, SATURATED))
        if key is not None:
            if memory.contextual:
                key += (stack,)
                memory.in_context = True
            memory.costs[key] = cost
        memory.contextual = memory.contextual or contextual
        return cost


class Forecasts:
    """What the forecast remembers for a whole file (blocks are shared by its models)."""

    def __init__(self):
        self.costs: dict = {}  # (statements, attach, environment[, stack]) -> Cost
        self.contextual = False  # the forecast met a block of a call cycle or the nesting limit
        self.in_context = False  # some remembered costs are for one stack of calls
