"""What the passes over one model share: the scope a statement is expanded in, the model's
context (its state, made in one place), and the expression evaluation every pass uses."""

from __future__ import annotations

from typing import NamedTuple, Optional

from .. import ast, ir
from ..formula import is_sym
from ..diagnostics import CODES, ERROR, suggest
from ..limits import MAX_DIAGNOSTICS, MAX_LITERAL

#: The largest exponent `^` takes (T^2 for attention; a bound keeps numbers small).
MAX_EXPONENT = 8
from ..source import NOWHERE, Span

#: Distinct diagnostics a pass holds for one model before the bag sees them: past this many, the
#: bag (which keeps MAX_DIAGNOSTICS, some of which may be held already) would drop the rest.
_HELD = 2 * MAX_DIAGNOSTICS + 2


class Stop(Exception):
    """Abandons the current statement after its diagnostic was reported."""


class TooLarge(Exception):
    """Abandons the whole model: a limit was exceeded."""


class Scope(NamedTuple):
    """Where a statement is expanded."""

    env: dict  # the block parameters in scope: name -> value
    group: ir.Group  # the group its layers and groups go into
    stack: tuple  # the names of the blocks being called, outermost first
    suffix: str  # added to labels inside a repeat: _1, _2, ...


class Site(NamedTuple):
    """An expectation (`->`) met by the expansion, kept for the expectation pass."""

    order: int  # diagnostics the expansion reported before it: its results come right after them
    expect: ast.Expectation
    env: dict  # the block parameters in scope where it is written
    shape: Optional[tuple]  # what was computed for it (None: unknown)
    layer: Optional[ir.LayerNode]  # the layer it is written on; None for the input and for groups
    covers: Optional[list]  # a block call's or a join's layers and groups, whose totals it checks


class ModelContext:
    """One model being compiled: its IR, the state of its expansion, and the diagnostics the
    passes report, handed to the bag in the order a single walk of the program finds them (an
    expectation's right after the statement it is written on, the lint rules' last)."""

    def __init__(self, compiler, node: ast.Model):
        self.compiler = compiler  # file-wide: blocks, caches, convention, program, bag
        self.node = node
        self.bag = compiler.bag
        self.program = compiler.program
        self.convention = compiler.convention
        self.model = ir.Model(node.name, node.span)
        self.model.root = ir.Group(node.name, "model", (), node.span)
        self.counters: dict[str, int] = {}  # kind -> the last number an unlabelled layer of it got
        self.names: dict[tuple, set] = {}  # group path -> names used in it
        self.numbered: dict[tuple, int] = {}  # (path, name) -> the last number unique() gave it
        self.twice: set = set()  # spans of the labels reported as used twice
        # steps, layers and groups: the limits hold for the whole file, so the counts start with
        # the models compiled before this one
        self.steps_before = self.steps = compiler.file_steps
        self.nodes_before = compiler.file_nodes
        self.layers_before = compiler.file_layers
        self.nodes = self.nodes_before
        self.recurrent = self.recurrent_before = None  # the last recurrent layer, and the one before it
        self.covered = False  # expanding what a forecast has found within the limits
        self.forecast = 0  # statements read by the forecast for this model
        self.errors = 0  # errors reported, duplicates included
        self.quiet = False  # forecasting: nothing is reported
        self.expectations: list[Site] = []
        self.expanded = False  # the expansion ran to the end: the lint rules may read the whole model
        self.errors_before = sum(1 for d in self.bag if d.is_error)
        self._held: list = []  # ((position, phase, number), code, message, span, notes)
        self._keys: set = set()
        self.found = 0  # diagnostics the expansion reported (an expectation site is placed after them)
        self._number = 0
        self._anchor: Optional[int] = None  # set by the later passes: where their diagnostics go
        # the `allow`s in force: the model's own and those written in the blocks (each covers a
        # span of its block); the codes they name, to test a warning in one step
        self.allows: tuple = node.allows + compiler.block_allows
        self.allowed_codes = frozenset(code for allow in self.allows for code, _ in allow.codes)
        self.allowed: set = set()  # (allow, code) that silenced a diagnostic

    # -- diagnostics ---------------------------------------------------------------------------
    def report(self, code: str, message: str, span: Span = NOWHERE, *notes: str) -> None:
        """Report a diagnostic; every error is counted, also one the bag will drop as a duplicate."""
        if self.quiet:
            return
        if code in self.allowed_codes and self._allows(code, span):
            return
        if CODES[code].severity == ERROR:
            self.errors += 1
        if self._anchor is None:
            position, phase = self.found, 1
            self.found += 1
        else:
            position, phase = self._anchor, 0
        key = (phase, code, span, message)
        if key in self._keys or len(self._keys) > _HELD:  # the bag keeps the first; it is full past _HELD
            return
        self._keys.add(key)
        self._number += 1
        self._held.append(((position, phase, self._number), code, message, span, notes))

    def _allows(self, code: str, span: Span) -> bool:
        """Whether an `allow` in force covers `code` at `span` (and remember which one did)."""
        covered = False
        for allow in self.allows:
            if allow.scope is None or within(span, allow.scope):
                if any(allowed == code for allowed, _ in allow.codes):
                    self.allowed.add((allow, code))
                    covered = True
        return covered

    def place(self, position: Optional[int]) -> None:
        """Report what follows as if found after `position` diagnostics of the expansion (None: in
        the order found; anything above every position: last)."""
        self._anchor = position

    def flush(self) -> None:
        """Hand the diagnostics to the bag, in order, and settle whether the model compiled."""
        self._held.sort(key=lambda held: held[0])
        for _, code, message, span, notes in self._held:
            self.bag.add(code, message, span, *notes)
        self._held.clear()
        if sum(1 for d in self.bag if d.is_error) > self.errors_before:
            self.model.ok = False

    # -- expressions ---------------------------------------------------------------------------
    def evaluate(self, node, env: dict):
        if isinstance(node, ast.Int):
            return node.value
        if isinstance(node, ast.Float):
            return node.value
        if isinstance(node, ast.Name):
            name = node.name
            return env[name] if name in env else self.size(name)
        if isinstance(node, ast.Unknown):
            return None
        if isinstance(node, ast.ShapeLit):
            dims = node.dims
            if str in map(type, dims):  # a named size: Tx512
                return tuple(self.size(d) if type(d) is str else d for d in dims)
            return dims
        self.steps += 1  # an operator: counted, since a repeat or a block evaluates it again
        if isinstance(node, ast.Tuple):
            return tuple(self.evaluate(item, env) for item in node.items)
        if isinstance(node, ast.Neg):
            value = self.integer(node.operand, env)
            return -value
        if isinstance(node, ast.KwArg):
            self.report("E104", f"'{node.name}=' is only allowed in a block call", node.span)
            raise Stop
        if isinstance(node, ast.BinOp):
            left = self.integer(node.left, env)
            right = self.integer(node.right, env)
            op = node.op
            if op in ("//", "/", "%") and right == 0:
                self.report("E111", f"division by zero in {op}", node.span)
                raise Stop
            if op == "^":
                return self._power(left, right, node)
            if type(left) is not int or type(right) is not int:
                return self._symbolic(op, left, right, node)
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
                    self.report("E104", f"{left}/{right} is not a whole number", node.span, "use // to round down")
                    raise Stop
                value = left // right
            if abs(value) > MAX_LITERAL:
                self.report("E005", f"value {value} is out of range", node.span)
                raise Stop
            return value
        raise AssertionError(f"cannot evaluate {node!r}")

    def size(self, name: str):
        """A name that is no block parameter: the model's named size (input Tx512) or the
        value --set gives it, else the word itself (relu, same)."""
        model = self.model
        value = model.sizes.get(name)
        if value is None:
            value = model.size_values.get(name)
        return name if value is None else value

    def _power(self, base, exponent, node):
        """base^exponent: a whole exponent from 0 to MAX_EXPONENT (T^2), the result in range."""
        if type(exponent) is not int or not 0 <= exponent <= MAX_EXPONENT:
            self.report("E104", f"the exponent of ^ must be a whole number from 0 to {MAX_EXPONENT}, got {exponent}",
                        node.right.span)
            raise Stop
        if type(base) is int and exponent and abs(base) > 1 and \
                exponent * (abs(base).bit_length() - 1) > MAX_LITERAL.bit_length():
            self.report("E005", f"value {base}^{exponent} is out of range", node.span)
            raise Stop
        value = base ** exponent
        if type(value) is int and abs(value) > MAX_LITERAL:
            self.report("E005", f"value {value} is out of range", node.span)
            raise Stop
        return value

    def _symbolic(self, op: str, left, right, node):
        """An operator on a named size's expression (T*512, H//2), exact."""
        from .. import symbolic

        try:
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * right
            if op == "%":
                return left % right
            if op == "//":
                return left // right
            return symbolic.exact_div(left, right)
        except symbolic.SymbolicError as error:
            self.report("E104", f"{symbolic.text(left)} {op} {symbolic.text(right)}: {error}", node.span,
                        "a named size divides only by a number (// rounds down)")
            raise Stop from None

    def integer(self, node, env) -> int:
        value = self.evaluate(node, env)
        if is_sym(value):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(node, ast.Name):
                if env:
                    self.report("E110", f"unknown name '{node.name}'", node.span,
                                suggest(node.name, env) or f"parameters in scope: {', '.join(env)}")
                else:
                    self.report("E110", f"unknown name '{node.name}'", node.span,
                                f"the model's named sizes are {', '.join(self.model.sizes)} (in a block, its "
                                "parameters too)" if self.model.sizes else "names in expressions are block parameters")
            else:
                self.report("E104", f"expected an integer, got {value!r}", node.span)
            raise Stop
        return value


def within(inner: Span, outer: Span) -> bool:
    """Whether `inner` lies inside `outer` (a diagnostic inside the statement an `allow` ends)."""
    return inner.line > 0 and (outer.line, outer.column) <= (inner.line, inner.column) \
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def operators(node) -> int:
    """The operators in an expression: the steps evaluating it takes when nothing in it fails."""
    if node is None or isinstance(node, (ast.Int, ast.Float, ast.Name, ast.Unknown, ast.ShapeLit)):
        return 0
    if isinstance(node, ast.Tuple):
        return 1 + sum(operators(item) for item in node.items)
    if isinstance(node, ast.Neg):
        return 1 + operators(node.operand)
    if isinstance(node, ast.BinOp):
        return 1 + operators(node.left) + operators(node.right)
    return 1  # a KwArg: an error when evaluated
