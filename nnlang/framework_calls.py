"""A layer written as a Keras or PyTorch constructor call, `Conv2d(3, 16, 3)`, read as nnc reads it.

nnc writes a layer as a word and its arguments, `conv2d 16 k=3`; a name followed by a
parenthesized list is a block call. A layer kind called that way is how PyTorch and Keras build
layers, and their positional arguments do not mean what nnc's do: PyTorch passes the input size
first (nnc infers it), `MaxPool2d(3, 2)` is a window of 3 with a stride of 2, not a 3x2 window.
The parser reports such a statement (E116) with the nnc spelling of the same layer, and compiles
that spelling, so that the rest of the model is still checked.

What is read from the kinds (nnlang/layers): their positional arguments and options in declared
order (which follow the frameworks' own order: kernel, stride, padding, ...), their aliases
(kernel_size, strides, out_channels, hidden_size, ...), and their Keras and PyTorch class names.
"""

from __future__ import annotations

from typing import Optional

from . import ast, layers
from .source import Span
from .layers.base import ACTIVATIONS

#: Keyword arguments of the frameworks that give the input's size, which nnc infers.
INPUT_SIZES = ("in_channels", "in_features", "input_size", "num_features", "input_shape", "normalized_shape",
               "batch_input_shape")
#: Types of a first positional argument that a tuple may give in nnc: `maxpool2d (3, 2)`.
_SIZES = ("dims", "padding4")
#: Types of arguments with one entry per spatial axis, written once when the axes agree: k=3.
_PER_AXIS = ("dims", "pad")
#: Aliases of a first positional argument that PyTorch passes after the input size
#: (`Conv2d(in_channels, out_channels, ...)`, `Linear(in_features, out_features)`, `LSTM(input_size,
#: hidden_size)`).
_AFTER_INPUT_SIZE = ("out_channels", "out_features", "hidden_size")


def rewrite(stmt: ast.Layer, items: tuple, where: Span) -> Optional[tuple]:
    """(message, notes, the statement as nnc reads it) when `stmt` is a layer kind called with a
    parenthesized list of framework arguments, `items`, written at `where`; None when it is nnc
    (a block call, a shape in parentheses, `dense(10)`).

    `items` are a tuple's items, or the one value of `(x)` written right after the name (which
    nnc reads as x) when the kind takes no positional argument: `BatchNorm2d(64)`."""
    kind = layers.lookup(stmt.kind)
    if kind is None or not kind.statement:
        return None
    keywords = [item for item in items if type(item) is ast.KwArg]
    first = kind.positional[0] if kind.positional else None
    adjacent = stmt.kind_span.end_line == where.line and stmt.kind_span.end_column == where.column
    if type(stmt.args[0]) is not ast.Tuple and first is not None:
        return None  # dense(10) is dense 10
    if items and not keywords and first is not None:
        if first.type == "shape":
            return None  # input (28, 28, 3), reshape (7, 7, 64)
        if first.type in _SIZES and not (adjacent and len(items) > 1):
            return None  # maxpool2d (3, 2): a window of 3x2, written as a tuple
    framework = _framework(stmt.kind, kind)
    positional = [item for item in items if type(item) is not ast.KwArg]
    notes = []
    dropped = None
    if positional and framework != "Keras" and _input_size_first(kind, positional, framework):
        dropped, positional = positional[0], positional[1:]
        framework = "PyTorch"  # LSTM(32, 64): PyTorch's input size and hidden size
    slots = list(kind.all_args())
    given: dict = {}  # argument name -> value node, in the order written
    activation, label, left = None, stmt.label, []
    for item in positional:
        if type(item) is ast.Name and item.name.lower() in ACTIVATIONS and kind.takes_activation:
            activation = item
        elif slots:
            given[slots.pop(0).name] = item
        else:
            left.append(item)
    for item in keywords:
        spec = kind.arg(item.name)
        if item.name == "activation" and kind.takes_activation:
            activation = item.value
        elif spec is not None:
            given.setdefault(spec.name, item.value)
        elif item.name == "name" and type(item.value) is ast.Name and label is None:
            label = item.value.name
        elif item.name in INPUT_SIZES:
            notes.append(f"nnc infers {item.name} from the layer before: leave it out")
        else:
            given.setdefault(item.name, item.value)
    names = {spec.name for spec in kind.positional}
    args = [given.pop(spec.name) for spec in kind.positional if spec.name in given]
    options = [_option(key, value) for key, value in given.items() if key not in names]
    if dropped is not None:
        notes.append(f"nnc infers the input size ({_text(dropped)}) from the layer before: leave it out")
    if left:
        notes.append(f"{', '.join(_text(item) for item in left)}: more positional arguments than nnc knows for "
                     f"{kind.name}; write them as key=value (see `docs/layers.md`)")
    required = [spec for spec in kind.positional if spec.required]
    if items:
        word = kind.name if len(args) >= len(required) else stmt.kind
    else:  # Flatten() is flatten, ReLU() is ReLU (the name says which activation)
        word = kind.name if stmt.kind.lower() == kind.name else stmt.kind
    first_per_axis = bool(kind.positional) and _per_axis(kind.positional[0])
    words = [word, *(_text(a, first_per_axis and i == 0) for i, a in enumerate(args)),
             *(f"{o.key}={_text(o.value, _per_axis(kind.arg(o.key)))}" for o in options)]
    if activation is not None:
        args.append(activation)
        words.append(_text(activation))
    spelled = " ".join(words)
    if label is not None:
        spelled = f"{label}: {spelled}"
    if framework == "framework":
        message = f"{stmt.kind}(...) is the Keras and PyTorch spelling; in nnc write `{spelled}`"
    elif framework:
        message = f"{stmt.kind}(...) is the {framework} spelling; in nnc write `{spelled}`"
    else:
        message = f"a layer is not called with parentheses; in nnc write `{spelled}`"
        notes.insert(0, "a name followed by parentheses calls a block; a layer takes its arguments after its "
                        "name, separated by spaces")
    node = ast.Layer(label, stmt.kind, stmt.kind_span, tuple(args), stmt.options + tuple(options), stmt.expect,
                     stmt.span)
    return message, tuple(notes), node


def _framework(written: str, kind) -> str:
    """'PyTorch', 'Keras', 'framework' (a class name both use) or '' (nnc's own spelling)."""
    torch = written == kind.torch_class or bool(kind.torch_class) and written in (
        kind.torch_class + "1d", kind.torch_class + "2d", kind.torch_class + "3d")  # BatchNorm2d
    keras = written == kind.keras_class
    if torch and keras:
        return "framework"
    return "PyTorch" if torch else "Keras" if keras else ""


def _input_size_first(kind, positional: list, framework: str) -> bool:
    """Whether the first positional argument is PyTorch's input size (in_channels, in_features,
    input_size, num_features)."""
    if not kind.positional:  # BatchNorm2d(num_features), LayerNorm(normalized_shape)
        return framework == "PyTorch"
    if not any(alias in _AFTER_INPUT_SIZE for alias in kind.positional[0].aliases):
        return False
    # Conv2d(3, 16, 3) and Linear(784, 10) always; LSTM(64) is Keras' (units), LSTM(32, 64) PyTorch's
    return framework == "PyTorch" or len(positional) > 1 and all(
        type(item) is ast.Int for item in positional[:2])


def _per_axis(spec) -> bool:
    return spec is not None and spec.type in _PER_AXIS


def _option(key: str, value) -> ast.Option:
    return ast.Option(key, value, value.span, value.span)


def _text(node, per_axis: bool = False) -> str:
    """A value as nnc writes it: 3, 3x5, 28x28x3, same, true, (a + 1); `per_axis`: one entry per
    spatial axis, written once when they agree ((3, 3) is k=3)."""
    kind = type(node)
    if kind is ast.Int:
        return str(node.value)
    if kind is ast.Float or kind is ast.ShapeLit:
        return node.text
    if kind is ast.Name:
        return node.name.lower() if node.name in ("True", "False") else node.name
    if kind is ast.Unknown:
        return "?"
    if kind is ast.Tuple:
        items = node.items
        if items and all(type(i) in (ast.Int, ast.Unknown) for i in items):
            texts = [_text(i) for i in items]
            return texts[0] if per_axis and len(set(texts)) == 1 else "x".join(texts)
        return "(" + ", ".join(_text(i) for i in items) + ")"
    if kind is ast.BinOp:
        return f"{_text(node.left)}{node.op}{_text(node.right)}"
    if kind is ast.Neg:
        return f"(-{_text(node.operand)})"
    if kind is ast.KwArg:
        return f"{node.name}={_text(node.value)}"
    return "?"
