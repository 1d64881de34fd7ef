"""`nnc diagram` details for handouts: what a folded block holds, one label for a tensor that feeds
several branches, `--labels changed`, captions only from names the author wrote, models side by
side in the order of `compare`, `--legend`, and `--show` with the summary's operation counts.

Checked through the SVG that `dot` renders (see test_diagram.svg_parts); expected numbers are
worked out in the tests or taken from the papers the examples follow.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, run_nnc
from test_diagram import svg_parts

NBSP = "\u00a0"
ARROW = "\u2192"


def draw(tmp_path: Path, text: str, *options) -> dict:
    source = tmp_path / "m.nn"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "m.svg"
    proc = run_nnc("diagram", source, "-o", out, *options)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    return svg_parts(out)


def lines(texts: list) -> list:
    """A box's lines as read, indentation left out."""
    return [t.replace(NBSP, "").strip() for t in texts]


# --- folded blocks show what they hold --------------------------------------------------------


def test_a_folded_inception_module_lists_its_branches(tmp_path):
    out = tmp_path / "g.svg"
    proc = run_nnc("diagram", EXAMPLES / "googlenet.nn", "--model", "googlenet", "--depth", "1", "-o", out)
    assert proc.returncode == 0, proc.stderr
    nodes = svg_parts(out)["node"]
    box = next(lines(t) for t in nodes.values() if t and t[0] == "inception_3a: inception")
    # Szegedy et al. 2014, Table 1, inception (3a): #1x1 64, #3x3 reduce 96, #3x3 128, #5x5 reduce 16,
    # #5x5 32, pool proj 32 (3x3 max pool); every convolution followed by a ReLU
    text = " ".join(box[1:])
    assert text == (f"b1: conv 1x1, 64, relu b3: conv 1x1, 96, relu {ARROW} conv 3x3, 128, relu "
                    f"b5: conv 1x1, 16, relu {ARROW} conv 5x5, 32, relu pool: max pool 3x3 {ARROW} "
                    f"conv 1x1, 32, relu concat")


def test_a_folded_residual_block_shows_its_stride_and_shortcut(tmp_path):
    out = tmp_path / "r.svg"
    assert run_nnc("diagram", EXAMPLES / "resnet18.nn", "--depth", "1", "-o", out).returncode == 0
    nodes = svg_parts(out)["node"]
    box = next(lines(t) for t in nodes.values() if t and t[0] == "layer2_0: basic_down")
    # torchvision's BasicBlock with a downsample: 3x3/2 conv, BN, ReLU, 3x3 conv, BN; 1x1/2 conv + BN
    assert " ".join(box[1:]) == (f"main: conv 3x3, 128, /2 {ARROW} batch norm {ARROW} relu {ARROW} "
                                 f"conv 3x3, 128 {ARROW} batch norm downsample: conv 1x1, 128, /2 {ARROW} "
                                 f"batch norm add {ARROW} relu")


def test_a_long_folded_group_is_cut_short_with_its_count(tmp_path):
    body = "; ".join(f"dense {n} relu" for n in range(100, 60, -2))  # 20 different layers
    parts = draw(tmp_path, f"block deep() {{ {body} }}\nmodel m {{\n input 128\n d: deep()\n}}\n", "--depth", "1")
    box = next(t for t in parts["node"].values() if t and t[0] == "d: deep")
    assert len(box) <= 1 + 10  # the title and at most 10 lines
    assert box[-1] == "... (20 layers in all)"


# --- one label for a tensor feeding several branches -------------------------------------------


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "inception_naive_vs_bottleneck"])
def test_no_tensor_is_labelled_twice_where_it_fans_out(name, tmp_path):
    out = tmp_path / "d.svg"
    assert run_nnc("diagram", EXAMPLES / f"{name}.nn", "-o", out).returncode == 0
    edges = svg_parts(out)["edge"]
    tails: dict = {}
    for (tail, head), label in edges.items():
        tails.setdefault(tail, []).append(label)
    for tail, labels in tails.items():
        assert sum(1 for label in labels if label) <= 1, (tail, labels)
    # the four branches of every Inception module start at one junction, which the tensor reaches once
    junctions = [tail for tail, labels in tails.items() if len(labels) >= 2]
    assert junctions and all(all(label == "" for label in tails[j]) for j in junctions)
    for junction in junctions:
        into = [label for (tail, head), label in edges.items() if head == junction]
        assert len(into) == 1 and into[0]


def test_the_inception_input_is_labelled_once(tmp_path):
    out = tmp_path / "d.svg"
    assert run_nnc("diagram", EXAMPLES / "inception_naive_vs_bottleneck.nn", "--model", "naive",
                   "-o", out).returncode == 0
    labels = list(svg_parts(out)["edge"].values())
    assert labels.count("128x128x512") == 2  # into the junction, and out of the max pool into the concat


# --- --labels changed --------------------------------------------------------------------------

CHAIN = """model m {
    input 8x8x3
    conv2d 4 k=3 pad=same
    batchnorm
    activation relu
    maxpool2d 2
    flatten
    dropout 0.5
    dense 10
}
"""


def test_labels_changed_leaves_out_the_shapes_that_do_not_change(tmp_path):
    edges = draw(tmp_path, CHAIN, "--labels", "changed")["edge"]
    shown = [edges[(f"m0_{a}", f"m0_{b}")] for a, b in
             [("in", "L0"), ("L0", "L1"), ("L1", "L2"), ("L2", "L3"), ("L3", "L4"), ("L4", "L5"), ("L5", "L6"),
              ("L6", "out")]]
    # input 8x8x3 (in its box); conv 3x3, 4, same: 8x8x4; batch norm and relu keep it; pool /2: 4x4x4;
    # flatten: 4*4*4 = 64; dropout keeps it; dense: 10
    assert shown == ["", "8x8x4", "", "", "4x4x4", "64", "", "10"]
    assert list(draw(tmp_path, CHAIN, "--labels", "none")["edge"].values()) == [""] * 8
    assert "" not in draw(tmp_path, CHAIN)["edge"].values()  # all, by default


# --- captions: names the author wrote -----------------------------------------------------------

AUTO = """block res(c) {
    add {
        branch { conv2d c k=3 pad=same }
        branch {}
    }
}
model m {
    input 8x8x4
    res(4)
    concat {
        branch { conv2d 4 k=1 }
        branch { conv2d 4 k=1 }
    }
    mine: add {
        branch a { conv2d 8 k=1 }
        branch b { }
    }
}
"""


def test_made_up_names_are_no_captions(tmp_path):
    captions = [t[0] for t in draw(tmp_path, AUTO)["cluster"].values() if t]
    assert sorted(captions) == sorted(["res", "mine: add", "a", "b"])
    folded = [t[0] for t in draw(tmp_path, AUTO, "--depth", "1")["node"].values() if t]
    assert "res" in folded and "concat" in folded and "mine: add" in folded


# --- models side by side in the order of compare -------------------------------------------------

TWO = """model second {
    input 4
    dense 2
}
model first {
    input 4
    dense 3
}
"""


@pytest.mark.parametrize("compare, options, order", [
    ("", (), ["second", "first"]),  # the file's order
    ("compare first, second\n", (), ["first", "second"]),
    ("compare first, second\n", ("--model", "second", "--model", "first"), ["second", "first"]),  # as asked
])
def test_models_side_by_side_follow_compare(compare, options, order, tmp_path):
    clusters = draw(tmp_path, TWO + compare, *options)["cluster"]
    assert [clusters[f"cluster_m{n}_model"][0] for n in range(2)] == order


# --- legend ----------------------------------------------------------------------------------------


def test_legend_explains_what_the_drawing_shows(tmp_path):
    parts = draw(tmp_path, CHAIN, "--legend", "--labels", "changed")
    legend = parts["node"]["legend"]
    assert legend[0] == "Legend"
    for entry in ("convolution", "normalization", "pooling", "activation", "dense, embedding",
                  "flatten, reshape, padding, upsampling", "dropout (dashed border)"):
        assert entry in legend
    assert "recurrent" not in legend and "concat, add (oval)" not in legend  # not in this drawing
    assert any("where it changes" in t for t in legend)
    assert "legend" not in draw(tmp_path, CHAIN)["node"]


# --- --show: the summary's operation names -----------------------------------------------------------

TINY = """model tiny {
    input 28x28x1
    conv2d 32 k=3 pad=same relu
    maxpool2d 2
    flatten
    dense 10
}
"""


def bytes_of(text: str) -> float:
    value, unit = re.fullmatch(r"memory ([\d,.]+) (B|kB|MB|GB|KiB|MiB)", text).groups()
    return float(value.replace(",", "")) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 2**20}[unit]


def test_show_takes_the_operation_names_of_the_summary(tmp_path):
    from nnlang.choices import OPS

    for name in OPS:  # every name --ops takes
        assert draw(tmp_path, TINY, "--show", name)["node"]
    nodes = draw(tmp_path, TINY, "--show", "flops,flops-all,pool_ops,memory")["node"]
    conv, pool, dense = nodes["m0_L0"], nodes["m0_L1"], nodes["m0_L3"]
    macs = 28 * 28 * 32 * 3 * 3  # each output value: a 3x3x1 window
    outputs = 28 * 28 * 32
    # a layer shows the costs it has: the convolution no pool ops, the pool no FLOPs
    assert conv[1:3] == [f"FLOPs {2 * macs:,}", f"FLOPs (all) {2 * macs + outputs + outputs:,}"]  # + bias, relu
    assert len(conv) == 4 and abs(bytes_of(conv[3]) - outputs * 4) <= 0.005 * outputs * 4  # float32
    assert pool[1:3] == [f"FLOPs (all) {14 * 14 * 32 * 4:,}", f"pool ops {14 * 14 * 32 * 4:,}"]  # 2x2 windows
    assert dense[1:3] == [f"FLOPs {2 * 6272 * 10:,}", f"FLOPs (all) {2 * 6272 * 10 + 10:,}"]


def test_show_memory_follows_dtype(tmp_path):
    nodes = draw(tmp_path, TINY, "--show", "memory", "--dtype", "float16")["node"]
    assert abs(bytes_of(nodes["m0_L0"][-1]) - 28 * 28 * 32 * 2) <= 0.005 * 28 * 28 * 32 * 2


def test_show_pool_ops_is_accepted_with_a_dash(tmp_path):
    nodes = draw(tmp_path, TINY, "--show", "pool-ops")["node"]
    assert nodes["m0_L1"][1] == f"pool ops {14 * 14 * 32 * 4:,}"
