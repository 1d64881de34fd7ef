"""Back ends: one module per output format, all reading :mod:`nnlang.report`."""
