"""Documents that must not drift from the compiler."""

import re
from pathlib import Path

import pytest

from nnlang.driver import compile_text
from nnlang.reference import markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_layer_reference_is_generated_from_the_registry():
    committed = (DOCS / "layers.md").read_text(encoding="utf-8")
    assert committed == markdown(), "docs/layers.md is stale: run `python -m nnlang.reference > docs/layers.md`"


def _convention_rows():
    text = (DOCS / "conventions.md").read_text(encoding="utf-8")
    table = text.split("<!-- conventions-table -->")[1].split("<!-- /conventions-table -->")[0]
    rows = [line for line in table.strip().splitlines()[2:] if line.startswith("|")]
    assert len(rows) >= 5
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        case, snippet, keras, pytorch, textbook = cells[:5]
        yield pytest.param(snippet.strip("`"), {"keras": keras, "pytorch": pytorch, "textbook": textbook}, id=case)


def _counts(text):
    """'256 (128)' -> (total 256, non-trainable 128)."""
    match = re.fullmatch(r"(\d+)(?: \((\d+)\))?", text)
    assert match, text
    return int(match.group(1)), int(match.group(2) or 0)


@pytest.mark.parametrize("snippet, expected", list(_convention_rows()))
def test_conventions_table_holds(snippet, expected):
    for convention, text in expected.items():
        total, non_trainable = _counts(text)
        compilation = compile_text(f"model m {{ {snippet} }}", convention=convention)
        assert compilation.ok, [d.message for d in compilation.diagnostics]
        totals = compilation.program.models[0].totals()
        assert (totals.params, totals.non_trainable) == (total, non_trainable), convention
