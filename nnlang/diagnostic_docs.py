"""What every diagnostic code means, why it matters and how to fix it, with a
minimal failing `.nn` file for each: the one source of `nnc explain CODE` and
of docs/diagnostics.md.

    python -m nnlang.diagnostic_docs > docs/diagnostics.md

Every example is compiled when the text is produced, so the diagnostic shown
under it is the one nnc really reports; tests/test_diagnostic_docs.py checks
that each example yields exactly its own code.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Optional

import attrs

from .diagnostics import CODES, ERROR, render
from .limits import (MAX_CALL_DEPTH, MAX_DEPTH, MAX_DIAGNOSTICS, MAX_LAYERS, MAX_LITERAL, MAX_NAME, MAX_NESTING,
                     MAX_NODES, MAX_SOURCE_BYTES, MAX_STATEMENT_TOKENS, MAX_STEPS, MAX_TOKENS, MAX_VALUES,
                     RECURSION_LIMIT)

#: The file name examples are compiled and reported under.
EXAMPLE_NAME = "example.nn"


@attrs.frozen
class Doc:
    #: What the diagnostic means, why it matters, how to fix it; paragraphs separated by blank lines.
    explanation: str
    #: A minimal `.nn` file that yields this code and no other; None when no file can (E900).
    example: Optional[str]
    #: How the example is saved: E004's example is Latin-1 on purpose.
    encoding: str = "utf-8"
    #: Fence tag of the example in Markdown: "nn", or "text" for one that is not valid .nn
    #: even to a highlighter (an unexpected character).
    fence: str = "nn"
    #: The command that reports it, when not `nnc FILE`: ("export", "--to", "keras").
    command: tuple = ()

    def argv(self, path) -> list:
        """nnc's arguments for the example saved at `path`."""
        return [self.command[0], str(path), *self.command[1:]] if self.command else [str(path)]


DOCS: dict[str, Doc] = {
    # -- reading and parsing ---------------------------------------------------------------
    "W001": Doc(
        "The file was read without errors but defines no `model`, so there is nothing to report. "
        "This is usually an empty file, a file holding only blocks meant to be used elsewhere, or a "
        "model whose opening line was commented out. Add a model that starts with an input statement, "
        "e.g. `model net { input 28x28x1 ... }`.",
        "# exercise 3: fill in the model\nblock stem(c) {\n    conv2d c k=3 relu\n}\n",
    ),
    "W002": Doc(
        "An `allow` names a warning that nothing it covers reports, so it silences nothing: the "
        "layer it was written for changed, the code is not the one meant, or a marker at the end of a "
        "block call was meant for the block's layers (a marker covers its own statement: write the "
        "`allow` in the block, or as a statement of the model). Remove it, or check the code with "
        "`nnc explain CODE`. Not reported for a file with errors, nor for an `allow` inside a block, "
        "whose layers may warn for some arguments and not others.",
        "model m {\n    input 28x28x3\n    conv2d 8 k=3 pad=same allow W202\n}\n",
    ),
    "E001": Doc(
        "The text does not follow the grammar of `.nn` at this token: a word, number or symbol "
        "appears where the language does not allow it. The message says which token was found and "
        "what could come there instead. Common causes: a missing model or block name, an expectation `->` that does "
        "not follow a layer, a `)` or `}` too many, or a keyword (`model`, `block`, `repeat`, "
        "`concat`, `add`, `branch`, `compare`) used as a name.",
        "model {\n    input 28x28x1\n    dense 10 softmax\n}\n",
    ),
    "E002": Doc(
        "A character that no `.nn` token contains, such as `@`, `!`, `$` or a typographic quote, often "
        "pasted from a document or a slide. nnc stops at the first one. Delete it, or write a comment "
        "with `#` if it was meant as text.",
        "model m {\n    input 784\n    dense 128 relu!\n}\n",
        fence="text",
    ),
    "E003": Doc(
        "The file ends in the middle of a statement, most often because a `{` is never closed by its "
        "`}`. The diagnostic points at the end of the file and a note names the line of the `{` still "
        "open. Close the model, block or branch there.",
        "model m {\n    input 28x28x1\n    conv2d 32 k=3 relu\n",
    ),
    "E004": Doc(
        "nnc reads `.nn` files as UTF-8 text. This file holds a byte that is not valid UTF-8, usually "
        "because it was saved in a legacy encoding (Latin-1, Windows-1252) with an accented letter in a "
        "comment, or because it is not a text file at all. The diagnostic gives the line, column and "
        "byte offset. Save the file as UTF-8 (every modern editor can) or remove the character.",
        "# Übung 1: ein kleines Netz\nmodel m {\n    input 784\n    dense 10\n}\n",
        encoding="latin-1",
    ),
    "E005": Doc(
        f"An integer literal, or the value of an expression inside a block, is larger than nnc accepts "
        f"({MAX_LITERAL:,}). No real network has a dimension anywhere near this, so the number is "
        f"almost certainly a typo: count the digits, or check a block expression that multiplies "
        f"parameters.",
        "model m {\n    input 784\n    dense 10000000000000000\n}\n",
    ),
    "E006": Doc(
        "A number is written with ',' between groups of digits where a ',' cannot group them. The "
        "counts of an expectation accept digits grouped as nnc prints them, by three from the right "
        "with no blank (`params=9,248`, as well as `9_248`); everywhere else a ',' separates the items "
        "in parentheses, so `dense 1,000` is not a number. Write `1000` or `1_000`.",
        "model m {\n    input 784\n    dense 1,000\n}\n",
    ),
    "E007": Doc(
        "A quoted value, as Keras writes its arguments (`padding=\"same\"`, `activation='relu'`), is "
        "read as the word inside the quotes; this one holds more than one word, or something that "
        "is not a word (punctuation, nothing). nnc reads it as the first word (or number) in it, so "
        "that the rest of the model is still checked; write that word without quotes: `pad=same`. "
        "Numbers and shapes are written without quotes too.",
        "model m {\n    input 28x28x3\n    conv2d 8 k=3 pad=\"same padding\"\n}\n",
    ),
    # -- names, arguments and options -------------------------------------------------------
    "E101": Doc(
        "The first word of a statement must be a layer kind (`conv2d`, `Dense`, `MaxPooling2D`, ...) or "
        "the name of a block defined in the file. This one is neither; the note suggests the closest "
        "spelling. docs/layers.md lists every layer kind with its Keras and PyTorch names; `concat` and "
        "`add` join branches and are written `concat { branch ... }`.",
        "model m {\n    input 28x28x1\n    conv2 32 k=3\n}\n",
    ),
    "E102": Doc(
        "The layer kind has no option with this name. Options are written `key=value` and also answer "
        "to their Keras and PyTorch spellings (`kernel_size=`, `strides=`, `padding=`); the note suggests "
        "the closest one or lists the options the kind takes. The layer is not computed, since a "
        "misspelt option would otherwise be silently ignored.",
        "model m {\n    input 28x28x1\n    conv2d 32 kernl=3\n}\n",
    ),
    "E103": Doc(
        "A layer is given more positional arguments than it takes, or misses a required one (a "
        "convolution needs its number of filters and its kernel size, `conv2d 32 k=3`). The message "
        "names what the kind expects. Arguments other than the first ones are written as options, "
        "`key=value`.",
        "model m {\n    input 28x28x1\n    conv2d 32\n}\n",
    ),
    "E104": Doc(
        "An argument or option has a value of the wrong kind or out of range: a count that is zero or "
        "negative, a dropout rate outside [0, 1), an unknown activation word, a word where a number is "
        "expected, a `repeat` count that is not a non-negative integer, a `/` that does not divide "
        "exactly. The message says what was expected; for activations the note suggests the closest "
        "known one.",
        "model m {\n    input 784\n    dense 128 relux\n}\n",
    ),
    "E105": Doc(
        "The same option is given twice on one layer, possibly under two of its names (`k=3 "
        "kernel_size=5`). nnc does not guess which one you meant: keep one.",
        "model m {\n    input 28x28x1\n    conv2d 32 k=3 k=5\n}\n",
    ),
    "E106": Doc(
        "Two models or blocks of a file have the same name, or two layers of the same model, block or "
        "branch carry the same label. Reports, comparisons and exports refer to things by name, so "
        "names must be unique where they are defined. Rename one; the note says where the first one "
        "is.",
        "model net {\n    input 784\n    dense 10\n}\n\nmodel net {\n    input 784\n    dense 20\n}\n",
    ),
    "E107": Doc(
        "A `compare A, B` statement names a model that the file does not define. The note suggests the "
        "closest model name. Define the model, or fix the spelling.",
        "model small {\n    input 784\n    dense 10\n}\n\ncompare small, large\n",
    ),
    "E108": Doc(
        "A block call does not match the block's parameters: too many positional arguments, a named "
        "argument the block does not have, one given twice, a positional argument after a named one, or "
        "a parameter without a default left out. The note shows the block's signature.",
        "block stage(c, s=1) {\n    conv2d c k=3 s=s pad=same\n}\n\nmodel m {\n    input 32x32x3\n"
        "    stage(64, 2, 3)\n}\n",
    ),
    "E109": Doc(
        "A block calls itself, directly or through other blocks: expanding it would never end. The "
        "message shows the cycle of calls. To repeat a piece of network use `repeat N { ... }`, or "
        "call the block several times from the model.",
        "block a(c) {\n    b(c)\n}\n\nblock b(c) {\n    a(c)\n}\n\nmodel m {\n    input 32x32x3\n    a(16)\n}\n",
    ),
    "E110": Doc(
        "An expression uses a name that is not a parameter of the block it is in. Inside a block, the "
        "names usable in numbers are its parameters (and, in a default value, the parameters before "
        "it); outside blocks, expressions only combine numbers. The note suggests the closest "
        "parameter.",
        "block stage(c) {\n    conv2d channels k=3\n}\n\nmodel m {\n    input 32x32x3\n    stage(16)\n}\n",
    ),
    "E111": Doc(
        "A `//`, `/` or `%` in an expression divides by zero, usually because a block was called with a "
        "parameter of 0 (a reduction ratio, a group count). Check the arguments of the call.",
        "block bottleneck(c, r) {\n    conv2d c // r k=1\n}\n\nmodel m {\n    input 32x32x64\n"
        "    bottleneck(64, 0)\n}\n",
    ),
    "E112": Doc(
        f"The input is beyond what nnc computes: a model that expands to more than {MAX_LAYERS:,} layers, "
        f"{MAX_NODES:,} layers and groups (block calls, branches, joins, labelled repeats) or "
        f"{MAX_STEPS:,} steps (statements executed, repeat iterations, block parameters bound, operators "
        f"evaluated), block calls nested more than {MAX_CALL_DEPTH} deep, groups nested more than "
        f"{MAX_DEPTH} deep, a label or a model, block or branch name longer than {MAX_NAME} characters, a "
        f"tensor of more than {MAX_VALUES:,} values, more than {MAX_NESTING} braces and parentheses open "
        f"at once, a statement of more than {MAX_STATEMENT_TOKENS:,} tokens, a file of more than "
        f"{MAX_TOKENS:,} tokens; it also says when more than {MAX_DIAGNOSTICS} diagnostics were found and "
        f"the rest are not shown (see Limits below). A `repeat` or a block call that would take the model "
        f"past a limit is refused before it is expanded: what it expands to is read from the program "
        f"text, so a small file that would make millions of layers fails at once, at the statement "
        f"responsible. The limits keep a mistaken or hostile file from exhausting the machine and are "
        f"far beyond real networks. Lower the `repeat` count, check nested repeats and block calls "
        f"whose counts multiply, or split a huge expression.",
        "model m {\n    input 784\n    repeat 5000000 {\n        dense 10\n    }\n}\n",
    ),
    "E113": Doc(
        "Every model starts with an input statement giving the shape of one sample without the batch "
        "dimension (`input 28x28x1`, `input 784`, `input ?x64` for a sequence of unknown length): every "
        "other shape is inferred from it. Add it as the first statement of the model.",
        "model m {\n    conv2d 32 k=3\n    dense 10\n}\n",
    ),
    "E114": Doc(
        "`input` may only appear once, as the first statement of a model; it cannot appear later in a "
        "model, in a block or in a branch. A network with several inputs is not expressible yet: "
        "describe each input path as its own model.",
        "model m {\n    input 784\n    dense 128 relu\n    input 10\n}\n",
    ),
    "E115": Doc(
        "A block has the name of a layer kind (or of one of its Keras/PyTorch aliases), so a statement "
        "using that name would be ambiguous. Rename the block, e.g. `my_dense` or a name that says "
        "what the block is (`stem`, `residual`).",
        "block dense(c) {\n    conv2d c k=1\n}\n\nmodel m {\n    input 784\n}\n",
    ),
    "E116": Doc(
        "A layer kind is written as a Keras or PyTorch constructor call, `Conv2d(3, 16, 3)`. In nnc a "
        "layer is a word and its arguments separated by spaces, and the frameworks' positional "
        "arguments do not mean nnc's: PyTorch passes the input size first (nnc infers it from the "
        "layer before), and `MaxPool2d(3, 2)` is a window of 3 with a stride of 2. The message gives "
        "the nnc spelling of the same layer (`conv2d 16 k=3`), which is what nnc compiles to check "
        "the rest of the model; write it so. Parentheses after a name call a block.",
        "model m {\n    input 28x28x3\n    Conv2d(3, 16, 3)\n}\n",
    ),
    "E117": Doc(
        "`allow` takes the codes of warnings and notes (`allow W202`), which it keeps from being "
        "reported. This code is not a diagnostic code (the note suggests the closest one), or is an "
        "error's: an error means the file does not say what nnc can compute, and cannot be allowed. "
        "`nnc explain CODE` describes a code; docs/diagnostics.md lists them all.",
        "allow w202\n\nmodel m {\n    input 784\n    dense 10\n}\n",
    ),
    # -- shapes -------------------------------------------------------------------------------
    "E201": Doc(
        "The layer needs an input of a different rank (number of axes, batch left out): a 2-D "
        "convolution takes height x width x channels, a recurrent layer time steps x features, a dense "
        "layer at least one axis. The note suggests the usual fix: a `reshape` before the layer, "
        "`conv1d` for a sequence, or `return_sequences=true` on the recurrent layer below when stacking "
        "them.",
        "model m {\n    input 784\n    conv2d 32 k=3\n}\n",
    ),
    "E202": Doc(
        "The layer's output would have a size of zero or less along some axis: the window (kernel or "
        "pool size, dilation included) is larger than the padded input. The message shows the output "
        "size formula with the numbers filled in. Use a smaller kernel, add padding (`pad=same`), or "
        "remove a downsampling layer earlier in the network.",
        "model m {\n    input 4x4x1\n    conv2d 8 k=5\n}\n",
    ),
    "E203": Doc(
        "A size that no framework accepts, so the layer cannot be computed: for instance pooling with "
        "padding larger than half its window (PyTorch refuses it), or a layer whose output cannot be "
        "derived from its input. The message names the offending value.",
        "model m {\n    input 28x28x8\n    maxpool2d 2 pad=2\n}\n",
    ),
    "E204": Doc(
        "The branches of a `concat` must agree on every axis but the channels (the last), and the "
        "branches of an `add` on every axis; a `concat`/`add` also needs at least one branch. The "
        "notes list each branch's shape and the layer that changed the size, typically a missing "
        "`pad=same` or a stride on one branch only; for `add`, a 1x1 convolution on the shortcut can "
        "match the channel counts.",
        "model m {\n    input 28x28x3\n    concat {\n        branch a { conv2d 16 k=3 pad=same }\n"
        "        branch b { conv2d 16 k=3 }\n    }\n}\n",
    ),
    "E205": Doc(
        "The layer needs a size that is unknown: a `reshape` whose target has a `?` leaves that "
        "size unknown (nnc cannot tell what it is), and `flatten`, a dense layer or a convolution "
        "after it need it. Write the size in the reshape (or `-1`, which nnc works out). A size the "
        "input leaves open is not unknown: `input HxWx3` or `input ?x?x3` name it, and shapes and "
        "costs are exact expressions of it. Also reported where a layer's output depends on a "
        "named size in a way no single expression gives (give the size a value with "
        "`--set NAME=VALUE`).",
        "model m {\n    input 64\n    reshape ?x8\n    flatten\n}\n",
    ),
    "E206": Doc(
        "A `reshape` must keep the number of values: the product of the target shape equals the "
        "product of the input shape, and a `-1` entry must divide it exactly. The message gives both "
        "counts.",
        "model m {\n    input 28x28\n    reshape 28x27\n}\n",
    ),
    # -- expectations (answer keys) ---------------------------------------------------------
    "E301": Doc(
        "An expectation `-> SHAPE` states the output shape the layer (or block call, or "
        "`concat`/`add`) must produce, and nnc computed another one. In an exercise or answer key this "
        "is the point of the check: the note shows how each size was computed "
        "(`(28 + 2*0 - 5)/1 + 1 = 24`), so either the layer (padding, stride, kernel) or the expected "
        "value is wrong.",
        "model m {\n    input 28x28x3\n    conv2d 32 k=5 -> 28x28x32\n}\n",
    ),
    "E302": Doc(
        "An expectation `params=N` states how many parameters the layer (or the layers inside a block "
        "call or a `concat`/`add`) must have, and nnc computed another number. The message shows the "
        "computed count with its formula, e.g. `3*3*32*32 + 32`: kernel height x width x input channels "
        "x filters, plus one bias per filter. Counts follow Keras by default; `--convention pytorch` "
        "or `textbook` change the rules where frameworks differ (recurrent biases, batch-norm "
        "statistics).",
        "model m {\n    input 32x32x32\n    conv2d 32 k=3 pad=same -> params=9284\n}\n",
    ),
    "E303": Doc(
        "An expectation `macs=N` states how many multiply-accumulates the layer must cost, and nnc "
        "computed another number, shown with its formula. MACs count only the multiplications by "
        "weights: for a dense layer inputs x units, for a convolution output positions x filters x "
        "(kernel area x input channels / groups). Biases, activations and pooling are not counted.",
        "model m {\n    input 784\n    dense 10 -> macs=7850\n}\n",
    ),
    "E304": Doc(
        "An expectation may check the output shape and the counts `params=`, `trainable=`, "
        "`non_trainable=` and `macs=`; this key is none of them. The note suggests the closest key.",
        "model m {\n    input 784\n    dense 10 -> parms=7850\n}\n",
    ),
    # -- warnings: padding, stride and structure ------------------------------------------------
    "W201": Doc(
        "The stride does not divide the padded input minus the window, so the frameworks round the "
        "output size down and the last rows or columns of the input are never read by any window. The "
        "network still works, but the information is lost, and the computed size is often not the one "
        "intended. The note gives the input size or the padding that would make it exact; `ceil=true` "
        "on pooling rounds up instead.",
        "model m {\n    input 28x28x1\n    conv2d 8 k=3 s=2\n}\n",
    ),
    "W202": Doc(
        "With `pad=same` and a stride or an even kernel, the padding needed is odd and TensorFlow/Keras "
        "put the extra row and column after the input (the smaller half before). PyTorch's `padding=N` "
        "is always symmetric, so a model ported between frameworks with this layer either changes size "
        "or shifts its windows by one. The note says what PyTorch's symmetric padding gives instead.",
        "model m {\n    input 28x28x3\n    conv2d 8 k=3 s=2 pad=same\n}\n",
    ),
    "W203": Doc(
        "A pooling layer whose stride is larger than its window skips inputs between windows: those "
        "values never reach the output. This is rarely intended; usually the stride equals the window "
        "(the default when `s=` is not given).",
        "model m {\n    input 28x28x8\n    maxpool2d 2 s=4\n}\n",
    ),
    "W204": Doc(
        "Explicit padding of half the window or more makes the border outputs see mostly the zeros "
        "added around the input, and grows the output beyond the input size. To keep the size, pad "
        "(k - 1)/2 for an odd kernel, or write `pad=same`.",
        "model m {\n    input 28x28x1\n    conv2d 8 k=3 pad=2\n}\n",
    ),
    "W205": Doc(
        "The layer reduces a spatial input larger than 1x1 to a single position. This is legitimate at "
        "the end of a network (a convolution covering the whole input acts as a dense layer), but often "
        "a sign that the input is smaller than intended or that an earlier layer downsamples too much. "
        "For pooling, the note suggests global pooling, which says the same more clearly.",
        "model m {\n    input 7x7x64\n    conv2d 10 k=7\n}\n",
    ),
    "W301": Doc(
        "A recurrent layer (`rnn`, `lstm`, `gru`) runs over the time axis of its input; given a "
        "sequence of a single time step its recurrence never carries anything from one step to the "
        "next, and it computes what a dense layer would at several times the parameters. Check the "
        "reshape or the input before it: the time steps are the first axis, the features the last.",
        "model m {\n    input 64\n    reshape 1x64\n    lstm 32\n}\n",
    ),
    "W302": Doc(
        "A dense layer acts on the last axis only: on an input of several axes (e.g. time steps x "
        "features) it applies the same weights at every position, as Keras' `Dense` and PyTorch's "
        "`Linear` do, and keeps the other axes. This note says so because many expect a dense layer to "
        "see the whole input: add `flatten` (or global pooling) before it if that is what you meant.",
        "model m {\n    input 10x64\n    dense 32\n}\n",
    ),
    "W303": Doc(
        "A softmax turns a layer's outputs into probabilities and usually ends a classifier; used "
        "before the last layer it squashes the features the next layer receives. This note points it "
        "out because it is often a copy-and-paste slip: use `relu` (or no activation) on hidden "
        "layers.",
        "model m {\n    input 784\n    dense 128 softmax\n    dense 10\n}\n",
    ),
    # -- exporting --------------------------------------------------------------------------------
    "E401": Doc(
        "`nnc export` writes code that builds exactly the network nnc counted, or nothing: when the "
        "target framework has no layer with the same shape rule or the same parameters (Keras' max "
        "pooling pads 'valid' or 'same' only, not a given number of rows; PyTorch's batch norm "
        "learns its scale and offset both or neither, ...), the message names the layer and what "
        "the framework lacks, and the notes give the nearest "
        "alternative. The file itself is valid: `nnc FILE` still reports it. Export to the other "
        "framework, or change the layer as the note suggests.",
        "model m {\n    input 32x32x3\n    maxpool2d 3 s=2 pad=1\n}\n",
        command=("export", "--to", "keras"),
    ),
    # -- internal ---------------------------------------------------------------------------------
    "E900": Doc(
        "nnc itself failed: an exception escaped the compiler. This is a bug in nnc, not in your file. "
        "nnc prints `nnc: internal error [E900] (...)` on standard error and exits with status 3, "
        "without a traceback. Please report it with the input file that caused it; meanwhile, a "
        "change to the file near the construct being compiled may avoid it.",
        None,
    ),
}


def compile_example(code: str):
    """The :class:`~nnlang.driver.Compilation` of CODE's example, read from a file as nnc reads one
    and reported under the name example.nn."""
    import tempfile
    from pathlib import Path

    from .driver import compile_path
    from .source import Source

    doc = DOCS[code]
    if doc.example is None:
        raise ValueError(f"{code} has no example")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / EXAMPLE_NAME
        path.write_bytes(doc.example.encode(doc.encoding))
        compilation = compile_path(path)
    compilation.source = Source(compilation.source.text, EXAMPLE_NAME)
    if doc.command[:1] == ("export",) and compilation.ok:
        from .emit.codegen import ExportError, exporter

        try:
            exporter(doc.command[doc.command.index("--to") + 1]).export(
                compilation.program, None, source_lines=compilation.source.lines, file_name=EXAMPLE_NAME)
        except ExportError as error:
            compilation.diagnostics.extend([error.diagnostic()])
    return compilation


def rendered_example(code: str) -> str:
    """Every diagnostic of CODE's example, rendered as nnc prints them."""
    compilation = compile_example(code)
    return "\n".join(render(d, compilation.source) for d in compilation.diagnostics) or "(no diagnostic)"


def _paragraphs(text: str, width: int) -> str:
    """Paragraphs filled to WIDTH, never breaking inside a `code span`."""
    def fill(paragraph: str) -> str:
        parts = paragraph.split("`")
        kept = "`".join(p.replace(" ", "\0") if i % 2 else p for i, p in enumerate(parts))
        return textwrap.fill(kept, width, break_on_hyphens=False, break_long_words=False).replace("\0", " ")

    return "\n\n".join(fill(p) for p in text.split("\n\n"))


def explain(code: str) -> Optional[str]:
    """The text of `nnc explain CODE`, or None for an unknown code."""
    entry = CODES.get(code)
    if entry is None:
        return None
    header = f"{entry.code} ({entry.severity}): {entry.title}"
    doc = DOCS.get(code)
    if doc is None:
        return header + "\n"
    lines = [header, ""]
    lines += [_paragraphs(doc.explanation, 78), ""]
    if doc.example is None:
        lines.append("There is no example: no .nn file should cause it.")
        return "\n".join(lines)
    saved = "" if doc.encoding == "utf-8" else f", saved as {doc.encoding}"
    lines += [f"Example ({EXAMPLE_NAME}{saved}):", ""]
    lines += ["    " + line for line in doc.example.rstrip("\n").split("\n")]
    lines += ["", "nnc reports:", ""]
    lines += ["    " + line for line in rendered_example(code).split("\n")]
    if entry.severity != ERROR:
        lines += ["", f"A file that means it writes `allow {entry.code}` (see docs/language.md)."]
    return "\n".join(lines)


# -- docs/diagnostics.md ----------------------------------------------------------------------


def _limits() -> list[str]:
    return [
        "## Limits",
        "",
        "nnc ends every input with a report or diagnostics. These limits keep a mistaken or hostile",
        "file from exhausting the machine; all are far beyond real networks (`nnlang/limits.py`).",
        "",
        "| what | limit | beyond it |",
        "|---|---|---|",
        f"| bytes in one file | {MAX_SOURCE_BYTES:,} (`MAX_SOURCE_BYTES`, 16 MiB) | exit status 2, nothing "
        f"read; a device, FIFO or folder is refused too |",
        f"| layers in one expanded model | {MAX_LAYERS:,} (`MAX_LAYERS`) | E112 |",
        f"| layers and groups (block calls, branches, joins, labelled repeats) in one expanded model "
        f"| {MAX_NODES:,} (`MAX_NODES`) | E112 |",
        f"| steps while expanding one model: statements executed, repeat iterations, block parameters "
        f"bound, operators evaluated | {MAX_STEPS:,} (`MAX_STEPS`) | E112; a `repeat` or block call that "
        f"would pass this limit or one of the two above is refused before it is expanded |",
        f"| block calls nested in one another | {MAX_CALL_DEPTH} (`MAX_CALL_DEPTH`) | E112 |",
        f"| blocks, branches, joins and repeats nested in one another | {MAX_DEPTH} (`MAX_DEPTH`) | E112 |",
        f"| characters in a label, or in a model, block or branch name | {MAX_NAME} (`MAX_NAME`) | E112 |",
        f"| values in one tensor (the product of its known dimensions, batch left out) "
        f"| {MAX_VALUES:,} (`MAX_VALUES`) | E112 |",
        f"| braces and parentheses open at once | {MAX_NESTING} (`MAX_NESTING`) | E112 |",
        f"| tokens in one statement | {MAX_STATEMENT_TOKENS:,} (`MAX_STATEMENT_TOKENS`) | E112 |",
        f"| tokens in one file | {MAX_TOKENS:,} (`MAX_TOKENS`) | E112 |",
        f"| an integer literal, or the value of an expression | {MAX_LITERAL:,} (`MAX_LITERAL`) "
        f"| E005; a literal of any length is refused without being converted |",
        f"| diagnostics kept for one file | {MAX_DIAGNOSTICS} (`MAX_DIAGNOSTICS`) "
        f"| one E112 says the rest are not shown |",
        f"| Python frames while parsing and compiling | {RECURSION_LIMIT:,} (`RECURSION_LIMIT`), "
        f"enough for the nesting the limits above allow | E112 |",
        "",
        "Within the limits, time and memory grow with the input: a model of the largest size takes",
        "seconds to compile, a file of the largest number of tokens a few tens of seconds.",
        "",
        "How nnc reads a file:",
        "",
        "- a regular file only, at most 16 MiB, read at most once up to that size;",
        "- as UTF-8 (E004 otherwise); a byte-order mark at the start is skipped;",
        "- a line may end with `\\n`, `\\r\\n` or a lone `\\r`; tabs and form feeds are spaces;",
        "- outside comments, a NUL byte or any other character that no token contains is E002;",
        "- an empty file, or one of comments only, is warning W001;",
        "- a source line longer than 200 characters is shown as 160 characters around the",
        "  column of the diagnostic.",
        "",
    ]


def markdown() -> str:
    """docs/diagnostics.md: every code, its explanation, a failing example and what nnc reports."""
    lines = [
        "# Diagnostics",
        "",
        "<!-- Generated by `python -m nnlang.diagnostic_docs > docs/diagnostics.md` from",
        "     nnlang/diagnostic_docs.py and the registry in nnlang/diagnostics.py: do not edit. -->",
        "",
        "Every problem nnc reports has a stable code, printed as",
        "`FILE:LINE:COL: severity[CODE]: message`, then the source line with a caret under the exact",
        "token, then notes. Errors (E...) make `nnc` exit with status 1; warnings and notes (W...) do",
        "not, unless `--werror` is given. `nnc explain CODE` prints the entry of a code below. A file",
        "acknowledges a warning or a note it means with `allow CODE` (see [language.md](language.md)).",
        "",
        "| code | severity | title |",
        "|---|---|---|",
    ]
    for entry in CODES.values():
        lines.append(f"| [{entry.code}](#{entry.code.lower()}) | {entry.severity} | {entry.title} |")
    lines.append("")
    for entry in CODES.values():
        doc = DOCS.get(entry.code)
        lines += [f"## {entry.code}", "", f"**{entry.title}** ({entry.severity})", ""]
        if doc is None:
            lines += ["Not documented yet.", ""]
            continue
        lines += [_paragraphs(doc.explanation, 96), ""]
        if doc.example is None:
            lines += ["There is no example: no `.nn` file should cause it. nnc reports it as:", "",
                      "```text",
                      "nnc: internal error [E900] (ExceptionName: what went wrong); please report this bug "
                      "with the input file",
                      "```", ""]
            continue
        saved = "" if doc.encoding == "utf-8" else f", saved as {doc.encoding}"
        lines += [f"Example (`{EXAMPLE_NAME}`{saved}):", "", f"```{doc.fence}", doc.example.rstrip("\n"), "```", "",
                  f"`nnc {' '.join(doc.argv(EXAMPLE_NAME))}` reports:", "", "```text", rendered_example(entry.code),
                  "```", ""]
    lines += _limits()
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown())
