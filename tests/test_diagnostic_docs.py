"""Every diagnostic code is documented once (nnlang/diagnostic_docs.py), with an example that
really yields it; `nnc explain` and docs/diagnostics.md are generated from that one place."""

from pathlib import Path

import pytest

from helpers_nnc import assert_no_traceback, run_nnc
from nnlang.diagnostic_docs import DOCS, EXAMPLE_NAME, compile_example, explain, markdown
from nnlang.diagnostics import CODES, ERROR

DOCS_MD = Path(__file__).resolve().parent.parent / "docs" / "diagnostics.md"

#: E900 reports a bug in nnc: no .nn file may cause it, so it has no example to compile.
INTERNAL = {"E900"}


def _params(codes):
    return list(codes)


def test_every_code_has_a_doc_and_every_doc_a_code():
    assert set(CODES) - set(DOCS) == set(), "codes without a doc entry"
    assert set(DOCS) - set(CODES) == set(), "doc entries for codes that are not registered"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_doc_explains_and_has_an_example_unless_internal(code):
    doc = DOCS[code]
    assert len(doc.explanation.split()) >= 20, "a few sentences: what it means, why it matters, how to fix it"
    if code in INTERNAL:
        assert doc.example is None
        with pytest.raises(ValueError):
            compile_example(code)
    else:
        assert doc.example and doc.example.endswith("\n")


@pytest.mark.parametrize("code", _params(sorted(set(CODES) - INTERNAL)))
def test_example_yields_exactly_its_code(code):
    compilation = compile_example(code)
    found = [d.code for d in compilation.diagnostics]
    assert found == [code], found
    diagnostic = compilation.diagnostics.items[0]
    assert diagnostic.severity == CODES[code].severity
    assert compilation.ok is (CODES[code].severity != ERROR)


@pytest.mark.parametrize("code", ["E003", "E004", "E101", "E112", "E204", "E302"])
def test_error_examples_exit_1_through_the_cli(tmp_path, code):
    doc = DOCS[code]
    path = tmp_path / EXAMPLE_NAME
    path.write_bytes(doc.example.encode(doc.encoding))
    proc = run_nnc(*doc.argv(path))
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    assert f"{path}:" in proc.stderr and f"error[{code}]" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("code", ["W001", "W201", "W302"])
def test_warning_and_note_examples_exit_0_through_the_cli(tmp_path, code):
    path = tmp_path / EXAMPLE_NAME
    path.write_text(DOCS[code].example, encoding="utf-8")
    proc = run_nnc(path)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert f"{CODES[code].severity}[{code}]" in proc.stderr


def test_committed_docs_are_the_generated_text():
    committed = DOCS_MD.read_text(encoding="utf-8")
    assert committed == markdown(), (
        "docs/diagnostics.md is stale: run `python -m nnlang.diagnostic_docs > docs/diagnostics.md`")


def test_docs_show_every_code_with_its_example_and_the_diagnostic_it_yields():
    text = markdown()
    for code, entry in CODES.items():
        section = text.split(f"\n## {code}\n", 1)[1].split("\n## ", 1)[0]
        assert f"**{entry.title}** ({entry.severity})" in section
        if code not in INTERNAL:
            assert DOCS[code].example.rstrip("\n") in section
            assert f"{EXAMPLE_NAME}:" in section and f"{entry.severity}[{code}]" in section
    assert "\n## Limits\n" in text
    for name in ("MAX_LAYERS", "MAX_STEPS", "MAX_CALL_DEPTH", "MAX_LITERAL"):
        assert f"(`{name}`)" in text


def test_explain_code_is_the_doc_entry():
    text = explain("E302")
    assert text == explain("E302")
    assert text.startswith("E302 (error): parameter count differs from the expectation\n")
    assert "params=9284" in text  # the example
    assert f"{EXAMPLE_NAME}:3:31: error[E302]: params: expected 9,284, computed 3*3*32*32 + 32 = 9,248" in text
    assert explain("E999") is None


def test_nnc_explain_prints_the_entry():
    proc = run_nnc("explain", "E302")
    assert_no_traceback(proc)
    assert proc.returncode == 0
    assert proc.stdout == explain("E302") + "\n"
    lower = run_nnc("explain", "w201")
    assert lower.returncode == 0 and lower.stdout.startswith("W201 (warning):")
    internal = run_nnc("explain", "E900")
    assert internal.returncode == 0 and "no .nn file should cause it" in internal.stdout


def test_nnc_explain_unknown_code_exits_2():
    proc = run_nnc("explain", "E999")
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "E999" in proc.stderr and proc.stdout == ""


def test_diagnostics_do_not_import_the_compiler():
    """The import graph goes one way: diagnostics and limits below, the compiler above them, the
    documentation of the codes (which compiles its examples) on top."""
    import ast as python_ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "nnlang"
    for module in ("diagnostics.py", "limits.py", "source.py", "choices.py"):
        tree = python_ast.parse((package / module).read_text(encoding="utf-8"))
        imported = {node.module for node in python_ast.walk(tree) if isinstance(node, python_ast.ImportFrom)}
        assert not imported & {"compiler", "diagnostic_docs", "driver", "parser", "report"}, (module, imported)
