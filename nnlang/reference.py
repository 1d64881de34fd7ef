"""The layer reference (docs/layers.md), generated from the layer registry.

    python -m nnlang.reference > docs/layers.md

A test fails when the committed file differs from what this prints.
"""

from __future__ import annotations

from . import layers
from .layers.base import ACTIVATIONS


def _default(arg) -> str:
    if arg.required:
        return "required"
    if arg.default is None:
        return ""
    if isinstance(arg.default, bool):
        return "true" if arg.default else "false"
    if isinstance(arg.default, tuple):
        return "x".join(str(v) for v in arg.default)
    return str(arg.default)


def markdown() -> str:
    lines = [
        "# Layer reference",
        "",
        "Generated from the layer registry (`python -m nnlang.reference`); do not edit by hand.",
        "",
        "Names are matched in any letter case; aliases are Keras and PyTorch class names.",
        "Options are written `key=value`; an option may also be written with any of its alternative names.",
        "",
    ]
    for kind in layers.statement_kinds():
        lines.append(f"## `{kind.name}`")
        lines.append("")
        lines.append(kind.summary[:1].upper() + kind.summary[1:] + ".")
        lines.append("")
        if kind.aliases:
            lines.append("Aliases: " + ", ".join(f"`{a}`" for a in kind.aliases) + ".")
            lines.append("")
        if kind.ranks:
            lines.append(f"Input: {kind.ranks[0]}-D ({kind.rank_hint}), batch left out.")
            lines.append("")
        if kind.takes_activation:
            lines.append("Takes a trailing activation word (or `activation=NAME`).")
            lines.append("")
        if kind.all_args():
            lines.append("| argument | how | default | meaning |")
            lines.append("|---|---|---|---|")
            for arg in kind.positional:
                lines.append(f"| `{arg.name}` | positional | {_default(arg)} | {arg.doc} |")
            for arg in kind.options:
                names = ", ".join(f"`{n}=`" for n in (arg.name, *arg.aliases))
                lines.append(f"| `{arg.name}` | {names} | {_default(arg)} | {arg.doc} |")
            lines.append("")
    lines.append("## Activation words")
    lines.append("")
    lines.append(", ".join(f"`{a}`" for a in ACTIVATIONS) + ".")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
