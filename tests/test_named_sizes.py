"""Named sizes as a user meets them: the spellings of an open size, the closed forms of known
networks, the JSON expression objects, `--set`, `--sweep`, `--batch NAME`, symbolic
expectations, sizes in block arguments and expressions.

Every expected number is arithmetic written out here (a GRU's `3*(u*(f+u) + 2*u)` parameters,
a convolution's `H_out*W_out*filters*(k*k*c)` MACs, floor and ceiling divisions for strides and
pooling) or the report of the same network compiled with the sizes written into its input: the
property that defines a symbolic report is that evaluating it at some values gives what
compiling with those values gives. A JSON `expr` is evaluated with Python's `eval` and no
builtins after checking its grammar with `ast`; a `text` form (JSON or a table cell) is
evaluated by the small exact evaluator below (`floor`, `ceil`, `/` on fractions), which shares
nothing with nnc.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import re
import time
from fractions import Fraction
from pathlib import Path

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, nnc_in_process

from nnlang.driver import compile_text
from nnlang.emit import json as emit_json
from nnlang.report import Options

NO_BUILTINS = {"__builtins__": {}}


# --- running nnc -------------------------------------------------------------------------------

def nnc(*args):
    """`nnc ARGS` in this process; never a traceback."""
    proc = nnc_in_process(*args)
    assert_no_traceback(proc)
    return proc


def write(tmp_path: Path, text: str, name: str = "net.nn") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def json_of(path: Path, *args, status: int = 0) -> dict:
    proc = nnc(path, *args, "--format", "json")
    assert proc.returncode == status, proc.stderr
    return json.loads(proc.stdout)


def report_of(text: str, name: str = "net.nn", **options) -> dict:
    """The JSON report of `text`, compiled in this process (the library path the CLI uses)."""
    compilation = compile_text(text, name)
    return json.loads(emit_json.render(compilation.program, compilation.diagnostics, Options(**options), name))


def errors_of(document: dict) -> list:
    return [d for d in document["diagnostics"] if d["severity"] == "error"]


# --- evaluating the two forms of an expression ------------------------------------------------

#: the node types the JSON contract allows: integer literals, names, parentheses, + - * // **
#: (and the unary minus of a ceiling division written -(-a // b))
EXPR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load,
              ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Pow, ast.USub)
EXPR_CHARACTERS = re.compile(r"[0-9A-Za-z_ +\-*/()]*")


def python_name(name: str) -> str:
    """docs/json.md: a size named `?1` appears in `expr` as `_1`."""
    return name.replace("?", "_")


def check_expr(expr: str) -> None:
    """`expr` is of the contract's grammar (raises AssertionError otherwise)."""
    assert EXPR_CHARACTERS.fullmatch(expr), expr
    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        assert isinstance(node, EXPR_NODES), (expr, type(node).__name__)
        if isinstance(node, ast.Constant):
            assert type(node.value) is int, expr
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            assert isinstance(node.right, ast.Constant), expr  # a power of a literal exponent


def eval_expr(value, sizes: dict):
    """An integer as it is; an expression object's `expr` checked and evaluated with the sizes
    bound and no builtins."""
    if value is None or type(value) is int:
        return value
    assert isinstance(value, dict) and set(value) == {"expr", "text"}, value
    check_expr(value["expr"])
    return eval(value["expr"], NO_BUILTINS, {python_name(k): v for k, v in sizes.items()})  # noqa: S307


def eval_text(text: str, sizes: dict) -> int:
    """The value of a shown formula (`51,200*(H - 4)*(W - 4)`, `ceil(H/2) - 1`, `T^2`, `?1`):
    digit groups dropped, `/` exact, floor and ceil of fractions."""
    source = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text).replace("^", "**")
    source = re.sub(r"\?(\d+)", r"_\1", source)
    env = {python_name(k): Fraction(v) for k, v in sizes.items()}

    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
            rounding = {"floor": math.floor, "ceil": math.ceil}[node.func.id]
            return Fraction(rounding(value(node.args[0])))
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
            if isinstance(node.op, ast.FloorDiv):
                return Fraction(left // right)
            if isinstance(node.op, ast.Pow):
                assert right.denominator == 1 and right >= 0, text
                return left ** int(right)
        raise AssertionError(f"not a formula of sizes: {text!r}")

    result = value(ast.parse(source, mode="eval").body)
    assert result.denominator == 1, (text, sizes, result)
    return int(result)


def expressions(node, path=()):
    """Every expression object in a JSON document, with its path."""
    if isinstance(node, dict):
        if set(node) == {"expr", "text"}:
            yield path, node
            return
        for key, value in node.items():
            yield from expressions(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from expressions(value, (*path, index))


#: keys whose value is text for people (formulas, explanations), compared nowhere below
TEXT_KEYS = {"formulas", "how", "label", "layer", "kernel", "padding", "file", "message", "notes"}


def assert_same_numbers(symbolic, concrete, sizes: dict, path=()) -> int:
    """Every number of the concrete report equals the symbolic report's, evaluated at `sizes`
    (both its `expr` and its `text`); returns how many numbers were compared. The inference
    peak may be unknown (null) in the symbolic report where the layer that holds it depends on
    the sizes (docs/language.md)."""
    if isinstance(symbolic, dict) and set(symbolic) == {"expr", "text"}:
        assert type(concrete) is int, (path, symbolic, concrete)
        got, shown = eval_expr(symbolic, sizes), eval_text(symbolic["text"], sizes)
        assert (got, shown) == (concrete, concrete), (path, symbolic, sizes, concrete)
        return 1
    if symbolic is None and concrete is not None:
        assert any("inference_peak" in str(key) for key in path), (path, concrete)
        return 0
    if isinstance(concrete, dict):
        assert isinstance(symbolic, dict), (path, symbolic)
        count = 0
        for key, value in concrete.items():
            if key in TEXT_KEYS:
                continue
            assert key in symbolic, (path, key)
            count += assert_same_numbers(symbolic[key], value, sizes, (*path, key))
        return count
    if isinstance(concrete, list):
        assert isinstance(symbolic, list) and len(symbolic) == len(concrete), (path, symbolic, concrete)
        return sum(assert_same_numbers(s, c, sizes, (*path, i)) for i, (s, c) in enumerate(zip(symbolic, concrete)))
    assert symbolic == concrete, (path, symbolic, concrete)
    return 1 if type(concrete) is int else 0


# --- networks written with an {input} to fill in ----------------------------------------------

EXAM = """\
# the chain of the README's exam sheet, a global pooling instead of the flatten
model exam1 {
    input {input}
    conv2d 32 k=5 pad=same
    conv2d 64 k=5
    maxpool2d 2
    conv2d 64 k=5
    maxpool2d 2
    globalavgpool2d
    dense 10 softmax
}
"""

VISION = """\
block down(c) {
    conv2d c k=3 s=2 pad=same relu
    batchnorm
}
model vision {
    input {input}
    zeropad2d 1
    down(16)
    concat {
        branch a { conv2d 8 k=1 }
        branch b { maxpool2d 3 s=1 pad=1; conv2d 8 k=3 pad=same }
    }
    add {
        branch a { depthwise2d k=3 pad=same }
        branch b { separable2d 16 k=5 pad=same }
    }
    avgpool2d 2 s=2 pad=1
    maxpool2d 3 s=2
    maxpool2d 2 s=2 pad=1 ceil=true
    conv2d_transpose 8 k=3 s=2
    upsample2d 2
    conv2d 4 k=3 s=3
    globalmaxpool2d
    dense 10
}
"""

TEXT = """\
model text {
    input {input}
    embedding 1000 64
    conv1d 32 k=3 s=2 pad=same relu
    maxpool1d 2
    lstm 16 return_sequences=true bidirectional=true
    rnn 8 return_sequences=true
    gru 8
    dense 4 softmax
}
"""

SEQUENCE = """\
model seq {
    input {input}
    conv1d 8 k=5 s=3
    gru 12 return_sequences=true
    dense 3
}
"""

GRU_TEXT = """\
model gru_text {
    input {input}
    embedding 62 256
    gru 1024 return_sequences=true
}
"""


def filled(template: str, shape: str) -> str:
    return template.replace("{input}", shape)


# --- spellings and the names of unnamed sizes -------------------------------------------------

@pytest.mark.parametrize("shape, sizes, dims", [
    ("HxWx3", ["H", "W"], ["H", "W", 3]),
    ("T", ["T"], ["T"]),
    ("Tx512", ["T"], ["T", 512]),
    ("T x 512", ["T"], ["T", 512]),
    ("(T, 512)", ["T"], ["T", 512]),
    ("seq_len", ["seq_len"], ["seq_len"]),  # a lone name of any spelling
    ("Seq", ["Seq"], ["Seq"]),
    ("28 x H x 3", ["H"], [28, "H", 3]),
    ("28xHx3", ["H"], [28, "H", 3]),
    ("HxHx3", ["H"], ["H", "H", 3]),  # one size, used twice: a square image
    # an unnamed ? is named after its axis: T for a sequence, H and W for an image, D H W for a volume
    ("?", ["T"], ["T"]),
    ("?x16", ["T"], ["T", 16]),
    ("?x?x3", ["H", "W"], ["H", "W", 3]),
    ("?x?x?x3", ["D", "H", "W"], ["D", "H", "W", 3]),
    ("Hx?x3", ["H", "W"], ["H", "W", 3]),
    # ... else ?1, ?2: where the rank says nothing, or the axis's name is taken
    ("?x?", ["T", "?1"], ["T", "?1"]),
    ("?xHx3", ["?1", "H"], ["?1", "H", 3]),
    ("?x?x?x?x3", ["?1", "?2", "?3", "?4"], ["?1", "?2", "?3", "?4", 3]),
])
def test_spellings_name_the_sizes_in_json_and_text(tmp_path, shape, sizes, dims):
    path = write(tmp_path, f"model m {{\n    input {shape}\n}}\n")
    (model,) = json_of(path)["models"]
    assert model["sizes"] == sizes
    assert model["input_shape"] == [d if type(d) is int else {"expr": python_name(d), "text": d} for d in dims]
    text = nnc(path).stdout
    assert f"input (None, {', '.join(map(str, dims))})" in text.splitlines()[0]


def test_an_unnamed_size_next_to_a_named_one_gets_a_name_of_its_own(tmp_path):
    # Bx?x1: the ? is not B; whatever its name, it is a size of its own, shown and bound by that name
    path = write(tmp_path, "model m {\n    input Bx?x1\n    flatten\n}\n")
    (model,) = json_of(path)["models"]
    assert model["sizes"][0] == "B" and len(model["sizes"]) == 2
    other = model["sizes"][1]
    assert other in ("W", "?1")
    (flatten,) = model["layers"]
    assert eval_expr(flatten["output_shape"][0], {"B": 7, other: 5}) == 7 * 5 * 1
    assert f"input (None, B, {other}, 1)" in nnc(path).stdout


def test_a_size_named_by_the_compiler_is_set_and_swept_by_that_name(tmp_path):
    path = write(tmp_path, "model m {\n    input ?x?\n    dense 4\n}\n")
    (model,) = json_of(path, "--set", "?1=5")["models"]
    assert model["sizes"] == ["T"] and model["input_shape"] == [{"expr": "T", "text": "T"}, 5]
    assert model["totals"]["params"] == 5 * 4 + 4
    document = json_of(path, "--sweep", "?1=5,6", "--set", "T=3")
    assert [(row["sizes"], row["params"], row["macs"]) for row in document["rows"]] == [
        ({"?1": 5}, 5 * 4 + 4, 3 * 5 * 4), ({"?1": 6}, 6 * 4 + 4, 3 * 6 * 4)]


@pytest.mark.parametrize("shape", ["hxWx3", "Tx512x"])
def test_a_mistyped_shape_is_not_read_as_one_lone_size_name(tmp_path, shape):
    # `hxWx3` (a lowercase h) and `Tx512x` (a stray x) look like shapes; read as the name of one
    # 1-D size, they give a report of nonsense (`8*Tx512x + 8` parameters) without a word. Either
    # the shape is read as meant, or the input line gets a diagnostic that shows the text.
    path = write(tmp_path, f"model m {{\n    input {shape}\n    flatten\n    dense 8\n}}\n")
    proc = nnc(path, "--format", "json")
    document = json.loads(proc.stdout)
    if proc.returncode == 0:
        (model,) = document["models"]
        assert len(model["input_shape"]) > 1, model["input_shape"]
    else:
        assert proc.returncode == 1
        located = [d for d in errors_of(document) if d["line"] == 2]
        assert located and shape in located[0]["message"], document["diagnostics"]


# --- closed forms -----------------------------------------------------------------------------

@pytest.mark.parametrize("units, features", [(50, 1), (64, 1), (32, 7)])
def test_gru_closed_form(tmp_path, units, features):
    u, f = units, features
    path = write(tmp_path, f"model g {{\n    input Tx{f}\n    gru {u}\n}}\n")
    (model,) = json_of(path)["models"]
    (gru,) = model["layers"]
    assert gru["params"] == 3 * (u * (f + u) + 2 * u)  # Keras: reset_after, two biases per gate
    for t in (1, 2, 7, 128, 1000):
        assert eval_expr(gru["macs"], {"T": t}) == 3 * u * (f + u) * t
        assert eval_text(gru["macs"]["text"], {"T": t}) == 3 * u * (f + u) * t
    assert gru["output_shape"] == [u]
    text = nnc(path).stdout
    assert f" {3 * u * (f + u):,}*T " in text and f" MACs: {3 * u * (f + u):,}*T" in text


def test_a_gru_on_an_unnamed_length_costs_per_step_times_t(tmp_path):
    # `input ?x1`: the ? is the length T; no "per time step" count, the whole sequence's
    path = write(tmp_path, "model g {\n    input ?x1\n    gru 50\n}\n")
    (model,) = json_of(path)["models"]
    assert model["sizes"] == ["T"]
    assert model["totals"]["macs"] == {"expr": "7650*T", "text": "7650*T"}  # 3*50*(1 + 50) = 7,650
    assert " 7,650*T " in nnc(path).stdout


@pytest.mark.parametrize("units, features, bidirectional", [(32, 16, False), (20, 3, True)])
def test_lstm_closed_form(tmp_path, units, features, bidirectional):
    u, f, directions = units, features, 2 if bidirectional else 1
    path = write(tmp_path, f"model l {{\n    input Tx{f}\n    lstm {u} return_sequences=true "
                           f"bidirectional={'true' if bidirectional else 'false'}\n}}\n")
    (model,) = json_of(path)["models"]
    (lstm,) = model["layers"]
    assert lstm["params"] == directions * 4 * (u * (f + u) + u)  # Keras: 4 gates, one bias each
    for t in (1, 9, 300):
        assert eval_expr(lstm["macs"], {"T": t}) == directions * 4 * u * (f + u) * t
        assert [eval_expr(d, {"T": t}) for d in lstm["output_shape"]] == [t, directions * u]


def test_embedding_and_gru_on_a_sequence_of_t_tokens(tmp_path):
    path = write(tmp_path, filled(GRU_TEXT, "T") + "\n".join([
        "model head {",
        "    input T",
        "    embedding 62 256",
        "    gru 1024 return_sequences=true",
        "    dense 10",
        "}", ""]))
    document = json_of(path)
    gru_text, head = document["models"]
    embedding, gru = gru_text["layers"]
    assert embedding["params"] == 62 * 256 and embedding["macs"] == 0
    assert [eval_expr(d, {"T": 33}) for d in embedding["output_shape"]] == [33, 256]
    assert gru["params"] == 3 * (1024 * (256 + 1024) + 2 * 1024)
    assert gru_text["totals"]["params"] == 62 * 256 + 3 * (1024 * (256 + 1024) + 2 * 1024)
    per_step = 3 * 1024 * (256 + 1024)
    assert per_step == 3_932_160
    for t in (1, 128, 1024):
        assert eval_expr(gru["macs"], {"T": t}) == per_step * t
        assert eval_expr(gru_text["totals"]["macs"], {"T": t}) == per_step * t
        # a dense after it works on every one of the T steps
        assert eval_expr(head["totals"]["macs"], {"T": t}) == per_step * t + t * 1024 * 10
    assert head["totals"]["params"] == 62 * 256 + 3 * (1024 * (256 + 1024) + 2 * 1024) + 1024 * 10 + 10
    text = nnc(path).stdout
    assert " 3,932,160*T " in text and " MACs: 3,932,160*T\n" in text


def exam_layers_by_hand(h: int, w: int) -> list:
    """(name, output shape, params, MACs, pooling operations) of EXAM on an HxWx3 input."""
    h2, w2 = h - 4, w - 4                    # conv2d 64 k=5, valid: n - 5 + 1
    h3, w3 = h2 // 2, w2 // 2                # maxpool2d 2: floor(n/2)
    h4, w4 = h3 - 4, w3 - 4                  # conv2d 64 k=5
    h5, w5 = h4 // 2, w4 // 2                # maxpool2d 2
    return [
        ("conv2d_1", [h, w, 32], 5 * 5 * 3 * 32 + 32, h * w * 32 * (5 * 5 * 3), 0),  # same: n rows
        ("conv2d_2", [h2, w2, 64], 5 * 5 * 32 * 64 + 64, h2 * w2 * 64 * (5 * 5 * 32), 0),
        ("maxpool2d_1", [h3, w3, 64], 0, 0, h3 * w3 * 64 * (2 * 2)),
        ("conv2d_3", [h4, w4, 64], 5 * 5 * 64 * 64 + 64, h4 * w4 * 64 * (5 * 5 * 64), 0),
        ("maxpool2d_2", [h5, w5, 64], 0, 0, h5 * w5 * 64 * (2 * 2)),
        ("globalavgpool2d_1", [64], 0, 0, h5 * w5 * 64),
        ("dense_1", [10], 64 * 10 + 10, 64 * 10, 0),
    ]


#: (H, W) where every layer of EXAM is valid (the last pooling needs floor((floor((H-4)/2)-4)/2) >= 1)
EXAM_POINTS = [(16, 16), (17, 23), (28, 28), (31, 64), (224, 160), (513, 99)]


def test_exam_chain_on_an_image_of_any_size_json(tmp_path):
    path = write(tmp_path, filled(EXAM, "HxWx3"))
    (model,) = json_of(path)["models"]
    assert model["sizes"] == ["H", "W"]
    for h, w in EXAM_POINTS:
        sizes = {"H": h, "W": w}
        expected = exam_layers_by_hand(h, w)
        for layer, (name, shape, params, macs, pool_ops) in zip(model["layers"], expected, strict=True):
            got = ([eval_expr(d, sizes) for d in layer["output_shape"]], eval_expr(layer["params"], sizes),
                   eval_expr(layer["macs"], sizes), eval_expr(layer["pool_ops"], sizes))
            assert (layer["name"], *got) == (name, shape, params, macs, pool_ops), (h, w)
            for value in (layer["macs"], layer["pool_ops"], *layer["output_shape"]):
                if isinstance(value, dict):
                    assert eval_text(value["text"], sizes) == eval_expr(value, sizes)
        totals = model["totals"]
        assert eval_expr(totals["params"], sizes) == sum(e[2] for e in expected) == 156_810
        assert eval_expr(totals["macs"], sizes) == sum(e[3] for e in expected)
        assert eval_expr(totals["pool_ops"], sizes) == sum(e[4] for e in expected)


def table_cells(text: str) -> dict:
    """{layer name: [cells]} of an --ascii table."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| Layer"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].split(" (")[0]] = cells[1:]
    return rows


def shape_cell(cell: str) -> list:
    """'(None, floor(H/2) - 2, floor(W/2) - 2, 64)' -> the dimensions' texts, batch left out."""
    assert cell.startswith("(None, ") and cell.endswith(")"), cell
    parts, depth, current = [], 0, ""
    for char in cell[len("(None, "):-1]:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]


def test_exam_chain_on_an_image_of_any_size_text(tmp_path):
    path = write(tmp_path, filled(EXAM, "HxWx3"))
    text = nnc(path, "--ascii", "--columns", "layer,output,params,macs,pool_ops").stdout
    rows = table_cells(text)
    assert list(rows) == [e[0] for e in exam_layers_by_hand(16, 16)]
    # the shown formulas are those a student writes
    assert rows["conv2d_1"][2] == "2,400*H*W" and rows["conv2d_2"][2] == "51,200*(H - 4)*(W - 4)"
    assert shape_cell(rows["maxpool2d_1"][0]) == ["floor(H/2) - 2", "floor(W/2) - 2", "64"]
    total_macs = re.search(r"^ MACs: (.+)$", text, re.M).group(1)
    total_pool = re.search(r"^ Pooling operations \(not MACs\): (.+)$", text, re.M).group(1)
    for h, w in EXAM_POINTS:
        sizes = {"H": h, "W": w}
        expected = exam_layers_by_hand(h, w)
        for name, shape, params, macs, pool_ops in expected:
            output, shown_params, shown_macs, shown_pool = rows[name]
            assert [eval_text(d, sizes) for d in shape_cell(output)] == shape, (name, h, w)
            assert (eval_text(shown_params, sizes), eval_text(shown_macs, sizes),
                    eval_text(shown_pool, sizes)) == (params, macs, pool_ops), (name, h, w)
        assert eval_text(total_macs, sizes) == sum(e[3] for e in expected)
        assert eval_text(total_pool, sizes) == sum(e[4] for e in expected)


def test_exam_chain_at_28x28_is_the_readme_answer_key(tmp_path):
    # the README's exam1 (28x28x3) by hand: 28*28*32*75, 24*24*64*800, 8*8*64*1600
    (conv1, conv2, _, conv3, *_) = exam_layers_by_hand(28, 28)
    assert (conv1[3], conv2[3], conv3[3]) == (1_881_600, 29_491_200, 6_553_600)
    path = write(tmp_path, filled(EXAM, "HxWx3"))
    (model,) = json_of(path, "--set", "H=28,W=28")["models"]
    assert [layer["macs"] for layer in model["layers"][:4]] == [1_881_600, 29_491_200, 0, 6_553_600]


# --- the JSON expression objects --------------------------------------------------------------

#: (template, symbolic input, the sizes' names, values at which the concrete network is valid)
CONTRACT_CASES = {
    "exam": (EXAM, "HxWx3", ("H", "W"), [(16, 16), (29, 40), (224, 224)]),
    "vision": (VISION, "HxWx3", ("H", "W"), [(12, 12), (13, 31), (64, 47), (227, 224)]),
    "vision-unnamed": (VISION, "?x?x3", ("H", "W"), [(12, 17), (100, 100)]),
    "text": (TEXT, "T", ("T",), [(4,), (5,), (6,), (7,), (129,), (1000,)]),
    "sequence": (SEQUENCE, "?x6", ("T",), [(5,), (6,), (7,), (8,), (100,)]),
    "two-open": (SEQUENCE.replace("conv1d 8 k=5 s=3", "dense 5"), "?x?", ("T", "?1"), [(1, 1), (9, 4)]),
}


@pytest.mark.parametrize("case", CONTRACT_CASES)
def test_expressions_are_of_the_contract_and_evaluate_to_the_concrete_report(case):
    template, shape, names, points = CONTRACT_CASES[case]
    symbolic = report_of(filled(template, shape), memory=True)
    assert errors_of(symbolic) == []
    (model,) = symbolic["models"]
    assert model["sizes"] == list(names)
    found = list(expressions(symbolic))
    assert len(found) > 5
    for _, value in found:
        check_expr(value["expr"])
        assert set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", value["expr"])) <= {python_name(n) for n in names}
    for point in points:
        sizes = dict(zip(names, point))
        concrete_shape = "x".join(str(sizes.get(name, name)) for name in shape_names(shape, names))
        concrete = report_of(filled(template, concrete_shape), memory=True)
        assert errors_of(concrete) == [], (case, sizes, concrete["diagnostics"])
        (concrete_model,) = concrete["models"]
        assert "sizes" not in concrete_model
        compared = assert_same_numbers(model, concrete_model, sizes)
        assert compared > 20


def shape_names(shape: str, names: tuple) -> list:
    """The input's dimensions with each open one replaced by its size's name, in order."""
    unnamed = iter(names)
    dims = []
    for dim in shape.split("x"):
        dims.append(next(unnamed) if dim == "?" else dim)
    return dims


# --- --set ------------------------------------------------------------------------------------

@pytest.mark.parametrize("template, shape, options, concrete_shape", [
    (GRU_TEXT, "T", ["--set", "T=128"], "128"),
    (TEXT, "T", ["--set", "T=77"], "77"),
    (EXAM, "HxWx3", ["--set", "H=224,W=224"], "224x224x3"),
    (EXAM, "HxWx3", ["--set", "H=224", "--set", "W=160"], "224x160x3"),
    (VISION, "?x?x3", ["--set", "W=41,H=13"], "13x41x3"),
])
def test_set_gives_the_report_of_the_sizes_written_in(tmp_path, template, shape, options, concrete_shape):
    symbolic = write(tmp_path, filled(template, shape), "net.nn")
    folder = tmp_path / "concrete"
    folder.mkdir()
    concrete = write(folder, filled(template, concrete_shape), "net.nn")
    for extra in ([], ["--memory", "--batch", "3"]):
        given = nnc(symbolic, *options, *extra, "--format", "json")
        written = nnc(concrete, *extra, "--format", "json")
        assert given.returncode == written.returncode == 0, given.stderr
        a, b = json.loads(given.stdout), json.loads(written.stdout)
        for document in (a, b):  # the two files' names
            document.pop("file")
            for diagnostic in document["diagnostics"]:
                diagnostic.pop("file")
        assert a == b
        for fmt in ("text", "csv", "markdown"):
            assert nnc(symbolic, *options, *extra, "--format", fmt).stdout == nnc(concrete, *extra, "--format",
                                                                                  fmt).stdout


def test_set_on_some_sizes_leaves_the_others_open(tmp_path):
    path = write(tmp_path, filled(EXAM, "HxWx3"))
    (model,) = json_of(path, "--set", "H=50")["models"]
    assert model["sizes"] == ["W"]
    assert model["input_shape"] == [50, {"expr": "W", "text": "W"}, 3]
    for w in (16, 37, 300):
        expected = exam_layers_by_hand(50, w)
        assert [eval_expr(layer["macs"], {"W": w}) for layer in model["layers"]] == [e[3] for e in expected]


@pytest.mark.parametrize("options, message", [
    (["--set", "X=3"], r"no named size 'X'.*\(sizes: H, T, W\)"),
    (["--set", "t=3"], r"no named size 't'.*'T'.*\(sizes: H, T, W\)"),
    (["--sweep", "X=1,2"], r"no named size 'X'.*\(sizes: H, T, W\)"),
    (["--set", "T=0"], r"T='0': a size is a positive whole number"),
    (["--set", "T=-1"], r"T='-1': a size is a positive whole number"),
    (["--set", "T=x"], r"T='x': a size is a positive whole number"),
    (["--set", "T="], r"T='': a size is a positive whole number"),
    (["--set", "T=1.5"], r"T='1.5': a size is a positive whole number"),
    (["--set", "T"], r"'T': write NAME=VALUE"),
    (["--set", "T=1,T=2"], r"T is given twice"),
    (["--set", "T=1", "--set", "T=2"], r"T is given twice"),
    (["--set", "T=5", "--sweep", "T=1,2"], r"T is both set and swept"),
    (["--sweep", "T=1", "--sweep", "T=2"], r"T is swept twice"),
    (["--sweep", "T=1,0"], r"T='0': a size is a positive whole number"),
    (["--sweep", "T="], r"'T=': write NAME=N,N"),
])
def test_set_and_sweep_errors_are_status_2_with_a_message(tmp_path, options, message):
    path = write(tmp_path, filled(GRU_TEXT, "T") + filled(EXAM, "HxWx3"))
    proc = nnc(path, *options)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert re.search(message, proc.stderr), proc.stderr


def test_a_size_too_large_is_refused_as_too_large(tmp_path):
    # 10**16 is a positive whole number: the message must say what is wrong with it
    path = write(tmp_path, filled(GRU_TEXT, "T"))
    proc = nnc(path, "--set", f"T={10 ** 16}")
    assert proc.returncode == 2 and proc.stdout == ""
    assert re.search(r"too large|at most|larger than|limit", proc.stderr), proc.stderr


# --- --sweep ----------------------------------------------------------------------------------

def concrete_row(template: str, shape: str, ops_key: str = "macs", **options) -> dict:
    (model,) = report_of(filled(template, shape), **options)["models"]
    totals, memory = model["totals"], model["memory"]
    return {"model": model["name"], "params": totals["params"], ops_key: totals["macs"],
            "pool_ops": totals["pool_ops"], "inference_peak_bytes": memory["inference_peak"]["bytes"],
            "training_bytes": memory["training"]["lines"][-1]["bytes"]}


def test_sweep_json_rows_are_the_concrete_compilations(tmp_path):
    path = write(tmp_path, filled(GRU_TEXT, "T"))
    document = json_of(path, "--sweep", "T=128,256,512,1024")
    assert document["sweep"] == ["T"]
    assert [row["sizes"] for row in document["rows"]] == [{"T": t} for t in (128, 256, 512, 1024)]
    for row, t in zip(document["rows"], (128, 256, 512, 1024), strict=True):
        assert row["macs"] == 3 * 1024 * (256 + 1024) * t
        assert row["params"] == 62 * 256 + 3 * (1024 * (256 + 1024) + 2 * 1024)
        expected = concrete_row(GRU_TEXT, str(t))
        assert {key: row[key] for key in expected} == expected


def test_sweep_csv_markdown_and_text_show_the_same_rows(tmp_path):
    path = write(tmp_path, filled(TEXT, "T"))
    values = (16, 17, 300)
    expected = [concrete_row(TEXT, str(t)) for t in values]
    rows = list(csv.DictReader(io.StringIO(nnc(path, "--sweep", "T=16,17,300", "--format", "csv").stdout)))
    assert [row["T"] for row in rows] == ["16", "17", "300"]
    for row, want in zip(rows, expected, strict=True):
        assert {key: row[key] for key in want} == {key: str(value) for key, value in want.items()}
    markdown = nnc(path, "--sweep", "T=16,17,300", "--format", "markdown").stdout.splitlines()
    text = nnc(path, "--sweep", "T=16,17,300").stdout.splitlines()
    body_md = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown[2:]]
    body_text = [re.split(r"\s{2,}", line.strip()) for line in text[2:]]
    assert re.split(r"\s{2,}", text[0].strip())[:5] == ["Model", "T", "Params", "MACs", "Pooling ops"]
    for shown in (body_md, body_text):
        assert [cells[:5] for cells in shown] == [
            ["text", f"{t:,}", f"{want['params']:,}", f"{want['macs']:,}", f"{want['pool_ops']:,}"]
            for t, want in zip(values, expected)]


def test_sweep_of_two_sizes_gives_every_combination(tmp_path):
    path = write(tmp_path, filled(EXAM, "HxWx3"))
    document = json_of(path, "--sweep", "H=32,40", "--sweep", "W=28,48,64")
    assert document["sweep"] == ["H", "W"]
    points = [(32, 28), (32, 48), (32, 64), (40, 28), (40, 48), (40, 64)]
    assert [(row["sizes"]["H"], row["sizes"]["W"]) for row in document["rows"]] == points
    for row, (h, w) in zip(document["rows"], points):
        assert row["macs"] == sum(e[3] for e in exam_layers_by_hand(h, w))
        assert row["pool_ops"] == sum(e[4] for e in exam_layers_by_hand(h, w))
        expected = concrete_row(EXAM, f"{h}x{w}x3")
        assert {key: row[key] for key in expected} == expected


def test_sweep_with_set_and_with_several_models(tmp_path):
    path = write(tmp_path, filled(EXAM, "HxWx3") + filled(GRU_TEXT, "T"))
    rows = json_of(path, "--set", "W=30", "--sweep", "H=20,21")["rows"]
    assert [(row["model"], row["sizes"]) for row in rows] == [
        ("exam1", {"H": 20}), ("gru_text", {"H": 20}), ("exam1", {"H": 21}), ("gru_text", {"H": 21})]
    assert rows[0]["macs"] == sum(e[3] for e in exam_layers_by_hand(20, 30))
    assert rows[2]["macs"] == sum(e[3] for e in exam_layers_by_hand(21, 30))
    # a model without the swept size keeps its own open sizes, as expressions
    assert eval_expr(rows[1]["macs"], {"T": 9}) == 9 * 3 * 1024 * (256 + 1024)


def test_sweep_refuses_more_than_a_thousand_rows(tmp_path):
    path = write(tmp_path, filled(EXAM, "HxWx3"))
    many = ",".join(str(v) for v in range(16, 16 + 101))
    proc = nnc(path, "--sweep", "H=16,17,18,19,20,21,22,23,24,25", "--sweep", f"W={many}")  # 1,010 rows
    assert proc.returncode == 2 and proc.stdout == ""
    assert "more than 1,000 rows" in proc.stderr
    assert nnc(path, "--sweep", "H=16,17,18,19,20,21,22,23,24,25", "--sweep", f"W={many[:many.rindex(',')]}",
               "--format", "csv").returncode == 0  # exactly 1,000


def test_sweep_prints_a_diagnostic_once_not_once_per_row(tmp_path):
    # W303 (softmax before the last layer) is reported by every compilation of the sweep
    path = write(tmp_path, "model m {\n    input Tx8\n    gru 4\n    dense 4 softmax\n    dense 2\n}\n")
    proc = nnc(path, "--sweep", "T=8,9,10,11")
    assert proc.returncode == 0
    assert proc.stderr.count("W303") == 1, proc.stderr
    assert len(proc.stdout.splitlines()) == 2 + 4


@pytest.mark.parametrize("fmt", ["html", "latex", "equation"])
def test_sweep_refuses_a_format_it_does_not_write(tmp_path, fmt):
    path = write(tmp_path, filled(GRU_TEXT, "T"))
    proc = nnc(path, "--sweep", "T=1,2", "--format", fmt)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--sweep writes text, csv, markdown, json" in proc.stderr


def test_sweep_stops_at_a_value_the_network_cannot_take(tmp_path):
    path = write(tmp_path, filled(SEQUENCE, "Tx6"))
    output = tmp_path / "out.csv"
    proc = nnc(path, "--sweep", "T=8,4,9", "--format", "csv", "-o", output)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "E202" in proc.stderr and "does not compile with T=4" in proc.stderr
    assert not output.exists()  # nothing half-written


# --- --batch NAME -----------------------------------------------------------------------------

MLP = "model mlp {\n    input 784\n    dense 128 relu\n    dense 10 softmax\n}\n"


def test_batch_name_makes_memory_an_expression_of_the_batch(tmp_path):
    path = write(tmp_path, MLP)
    (model,) = json_of(path, "--batch", "B", "--memory")["models"]
    memory = model["memory"]
    assert memory["batch"] == {"expr": "B", "text": "B"}
    params = 784 * 128 + 128 + 128 * 10 + 10
    assert params == 101_770
    for b in (1, 8, 50):
        env = {"B": b}
        assert eval_expr(memory["inference_peak"]["bytes"], env) == (784 + 128) * b * 4  # dense_1's input + output
        assert memory["inference_peak"]["layer"] == "dense_1"
        assert eval_expr(memory["inference_peak_plus_params"]["bytes"], env) == ((784 + 128) * b + params) * 4
        assert eval_expr(memory["inference_every_activation_kept"]["bytes"], env) == (
            (784 + 128 + 10) * b + params) * 4
        training = {line["label"]: line["bytes"] for line in memory["training"]["lines"]}
        assert eval_expr(training["total"], env) == (params * (1 + 1 + 2) + (784 + 128 + 10) * b) * 4  # adam
    assert memory["params"]["bytes"] == params * 4 and memory["input"]["bytes"] == 784 * 4
    text = nnc(path, "--batch", "B", "--memory").stdout
    assert re.search(r"inference, batch B: peak at dense_1 +3,648\*B bytes", text), text  # 912*4 = 3,648
    assert re.search(r"total +3,688\*B \+ 1,628,320 bytes", text), text  # 922*4; 101,770*4*4
    assert "for the batch of B: 101,632*B MACs" in text  # 784*128 + 128*10


@pytest.mark.parametrize("template, shape, sizes", [
    (MLP, "784", {}), (SEQUENCE, "Tx6", {"T": 20}), (EXAM, "HxWx3", {"H": 33, "W": 17})])
def test_batch_name_at_b_is_what_batch_b_gives(tmp_path, template, shape, sizes):
    path = write(tmp_path, filled(template, shape))
    (symbolic,) = json_of(path, "--batch", "B", "--memory")["models"]
    set_sizes = [f"--set={name}={value}" for name, value in sizes.items()]
    for b in (1, 3, 64):
        (concrete,) = json_of(path, "--batch", str(b), "--memory", *set_sizes)["models"]
        assert concrete["memory"]["batch"] == b
        compared = assert_same_numbers(symbolic["memory"], concrete["memory"], {"B": b, **sizes})
        assert compared >= 10


def test_a_batch_name_that_is_already_a_size_is_not_merged_with_it(tmp_path):
    # `--batch T` on `input Tx16`: the batch and the sequence length are two quantities; the
    # report must not silently square one of them (80*T^2 bytes)
    path = write(tmp_path, "model m {\n    input Tx16\n    dense 4\n}\n")
    proc = nnc(path, "--batch", "T", "--memory", "--format", "json")
    if proc.returncode == 2:
        assert proc.stdout == "" and "T" in proc.stderr
        return
    (model,) = json.loads(proc.stdout)["models"]
    for line in (model["memory"]["inference_peak"], model["memory"]["training"]["lines"][-1]):
        assert "T**2" not in line["bytes"]["expr"] and "T*T" not in line["bytes"]["expr"], line


def test_a_symbolic_batch_can_be_swept_or_is_refused_with_the_reason(tmp_path):
    # `--batch B` makes B a named size (docs/json.md); `--sweep B=1,8` is then either one row per
    # batch size, or refused with a message that says to give the batch with --batch
    path = write(tmp_path, MLP)
    proc = nnc(path, "--batch", "B", "--sweep", "B=1,8", "--format", "json")
    if proc.returncode == 0:
        rows = json.loads(proc.stdout)["rows"]
        for row, b in zip(rows, (1, 8), strict=True):
            assert row["inference_peak_bytes"] == (784 + 128) * b * 4
    else:
        assert proc.returncode == 2 and proc.stdout == ""
        assert "--batch" in proc.stderr, proc.stderr


# --- expectations -----------------------------------------------------------------------------

def test_symbolic_expectations_hold_as_identities(tmp_path):
    path = write(tmp_path, """\
model gru_text {
    input T
    embedding 62 256                -> Tx256
    gru 1024 return_sequences=true  -> Tx1024  macs=3932160*T
    dense 10                        -> ?x10  macs=T*10240 params=10250
} -> macs=3942400*T Tx10
model wildcard {
    input ?x512
    dense 8                         -> ?x8 macs=4096*T
    dense 8                         -> Tx8 macs=64*T + 0
}
model conv {
    input HxWx3
    conv2d 16 k=3 pad=same          -> HxWx16  macs=432*H*W params=448
    conv2d 16 k=3 s=2 pad=same      -> ?x?x16  macs=2304*((H + 1)//2)*((W + 1)//2)
}
""")
    # 3*1024*(256 + 1024) = 3,932,160; 1024*10 = 10,240 per step; 3,932,160 + 10,240 = 3,942,400
    # 512*8 = 4,096; 8*8 = 64; 3*3*3*16 = 432 (+ 16 = 448); 3*3*16*16 = 2,304 at ceil(H/2) x ceil(W/2)
    proc = nnc("check", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "expectations: 17 checked, 17 hold, 0 differ"


def test_a_wrong_symbolic_count_is_e303_with_both_expressions(tmp_path):
    path = write(tmp_path, "model m {\n    input T\n    embedding 62 256\n"
                           "    gru 1024 return_sequences=true  -> macs=3932161*T\n}\n")
    proc = nnc("check", path)
    assert proc.returncode == 1
    assert re.search(r":4:40: error\[E303\]: macs: expected 3,932,161\*T, computed .*= 3,932,160\*T\n",
                     proc.stderr), proc.stderr
    assert "^" in proc.stderr and "expectations: 1 checked, 0 hold, 1 differ" in proc.stdout


def test_an_expectation_true_for_some_sizes_only_differs(tmp_path):
    # a stride of 2 with same padding gives ceil(H/2) rows: H rows holds at no H > 1, and
    # 432*H*W MACs nowhere; 16*T MACs for a stride-2 conv1d holds at even T only
    path = write(tmp_path, """\
model m {
    input HxWx3
    conv2d 16 k=3 s=2 pad=same -> HxWx16
    conv2d 16 k=1 -> ?x?x16 macs=64*H*W
}
model n {
    input Tx8
    conv1d 4 k=2 s=2 -> ?x4 macs=32*T
}
""")
    proc = nnc("check", path)
    assert proc.returncode == 1
    assert re.search(r":3:35: error\[E301\]: output shape: expected HxWx16, computed ceil\(H/2\)xceil\(W/2\)x16",
                     proc.stderr), proc.stderr
    assert re.search(r":4:29: error\[E303\]: macs: expected 64\*H\*W, computed .*= 256\*ceil\(H/2\)\*ceil\(W/2\)",
                     proc.stderr), proc.stderr  # 16*16 = 256 per position
    assert re.search(r":8:29: error\[E303\]: macs: expected 32\*T, computed .*= 64\*floor\(T/2\)", proc.stderr)


def test_a_model_level_symbolic_expectation(tmp_path):
    good = "model m {\n    input Tx512\n    dense 8\n    dense 2\n} -> macs=4112*T params=4122 Tx2\n"
    # 512*8 + 8*2 = 4,112 per step; (512*8 + 8) + (8*2 + 2) = 4,122
    assert nnc("check", write(tmp_path, good)).returncode == 0
    proc = nnc("check", write(tmp_path, good.replace("4112*T", "4112*T + 1"), "bad.nn"))
    assert proc.returncode == 1
    assert re.search(r"bad\.nn:5:6: error\[E303\]: macs: expected 4,112\*T \+ 1, computed .*4,112\*T\n",
                     proc.stderr), proc.stderr


def test_an_expected_count_may_group_its_digits_as_nnc_prints_it(tmp_path):
    # nnc prints `3,932,160*T` (README, the MACs column); docs/language.md: a count may group its
    # digits as nnc prints them, `params=9,248`
    path = write(tmp_path, "model m {\n    input T\n    embedding 62 256\n"
                           "    gru 1024 return_sequences=true  -> macs=3,932,160*T params=3,938,304\n}\n")
    proc = nnc("check", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "expectations: 2 checked, 2 hold, 0 differ"


def test_an_unknown_name_in_an_expectation_names_the_models_sizes(tmp_path):
    path = write(tmp_path, "model m {\n    input Tx512\n    dense 8 -> macs=4096*S\n}\n")
    document = json_of(path, status=1)
    (error,) = errors_of(document)
    assert (error["code"], error["line"], error["column"]) == ("E110", 3, 26)
    # the note must not send the reader to block parameters: S is compared with the sizes (T)
    said = " ".join([error["message"], *error["notes"]])
    assert "block parameter" not in said and "T" in said, said


# --- sizes in block arguments and expressions -------------------------------------------------

BLOCKS = """\
block split(n) {
    reshape (n, 8, 64)
}
model m {
    input {input}
    split(T)                -> Tx8x64
    reshape (T*8, 64)       -> ?x64
    reshape (T, -1, 64)     -> Tx8x64
    flatten
    dense 10
}
"""


def test_a_block_parameter_and_an_expression_take_a_size(tmp_path):
    path = write(tmp_path, filled(BLOCKS, "Tx512"))
    proc = nnc("check", path)
    assert proc.returncode == 0, proc.stderr
    (model,) = json_of(path)["models"]
    shapes = {layer["name"]: layer["output_shape"] for layer in model["layers"]}
    dense = model["layers"][-1]
    for t in (1, 5, 64):
        env = {"T": t}
        assert [eval_expr(d, env) for d in shapes["reshape_1"]] == [t, 8, 64]
        assert [eval_expr(d, env) for d in shapes["reshape_2"]] == [t * 8, 64]
        assert [eval_expr(d, env) for d in shapes["reshape_3"]] == [t, 8, 64]
        assert [eval_expr(d, env) for d in shapes["flatten_1"]] == [t * 512]
        assert eval_expr(dense["params"], env) == t * 512 * 10 + 10  # the weights grow with T
        assert eval_expr(dense["macs"], env) == t * 512 * 10
    for t in (3, 20):  # --set T: the block is called with the number
        concrete = re.sub(r"\bT(?=\b|x)", str(t), filled(BLOCKS, "Tx512"))  # every T, Tx8x64's too
        want = report_of(concrete)
        assert errors_of(want) == []
        got = json_of(path, "--set", f"T={t}")
        got.pop("file"), want.pop("file")
        for document in (got, want):
            for model_ in document["models"]:
                for layer in model_["layers"]:
                    layer.pop("formulas", None)
        assert got["models"] == want["models"]


def test_a_reshape_that_fits_some_sizes_only_is_e206(tmp_path):
    # T*512 values as floor(T/2)x1024 only when T is even
    path = write(tmp_path, "model m {\n    input Tx512\n    reshape (T//2, 1024)\n}\n")
    (error,) = errors_of(json_of(path, status=1))
    assert (error["code"], error["line"], error["column"]) == ("E206", 3, 13)
    assert "512*T" in error["message"] and "floor(T/2)" in error["message"]
    assert json_of(path, "--set", "T=6")["models"][0]["output_shape"] == [3, 1024]


def test_a_size_where_a_number_is_needed_is_shown_by_its_name(tmp_path):
    path = write(tmp_path, "model m {\n    input Tx4\n    repeat T { dense 4 }\n}\n")
    proc = nnc(path)
    assert proc.returncode == 1
    assert ":3:12: error[E104]" in proc.stderr
    assert "Sym(" not in proc.stderr, proc.stderr  # the name as written, not an internal object


# --- open channels, and what stays unknown ----------------------------------------------------

def test_open_channels_are_expressions_of_their_size(tmp_path):
    path = write(tmp_path, "model m {\n    input 8x8xC\n    conv2d 4 k=3\n    batchnorm\n}\n")
    (model,) = json_of(path)["models"]
    conv, norm = model["layers"]
    for c in (1, 3, 17):
        env = {"C": c}
        assert eval_expr(conv["params"], env) == 3 * 3 * c * 4 + 4
        assert eval_expr(conv["macs"], env) == 6 * 6 * 4 * (3 * 3 * c)
        assert norm["params"] == 4 * 4  # Keras: gamma, beta, mean, variance of the 4 output channels


def test_a_size_an_error_leaves_unknown_is_e205_located(tmp_path):
    path = write(tmp_path, "model m {\n    input 64\n    reshape ?x8\n    flatten\n}\n")
    proc = nnc(path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "net.nn:4:5: error[E205]" in proc.stderr
    assert "    flatten\n  |     ^^^^^^^" in proc.stderr


def test_flatten_of_an_image_of_any_size_then_dense(tmp_path):
    path = write(tmp_path, "model m {\n    input HxWx3\n    flatten\n    dense 10\n}\n")
    (model,) = json_of(path)["models"]
    flatten, dense = model["layers"]
    for h, w in ((1, 1), (28, 28), (7, 300)):
        env = {"H": h, "W": w}
        assert [eval_expr(d, env) for d in flatten["output_shape"]] == [h * w * 3]
        assert eval_expr(dense["params"], env) == h * w * 3 * 10 + 10
        assert eval_expr(model["totals"]["params"], env) == h * w * 3 * 10 + 10
        assert eval_expr(dense["macs"], env) == h * w * 3 * 10
    text = nnc(path).stdout
    assert " Total params: 30*H*W + 10 " in text  # 3*10 per pixel, 10 biases


# --- speed ------------------------------------------------------------------------------------

def symbolic_googlenet() -> str:
    """examples/googlenet.nn with its input HxWx3 and its expectations removed."""
    lines = []
    for line in (EXAMPLES / "googlenet.nn").read_text().splitlines():
        code, hash_, comment = line.partition("#")
        code = re.sub(r"->.*?(?=\ballow\b|$)", "", code)
        lines.append(code + hash_ + comment)
    text = "\n".join(lines)
    assert text.count("input 224x224x3") == 2
    return text.replace("input 224x224x3", "input HxWx3")


def test_a_symbolic_googlenet_compiles_and_reports_without_hanging():
    text = symbolic_googlenet()
    assert "-> " not in "\n".join(line.partition("#")[0] for line in text.splitlines())
    start = time.perf_counter()
    document = report_of(text, "googlenet.nn")
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"{elapsed:.1f} s"  # a hang guard: about 1 s on a busy 2-core machine
    assert errors_of(document) == []
    googlenet = document["models"][0]
    assert googlenet["sizes"] == ["H", "W"]
    # the example's own answer key, worked out from the paper's Table 1 in its comments
    assert googlenet["totals"]["params"] == 6_998_552
    assert eval_expr(googlenet["totals"]["macs"], {"H": 224, "W": 224}) == 1_582_671_872
    # and at another size, what the network with that size written in gives
    concrete = report_of(text.replace("input HxWx3", "input 225x250x3"), "googlenet.nn")
    assert errors_of(concrete) == []
    assert assert_same_numbers(googlenet["layers"], concrete["models"][0]["layers"], {"H": 225, "W": 250}) > 100


# --- expectations written as nnc prints them: powers and grouped digits ------------------------

def test_an_expectation_copied_from_the_report_holds(tmp_path):
    # attention 8 on Tx512: projections T*512*(3*512) + T*512*512 = 1,048,576*T; Q K^T and A V:
    # 2 * 8 heads * T*T * 64 = 1,024*T^2
    path = write(tmp_path, "model m {\n    input Tx512\n    attention 8 -> macs=1024*T^2 + 1048576*T\n"
                           "} -> macs=1,024*T^2 + 1,048,576*T\n")
    proc = nnc("check", path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "expectations: 2 checked, 2 hold, 0 differ"


def test_a_power_is_checked_and_bounded(tmp_path):
    wrong = write(tmp_path, "model m {\n    input Tx512\n    attention 8 -> macs=1024*T^3 + 1048576*T\n}\n")
    codes = [e["code"] for e in errors_of(json_of(wrong, status=1))]
    assert codes == ["E303"]
    huge = write(tmp_path, "model m {\n    input 4\n    dense 2^99\n}\n")
    (error,) = errors_of(json_of(huge, status=1))
    assert error["code"] == "E104" and "exponent" in error["message"]
    # a block parameter squared: dense 3^2 = 9 units on 4 inputs: 4*9 + 9 = 45 parameters
    squared = write(tmp_path, "block b(n) {\n    dense n^2\n}\nmodel m {\n    input 4\n    b(3) -> params=45\n}\n")
    assert nnc("check", squared).returncode == 0


def test_a_misgrouped_number_after_the_first_is_reported_once(tmp_path):
    path = write(tmp_path, "model m {\n    input Tx512\n    attention 8\n} -> macs=1,024*T^2 + 1,048,57*T\n")
    assert [e["code"] for e in errors_of(json_of(path, status=1))] == ["E006"]
