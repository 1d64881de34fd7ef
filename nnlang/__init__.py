"""nnlang: the `.nn` language and its compiler, nnc."""

__version__ = "0.1.0"
