"""The guard of conftest.py: a run that leaves out the `frameworks` tests fails when anything
imports PyTorch, Keras, TensorFlow or JAX, however the import is wrapped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import frameworks_deselected

TESTS = Path(__file__).resolve().parent

IMPORTS = '''
import pytest


def test_import_caught_as_import_error():
    try:
        import torch  # noqa: F401
    except ImportError:
        pass


def test_importorskip():
    pytest.importorskip("keras")


def test_import_swallowed():
    try:
        import jax  # noqa: F401
    except Exception:
        pass


def test_without_frameworks():
    import json  # noqa: F401
'''


def test_a_fast_run_fails_on_any_framework_import(tmp_path):
    (tmp_path / "test_imports.py").write_text(IMPORTS, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q", "-m", "not frameworks",
         "test_imports.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 1, out
    # the import and importorskip fail (no skip); the swallowed import passes, the session fails
    assert "2 failed, 2 passed" in out, out
    assert "FrameworkImported: import of 'torch'" in out and "FrameworkImported: import of 'keras'" in out, out
    assert "tried to import ['jax', 'keras', 'torch'] and has [] loaded" in out, out


@pytest.mark.parametrize("expression, deselected", [
    ("", False),
    ("not frameworks", True),
    ("frameworks", False),
    ("not frameworks and not slow", True),
    ("slow", True),
    ("frameworks or slow", False),
    ("not (frameworks or slow)", True),
])
def test_which_marker_expressions_leave_out_the_frameworks(expression, deselected):
    config = SimpleNamespace(getoption=lambda name, default=None: {"markexpr": expression}.get(name, default))
    assert frameworks_deselected(config) is deselected


def test_this_run_has_no_framework_loaded(request):
    """In the fast run (`-m "not frameworks"`) the guard is on and nothing has loaded a framework."""
    if frameworks_deselected(request.config):
        assert not {name.partition(".")[0] for name in sys.modules} & {"torch", "keras", "tensorflow", "jax"}
        assert any(type(finder).__name__ == "_RefuseFrameworks" for finder in sys.meta_path)
    else:
        assert not any(type(finder).__name__ == "_RefuseFrameworks" for finder in sys.meta_path)
