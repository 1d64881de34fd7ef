"""Shared test configuration.

``python -m pytest -m "not frameworks"`` is the fast suite: it must import neither PyTorch
nor Keras (nor TensorFlow or JAX). Whenever the marker expression leaves out the tests
marked ``frameworks``:

* the modules under ``tests/frameworks/`` (every test there is marked ``frameworks``, which
  the full run checks) are not collected, so that their framework imports never run;
* importing one of FRAMEWORKS anywhere in the process raises FrameworkImported (not an
  ImportError, which ``try``/``except ImportError`` or ``pytest.importorskip`` would turn
  into silence) and is recorded; the session fails if one was attempted or is loaded at
  the end.

Framework imports belong inside the tests and helpers marked ``frameworks``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

#: Top-level packages the fast suite must never import.
FRAMEWORKS = ("torch", "keras", "tensorflow", "jax")
FRAMEWORK_TESTS = Path(__file__).resolve().parent / "frameworks"
_FAST = pytest.StashKey[bool]()
_ATTEMPTS: list[str] = []
_PROBLEMS: list[str] = []


class FrameworkImported(RuntimeError):
    """An import of a framework during a run that leaves out the `frameworks` tests."""


class _RefuseFrameworks:
    """A sys.meta_path finder that refuses FRAMEWORKS and records the attempt."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in FRAMEWORKS:
            _ATTEMPTS.append(name)
            raise FrameworkImported(
                f"import of {name!r} in a run without the 'frameworks' tests: move it into the test or "
                f"helper marked @pytest.mark.frameworks that needs it")
        return None


def frameworks_deselected(config) -> bool:
    """True when the -m expression is false for a test marked `frameworks` (and nothing else)."""
    expression = config.getoption("markexpr", default="") or ""
    if not expression.strip():
        return False
    from _pytest.mark.expression import Expression

    return not Expression.compile(expression).evaluate(lambda name, /, **kwargs: name == "frameworks" and not kwargs)


def _loaded_frameworks() -> list[str]:
    return sorted({name.partition(".")[0] for name in sys.modules} & set(FRAMEWORKS))


def pytest_configure(config):
    fast = frameworks_deselected(config)
    config.stash[_FAST] = fast
    if fast:
        loaded = _loaded_frameworks()
        if loaded:
            raise pytest.UsageError(f"{loaded} imported before the tests were collected (a plugin?)")
        sys.meta_path.insert(0, _RefuseFrameworks())


def pytest_unconfigure(config):
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _RefuseFrameworks)]


def pytest_ignore_collect(collection_path, config):
    if config.stash.get(_FAST, False) and FRAMEWORK_TESTS in (collection_path, *collection_path.parents):
        return True
    return None


def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items
                if FRAMEWORK_TESTS in item.path.parents and item.get_closest_marker("frameworks") is None]
    if unmarked:
        raise pytest.UsageError(
            f"tests under {FRAMEWORK_TESTS} must be marked 'frameworks' (the fast run does not collect them): "
            f"{unmarked}")


def pytest_sessionfinish(session, exitstatus):
    # A run that collected nothing must fail loudly, never pass as "no tests".
    if session.testscollected == 0 and exitstatus in (0, 5):
        session.exitstatus = 1
    if session.config.stash.get(_FAST, False):
        loaded = _loaded_frameworks()
        if _ATTEMPTS or loaded:
            _PROBLEMS.append(f"the run without the 'frameworks' tests tried to import {sorted(set(_ATTEMPTS))} "
                             f"and has {loaded} loaded")
            session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    for problem in _PROBLEMS:
        terminalreporter.write_line(f"FAILED (framework imports): {problem}", red=True, bold=True)
