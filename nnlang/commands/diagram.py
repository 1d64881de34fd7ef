"""`nnc diagram FILE.nn -o OUT.svg`: a Graphviz drawing of a model, for handouts.

The format is OUT's extension: .dot (or .gv) is the DOT text and needs nothing
else; .svg, .png and .pdf are rendered by Graphviz's `dot` program. Without -o
the DOT text goes to standard output. See docs/diagrams.md.

Exit status: 0 written, 1 the file has errors, 2 a wrong command line, an
unknown model, a file that cannot be read or written, or Graphviz's `dot`
missing for a rendered format.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXTENSIONS = ("dot", "gv", "svg", "png", "pdf")
SHOW = ("params", "macs")
from ..choices import CONVENTIONS

INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; Fedora: sudo dnf install graphviz; "
    "macOS: brew install graphviz; Windows: winget install graphviz), "
    "or write the DOT text with -o FILE.dot and render it elsewhere"
)


def _fail(message: str, status: int = 2):
    click.echo(f"nnc: error: {message}", err=True)
    sys.exit(status)


def _show(ctx, param, value):
    if not value:
        return frozenset()
    items = {item.strip().lower() for item in value.split(",") if item.strip()}
    unknown = sorted(items - set(SHOW))
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {', '.join(SHOW)}")
    return frozenset(items)


def _extension(output) -> str:
    if output is None:
        return "dot"
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix not in EXTENSIONS:
        from ..outputs import shown

        found = f"'.{shown(suffix)}'" if suffix else "no extension"
        _fail(f"cannot tell the format of {shown(output)} ({found}); name it .svg, .png, .pdf or .dot")
    return suffix


@click.command()
@click.argument("file", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the diagram here; the extension picks the format: .svg, .png, .pdf or .dot. "
                   "A regular file is replaced atomically, a device or FIFO is written through. "
                   "Without it the DOT text goes to standard output.")
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Draw only this model (repeatable). Default: every model of FILE, side by side.")
@click.option("--depth", type=click.IntRange(min=0), default=None, metavar="N",
              help="Draw blocks, branches and repeats nested N levels deep or more as one node each.")
@click.option("--show", callback=_show, default="", metavar="params,macs",
              help="Add these costs to every layer node and every block label.")
@click.option("--rankdir", type=click.Choice(("TB", "LR"), case_sensitive=False), default="TB", metavar="TB|LR",
              show_default=True, help="TB: input at the top; LR: input on the left.")
@click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True,
              help="Counting rules for --show params.")
@click.option("--werror", is_flag=True, help="Treat warnings as errors.")
@click.option("--whole", is_flag=True,
              help="Draw every layer and group however large the drawing: no folding of very big networks "
                   "(Graphviz may then take minutes).")
def diagram(file, output, models, depth, show, rankdir, convention, werror, whole):
    """Draw the models of FILE with Graphviz: one node per layer, the shapes on
    the edges, blocks and branches as labelled boxes."""
    from ..cli import compile_or_exit, print_diagnostics, write_output

    extension = _extension(output)
    compilation = compile_or_exit(file, convention)
    if print_diagnostics(compilation, werror):
        sys.exit(1)
    program = compilation.program
    names = [model.name for model in program.models]
    if not names:
        _fail(f"{file} defines no model to draw")
    chosen = []
    for name in dict.fromkeys(models):
        model = program.model(name)
        if model is None:
            from ..diagnostics import suggest

            hint = suggest(name, names)
            _fail(f"{file} has no model '{name}'" + (f"; {hint}" if hint else "") + f" (models: {', '.join(names)})")
        chosen.append(model)
    chosen = chosen or list(program.models)

    import graphviz

    from ..emit import dot

    options = dot.DiagramOptions(rankdir=rankdir.upper(), depth=depth, show=show, whole=whole, convention=convention)
    fmt = dot.FORMATS[extension]
    if fmt is None:
        data = dot.source(chosen, options)
    else:
        try:
            data = dot.render(chosen, options, fmt)
        except graphviz.ExecutableNotFound:
            _fail(f"drawing .{extension} needs Graphviz's `dot` program, which is not on PATH; {INSTALL_HINT}")
        except graphviz.CalledProcessError as error:
            detail = (error.stderr or b"").decode("utf-8", "replace").strip()[:500]
            _fail(f"Graphviz's dot failed (exit {error.returncode}){': ' + detail if detail else ''}", 3)
    write_output(data, output)
