"""docs/conventions.md, "Agreement with Keras and PyTorch": held to the layer registry, the
compiler, the exporters and (marked ``frameworks``) Keras and PyTorch themselves, so that
the document cannot drift.

* the first table has exactly one row per statement kind of the registry (and the joins);
* every kind has a worked example in the second table, and every example compiles under
  each convention to the output shape, parameters and MACs written there;
* the exporters write the classes the tables name, and refuse where they say "refused";
* Keras and PyTorch, given the exported code, measure the numbers written there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nnlang.driver import compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit.codegen import ExportError
from nnlang.layers import statement_kinds

DOC = Path(__file__).resolve().parent.parent / "docs" / "conventions.md"
CONVENTIONS = ("keras", "pytorch", "textbook")
JOINS = ("concat", "add", "multiply")


def _table(marker: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    assert f"<!-- {marker} -->" in text and f"<!-- /{marker} -->" in text, f"{marker} markers missing"
    block = text.split(f"<!-- {marker} -->")[1].split(f"<!-- /{marker} -->")[0]
    lines = [line for line in block.strip().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        assert len(cells) == len(header), f"{len(cells)} cells, {len(header)} columns: {line}"
        rows.append(cells)
    return rows


def _code(cell: str) -> str:
    """The first `...` of a cell."""
    match = re.search(r"`([^`]+)`", cell)
    return match.group(1) if match else ""


KIND_ROWS = _table("agreement-kinds")
EXAMPLE_ROWS = _table("agreement-examples")
EXPECTED_KINDS = {kind.name for kind in statement_kinds()} | set(JOINS)


def _example_id(row) -> str:
    return f"{_code(row[0])}: {_code(row[1])}"


def test_every_kind_has_exactly_one_row():
    kinds = [_code(row[0]) for row in KIND_ROWS]
    duplicates = sorted({k for k in kinds if kinds.count(k) > 1})
    assert not duplicates, f"kinds with more than one row: {duplicates}"
    assert set(kinds) == EXPECTED_KINDS, (
        f"missing rows: {sorted(EXPECTED_KINDS - set(kinds))}; unknown kinds: {sorted(set(kinds) - EXPECTED_KINDS)}")


def test_every_kind_has_a_worked_example():
    kinds = {_code(row[0]) for row in EXAMPLE_ROWS}
    assert kinds == EXPECTED_KINDS, (
        f"no example: {sorted(EXPECTED_KINDS - kinds)}; unknown kinds: {sorted(kinds - EXPECTED_KINDS)}")


def test_notes_exist_and_are_used():
    text = DOC.read_text(encoding="utf-8").split("<!-- /agreement-examples -->")[1]
    notes = {int(n) for n in re.findall(r"^(\d+)\. \*\*", text, flags=re.M)}
    cited = {int(n) for row in KIND_ROWS + EXAMPLE_ROWS for cell in row for n in re.findall(r"\[(\d+)\]", cell)}
    assert notes == set(range(1, len(notes) + 1)), f"notes are not numbered 1..n: {sorted(notes)}"
    assert cited <= notes, f"cited but not written: {sorted(cited - notes)}"
    assert notes <= cited, f"written but never cited: {sorted(notes - cited)}"


def _counts(cell: str) -> tuple[int, int]:
    """'256 (128)' -> (total 256, non-trainable 128)."""
    match = re.fullmatch(r"(\d+)(?: \((\d+)\))?", cell)
    assert match, f"not a parameter count: {cell!r}"
    return int(match.group(1)), int(match.group(2) or 0)


def _shape(cell: str) -> tuple:
    return tuple(None if d == "?" else int(d) for d in cell.split("x"))


def _source(row) -> str:
    return f"model m {{ {_code(row[1])} }}"


def _last(program):
    """The layer the row describes: the last one (None for the `input` row)."""
    model = program.models[0]
    return model, (model.layers[-1] if model.layers else None)


@pytest.mark.parametrize("row", EXAMPLE_ROWS, ids=_example_id)
def test_example_numbers_hold(row):
    kind, _, output, keras, pytorch, textbook, macs = row[:7]
    written = {"keras": keras, "pytorch": pytorch, "textbook": textbook}
    for convention in CONVENTIONS:
        compilation = compile_text(_source(row), convention=convention)
        assert compilation.ok, [d.message for d in compilation.diagnostics]
        model, node = _last(compilation.program)
        if _code(kind) == "input":
            assert node is None and model.input_shape == _shape(output)
            assert _counts(written[convention]) == (0, 0) and int(macs) == 0
            continue
        assert node.kind == _code(kind), f"the example's last layer is a {node.kind}"
        assert node.output_shape == _shape(output), f"output {node.output_shape}"
        assert (node.params, node.non_trainable.value) == _counts(written[convention]), (
            f"{convention}: {node.params} ({node.non_trainable.value} non-trainable)")
        assert node.macs.value == int(macs), f"MACs {node.macs.value}"


def _export(framework: str, row):
    program = compile_text(_source(row)).program
    return (torch_emit if framework == "pytorch" else keras_emit).export(program)


@pytest.mark.parametrize("framework", ["keras", "pytorch"])
@pytest.mark.parametrize("row", EXAMPLE_ROWS, ids=_example_id)
def test_example_exports_as_written(row, framework):
    cell = row[7] if framework == "keras" else row[8]
    if cell.startswith("refused"):
        with pytest.raises(ExportError) as error:
            _export(framework, row)
        from test_export import refused

        refused(framework, error.value)
        return
    code = _export(framework, row).code
    name = _code(cell)
    assert name and name in code, f"the {framework} export does not write {name}:\n{code}"


@pytest.mark.parametrize("row", KIND_ROWS, ids=lambda row: _code(row[0]))
def test_kind_rows_name_what_the_exporters_write(row):
    kind = _code(row[0])
    example = next(r for r in EXAMPLE_ROWS if _code(r[0]) == kind)
    for framework, cell in (("keras", row[4]), ("pytorch", row[5])):
        if cell.startswith("refused"):  # the exporter refuses the kind's example, as the note says
            with pytest.raises(ExportError) as error:
                _export(framework, example)
            from test_export import refused

            refused(framework, error.value)
            continue
        name = _code(cell).split("(")[0]
        assert name, f"the {framework} cell of {kind} names nothing in code: {cell!r}"
        first, *others = name.split("/")  # nn.BatchNorm1d/2d/3d: any of them
        names = [first] + [first[: -len(other)] + other for other in others]
        prefix = "layers." if framework == "keras" and not name.startswith("keras.") else ""
        code = _export(framework, example).code
        assert any(prefix + n in code for n in names), (
            f"the {framework} export of {_code(example[1])} writes none of {names}")


@pytest.mark.frameworks
@pytest.mark.parametrize("row", EXAMPLE_ROWS, ids=_example_id)
def test_example_numbers_hold_in_the_frameworks(row):
    """Keras' weights and PyTorch's parameters and FlopCounterMode MACs of the example's last
    layer are the numbers written in the row."""
    from test_export import keras_measure, torch_measure

    kind, _, output, keras, pytorch, _, macs, keras_export, torch_export = row
    shape = _shape(output)
    program = compile_text(_source(row)).program
    _, node = _last(program)
    if not keras_export.startswith("refused"):
        _, layers, models = keras_measure(_source(row))
        if node is None:
            assert models["m"][:2] == (shape, 0)
        else:
            got = layers["m"][node.index]
            total, frozen = _counts(keras)
            assert got.shape == shape, f"Keras output {got.shape}"
            assert (got.params, got.frozen) == (total - frozen, frozen), f"Keras weights {got.params} + {got.frozen}"
    if not torch_export.startswith("refused"):
        _, layers, models = torch_measure(_source(row))
        if node is None:
            assert models["m"] == (shape, 0)
        else:
            got = layers["m"][node.index]
            assert got.shape == shape, f"PyTorch output {got.shape}"
            assert (got.params, 0) == _counts(pytorch), f"PyTorch parameters {got.params}"
            assert got.macs == int(macs), f"FlopCounterMode MACs {got.macs}"
