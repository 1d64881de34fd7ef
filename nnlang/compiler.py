"""From syntax tree to compiled models.

The Compiler reads the file's definitions (models, blocks, comparisons) and compiles each model
by running the passes of nnlang.passes over a fresh ModelContext: expansion and inference, then
the expectation checks, then the lint rules (see nnlang/passes/__init__.py).

Errors are collected, never raised: a statement that fails leaves its output
unknown, later statements are still checked for what does not depend on it.
"""

from __future__ import annotations

from .limits import MAX_NAME
from . import ast, ir, layers
from .diagnostics import DiagnosticBag, suggest
from .passes import PASSES, ModelContext, run_passes
from .passes.expand import Forecasts, cycles
from .source import NOWHERE, Span

CONVENTIONS = ("keras", "pytorch", "textbook")


class Compiler:
    def __init__(self, file: ast.File, bag: DiagnosticBag, convention: str = "keras", size_values=None):
        self.file = file
        self.bag = bag
        self.convention = convention
        self.size_values: dict = dict(size_values or {})  # named size -> the value --set gives it
        self.program = ir.Program(convention=convention)
        self.blocks: dict[str, ast.BlockDef] = {}
        self.refused: set = set()  # blocks whose name is too long: reported once, calls to them are skipped
        self.cyclic: set = set()  # blocks on a cycle of calls (an error when it runs), see passes.expand.cycles
        self.inferred: dict = {}  # (kind, input shape, arguments) -> Result, see passes.expand.Expansion.infer
        self.forecasts = Forecasts()  # what expansions were forecast to take, see Expansion.forecast
        self.resolved: dict = {}  # (statement, axes, environment) -> its arguments, see Expansion.resolve
        self.sizes: dict = {}  # id(model) -> its layers and groups, as its expansion counted them
        self.passes = PASSES
        self.block_allows: tuple = ()  # the `allow`s written in blocks, each covering a span of its block
        # what the models compiled so far took: the limits on steps, layers and groups hold for the
        # whole file, so that many large models in a small file cannot take more than one
        self.file_steps = self.file_layers = self.file_nodes = 0

    # -- entry points --------------------------------------------------------
    def compile(self) -> ir.Program:
        program = self.program
        seen: dict[str, Span] = {}
        for item in self.file.items:
            if isinstance(item, (ast.Compare, ast.Allow)):
                continue
            if item.name in seen:
                first = seen[item.name]
                self._add("E106", f"'{item.name}' is defined twice", item.name_span,
                          f"first defined at line {first.line}")
                continue
            seen[item.name] = item.name_span
            if isinstance(item, ast.BlockDef):
                if len(item.name) > MAX_NAME:
                    self._add("E112", f"a block name of {len(item.name):,} characters: names and labels may have "
                                      f"at most {MAX_NAME}", item.name_span, "choose a shorter name")
                    self.refused.add(item.name)
                    continue
                if layers.lookup(item.name) is not None:
                    self._add("E115", f"block '{item.name}' has the name of a layer kind", item.name_span,
                              "choose another name for the block")
                    continue
                self.blocks[item.name] = item
        self.cyclic = cycles(self.blocks)
        self.block_allows = tuple(allow for block in self.blocks.values() for allow in block.allows)
        for model in self.file.models:
            if seen.get(model.name) is model.name_span:
                compiled = self.compile_model(model)
                program.models.append(compiled)
                # the limits on layers and groups hold for the file: a small file of many large models
                # must not take more memory than one model of the largest size
                self.file_layers += len(compiled.layers)
                size = self.sizes.pop(id(compiled), None)
                if size is None:  # a model not expanded here (a subclass may reuse one compiled before)
                    size = len(compiled.layers) + sum(1 for _ in compiled.groups()) \
                        if compiled.root is not None else len(compiled.layers)
                self.file_nodes += size
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
        if self.file.allows:
            self._allow_file_wide(self.file.allows)
        return program

    def _allow_file_wide(self, allows: tuple) -> None:
        """Drop the warnings that a top-level `allow` names; a note for a code that none of them has.
        Done on the whole file's diagnostics, after the models (whose own `allow`s apply first)."""
        codes = {code for allow in allows for code, _ in allow.codes}
        found = self.bag.drop(lambda diagnostic: diagnostic.code in codes and not diagnostic.is_error)
        if self.bag.has_errors:  # what an erroneous file reports is not all it would: say nothing
            return
        for allow in allows:
            for code, span in allow.codes:
                if code not in found:
                    self._add("W002", f"allow {code}: no {code} is reported in this file", span,
                              "remove it, or check the code: `nnc explain CODE` describes one")

    def compile_model(self, node: ast.Model) -> ir.Model:
        """One model of the file, compiled by the passes; its diagnostics go to self.bag and its
        checked expectations are counted in self.program.

        What it reads besides `node`: the blocks it calls (self.blocks), the names of all blocks
        (for suggestions), self.convention, and which of its diagnostics self.bag holds already
        (a diagnostic is kept once; a model is not ok when it added an error). A subclass may
        override it to reuse a model compiled before from the same inputs (the language server
        does)."""
        context = ModelContext(self, node)
        model = run_passes(context, self.passes)
        self.file_steps = context.steps
        self.sizes[id(model)] = context.nodes - context.nodes_before
        return model

    def _add(self, code: str, message: str, span: Span = NOWHERE, *notes: str) -> None:
        """Report a diagnostic about the file (not about one model's statements)."""
        self.bag.add(code, message, span, *notes)


def compile_file(file: ast.File, bag: DiagnosticBag, convention: str = "keras", size_values=None) -> ir.Program:
    return Compiler(file, bag, convention, size_values).compile()
