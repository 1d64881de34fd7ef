"""The `nnc` command.

    nnc FILE.nn [options]        summary of every model in the file
    nnc check FILE.nn            diagnostics and the answer-key summary only
    nnc explain CODE             what a diagnostic code means

Exit status: 0 compiled (warnings allowed), 1 the file has errors, 2 the
command line was wrong or a file could not be read or written, 3 an internal
error, 130 interrupted. When the reader of the output goes away (`nnc FILE |
head`), nnc ends quietly with the status it would have had, whatever the format.
"""

from __future__ import annotations

import gc
import os
import sys

import click

from . import __version__
from .diagnostics import CODES, render as render_diagnostic

from .choices import COMPARE_FORMATS, CONVENTIONS, DTYPE_BYTES, FORMATS, OPS, OPTIMIZER_STATE, UNITS


#: Commands whose module is imported only when the command runs, to keep start-up light.
LAZY_COMMANDS = {
    "diagram": "nnlang.commands.diagram:diagram",
    "export": "nnlang.commands.export:export",
    "lsp": "nnlang.commands.lsp:lsp",
    "trace": "nnlang.commands.trace:trace",
}


class _DefaultGroup(click.Group):
    """`nnc FILE ...` means `nnc summary FILE ...`; some commands load lazily."""

    def _available_lazy(self) -> dict:
        from importlib.util import find_spec

        found = {}
        for name, target in LAZY_COMMANDS.items():
            module = target.split(":")[0]
            try:
                if find_spec(module) is not None:
                    found[name] = target
            except ModuleNotFoundError:
                continue
        return found

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._available_lazy()))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None or name not in LAZY_COMMANDS:
            return command
        target = self._available_lazy().get(name)
        if target is None:
            return None
        from importlib import import_module

        module, attribute = target.split(":")
        return getattr(import_module(module), attribute)

    def parse_args(self, ctx, args):
        known = set(self.commands) | set(LAZY_COMMANDS)
        if args and args[0] not in known and args[0] not in ("--help", "-h", "--version"):
            args = ["summary", *args]
        return super().parse_args(ctx, args)

    def make_context(self, info_name, args, parent=None, **extra):
        try:  # --help and --version write here
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            _end_on_broken_pipe()

    def invoke(self, ctx):
        # click itself would end a closed pipe or an interrupt with status 1, which means "the file has errors"
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _end_on_broken_pipe()
        except KeyboardInterrupt:
            _interrupted()

    def format_usage(self, ctx, formatter):
        formatter.write_usage("nnc", "FILE.nn [OPTIONS] | COMMAND [ARGS]...")


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nnc")
def cli():
    """nnc: shapes, parameters, MACs and memory of neural networks written in .nn."""


#: The most rows a --sweep may ask for (every combination of its values).
MAX_SWEEP = 1000


def _size_name(text: str, param) -> str:
    from . import symbolic

    name = text.strip()
    if not symbolic.valid_name(name):
        raise click.BadParameter(f"{name!r} is not a size name (a name such as T, H or seq_len, or ?1)",
                                 param=param)
    return name


def _size_value(name: str, text: str, param) -> int:
    from .limits import MAX_LITERAL

    text = text.strip().replace("_", "")
    if not text.isdigit() or not 0 < int(text):
        raise click.BadParameter(f"{name}={text!r}: a size is a positive whole number", param=param)
    if int(text) > MAX_LITERAL:
        raise click.BadParameter(f"{name}={text}: a size is at most {MAX_LITERAL:,}", param=param)
    return int(text)


def _sizes_option(ctx, param, given) -> dict:
    """--set H=224,W=224 --set T=128 -> {'H': 224, 'W': 224, 'T': 128}."""
    values: dict = {}
    for item in given:
        for pair in item.split(","):
            name, equals, value = pair.partition("=")
            if not equals:
                raise click.BadParameter(f"{pair!r}: write NAME=VALUE, e.g. T=128", param=param)
            name = _size_name(name, param)
            if name in values:
                raise click.BadParameter(f"{name} is given twice", param=param)
            values[name] = _size_value(name, value, param)
    return values


def _sweep_option(ctx, param, given) -> tuple:
    """--sweep T=128,256 --sweep B=1,8 -> (('T', (128, 256)), ('B', (1, 8)))."""
    sweeps, rows = [], 1
    for item in given:
        name, equals, listed = item.partition("=")
        if not equals or not listed.strip():
            raise click.BadParameter(f"{item!r}: write NAME=N,N,..., e.g. T=128,256,512", param=param)
        name = _size_name(name, param)
        if any(name == other for other, _ in sweeps):
            raise click.BadParameter(f"{name} is swept twice", param=param)
        values = tuple(dict.fromkeys(_size_value(name, v, param) for v in listed.split(",")))
        rows *= len(values)
        if rows > MAX_SWEEP:
            raise click.BadParameter(f"more than {MAX_SWEEP:,} rows", param=param)
        sweeps.append((name, values))
    return tuple(sweeps)


class _BatchType(click.ParamType):
    """A batch size: a positive whole number, or a name that keeps it symbolic (B)."""

    name = "N|NAME"

    def convert(self, value, param, ctx):
        from .formula import is_sym

        if isinstance(value, int) or is_sym(value):
            return value
        text = str(value).strip()
        if text.isdigit():
            if int(text) < 1:
                self.fail("the batch size must be at least 1", param, ctx)
            return int(text)
        from . import symbolic

        if symbolic.valid_name(text):
            return symbolic.symbol(text)
        self.fail(f"{value!r} is neither a batch size nor a size name", param, ctx)


_BATCH = _BatchType()


def _report_options(function):
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="Output format."),
        click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True,
                     help="Counting rules where frameworks differ (recurrent biases, batch-norm statistics)."),
        click.option("--dtype", type=click.Choice(tuple(DTYPE_BYTES)), default="float32", show_default=True,
                     help="Data type of the parameters, for memory figures."),
        click.option("--units", type=click.Choice(tuple(UNITS)), default="si", show_default=True,
                     help="Memory in the unit that fits: si: kB, MB, GB (10^3, 10^6, 10^9 bytes); iec: KiB, "
                          "MiB, GiB (2^10, 2^20, 2^30 bytes)."),
        click.option("--batch", type=_BATCH, default=None,
                     help="Batch size shown in shapes and used by memory figures: a number, or a name (B) that "
                          "makes memory an expression of it."),
        click.option("--set", "values", multiple=True, metavar="NAME=N[,NAME=N]", callback=_sizes_option,
                     help="Give a named size a value (repeatable): --set T=128, --set H=224,W=224."),
        click.option("--sweep", multiple=True, metavar="NAME=N,N,...", callback=_sweep_option,
                     help="One row per value of a named size (repeatable: every combination): "
                          "--sweep T=128,256,512."),
        click.option("--depth", type=click.IntRange(min=0), default=None,
                     help="Fold blocks deeper than N into one row each."),
        click.option("--explain", is_flag=True, help="Show the formula behind every number."),
        click.option("--ops", type=click.Choice(OPS), default="macs", show_default=True,
                     help="Operations column: MACs, FLOPs (2 x MACs), or FLOPs with bias additions, activations "
                          "and pooling."),
        click.option("--memory", is_flag=True,
                     help="Itemised memory: parameters, activations, inference peak, training (with --batch)."),
        click.option("--optimizer", type=click.Choice(tuple(OPTIMIZER_STATE)), default="adam",
                     show_default=True, help="Optimizer state counted in training memory."),
        click.option("--columns", default=None, metavar="LIST",
                     help="Columns to show, in order: layer,output,params,trainable,non_trainable,kernel,stride,"
                          "padding,macs,flops,pool_ops,memory."),
        click.option("--ascii", "ascii_only", is_flag=True, help="ASCII table borders instead of box drawing."),
        click.option("--diagram/--no-diagram", "diagram", default=True, show_default=True,
                     help="HTML: draw each model as an inline SVG (Graphviz's dot)."),
        click.option("--werror", is_flag=True, help="Treat warnings as errors."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
                     help="Write the report to this file instead of standard output: a regular file is "
                          "replaced atomically, a device or FIFO is written through."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def compile_or_exit(path: str, convention: str = "keras"):
    """Compile FILE for a command; exit 2 when it cannot be read."""
    return _compile(path, convention)


def fail(message: str, status: int = 2):
    """Say what went wrong (made safe for the terminal: a file name may hold anything) and exit
    with `status` (2: the command line)."""
    from .diagnostics import printable

    click.echo(f"nnc: error: {printable(message)}", err=True)
    raise SystemExit(status)


def compile_models(file, convention: str, models, what: str, werror: bool = False, empty_status: int = 1) -> tuple:
    """(compilation, the names of the models to work on) for a command that takes `--model NAME`
    (repeatable; none: every model): exit 1 when FILE has errors (warnings too with `werror`),
    `empty_status` when it has no model, 2 for a name it does not define. `what`: the command's
    verb, for the message (export, trace, compare, draw)."""
    compilation = compile_or_exit(file, convention)
    if print_diagnostics(compilation, werror):
        raise SystemExit(1)
    program = compilation.program
    names = [m.name for m in program.models]
    if not names:
        fail(f"{file} defines no model to {what}", empty_status)
    for name in models:
        if program.model(name) is None:
            from .diagnostics import suggest

            hint = suggest(name, names)
            fail(f"{file} has no model '{name}'" + (f"; {hint}" if hint else "") + f" (models: {', '.join(names)})")
    return compilation, list(dict.fromkeys(models)) or names


def print_diagnostics(compilation, werror: bool = False) -> bool:
    """Print every diagnostic to standard error; True when the file must fail."""
    return _print_diagnostics(compilation, werror)


def write_output(data, output) -> None:
    """Write bytes, text or an iterable of text pieces to standard output (OUTPUT None) or to
    OUTPUT (see nnlang.outputs.write); exit 2 with a message when it cannot be written."""
    from .outputs import CannotWrite, write

    try:
        write(data, output)
    except CannotWrite as error:
        click.echo(f"nnc: error: {error}", err=True)
        sys.exit(2)


def _compile(path: str, convention: str, sizes: dict | None = None):
    from .driver import compile_path

    try:
        return compile_path(path, convention, sizes)
    except OSError as error:
        from .outputs import shown

        click.echo(f"nnc: error: cannot read {shown(path)}: {error.strerror or error}", err=True)
        sys.exit(2)


def _print_diagnostics(compilation, werror: bool) -> bool:
    """Print every diagnostic to standard error; True when the file must fail."""
    failed = compilation.diagnostics.has_errors or compilation.program is None
    for diagnostic in compilation.diagnostics:
        if werror and diagnostic.severity == "warning":
            failed = True
        click.echo(render_diagnostic(diagnostic, compilation.source), err=True)
    return failed


def _end_on_broken_pipe():
    from .outputs import end_on_broken_pipe

    end_on_broken_pipe()


def _interrupted():
    try:
        click.echo("nnc: interrupted", err=True)
    except OSError:
        pass
    sys.exit(130)


@cli.command(hidden=True)
@click.argument("file", type=click.Path())
@_report_options
@click.option("--augmented", is_flag=True,
              help="With --format equation: each dense layer with a bias as one product, [W b] [x; 1].")
def summary(file, fmt, convention, dtype, units, batch, values, sweep, depth, explain, ops, memory, optimizer, columns,
            ascii_only, diagram, werror, output, augmented=False):
    """Summary table of every model in FILE."""
    if augmented and fmt != "equation":
        fail("--augmented goes with --format equation")
    from .report import Column, Options

    try:
        picked = Column.parse(columns) if columns else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--columns") from None
    batch, values = _batch_value(batch, values)
    options = Options(convention=convention, dtype=dtype, units=units, batch=batch, depth=depth, explain=explain,
                      ops=ops, memory=memory, optimizer=optimizer, columns=picked)
    if sweep:
        _sweep(file, options, values, sweep, fmt, werror, output)
    compilation = _compile(file, convention, values)
    failed = _print_diagnostics(compilation, werror)
    _check_sizes(file, compilation.program, values, batch)
    if fmt == "json":
        from . import outputs
        from .emit import json as emit_json

        outputs.status_on_closed_pipe = 1 if failed else 0

        write_output(emit_json.render_pieces(compilation.program, compilation.diagnostics, options,
                                       compilation.source.name), output)
        sys.exit(1 if failed else 0)
    if failed:
        sys.exit(1)
    if fmt == "text":
        from .emit import text as emit_text

        write_output(emit_text.render(compilation.program, options, ascii_only, compilation.source), output)
    elif fmt == "equation":
        from .emit import equation

        try:
            text = equation.render(compilation.program, augmented)
        except equation.NotAChain as error:
            click.echo(f"nnc: error: {error}", err=True)
            sys.exit(1)
        write_output(text, output)
    else:
        from .emit import tables

        write_output(tables.render(compilation.program, options, fmt, compilation.source.name, compilation.source,
                                   diagrams=diagram, warn=_warn), output)


def _sweep(file, options, values: dict, sweep: tuple, fmt: str, werror: bool, output) -> None:
    """--sweep: compile FILE once per combination of the swept values (with --set's values too)
    and write one row per combination and model; exits."""
    from itertools import product

    from .emit import sweep as emit_sweep

    clash = [name for name, _ in sweep if name in values]
    if clash:
        raise click.BadParameter(f"{clash[0]} is both set and swept", param_hint="--sweep")
    import attrs

    if fmt not in emit_sweep.FORMATS:
        raise click.BadParameter(f"--sweep writes {', '.join(emit_sweep.FORMATS)}", param_hint="--format")
    names = [name for name, _ in sweep]
    points = []
    shown: set = set()  # each diagnostic printed once, however many points report it
    for combination in product(*(listed for _, listed in sweep)):
        point = dict(zip(names, combination))
        sizes = {**values, **point}
        batch, sizes = _batch_value(options.batch, sizes)  # --batch B --sweep B=1,8
        point_options = attrs.evolve(options, batch=batch) if batch is not options.batch else options
        compilation = _compile(file, options.convention, sizes)
        failed = compilation.diagnostics.has_errors or compilation.program is None
        for diagnostic in compilation.diagnostics:
            failed = failed or (werror and diagnostic.severity == "warning")
            text = render_diagnostic(diagnostic, compilation.source)
            if text not in shown:
                shown.add(text)
                click.echo(text, err=True)
        if failed:
            click.echo(f"nnc: error: the file does not compile with {emit_sweep.point_text(point)}", err=True)
            sys.exit(1)
        _check_sizes(file, compilation.program, sizes, point_options.batch)
        points.append((point, compilation.program, point_options))
    write_output(emit_sweep.render(points, names, options, fmt), output)
    sys.exit(0)


def _batch_value(batch, values: dict) -> tuple:
    """(batch, the other --set values): `--batch B --set B=8` is the batch of 8."""
    from .formula import is_sym

    if is_sym(batch) and str(batch) in values:
        values = dict(values)
        return values.pop(str(batch)), values
    return batch, values


def _check_sizes(file, program, values: dict, batch=None) -> None:
    """Exit 2 when --set or --sweep names a size that no model of the file has, or when a named
    batch (--batch B) has the name of one of the models' sizes."""
    if program is None:
        return
    known = {name for model in program.models for name in (*model.sizes, *model.size_values)}
    from .formula import is_sym

    if is_sym(batch) and str(batch) in known:
        fail(f"--batch {batch}: {batch} already names a size of {file}; name the batch otherwise (--batch B)")
    if not values:
        return
    for name in values:
        if name not in known:
            from .diagnostics import suggest

            hint = suggest(name, sorted(known))
            fail(f"{file} has no named size '{name}'" + (f"; {hint}" if hint else "")
                 + f" (sizes: {', '.join(sorted(known)) or 'none'})")


def _warn(message: str) -> None:
    from .diagnostics import printable

    click.echo(f"nnc: warning: {printable(message)}", err=True)


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True)
@click.option("--werror", is_flag=True, help="Treat warnings as errors.")
def check(file, convention, werror):
    """Check FILE: its diagnostics and its expectations (answer key) only."""
    from .expectations import summary_line

    compilation = _compile(file, convention)
    failed = _print_diagnostics(compilation, werror)
    click.echo(summary_line(compilation))
    sys.exit(1 if failed else 0)


@cli.command(name="compare")
@click.argument("file", type=click.Path())
@click.argument("left")
@click.argument("right")
@click.option("--format", "fmt", type=click.Choice(COMPARE_FORMATS), default="text", show_default=True)
@click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True)
@click.option("--dtype", type=click.Choice(tuple(DTYPE_BYTES)), default="float32", show_default=True)
@click.option("--units", type=click.Choice(tuple(UNITS)), default="si", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the comparison to this file instead of standard output.")
def compare_command(file, left, right, fmt, convention, dtype, units, output):
    """Side-by-side report of models LEFT and RIGHT of FILE."""
    from .report import Options, compare
    from .emit import compare as emit_compare

    compilation, _ = compile_models(file, convention, (left, right), "compare")
    program = compilation.program
    options = Options(convention=convention, dtype=dtype, units=units)
    comparison = compare(program.model(left), program.model(right), options)
    if fmt == "json":
        import json

        write_output(json.dumps(emit_compare.json_data(comparison), indent=2) + "\n", output)
    elif fmt == "text":
        write_output(emit_compare.text(comparison, options) + "\n", output)
    else:
        from .emit import tables

        write_output(tables.render_comparison(comparison, options, fmt, compilation.source.name), output)


@cli.command()
@click.argument("code")
def explain(code):
    """Explain a diagnostic code such as E302, with a failing example."""
    from .diagnostic_docs import explain

    text = explain(code.upper())
    if text is None:
        click.echo(f"nnc: error: no diagnostic code {code!r}; codes: {', '.join(CODES)}", err=True)
        sys.exit(2)
    click.echo(text)


def main(argv=None) -> None:
    """Entry point: never shows a traceback."""
    # A short-lived process that builds many small objects and no garbage cycles:
    # the cyclic collector would only slow large models down.
    gc.disable()
    try:
        cli.main(args=argv, prog_name="nnc", standalone_mode=True)
        status = 0
    except SystemExit as stop:
        status = stop.code
    except KeyboardInterrupt:
        click.echo("nnc: interrupted", err=True)
        status = 130
    except Exception as error:  # noqa: BLE001 - the last line of defence
        if os.environ.get("NNC_TRACEBACK"):  # for whoever fixes it
            import traceback

            traceback.print_exc()
        where = f"{type(error).__name__}: {error}"[:300]
        click.echo(f"nnc: internal error [E900] ({where}); please report this bug with the input file", err=True)
        status = 3
    _leave(status)


def _leave(status) -> None:
    """End the process without the interpreter's clean-up. Every output is written and
    flushed by now; freeing a compiled model object by object (and the collection that
    Python runs at exit) would take longer than compiling a small one."""
    if status is None:
        status = 0
    elif not isinstance(status, int):  # sys.exit("message")
        click.echo(status, err=True)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BrokenPipeError:  # `nnc FILE | head`: output was lost, as when it happens while writing
            _end_on_broken_pipe()
        except (OSError, ValueError):  # a closed stream
            pass
    os._exit(status)
