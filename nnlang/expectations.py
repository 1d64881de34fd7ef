"""The answer-key summary: how many `->` expectations hold."""

from __future__ import annotations

EXPECTATION_CODES = ("E301", "E302", "E303")


def summary_line(compilation) -> str:
    program = compilation.program
    if program is None:
        return "expectations: not checked (the file does not parse)"
    failed = [d for d in compilation.diagnostics if d.code in EXPECTATION_CODES]
    checked = program.expectations_checked
    line = f"expectations: {checked} checked, {checked - len(failed)} hold, {len(failed)} differ"
    for diagnostic in failed:
        line += f"\n  line {diagnostic.span.line}: {diagnostic.message}"
    return line
