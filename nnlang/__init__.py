"""nnlang: the `.nn` language and its compiler, nnc.

    import nnlang
    program = nnlang.load("examples/lenet5.nn")     # or nnlang.loads(text)
    program.models["lenet5"].totals.params

The Python API lives in :mod:`nnlang.api` (docs/api.md); it is imported when first used, so
that `import nnlang` (and nnc's start-up) stays cheap. `%load_ext nnlang` in IPython adds the
`%%nn` cell magic (:mod:`nnlang.notebook`).
"""

__version__ = "0.1.0"

__all__ = ["Block", "Comparison", "Diagnostic", "Layer", "Memory", "MemoryLine", "Model", "NnError", "Program",
           "Totals", "load", "loads", "__version__"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:  # pragma: no cover
    from .api import (Block, Comparison, Diagnostic, Layer, Memory, MemoryLine, Model, NnError, Program, Totals,
                      load, loads)


def __getattr__(name: str):
    if name in __all__ and name != "__version__":
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'nnlang' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython) -> None:
    """`%load_ext nnlang`: adds the `%%nn` cell magic."""
    from .notebook import load_ipython_extension as load

    load(ipython)
