"""Run the nnc compiler the way a user does, as a separate process.

``run_nnc(*args)`` is ``python -m nnlang ARGS...`` with the interpreter running
the tests, from the repository root, capturing text output.
"""

from __future__ import annotations

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


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def nnc_json(*args, status: int = 0) -> dict:
    """Run nnc with ``--format json``; check the exit status and parse stdout."""
    proc = run_nnc(*args, "--format", "json")
    assert_no_traceback(proc)
    assert proc.returncode == status, (
        f"nnc {' '.join(map(str, args))} exited {proc.returncode}, expected {status}\n"
        f"stderr:\n{proc.stderr}"
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as error:  # pragma: no cover - a failure message
        raise AssertionError(f"stdout is not JSON ({error}):\n{proc.stdout[:2000]}") from None
