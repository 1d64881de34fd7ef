"""`nnc diagram`: Graphviz drawings checked through the SVG that `dot` really renders.

Nodes of layers are `m{model}_L{layer index}`, clusters `cluster_m{model}_g{n}`;
the SVG keeps both as the <title> of each <g class="node|cluster|edge">, so the
drawing's structure can be read back and compared with the JSON report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers_nnc import EXAMPLES, ROOT, assert_no_traceback, nnc_json, run_nnc
from nnlang.driver import compile_text
from nnlang.emit import dot

SVG = "{http://www.w3.org/2000/svg}"

# An Inception module (four branches, one with two layers), a residual block with an
# identity shortcut, a labelled repeat and a labelled concat at model level.
NETWORK = """
block inception(c1, r3, c3, r5, c5, pp) {
    concat {
        branch b1   { conv2d c1 k=1 relu }
        branch b3   { conv2d r3 k=1 relu; conv2d c3 k=3 pad=1 relu }
        branch b5   { conv2d r5 k=1 relu; conv2d c5 k=5 pad=2 relu }
        branch pool { maxpool2d 3 s=1 pad=1; conv2d pp k=1 relu }
    }
}

block residual(c) {
    add {
        branch main { conv2d c k=3 pad=1 bias=false; batchnorm; activation relu
                      conv2d c k=3 pad=1 bias=false; batchnorm }
        branch shortcut {}
    }
    activation relu
}

model net {
    input 28x28x192
    inception_3a: inception(64, 96, 128, 16, 32, 32)   -> 28x28x256
    stage: repeat 3 { residual(256) }
    pool: maxpool2d 2
    mix: concat {
        branch left { conv2d 32 k=1 }
        branch right { conv2d 32 k=3 pad=same }
    }
    flatten
    head: dense 10 softmax
}

model tiny {
    input 8x8x3
    conv2d 4 k=3 s=2 pad=1 relu
}
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("diagram") / "network.nn"
    path.write_text(NETWORK, encoding="utf-8")
    return path


def draw(source: Path, out: Path, *options) -> subprocess.CompletedProcess:
    proc = run_nnc("diagram", source, "-o", out, *options)
    assert_no_traceback(proc)
    return proc


def svg_parts(path: Path) -> dict:
    """Nodes (title -> text lines), clusters (title -> text lines) and edges ((tail, head) -> label)."""
    root = ET.parse(path).getroot()
    parts = {"node": {}, "cluster": {}, "edge": {}}
    for group in root.iter(f"{SVG}g"):
        kind = group.get("class")
        if kind not in parts:
            continue
        title = group.find(f"{SVG}title").text
        texts = ["".join(t.itertext()) for t in group.iter(f"{SVG}text")]
        if kind == "edge":
            tail, head = title.split("->")
            parts["edge"][(tail, head)] = " ".join(texts)
        else:
            parts[kind][title] = texts
    return parts


def shape_text(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def layer_nodes(nodes, model_number: int = 0) -> list:
    return sorted(n for n in nodes if re.fullmatch(rf"m{model_number}_L\d+", n))


# --- structure, compared with the JSON report ---------------------------------------


@pytest.mark.parametrize("name", ["network", "googlenet", "inception_naive_vs_bottleneck", "resnet18"])
def test_one_node_per_layer_one_cluster_per_group_shapes_on_edges(name, network, tmp_path):
    source = network if name == "network" else EXAMPLES / f"{name}.nn"
    out = tmp_path / "d.svg"
    proc = draw(source, out)
    assert proc.returncode == 0, proc.stderr
    report = nnc_json(source)
    parts = svg_parts(out)
    for number, model in enumerate(report["models"]):
        layers = model["layers"]
        nodes = layer_nodes(parts["node"], number)
        assert len(nodes) == len(layers)
        assert nodes == sorted(f"m{number}_L{i}" for i in range(len(layers)))

        clusters = [c for c in parts["cluster"] if c.startswith(f"cluster_m{number}_g")]
        groups = model["blocks"]  # every block call, labelled join and labelled repeat
        branches = [b for g in groups for b in g.get("branches", [])]
        assert len(clusters) == len(groups) + len(branches)
        titles = [parts["cluster"][c][0] if parts["cluster"][c] else "" for c in clusters]
        for group in groups + branches:
            # a name the compiler made up (block_N for an unlabelled call, concat_N, branch_N) is no
            # caption: an unlabelled call shows its block's name, an unnamed branch or join nothing
            made_up = re.fullmatch(rf"({re.escape(group.get('block') or '')}|concat|add|branch)_\d+", group["name"])
            if made_up:
                assert group["name"] not in titles
                if group.get("block"):
                    assert group["block"] in titles
                continue
            assert any(t == group["name"] or t.startswith(group["name"] + ":") or t.startswith(group["name"] + " ")
                       for t in titles), group["name"]

        edges = {k: v for k, v in parts["edge"].items() if k[0].startswith(f"m{number}_")}
        tails = set()
        for (tail, head), label in edges.items():
            match = re.fullmatch(rf"m{number}_L(\d+)", tail)
            if match:
                tails.add(int(match.group(1)))
                assert label == shape_text(layers[int(match.group(1))]["output_shape"]), (tail, head)
            elif tail == f"m{number}_in":
                assert label == shape_text(model["input_shape"])
        assert tails == set(range(len(layers))), "every layer's output flows somewhere"
        assert edges[(f"m{number}_L{len(layers) - 1}", f"m{number}_out")] == shape_text(model["output_shape"])
        assert f"m{number}_in" in parts["node"] and f"m{number}_out" in parts["node"]


def test_an_inception_module_is_four_columns_joined_by_a_concat(network, tmp_path):
    out = tmp_path / "d.svg"
    assert draw(network, out, "--model", "net").returncode == 0
    parts = svg_parts(out)
    layers = nnc_json(network)["models"][0]["layers"]
    concat = next(i for i, layer in enumerate(layers) if layer["type"] == "concat")
    into = {tail: label for (tail, head), label in parts["edge"].items() if head == f"m0_L{concat}"}
    assert sorted(into.values()) == ["28x28x128", "28x28x32", "28x28x32", "28x28x64"]
    branch_of = {f"m0_L{i}": (layer["path"] or [""])[-1] for i, layer in enumerate(layers)}
    assert sorted(branch_of[tail] for tail in into) == ["b1", "b3", "b5", "pool"]
    # the four columns start on one rank: their first nodes are drawn at the same height
    firsts = [next(f"m0_L{i}" for i, layer in enumerate(layers) if layer["path"][-1:] == [b])
              for b in ("b1", "b3", "b5", "pool")]
    root = ET.parse(out).getroot()
    tops = set()
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node" and group.find(f"{SVG}title").text in firsts:
            shape = group.find(f"{SVG}path")
            shape = shape if shape is not None else group.find(f"{SVG}polygon")
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", shape.get("d") or shape.get("points"))]
            tops.add(round(min(numbers[1::2]), 1))
    assert len(tops) == 1


def test_identity_shortcut_and_repeat_count(network, tmp_path):
    out = tmp_path / "d.svg"
    assert draw(network, out, "--model", "net").returncode == 0
    parts = svg_parts(out)
    titles = {c: texts[0] for c, texts in parts["cluster"].items()}
    assert "stage x3" in titles.values()
    assert "mix: concat" in titles.values()
    assert "inception_3a: inception" in titles.values()
    identities = [n for n, texts in parts["node"].items() if texts == ["identity"]]
    assert len(identities) == 3  # one per residual block
    for node in identities:
        assert sum(1 for (tail, head) in parts["edge"] if head == node) == 1
        assert [label for (tail, head), label in parts["edge"].items() if tail == node] == ["28x28x256"]


def test_layer_labels_name_the_kind_and_hyper_parameters(tmp_path):
    source = tmp_path / "m.nn"
    source.write_text("model m {\n input 64x64x3\n conv1: conv2d 64 k=5 s=2 pad=2 relu\n"
                      " maxpool2d 3 s=2 pad=1\n dropout 0.5\n flatten\n dense 10 softmax\n}\n")
    out = tmp_path / "m.svg"
    assert draw(source, out, "--show", "params,macs").returncode == 0
    nodes = svg_parts(out)["node"]
    assert nodes["m0_L0"] == ["conv1", ": conv 5x5, 64, /2, pad 2, relu", "params 4,864", "MACs 4,915,200"]
    assert nodes["m0_L1"] == ["max pool 3x3, /2, pad 1"]
    assert nodes["m0_L2"] == ["dropout 0.5"]
    assert nodes["m0_L4"] == ["dense 10, softmax", "params 163,850", "MACs 163,840"]
    assert nodes["m0_in"] == ["input", "64x64x3"]


# --- options ----------------------------------------------------------------------------


def test_depth_folds_blocks_into_one_node(network, tmp_path):
    out = tmp_path / "d.svg"
    assert draw(network, out, "--model", "net", "--depth", "1", "--show", "params,macs").returncode == 0
    parts = svg_parts(out)
    model = nnc_json(network)["models"][0]
    assert parts["cluster"] == {}
    folded = {n: texts for n, texts in parts["node"].items() if re.fullmatch(r"m0_G\d+", n)}
    assert [texts[0] for texts in folded.values()] == ["inception_3a: inception", "stage x3", "mix: concat"]
    stage = next(texts for texts in folded.values() if texts[0] == "stage x3")
    # one repetition's insides, in short form (no padding, no 'no bias'): the residual block of NETWORK
    assert stage[-2:] == [f"params {3 * (2 * (9 * 256 * 256 + 4 * 256)):,}", f"MACs {3 * 2 * 28 * 28 * 256 * 9 * 256:,}"]
    assert " ".join(stage[1:-2]).replace("\u00a0", "").replace("  ", " ") == (
        "residual: [conv 3x3, 256 \u2192 batch norm \u2192 relu \u2192 conv 3x3, 256 \u2192 batch norm | identity] "
        "\u2192 add \u2192 relu")
    block = next(b for b in model["blocks"] if b["name"] == "inception_3a")
    assert f"params {block['params']:,}" in folded["m0_G1"] and f"MACs {block['macs']:,}" in folded["m0_G1"]
    top_level = [layer for layer in model["layers"] if not layer["path"]]
    assert len(layer_nodes(parts["node"])) == len(top_level)
    # a folded block's outgoing edge carries the block's output shape
    assert parts["edge"][("m0_G1", "m0_G2")] == "28x28x256"

    assert draw(network, out, "--model", "net", "--depth", "2").returncode == 0
    parts = svg_parts(out)
    branch_nodes = [texts for n, texts in parts["node"].items() if n.startswith("m0_G")]
    assert ["b3", "conv 1x1, 96, relu", "conv 3x3, 128, pad 1, relu"] in branch_nodes


def test_show_adds_costs_to_blocks_and_the_title(network, tmp_path):
    out = tmp_path / "d.svg"
    assert draw(network, out, "--model", "net", "--show", "macs").returncode == 0
    parts = svg_parts(out)
    model = nnc_json(network)["models"][0]
    block = next(b for b in model["blocks"] if b["name"] == "inception_3a")
    cluster = next(texts for texts in parts["cluster"].values() if texts[0] == "inception_3a: inception")
    assert cluster[1:] == [f"MACs {block['macs']:,}"]
    assert not any("params" in " ".join(texts) for texts in parts["node"].values())
    root = ET.parse(out).getroot()
    title = [t.text for t in root.find(f"{SVG}g").findall(f"{SVG}text")]
    assert title == ["net", f"MACs {model['totals']['macs']:,}"]


def test_rankdir_and_stdout(network, tmp_path):
    proc = run_nnc("diagram", network, "--rankdir", "lr", "--model", "tiny")
    assert_no_traceback(proc)
    assert proc.returncode == 0
    assert proc.stdout.startswith("digraph nnc {") and "rankdir=LR" in proc.stdout
    assert "m1_" not in proc.stdout and "m0_L0" in proc.stdout


def test_every_model_is_drawn_in_its_own_cluster_unless_one_is_chosen(network, tmp_path):
    out = tmp_path / "d.svg"
    assert draw(network, out).returncode == 0
    clusters = svg_parts(out)["cluster"]
    assert clusters["cluster_m0_model"][0] == "net" and clusters["cluster_m1_model"][0] == "tiny"

    proc = draw(network, out, "--model", "tyni")
    assert proc.returncode == 2
    assert "no model 'tyni'" in proc.stderr and "tiny" in proc.stderr and "net" in proc.stderr


def test_png_and_pdf(network, tmp_path):
    png, pdf = tmp_path / "d.png", tmp_path / "d.pdf"
    assert draw(network, png, "--model", "tiny").returncode == 0
    assert draw(network, pdf, "--model", "tiny").returncode == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert pdf.read_bytes().startswith(b"%PDF-")


# --- determinism ----------------------------------------------------------------------


@pytest.mark.parametrize("extension", ["dot", "svg", "png", "pdf"])
def test_same_input_same_bytes(network, tmp_path, extension):
    first, second = tmp_path / f"a.{extension}", tmp_path / f"b.{extension}"
    assert draw(network, first, "--show", "params,macs").returncode == 0
    if extension == "pdf":  # the PDF's creation date would differ by a second
        import time

        time.sleep(1.1)
    assert draw(network, second, "--show", "params,macs").returncode == 0
    assert first.read_bytes() == second.read_bytes()


# --- escaping --------------------------------------------------------------------------

HOSTILE = 'a"<&\n>]};\\N\\G<script>alert(1)</script>&amp;\'é'


def hostile_model():
    compilation = compile_text(NETWORK)
    assert compilation.ok
    model = compilation.program.models[0]
    model.name = HOSTILE + "model"
    for layer in model.layers:
        layer.name, layer.label = HOSTILE + layer.name, HOSTILE + layer.name
    for group in model.groups():
        group.name = HOSTILE + group.name
        if group.block:
            group.block = HOSTILE + group.block
    return model


@pytest.mark.parametrize("depth", [None, 1, 2])
def test_hostile_names_cannot_break_the_dot_or_the_svg(depth, tmp_path):
    model = hostile_model()
    text = dot.source([model], dot.DiagramOptions(depth=depth, show=frozenset({"params"})))
    proc = subprocess.run(["dot", "-Tsvg"], input=text.encode("utf-8"), capture_output=True)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    root = ET.fromstring(proc.stdout)  # well-formed XML
    assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "a", "foreignObject")]
    shown = HOSTILE.replace("\n", " ")
    texts = ["".join(t.itertext()).replace("\u200b", "") for t in root.iter(f"{SVG}text")]
    assert any(t == shown + "model" for t in texts)  # the title, exactly as written
    assert sum(t.startswith(shown) for t in texts) >= 3
    # the same drawing, through the renderer nnc uses
    ET.fromstring(dot.render([model], dot.DiagramOptions(depth=depth), "svg"))


def test_escape():
    assert dot.escape('<b>"x" & \'y\'</b>\n') == "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt; "
    assert dot.escape("\\G") == "\\\u200bG"


# --- failures ---------------------------------------------------------------------------


def test_missing_dot_fails_clearly_but_dot_output_still_works(network, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty))
    svg = tmp_path / "d.svg"
    svg.write_text("old")

    def run(out):
        return subprocess.run([sys.executable, "-m", "nnlang", "diagram", str(network), "-o", str(out)],
                              capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=120)

    proc = run(svg)
    assert_no_traceback(proc)
    assert proc.returncode == 2
    assert "Graphviz" in proc.stderr and "`dot`" in proc.stderr and "apt-get install graphviz" in proc.stderr
    assert svg.read_text() == "old"  # untouched
    proc = run(tmp_path / "d.dot")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "d.dot").read_text().startswith("digraph nnc {")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "d.dot", "d.svg"]  # no temporary left


def test_a_file_with_errors_writes_nothing(tmp_path):
    source = tmp_path / "bad.nn"
    source.write_text("model m {\n    input 28x28x3\n    conv2d 8 k=3 -> params=1\n}\n")
    out = tmp_path / "bad.svg"
    proc = draw(source, out)
    assert proc.returncode == 1
    assert "error[E302]" in proc.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.nn"]


def test_unknown_extension_and_unknown_show(network, tmp_path):
    proc = draw(network, tmp_path / "d.jpg")
    assert proc.returncode == 2 and ".svg, .png, .pdf or .dot" in proc.stderr
    proc = draw(network, tmp_path / "d.svg", "--show", "params,flips")
    assert proc.returncode == 2 and "flips" in proc.stderr and "flops" in proc.stderr  # the names it knows
    assert list(tmp_path.iterdir()) == []


def test_command_module_imports_only_click():
    code = "import sys, nnlang.commands.diagram; print('graphviz' in sys.modules, 'nnlang.emit.dot' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT))
    assert proc.stdout.split() == ["False", "False"], proc.stderr


def test_the_example_of_the_docs_is_what_nnc_prints(tmp_path):
    text = (ROOT / "docs" / "diagrams.md").read_text(encoding="utf-8")
    example = text.split("## Example", 1)[1]
    blocks = re.findall(r"```\n(.*?)```", example, re.S)
    source, expected = blocks[0], blocks[1]
    path = tmp_path / "tiny.nn"
    path.write_text(source, encoding="utf-8")
    proc = run_nnc("diagram", path, "--show", "params")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected, "docs/diagrams.md is stale: paste the output of `nnc diagram tiny.nn --show params`"
