"""The JSON report (keys fixed by the language contract; more keys are added)."""

from __future__ import annotations

import json
from typing import Optional

from .. import ir, present
from ..report import DTYPE_BYTES, Counts, MemoryLine, ModelReport, Options, Report


def shape_json(shape):
    """A shape in the JSON report: a list, null when unknown."""
    return None if shape is None else list(shape)


def layer_json(node: ir.LayerNode, convention: Optional[str] = None) -> dict:
    """One layer of the report, its parameters as `convention` counts them (None: the compilation's
    convention). Everything but name, path and line must come from the node's fields in
    _encoded_layers' key (it shares the encoding of layers equal in those)."""
    trainable, non_trainable = node.counts(convention)
    data = {
        "name": node.name,
        "type": node.kind,
        "path": list(node.path),
        "output_shape": shape_json(node.output_shape),
        "params": trainable.value + non_trainable.value,
        "trainable_params": trainable.value,
        "non_trainable_params": non_trainable.value,
        "macs": node.macs.value,
        "pool_ops": node.pool_ops.value,
        "line": node.span.line if node.span else None,
    }
    kernel, stride, padding = present.geometry(node)
    for key, value in (("kernel", kernel), ("stride", stride), ("padding", padding), ("activation", node.activation)):
        if value:
            data[key] = value
    formulas = {}
    if not trainable.is_literal:
        formulas["trainable_params"] = trainable.text
    if not non_trainable.is_literal:
        formulas["non_trainable_params"] = non_trainable.text
    if not node.macs.is_literal:
        formulas["macs"] = node.macs.text
    if node.dims and any(d is not None and not d.is_literal for d in node.dims):
        formulas["output_shape"] = [None if d is None else d.text for d in node.dims]
    if formulas:
        data["formulas"] = formulas
    return data


class _Raw(str):
    """Text already encoded as JSON."""


def _encoded_layers(layers, convention: Optional[str] = None) -> list:
    """layer_json of every layer (its parameters as `convention` counts them), encoded: one
    compact line each. Layers that differ only in name and line (a chain, a repeated block)
    share the encoding of everything else."""
    shared: dict = {}
    paths: dict = {}
    out = []
    quote = json.encoder.encode_basestring_ascii
    for node in layers:
        # the F values are compared by identity: equal layers share them (the compiler's inference memo)
        trainable, non_trainable = node.counts(convention)
        key = (id(trainable), id(non_trainable), id(node.pool_ops), node.activation, present.same_geometry_key(node))
        body = shared.get(key)
        if body is None:
            data = layer_json(node, convention)
            del data["name"], data["path"], data["line"]
            body = shared[key] = _COMPACT.encode(data)[1:-1]
        path = paths.get(node.path)
        if path is None:
            path = paths[node.path] = _COMPACT.encode(list(node.path))
        line = node.span.line if node.span else "null"
        out.append(_Raw(f'{{"name": {quote(node.name)}, "path": {path}, {body}, "line": {line}}}'))
    return out


def _totals(totals: Counts) -> dict:
    return {
        "params": totals.params,
        "trainable_params": totals.trainable,
        "non_trainable_params": totals.non_trainable,
        "macs": totals.macs,
        "pool_ops": totals.pool_ops,
    }


def group_json(group: ir.Group, report: ModelReport) -> dict:
    """A block call, labelled join or repeat, with its totals and its branches'."""
    data = {
        "name": group.name,
        "kind": group.kind,
        "path": list(group.path[:-1]),
        "output_shape": shape_json(group.output_shape),
        **_totals(report.counts(group)),
        "line": group.span.line if group.span else None,
    }
    if group.kind == "block":
        data["block"] = group.block
    branches = [c for c in group.children if isinstance(c, ir.Group) and c.kind == "branch"]
    if branches:
        data["branches"] = [
            {"name": b.name, "output_shape": shape_json(b.output_shape), **_totals(report.counts(b))} for b in branches
        ]
    return data


def _memory_line(line: MemoryLine) -> dict:
    return {"label": line.label, "values": line.values, "bytes": line.bytes, "how": line.how}


def model_json(report: ModelReport) -> dict:
    model, options, totals = report.model, report.options, report.totals
    data = {
        "name": model.name,
        "ok": model.ok,
        "input_shape": shape_json(model.input_shape),
        "output_shape": shape_json(model.output_shape),
        "layers": _encoded_layers(model.layers, options.convention),
        "totals": _totals(totals),
        "blocks": [group_json(g, report) for g in model.groups() if g.kind != "branch"],
    }
    if model.sizes:  # the named sizes the counts are expressions of
        data["sizes"] = list(model.sizes)
    data["totals"]["param_bytes"] = report.param_memory.bytes
    data["totals"]["bias_adds"] = totals.bias_adds
    data["totals"]["activation_ops"] = totals.activation_ops
    unknown = report.unknown_layers("flops-all")
    if unknown:  # the layers whose counts depend on a size unknown until run time (their counts are null)
        data["totals"]["unknown_layers"] = unknown
    memory = report.memory
    data["memory"] = {
        "dtype": options.dtype,
        "units": report.param_memory.unit,
        "bytes_per_value": DTYPE_BYTES[options.dtype],
        "batch": memory.batch,
        "params": _memory_line(memory.params),
        "input": _memory_line(memory.input),
        "activations": _memory_line(memory.activations),
        "inference_peak": dict(_memory_line(memory.inference_peak), layer=memory.peak_layer),
        # where which layer holds the peak depends on the named sizes: the largest of these, per sample
        **({"inference_peak_candidates": [{"layer": layer, "values": values}
                                          for layer, values in memory.peak_candidates]}
           if memory.peak_candidates else {}),
        "inference_peak_plus_params": _memory_line(memory.peak_plus_params),
        "inference_every_activation_kept": _memory_line(memory.every_activation_kept),
        "training": {"optimizer": memory.optimizer, "lines": [_memory_line(item) for item in memory.training]},
    }
    return data


def _comparisons(report: Report) -> list:
    from .compare import json_data

    return [json_data(comparison) for comparison in report.comparisons]


def render(program, diagnostics, options: Options, source_name: str) -> str:
    return "".join(render_pieces(program, diagnostics, options, source_name))


def render_pieces(program, diagnostics, options: Options, source_name: str):
    """The report as pieces of text to write one after the other (a large model's report is
    never held as one string)."""
    report = Report.of(program, options) if program else None
    document = {
        "file": source_name,
        "convention": options.convention,
        "models": [model_json(m) for m in report.models] if report else [],
        "comparisons": _comparisons(report) if report else [],
        "diagnostics": [dict(d.to_json(), file=source_name) for d in diagnostics],
    }
    yield from _pieces(document)
    yield "\n"


def _pieces(value, level: int = 0):
    """JSON laid out for reading and fast to write: the document and each model are spread over
    lines, and every layer, block or diagnostic is one compact line (encoded in C)."""
    pad = "  " * (level + 1)
    end = "\n" + "  " * level
    if isinstance(value, dict) and value and level in (0, 2):
        separator = "{\n"
        for key, item in value.items():
            yield f"{separator}{pad}{_compact(key)}: "
            yield from _pieces(item, level + 1)
            separator = ",\n"
        yield end + "}"
    elif isinstance(value, list) and level in (1, 3) and any(isinstance(v, (dict, list, _Raw)) for v in value):
        separator = "[\n"
        for item in value:
            yield separator + pad
            if level == 3:  # the layers, blocks, diagnostics of a model: one compact line each
                yield item if type(item) is _Raw else _compact(item)
            else:
                yield from _pieces(item, level + 1)
            separator = ",\n"
        yield end + "]"
    else:
        yield _compact(value)


def expression_json(value) -> dict:
    """A count or size that is an expression of named sizes: `expr` evaluates to it in Python
    with the sizes bound (integer literals, names, parentheses, + - * // ** only), `text` is the
    form the other reports show."""
    from .. import symbolic

    if not symbolic.is_symbolic(value):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return {"expr": symbolic.to_python(value), "text": symbolic.text(value)}


_COMPACT = json.JSONEncoder(separators=(", ", ": "), default=expression_json)


def _compact(value) -> str:
    return _COMPACT.encode(value)
