"""`nnc lsp`: the language server, speaking LSP over standard input and output.

Only click is imported here; the server (and pygls) load when the command runs.
"""

from __future__ import annotations

import click

from ..choices import CONVENTIONS
LOG_LEVELS = ("debug", "info", "warning", "error")


class _Brief:
    """A logging filter that keeps records to one line: no traceback unless the log is verbose."""

    def filter(self, record) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


@click.command()
@click.option("--stdio", is_flag=True, help="Speak over standard input and output (the default and only transport; "
                                            "accepted because editors pass it).")
@click.option("--convention", type=click.Choice(CONVENTIONS), default="keras", show_default=True,
              help="Counting rules for diagnostics and hovers (the client's initializationOptions may override it).")
@click.option("--log-file", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the server's log to this file instead of standard error.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="warning", show_default=True,
              help="How much the server logs.")
@click.option("--verbose", "-v", is_flag=True,
              help="Log everything, with the details of internal errors (the same as --log-level debug).")
def lsp(stdio, convention, log_file, log_level, verbose):
    """Run the language server (diagnostics, hover, definition, completion, symbols) on stdio."""
    import gc
    import logging
    import sys

    gc.enable()  # nnc disables the cyclic collector for short runs; a server runs for hours
    if verbose:
        log_level = "debug"
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if log_level != "debug":  # tracebacks name the installation's paths: only in a verbose log
        handler.addFilter(_Brief())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, log_level.upper()))

    try:
        from ..lsp import serve
    except ImportError as error:  # pygls is a dependency, but an environment may lack it
        click.echo(f"nnc: error: the language server needs pygls ({error}); pip install pygls", err=True)
        sys.exit(2)
    sys.exit(serve(convention))
