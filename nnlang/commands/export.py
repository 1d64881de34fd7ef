"""`nnc export FILE.nn --to pytorch|keras [-o OUT.py] [--model NAME]`: runnable framework code.

PyTorch: one `torch.nn.Module` class per model, named after it in CamelCase and
built without arguments. Keras: a `build_<model>()` function per model returning
a `keras.Model` (functional API). Both: one class per block definition, built
with each call's arguments (the exporters read the definitions from the file's
text). See docs/export.md.

Exit status: 0 written; 1 the file has errors, or a model uses something the
framework cannot express (the message names it, nothing is written); 2 a wrong
command line, an unknown model, or a file that cannot be read or written.

Only click is imported here; torch and keras are imported by the generated code
only, never by nnc.
"""

from __future__ import annotations

import click

TARGETS = ("pytorch", "keras")
from ..choices import CONVENTIONS


@click.command()
@click.argument("file", type=click.Path())
@click.option("--to", "target", type=click.Choice(TARGETS), required=True,
              help="The framework: pytorch (nn.Module classes) or keras (functional keras.Model builders).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the code to this file instead of standard output: a regular file is replaced "
                   "atomically, a device or FIFO is written through.")
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Export only this model (repeatable). Default: every model of FILE.")
@click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True,
              help="The convention FILE's expectations (params=N) are checked under, as for `nnc FILE`; the code "
                   "itself does not depend on it.")
def export(file, target, output, models, convention):
    """Write PyTorch or Keras code that builds the models of FILE."""
    from ..cli import compile_models, write_output
    from ..diagnostics import render
    from ..emit.codegen import ExportError, exporter

    # compiled once: the exporters read the counts as the target framework counts them from the
    # same program (ir.LayerNode.counts)
    compilation, _ = compile_models(file, convention, models, "export")
    program = compilation.program
    emitter = exporter(target)
    try:
        result = emitter.export(program, list(dict.fromkeys(models)) or None, source_lines=compilation.source.lines,
                                file_name=str(file))
    except ExportError as error:
        click.echo(render(error.diagnostic(), compilation.source), err=True)
        raise SystemExit(1)
    write_output(result.code, output)
