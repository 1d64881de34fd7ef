"""The model zoo (examples/*.nn) against its sources and against PyTorch.

- Every zoo file compiles with all its `->` expectations holding (default
  Keras convention).
- Published totals (torchvision's model cards, Keras' model summaries, the
  papers) are pinned here, independently of the .nn files' expectations.
- Each zoo network is rebuilt by hand in PyTorch (tests/zoo_torch.py, no
  torchvision); nnc's total and per-block parameters (``--convention
  pytorch``), MACs (``FlopCounterMode`` FLOPs / 2 on a zero input, batch 1)
  and output shapes (forward hooks, channels-first -> channels-last) must agree.
- GoogLeNet: every row of Table 1 of Szegedy et al. 2014 (output sizes, and the
  params / ops columns where the paper is self-consistent).
- An invariant over every examples/*.nn file: block, branch and model totals
  are the sums over their layers.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

import pytest

from helpers_nnc import EXAMPLES, assert_no_traceback, nnc_in_process

os.environ.setdefault("KERAS_BACKEND", "torch")

ZOO = [
    "googlenet", "inception_naive_vs_bottleneck", "resnet18", "resnet50",
    "vgg16", "alexnet", "lenet5", "mobilenet_v1",
]
#: Files whose networks contain batch norm: their `params=` expectations are
#: written for the default Keras convention (batch norm = 4*C), so under
#: `--convention pytorch` (2*C) those expectations are reported as E302 errors.
HAS_BATCHNORM = {"resnet18", "resnet50", "mobilenet_v1"}


@lru_cache(maxsize=None)
def compiled(stem: str, convention: str = "keras") -> dict:
    """nnc's JSON report of examples/STEM.nn under a convention."""
    proc = nnc_in_process(EXAMPLES / f"{stem}.nn", "--format", "json", "--convention", convention)
    assert_no_traceback(proc)
    report = json.loads(proc.stdout)
    errors = [d for d in report.get("diagnostics", []) if d["severity"] == "error"]
    if convention == "pytorch" and stem in HAS_BATCHNORM:
        # Only the Keras-convention params= expectations may differ.
        assert all(d["code"] == "E302" for d in errors), errors
        assert proc.returncode == (1 if errors else 0), proc.stderr
    else:
        assert proc.returncode == 0 and not errors, proc.stderr
    return report


def model_of(stem: str, name: str | None = None, convention: str = "keras") -> dict:
    models = compiled(stem, convention)["models"]
    if name is None:
        assert len(models) == 1, [m["name"] for m in models]
        return models[0]
    return next(m for m in models if m["name"] == name)


def top_level(model: dict) -> dict:
    """Top-level names of a model: its block calls and layers outside blocks."""
    entries = {b["name"]: b for b in model["blocks"] if b["path"] == []}
    entries.update({l["name"]: l for l in model["layers"] if l["path"] == []})
    return entries


# ------------------------------------------------------------------ the zoo compiles

@pytest.mark.parametrize("stem", ZOO)
def test_zoo_expectations_hold(stem):
    proc = nnc_in_process("check", EXAMPLES / f"{stem}.nn")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 differ" in proc.stdout, proc.stdout


# ------------------------------------------------------------ published totals

# (file, model, convention) -> (params, non-trainable params, MACs)
PUBLISHED = {
    # torchvision model cards: resnet18 11,689,512 params, 1.81 GFLOPS (MACs);
    # resnet50 25,557,032 params, 4.09 GFLOPS; vgg16 138,357,544, 15.47;
    # alexnet 61,100,840, 0.71. Exact MACs: hand arithmetic in the .nn files.
    ("resnet18", "pytorch"): (11_689_512, 0, 1_814_073_344),
    ("resnet50", "pytorch"): (25_557_032, 0, 4_089_184_256),
    # Keras convention: + 2*C non-trainable per batch norm; batch norm channels
    # 4,800 (ResNet-18) and 26,560 (ResNet-50).
    ("resnet18", "keras"): (11_689_512 + 9_600, 9_600, 1_814_073_344),
    ("resnet50", "keras"): (25_557_032 + 53_120, 53_120, 4_089_184_256),
    ("vgg16", "pytorch"): (138_357_544, 0, 15_470_264_320),
    ("alexnet", "pytorch"): (61_100_840, 0, 714_188_480),
    # LeNet-5, modern variant (full C3): 156 + 2,416 + 48,120 + 10,164 + 850.
    ("lenet5", "pytorch"): (61_706, 0, 416_520),
    # MobileNet v1 (Howard et al. 2017, Table 1: 569M mult-adds, 4.2M params);
    # keras.applications.MobileNet(): 4,253,864 params, 21,888 non-trainable.
    ("mobilenet_v1", "pytorch"): (4_231_976, 0, 568_740_352),
    ("mobilenet_v1", "keras"): (4_253_864, 21_888, 568_740_352),
    # Seed 004, question 4, by hand (see the file's comments).
    ("inception_naive_vs_bottleneck", "naive"): (1_442_048, 0, 23_622_320_128),
    ("inception_naive_vs_bottleneck", "bottleneck"): (537_472, 0, 8_791_261_184),
    # GoogLeNet with biases / weights only (Table 1 arithmetic, see the file).
    ("googlenet", "googlenet"): (6_998_552, 0, 1_582_671_872),
    ("googlenet", "googlenet_weights"): (6_990_272, 0, 1_582_671_872),
}


@pytest.mark.parametrize("key", list(PUBLISHED), ids=lambda k: "-".join(k))
def test_published_totals(key):
    stem, which = key
    if which in ("keras", "pytorch"):
        model = model_of(stem, convention=which)
    else:
        model = model_of(stem, which)
    params, non_trainable, macs = PUBLISHED[key]
    totals = model["totals"]
    assert (totals["params"], totals["non_trainable_params"], totals["macs"]) == (params, non_trainable, macs)


def test_inception_seed_pool_comparisons():
    # The seed key's C = P = 128*128*512*3*3 = 75,497,472 are the max pool's
    # comparisons: nnc reports them as pool_ops, not MACs.
    for name in ("naive", "bottleneck"):
        model = model_of("inception_naive_vs_bottleneck", name)
        pool = next(b for b in model["blocks"][0]["branches"] if b["name"] == "pool")
        assert pool["pool_ops"] == 128 * 128 * 512 * 9 == 75_497_472
    # Per-branch MACs, MACs = H*W*C_out*k*k*C_in (H*W = 16,384):
    expected = {
        "naive": {"b1": 16384 * 64 * 512, "b3": 16384 * 128 * 9 * 512,
                  "b5": 16384 * 64 * 25 * 512, "pool": 0},
        "bottleneck": {"b1": 16384 * 64 * 512, "b3": 16384 * 64 * 512 + 16384 * 128 * 9 * 64,
                       "b5": 16384 * 64 * 512 + 16384 * 64 * 25 * 64, "pool": 16384 * 512 * 512},
    }
    for name, branches in expected.items():
        model = model_of("inception_naive_vs_bottleneck", name)
        got = {b["name"]: b["macs"] for b in model["blocks"][0]["branches"]}
        assert got == branches, name
    # The answer key's totals 10,544,480,256 and 37,119,590,400 are these sums with
    # the 5x5 MACs doubled (a 128-filter 5x5) plus the pool comparisons.
    naive = model_of("inception_naive_vs_bottleneck", "naive")["totals"]
    bottleneck = model_of("inception_naive_vs_bottleneck", "bottleneck")["totals"]
    assert bottleneck["macs"] + 16384 * 64 * 25 * 64 + bottleneck["pool_ops"] == 10_544_480_256
    assert naive["macs"] + 16384 * 64 * 25 * 512 + naive["pool_ops"] == 37_119_590_400


# ---------------------------------------------------------------- GoogLeNet Table 1

# Szegedy et al. 2014, "Going deeper with convolutions", Table 1 (output size,
# params in K, ops in M). The paper's K is 1024 (conv2: 114,688 = 112 * 1024;
# linear: 1,024,000 = 1000 * 1024) and its params exclude biases.
GOOGLENET_TABLE1 = [
    # nnc name, output size, paper params (K), paper ops (M)
    ("conv1", (112, 112, 64), 2.7, 34),
    ("pool1", (56, 56, 64), 0, 0),
    ("conv2", (56, 56, 192), 112, 360),
    ("pool2", (28, 28, 192), 0, 0),
    ("inception_3a", (28, 28, 256), 159, 128),
    ("inception_3b", (28, 28, 480), 380, 304),
    ("pool3", (14, 14, 480), 0, 0),
    ("inception_4a", (14, 14, 512), 364, 73),
    ("inception_4b", (14, 14, 512), 437, 88),
    ("inception_4c", (14, 14, 512), 463, 100),
    ("inception_4d", (14, 14, 528), 580, 119),
    ("inception_4e", (14, 14, 832), 840, 170),
    ("pool4", (7, 7, 832), 0, 0),
    ("inception_5a", (7, 7, 832), 1072, 54),
    ("inception_5b", (7, 7, 1024), 1388, 71),
    ("avgpool", (1, 1, 1024), 0, 0),
    ("dropout", (1, 1, 1024), 0, 0),
    ("linear", (1, 1, 1000), 1000, 1),
    ("softmax", (1, 1, 1000), 0, 0),
]
#: Rows whose params column agrees with the listed depths (within the paper's
#: 1K rounding: 3a 159.5K, 3b 379.0K printed 380K, 4b 438.0K printed 437K).
PARAMS_AGREE = {"pool1", "conv2", "pool2", "inception_3a", "inception_3b", "pool3", "inception_4b",
                "pool4", "avgpool", "dropout", "linear", "softmax"}
#: Rows whose ops column disagrees: conv1 (34M vs 118M: 7*7*3*64 weights at
#: 112x112) and 5a (54M vs 51.08M). 4a is 73.6M printed 73M (truncated).
OPS_DISAGREE = {"conv1", "inception_5a"}


@pytest.mark.parametrize("name", ["googlenet", "googlenet_weights"])
def test_googlenet_table1_output_sizes(name):
    model = model_of("googlenet", name)
    rows = top_level(model)
    assert set(rows) == {n for n, *_ in GOOGLENET_TABLE1}, sorted(rows)
    for row, size, _, _ in GOOGLENET_TABLE1:
        assert tuple(rows[row]["output_shape"]) == size, row
    assert tuple(model["output_shape"]) == (1, 1, 1000)


def test_googlenet_table1_params_and_ops():
    rows = top_level(model_of("googlenet", "googlenet_weights"))
    for row, _, paper_k, paper_m in GOOGLENET_TABLE1:
        weights, macs = rows[row]["params"], rows[row]["macs"]
        if row in PARAMS_AGREE:
            assert abs(weights / 1024 - paper_k) <= 1, (row, weights / 1024, paper_k)
        else:  # the paper's figure is off by more than its rounding
            assert abs(weights / 1024 - paper_k) > 2, (row, weights / 1024, paper_k)
        if row in OPS_DISAGREE:
            assert abs(macs / 1e6 - paper_m) > 2, (row, macs / 1e6, paper_m)
        else:
            assert abs(macs / 1e6 - paper_m) < 1, (row, macs / 1e6, paper_m)
    # The weights-only model differs from the real one by exactly the biases.
    with_bias = top_level(model_of("googlenet", "googlenet"))
    biases = {"conv1": 64, "conv2": 64 + 192, "linear": 1000}
    for name, (c1, r3, c3, r5, c5, pp) in [
        ("inception_3a", (64, 96, 128, 16, 32, 32)), ("inception_3b", (128, 128, 192, 32, 96, 64)),
        ("inception_4a", (192, 96, 208, 16, 48, 64)), ("inception_4b", (160, 112, 224, 24, 64, 64)),
        ("inception_4c", (128, 128, 256, 24, 64, 64)), ("inception_4d", (112, 144, 288, 32, 64, 64)),
        ("inception_4e", (256, 160, 320, 32, 128, 128)), ("inception_5a", (256, 160, 320, 32, 128, 128)),
        ("inception_5b", (384, 192, 384, 48, 128, 128)),
    ]:
        biases[name] = c1 + r3 + c3 + r5 + c5 + pp
    for row, bias in biases.items():
        assert with_bias[row]["params"] - rows[row]["params"] == bias, row
        assert with_bias[row]["macs"] == rows[row]["macs"], row


def test_googlenet_conventions_agree():
    # No batch norm and no recurrent layer: every convention counts the same.
    for name in ("googlenet", "googlenet_weights"):
        totals = {c: model_of("googlenet", name, c)["totals"]["params"] for c in ("keras", "pytorch", "textbook")}
        assert len(set(totals.values())) == 1, totals


# ------------------------------------------------------------------- PyTorch

# (file, model in the file, builder in zoo_torch, input shape)
TORCH_CASES = [
    ("googlenet", "googlenet", "googlenet", (224, 224, 3)),
    ("googlenet", "googlenet_weights", "googlenet_weights", (224, 224, 3)),
    ("inception_naive_vs_bottleneck", "naive", "inception_naive", (128, 128, 512)),
    ("inception_naive_vs_bottleneck", "bottleneck", "inception_bottleneck", (128, 128, 512)),
    ("resnet18", "resnet18", "resnet18", (224, 224, 3)),
    ("resnet50", "resnet50", "resnet50", (224, 224, 3)),
    ("vgg16", "vgg16", "vgg16", (224, 224, 3)),
    ("alexnet", "alexnet", "alexnet", (224, 224, 3)),
    ("lenet5", "lenet5", "lenet5", (32, 32, 1)),
    ("mobilenet_v1", "mobilenet_v1", "mobilenet_v1", (224, 224, 3)),
]


@lru_cache(maxsize=None)
def torch_measure(builder: str, input_shape):
    import zoo_torch

    if builder == "googlenet_weights":
        model = zoo_torch.googlenet(bias=False)
    else:
        model = getattr(zoo_torch, builder)()
    return zoo_torch.measure(model, input_shape)


def _same_shape(ours, theirs):
    ours, theirs = list(ours), list(theirs)
    # Keras' dense on a 1x1xC map keeps the 1x1 (GoogLeNet's linear row);
    # PyTorch flattens first. Same weights and MACs.
    while len(ours) > len(theirs) and ours[0] == 1:
        ours.pop(0)
    return ours == theirs


#: Top-level nnc layers without a PyTorch submodule of their name: the builders fold a
#: flatten into the nn.Sequential of the linear layer after it, and GoogLeNet's network
#: ends at the logits (torchvision's does too). They have neither parameters nor MACs.
NO_MODULE = {
    "googlenet": {"softmax"}, "googlenet_weights": {"softmax"},
    "vgg16": {"flatten_1"}, "alexnet": {"flatten_1"}, "lenet5": {"flatten_1"},
}


@pytest.mark.frameworks
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c[1])
def test_against_pytorch(case):
    stem, name, builder, input_shape = case
    model = model_of(stem, name, "pytorch")
    assert tuple(model["input_shape"]) == input_shape
    theirs = torch_measure(builder, input_shape)
    problems = []
    if model["totals"]["params"] != theirs["params"]:
        problems.append(f"total params: nnc {model['totals']['params']:,}, PyTorch {theirs['params']:,}")
    if model["totals"]["macs"] != theirs["macs"]:
        problems.append(f"total MACs: nnc {model['totals']['macs']:,}, PyTorch {theirs['macs']:,}")

    modules = theirs["modules"]
    entries = top_level(model)
    blocks = [b for b in model["blocks"] if b["path"] == []]
    missing = [b["name"] for b in blocks if b["name"] not in modules]
    assert not missing, f"no PyTorch submodule for nnc blocks {missing}"
    unmapped = {entry_name for entry_name in entries if entry_name not in modules}
    assert unmapped == NO_MODULE.get(name, set()), f"nnc entries without a PyTorch submodule: {sorted(unmapped)}"
    for entry_name in unmapped:
        assert (entries[entry_name]["params"], entries[entry_name]["macs"]) == (0, 0), entry_name
    compared = 0
    for entry_name, entry in entries.items():
        if entry_name in unmapped:
            continue
        pairs = [(entry_name, entry, modules[entry_name])]
        for branch in entry.get("branches", []):
            key = f"{entry_name}.{branch['name']}"
            assert key in modules, f"no PyTorch submodule {key}"
            pairs.append((key, branch, modules[key]))
        for label, ours, mod in pairs:
            compared += 1
            if ours["params"] != mod["params"]:
                problems.append(f"{label} params: nnc {ours['params']:,}, PyTorch {mod['params']:,}")
            if ours["macs"] != mod["macs"]:
                problems.append(f"{label} MACs: nnc {ours['macs']:,}, PyTorch {mod['macs']:,}")
            if not _same_shape(ours["output_shape"], mod["shape"]):
                problems.append(f"{label} shape: nnc {ours['output_shape']}, PyTorch {mod['shape']}")
    assert compared >= len(entries) - len(unmapped)
    assert not problems, f"{stem}.nn model {name}:\n  " + "\n  ".join(problems)


@pytest.mark.frameworks
def test_mobilenet_against_keras():
    import keras
    import numpy as np

    net = keras.applications.MobileNet(weights=None)
    non_trainable = int(sum(np.prod(w.shape) for w in net.non_trainable_weights))
    totals = model_of("mobilenet_v1", convention="keras")["totals"]
    assert (totals["params"], totals["non_trainable_params"]) == (net.count_params(), non_trainable)
    assert (net.count_params(), non_trainable) == (4_253_864, 21_888)


# ----------------------------------------------------------- invariant, all files

ALL_EXAMPLES = sorted(p.stem for p in EXAMPLES.glob("*.nn"))
KEYS = ("params", "trainable_params", "non_trainable_params", "macs")


#: the values at which counts of sizes a model leaves open are evaluated (every size alike)
SIZE_VALUES = (37, 224)


def _at(value, sizes: dict):
    """A JSON count: an integer (or null) as it is, an expression object evaluated with the sizes bound."""
    if isinstance(value, dict):
        return eval(value["expr"], {"__builtins__": {}}, dict(sizes))
    return value


def _sum(layers, key, sizes: dict):
    return sum(_at(l[key], sizes) or 0 for l in layers)


@pytest.mark.parametrize("stem", ALL_EXAMPLES)
def test_totals_are_sums_over_layers(stem):
    proc = nnc_in_process(EXAMPLES / f"{stem}.nn", "--format", "json")
    assert_no_traceback(proc)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    problems = []
    for model in report["models"]:
        layers = model["layers"]
        names = [name.replace("?", "_") for name in model.get("sizes", [])]  # ?1 is _1 in an expression
        for sizes in [{name: value for name in names} for value in SIZE_VALUES]:
            for key in KEYS:
                total = model["totals"][key]
                if isinstance(total, dict) != any(isinstance(l[key], dict) for l in layers):
                    problems.append(f"{model['name']} totals {key}: {total} is an expression only if a layer's is")
                if _at(total, sizes) != _sum(layers, key, sizes):
                    problems.append(f"{model['name']} totals {key} at {sizes}: {_at(total, sizes)} != "
                                    f"{_sum(layers, key, sizes)}")
        sizes = {name: SIZE_VALUES[0] for name in names}
        seen = set()
        for block in model.get("blocks", []):
            prefix = list(block["path"]) + [block["name"]]
            ident = tuple(prefix)
            if ident in seen:
                problems.append(f"{model['name']}: two blocks at {'/'.join(prefix)}")
            seen.add(ident)
            inside = [l for l in layers if list(l["path"][:len(prefix)]) == prefix]
            if not inside:
                problems.append(f"{model['name']}: block {'/'.join(prefix)} has no layers")
            for key in KEYS:
                if _at(block[key], sizes) != _sum(inside, key, sizes):
                    problems.append(f"{model['name']} block {'/'.join(prefix)} {key}: "
                                    f"{block[key]} != {_sum(inside, key, sizes)}")
            for branch in block.get("branches", []):
                bprefix = prefix + [branch["name"]]
                binside = [l for l in layers if list(l["path"][:len(bprefix)]) == bprefix]
                for key in KEYS:
                    if key in branch and _at(branch[key], sizes) != _sum(binside, key, sizes):
                        problems.append(f"{model['name']} branch {'/'.join(bprefix)} {key}: "
                                        f"{branch[key]} != {_sum(binside, key, sizes)}")
    assert not problems, f"{stem}.nn:\n  " + "\n  ".join(problems)
