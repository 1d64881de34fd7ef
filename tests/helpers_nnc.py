"""Run the nnc compiler the way a user does, as a separate process, or its command code in
this process.

``run_nnc(*args)`` is ``python -m nnlang ARGS...`` with the interpreter running
the tests, from the repository root, capturing text output. ``nnc_in_process(*args)``
runs the same command code (``nnlang.cli.cli``) in the test's process, for the many
tests that check what a command prints rather than the process around it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_nnc(*args, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m nnlang *args`` and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "nnlang", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=str(cwd or ROOT),
        timeout=timeout,
    )


def nnc_in_process(*args, cwd=None) -> subprocess.CompletedProcess:
    """``nnc ARGS...`` run by the command's own code in this process (click's test runner on
    ``nnlang.cli.cli``, from the repository root): exit status, standard output and error as
    run_nnc returns them, without starting an interpreter. An exception that escapes the command
    (which the real entry point reports as an internal error, exit status 3) fails the test here
    with its traceback; ``stdout_bytes``/``stderr_bytes`` are the raw output."""
    from click.testing import CliRunner

    from nnlang.cli import cli

    argv = [str(arg) for arg in args]
    with contextlib.chdir(cwd or ROOT):
        result = CliRunner().invoke(cli, argv, prog_name="nnc", catch_exceptions=False)
    proc = subprocess.CompletedProcess(["nnc", *argv], result.exit_code, result.stdout, result.stderr)
    proc.stdout_bytes, proc.stderr_bytes = result.stdout_bytes, result.stderr_bytes
    return proc


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def nnc_json(*args, status: int = 0, in_process: bool = False) -> dict:
    """Run nnc with ``--format json`` (in this process with ``in_process``); check the exit
    status and parse stdout."""
    proc = (nnc_in_process if in_process else run_nnc)(*args, "--format", "json")
    assert_no_traceback(proc)
    assert proc.returncode == status, (
        f"nnc {' '.join(map(str, args))} exited {proc.returncode}, expected {status}\n"
        f"stderr:\n{proc.stderr}"
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as error:  # pragma: no cover - a failure message
        raise AssertionError(f"stdout is not JSON ({error}):\n{proc.stdout[:2000]}") from None


def typeset_a4(tmp_path: Path, body: str) -> str:
    """pdflatex (installed by CI) on `body` in an A4 article with 2 cm margins, booktabs and
    longtable; returns the log (for its overfull boxes). Fails the test when pdflatex fails."""
    import shutil

    assert shutil.which("pdflatex"), "pdflatex is missing: apt-get install texlive-latex-base texlive-latex-recommended"
    (tmp_path / "table.tex").write_text(body, encoding="utf-8")
    (tmp_path / "doc.tex").write_text("\\documentclass[a4paper]{article}\n\\usepackage[margin=2cm]{geometry}\n"
                                      "\\usepackage{booktabs,longtable}\n\\begin{document}\n\\input{table.tex}\n"
                                      "\\end{document}\n")
    for _ in range(2):  # longtable settles its column widths on the second run
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:]
    return (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
