"""IPython and Jupyter: `%load_ext nnlang` adds the `%%nn` cell magic.

    %%nn --explain --convention pytorch
    model tiny {
        input 28x28x1
        conv2d 8 k=3 relu
    }

The cell is compiled as a `.nn` file and shown: each model's summary table (HTML) and diagram
(SVG, when Graphviz's `dot` is installed), the ratio table of every `compare`, and the
diagnostics, located in the cell (`cell:4:11: error[E104]: ...`; line 1 is the `%%nn` line, as
the notebook numbers the cell's lines). A cell with errors shows them and nothing else; it does not raise, so that the rest of the
notebook runs. `--name VAR` keeps the compiled program (a nnlang.Program) in the variable VAR.
No JavaScript: the outputs are HTML, SVG and text.
"""

from __future__ import annotations

import argparse
import html
import shlex

from . import api
from .choices import CONVENTIONS, DTYPE_BYTES, FORMATS, OPS, OPTIMIZER_STATE, UNITS


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%%nn", add_help=False,
                     description="Compile the cell as a .nn file and show its report, diagrams and diagnostics.")
    parser.add_argument("--convention", choices=CONVENTIONS, default="keras")
    parser.add_argument("--dtype", choices=tuple(DTYPE_BYTES), default="float32")
    parser.add_argument("--units", choices=tuple(UNITS), default="si")
    parser.add_argument("--batch", default=None, help="a batch size, or a name (B)")
    parser.add_argument("--set", dest="sizes", action="append", default=[], metavar="NAME=N[,NAME=N]")
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--ops", choices=OPS, default="macs")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--optimizer", choices=tuple(OPTIMIZER_STATE), default="adam")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="show this nnc format instead of the tables and diagrams")
    parser.add_argument("--no-diagram", dest="diagram", action="store_false")
    parser.add_argument("--werror", action="store_true")
    parser.add_argument("--name", default=None, help="keep the compiled program in this variable")
    return parser


def _sizes(items: list) -> dict:
    values: dict = {}
    for item in items:
        for pair in item.split(","):
            name, equals, value = pair.partition("=")
            value = value.strip().replace("_", "")
            if not equals or not value.isdigit():
                raise ValueError(f"--set {pair!r}: write NAME=N, e.g. T=128")
            values[name.strip()] = int(value)
    return values


def _batch(text):
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


def _plain_and_html(text: str, style: str = "") -> dict:
    return {"text/plain": text, "text/html": f"<pre{style}>{html.escape(text)}</pre>"}


def run_cell(line: str, cell: str, cell_name: str = "cell", namespace=None) -> list:
    """What `%%nn LINE` shows for CELL: a list of mime bundles (dicts), in order. Raises ValueError
    for a wrong option on the line."""
    arguments = _parser().parse_args(shlex.split(line))
    if arguments.name is not None and not arguments.name.isidentifier():
        raise ValueError(f"--name {arguments.name!r} is not a Python name")
    try:
        program = api.loads("\n" + cell, name=cell_name, convention=arguments.convention, dtype=arguments.dtype,
                            units=arguments.units, batch=_batch(arguments.batch), sizes=_sizes(arguments.sizes),
                            depth=arguments.depth, explain=arguments.explain, ops=arguments.ops,
                            optimizer=arguments.optimizer, memory=arguments.memory, werror=arguments.werror)
    except api.NnError as error:
        return [_diagnostics(error.diagnostics)]
    if namespace is not None and arguments.name:
        namespace[arguments.name] = program
    shown = [_diagnostics(program.diagnostics)] if program.diagnostics else []
    if arguments.format is not None:
        text = program.summary(arguments.format, diagrams=arguments.diagram)
        if arguments.format == "html":
            return shown + [{"text/plain": text, "text/html": text}]
        if arguments.format == "markdown":
            return shown + [{"text/plain": text, "text/markdown": text}]
        return shown + [{"text/plain": text}]
    for model in program.models.values():
        if arguments.diagram:
            shown.append(model._repr_mimebundle_())
        else:
            shown.append({"text/plain": model.summary("text"), "text/html": api._table_html(model._report)})
    shown += [comparison._repr_mimebundle_() for comparison in program.comparisons]
    return shown


def _diagnostics(diagnostics) -> dict:
    text = "\n".join(d.text for d in diagnostics)
    errors = any(d.severity == "error" for d in diagnostics)
    color = "#a00000" if errors else "#7a5200"
    return {"text/plain": text,
            "text/html": f'<pre class="nnlang-diagnostics" style="color:{color}">{html.escape(text)}</pre>'}


def load_ipython_extension(ipython) -> None:
    """Register the `%%nn` cell magic."""
    from IPython.core.error import UsageError
    from IPython.display import publish_display_data

    def nn(line: str, cell: str) -> None:
        try:
            bundles = run_cell(line, cell, "cell", ipython.user_ns)
        except ValueError as error:
            raise UsageError(f"%%nn: {error}") from None
        for bundle in bundles:
            publish_display_data(bundle)

    nn.__doc__ = _parser().format_help() + "\n" + (__doc__ or "")
    ipython.register_magic_function(nn, magic_kind="cell", magic_name="nn")
