"""`nnc trace FILE --input 2,-1 --target 0 [--loss mse|bce|ce] [--lr 0.1] [--format ...]`: a worked
forward and backward pass through a dense network whose weights FILE gives (nnlang/trace.py).

Exit status: 0 written; 1 the file has errors, or a model the trace cannot compute (located
diagnostic, nothing written); 2 a wrong command line (an input or target of the wrong size,
an unknown model) or a file that cannot be read or written.
"""

from __future__ import annotations

import click

from ..choices import CONVENTIONS

FORMATS = ("text", "markdown", "latex", "json")
LOSSES = ("mse", "bce", "ce")
ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")


@click.command()
@click.argument("file", type=click.Path())
@click.option("--input", "input_text", default=None, metavar="X1,X2,...",
              help="The input vector: 2,-1 (decimals and fractions such as 1/3 are exact).")
@click.option("--target", "target_text", default=None, metavar="Y1,...",
              help="The target: one value per output, or with --loss ce a class index.")
@click.option("--loss", type=click.Choice(LOSSES), default="mse", show_default=True,
              help="mse: 1/2 * sum((a - y)^2); bce: binary cross-entropy; ce: cross-entropy -sum(y log a). "
                   "On a linear last layer bce and ce read logits, as PyTorch's losses do.")
@click.option("--lr", "lr_text", default=None, metavar="RATE",
              help="Also write the weights after one step of gradient descent with this learning rate.")
@click.option("--activation", type=click.Choice(ACTIVATIONS), default=None,
              help="Use this activation in every layer instead of the file's (redo the pass with relu).")
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Trace only this model (repeatable). Default: every model of FILE.")
@click.option("--digits", type=click.IntRange(0, 30), default=4, show_default=True,
              help="Decimals shown for values that are not exact (exact values are shown in full or as p/q).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text, markdown, latex (a handout of the worked solution) or json.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@click.option("--symbolic", is_flag=True,
              help="Write the chain rule of every layer without numbers (no --input or --target): delta, "
                   "dL/dW, dL/db and dL/dx with their sizes; the weights may be left out.")
@click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True,
              help="The convention FILE's expectations (params=N) are checked under, as for `nnc FILE`.")
def trace(file, input_text, target_text, loss, lr_text, activation, models, digits, fmt, output, symbolic,
          convention):
    """Work a forward and a backward pass through the dense layers of FILE, with their weights."""
    from ..cli import compile_models, fail, write_output
    from ..diagnostics import render
    from .. import trace as tracing

    if symbolic:
        given = [name for name, text in (("--input", input_text), ("--target", target_text), ("--lr", lr_text))
                 if text is not None]
        if given:
            fail(f"--symbolic writes the equations without numbers: leave out {', '.join(given)}")
        _symbolic(file, convention, models, activation, loss, fmt, output)
        return
    for name, text in (("--input", input_text), ("--target", target_text)):
        if text is None:
            fail(f"{name} is needed (or --symbolic for the equations without numbers)")

    try:
        x = tracing.parse_numbers(input_text)
    except ValueError as error:
        fail(f"--input: {error}")
    try:
        target = tracing.parse_numbers(target_text)
    except ValueError as error:
        fail(f"--target: {error}")
    lr = None
    if lr_text is not None:
        try:
            lr, = tracing.parse_numbers(lr_text)
        except ValueError as error:
            fail(f"--lr: {error}")
    compilation, chosen = compile_models(file, convention, models, "trace")
    program = compilation.program
    traces = []
    for name in chosen:
        model = program.model(name)
        try:
            layers = tracing.network(model, activation or "")
        except tracing.TraceError as error:
            click.echo(render(error.diagnostic(), compilation.source), err=True)
            raise SystemExit(1)
        try:
            traces.append(tracing.run(name, layers, x, target, loss, lr, activation or ""))
        except ValueError as error:
            fail(f"model {name}: {error}")
    if fmt == "json":
        from ..emit.trace_json import dumps

        write_output(dumps(traces), output)
        return
    from ..emit import trace_text

    blocks = trace_text.document(traces, digits)
    write_output(getattr(trace_text, fmt)(blocks), output)


def _symbolic(file, convention, models, activation, loss, fmt, output) -> None:
    """`--symbolic`: the backpropagation equations of every chosen model, with their sizes."""
    from ..cli import compile_models, write_output
    from ..diagnostics import render
    from .. import trace as tracing
    from ..emit import trace_text

    compilation, chosen = compile_models(file, convention, models, "trace")
    networks = []
    for name in chosen:
        try:
            layers = tracing.network(compilation.program.model(name), activation or "", values=False)
        except tracing.TraceError as error:
            click.echo(render(error.diagnostic(), compilation.source), err=True)
            raise SystemExit(1)
        networks.append((name, layers, loss))
    if fmt == "json":
        from ..emit.trace_json import dumps_symbolic

        write_output(dumps_symbolic(networks), output)
        return
    write_output(getattr(trace_text, fmt)(trace_text.symbolic_document(networks)), output)
