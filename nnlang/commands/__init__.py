"""Sub-commands of nnc that are imported only when they run (see nnlang.cli.LAZY_COMMANDS)."""
