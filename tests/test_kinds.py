"""Every registered layer kind through every back end, and no back end that tests kind names.

A kind is one class in nnlang/layers/ plus a line in the registry (ALL_KINDS); everything a
back end needs to know of it is declared on the kind. These tests hold that:

* SAMPLES has one small model per registered kind, no more and no fewer, so that a new kind
  without a sample fails here; each sample goes through the text, JSON, Markdown, CSV, LaTeX
  and HTML reports, the equation (where a chain), the diagram's DOT source, both exporters
  (code that compiles, or a refusal E401 written for the kind) and the editors' word lists;
* the geometry inference hands the exporters (`Window`) is checked against arithmetic
  written out here;
* no module outside nnlang/layers/ compares a kind's name with a string.
"""

from __future__ import annotations

import ast
import collections
import html
import json
from pathlib import Path

import pytest

from nnlang import editor_words, layers, symbolic
from nnlang.driver import compile_text
from nnlang.emit import dot, equation
from nnlang.emit import json as emit_json
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit import tables
from nnlang.emit import text as emit_text
from nnlang.emit.codegen import ExportError
from nnlang.report import Options

ROOT = Path(__file__).resolve().parent.parent

#: One model per kind: (input shape, statements). The layer under test is labelled `probe`.
SAMPLES = {
    "input": ("4", ""),
    "conv1d": ("10x3", "probe: conv1d 4 k=3"),
    "conv2d": ("8x8x3", "probe: conv2d 4 k=3 relu"),
    "conv3d": ("6x6x6x2", "probe: conv3d 4 k=3"),
    "depthwise2d": ("8x8x3", "probe: depthwise2d k=3"),
    "separable2d": ("8x8x3", "probe: separable2d 4 k=3"),
    "conv2d_transpose": ("4x4x3", "probe: conv2d_transpose 2 k=3 s=2"),
    "maxpool2d": ("8x8x3", "probe: maxpool2d 2"),
    "avgpool2d": ("8x8x3", "probe: avgpool2d 2"),
    "maxpool1d": ("10x3", "probe: maxpool1d 2"),
    "avgpool1d": ("10x3", "probe: avgpool1d 2"),
    "globalavgpool2d": ("4x4x3", "probe: globalavgpool2d"),
    "globalmaxpool2d": ("4x4x3", "probe: globalmaxpool2d"),
    "globalavgpool1d": ("10x3", "probe: globalavgpool1d"),
    "globalmaxpool1d": ("10x3", "probe: globalmaxpool1d"),
    "dense": ("5", "probe: dense 3 relu"),
    "embedding": ("6", "probe: embedding 100 8"),
    "batchnorm": ("8x8x3", "probe: batchnorm"),
    "layernorm": ("5x4", "probe: layernorm"),
    "groupnorm": ("4x4x6", "probe: groupnorm 3"),
    "rmsnorm": ("5x4", "probe: rmsnorm"),
    "layerscale": ("5x4", "probe: layerscale"),
    "droppath": ("5x4", "probe: droppath 0.2"),
    "normalization": ("5x4", "probe: normalization"),
    "attention": ("6x8", "probe: attention 2"),
    "multiply": ("4x4x3", "probe: multiply {\n branch { globalavgpool2d keepdims=true }\n branch {}\n }"),
    "slice": ("4x4x6", "probe: slice axis=0 start=1 step=2"),
    "select": ("5x4", "probe: select axis=0 index=2"),
    "class_token": ("5x4", "probe: class_token"),
    "position_embedding": ("5x4", "probe: position_embedding 8"),
    "rnn": ("7x3", "probe: rnn 4"),
    "lstm": ("7x3", "probe: lstm 4"),
    "gru": ("7x3", "probe: gru 4"),
    "flatten": ("4x4x3", "probe: flatten"),
    "reshape": ("12", "probe: reshape 3x4"),
    "upsample2d": ("4x4x3", "probe: upsample2d 2"),
    "zeropad2d": ("4x4x3", "probe: zeropad2d 1"),
    "dropout": ("5", "probe: dropout 0.5"),
    "activation": ("5", "probe: activation tanh"),
    "concat": ("4x4x3", "probe: concat {\n branch { conv2d 2 k=1 }\n branch {}\n }"),
    "add": ("4x4x3", "probe: add {\n branch { conv2d 3 k=1 }\n branch {}\n }"),
}

KINDS = {kind.name: kind for kind in layers.ALL_KINDS}
EXPORTERS = {"pytorch": torch_emit, "keras": keras_emit}
EMITTERS = {"pytorch": torch_emit.PyTorchEmitter, "keras": keras_emit.KerasEmitter}


def test_every_registered_kind_has_exactly_one_sample():
    assert len(KINDS) == len(layers.ALL_KINDS), "two registered kinds share a name"
    assert set(SAMPLES) == set(KINDS), (
        f"kinds without a sample: {sorted(set(KINDS) - set(SAMPLES))}; "
        f"samples of no kind: {sorted(set(SAMPLES) - set(KINDS))}")


def _compiled(name: str):
    shape, statements = SAMPLES[name]
    source = f"model m {{\n input {shape}\n {statements}\n}}\n"
    compilation = compile_text(source, "probe.nn")
    errors = [f"{d.code}: {d.message}" for d in compilation.diagnostics if d.is_error]
    assert compilation.ok and not errors, errors
    return compilation


def _probes(model, kind) -> list:
    """The sample's layers of the kind under test (none for the input)."""
    found = [node for node in model.layers if node.kind == kind.name]
    if kind.model_input:
        assert not found and model.input_shape is not None
    else:
        assert found and all(node.name == "probe" for node in found), [n.name for n in model.layers]
    return found


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_reports_show_the_kind(name):
    kind = KINDS[name]
    compilation = _compiled(name)
    program = compilation.program
    probes = _probes(program.models[0], kind)
    options = Options(memory=True, explain=True, ops="flops-all")
    text = emit_text.render(program, options)
    data = json.loads(emit_json.render(program, compilation.diagnostics, options, "probe.nn"))
    rows = {
        "text": (text, f"probe ({kind.name}"),
        "markdown": (tables.render(program, options, "markdown", "probe.nn"), f"probe ({kind.name}"),
        "csv": (tables.render(program, options, "csv", "probe.nn"), f",probe,{kind.name},"),
        "latex": (tables.render(program, options, "latex", "probe.nn"), f"probe ({tables.latex_escape(kind.name)}"),
        "html": (tables.render(program, options, "html", "probe.nn"), f"probe ({html.escape(kind.name)}"),
    }
    for fmt, (output, row) in rows.items():
        assert output.strip(), fmt
        assert (row in output) == bool(probes), f"{fmt}: the row {row!r} of the {name} sample:\n{output}"
    listed = [layer for layer in data["models"][0]["layers"] if layer["name"] == "probe"]
    assert [layer["type"] for layer in listed] == [name] * len(probes)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_equation_shows_the_kind(name):
    kind = KINDS[name]
    program = _compiled(name).program
    probes = _probes(program.models[0], kind)
    if kind.joins_branches:
        with pytest.raises(equation.NotAChain):
            equation.render(program)
        return
    text = equation.render(program)
    if not probes:
        assert "  y = x\n" in text
        return
    term = kind.equation_term(probes[0].args, probes[0].input_shape)
    if term is None:  # left out: the sample's only layer
        assert "  y = x\n" in text
    elif isinstance(term, layers.Weighted):
        assert f"{term.symbol}_{{probe}}" in text and "y = x\n" not in text
    else:
        assert tables.latex_escape(term.function) in text and "y = x\n" not in text


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_diagram_shows_the_kind(name):
    kind = KINDS[name]
    program = _compiled(name).program
    probes = _probes(program.models[0], kind)
    source = dot.source(program.models)
    assert source.startswith("digraph") and "<B>input</B>" in source
    assert ("probe" in source) == bool(probes)
    for node in probes:
        assert dot.describe(node) in source


@pytest.mark.parametrize("framework", sorted(EXPORTERS))
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_both_exporters_write_or_refuse_the_kind(name, framework):
    kind = KINDS[name]
    if not kind.model_input:  # the input is the model's own argument, not a layer
        method = f"_k_{kind.export_as or kind.name}"
        assert callable(getattr(EMITTERS[framework], method, None)), (
            f"the {framework} exporter has no {method} for {name}: write one, or one that refuses it")
    compilation = _compiled(name)
    model = compilation.program.models[0]
    probes = _probes(model, kind)
    try:
        export = EXPORTERS[framework].export(compilation.program, source_lines=compilation.source.lines,
                                             file_name="probe.nn")
    except ExportError as error:
        assert error.diagnostic().code == "E401"
        assert "does not know how" not in error.message
        assert f"probe ({name})" in error.message, error.message
        return
    compile(export.code, f"<{framework} export of {name}>", "exec")
    made = export.models[0]
    written = made.modules if framework == "pytorch" else made.layers
    assert {node.index for node in model.layers} <= set(written)
    assert all(node.index in written for node in probes)


@pytest.mark.parametrize("framework", sorted(EXPORTERS))
def test_a_kind_without_an_export_method_is_refused(framework, monkeypatch):
    monkeypatch.setattr(KINDS["dense"], "export_as", "no_such_method")
    compilation = _compiled("dense")
    with pytest.raises(ExportError) as caught:
        EXPORTERS[framework].export(compilation.program)
    diagnostic = caught.value.diagnostic()
    assert (diagnostic.code, diagnostic.span.line) == ("E401", 3)  # the probe's statement
    name = {"pytorch": "PyTorch", "keras": "Keras"}[framework]
    assert caught.value.message == (f"cannot export to {name}: probe (dense): nnc does not know how to export "
                                    "this layer kind")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_editors_know_the_kind(name):
    kind = KINDS[name]
    if kind.statement:
        assert name in editor_words.layer_kinds()
        for alias in kind.aliases:
            assert alias in editor_words.layer_aliases() or alias in editor_words.layer_kinds(), alias
    else:  # a join is written as a keyword block: `concat { ... }`
        assert name in editor_words.keywords()


# --- the window geometry inference hands the exporters --------------------------------------

def _window(statement: str, shape: str):
    compilation = compile_text(f"model m {{\n input {shape}\n {statement}\n}}\n")
    assert compilation.ok, [d.message for d in compilation.diagnostics]
    return compilation.program.models[0].layers[0].window


def test_same_padding_is_split_as_keras_splits_it():
    # out = ceil(8/2) = 4; padding in total (4 - 1)*2 + 3 - 8 = 1: 0 before, 1 after
    assert _window("conv2d 4 k=3 s=2 pad=same", "8x8x3") == layers.Window(
        kernel=(3, 3), stride=(2, 2), dilation=(1, 1), padding=((0, 1), (0, 1)), same=True)
    # dilation 2: window 2*(3 - 1) + 1 = 5, out = 7, total 6*1 + 5 - 7 = 4: 2 and 2
    assert _window("conv1d 4 k=3 dilation=2 pad=same", "7x3").padding == ((2, 2),)


def test_explicit_padding_equal_to_same_is_called_same():
    # k=3, s=1: 'same' pads (3 - 1)/2 = 1 on each side, so pad=1 is 'same'; pad=2 and valid are not
    assert _window("conv2d 4 k=3 pad=1", "7x7x3").same
    assert not _window("conv2d 4 k=3 pad=2", "7x7x3").same
    assert not _window("conv2d 4 k=3", "7x7x3").same
    # k=1, s=1: 'same' pads nothing, as valid does
    assert _window("conv2d 4 k=1", "7x7x3").same


def test_same_padding_on_an_open_length_is_an_expression_of_it():
    # pad=same with stride 2 on a length T: ceil(T/2) outputs need (ceil(T/2) - 1)*2 + 3 - T positions
    # of padding, 1 when T is even and 2 when it is odd; Keras puts the smaller half before
    ((before, after),) = _window("conv1d 4 k=3 s=2 pad=same", "?x3").padding
    assert symbolic.is_symbolic(before)  # it depends on T
    for t in range(1, 12):
        total = (-(-t // 2) - 1) * 2 + 3 - t
        split = (total // 2, total - total // 2)
        assert (symbolic.evaluate(before, {"T": t}), symbolic.evaluate(after, {"T": t})) == split, t
        assert _window("conv1d 4 k=3 s=2 pad=same", f"{t}x3").padding == (split,), t  # the length written in


def test_ceil_rounds_up_only_where_it_changes_the_size():
    # 5 rows, window 2, stride 2: floor(3/2) + 1 = 2 outputs, ceil(3/2) + 1 = 3
    assert _window("maxpool2d 2 ceil=true", "5x5x3").ceil_rounds_up
    # 4 rows: (4 - 2)/2 + 1 = 2 either way
    assert not _window("maxpool2d 2 ceil=true", "4x4x3").ceil_rounds_up
    assert not _window("maxpool2d 2", "5x5x3").ceil_rounds_up
    # an open length with a stride above 1: the length decides
    assert _window("maxpool1d 2 ceil=true", "?x3").ceil_rounds_up


def test_layers_without_a_window():
    for statement, shape in (("dense 3", "5"), ("conv2d_transpose 2 k=3 s=2", "4x4x3"), ("globalavgpool2d", "4x4x3")):
        assert _window(statement, shape) is None, statement


# --- no back end tests a kind's name ------------------------------------------------------------

#: Comparisons with kind names outside nnlang/layers/: none (declare the fact on the kind instead).
KNOWN_OFFENDERS = collections.Counter()

_NAMES = {name for kind in layers.ALL_KINDS for name in (kind.name, *kind.aliases)}
#: Kind names that are not also a family name (FILL tables) or a keyword (concat, add): two of
#: them in one literal make it a table of kinds.
_TABLE_WORDS = ({kind.name for kind in layers.ALL_KINDS} - {kind.family for kind in layers.ALL_KINDS}
                - set(editor_words.keywords()))


def _names_a_kind(node) -> bool:
    """`x.kind`, `x.mode` (a join's kind), `kind`, `kind.name`, `x.kind.name`, `kind_of(x).name`,
    `lookup(x).name`, and any of them lower-cased."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "lower", "upper", "casefold", "strip"):
        return _names_a_kind(node.func.value)
    if isinstance(node, ast.Name):
        return node.id == "kind"
    if not isinstance(node, ast.Attribute):
        return False
    if node.attr in ("kind", "mode"):
        return True
    base = node.value
    return node.attr == "name" and (
        (isinstance(base, ast.Name) and base.id == "kind") or (isinstance(base, ast.Attribute) and base.attr == "kind")
        or (isinstance(base, ast.Call) and getattr(base.func, "id", getattr(base.func, "attr", "")) in (
            "kind_of", "lookup")))


def _strings(node) -> set:
    """The string constants of a constant, a tuple/list/set/dict literal or a set/frozenset/tuple of one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    if isinstance(node, ast.Dict):
        return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("frozenset", "set", "tuple") and node.args:
        return _strings(node.args[0])
    return set()


def _kind_name_tests(tree) -> list[str]:
    """Comparisons of a kind with kind names, prefix tests of a kind, and literal tables of kinds."""
    found, inside = [], set()
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            hit = any((_names_a_kind(a) and _strings(b) & _NAMES) or (_names_a_kind(b) and _strings(a) & _NAMES)
                      for a, b in zip(sides, sides[1:]))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            hit = node.func.attr in ("startswith", "endswith") and _names_a_kind(node.func.value)
        if hit:
            found.append(ast.unparse(node))
            inside.update(id(inner) for inner in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) not in inside and isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            words = sorted(_strings(node) & _TABLE_WORDS)
            if len(words) >= 2:
                found.append(f"a table of {len(words)} kinds: {', '.join(words[:2])}, ...")
    return found


def test_the_scan_finds_kind_name_tests():
    source = """
if node.kind == "conv2d": pass
if layer.kind in ("dense", "flatten"): pass
if kind.name != 'input': pass
if stmt.kind.lower() == "concat": pass
if kind_of(node).name == "gru": pass
if node.kind.startswith("max"): pass
CLASSES = {"conv2d": "Conv2D", "maxpool2d": "MaxPooling2D"}
LAST = frozenset({"lstm", "gru"})
if group.kind == "block": pass
if token.kind == "NAME": pass
FILL = {"dense": 1, "activation": 2}
"""
    found = _kind_name_tests(ast.parse(source))
    assert found == [
        "node.kind == 'conv2d'", "layer.kind in ('dense', 'flatten')", "kind.name != 'input'",
        "stmt.kind.lower() == 'concat'", "kind_of(node).name == 'gru'", "node.kind.startswith('max')",
        "a table of 2 kinds: conv2d, maxpool2d, ...", "a table of 2 kinds: gru, lstm, ...",
    ]


def test_no_module_outside_the_layers_tests_kind_names():
    found = collections.Counter()
    for path in sorted((ROOT / "nnlang").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("nnlang/layers/"):
            continue
        for text in _kind_name_tests(ast.parse(path.read_text(encoding="utf-8"))):
            found[(relative, text)] += 1
    new = found - KNOWN_OFFENDERS
    assert not new, f"a kind's name tested outside nnlang/layers/ (declare the fact on the kind): {sorted(new)}"
    gone = KNOWN_OFFENDERS - found
    assert not gone, f"fixed, remove from KNOWN_OFFENDERS: {sorted(gone)}"
