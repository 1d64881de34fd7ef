"""The exam examples (examples/exam_*.nn) compiled by nnc, checked against
arithmetic written out here -- never against numbers copied from nnc.

Each example reproduces one exercise of a real exam sheet
(/work/shared/seeds/*.txt); its `->` expectations carry the correct values,
and its comments say where the sheet's answer key is wrong. Here the JSON
report is checked layer by layer: output shape, params (all trainable here),
MACs, then the totals.

MACs follow the contract: conv = H_out*W_out*C_out*(k_h*k_w*C_in/groups);
dense = inputs*units per position; recurrent = per-step
gates*units*(input + units) times the steps; pooling, flatten, dropout,
embedding, upsampling: 0. Where a model leaves its sequence length open
(`input T`), the counts that depend on it are expressions of T: the JSON
report gives them as {"expr", "text"} objects, evaluated here at several
lengths and compared with the arithmetic written as a function of T.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, nnc_in_process, nnc_json, run_nnc


class Of:
    """An expected count or dimension that depends on the sizes a model leaves open: the
    arithmetic as a function of them, `Of(lambda T: T*3*1024*(256 + 1024))`."""

    def __init__(self, function):
        self.function = function
        self.names = tuple(inspect.signature(function).parameters)

    def at(self, sizes: dict) -> int:
        return self.function(**{name: sizes[name] for name in self.names})


T = Of(lambda T: T)  # the open sequence length itself, as a dimension
#: the lengths at which an expression of T is evaluated
LENGTHS = [{"T": t} for t in (1, 2, 10, 1000)]


@dataclass
class L:
    """One expected row of the `layers` list."""

    name: str
    type: str
    shape: tuple
    params: int = 0
    macs: int = 0
    non_trainable: int = 0
    path: tuple = ()

    def as_row(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "path": list(self.path),
            "output_shape": list(self.shape),
            "params": self.params,
            "trainable_params": self.params - self.non_trainable,
            "non_trainable_params": self.non_trainable,
            "macs": self.macs,
        }


@dataclass
class M:
    """One expected model of the report."""

    name: str
    input_shape: tuple
    layers: list
    total_params: int  # written out independently of the rows, as the exam's "Total params"
    blocks: list = field(default_factory=list)  # (name, output_shape, params, macs), checked when given
    sizes: tuple = ()  # the sizes the input leaves open

    @property
    def output_shape(self) -> tuple:
        return self.layers[-1].shape


ROW_KEYS = ("name", "type", "path", "output_shape", "params", "trainable_params",
            "non_trainable_params", "macs")


# --------------------------------------------------------------------------
# 000 Exercise 1: CNN on RGB 28x28 (the contract's first file)
EXAM1 = M("exam1", (28, 28, 3), [
    L("conv2d_1", "conv2d", (28, 28, 32), 5*5*3*32 + 32, 28*28*32*(5*5*3)),
    L("conv2d_2", "conv2d", (24, 24, 64), 5*5*32*64 + 64, 24*24*64*(5*5*32)),
    L("maxpool2d_1", "maxpool2d", (12, 12, 64)),
    L("conv2d_3", "conv2d", (8, 8, 64), 5*5*64*64 + 64, 8*8*64*(5*5*64)),
    L("maxpool2d_2", "maxpool2d", (4, 4, 64)),
    L("flatten_1", "flatten", (4*4*64,)),
    L("dense_1", "dense", (512,), 1024*512 + 512, 1024*512),
    L("dense_2", "dense", (10,), 512*10 + 10, 512*10),
], total_params=686_090)

# 000 Exercise 2: embedding + GRU + dense on sequences of T tokens, T left open
GRU_KERAS = 3*(1024*(256 + 1024) + 2*1024)      # reset_after=True: two biases per gate
GRU_TEXTBOOK = 3*(1024*(256 + 1024) + 1024)     # one bias per gate (the key's 3,935,232)
GRU_STEP = 3*1024*(256 + 1024)                  # 3 gates, 1024 units, 256 inputs + 1024 recurrent
GRU_TEXT = M("gru_text", (T,), [
    L("embedding_1", "embedding", (T, 256), 62*256, 0),
    L("gru_1", "gru", (T, 1024), GRU_KERAS, Of(lambda T: T*GRU_STEP)),  # every step
    L("dense_1", "dense", (T, 62), 1024*62 + 62, Of(lambda T: T*1024*62)),  # every position
], total_params=4_017_726, sizes=("T",))

# 001 question 2: three 3x3 stride-2 'same' convs, 100/200/400 maps, 200x300x3
STRIDE2 = M("stride2_convs", (200, 300, 3), [
    L("conv2d_1", "conv2d", (100, 150, 100), (3*3*3 + 1)*100, 100*150*100*(3*3*3)),
    L("conv2d_2", "conv2d", (50, 75, 200), (3*3*100 + 1)*200, 50*75*200*(3*3*100)),
    L("conv2d_3", "conv2d", (25, 38, 400), (3*3*200 + 1)*400, 25*38*400*(3*3*200)),
], total_params=2_800 + 180_200 + 720_400)

# 002 Exercise 1: the Keras CIFAR-10 CNN
CIFAR = M("cifar10_cnn", (32, 32, 3), [
    L("conv2d_1", "conv2d", (32, 32, 4), 3*3*3*4 + 4, 32*32*4*(3*3*3)),
    L("maxpool2d_1", "maxpool2d", (16, 16, 4)),
    L("conv2d_2", "conv2d", (16, 16, 8), 3*3*4*8 + 8, 16*16*8*(3*3*4)),
    L("maxpool2d_2", "maxpool2d", (8, 8, 8)),
    L("flatten_1", "flatten", (8*8*8,)),
    L("dense_1", "dense", (28,), 512*28 + 28, 512*28),
    L("dense_2", "dense", (10,), 28*10 + 10, 28*10),
], total_params=15_062)

# 002 Exercise 3.1: stacked LSTM, look_back left open (T) and look_back = 10
LSTM1_STEP = 4*100*(1 + 100)
LSTM2_STEP = 4*50*(100 + 50)
STACKED = M("stacked_lstm", (T, 1), [
    L("lstm_1", "lstm", (T, 100), 4*(100*(1 + 100) + 100), Of(lambda T: T*LSTM1_STEP)),
    L("dropout_1", "dropout", (T, 100)),
    L("lstm_2", "lstm", (50,), 4*(50*(100 + 50) + 50), Of(lambda T: T*LSTM2_STEP)),  # reads all T steps
    L("dropout_2", "dropout", (50,)),
    L("dense_1", "dense", (1,), 50*1 + 1, 50*1),
], total_params=40_800 + 30_200 + 51, sizes=("T",))
STACKED_LB10 = M("stacked_lstm_lb10", (10, 1), [
    L("lstm_1", "lstm", (10, 100), 4*(100*(1 + 100) + 100), 10*LSTM1_STEP),
    L("dropout_1", "dropout", (10, 100)),
    L("lstm_2", "lstm", (50,), 4*(50*(100 + 50) + 50), 10*LSTM2_STEP),
    L("dropout_2", "dropout", (50,)),
    L("dense_1", "dense", (1,), 50*1 + 1, 50*1),
], total_params=71_051)

# 002 Exercise 3.2: MNIST convolutional autoencoder (missing filters 8, 8, 16)
AUTOENC = M("mnist_autoencoder", (28, 28, 1), [
    L("conv2d_1", "conv2d", (28, 28, 16), 3*3*1*16 + 16, 28*28*16*(3*3*1)),
    L("maxpool2d_1", "maxpool2d", (14, 14, 16)),
    L("conv2d_2", "conv2d", (14, 14, 8), 3*3*16*8 + 8, 14*14*8*(3*3*16)),
    L("maxpool2d_2", "maxpool2d", (7, 7, 8)),
    L("conv2d_3", "conv2d", (7, 7, 8), 3*3*8*8 + 8, 7*7*8*(3*3*8)),
    L("maxpool2d_3", "maxpool2d", (4, 4, 8)),        # 'same': ceil(7/2)
    L("conv2d_4", "conv2d", (4, 4, 8), 3*3*8*8 + 8, 4*4*8*(3*3*8)),
    L("upsample2d_1", "upsample2d", (8, 8, 8)),
    L("conv2d_5", "conv2d", (8, 8, 8), 3*3*8*8 + 8, 8*8*8*(3*3*8)),
    L("upsample2d_2", "upsample2d", (16, 16, 8)),
    L("conv2d_6", "conv2d", (14, 14, 16), 3*3*8*16 + 16, 14*14*16*(3*3*8)),  # valid: 16-3+1
    L("upsample2d_3", "upsample2d", (28, 28, 16)),
    L("conv2d_7", "conv2d", (28, 28, 1), 3*3*16*1 + 1, 28*28*1*(3*3*16)),
], total_params=160 + 1160 + 584 + 584 + 584 + 1168 + 145)

# 003: five blocks of conv2d 32 k=3 same + maxpool 2 on 256x256x3
B_PARAMS = [32*(3*3*3 + 1)] + [32*(3*3*32 + 1)]*4
B_MACS = [256*256*32*(3*3*3), 128*128*32*(3*3*32), 64*64*32*(3*3*32),
          32*32*32*(3*3*32), 16*16*32*(3*3*32)]
B_SIDES = [256, 128, 64, 32, 16]


def _five_blocks(paths: bool) -> list:
    rows = []
    for i, side in enumerate(B_SIDES):
        path = (f"b{i + 1}",) if paths else ()
        rows.append(L(f"conv2d_{i + 1}", "conv2d", (side, side, 32), B_PARAMS[i], B_MACS[i], path=path))
        rows.append(L(f"maxpool2d_{i + 1}", "maxpool2d", (side // 2, side // 2, 32), path=path))
    return rows


FIVE = M("five_conv_blocks", (256, 256, 3), _five_blocks(False), total_params=896 + 4*9248)
FIVE_B = M("five_conv_blocks_b", (256, 256, 3), _five_blocks(True), total_params=896 + 4*9248,
           blocks=[(f"b{i + 1}", (side // 2, side // 2, 32), B_PARAMS[i], B_MACS[i])
                   for i, side in enumerate(B_SIDES)])

# 004 question 1: dense 1200 -> 500 -> 750 -> 25, tanh, no bias
DENSE_NB = M("dense_no_bias", (1200,), [
    L("dense_1", "dense", (500,), 500*1200, 1200*500),
    L("dense_2", "dense", (750,), 750*500, 500*750),
    L("dense_3", "dense", (25,), 25*750, 750*25),
], total_params=600_000 + 375_000 + 18_750)

# 004 question 3: the homework CNN (layers labelled conv1..fc2 in the example)
HOMEWORK = M("homework_cnn", (256, 256, 3), [
    L("conv1", "conv2d", (256, 256, 128), 3*3*3*128 + 128, 256*256*128*(3*3*3)),
    L("conv2", "conv2d", (128, 128, 64), 5*5*128*64 + 64, 128*128*64*(5*5*128)),
    L("conv3", "conv2d", (61, 61, 128), 7*7*64*128 + 128, 61*61*128*(7*7*64)),
    L("pool1", "maxpool2d", (30, 30, 128)),
    L("conv4", "conv2d", (24, 24, 64), 7*7*128*64 + 64, 24*24*64*(7*7*128)),
    L("conv5", "conv2d", (18, 18, 128), 7*7*64*128 + 128, 18*18*128*(7*7*64)),
    L("flat", "flatten", (18*18*128,)),
    L("fc1", "dense", (41_472,), 41_472*41_472 + 41_472, 41_472*41_472),
    L("fc2", "dense", (10,), 41_472*10 + 10, 41_472*10),
], total_params=3_584 + 204_864 + 401_536 + 401_472 + 401_536 + 1_719_968_256 + 414_730)

# 002 Exercise 4: 2 inputs -> 2 sigmoid neurons -> 1, no biases; the same network with ReLU
BACKPROP = [M(name, (2,), [
    L("dense_1", "dense", (2,), 2*2, 2*2),
    L("dense_2", "dense", (1,), 2*1, 2*1),
], total_params=4 + 2) for name in ("exam_backprop", "exam_backprop_relu")]

# 004 question 2: a perceptron, 3 inputs, 2 outputs, a bias: W (2x3) and b (2)
PERCEPTRON = M("exam_perceptron", (3,), [L("dense_1", "dense", (2,), 2*3 + 2, 3*2)], total_params=8)

EXAMPLE_MODELS = {
    "exam_backprop.nn": BACKPROP,
    "exam_perceptron.nn": [PERCEPTRON],
    "exam_cnn_rgb28.nn": [EXAM1],
    "exam_gru_text.nn": [GRU_TEXT],
    "exam_stride2_convs.nn": [STRIDE2],
    "exam_cifar10_cnn.nn": [CIFAR],
    "exam_stacked_lstm.nn": [STACKED, STACKED_LB10],
    "exam_mnist_autoencoder.nn": [AUTOENC],
    "exam_five_conv_blocks.nn": [FIVE, FIVE_B],
    "exam_dense_no_bias.nn": [DENSE_NB],
    "exam_homework_cnn.nn": [HOMEWORK],
}


def _form(value):
    """The value with every expression (an Of, or a JSON expression object) replaced by a marker:
    where the expected value is an expression, the report must give one, and only there."""
    if isinstance(value, (list, tuple)):
        return [_form(v) for v in value]
    if isinstance(value, dict):
        return "expression" if set(value) == {"expr", "text"} else {k: _form(v) for k, v in value.items()}
    return "expression" if isinstance(value, Of) else value


def _got_at(value, sizes: dict):
    """A JSON value with each expression object evaluated at `sizes` (docs/json.md)."""
    if isinstance(value, list):
        return [_got_at(v, sizes) for v in value]
    if isinstance(value, dict):
        if set(value) == {"expr", "text"}:
            assert re.fullmatch(r"[0-9A-Za-z_ ()+*/-]+", value["expr"]), value
            return eval(value["expr"], {"__builtins__": {}}, dict(sizes))
        return {k: _got_at(v, sizes) for k, v in value.items()}
    return value


def _want_at(value, sizes: dict):
    """An expected value with each Of evaluated at `sizes`."""
    if isinstance(value, (list, tuple)):
        return [_want_at(v, sizes) for v in value]
    if isinstance(value, dict):
        return {k: _want_at(v, sizes) for k, v in value.items()}
    return value.at(sizes) if isinstance(value, Of) else value


def check_model(got: dict, want: M) -> None:
    assert got["name"] == want.name
    assert got.get("sizes", []) == list(want.sizes), want.name
    found = {"input_shape": got["input_shape"], "output_shape": got["output_shape"],
             "layers": [{k: layer.get(k) for k in ROW_KEYS} for layer in got["layers"]]}
    wanted = {"input_shape": list(want.input_shape), "output_shape": list(want.output_shape),
              "layers": [layer.as_row() for layer in want.layers]}
    assert _form(found) == _form(wanted), want.name  # an expression exactly where one is expected

    totals = got["totals"]
    assert sum(layer.params for layer in want.layers) == want.total_params  # the test's own arithmetic
    non_trainable = sum(l.non_trainable for l in want.layers)
    assert totals["params"] == want.total_params, want.name
    assert totals["trainable_params"] == want.total_params - non_trainable
    assert totals["non_trainable_params"] == non_trainable
    assert (_form(totals["macs"]) == "expression") == any(isinstance(l.macs, Of) for l in want.layers)
    for sizes in LENGTHS if want.sizes else [{}]:
        assert _got_at(found, sizes) == _want_at(wanted, sizes), (want.name, sizes)
        macs = sum(_want_at(layer.macs, sizes) for layer in want.layers)
        assert _got_at(totals["macs"], sizes) == macs, (want.name, sizes)

    if want.blocks:
        blocks = [(b["name"], b.get("path"), b["output_shape"], b["params"], b["macs"])
                  for b in got["blocks"]]
        assert blocks == [(name, [], list(shape), params, macs)
                          for name, shape, params, macs in want.blocks], want.name


# --------------------------------------------------------------------------
def test_every_example_is_covered():
    on_disk = {p.name for p in EXAMPLES.glob("exam_*.nn")}
    assert set(EXAMPLE_MODELS) <= on_disk
    assert on_disk <= set(EXAMPLE_MODELS), "an exam example has no test here"


@pytest.mark.parametrize("example", sorted(EXAMPLE_MODELS))
def test_example_report(example):
    report = nnc_json(EXAMPLES / example, in_process=True)
    want = EXAMPLE_MODELS[example]
    assert [m["name"] for m in report["models"]] == [m.name for m in want]
    for got, expected in zip(report["models"], want):
        check_model(got, expected)
    errors = [d for d in report.get("diagnostics", []) if d.get("severity") == "error"]
    assert errors == []


@pytest.mark.parametrize("example", sorted(EXAMPLE_MODELS))
def test_example_text_and_check(example):
    for args in ((EXAMPLES / example,), ("check", EXAMPLES / example)):
        proc = nnc_in_process(*args)
        assert_no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
        assert "error[" not in proc.stderr


def test_an_open_length_reads_as_formulas_of_it():
    """The text report of the GRU exercise: what each token costs, times T."""
    out = nnc_in_process(EXAMPLES / "exam_gru_text.nn").stdout
    rows = {line.split("│")[1].split()[0]: [cell.strip() for cell in line.split("│")[1:-1]]
            for line in out.splitlines() if line.startswith("│ ")}
    assert rows["gru_1"][1] == "(None, T, 1024)" and rows["gru_1"][-1] == f"{GRU_STEP:,}*T"
    assert rows["dense_1"][-1] == f"{1024*62:,}*T" and rows["embedding_1"][-1] == "0"
    assert f"\n MACs: {GRU_STEP + 1024*62:,}*T\n" in out
    assert "time step" not in out


def test_a_length_given_with_set_is_the_length_written_in():
    """`--set T=10` makes the open stacked LSTM the one written with look_back = 10."""
    report = nnc_json(EXAMPLES / "exam_stacked_lstm.nn", "--set", "T=10", in_process=True)
    open_model, written = report["models"]
    check_model(open_model, M("stacked_lstm", STACKED_LB10.input_shape, STACKED_LB10.layers,
                              STACKED_LB10.total_params))
    check_model(written, STACKED_LB10)


# Exact numbers the sheets ask for, spelled out once more against the key.
def test_key_corrections_arithmetic():
    assert 686_090*8 == 5_488_720                                   # 000 Q2: bytes
    assert round(5_488_720/10**6, 2) == 5.49                        # MB (SI)
    assert round(5_488_720/2**20, 2) == 5.23                        # MiB: the key's "5,23MB"
    assert GRU_KERAS - GRU_TEXTBOOK == 3*1024 == 3_072              # 000 Ex2
    assert GRU_TEXTBOOK == 3_935_232
    assert GRU_STEP == 3_932_160 and 1024*62 == 63_488                # 000 Ex2: MACs per token
    assert 2_800 + 180_200 + 720_400 != 901_600                     # 001: key's total
    assert (100*150*100 + 50*75*200 + 25*38*400)*4 == 10_520_000    # 001: activations, float32
    assert 32*(3*3*32 + 1) == 9248 != 9284                          # 003
    assert 600_000 + 375_000 + 18_750 == 993_750 != 453_750         # 004 Q1
    assert (128 - 7)//2 + 1 == 61 and (61 - 2)//2 + 1 == 30         # 004 Q3


# --------------------------------------------------------------------------
# Conventions: the GRU count under keras / pytorch / textbook.

def _without_counts(text: str) -> str:
    """The example with its params=/macs= expectations removed (shapes kept)."""
    return re.sub(r"\s(params|macs)=[0-9_,]+(\*[A-Za-z]\w*)*", "", text)


@pytest.mark.parametrize("convention, gru_params", [
    ("keras", 3*(1024*(256 + 1024) + 2*1024)),
    ("pytorch", 3*(1024*(256 + 1024) + 2*1024)),   # b_ih + b_hh, same as reset_after=True
    ("textbook", 3*(1024*(256 + 1024) + 1024)),    # the key's 3,935,232
])
def test_gru_conventions(tmp_path, convention, gru_params):
    copy = tmp_path / "gru_text.nn"
    copy.write_text(_without_counts((EXAMPLES / "exam_gru_text.nn").read_text()))
    report = nnc_json(copy, "--convention", convention, in_process=True)
    (model,) = report["models"]
    layers = {layer["name"]: layer for layer in model["layers"]}
    assert copy.read_text().count("params=") == 0 and copy.read_text().count("macs=") == 0
    assert layers["gru_1"]["output_shape"] == [{"expr": "T", "text": "T"}, 1024]
    assert layers["gru_1"]["params"] == gru_params
    assert layers["gru_1"]["trainable_params"] == gru_params
    assert layers["embedding_1"]["params"] == 62*256
    assert layers["dense_1"]["params"] == 1024*62 + 62
    assert model["totals"]["params"] == 62*256 + gru_params + 1024*62 + 62


def test_gru_example_under_textbook_fails_its_keras_expectation():
    proc = nnc_in_process(EXAMPLES / "exam_gru_text.nn", "--convention", "textbook")
    assert_no_traceback(proc)
    assert proc.returncode == 1
    message = proc.stderr.replace(",", "").replace("_", "")
    assert "3938304" in message and "3935232" in message


# --------------------------------------------------------------------------
# The flags the comments name for the memory questions are accepted.

@pytest.mark.parametrize("example, flags, answer", [
    # 000 Q2: 686,090*8 = 5,488,720 B = 5.49 MB = 5.23 MiB (the key's "5,23MB")
    ("exam_cnn_rgb28.nn", ("--dtype", "float64", "--units", "si"), r"5\.49\s*MB\b"),
    ("exam_cnn_rgb28.nn", ("--dtype", "float64", "--units", "iec"), r"5\.23\s*MiB\b"),
    # 001: 903,400*4 = 3,613,600 B = 3.61 MB of float32 parameters
    ("exam_stride2_convs.nn", ("--dtype", "float32", "--batch", "50"), r"3\.61\s*MB\b"),
    ("exam_stride2_convs.nn", ("--batch", "1"), r"3\.61\s*MB\b"),
])
def test_memory_flags(example, flags, answer):
    proc = nnc_in_process(EXAMPLES / example, *flags)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert re.search(answer, proc.stdout), proc.stdout


# --------------------------------------------------------------------------
# A wrong expectation (the 003 key's 9284) is a located compile error.

DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[^\]]+)\]: (?P<msg>.*)$",
                        re.MULTILINE)


def _copy_with_key_error(tmp_path):
    text = (EXAMPLES / "exam_five_conv_blocks.nn").read_text()
    index = text.index("params=9248")
    line = text.count("\n", 0, index) + 1
    copy = tmp_path / "five_blocks_key.nn"
    copy.write_text(text[:index] + "params=9284" + text[index + len("params=9248"):])
    return copy, line


@pytest.mark.parametrize("command", [(), ("check",)])
def test_wrong_expectation_is_an_error(tmp_path, command):
    copy, line = _copy_with_key_error(tmp_path)
    proc = run_nnc(*command, copy)
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    found = [m for m in DIAGNOSTIC.finditer(proc.stderr)]
    assert found, proc.stderr
    ours = [m for m in found if int(m["line"]) == line]
    assert ours, f"no error on line {line}:\n{proc.stderr}"
    (diagnostic,) = ours
    assert diagnostic["file"].endswith("five_blocks_key.nn")
    text_line = copy.read_text().splitlines()[line - 1]
    assert 1 <= int(diagnostic["col"]) <= len(text_line) + 1
    message = re.sub(r"(?<=\d)[,_ ](?=\d)", "", diagnostic["msg"])
    assert "9284" in message and "9248" in message, diagnostic["msg"]
    # Only that expectation is wrong.
    assert len([m for m in found if m["line"] != str(line)]) == 0, proc.stderr
