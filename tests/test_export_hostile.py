"""`nnc export`: text from the input reaches the generated code only as escaped text.

The file's path, model, block, branch and layer names and the statements quoted from
the source go into docstrings, comments, string literals and identifiers of the
generated module. Whatever they hold (quotes, backslashes, line ends, NUL, U+2028,
lone surrogates, Python keywords), the module must compile with warnings as errors,
say what it said before (the docstrings hold the exact path), and be the same program
as for a harmless name: the module's syntax tree with its string constants blanked
out equals the one of an export of a file called `model.nn`.

Neither torch nor keras is imported: where a module is imported, a stand-in package
of a few empty classes takes their place.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import os
import subprocess
import sys
import tokenize
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_nnc import assert_no_traceback, run_nnc
from nnlang.driver import compile_path, compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit
from nnlang.emit.codegen import ExportError, comment, docstring, string_literal

EMITTERS = {"pytorch": torch_emit, "keras": keras_emit}

#: The imports each generated module starts with, and nothing else at its top level but
#: its docstring and the classes (PyTorch: models, blocks and helpers; Keras: blocks) and
#: functions (Keras: models).
IMPORTS = {
    "pytorch": ["import torch", "from torch import nn", "from torch.nn import functional as F"],
    "keras": ["import keras", "from keras import layers"],
}
DEFINITIONS = {"pytorch": ast.ClassDef, "keras": (ast.ClassDef, ast.FunctionDef)}
#: The base classes of a generated class.
BASES = {"pytorch": ["nn.Module"], "keras": []}

#: A file name that ends the docstrings of an unescaped export and runs code on import.
PAYLOAD_NAME = 'x""";import os;os.mkdir("pwned");"""y.nn'

#: A model with a block call written over two lines (a line continuation), a block call
#: broken inside its parentheses, and a concat of two branches.
NETWORK = """\
block inc(a, b) {
    conv2d a k=1
    conv2d b k=3 pad=same
}
model net {
    input 8x8x3
    first: inc(4, \\
               8) -> 8x8x8
    inc(2,
        3)
    join: concat {
        branch left { conv2d 2 k=1 }
        branch right { }
    }
    flatten
    dense 3 softmax
}
"""
#: The two block calls as the docstrings and comments quote them (written out by hand).
FIRST_CALL = "first: inc(4, 8)"
SECOND_CALL = "inc(2, 3)"

#: Characters that end or break a string, a docstring or a comment somewhere.
HOSTILE = ['"', "'", '"""', "'''", "\\", "\\N{", "\\u", "\\x", "\n", "\r", "\r\n", "\t", "\x0b", "\x0c", "\x1c",
           "\x85", "\u2028", "\u2029", "\ufeff", "\u202e", "\udc80", "\udcff", "\ud800", "#", "{", "}", "$(x)",
           "é", "\U0001f600", " ", "\x7f", "\x1b[31m"]


def strict_compile(code: str, name: str = "<export>"):
    """Compile the generated module as `python -W error` would; a warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compile(code, name, "exec")


def module_tree(code: str, target: str) -> ast.Module:
    """The module's syntax tree, after checking that its top level is only the module
    docstring, the framework's imports and the expected definitions, and that every class
    body is a docstring and methods: nothing runs on import but imports and definitions."""
    strict_compile(code)
    tree = ast.parse(code)
    first, *rest = tree.body
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
    imports = [ast.unparse(node) for node in rest if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == IMPORTS[target]
    definitions = rest[len(imports):]
    assert definitions and all(isinstance(node, DEFINITIONS[target]) for node in definitions), ast.dump(tree)
    for node in definitions:
        assert not node.decorator_list
        if isinstance(node, ast.ClassDef):
            assert ast.get_docstring(node, clean=False) is not None
            assert all(isinstance(item, ast.FunctionDef) and not item.decorator_list for item in node.body[1:])
            assert [ast.unparse(base) for base in node.bases] == BASES[target] and not node.keywords
        else:
            assert not node.args.args and ast.get_docstring(node, clean=False) is not None
    return tree


def skeleton(tree: ast.AST, identifiers: bool = False) -> str:
    """The tree with every string constant blanked out (and, if asked, every name)."""

    class Blank(ast.NodeTransformer):
        def visit_Constant(self, node):
            return ast.Constant("") if isinstance(node.value, str) else node

        def visit_Name(self, node):
            return ast.Name("_", node.ctx) if identifiers else node

        def visit_Attribute(self, node):
            node = self.generic_visit(node)
            if identifiers:
                node.attr = "_"
            return node

        def visit_ClassDef(self, node):
            node = self.generic_visit(node)
            if identifiers:
                node.name = "_"
            return node

        def visit_FunctionDef(self, node):
            node = self.generic_visit(node)
            if identifiers and node.name != "__init__" and node.name != "forward":
                node.name = "_"
            return node

    return ast.dump(Blank().visit(ast.parse(ast.unparse(tree))))


def only_in_text(code: str, marker: str) -> None:
    """`marker` appears in string literals and comments only, never as code."""
    found = False
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if marker in token.string:
            assert token.type in (tokenize.STRING, tokenize.COMMENT), token
            found = True
    assert found, f"{marker!r} is not in the code at all"


def lines_are_plain(code: str) -> None:
    """The code has no line end but \\n (Python's tokenizer and every editor agree on its lines)
    and can be written as UTF-8."""
    code.encode("utf-8")
    assert code.splitlines() == code.split("\n")[:-1]
    assert "\x00" not in code


def export(target: str, program, **context) -> str:
    return EMITTERS[target].export(program, **context).code


def model_docstring(tree: ast.Module) -> str:
    """The docstring of the model's class (PyTorch: the last class) or function (Keras)."""
    return ast.get_docstring(tree.body[-1], clean=False)


@pytest.fixture(scope="module")
def network():
    compilation = compile_text(NETWORK, "network.nn")
    assert compilation.program is not None and not compilation.diagnostics.has_errors
    return compilation


# --- the file's path --------------------------------------------------------------------------


def check_file_name(target: str, compilation, name: str) -> None:
    """The export of a file called `name` is the export of `model.nn` with the path, exactly,
    in its docstrings."""
    code = export(target, compilation.program, source_lines=compilation.source.lines, file_name=name)
    lines_are_plain(code)
    tree = module_tree(code, target)
    plain = module_tree(export(target, compilation.program, source_lines=compilation.source.lines,
                               file_name="model.nn"), target)
    assert skeleton(tree) == skeleton(plain)
    framework = "PyTorch modules" if target == "pytorch" else "Keras models"
    assert ast.get_docstring(tree, clean=False).startswith(f"{framework} exported by nnc from {name}.\n\n")
    assert model_docstring(tree).startswith(f"net, exported by nnc from {name}.\n\n")


@pytest.mark.parametrize("target", ["pytorch", "keras"])
@pytest.mark.parametrize("name", [
    PAYLOAD_NAME, "x'''y.nn", 'a"', '"', "\\", "models\\unet.nn", "C:\\Nets\\x.nn", "ends with a backslash\\",
    "line\nbreak.nn", "cr\rlf\r\n.nn", "nul\x00.nn", "ff\x0c.nn", "ls\u2028ps\u2029.nn", "nel\x85.nn",
    "bom\ufeff.nn", "rtl\u202egnp.nn", "lone\udc80\udcff.nn", "high\ud800.nn", "tab\t.nn", "\\N{BULLET}.nn",
    "\\x41\\u0041.nn", "é\U0001f600.nn", "# comment.nn", "{braces}.nn",
])
def test_a_hostile_file_name_is_text_in_the_docstrings(network, target, name):
    check_file_name(target, network, name)


@settings(derandomize=True, database=None, max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(name=st.lists(st.one_of(st.sampled_from(HOSTILE),
                               st.characters(exclude_categories=(), exclude_characters="/\x00")),
                     min_size=1, max_size=12).map("".join))
def test_any_linux_file_name_is_text_in_the_docstrings(network, name):
    """Any name a Linux file may have (anything but '/' and NUL; lone surrogates stand for
    bytes that are not UTF-8), for both targets."""
    for target in ("pytorch", "keras"):
        check_file_name(target, network, name)


# --- the command line, with real files ----------------------------------------------------------

FAKE_FRAMEWORKS = {
    "torch/__init__.py": "from . import nn\n",
    "torch/nn/__init__.py": "class Module:\n    pass\n\n\nclass ModuleDict(dict):\n    pass\n",
    "torch/nn/functional.py": "",
    "keras/__init__.py": "from . import layers\n",
    "keras/layers.py": "",
}


def import_in_stand_in(module: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Import the generated `module` in a fresh interpreter whose torch and keras are empty stand-ins."""
    fake = cwd / "fake_frameworks"
    for path, text in FAKE_FRAMEWORKS.items():
        (fake / path).parent.mkdir(parents=True, exist_ok=True)
        (fake / path).write_text(text)
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('generated', {str(module)!r})\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n"
            "print(sorted(name for name in vars(module) if not name.startswith('__')))\n")
    environment = {**os.environ, "PYTHONPATH": str(fake)}
    return subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=120)


@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_the_payload_in_a_file_name_does_not_run_on_import(tmp_path, target):
    source = tmp_path / PAYLOAD_NAME
    source.write_text(NETWORK)
    out = tmp_path / "generated.py"
    proc = run_nnc("export", source, "--to", target, "-o", out)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    code = out.read_text(encoding="utf-8")
    module_tree(code, target)
    only_in_text(code, "os.mkdir(")
    imported = import_in_stand_in(out, tmp_path)
    assert imported.returncode == 0, imported.stderr
    # the module's names: the imports, a class per model, block definition and helper (Concat), or a class per
    # block definition and a function per model
    expected = ["Concat", "F", "Inc", "Net", "nn", "torch"] if target == "pytorch" else \
        ["Inc", "build_net", "keras", "layers"]
    assert imported.stdout.strip() == repr(expected)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("target", ["pytorch", "keras"])
@pytest.mark.parametrize("name", ["models\\unet.nn", "C:\\Nets\\x.nn", "trailing\\"])
def test_a_backslash_in_the_path_is_kept(tmp_path, target, name):
    source = tmp_path / name
    source.write_text(NETWORK)
    out = tmp_path / "generated.py"
    proc = run_nnc("export", name, "--to", target, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    tree = module_tree(out.read_text(encoding="utf-8"), target)
    assert f"exported by nnc from {name}.\n" in ast.get_docstring(tree, clean=False)
    assert model_docstring(tree).startswith(f"net, exported by nnc from {name}.\n")


def test_a_file_name_that_is_not_utf8_is_escaped(tmp_path):
    """A Linux file name is bytes: those that are not UTF-8 reach nnc as lone surrogates."""
    name = os.fsdecode(b"net\xff\xfe\r\x0c.nn")
    source = tmp_path / name
    source.write_text(NETWORK)
    for target in ("pytorch", "keras"):
        out = tmp_path / f"{target}.py"
        proc = run_nnc("export", name, "--to", target, "-o", out, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        code = out.read_text(encoding="utf-8")
        lines_are_plain(code)
        assert model_docstring(module_tree(code, target)).startswith(f"net, exported by nnc from {name}.\n")


# --- line ends and line continuations in the source ----------------------------------------------


def block_quotes(code: str, target: str) -> list:
    """What the export says of each block call: the comments of the lines that build the block's
    class (PyTorch: in the model's constructor; Keras: where the model calls it)."""
    return [token.string for token in tokenize.generate_tokens(io.StringIO(code).readline)
            if token.type == tokenize.COMMENT and "inc(" in token.string]


def expected_quotes(target: str) -> list:
    if target == "pytorch":
        return [f"# {FIRST_CALL}", f"# {SECOND_CALL}"]
    # the outputs: conv2d 4 k=1, then conv2d 8 k=3 pad=same on 8x8; conv2d 2 k=1, then conv2d 3 k=3 pad=same
    return [f"# {FIRST_CALL}, output (batch, 8, 8, 8)", f"# {SECOND_CALL}, output (batch, 8, 8, 3)"]


@pytest.mark.parametrize("target", ["pytorch", "keras"])
@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_a_block_call_over_two_lines_is_quoted_as_one(tmp_path, target, line_end):
    """A line continuation (backslash, line end) or a line break inside the call's parentheses
    reads as one line in the quote, whatever the file's line ends."""
    source = tmp_path / "net.nn"
    source.write_bytes(NETWORK.replace("\n", line_end).encode())
    out = tmp_path / "net.py"
    proc = run_nnc("export", source, "--to", target, "-o", out)
    assert proc.returncode == 0, proc.stderr
    code = out.read_text(encoding="utf-8")
    lines_are_plain(code)
    module_tree(code, target)
    assert block_quotes(code, target) == expected_quotes(target)


@pytest.mark.parametrize("target", ["pytorch", "keras"])
@pytest.mark.parametrize("line_end", ["\r\n", "\r"], ids=["CRLF", "CR"])
def test_source_lines_with_carriage_returns_still_compile(target, line_end):
    """The exporters take the source lines they are given: lines still holding a carriage
    return (or one line holding the whole CR-only file) quote nothing that breaks the code."""
    raw = NETWORK.replace("\n", line_end)
    compilation = compile_text(raw, "net.nn")
    assert compilation.program is not None and not compilation.diagnostics.has_errors
    code = export(target, compilation.program, source_lines=raw.split("\n"), file_name="net.nn")
    lines_are_plain(code)
    module_tree(code, target)


@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_a_continued_block_call_compiles_with_warnings_as_errors(tmp_path, target):
    """`python -W error` on the generated file: no invalid escape from the quoted backslash."""
    source = tmp_path / "net.nn"
    source.write_text(NETWORK)
    out = tmp_path / "net.py"
    assert run_nnc("export", source, "--to", target, "-o", out).returncode == 0
    proc = subprocess.run([sys.executable, "-W", "error", "-c",
                           f"compile(open({str(out)!r}, encoding='utf-8').read(), 'net.py', 'exec')"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert block_quotes(out.read_text(encoding="utf-8"), target) == expected_quotes(target)


# --- names that are Python keywords, builtins or framework names ---------------------------------

KEYWORD_NAMES = """\
block lambda(c) {
    import: conv2d c k=1
    None: conv2d c k=3 pad=same
}
block exception(c) {
    self: conv2d c k=1
}
model class {
    input 8x8x3
    __init__: conv2d 4 k=1
    __call__: lambda(4)
    print: exception(4)
    True: concat {
        branch def { __x: conv2d 2 k=1 }
        branch self { forward: conv2d 2 k=1 }
        branch x { }
        branch torch { }
    }
    return: flatten
    super: dense 3 softmax
}
model none {
    input 4
    keras: dense 2
    layers: dense 2
    inputs: dense 2
    parameters: dense 2
    input: dense 2
}
"""


@pytest.fixture(scope="module")
def keyword_compilation():
    compilation = compile_text(KEYWORD_NAMES, "keywords.nn")
    assert compilation.program is not None and not compilation.diagnostics.has_errors
    return compilation


@pytest.fixture(scope="module")
def keyword_program(keyword_compilation):
    return keyword_compilation.program


@pytest.mark.parametrize("with_source", [True, False], ids=["classes per definition", "classes per call"])
def test_keywords_and_builtins_as_names_give_valid_pytorch(keyword_program, keyword_compilation, with_source):
    lines = keyword_compilation.source.lines if with_source else None
    made = torch_emit.export(keyword_program, source_lines=lines)
    tree = module_tree(made.code, "pytorch")
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    for name in classes:  # at the top level: neither a keyword nor a builtin it would hide
        assert name.isidentifier() and not keyword.iskeyword(name) and not hasattr(builtins, name), name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            assert not node.attr.startswith("__"), node.attr  # a mangled name or nn.Module's own method
    reserved = {"import", "None", "self", "True", "return", "def", "class", "keys", "parameters", "forward"}
    for export in made.models:
        for path in export.modules.values():
            for part in path.split("."):
                assert part.isidentifier() and not keyword.iskeyword(part) and part not in reserved, path
                assert not part.startswith("__"), path
    # every attribute __init__ assigns is the one forward reads
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name not in torch_emit.MODULE_NAMES:
            init, forward = (item for item in node.body if isinstance(item, ast.FunctionDef))
            assigned = {target.attr for item in ast.walk(init) if isinstance(item, ast.Assign)
                        for target in item.targets if isinstance(target, ast.Attribute)}
            read = {item.value.attr for item in ast.walk(forward)
                    if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Attribute)
                    and isinstance(item.value.value, ast.Name) and item.value.value.id == "self"}
            read |= {item.attr for item in ast.walk(forward) if isinstance(item, ast.Attribute)
                     and isinstance(item.value, ast.Name) and item.value.id == "self"}
            assert read <= assigned | {"training"}, (node.name, read - assigned)
            assert assigned <= read, (node.name, assigned - read)


def test_keywords_and_builtins_as_names_give_valid_keras(keyword_program, keyword_compilation):
    made = keras_emit.export(keyword_program, source_lines=keyword_compilation.source.lines)
    tree = module_tree(made.code, "keras")
    for node in tree.body[1:]:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            assert not keyword.iskeyword(node.name) and not hasattr(builtins, node.name)
    # Keras layer names are text: kept as written, Python keywords included; in a block, after the call's name
    names = {value.value for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == "name"
             for value in [node.value] if isinstance(value, ast.Constant)}
    assert {"__init__", "__x", "True", "return", "super", "class", "none", "keras", "layers", "inputs",
            "input", "__call__", "print"} <= names
    assert "input_2" in names  # the model's input, renamed: a layer is called `input`
    layer_names = {name for export in made.models for names in export.layers.values() for name in names}
    assert {"__call___import", "__call___None", "print_self"} <= layer_names
    (first, second) = made.models
    assert [first.function, second.function] == ["build_class", "build_none"]
    # the attributes holding them are Python names; the constructors take the block's parameter and a name
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    assert sorted(classes) == ["Exception_", "Lambda"]
    init = next(item for item in classes["Lambda"].body if isinstance(item, ast.FunctionDef))
    assert [arg.arg for arg in init.args.args] == ["self", "c"] and [a.arg for a in init.args.kwonlyargs] == ["name"]
    attributes = {target.attr for item in ast.walk(init) if isinstance(item, ast.Assign) for target in item.targets}
    assert attributes == {"import_", "None_"}


# --- every name hostile, by construction ------------------------------------------------------------

HOSTILE_NAME = 'n{}"""\'\'\'\\\n\r\x00\x0c\u2028\udc80 #{{}}); __import__("os").system("pwned") #'


def _rename_everything(program, source_lines: list) -> list:
    """Give every model, block, branch and layer of `program` a hostile name (each its own),
    and return hostile source lines for the statements the exporters quote."""
    counter = iter(range(10_000))
    for model in program.models:
        model.name = HOSTILE_NAME.format(next(counter))
        for group in model.groups():
            group.name = HOSTILE_NAME.format(next(counter))
            if group.block is not None:
                group.block = HOSTILE_NAME.format(next(counter))
        for node in model.layers:
            node.name = HOSTILE_NAME.format(next(counter))
            node.path = tuple(HOSTILE_NAME.format(part) for part in range(len(node.path)))
    return [line + ' """ \\ \x00 \r \u2028 \\' for line in source_lines]


@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_hostile_names_change_names_and_strings_only(target):
    """Names the grammar cannot even write (quotes, backslashes, line ends, NUL, U+2028, lone
    surrogates) given to every model, block, branch and layer, and hostile quoted statements:
    the module is the same program as with the real names, only its names and strings differ.
    (The block definitions come from the file's syntax tree, which the hostile lines no longer
    parse to: it is given.)"""
    from nnlang.diagnostics import DiagnosticBag
    from nnlang.parser import parse
    from nnlang.source import Source

    plain = compile_text(NETWORK, "net.nn")
    hostile = compile_text(NETWORK, "net.nn")
    syntax = parse(Source(NETWORK, "net.nn"), DiagnosticBag())
    lines = _rename_everything(hostile.program, list(hostile.source.lines))
    expected = module_tree(export(target, plain.program, source_lines=plain.source.lines), target)
    made = EMITTERS[target].export(hostile.program, source_lines=lines, file_name=HOSTILE_NAME, tree=syntax)
    code = made.code
    lines_are_plain(code)
    tree = module_tree(code, target)
    assert skeleton(tree, identifiers=True) == skeleton(expected, identifiers=True)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name not in ("Concat",)]
    assert len(classes) == (2 if target == "pytorch" else 1)  # the block inc and (PyTorch) the model
    if target == "keras":  # Keras layer names are text: each kept exactly
        model = hostile.program.models[0]
        constants = [node.value.value for node in ast.walk(tree) if isinstance(node, ast.keyword)
                     and node.arg == "name" and isinstance(node.value, ast.Constant)]
        calls = [group.name for group in model.groups() if group.block is not None]
        inside = {node.index for group in model.groups() if group.block is not None for node in group.layers()}
        outside = [node.name for node in model.layers if node.index not in inside]
        # the model's input and name, its layers outside blocks, and the names given to the two block calls
        assert sorted(constants) == sorted(["input", model.name, *outside, *calls])
        (export_made,) = made.models
        names = [name for names in export_made.layers.values() for name in names]
        assert len(names) == len(set(names)) == len(model.layers)
        for group in model.groups():
            if group.block is not None:
                inside = [export_made.layers[node.index][0] for node in group.layers()]
                assert all(name.startswith(group.name + "_") for name in inside), inside


# --- the helpers themselves --------------------------------------------------------------------------

ANY_TEXT = st.lists(st.one_of(st.sampled_from(HOSTILE), st.characters(exclude_categories=())), max_size=20).map("".join)


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(text=ANY_TEXT)
def test_a_string_literal_reads_back_as_its_text(text):
    literal = string_literal(text)
    assert "\n" not in literal and "\r" not in literal and "\x00" not in literal
    strict_compile(f"x = {literal}\n")
    assert ast.literal_eval(literal) == text


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(lines=st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_a_docstring_reads_back_as_its_lines(lines):
    source = "\n".join(docstring(*lines)) + "\n"
    lines_are_plain(source)
    strict_compile(source)
    assert ast.get_docstring(ast.parse(source), clean=False) == "\n".join(lines) + ("\n" if len(lines) > 1 else "")


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(text=ANY_TEXT)
def test_a_comment_stays_on_its_line(text):
    source = f"x = 1  {comment(text)}\ny = 2\n"
    lines_are_plain(source)
    strict_compile(source)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    assert [t.string for t in tokens if t.type == tokenize.COMMENT] == [comment(text)]
    assert [t.string for t in tokens if t.type == tokenize.NAME] == ["x", "y"]


def test_an_export_to_a_file_of_the_examples_compiles_with_warnings_as_errors():
    """Every example, both targets, as `nnc export` writes it (path included)."""
    from helpers_nnc import EXAMPLES

    for path in sorted(EXAMPLES.glob("*.nn")):
        compilation = compile_path(path)
        for target in ("pytorch", "keras"):
            try:
                code = export(target, compilation.program, source_lines=compilation.source.lines,
                              file_name=str(path))
            except ExportError:  # a construct the framework cannot express
                continue
            lines_are_plain(code)
            module_tree(code, target)
