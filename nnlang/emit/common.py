"""What every table back end shares: cell texts, column titles, worked formulas, the totals lines
and the memory section, all formatted from a :class:`nnlang.report.ModelReport`."""

from __future__ import annotations

from typing import NamedTuple, Optional

from ..report import (Column, Memory, MemoryLine, MemoryReport, ModelReport, Options, Row, elements, ops_title,
                      shape_with_batch)


def title(column: Column, options: Options) -> str:
    if column is Column.FLOPS:
        return "FLOPs" if options.ops in ("macs", "flops") else "FLOPs (all)"
    if column is Column.MEMORY:
        return f"Output memory ({options.dtype})"
    return column.title


_COUNTS = frozenset({Column.PARAMS, Column.TRAINABLE, Column.NON_TRAINABLE, Column.MACS, Column.POOL_OPS})


def count_text(value: Optional[int]) -> str:
    """A count with thousands separators; `?` when it is unknown until run time."""
    return "?" if value is None else f"{value:,}"


def unknown_note(names: list) -> str:
    """' (unknown: conv2d_1 depends on a size unknown until run time)', or '' for no names."""
    if not names:
        return ""
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    verb = "depends" if len(names) == 1 else "depend"
    return f" (unknown: {shown} {verb} on a size unknown until run time)"


def cell(row: Row, column: Column, options: Options) -> str:
    if column is Column.LAYER:
        kind = (row.call or row.type) + (f", {row.activation}" if row.activation else "")
        mark = " [+]" if row.collapsed else ""
        return f"{'  ' * row.depth}{row.name} ({kind}){mark}"
    if column is Column.OUTPUT:
        return shape_with_batch(row.output_shape, options.batch)
    if column in _COUNTS:  # a count the row holds under the column's key
        return count_text(getattr(row, column.key))
    if column is Column.FLOPS:
        return count_text(row.ops(options.ops if options.ops != 'macs' else 'flops'))
    if column is Column.MEMORY:
        values = elements(row.output_shape)
        if values is None:
            return "?"
        return Memory(values * options.batch_size, options.dtype, options.units).text()
    return getattr(row, column.key)


def explanation(row: Row, convention: str) -> list[str]:
    """The worked formulas of one layer row, as a student writes them, its parameters counted
    in `convention`."""
    node = row.layer
    if node is None:
        return []
    trainable, non_trainable = node.counts(convention)
    lines = []
    named = [d for d in node.dims if d is not None and not d.is_literal]
    if named:
        worked = list(dict.fromkeys(d.worked() for d in named))  # height and width alike: shown once
        lines.append("output: " + ", ".join(worked) + (" (each axis)" if len(worked) < len(named) else ""))
    if not trainable.is_literal:
        lines.append("params: " + trainable.worked())
    if not non_trainable.is_literal:
        lines.append("non-trainable: " + non_trainable.worked())
    if not node.macs.is_literal or not node.macs.is_known:
        lines.append("MACs: " + node.macs.worked())
    if not node.pool_ops.is_literal or not node.pool_ops.is_known:
        lines.append("pool ops: " + node.pool_ops.worked())
    return lines


def totals_lines(report: ModelReport) -> list[str]:
    """Total / trainable / non-trainable parameters with their memory, and the operation count."""
    options, totals, memory = report.options, report.totals, report.param_memory
    lines = [
        f"Total params: {totals.params:,} ({memory.text()} at {options.dtype})",
        f"Trainable params: {totals.trainable:,}",
        f"Non-trainable params: {totals.non_trainable:,}",
    ]

    def count(kind: str) -> str:
        value = totals.ops(kind) if kind != "pool_ops" else totals.pool_ops
        return count_text(value) + (unknown_note(report.unknown_layers(kind)) if value is None else "")

    if options.ops == "macs":
        lines.append(f"MACs: {count('macs')}")
    else:
        lines.append(f"{ops_title(options.ops)}: {count(options.ops)}")
        lines.append(f"MACs: {count('macs')}")
    if totals.pool_ops is None or totals.pool_ops:
        lines.append(f"Pooling operations (not MACs): {count('pool_ops')}")
    if options.batch is not None and options.batch != 1:
        lines.append(f"Operations are per sample; for the batch of {options.batch}: {count_text(report.batch_macs)}"
                     " MACs")
    if options.explain:
        lines.append(f"Parameter memory: {memory.worked()}")
    return lines


#: What the units of a memory section mean (each figure is in the largest unit it reaches).
UNIT_NAMES = {"si": "kB, MB, GB = 10^3, 10^6, 10^9 bytes", "iec": "KiB, MiB, GiB = 2^10, 2^20, 2^30 bytes"}


class MemoryRow(NamedTuple):
    """A line of the memory section as the tables show it."""

    section: str  # "memory" (parameters, activations, inference) or "training"
    label: str
    line: Optional[MemoryLine]  # None for the section's heading
    how: str  # the arithmetic as the text table words it


def memory_table(memory: MemoryReport) -> list[MemoryRow]:
    """The memory section (--memory), in order: each section's heading, then its lines."""
    batch = memory.batch
    rows = [
        MemoryRow("memory", f"Memory ({memory.dtype}; {UNIT_NAMES[memory.units]})", None, ""),
        MemoryRow("memory", "parameters", memory.params, memory.params.how),
        MemoryRow("memory", "input, one sample", memory.input, memory.input.how),
        MemoryRow("memory", "activations, one sample", memory.activations, memory.activations.how),
        MemoryRow("memory", f"inference, batch {batch}: peak at {memory.peak_layer or '?'}", memory.inference_peak,
                  memory.inference_peak.how),
        MemoryRow("memory", f"inference, batch {batch}: peak + parameters", memory.peak_plus_params,
                  "the two lines above"),
        MemoryRow("memory", f"inference, batch {batch}: every activation kept", memory.every_activation_kept,
                  "(input + activations) x batch + parameters"),
        MemoryRow("training", f"Training, batch {batch}, {memory.optimizer}", None, ""),
    ]
    rows += [MemoryRow("training", line.label, line, line.how) for line in memory.training]
    return rows


def memory_rows(memory: MemoryReport) -> list[tuple[str, str, str]]:
    """The memory section as text: (label, amount, how) per line; a heading has no amount."""
    out = []
    for row in memory_table(memory):
        if row.line is None:
            out.append((row.label, "", ""))
        else:
            indent = "  " if row.section == "training" else ""
            out.append((indent + row.label, memory.scaled(row.line.bytes), row.how))
    return out


def memory_lines(memory: MemoryReport) -> list[str]:
    """The memory section (--memory), as aligned text lines."""
    rows = memory_rows(memory)
    width = max(len(r[0]) for r in rows if r[1])  # a heading stands on its own line
    number = max(len(r[1]) for r in rows)
    out = []
    for label, value, how in rows:
        if not value:
            out.append(label)
        else:
            out.append(f"  {label.ljust(width)}  {value.rjust(number)}   {how}")
    return out
