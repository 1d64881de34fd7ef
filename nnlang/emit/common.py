"""What every table back end shares: cell texts, column titles, worked formulas, the memory section."""

from __future__ import annotations

from .. import ir
from ..report import (Column, Memory, MemoryReport, Options, Row, activation_ops, bias_adds, elements,
                      memory_report, ops_title, shape_with_batch)


def title(column: Column, options: Options) -> str:
    if column is Column.FLOPS:
        return "FLOPs" if options.ops in ("macs", "flops") else "FLOPs (all)"
    if column is Column.MEMORY:
        return f"Output memory ({options.dtype})"
    return column.title


_COUNTS = frozenset({Column.PARAMS, Column.TRAINABLE, Column.NON_TRAINABLE, Column.MACS, Column.POOL_OPS})


def cell(row: Row, column: Column, options: Options) -> str:
    if column is Column.LAYER:
        kind = row.type + (f", {row.activation}" if row.activation else "")
        mark = " [+]" if row.collapsed else ""
        return f"{'  ' * row.depth}{row.name} ({kind}){mark}"
    if column is Column.OUTPUT:
        return shape_with_batch(row.output_shape, options.batch)
    if column in _COUNTS:  # a count the row holds under the column's key
        return f"{getattr(row, column.key):,}"
    if column is Column.FLOPS:
        return f"{row.ops(options.ops if options.ops != 'macs' else 'flops'):,}"
    if column is Column.MEMORY:
        values = elements(row.output_shape)
        if values is None:
            return "?"
        return Memory(values * options.batch_size, options.dtype, options.units).text()
    return getattr(row, column.key)


def explanation(row: Row) -> list[str]:
    """The worked formulas of one layer row, as a student writes them."""
    node = row.layer
    if node is None:
        return []
    lines = []
    named = [d for d in node.dims if d is not None and not d.is_literal]
    if named:
        worked = list(dict.fromkeys(d.worked() for d in named))  # height and width alike: shown once
        lines.append("output: " + ", ".join(worked) + (" (each axis)" if len(worked) < len(named) else ""))
    if not node.trainable.is_literal:
        lines.append("params: " + node.trainable.worked())
    if not node.non_trainable.is_literal:
        lines.append("non-trainable: " + node.non_trainable.worked())
    if not node.macs.is_literal:
        lines.append("MACs: " + node.macs.worked())
    if not node.pool_ops.is_literal:
        lines.append("pool ops: " + node.pool_ops.worked())
    return lines


def totals_lines(model: ir.Model, options: Options) -> list[str]:
    """Total / trainable / non-trainable parameters with their memory, and the operation count."""
    totals = model.totals()
    memory = Memory(totals.params, options.dtype, options.units)
    lines = [
        f"Total params: {totals.params:,} ({memory.text()} at {options.dtype})",
        f"Trainable params: {totals.trainable:,}",
        f"Non-trainable params: {totals.non_trainable:,}",
    ]
    per_step = any(n.family == "recurrent" and n.input_shape and n.input_shape[0] is None for n in model.layers)
    suffix = " (per time step where the length is unknown)" if per_step else ""
    if options.ops == "macs":
        lines.append(f"MACs: {totals.macs:,}{suffix}")
    else:
        row = Row(0, model.name, "model", model.output_shape, totals.trainable, totals.non_trainable, totals.macs,
                  totals.pool_ops, bias_adds=sum(bias_adds(n) for n in model.layers),
                  activation_ops=sum(activation_ops(n) for n in model.layers))
        lines.append(f"{ops_title(options.ops)}: {row.ops(options.ops):,}{suffix}")
        lines.append(f"MACs: {totals.macs:,}")
    if totals.pool_ops:
        lines.append(f"Pooling operations (not MACs): {totals.pool_ops:,}")
    if options.batch and options.batch > 1:
        lines.append(f"Operations are per sample; for the batch of {options.batch}: {totals.macs * options.batch:,} MACs")
    if options.explain:
        lines.append(f"Parameter memory: {memory.worked()}")
    return lines


def memory_lines(model: ir.Model, options: Options) -> list[str]:
    """The itemised memory section (--memory), as aligned text lines."""
    rows = memory_rows(model, options)
    width = max(len(r[0]) for r in rows)
    number = max(len(r[1]) for r in rows)
    out = []
    for label, value, how in rows:
        if not value:
            out.append(label)
        else:
            out.append(f"  {label.ljust(width)}  {value.rjust(number)}   {how}")
    return out


def memory_rows(model: ir.Model, options: Options) -> list[tuple[str, str, str]]:
    """The itemised memory section (--memory): (label, amount, how) per line; a heading has no amount."""
    report: MemoryReport = memory_report(model, options)
    unit = "MB = 10^6 bytes" if options.units == "si" else "MiB = 2^20 bytes"
    rows = [
        (f"Memory ({report.dtype}, {unit})", "", ""),
        ("parameters", report.scaled(report.params.bytes), report.params.how),
        ("input, one sample", report.scaled(report.input.bytes), report.input.how),
        ("activations, one sample", report.scaled(report.activations.bytes), report.activations.how),
        (f"inference, batch {report.batch}: peak at {report.peak_layer or '?'}",
         report.scaled(report.inference_peak.bytes), report.inference_peak.how),
        (f"inference, batch {report.batch}: peak + parameters",
         report.scaled(None if report.inference_peak.bytes is None else report.inference_peak.bytes
                       + report.params.bytes), "the two lines above"),
        (f"inference, batch {report.batch}: every activation kept",
         report.scaled(None if report.activations.bytes is None or report.input.bytes is None else
                       (report.activations.bytes + report.input.bytes) * report.batch + report.params.bytes),
         "(input + activations) x batch + parameters"),
        (f"Training, batch {report.batch}, {report.optimizer}", "", ""),
    ]
    rows += [("  " + line.label, report.scaled(line.bytes), line.how) for line in report.training]
    return rows
