"""The Python API: compile `.nn` text or files and read the report as objects.

    >>> import nnlang
    >>> program = nnlang.loads("model tiny { input 4; dense 3 relu; dense 2 }")
    >>> program.models["tiny"].totals.params
    23

`load` and `loads` return a :class:`Program`; a file with errors raises :class:`NnError`,
whose `diagnostics` are located and rendered as `nnc` renders them. Every figure comes from
the report object the command formats (:mod:`nnlang.report`), so `Model.to_dict()` is the
model's entry of `nnc FILE --format json`. Documented in docs/api.md. Everything not named
in `__all__` is internal.
"""

from __future__ import annotations

import html as _html
import itertools
import json
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Mapping, Optional, Union

from . import ir as _ir
from . import symbolic as _symbolic
from .choices import CONVENTIONS, DTYPE_BYTES, FORMATS, OPS, OPTIMIZER_STATE, UNITS
from .diagnostics import Diagnostic as _Diagnostic, render as _render
from .driver import Compilation as _Compilation, compile_path as _compile_path, compile_text as _compile_text
from .report import ModelReport as _ModelReport, Options as _Options, Report as _Report

__all__ = ["Block", "Comparison", "Diagnostic", "Layer", "Memory", "MemoryLine", "Model", "NnError", "Program",
           "Totals", "load", "loads"]

#: A count or a dimension: an int, an expression of named sizes (nnlang.symbolic.Sym), or None when unknown.
Value = Any


# --------------------------------------------------------------------------- diagnostics and errors

@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the source: its stable code, severity (error, warning, note), message,
    location (1-based, None when it has none) and `text`, rendered as nnc prints it (the location,
    the source line and a caret)."""

    code: str
    severity: str
    message: str
    line: Optional[int]
    column: Optional[int]
    end_line: Optional[int]
    end_column: Optional[int]
    notes: tuple
    text: str

    @classmethod
    def _of(cls, diagnostic: _Diagnostic, source) -> "Diagnostic":
        data = diagnostic.to_json()
        return cls(data["code"], data["severity"], data["message"], data["line"], data["column"], data["end_line"],
                   data["end_column"], tuple(data["notes"]), _render(diagnostic, source))

    def __str__(self) -> str:
        return self.text


class NnError(Exception):
    """The source has errors (or warnings, with `werror=True`): `diagnostics` holds every diagnostic
    found (a tuple of :class:`Diagnostic`), and the message shows them located, as nnc does."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.text for d in self.diagnostics) or "the source does not compile")

    def _repr_html_(self) -> str:
        return _diagnostics_html(self.diagnostics)


def _diagnostics_html(diagnostics) -> str:
    text = "\n".join(d.text for d in diagnostics)
    return f'<pre class="nnlang-diagnostics" style="color:#a00000">{_html.escape(text)}</pre>'


# --------------------------------------------------------------------------- options

def _options(convention: str, dtype: str, units: str, batch, depth, explain: bool, ops: str, optimizer: str,
             memory: bool) -> _Options:
    for value, allowed, what in ((convention, CONVENTIONS, "convention"), (dtype, tuple(DTYPE_BYTES), "dtype"),
                                 (units, tuple(UNITS), "units"), (ops, OPS, "ops"),
                                 (optimizer, tuple(OPTIMIZER_STATE), "optimizer")):
        if value not in allowed:
            raise ValueError(f"{what}={value!r}: one of {', '.join(allowed)}")
    if batch is not None:
        if isinstance(batch, str) and not batch.strip().isdigit():
            if not _symbolic.valid_name(batch.strip()):
                raise ValueError(f"batch={batch!r} is neither a batch size nor a size name")
            batch = _symbolic.symbol(batch.strip())
        elif not _symbolic.is_symbolic(batch):
            if isinstance(batch, bool) or int(batch) < 1 or int(batch) != batch:
                raise ValueError(f"batch={batch!r}: a batch size is a whole number of at least 1")
            batch = int(batch)
    if depth is not None and (isinstance(depth, bool) or int(depth) != depth or depth < 0):
        raise ValueError(f"depth={depth!r}: a number of levels, 0 or more")
    return _Options(convention=convention, dtype=dtype, units=units, batch=batch, depth=depth, explain=bool(explain),
                    ops=ops, memory=bool(memory), optimizer=optimizer)


def _sizes(sizes: Optional[Mapping[str, int]]) -> dict:
    from .limits import MAX_LITERAL

    values = {}
    for name, value in (sizes or {}).items():
        if not _symbolic.valid_name(name):
            raise ValueError(f"{name!r} is not a size name (a name such as T, H or seq_len)")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_LITERAL:
            raise ValueError(f"{name}={value!r}: a size is a positive whole number")
        values[name] = value
    return values


def loads(text: str, *, name: str = "<string>", convention: str = "keras", dtype: str = "float32",
          units: str = "si", batch: Union[int, str, None] = None, sizes: Optional[Mapping[str, int]] = None,
          depth: Optional[int] = None, explain: bool = False, ops: str = "macs", optimizer: str = "adam",
          memory: bool = False, werror: bool = False) -> "Program":
    """Compile `.nn` source text. `name` is the file name diagnostics show. The keyword arguments
    are nnc's options: `convention`, `dtype`, `units`, `batch` (a number, or a name such as "B"),
    `sizes` (values for named sizes, as `--set`: ``sizes={"T": 128}``), `depth`, `explain`, `ops`,
    `optimizer`, `memory` (the memory section in `summary()`), `werror`. Raises NnError when the
    text has errors, ValueError for a wrong option."""
    options = _options(convention, dtype, units, batch, depth, explain, ops, optimizer, memory)
    values = _sizes(sizes)
    return Program._of(_compile_text(text, name, convention, values or None), options, values, werror)


def load(path: Union[str, os.PathLike], *, convention: str = "keras", dtype: str = "float32", units: str = "si",
         batch: Union[int, str, None] = None, sizes: Optional[Mapping[str, int]] = None, depth: Optional[int] = None,
         explain: bool = False, ops: str = "macs", optimizer: str = "adam", memory: bool = False,
         werror: bool = False) -> "Program":
    """Compile the `.nn` file at `path` (options as in :func:`loads`). Raises OSError when it cannot
    be read, NnError when it has errors, ValueError for a wrong option."""
    options = _options(convention, dtype, units, batch, depth, explain, ops, optimizer, memory)
    values = _sizes(sizes)
    return Program._of(_compile_path(path, convention, values or None), options, values, werror)


# --------------------------------------------------------------------------- figures

@dataclass(frozen=True)
class Totals:
    """Counts summed over a model, a block or a branch. `macs`, `pool_ops`, `bias_adds` and
    `activation_ops` are None when a layer's count is unknown; with named sizes, a count may be an
    expression of them (see `Model.evaluate`)."""

    params: Value
    trainable: Value
    non_trainable: Value
    macs: Value
    pool_ops: Value
    bias_adds: Value
    activation_ops: Value
    layers: int

    @property
    def flops(self) -> Value:
        """2 per multiply-accumulate."""
        return None if self.macs is None else 2 * self.macs

    @classmethod
    def _of(cls, counts) -> "Totals":
        return cls(counts.params, counts.trainable, counts.non_trainable, counts.macs, counts.pool_ops,
                   counts.bias_adds, counts.activation_ops, counts.layers)


@dataclass(frozen=True)
class MemoryLine:
    """One line of the memory report: the number of values, the bytes, and the arithmetic."""

    label: str
    values: Value
    bytes: Value
    how: str


@dataclass(frozen=True)
class Memory:
    """The memory report (`nnc --memory`): parameters, one sample's input and activations, the
    inference peak (the largest input+output pair, times the batch, at `peak_layer`), and training
    (`training`: parameters, gradients, optimizer state, input and activations, total)."""

    dtype: str
    units: str
    bytes_per_value: int
    batch: Value
    optimizer: str
    params: MemoryLine
    input: MemoryLine
    activations: MemoryLine
    inference_peak: MemoryLine
    peak_layer: str
    inference_peak_plus_params: MemoryLine
    every_activation_kept: MemoryLine
    training: tuple

    @property
    def training_total(self) -> MemoryLine:
        return self.training[-1]


def _line(line) -> MemoryLine:
    return MemoryLine(line.label, line.values, line.bytes, line.how)


@dataclass(frozen=True)
class Layer:
    """One layer, in execution order: its name, kind, path (the blocks and branches it is in,
    outermost first), output shape (batch left out), counts, and `formulas`: the worked arithmetic
    behind each count that is not a plain number (`{"trainable": "3*3*3*32 + 32 = 896", ...}`;
    keys trainable, non_trainable, macs, pool_ops, output_shape)."""

    name: str
    kind: str
    path: tuple
    line: Optional[int]
    input_shape: Optional[tuple]
    output_shape: Optional[tuple]
    params: Value
    trainable: Value
    non_trainable: Value
    macs: Value
    pool_ops: Value
    activation: str
    formulas: Mapping[str, Any]

    @classmethod
    def _of(cls, node: _ir.LayerNode, convention: str) -> "Layer":
        trainable, non_trainable = node.counts(convention)
        formulas: dict = {}
        for key, value in (("trainable", trainable), ("non_trainable", non_trainable), ("macs", node.macs),
                           ("pool_ops", node.pool_ops)):
            if not value.is_literal or not value.is_known:
                formulas[key] = value.worked()
        if node.dims and any(d is not None and not d.is_literal for d in node.dims):
            formulas["output_shape"] = tuple(None if d is None else d.worked() for d in node.dims)
        params = None if trainable.value is None or non_trainable.value is None else \
            trainable.value + non_trainable.value
        return cls(node.name, node.kind, tuple(node.path), node.span.line if node.span else None,
                   node.input_shape, node.output_shape, params, trainable.value, non_trainable.value,
                   node.macs.value, node.pool_ops.value, node.activation or "", formulas)


@dataclass(frozen=True)
class Block:
    """A block call, branch, labelled join (concat, add) or repeat: `kind` says which, `block` the
    block definition's name (for a call), `totals` its counts, `branches` its branches, `layers`
    the names of the layers inside it, `children` its direct groups."""

    name: str
    kind: str
    block: Optional[str]
    path: tuple
    line: Optional[int]
    output_shape: Optional[tuple]
    totals: Totals
    branches: tuple
    children: tuple
    layers: tuple

    @classmethod
    def _of(cls, group: _ir.Group, report: _ModelReport) -> "Block":
        children = tuple(cls._of(g, report) for g in group.children if isinstance(g, _ir.Group))
        return cls(group.name, group.kind, group.block, tuple(group.path[:-1]),
                   group.span.line if group.span else None, group.output_shape, Totals._of(report.counts(group)),
                   tuple(c for c in children if c.kind == "branch"), children,
                   tuple(layer.name for layer in group.layers()))


# --------------------------------------------------------------------------- display helpers

_PREFIXES = itertools.count(1)


def _svg_of(model: _ir.Model, options: _Options) -> Optional[str]:
    """The model's diagram as inline SVG, or None when Graphviz cannot draw it."""
    from .emit.svg import NoDiagram, model_svg

    try:
        return model_svg(model, options, f"nnlang{next(_PREFIXES)}-")
    except NoDiagram:
        return None


def _table_html(report: _ModelReport) -> str:
    """The summary table of one model as an HTML fragment (no page, no script, styles inline)."""
    from .emit.common import cell, explanation, memory_lines, title, totals_lines
    from .report import columns_for, shape_with_batch

    esc = _html.escape
    options, model = report.options, report.model
    columns = columns_for(options)
    td = "padding:0.15em 0.7em;white-space:pre;"
    num = td + "text-align:right;font-variant-numeric:tabular-nums;"
    out = [f'<div class="nnlang-model"><p><b>Model <code>{esc(model.name)}</code></b> input '
           f"<code>{esc(shape_with_batch(model.input_shape, options.batch))}</code>"
           + (f" ({esc(options.convention)} convention)" if options.convention != "keras" else "") + "</p>",
           '<table class="nnlang-summary">',
           "<thead><tr>" + "".join(f'<th style="{num if c.numeric else td}">{esc(title(c, options))}</th>'
                                   for c in columns) + "</tr></thead>", "<tbody>"]
    for row in report.rows:
        weight = "font-weight:600;" if row.is_group else ""
        out.append("<tr>" + "".join(f'<td style="{weight}{num if c.numeric else td}">{esc(cell(row, c, options))}</td>'
                                    for c in columns) + "</tr>")
        if options.explain:
            for text in explanation(row, options.convention):
                out.append(f'<tr><td colspan="{len(columns)}" style="{td}color:#555">'
                           f'{esc("  " * (row.depth + 1))}= {esc(text)}</td></tr>')
    out += ["</tbody>", "</table>",
            '<ul style="list-style:none;padding:0">' + "".join(f"<li>{esc(line)}</li>" for line in totals_lines(report))
            + "</ul>"]
    if options.memory:
        out.append("<pre>" + esc("\n".join(memory_lines(report.memory))) + "</pre>")
    out.append("</div>")
    return "\n".join(out)


def _figure(svg: Optional[str], name: str) -> str:
    if svg is None:
        return ""
    return (f'<figure class="nnlang-diagram" style="margin:1em 0">{svg}'
            f"<figcaption>Model <code>{_html.escape(name)}</code></figcaption></figure>")


# --------------------------------------------------------------------------- models and programs

def _one_model_program(model: _ir.Model, convention: str) -> _ir.Program:
    return _ir.Program(models=[model], comparisons=[], convention=convention)


class Model:
    """One compiled model: `layers`, `blocks`, `totals`, `memory`, `summary(format=...)`,
    `to_dict()`; shown in a notebook as its summary table and its diagram."""

    def __init__(self, model: _ir.Model, options: _Options, source, size_values: Mapping[str, int]):
        self._model = model
        self._options = options
        self._source = source
        self._size_values = dict(size_values)

    def __repr__(self) -> str:
        return f"<nnlang.Model {self.name!r}: {len(self._model.layers)} layers, {self.totals.params:,} params>"

    @cached_property
    def _report(self) -> _ModelReport:
        return _ModelReport(self._model, self._options, self._source)

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def input_shape(self) -> Optional[tuple]:
        return self._model.input_shape

    @property
    def output_shape(self) -> Optional[tuple]:
        return self._model.output_shape

    @property
    def sizes(self) -> tuple:
        """The named sizes its input leaves open (`input Tx512`: ('T',)); counts are expressions of them."""
        return tuple(self._model.sizes)

    @property
    def convention(self) -> str:
        return self._options.convention

    @cached_property
    def layers(self) -> tuple:
        """Every layer, in execution order (a tuple of :class:`Layer`)."""
        return tuple(Layer._of(node, self._options.convention) for node in self._model.layers)

    def layer(self, name: str) -> Layer:
        """The layer called `name`; KeyError when there is none."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @cached_property
    def blocks(self) -> tuple:
        """The top-level block calls, labelled joins and repeats, each with its branches and inner groups."""
        root = self._model.root
        if root is None:
            return ()
        return tuple(Block._of(g, self._report) for g in root.children if isinstance(g, _ir.Group))

    @property
    def totals(self) -> Totals:
        return Totals._of(self._report.totals)

    @cached_property
    def memory(self) -> Memory:
        memory = self._report.memory
        return Memory(memory.dtype, memory.units, DTYPE_BYTES[memory.dtype], memory.batch, memory.optimizer,
                      _line(memory.params), _line(memory.input), _line(memory.activations),
                      _line(memory.inference_peak), memory.peak_layer, _line(memory.peak_plus_params),
                      _line(memory.every_activation_kept), tuple(_line(item) for item in memory.training))

    def to_dict(self) -> dict:
        """The model's entry of the JSON report (`nnc FILE --format json`, docs/json.md): a count or
        a dimension is an int, an `{"expr", "text"}` object when it depends on a named size, or None."""
        from .emit import json as emit_json

        text = emit_json.render(_one_model_program(self._model, self._options.convention), (), self._options, "")
        return json.loads(text)["models"][0]

    def summary(self, format: str = "text", *, ascii: bool = False, diagrams: bool = False) -> str:
        """This model's report in an nnc format: text, json (its `to_dict()`), markdown, csv, latex,
        html (a page; `diagrams=True` draws it), equation."""
        if format == "text":
            from .emit.text import model_text

            return model_text(self._report, ascii) + "\n"
        if format == "json":
            return json.dumps(self.to_dict(), indent=2) + "\n"
        return _render_format(_one_model_program(self._model, self._options.convention), self._options, format,
                              self._source, diagrams)

    def diagram(self, format: str = "svg") -> str:
        """The diagram: "dot" (Graphviz source) or "svg" (drawn by Graphviz's dot; RuntimeError when
        it cannot be drawn)."""
        from .emit import dot

        if format == "dot":
            return dot.source([self._model], dot.DiagramOptions(depth=self._options.depth,
                                                                convention=self._options.convention))
        if format != "svg":
            raise ValueError(f"format={format!r}: one of dot, svg")
        from .emit.svg import NoDiagram, model_svg

        try:
            return model_svg(self._model, self._options, f"nnlang{next(_PREFIXES)}-")
        except NoDiagram as error:
            raise RuntimeError(str(error)) from None

    # -- named sizes

    def evaluate(self, value: Value, **sizes: int) -> Optional[int]:
        """A count or dimension of this model with its named sizes given (`model.evaluate(model.totals.macs,
        T=128)`); an int is returned as it is. KeyError names a size without a value."""
        if value is None or not _symbolic.is_symbolic(value):
            return value
        return _symbolic.evaluate(value, {**self._size_values, **sizes})

    def sweep(self, size: str, values: Iterable[int], **fixed: int) -> list:
        """Cost at each value of the named size `size` (the other sizes given in `fixed`), evaluated
        from the model's expressions: one dict per value with the size, params, macs,
        inference_peak_bytes and training_bytes (batch as the options give it)."""
        if size not in self._model.sizes:
            raise ValueError(f"model '{self.name}' has no open size {size!r} (sizes: {', '.join(self.sizes) or 'none'})")
        missing = [name for name in self._model.sizes if name != size and name not in fixed]
        batch = self._options.batch
        if _symbolic.is_symbolic(batch):
            missing += [name for name in _symbolic.names(batch) if name != size and name not in fixed]
        if missing:
            raise ValueError(f"give a value to {', '.join(missing)} (e.g. {missing[0]}=...)")
        report, rows = self._report, []
        memory = report.memory
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{size}={value!r}: a size is a positive whole number")
            env = {**self._size_values, **fixed, size: value}
            for node in self._model.layers:
                for dim in node.output_shape or ():
                    if dim is not None and _symbolic.evaluate(dim, env) < 1:
                        raise ValueError(f"with {size}={value}, layer '{node.name}' would have an output "
                                         "size below 1")
            peak = memory.inference_peak.bytes
            if peak is None and memory.peak_candidates:
                largest = max(_symbolic.evaluate(values_, env) for _, values_ in memory.peak_candidates)
                peak = largest * self._options.batch_size * DTYPE_BYTES[self._options.dtype]
            totals = report.totals

            def at(x):
                return None if x is None else _symbolic.evaluate(x, env)

            rows.append({size: value, "params": at(totals.params), "macs": at(totals.macs),
                         "inference_peak_bytes": at(peak), "training_bytes": at(memory.training[-1].bytes)})
        return rows

    # -- plots (matplotlib)

    def plot_sweep(self, size: str, values: Iterable[int], ax=None, **fixed: int):
        """MACs and memory (inference peak, training) against the named size `size`: a matplotlib
        figure of two panels (ImportError without matplotlib)."""
        from . import _plots

        return _plots.sweep(self, size, list(values), fixed, ax)

    def plot_share(self, ax=None, top: int = 12):
        """Each layer's share of the parameters and of the MACs, the `top` largest shown by name: a
        matplotlib figure (ImportError without matplotlib)."""
        from . import _plots

        return _plots.share(self, ax, top)

    # -- notebook display

    @cached_property
    def _svg(self) -> Optional[str]:
        return _svg_of(self._model, self._options) if self._model.root is not None else None

    def _repr_html_(self) -> str:
        return _table_html(self._report) + _figure(self._svg, self.name)

    def _repr_svg_(self) -> Optional[str]:
        return self._svg

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"text/plain": self.summary("text"), "text/html": self._repr_html_()}
        if self._svg is not None:
            bundle["image/svg+xml"] = self._svg
        return bundle


def _render_format(program: _ir.Program, options: _Options, format: str, source, diagrams: bool) -> str:
    if format not in FORMATS:
        raise ValueError(f"format={format!r}: one of {', '.join(FORMATS)}")
    if format == "equation":
        from .emit import equation

        return equation.render(program)  # NotAChain (a ValueError) when the model is not a chain
    from .emit import tables

    return tables.render(program, options, format, source.name if source else "", source, diagrams=diagrams)


class Comparison:
    """Two models side by side (`compare A, B` in the file, or `Program.compare`): `rows`, each
    (label, path, left, right, ratio = right / left), totals first, then the blocks and branches
    they share; shown in a notebook as its ratio table."""

    def __init__(self, comparison, options: _Options):
        self._comparison = comparison
        self._options = options

    @property
    def left(self) -> str:
        return self._comparison.left.name

    @property
    def right(self) -> str:
        return self._comparison.right.name

    @property
    def rows(self) -> tuple:
        return tuple((r.label, tuple(r.path), r.left, r.right, r.ratio) for r in self._comparison.rows)

    def ratio(self, label: str) -> Optional[float]:
        """The ratio right / left of the row `label` ("params", "MACs", ...); KeyError when absent."""
        for row in self._comparison.rows:
            if row.label == label:
                return row.ratio
        raise KeyError(label)

    def to_dict(self) -> dict:
        """The comparison's entry of the JSON report."""
        from .emit.compare import json_data

        return json.loads(json.dumps(json_data(self._comparison), default=_expression))

    def summary(self, format: str = "text") -> str:
        """As `nnc compare FILE LEFT RIGHT --format FORMAT`: text, json, markdown, csv, latex, html."""
        from .emit import compare

        if format == "text":
            return compare.text(self._comparison, self._options) + "\n"
        if format == "json":
            return json.dumps(self.to_dict(), indent=2) + "\n"
        from .emit import tables

        return tables.render_comparison(self._comparison, self._options, format)

    def __repr__(self) -> str:
        return f"<nnlang.Comparison {self.left!r} vs {self.right!r}>"

    def _repr_html_(self) -> str:
        from .emit import compare

        return compare.html(self._comparison, self._options)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": self.summary("text"), "text/html": self._repr_html_()}


def _expression(value):
    from .emit.json import expression_json

    return expression_json(value)


class Program:
    """Everything compiled from one file: `models` (name -> :class:`Model`, in file order),
    `comparisons` (its `compare` statements), `diagnostics` (the warnings and notes)."""

    def __init__(self, compilation: _Compilation, options: _Options, size_values: Mapping[str, int]):
        self._compilation = compilation
        self._options = options
        program = compilation.program
        self.models: dict = {}
        for model in program.models:
            self.models.setdefault(model.name, Model(model, options, compilation.source, size_values))
        self.diagnostics = tuple(Diagnostic._of(d, compilation.source) for d in compilation.diagnostics)

    @classmethod
    def _of(cls, compilation: _Compilation, options: _Options, size_values: dict, werror: bool) -> "Program":
        failed = compilation.program is None or compilation.diagnostics.has_errors
        if werror and any(d.severity == "warning" for d in compilation.diagnostics):
            failed = True
        if failed:
            raise NnError(Diagnostic._of(d, compilation.source) for d in compilation.diagnostics)
        if size_values:
            known = {n for m in compilation.program.models for n in (*m.sizes, *m.size_values)}
            unknown = [name for name in size_values if name not in known]
            if unknown:
                raise ValueError(f"no model has a named size '{unknown[0]}' (sizes: {', '.join(sorted(known)) or 'none'})")
        return cls(compilation, options, size_values)

    def __repr__(self) -> str:
        return f"<nnlang.Program {self.name!r}: models {', '.join(self.models) or 'none'}>"

    def __getitem__(self, name: str) -> Model:
        return self.models[name]

    @property
    def name(self) -> str:
        """The file name given (or `name=` of loads)."""
        return self._compilation.source.name

    @cached_property
    def _report(self) -> _Report:
        return _Report.of(self._compilation.program, self._options, self._compilation.source)

    @cached_property
    def comparisons(self) -> tuple:
        """The pairs the file's `compare` statements name, as :class:`Comparison`."""
        return tuple(Comparison(c, self._options) for c in self._report.comparisons)

    def compare(self, left: str, right: str) -> Comparison:
        """`right` beside `left`; KeyError naming a model the file does not have."""
        from .report import compare

        for name in (left, right):
            if name not in self.models:
                raise KeyError(f"no model '{name}' (models: {', '.join(self.models) or 'none'})")
        return Comparison(compare(self._report.model(left), self._report.model(right), self._options), self._options)

    def to_dict(self) -> dict:
        """The whole JSON report, as `nnc FILE --format json` writes it."""
        from .emit import json as emit_json

        compilation = self._compilation
        return json.loads(emit_json.render(compilation.program, compilation.diagnostics, self._options,
                                           compilation.source.name))

    def summary(self, format: str = "text", *, ascii: bool = False, diagrams: bool = True) -> str:
        """The report of the whole file, as `nnc FILE --format FORMAT` writes it: text, json,
        markdown, csv, latex, html (`diagrams=False`: without the drawings, as --no-diagram), equation."""
        compilation = self._compilation
        if format == "text":
            from .emit import text

            return text.render(compilation.program, self._options, ascii, compilation.source)
        if format == "json":
            from .emit import json as emit_json

            return emit_json.render(compilation.program, compilation.diagnostics, self._options,
                                    compilation.source.name)
        return _render_format(compilation.program, self._options, format, compilation.source, diagrams)

    def _repr_html_(self) -> str:
        parts = [m._repr_html_() for m in self.models.values()]
        parts += [c._repr_html_() for c in self.comparisons]
        if self.diagnostics:
            parts.insert(0, _diagnostics_html(self.diagnostics))
        return "\n".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": self.summary("text"), "text/html": self._repr_html_()}
