"""Editor support (editors/, nnlang/pygments_lexer.py): every highlighter knows
every word of the layer registry, and agrees with the annotated samples.

The samples editors/vscode/tests/*.nn carry their expected highlighting as
`# ^^^ scope` assertions (vscode-tmgrammar-test's format). They are checked as
written against the TextMate grammar by vscode-tmgrammar-test (npm), and
through a table from TextMate scopes to Vim syntax groups and Pygments token
types against the Vim syntax file (run in a headless Vim) and the Pygments
lexer. One more sample, written here from the registry, puts every kind,
alias, option, activation and value word through all three.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnlang import editor_words
from nnlang.diagnostics import DiagnosticBag
from nnlang.layers import lookup
from nnlang.parser import parse
from nnlang.source import Source

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
VIM = ROOT / "editors" / "vim"
EXAMPLES = ROOT / "examples"
CONTRACT = ROOT.parent / "shared" / "LANGUAGE.md"
SAMPLES = sorted((VSCODE / "tests").glob("*.nn"))
GENERATED = {  # editor file -> the function of nnlang.editor_words that regenerates it
    VSCODE / "syntaxes" / "nn.tmLanguage.json": editor_words.render_textmate,
    VIM / "syntax" / "nn.vim": editor_words.render_vim,
}
WORDS = editor_words.word_lists()


# --- annotated samples ---------------------------------------------------------

_ASSERTION = re.compile(r"^#(?: *(\^+)| (<-+)) (.*)$")


class Sample:
    """An annotated sample: its source lines (assertion lines left out) and the assertions."""

    def __init__(self, name: str, text: str):
        self.name = name
        self.lines: list[str] = []
        self.checks: list[tuple[int, int, int, list[str]]] = []  # (line index, column, length, scopes)
        for raw in text.splitlines():
            match = _ASSERTION.match(raw)
            if not match or not self.lines:
                self.lines.append(raw)
                continue
            carets, arrow, scopes = match.groups()
            column, length = (raw.index("^"), len(carets)) if carets else (0, len(arrow) - 1)
            positive = scopes.split(" - ")[0].split()
            self.checks.append((len(self.lines) - 1, column, length, positive))

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def annotate(line: str, marks) -> list[str]:
    """`line` and its assertion lines: marks are (column, length, scope)."""
    out = [line]
    for column, length, scope in marks:
        out.append(f"# <{'-' * length} {scope}" if column == 0 else f"#{' ' * (column - 1)}{'^' * length} {scope}")
    return out


def registry_sample() -> str:
    """Every registry word in the place it is written, with the scope it must get."""
    lines = ['# SYNTAX TEST "source.nn" "every word of the layer registry"', "model registry {"]

    def statement(code: str, word: str, scope: str, start: int = 0):
        line = f"    {code}"
        column = line.index(word, 4 + start)
        lines.extend(annotate(line, [(column, len(word), scope)]))

    for kind in WORDS["kinds"]:
        statement(kind, kind, "support.type.layer.nn")
        statement(kind.upper(), kind.upper(), "support.type.layer.alias.nn")
    for alias in WORDS["aliases"]:
        statement(alias, alias, "support.type.layer.alias.nn")
        statement(f"label: {alias}", alias, "support.type.layer.alias.nn", 6)
    for option in WORDS["options"]:
        statement(f"dense 1 {option}=1", option, "variable.parameter.option.nn", 7)
    for activation in WORDS["activations"]:
        statement(f"dense 1 {activation}", activation, "support.function.activation.nn", 7)
        statement(f"dense 1 activation={activation.upper()}", activation.upper(), "support.function.activation.nn", 7)
    for value in WORDS["values"]:
        statement(f"conv2d 1 pad={value}", value, "support.constant.value.nn", 8)
    for boolean in WORDS["booleans"]:
        statement(f"dense 1 bias={boolean}", boolean, "constant.language.boolean.nn", 7)
    for key in WORDS["expectation_keys"]:
        statement(f"dense 1 -> 1 {key}=1", key, "keyword.other.expectation.nn", 7)
    for keyword in WORDS["keywords"]:
        statement(f"{keyword}", keyword, f"keyword.control.{keyword}.nn")
    for code in WORDS["codes"]:
        statement(f"allow {code}", code, "constant.other.diagnostic-code.nn", 5)
        statement(f"dense 1 -> 1 allow W202, {code}", code, "constant.other.diagnostic-code.nn", 22)
    lines.append("}")
    return "\n".join(lines) + "\n"


def all_samples() -> list[Sample]:
    samples = [Sample(path.name, path.read_text(encoding="utf-8")) for path in SAMPLES]
    return samples + [Sample("registry.nn", registry_sample())]


# TextMate scope -> (Vim syntax groups, Pygments token types) that show it.
# A check uses the last scope of its assertion that is listed here.
_VIM_NAME_CONTEXT = {"", "nnParens", "nnParams", "nnExpectation", "nnContinued"}
SCOPES = {
    "comment.line.number-sign.nn": ({"nnComment"}, {"Comment.Single"}),
    "punctuation.definition.comment.nn": ({"nnComment"}, {"Comment.Single"}),
    "keyword.control.model.nn": ({"nnKeyword"}, {"Keyword.Declaration"}),
    "keyword.control.block.nn": ({"nnKeyword"}, {"Keyword.Declaration"}),
    "keyword.control.compare.nn": ({"nnKeyword"}, {"Keyword.Declaration"}),
    "keyword.control.concat.nn": ({"nnKeyword"}, {"Keyword"}),
    "keyword.control.add.nn": ({"nnKeyword"}, {"Keyword"}),
    "keyword.control.multiply.nn": ({"nnKeyword"}, {"Keyword"}),
    "keyword.control.branch.nn": ({"nnKeyword"}, {"Keyword"}),
    "keyword.control.repeat.nn": ({"nnKeyword"}, {"Keyword"}),
    "keyword.control.allow.nn": ({"nnKeyword"}, {"Keyword"}),
    "constant.other.diagnostic-code.nn": ({"nnCode"}, {"Name.Constant"}),
    "string.quoted.double.nn": ({"nnString"}, {"Literal.String.Double"}),
    "string.quoted.single.nn": ({"nnString"}, {"Literal.String.Single"}),
    "entity.name.type.model.nn": ({"nnModelName"}, {"Name.Class"}),
    "entity.name.function.block.nn": ({"nnBlockName"}, {"Name.Function"}),
    "entity.name.function.call.nn": ({"nnCall"}, {"Name.Function"}),
    "entity.name.section.branch.nn": ({"nnBranchName"}, {"Name.Namespace"}),
    "entity.name.label.nn": ({"nnLabel"}, {"Name.Label"}),
    "support.type.layer.nn": ({"nnKind"}, {"Name.Builtin"}),
    "support.type.layer.alias.nn": ({"nnKindAlias"}, {"Name.Builtin"}),
    "variable.parameter.option.nn": ({"nnOption"}, {"Name.Attribute"}),
    "variable.parameter.nn": ({"nnArgName", "nnParam"}, {"Name.Variable"}),
    "variable.other.nn": (_VIM_NAME_CONTEXT, {"Name.Variable"}),
    "support.function.activation.nn": ({"nnActivation"}, {"Keyword.Pseudo"}),
    "support.constant.value.nn": ({"nnValue"}, {"Name.Constant"}),
    "constant.language.boolean.nn": ({"nnBoolean"}, {"Keyword.Constant"}),
    "constant.numeric.integer.nn": ({"nnNumber"}, {"Literal.Number.Integer"}),
    "constant.numeric.float.nn": ({"nnFloat"}, {"Literal.Number.Float"}),
    "constant.numeric.shape.nn": ({"nnShape", "nnShapeSep", "nnUnknown"}, {"Literal.Number"}),
    "punctuation.separator.dimension.nn": ({"nnShapeSep"}, {"Literal.Number"}),
    "constant.language.unknown.nn": ({"nnUnknown"}, {"Keyword.Constant", "Literal.Number"}),
    "keyword.operator.expectation.nn": ({"nnArrow"}, {"Operator"}),
    "keyword.other.expectation.nn": ({"nnExpectKey"}, {"Name.Tag"}),
    "keyword.operator.assignment.nn": ({"nnOperator"}, {"Operator"}),
    "keyword.operator.arithmetic.nn": ({"nnOperator"}, {"Operator"}),
    "punctuation.section.block.begin.nn": ({"nnBrace"}, {"Punctuation"}),
    "punctuation.section.block.end.nn": ({"nnBrace"}, {"Punctuation"}),
    "punctuation.section.parens.begin.nn": ({"nnBrace"}, {"Punctuation"}),
    "punctuation.section.parens.end.nn": ({"nnBrace"}, {"Punctuation"}),
    "punctuation.separator.comma.nn": ({"nnDelimiter", "nnModelComma"}, {"Punctuation"}),
    "punctuation.terminator.statement.nn": ({"nnDelimiter"}, {"Punctuation"}),
    "punctuation.separator.label.nn": ({"nnDelimiter"}, {"Punctuation"}),
    "punctuation.separator.continuation.nn": ({"nnContinuation"}, {"Punctuation"}),
}


def expected_for(scopes: list[str], editor: int):
    listed = [s for s in scopes if s in SCOPES]
    return SCOPES[listed[-1]][editor] if listed else None


def test_every_asserted_scope_is_mapped_to_vim_and_pygments():
    unmapped = {s for sample in all_samples() for *_, scopes in sample.checks for s in scopes
                if not s.startswith(("meta.", "source.")) and s not in SCOPES}
    assert not unmapped, "add these scopes to SCOPES in tests/test_editors.py"


def test_samples_are_valid_nn():
    for sample in all_samples()[:-1]:  # the registry sample puts keywords where no statement may
        bag = DiagnosticBag()
        assert parse(Source(sample.text, sample.name), bag) is not None, [d.message for d in bag]
        assert not bag.has_errors, [d.message for d in bag]


# --- one source of truth --------------------------------------------------------

def test_keywords_come_from_the_grammar():
    assert set(WORDS["keywords"]) == {"model", "block", "compare", "concat", "add", "multiply", "branch", "repeat",
                                      "allow"}


def test_registry_words_are_consistent():
    keywords = set(WORDS["keywords"])
    for name in (*WORDS["kinds"], *WORDS["aliases"]):
        assert lookup(name) is not None, name
        assert name.lower() not in keywords, f"{name} is a keyword: no statement could use it"
    assert "input" in WORDS["kinds"] and "Conv2D" in WORDS["aliases"] and "kernel_size" in WORDS["options"]
    assert {"relu", "softmax", "linear"} <= set(WORDS["activations"])
    assert {"true", "false"} <= set(WORDS["booleans"])


def test_value_words_and_expectation_keys_compile():
    from nnlang.driver import compile_text

    words = "; ".join(f"conv2d 1 k=1 pad={v}" for v in editor_words.PAD_WORDS)
    compilation = compile_text(f"model m {{ input 4x4x1; {words}; upsample2d 2 interpolation=bilinear\n"
                               f"flatten; dense 2 -> params=130 trainable=130 non_trainable=0 macs=128 }}")
    assert compilation.ok, [d.message for d in compilation.diagnostics]


def test_the_generator_writes_the_committed_files():
    assert {p.relative_to(editor_words.ROOT) for p in editor_words.RENDERERS} == {
        p.relative_to(ROOT) for p in GENERATED}


@pytest.mark.parametrize("path", list(GENERATED), ids=lambda p: p.name)
def test_committed_editor_files_are_generated_from_the_registry(path):
    committed = path.read_text(encoding="utf-8")
    assert GENERATED[path](committed) == committed, (
        f"{path.relative_to(ROOT)} is stale: run `python -m nnlang.editor_words`")


def test_the_generator_restores_tampered_word_lists():
    vim = (VIM / "syntax" / "nn.vim").read_text(encoding="utf-8")
    tampered = vim.replace("'relu', ", "").replace("'Conv2D', ", "")
    assert tampered != vim and editor_words.render_vim(tampered) == vim
    textmate = (VSCODE / "syntaxes" / "nn.tmLanguage.json").read_text(encoding="utf-8")
    grammar = json.loads(textmate)
    grammar["repository"]["layer-kind"]["match"] = "(conv2d)"
    grammar["repository"]["activation"] = {}
    assert editor_words.render_textmate(json.dumps(grammar)) == textmate


def test_the_generator_check_mode_passes():
    proc = subprocess.run([sys.executable, "-m", "nnlang.editor_words", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_editor_words_imports_neither_lark_nor_pygments():
    code = "import sys, nnlang.editor_words; print(sorted(m for m in ('lark', 'pygments') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- VS Code ----------------------------------------------------------------------

def _json(name: str) -> dict:
    return json.loads((VSCODE / name).read_text(encoding="utf-8"))


def test_vscode_manifest():
    manifest = _json("package.json")
    contributes = manifest["contributes"]
    (language,) = contributes["languages"]
    assert language["id"] == "nn" and language["extensions"] == [".nn"]
    assert (VSCODE / language["configuration"]).is_file()
    (grammar,) = contributes["grammars"]
    assert grammar["language"] == "nn"
    assert json.loads((VSCODE / grammar["path"]).read_text(encoding="utf-8"))["scopeName"] == grammar["scopeName"]
    (snippets,) = contributes["snippets"]
    assert (VSCODE / snippets["path"]).is_file()
    assert {"nnlang.server.enabled", "nnlang.server.path", "nnlang.server.args"} <= set(
        contributes["configuration"]["properties"])
    assert (VSCODE / manifest["main"]).is_file()
    assert "vscode-languageclient" in manifest["dependencies"]
    assert list(manifest["devDependencies"]) == ["vscode-tmgrammar-test"]


def test_vscode_language_configuration():
    config = _json("language-configuration.json")
    assert config["comments"] == {"lineComment": "#"}
    assert config["brackets"] == [["{", "}"], ["(", ")"]]
    assert {(p["open"], p["close"]) for p in config["autoClosingPairs"]} == {("{", "}"), ("(", ")")}


def _expand_snippet(body: list[str]) -> str:
    text = "\n".join(body).replace("\t", "    ")
    while re.search(r"\$\{\d+:[^${}]*\}", text):
        text = re.sub(r"\$\{\d+:([^${}]*)\}", r"\1", text)
    return re.sub(r"\$\d+", "", text)


@pytest.mark.parametrize("name", ["model", "block", "inception", "residual", "repeat", "branch", "expectation"])
def test_vscode_snippets_expand_to_nn_that_compiles(name):
    from nnlang.driver import compile_text

    body = _expand_snippet(_json("snippets/nn.json")[name]["body"])
    wrap = {"repeat": "model m {{\n input 8x8x3\n {} }}", "branch": "model m {{\n input 8x8x3\n concat {{ {} }} }}",
            "expectation": "model m {{\n input 8x8x3\n conv2d 32 k=1 {} }}"}
    text = wrap.get(name, "{}").format(body)
    if name in ("block", "inception", "residual"):
        call = {"block": "name(8)", "inception": "inception(1, 2, 3, 4, 5, 6)", "residual": "residual(3)"}[name]
        text += f"\nmodel m {{\n input 8x8x3\n {call} }}\n"
    compilation = compile_text(text)
    errors = [d for d in compilation.diagnostics if d.is_error and d.code not in ("E301", "E302", "E303")]
    assert not errors, [d.message for d in errors]


def _npm_tool(name: str) -> Path:
    """A tool of editors/vscode's node_modules, installed with npm if it is not there yet."""
    tool = VSCODE / "node_modules" / ".bin" / name
    if not tool.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not installed: the TextMate grammar tests need Node.js and npm "
                        "(they run `npm install` in editors/vscode, then vscode-tmgrammar-test)")
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=VSCODE, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"npm install failed in {VSCODE}:\n{proc.stdout}\n{proc.stderr}"
    assert tool.exists(), f"{tool} is missing after npm install"
    return tool


def test_textmate_grammar_with_vscode_tmgrammar_test(tmp_path):
    tool = _npm_tool("vscode-tmgrammar-test")
    generated = tmp_path / "registry.nn"
    generated.write_text(registry_sample(), encoding="utf-8")
    proc = subprocess.run(
        [str(tool), "--compact", "--grammar", "syntaxes/nn.tmLanguage.json",
         *[str(p.relative_to(VSCODE)) for p in SAMPLES], str(generated)],
        cwd=VSCODE, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert len(SAMPLES) >= 3 and "ERROR" not in output, output


def test_vscode_extension_script_is_valid_javascript():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (it comes with npm): needed to check editors/vscode/extension.js")
    proc = subprocess.run([node, "--check", str(VSCODE / "extension.js")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


_ACTIVATE = r"""
// Loads extension.js with stand-ins for the vscode API and vscode-languageclient,
// activates it, and prints what it did as JSON.
const Module = require('module');
const events = [];
const settings = JSON.parse(process.argv[3]);
const vscode = {
  workspace: { getConfiguration: () => ({ get: (key, fallback) => (key in settings ? settings[key] : fallback) }) },
  window: { createOutputChannel: () => ({ appendLine: (line) => events.push(['log', line]), dispose() {} }) },
};
const languageclient = {
  TransportKind: { stdio: 0 },
  LanguageClient: class {
    constructor(id, name, server, client) {
      events.push(['client', id, server.command, server.args, client.documentSelector.map((s) => s.language)]);
    }
    start() { events.push(['start']); return Promise.resolve(); }
    stop() { return Promise.resolve(); }
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === 'vscode') return vscode;
  if (request === 'vscode-languageclient/node') return languageclient;
  return load.call(this, request, ...rest);
};
require(process.argv[2]).activate({ subscriptions: [] }).then(() => console.log(JSON.stringify(events)));
"""


def _activate(tmp_path: Path, path_dirs: list[Path], settings: dict) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (it comes with npm): needed to check editors/vscode/extension.js")
    harness = tmp_path / "activate.js"
    harness.write_text(_ACTIVATE, encoding="utf-8")
    env = {"PATH": ":".join(str(d) for d in path_dirs)}
    proc = subprocess.run([node, str(harness), str(VSCODE / "extension.js"), json.dumps(settings)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_vscode_extension_starts_nnc_lsp_when_nnc_is_on_the_path(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nnc = bin_dir / "nnc"
    nnc.write_text("#!/bin/sh\n", encoding="utf-8")
    nnc.chmod(0o755)
    assert _activate(tmp_path, [tmp_path / "missing", bin_dir], {}) == [
        ["client", "nnlang", str(nnc), ["lsp"], ["nn", "nn"]], ["start"]]
    settings = {"server.path": str(nnc), "server.args": ["lsp", "--convention", "pytorch"]}
    assert _activate(tmp_path, [], settings)[0][2:4] == [str(nnc), ["lsp", "--convention", "pytorch"]]


def test_vscode_extension_without_nnc_only_highlights(tmp_path):
    events = _activate(tmp_path, [tmp_path], {})
    assert len(events) == 1 and events[0][0] == "log" and "not found" in events[0][1]
    assert _activate(tmp_path, [tmp_path], {"server.enabled": False}) == []


# --- Vim ----------------------------------------------------------------------------

def _vim() -> list[str]:
    """A headless Vim (or Neovim) without user configuration."""
    if shutil.which("vim"):
        return [shutil.which("vim"), "-u", "NONE", "-i", "NONE", "-N", "-n", "-es"]
    if shutil.which("nvim"):
        return [shutil.which("nvim"), "-u", "NONE", "-i", "NONE", "-n", "-es"]
    pytest.fail("neither vim nor nvim is installed: the Vim syntax tests need one (apt-get install vim)")


_VIM_SCRIPT = r"""
let &runtimepath = '{runtime},' . &runtimepath
filetype plugin indent on
syntax on
let s:out = []
let v:errmsg = ''
for s:file in readfile('{files}')
  execute 'edit ' . fnameescape(s:file)
  call add(s:out, 'FILE ' . s:file)
  call add(s:out, 'SETTINGS ' . &filetype . '|' . get(b:, 'current_syntax', '') . '|' . &commentstring . '|'
        \ . &shiftwidth . '|' . &softtabstop . '|' . &expandtab . '|' . &indentexpr)
  for s:lnum in range(1, line('$'))
    let s:names = []
    for s:col in range(1, len(getline(s:lnum)))
      call add(s:names, synIDattr(synID(s:lnum, s:col, 1), 'name'))
    endfor
    call add(s:out, 'SYN ' . join(s:names, ','))
  endfor
  bwipeout!
endfor
call add(s:out, 'ERRMSG ' . v:errmsg)
call writefile(s:out, '{result}')
qall!
"""


def _run_vim(tmp_path: Path, files: list[Path]) -> dict:
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(str(f) for f in files) + "\n", encoding="utf-8")
    result = tmp_path / "result.txt"
    script = tmp_path / "probe.vim"
    script.write_text(_VIM_SCRIPT.format(runtime=VIM, files=listing, result=result), encoding="utf-8")
    proc = subprocess.run([*_vim(), "-S", str(script)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert result.exists(), f"vim did not finish the probe (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    files_out: dict = {}
    current = None
    for line in result.read_text(encoding="utf-8").splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "FILE":
            current = files_out[rest] = {"syn": []}
        elif tag == "SETTINGS":
            current["settings"] = rest.split("|")
        elif tag == "SYN":
            current["syn"].append(rest.split(",") if rest else [])
        elif tag == "ERRMSG":
            assert rest == "", f"vim reported an error: {rest}"
    assert proc.returncode == 0, f"vim exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return files_out


def test_vim_highlights_the_samples_and_examples(tmp_path):
    samples = all_samples()
    paths = []
    for sample in samples:
        path = tmp_path / sample.name
        path.write_text(sample.text, encoding="utf-8")
        paths.append(path)
    examples = sorted(EXAMPLES.glob("*.nn"))
    assert examples
    result = _run_vim(tmp_path, paths + examples)
    for path in paths + examples:
        filetype, syntax, commentstring, shiftwidth, softtabstop, expandtab, indentexpr = result[str(path)]["settings"]
        assert (filetype, syntax, commentstring) == ("nn", "nn", "# %s"), path
        assert (shiftwidth, softtabstop, expandtab, indentexpr) == ("4", "4", "1", "GetNnIndent()"), path
    failures = []
    for sample, path in zip(samples, paths):
        groups = result[str(path)]["syn"]
        for lnum, column, length, scopes in sample.checks:
            wanted = expected_for(scopes, 0)
            if wanted is None:
                continue
            for col in range(column, column + length):
                got = groups[lnum][col]
                if got not in wanted:
                    failures.append(f"{sample.name}:{lnum + 1}:{col + 1}: {sample.lines[lnum].strip()!r}: "
                                    f"{' '.join(scopes)} wants {sorted(wanted)}, vim has {got or 'nothing'}")
                    break
    assert not failures, "\n".join(failures)


INDENTED = """\
# a comment
block residual(c, s=1) {
    add {
        branch main {
            conv2d c k=3 s=s pad=same; batchnorm
            conv2d c k=3 pad=same  # {
        }
        branch shortcut { conv2d c k=1 s=s; batchnorm }
    }
    activation relu
}

model m {
    input 32x32x3
    big: inception(64, 96,
        128, 16)
    repeat 2 { residual(64) }
    concat {
        branch {}
    } -> 32x32x128
}
"""


def test_vim_indents_blocks_by_four_spaces(tmp_path):
    flat = tmp_path / "flat.nn"
    flat.write_text("\n".join(line.strip() for line in INDENTED.splitlines()) + "\n", encoding="utf-8")
    out = tmp_path / "indented.nn"
    script = tmp_path / "indent.vim"
    script.write_text(f"let &runtimepath = '{VIM},' . &runtimepath\nfiletype plugin indent on\n"
                      f"edit {flat}\nnormal! gg=G\nwrite! {out}\nqall!\n", encoding="utf-8")
    proc = subprocess.run([*_vim(), "-S", str(script)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert out.exists(), proc.stdout + proc.stderr
    assert out.read_text(encoding="utf-8") == INDENTED


def test_vim_ftdetect_and_ftplugin_use_setlocal_only():
    assert "setfiletype nn" in (VIM / "ftdetect" / "nn.vim").read_text(encoding="utf-8")
    for name in ("ftplugin", "indent"):
        code = [line.strip() for line in (VIM / name / "nn.vim").read_text(encoding="utf-8").splitlines()]
        assert not [line for line in code if re.match(r"set\s", line)], f"{name}/nn.vim: use setlocal"


# --- Pygments -------------------------------------------------------------------------

def _lexer():
    from nnlang.pygments_lexer import NnLexer

    return NnLexer()


def _tokens(text: str):
    return list(_lexer().get_tokens_unprocessed(text))


def _fences(markdown: str) -> list[str]:
    """Code blocks (untagged or ```nn) that hold .nn text: a model or a block."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    return [code for tag, code in blocks
            if tag in ("", "nn") and re.search(r"^\s*(model|block)\s+\w+", code, flags=re.MULTILINE)]


def _documented_samples():
    sources = [CONTRACT, *sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    return [pytest.param(code, id=f"{path.name}-{n}") for path in sources if path.exists()
            for n, code in enumerate(_fences(path.read_text(encoding="utf-8")), 1)]


def test_documented_samples_are_found():
    # docs/language.md always holds samples; the language contract beside the checkout adds its own
    assert len(_fences((ROOT / "docs" / "language.md").read_text(encoding="utf-8"))) >= 2
    ids = [p.id for p in _documented_samples()]
    assert any(i.startswith("language.md-") for i in ids)
    if CONTRACT.exists():
        assert any(i.startswith("LANGUAGE.md-") for i in ids)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nn")), ids=lambda p: p.name)
def test_pygments_lexes_every_example_without_errors(path):
    from pygments.token import Error

    text = path.read_text(encoding="utf-8")
    tokens = _tokens(text)
    errors = [(text.count("\n", 0, pos) + 1, value) for pos, ttype, value in tokens if ttype in Error]
    assert not errors, f"{path.name}: Error tokens (line, text): {errors}"
    assert "".join(value for _, _, value in tokens) == text


@pytest.mark.parametrize("code", _documented_samples())
def test_pygments_lexes_the_documented_samples_without_errors(code):
    from pygments.token import Error

    assert not [(pos, value) for pos, ttype, value in _tokens(code) if ttype in Error]


def test_pygments_agrees_with_the_annotated_samples():
    failures = []
    for sample in all_samples():
        text = sample.text
        by_offset = {}
        for pos, ttype, value in _tokens(text):
            for i in range(len(value)):
                by_offset[pos + i] = str(ttype).removeprefix("Token.")
        starts = [0]
        for line in sample.lines:
            starts.append(starts[-1] + len(line) + 1)
        for lnum, column, length, scopes in sample.checks:
            wanted = expected_for(scopes, 1)
            if wanted is None:
                continue
            for col in range(column, column + length):
                got = by_offset.get(starts[lnum] + col)
                if got not in wanted:
                    failures.append(f"{sample.name}:{lnum + 1}:{col + 1}: {sample.lines[lnum].strip()!r}: "
                                    f"{' '.join(scopes)} wants {sorted(wanted)}, pygments has {got}")
                    break
    assert not failures, "\n".join(failures)


def test_pygments_kinds_options_and_activations_get_distinct_token_types():
    tokens = {value: ttype for _, ttype, value in _tokens("model m {\n    conv2d 32 k=3 relu -> params=896\n}\n")}
    kind, option, activation, key = tokens["conv2d"], tokens["k"], tokens["relu"], tokens["params"]
    assert len({kind, option, activation, key, tokens["model"], tokens["m"], tokens["32"]}) == 7


def test_pygments_finds_the_lexer_by_name_and_file_name():
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

    from nnlang.pygments_lexer import NnLexer

    for name in ("nn", "nnlang"):
        assert isinstance(get_lexer_by_name(name), NnLexer), "reinstall nnlang: the pygments entry point is missing"
    assert isinstance(get_lexer_for_filename("lenet5.nn"), NnLexer)


def test_pygmentize_command_line():
    proc = subprocess.run([sys.executable, "-m", "pygments", "-l", "nn", "-f", "html", str(EXAMPLES / "lenet5.nn")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '<span class="nb">conv2d</span>' in proc.stdout and 'class="err"' not in proc.stdout
