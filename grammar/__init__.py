"""The .nn grammar (nn.lark), installed as the package data of ``nnlang.grammar``."""
