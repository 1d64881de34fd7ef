"""The words editors highlight, taken from the grammar and the layer registry.

Keywords come from the string literals of ``grammar/nn.lark``; layer kinds,
their aliases, option names (and their aliases), activation words and value
words come from :mod:`nnlang.layers`; the codes an ``allow`` takes from
:mod:`nnlang.diagnostics`. The Pygments lexer imports these lists
directly; the VS Code and Vim files carry a generated copy, rewritten by::

    python -m nnlang.editor_words            # rewrite the editor files in place
    python -m nnlang.editor_words --check    # exit 1 if any of them is stale

Only the marked parts are generated: in ``editors/vim/syntax/nn.vim`` the lines
between the ``BEGIN GENERATED`` and ``END GENERATED`` comments, in
``editors/vscode/syntaxes/nn.tmLanguage.json`` the repository entries named in
:data:`GENERATED_RULES`. Everything else in those files is written by hand.

This module imports neither lark nor pygments: the Pygments lexer loads it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Iterable, Optional

from .diagnostics import CODES, ERROR
from .layers import BOOL_WORDS, statement_kinds
from .layers.base import ACTIVATIONS, EXPECTATION_KEYS, PAD_WORDS
from .source import grammar_text

NAME = r"[A-Za-z_][A-Za-z0-9_]*"

#: The editor files with generated parts, in a source checkout.
ROOT = Path(__file__).resolve().parent.parent
TEXTMATE = ROOT / "editors" / "vscode" / "syntaxes" / "nn.tmLanguage.json"
VIM_SYNTAX = ROOT / "editors" / "vim" / "syntax" / "nn.vim"


def _unique(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))


def keywords() -> tuple[str, ...]:
    """Reserved words: the grammar's quoted literals that look like names (model, block, ...)."""
    rules = "\n".join(line.split("//", 1)[0] for line in grammar_text().splitlines())
    return _unique(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', rules))


def layer_kinds() -> tuple[str, ...]:
    """Canonical names of the kinds a statement may use (input, conv2d, dense, ...)."""
    return _unique(kind.name for kind in statement_kinds())


def layer_aliases() -> tuple[str, ...]:
    """Keras and PyTorch spellings of the kinds (Conv2D, Linear, BatchNormalization, ...)."""
    canonical = set(layer_kinds())
    return _unique(a for kind in statement_kinds() for a in kind.aliases if a not in canonical)


def option_names() -> tuple[str, ...]:
    """Every argument name a `key=value` option may use, with the aliases (k, kernel_size, ...)."""
    names = [name for kind in statement_kinds() for arg in kind.all_args() for name in (arg.name, *arg.aliases)]
    if any(kind.takes_activation for kind in statement_kinds()):
        names.append("activation")  # `activation=relu`, read by nnlang.compiler for kinds that take one
    return _unique(names)


def activations() -> tuple[str, ...]:
    """Trailing activation words (relu, softmax, ...)."""
    return tuple(ACTIVATIONS)


def value_words() -> tuple[str, ...]:
    """Words an option takes as its value other than activations and booleans (same, valid, bilinear, ...)."""
    acts = set(ACTIVATIONS)
    choices = (c for kind in statement_kinds() for arg in kind.all_args() for c in arg.choices if c not in acts)
    return _unique((*PAD_WORDS, *choices))


def booleans() -> tuple[str, ...]:
    return tuple(BOOL_WORDS)


def expectation_keys() -> tuple[str, ...]:
    return EXPECTATION_KEYS


def allowable_codes() -> tuple[str, ...]:
    """The codes an `allow` takes: those of warnings and notes (W202, ...)."""
    return tuple(code for code, entry in CODES.items() if entry.severity != ERROR)


def word_lists() -> dict[str, tuple[str, ...]]:
    """Every list, by the name the generated editor files use."""
    return {
        "keywords": keywords(),
        "kinds": layer_kinds(),
        "aliases": layer_aliases(),
        "options": option_names(),
        "activations": activations(),
        "values": value_words(),
        "booleans": booleans(),
        "expectation_keys": expectation_keys(),
        "codes": allowable_codes(),
    }


def alternation(words: Iterable[str]) -> str:
    """`a|bc|d` for a regex, longest words first so that no word hides a longer one."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


# --- VS Code: TextMate grammar ------------------------------------------------

# A statement starts a line, or follows '{', ';' or a label's ':'.
_TM_STATEMENT_START = r"(?:^|(?<=[{;:]))\s*"


def textmate_rules() -> dict[str, dict]:
    """The repository entries of the TextMate grammar that hold registry words."""
    words = word_lists()
    keywords_alt = alternation(words["keywords"])
    every_spelling = (*words["kinds"], *words["aliases"])
    return {
        "keywords": {
            "comment": "generated: the grammar's reserved words",
            "patterns": [{"match": rf"\b{re.escape(w)}\b", "name": f"keyword.control.{w}.nn"} for w in words["keywords"]],
        },
        "layer-kind": {
            "comment": "generated: a canonical layer kind at the start of a statement",
            "match": rf"{_TM_STATEMENT_START}({alternation(words['kinds'])})\b",
            "captures": {"1": {"name": "support.type.layer.nn"}},
        },
        "layer-alias": {
            "comment": "generated: any other spelling of a layer kind (Keras/PyTorch names, any letter case)",
            "match": rf"{_TM_STATEMENT_START}((?i:{alternation(every_spelling)}))\b",
            "captures": {"1": {"name": "support.type.layer.alias.nn"}},
        },
        "block-call": {
            "comment": "generated: any other name at the start of a statement calls a block",
            "match": rf"{_TM_STATEMENT_START}(?!(?:{keywords_alt})\b)({NAME})\b",
            "captures": {"1": {"name": "entity.name.function.call.nn"}},
        },
        "option-key": {
            "comment": "generated: a layer option's name (or alias) before '='",
            "match": rf"\b({alternation(words['options'])})\s*(=)",
            "captures": {"1": {"name": "variable.parameter.option.nn"},
                         "2": {"name": "keyword.operator.assignment.nn"}},
        },
        "expectation-key": {
            "comment": "generated: the keys of an expectation",
            "match": rf"\b({alternation(words['expectation_keys'])})\s*(=)",
            "captures": {"1": {"name": "keyword.other.expectation.nn"},
                         "2": {"name": "keyword.operator.assignment.nn"}},
        },
        "activation": {
            "comment": "generated: activation words (any letter case)",
            "match": rf"\b(?i:{alternation(words['activations'])})\b",
            "name": "support.function.activation.nn",
        },
        "value-word": {
            "comment": "generated: words an option takes as its value",
            "match": rf"\b(?:{alternation(words['values'])})\b",
            "name": "support.constant.value.nn",
        },
        "allow": {
            "comment": "generated: `allow W202, W205`, the codes of warnings and notes a file means",
            "begin": r"\b(allow)\b",
            "beginCaptures": {"1": {"name": "keyword.control.allow.nn"}},
            "end": r"(?=[;}#])|$",
            "name": "meta.allow.nn",
            "patterns": [
                {"match": rf"\b(?:{alternation(words['codes'])})\b", "name": "constant.other.diagnostic-code.nn"},
                {"include": "#punctuation"},
                {"include": "#name"},
            ],
        },
        "boolean": {
            "comment": "generated: booleans (any letter case)",
            "match": rf"\b(?i:{alternation(words['booleans'])})\b",
            "name": "constant.language.boolean.nn",
        },
    }


GENERATED_RULES = tuple(textmate_rules())


def render_textmate(current: str) -> str:
    grammar = json.loads(current)
    grammar.setdefault("repository", {}).update(textmate_rules())
    return json.dumps(grammar, indent=2, ensure_ascii=False) + "\n"


# --- Vim ----------------------------------------------------------------------

VIM_BEGIN = '" BEGIN GENERATED by `python -m nnlang.editor_words` from the layer registry: do not edit'
VIM_END = '" END GENERATED'


def _vim_list(words: Iterable[str]) -> str:
    words = list(words)
    odd = [w for w in words if not re.fullmatch(NAME, w)]
    if odd:
        raise ValueError(f"not a name, cannot go in a Vim list: {odd}")
    items = [f"'{w}'" for w in words]
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 2 > 100:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {item}" if line else item
    lines.append(line)
    return "[\n      \\ " + "\n      \\ ".join(lines) + "]"


def vim_block() -> str:
    parts = [VIM_BEGIN]
    for name, words in word_lists().items():
        parts.append(f"let s:{name} = {_vim_list(words)}")
    parts.append(VIM_END)
    return "\n".join(parts)


def _replace_between(text: str, begin: str, end: str, block: str, where: str) -> str:
    start = text.find(begin)
    stop = text.find(end, start + 1)
    if start < 0 or stop < 0:
        raise ValueError(f"{where}: the generated section's markers are missing ({begin!r} ... {end!r})")
    return text[:start] + block + text[stop + len(end):]


def render_vim(current: str) -> str:
    return _replace_between(current, VIM_BEGIN, VIM_END, vim_block(), str(VIM_SYNTAX))


# --- the files ----------------------------------------------------------------

RENDERERS = {TEXTMATE: render_textmate, VIM_SYNTAX: render_vim}


def stale_files() -> list[Path]:
    """Editor files whose generated parts differ from what the registry gives now."""
    return [path for path, render in RENDERERS.items()
            if render(path.read_text(encoding="utf-8")) != path.read_text(encoding="utf-8")]


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--check"]):
        print("usage: python -m nnlang.editor_words [--check]", file=sys.stderr)
        return 2
    if not TEXTMATE.is_file():
        print(f"{TEXTMATE}: not found (run from a source checkout of nnlang)", file=sys.stderr)
        return 2
    stale = stale_files()
    if args == ["--check"]:
        for path in stale:
            print(f"{path.relative_to(ROOT)}: stale; run `python -m nnlang.editor_words`", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(RENDERERS[path](path.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
