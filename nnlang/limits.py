"""Every limit that keeps a hostile or mistaken file from exhausting the machine, in one place.

Each is far above any real network and low enough that the work and memory it allows stay
small; passing one is a located E112 (or, for the file itself, exit status 2). The docs
(docs/language.md, docs/diagnostics.md) are generated from or checked against these names.
"""

# -- the file ------------------------------------------------------------------------------------
MAX_SOURCE_BYTES = 16 * 2**20  # bytes read from one file (about 3x a written-out 250,000-layer model)

# -- syntax (lexer.separate, parser) --------------------------------------------------------------
MAX_LITERAL = 10**15  # largest integer literal: far beyond any real network, small enough to stay exact
MAX_NESTING = 100  # braces and parentheses open at once
MAX_STATEMENT_TOKENS = 2_000  # tokens in one statement (between separators and braces)
MAX_TOKENS = 10_000_000  # tokens in a file: a written-out network of about a million layers
RECURSION_LIMIT = 20_000  # Python frames while parsing and compiling bounded nesting

# -- expansion (compiler): a repeat or block call that would pass one is refused before it runs -----
MAX_LAYERS = 250_000  # layers in one expanded model
MAX_NODES = 500_000  # layers and groups (block calls, branches, joins, labelled repeats) in one model
MAX_STEPS = 1_000_000  # statements executed, repeat iterations, block parameters bound, operators evaluated
MAX_CALL_DEPTH = 100  # nested block calls
MAX_DEPTH = 100  # groups nested in one another: the length of a group's path
MAX_NAME = 100  # characters in a label or in a model, block or branch name
MAX_VALUES = 10**15  # values in one tensor, batch left out: a known shape's product

# -- reporting ------------------------------------------------------------------------------------
MAX_DIAGNOSTICS = 500  # diagnostics kept for one file; past this, one E112 says the rest were dropped

# -- the language server --------------------------------------------------------------------------
MAX_DOCUMENT_CHARS = MAX_SOURCE_BYTES  # characters of an open document compiled
MAX_CONTENT_LENGTH = 64 * 2**20  # bytes of one JSON-RPC message
MAX_HEADER_BYTES = 8 * 1024  # bytes of one message's headers
