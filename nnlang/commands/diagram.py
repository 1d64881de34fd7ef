"""`nnc diagram FILE.nn -o OUT.svg`: a Graphviz drawing of a model, for handouts.

The format is OUT's extension: .dot (or .gv) is the DOT text and needs nothing
else; .svg, .png and .pdf are rendered by Graphviz's `dot` program. Without -o
the DOT text goes to standard output. See docs/diagrams.md.

With --page a4|letter the drawing is fitted to pages of that paper (nnlang.emit.paper).

Exit status: 0 written, 1 the file has errors, 2 a wrong command line, an
unknown model, a file that cannot be read or written, Graphviz's `dot`
missing for a rendered format or --page, or several pages asked of an SVG or
PNG; 3 `dot` failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..choices import CONVENTIONS, DTYPE_BYTES, OPS

EXTENSIONS = ("dot", "gv", "svg", "png", "pdf")
#: What --show adds to the boxes (nnlang.emit.dot.SHOW): the parameters, the summary's operation
#: counts (--ops: MACs, FLOPs, ...), pooling operations and output memory.
SHOW = ("params", *OPS, "pool_ops", "memory")
LABELS = ("all", "changed", "none")
PAPERS = ("a4", "letter")

INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; Fedora: sudo dnf install graphviz; "
    "macOS: brew install graphviz; Windows: winget install graphviz), "
    "or write the DOT text with -o FILE.dot and render it elsewhere"
)


def _fail(message: str, status: int = 2):
    from ..cli import fail

    fail(message, status)


def _show(ctx, param, value):
    if not value:
        return frozenset()
    canonical = {name.replace("_", "-"): name for name in SHOW}  # pool-ops and pool_ops, flops_all and flops-all
    items = {item.strip().lower().replace("_", "-") for item in value.split(",") if item.strip()}
    unknown = sorted(items - set(canonical))
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {', '.join(SHOW)}")
    return frozenset(canonical[item] for item in items)


def _drawn_order(program, names) -> list:
    """The models to draw: the ones named (in that order), else every model of the file, the ones a
    `compare` statement names first, in its order (`compare naive, bottleneck`: naive on the left)."""
    if names:
        return [program.model(name) for name in dict.fromkeys(names)]
    order = [name for comparison in program.comparisons for name in comparison.names]
    by_name = {}
    for model in program.models:
        by_name.setdefault(model.name, model)
    first = [by_name[name] for name in dict.fromkeys(order) if name in by_name]
    return first + [model for model in program.models if all(model is not other for other in first)]


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
@click.option("--show", callback=_show, default="", metavar="LIST",
              help=f"Add these costs to every layer node, frame and the title: {','.join(SHOW)} "
                   "(the summary's --ops names, pool ops, output memory).")
@click.option("--labels", type=click.Choice(LABELS), default="all", show_default=True,
              help="Which arrows carry the tensor's shape: all; changed (only where the shape changes); none.")
@click.option("--legend", is_flag=True, help="Add a legend: the fills, shapes, frames and arrow labels.")
@click.option("--page", "paper", type=click.Choice(PAPERS, case_sensitive=False), default=None,
              help="Fit the drawing to pages of this size (text at least 8 pt): scaled down, wrapped into "
                   "columns, folded or, in a PDF, spread over pages.")
@click.option("--dtype", type=click.Choice(tuple(DTYPE_BYTES)), default="float32", show_default=True,
              help="Data type of --show memory.")
@click.option("--rankdir", type=click.Choice(("TB", "LR"), case_sensitive=False), default="TB", metavar="TB|LR",
              show_default=True, help="TB: input at the top; LR: input on the left.")
@click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True,
              help="Counting rules for --show params.")
@click.option("--werror", is_flag=True, help="Treat warnings as errors.")
@click.option("--whole", is_flag=True,
              help="Draw every layer and group however large the drawing: no folding of very big networks "
                   "(Graphviz may then take minutes).")
@click.option("--ops", "operations", is_flag=True,
              help="The computational graph of a dense network: a node per operation (matmul, +, activation, "
                   "loss), the size of the matrix on every edge (docs/trace.md).")
@click.option("--augmented", is_flag=True,
              help="With --ops: a layer with a bias as one matmul of [W b] and [a; 1].")
@click.option("--loss", type=click.Choice(("mse", "bce", "ce")), default="mse", show_default=True,
              help="With --ops: the loss the graph ends with.")
def diagram(file, output, models, depth, show, labels, legend, paper, dtype, rankdir, convention, werror, whole,
            operations, augmented, loss):
    """Draw the models of FILE with Graphviz: one node per layer, the shapes on
    the edges, blocks and branches as labelled boxes."""
    from ..cli import compile_models, write_output

    extension = _extension(output)
    compilation, _ = compile_models(file, convention, models, "draw", werror=werror, empty_status=2)
    program = compilation.program
    chosen = _drawn_order(program, models)

    import graphviz

    from ..emit import dot

    if augmented and not operations:
        _fail("--augmented draws the --ops graph: add --ops")
    if operations:
        _operations(compilation, chosen, extension, output, augmented, loss, rankdir.upper())
        return

    options = dot.DiagramOptions(rankdir=rankdir.upper(), depth=depth, show=show, whole=whole, convention=convention,
                                 labels=labels, legend=legend, dtype=dtype)
    fmt = dot.FORMATS[extension]
    try:
        if paper is not None:
            data = _on_paper(chosen, options, paper.lower(), fmt, extension)
        elif fmt is None:
            data = dot.source(chosen, options)
        else:
            data = dot.render(chosen, options, fmt)
    except graphviz.ExecutableNotFound:
        what = f"drawing .{extension}" if paper is None else f"fitting a drawing to {paper.upper()} pages"
        _fail(f"{what} needs Graphviz's `dot` program, which is not on PATH; {INSTALL_HINT}")
    except graphviz.CalledProcessError as error:
        detail = (error.stderr or b"").decode("utf-8", "replace").strip()[:500]
        _fail(f"Graphviz's dot failed (exit {error.returncode}){': ' + detail if detail else ''}", 3)
    write_output(data, output)


def _operations(compilation, chosen, extension: str, output, augmented: bool, loss: str, rankdir: str) -> None:
    """--ops: the computational graph of each chosen model (nnlang.emit.opgraph); exits 1 with a
    located diagnostic for a model that is not a chain of dense layers on a vector."""
    import graphviz

    from .. import trace as tracing
    from ..cli import write_output
    from ..diagnostics import render
    from ..emit import dot, opgraph

    found = []
    for model in chosen:
        try:
            found.append((model.name, tracing.network(model, values=False)))
        except tracing.TraceError as error:
            click.echo(render(error.diagnostic(), compilation.source), err=True)
            sys.exit(1)
    graph = opgraph.build(found, augmented=augmented, loss=loss, rankdir=rankdir)
    fmt = dot.FORMATS[extension]
    try:
        data = graph.source if fmt is None else dot.fixed(graph.pipe(format=fmt), fmt)
    except graphviz.ExecutableNotFound:
        _fail(f"drawing .{extension} needs Graphviz's `dot` program, which is not on PATH; {INSTALL_HINT}")
    write_output(data, output)


def _on_paper(chosen, options, size: str, fmt, extension: str):
    """The drawing fitted to pages of paper `size` (docs/diagrams.md, On paper)."""
    from ..emit import paper

    sheets = paper.fit(chosen, options, size)
    if not sheets.legible:
        click.echo(f"nnc: warning: a box is too big for one {size.upper()} page at a legible size: the "
                   f"drawing is printed at {sheets.scale:.0%}, its smallest text at "
                   f"{sheets.scale * paper.dot.SMALL:.1f} pt", err=True)
    if fmt is None:
        return paper.source(chosen, options, sheets)
    if fmt != "pdf" and sheets.pages > 1:
        _fail(f"the drawing needs {sheets.pages} {size.upper()} pages at a legible size and .{extension} holds "
              f"one: write a .pdf, or draw less (--model NAME, a lower --depth)")
    return paper.render(chosen, options, sheets, fmt)
