"""Small files that would make nnc compile or draw for minutes, or use gigabytes: each must end
quickly under a 2 GB address-space limit, with a located diagnostic and exit status 1 (or compile,
when the program is legitimately small), and no traceback.

Every case runs `nnc` in its own process under RLIMIT_AS = 2 GB, with a hang guard ten times
above the time it normally takes (well under a second for most). The expected diagnostics are
(code, line, column), the column given as the text that starts there, as in test_diagnostics.py.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from helpers_nnc import ROOT

MEMORY = 2 * 2**30  # bytes of address space for the nnc process (and Graphviz's dot, its child)
HANG_GUARD = 60  # seconds; the slowest case here takes about 3 s

ERROR = re.compile(r"^.*?:(\d+):(\d+): error\[(E\d+)\]", re.MULTILINE)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def nnc(tmp_path: Path, text: str, *args: str, name: str = "case.nn") -> subprocess.CompletedProcess:
    """`nnc ARGS FILE` on text, in a process limited to MEMORY, stopped after HANG_GUARD seconds."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    argv = [arg.replace("FILE", str(path)) for arg in (args or ("check", "FILE"))]
    proc = subprocess.run([sys.executable, "-m", "nnlang", *argv], capture_output=True, text=True,
                          cwd=str(ROOT), timeout=HANG_GUARD, preexec_fn=_limit_memory)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr[-3000:]
    return proc


def errors(proc: subprocess.CompletedProcess) -> list:
    """(code, line, column) of every error printed, in order."""
    return [(code, int(line), int(column)) for line, column, code in ERROR.findall(proc.stderr)]


def at(text: str, line: int, where: str) -> int:
    """The column where `where` first starts on that line (1-based)."""
    return text.split("\n")[line - 1].index(where) + 1


def assert_fails_with(proc: subprocess.CompletedProcess, expected: list) -> None:
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert errors(proc) == expected, proc.stderr[-3000:]


# --- errors inside a repeat are found once ------------------------------------------------------


def test_an_unknown_layer_in_a_repeat_of_a_million_is_refused_at_once(tmp_path):
    # 1,000,000 iterations of one statement: 2,000,000 steps, more than MAX_STEPS (1,000,000)
    text = "model m {\ninput 4\nrepeat 1000000 { bogus }\n}"
    assert len(text.encode()) == 44
    assert_fails_with(nnc(tmp_path, text), [("E112", 3, at(text, 3, "1000000"))])


def test_an_unknown_layer_in_a_repeat_is_reported_once(tmp_path):
    # 400,000 iterations of one statement: 800,001 steps, within the limit; the error once
    text = "model m {\ninput 4\nrepeat 400000 { bogus }\n}"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E101", 3, at(text, 3, "bogus"))])
    assert proc.stderr.count("error[") == 1


def test_an_unknown_option_in_a_repeat_is_reported_once(tmp_path):
    text = "model m {\ninput 4\nrepeat 1000 { dense 4 bogus=1 }\n}"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E102", 3, at(text, 3, "bogus"))])
    assert proc.stderr.count("error[") == 1


def test_a_shape_error_at_a_late_iteration_is_still_reported(tmp_path):
    # 9 -> 7 -> 5 -> 3 -> 1, then (1 - 3)/1 + 1 = -1 at the fifth iteration; the wrong expectation
    # (3*3*1*1 + 1 = 10 parameters, not 1) is the same at every iteration: reported once
    text = "model m {\ninput 9x9x1\nrepeat 6 { conv2d 1 k=3 -> params=1 }\n}"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E302", 3, at(text, 3, "params")), ("E202", 3, at(text, 3, "k=3"))])
    assert "expected 1, computed 3*3*1*1 + 1 = 10" in proc.stderr


def test_a_label_used_twice_in_a_repeat_is_reported_once(tmp_path):
    text = "model m {\ninput 8\nrepeat 100000 { a: dense 8\n a: dense 8 }\n}"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E106", 4, 2)])
    assert "'a_1' is used twice in m" in proc.stderr


def test_a_block_with_an_error_written_out_100000_times(tmp_path):
    text = "block b() { bogus }\nmodel m {\ninput 8\n" + "b()\n" * 100_000 + "}\n"
    assert_fails_with(nnc(tmp_path, text), [("E101", 1, at(text, 1, "bogus"))])


def test_an_error_inside_a_repeat_inside_blocks_called_in_a_repeat(tmp_path):
    # per call: the iteration, the call, its parameter, the inner repeat, 900 x (iteration, statement):
    # 1,804 steps; 500 calls make 902,000, within the limit (each used to look for a suggestion)
    text = "block b(n) { repeat n { bogus } }\nmodel m {\ninput 8\nrepeat 500 { b(900) }\n}\n"
    assert_fails_with(nnc(tmp_path, text), [("E101", 1, at(text, 1, "bogus"))])


# --- what a small file expands to is bounded before it is built ---------------------------------


@pytest.mark.parametrize("length", [99_000, 9_900])
def test_a_long_label_in_a_repeat(tmp_path, length):
    text = "model m {\ninput 4\nrepeat 100000 { " + "a" * length + ": dense 4 }\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", 3, at(text, 3, "aaaa"))])
    assert f"a label of {length:,} characters: names and labels may have at most 100" in proc.stderr


def test_a_long_block_name_called_in_a_repeat(tmp_path):
    name = "b" * 9_000
    text = f"block {name}() {{ dense 4 }}\nmodel m {{\ninput 8\nrepeat 100000 {{ {name}() }}\n}}\n"
    assert_fails_with(nnc(tmp_path, text), [("E112", 1, at(text, 1, name))])


def test_a_long_branch_name_in_a_repeat(tmp_path):
    text = "model m {\ninput 8\nrepeat 100000 { concat { branch " + "b" * 9_000 + " { dense 4 } } }\n}\n"
    assert_fails_with(nnc(tmp_path, text), [("E112", 3, at(text, 3, "branch"))])


def test_blocks_that_call_the_one_before_twice_20_deep(tmp_path):
    # b20 expands to 2**20 = 1,048,576 dense layers: more than MAX_LAYERS (250,000)
    lines = ["block b0() { dense 4 }"] + [f"block b{i}() {{ b{i - 1}()\n b{i - 1}() }}" for i in range(1, 21)]
    text = "\n".join(lines) + "\nmodel m {\ninput 4\nb20()\n}\n"
    proc = nnc(tmp_path, text)
    line = text.split("\n").index("b20()") + 1
    assert_fails_with(proc, [("E112", line, 1)])
    assert "the call of block 'b20' expands to 1,048,576 layers" in proc.stderr


def test_a_million_calls_of_an_empty_block(tmp_path):
    # 1,000,000 block-call groups: more than MAX_NODES (500,000) layers and groups
    text = "block e() { }\nmodel m {\ninput 4\nrepeat 1000000 { e() }\n}\n"
    assert len(text.encode()) == 57
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", 4, at(text, 4, "1000000"))])
    assert "repeat 1,000,000 expands to 1,000,000 layers and groups" in proc.stderr


def test_a_million_empty_concats(tmp_path):
    # each empty concat still makes its join layer: 1,000,000 layers
    text = "model m {\ninput 4\nrepeat 1000000 { concat { } }\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", 3, at(text, 3, "1000000"))])
    assert "repeat 1,000,000 expands to 1,000,000 layers" in proc.stderr


def test_a_repeat_inside_a_block_called_in_a_repeat(tmp_path):
    # 1,000 calls x 1,000 dense layers = 1,000,000 layers
    text = "block b(n) { repeat n { dense 4 } }\nmodel m {\ninput 8\nrepeat 1000 { b(1000) }\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", 4, at(text, 4, "1000 "))])
    assert "repeat 1,000 expands to 1,000,000 layers" in proc.stderr


def test_the_layers_of_repeats_in_a_row_add_up(tmp_path):
    # 1 + 250,000 dense layers: one more than MAX_LAYERS, refused before the repeat runs
    text = "model m {\ninput 4\ndense 4\nrepeat 250000 { dense 4 }\n}\n"
    assert_fails_with(nnc(tmp_path, text), [("E112", 4, at(text, 4, "250000"))])


def test_a_model_of_exactly_the_largest_size_compiles(tmp_path):
    text = "model m {\ninput 4\nrepeat 250000 { dense 4 }\n}\n"
    proc = nnc(tmp_path, text)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert errors(proc) == []


def test_nested_blocks_of_100000_layers_compile(tmp_path):
    # the benchmark's nested blocks, 10,000 calls of outer, each of 10 layers: inner (conv2d,
    # batchnorm, add) twice, the 3x3 conv2d of branch b, the concat, the 1x1 conv2d, the activation
    blocks = ("block inner(c) {\n    add {\n        branch { conv2d c k=1; batchnorm }\n        branch {}\n    }\n}\n"
              "block middle(c) {\n    concat {\n        branch a { inner(c) }\n        branch b { conv2d c k=3 "
              "pad=same; inner(c) }\n    }\n    conv2d c k=1\n}\n"
              "block outer(c) {\n    middle(c)\n    activation relu\n}\n")
    text = blocks + "model nested {\n    input 8x8x16\n    repeat 10000 { outer(16) }\n}\n"
    proc = nnc(tmp_path, text, "FILE", "--format", "csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    kinds: dict = {}
    for row in proc.stdout.strip().split("\n")[1:]:  # model,depth,name,type,...: blocks and branches too
        kind = row.split(",")[3]
        kinds[kind] = kinds.get(kind, 0) + 1
    calls = 10_000
    assert {k: kinds[k] for k in ("conv2d", "batchnorm", "add", "concat", "activation")} == {
        "conv2d": 4 * calls, "batchnorm": 2 * calls, "add": 2 * calls, "concat": calls, "activation": calls}
    assert {k: kinds[k] for k in ("outer", "middle", "inner", "branch")} == {
        "outer": calls, "middle": calls, "inner": 2 * calls, "branch": (2 + 2 * 2) * calls}


def test_an_expression_evaluated_at_every_call(tmp_path):
    # a default of 900 additions evaluated at each of 200,000 calls: 180,000,000 operators
    text = "block b(x=" + "+".join(["1"] * 900) + ") { }\nmodel m {\ninput 8\nrepeat 200000 { b() }\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", 4, at(text, 4, "repeat"))])
    assert "model 'm' takes more than 1,000,000 steps to expand" in proc.stderr


def test_blocks_in_a_call_cycle_that_doubles(tmp_path):
    lines = ["block b0() { b20() }"] + [f"block b{i}() {{ b{i - 1}()\n b{i - 1}() }}" for i in range(1, 21)]
    text = "\n".join(lines) + "\nmodel m {\ninput 4\nb20()\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", text.split("\n").index("b20()") + 1, 1)])


def test_blocks_that_double_200_deep(tmp_path):
    lines = [f"block c{i}() {{ c{i + 1}()\n c{i + 1}() }}" for i in range(200)] + ["block c200() { dense 4 }"]
    text = "\n".join(lines) + "\nmodel m {\ninput 4\nc0()\n}\n"
    assert_fails_with(nnc(tmp_path, text), [("E112", text.split("\n").index("c0()") + 1, 1)])


def test_groups_nested_more_than_100_deep(tmp_path):
    # each block adds its call and a branch: the call of b50, in b49 on line 50, would be the 101st
    lines = [f"block b{i}() {{ add {{ branch {{ b{i + 1}() }} branch {{ }} }} }}" for i in range(60)]
    text = "\n".join(lines) + "\nblock b60() { dense 4 }\nmodel m {\ninput 4\nb0()\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", 50, at(text, 50, "b50()"))])
    assert "nested more than 100 deep" in proc.stderr


# --- huge numbers ---------------------------------------------------------------------------------


def test_a_tensor_that_doubles_200000_times(tmp_path):
    # 2x2 doubled 24 times is 33,554,432 x 33,554,432 = 2**50 > 10**15 values: stopped there
    text = "model m {\ninput 2x2x1\nrepeat 200000 { upsample2d 2 }\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", 3, at(text, 3, "upsample2d"))])
    assert f"a tensor of {2 * 2**24}x{2 * 2**24}x1 holds more than 1,000,000,000,000,000 values" in proc.stderr


def test_an_input_of_too_many_values(tmp_path):
    text = "model m {\ninput " + "x".join(["1000000"] * 3) + "\nflatten\n}\n"
    assert_fails_with(nnc(tmp_path, text), [("E112", 2, 1)])


def test_a_tensor_of_many_dimensions_is_not_multiplied_out(tmp_path):
    # 300 dimensions of 999,999,999,999,999 would flatten into a number of 4,500 digits
    text = "model m {\ninput " + "x".join(["999999999999999"] * 300) + "\nflatten\n}\n"
    assert_fails_with(nnc(tmp_path, text), [("E112", 2, 1)])


# --- many branches ----------------------------------------------------------------------------------


def test_20000_branches_of_the_same_name(tmp_path):
    # each gets a number (a, a_2, ..., a_20000) found without trying every smaller one again
    text = "model m {\ninput 8\nconcat {\n" + "branch a { dense 8 }\n" * 20_000 + "}\n}\n"
    proc = nnc(tmp_path, text)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert errors(proc) == []


def test_20000_branches_whose_shapes_all_differ(tmp_path):
    # dense 4 .. dense 20003 on an input of 3: add refuses, no branch keeps the input's size, and
    # the most common size is found in one pass
    text = "model m {\ninput 3\nadd {\n" + "".join(f"branch {{ dense {i + 4} }}\n" for i in range(20_000)) + "}\n}\n"
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E204", 3, 1)])


def test_20000_branches_with_a_rank_error_each(tmp_path):
    text = "model m {\ninput 8\nconcat {\n" + "branch { lstm 4 }\n" * 20_000 + "}\n}\n"
    proc = nnc(tmp_path, text)
    assert proc.returncode == 1
    # 500 diagnostics are kept (MAX_DIAGNOSTICS), then one E112 says the rest are not shown
    found = errors(proc)
    assert found[:2] == [("E201", 4, 10), ("E201", 5, 10)] and found[-1] == ("E112", 504, 10)
    assert len(found) == 501


# --- diagrams ----------------------------------------------------------------------------------------

RESIDUALS = "model m {{\ninput 8x8x3\nrepeat {count} {{ add {{ branch {{ conv2d 3 k=1 }} branch {{ }} }} }}\n}}\n"


def test_a_diagram_of_1000_residual_additions_is_folded(tmp_path):
    # 1,000 x (a convolution and its add) = 2,000 layers and 3,000 frames drawn whole; folded, the
    # first repetition is drawn once in a frame captioned with the count
    proc = nnc(tmp_path, RESIDUALS.format(count=1000), "diagram", "FILE", "-o", str(tmp_path / "x.dot"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "x.dot").read_text(encoding="utf-8")
    layers = sorted(set(re.findall(r"\bm0_L\d+\b", text)))
    assert layers == ["m0_L0", "m0_L1"]
    assert text.count("subgraph cluster_") == 3  # the add and its two branches
    assert "<B>add x1000</B>" in text
    assert "folded: runs of equal layers and blocks drawn once" in text


def test_a_diagram_of_2000_residual_additions_renders(tmp_path):
    proc = nnc(tmp_path, RESIDUALS.format(count=2000), "diagram", "FILE", "-o", str(tmp_path / "x.svg"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    svg = (tmp_path / "x.svg").read_text(encoding="utf-8")
    assert "add x2000" in svg
    assert svg.count('class="cluster"') == 3


def test_a_diagram_of_1500_different_blocks_draws_each_as_a_box(tmp_path):
    # no two calls are equal (1 to 1500 channels): 4,500 frames drawn whole; at depth 1, none
    text = ("block res(c) {\n add {\n branch { conv2d c k=1; conv2d 16 k=1 }\n branch { }\n }\n}\n"
            "model m {\ninput 8x8x16\n" + "".join(f"res({i + 1})\n" for i in range(1500)) + "}\n")
    proc = nnc(tmp_path, text, "diagram", "FILE", "-o", str(tmp_path / "x.dot"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    dot = (tmp_path / "x.dot").read_text(encoding="utf-8")
    assert "subgraph cluster_" not in dot
    assert len(set(re.findall(r"\bm0_G\d+\b", dot))) == 1500
    assert "at depth 1 or deeper drawn as one box each" in dot


def test_a_diagram_of_20000_different_layers_leaves_out_the_middle(tmp_path):
    # channels 1..50 in turn: no run repeats within 8 statements; 999 boxes each side of one box
    # for the 20,000 - 2*999 = 18,002 layers left out
    text = "model m {\ninput 8x8x16\n" + "".join(f"conv2d {i % 50 + 1} k=1\n" for i in range(20_000)) + "}\n"
    proc = nnc(tmp_path, text, "diagram", "FILE", "-o", str(tmp_path / "x.dot"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    dot = (tmp_path / "x.dot").read_text(encoding="utf-8")
    assert len(set(re.findall(r"\bm0_L\d+\b", dot))) == 2 * 999
    assert "... 18,002 layers not drawn ..." in dot


def test_whole_draws_a_very_big_network_unfolded(tmp_path):
    """`nnc diagram --whole` turns the folding off: 1,000 joins are 1,000 frames, each with its
    convolution (a folded drawing has one frame marked x1000)."""
    import subprocess
    import sys

    path = tmp_path / "big.nn"
    path.write_text("model m {\n  input 8x8x3\n  repeat 1000 { add { branch { conv2d 3 k=1 } branch { } } }\n}\n")
    folded = subprocess.run([sys.executable, "-m", "nnlang", "diagram", str(path)], capture_output=True, text=True,
                            timeout=120)
    whole = subprocess.run([sys.executable, "-m", "nnlang", "diagram", str(path), "--whole"], capture_output=True,
                           text=True, timeout=120)
    assert folded.returncode == 0 and whole.returncode == 0, (folded.stderr, whole.stderr)
    assert whole.stdout.count("subgraph cluster") >= 1000 > folded.stdout.count("subgraph cluster")
    assert whole.stdout.count("conv 1x1, 3") == 1000


# --- the limits hold for the whole file ---------------------------------------------------------------

def test_many_large_models_in_a_small_file_are_bounded_together(tmp_path):
    """30 models of 200,000 layers each in 1.5 KB: without a file-wide limit they need about 30 times
    one model's memory. The first compiles (200,000 <= 250,000 layers); each later one would take
    the file to 400,000 layers and is refused at its repeat."""
    text = "".join(f"model m{i} {{ input 8; repeat 200000 {{ dense 8 }} }}\n" for i in range(30))
    proc = nnc(tmp_path, text)
    assert_fails_with(proc, [("E112", line, at(text, line, "200000")) for line in range(2, 31)])
    assert "the limit holds for the whole file" in proc.stderr


def test_many_models_of_idle_repeats_are_bounded_together(tmp_path):
    """Steps cost time even when they build nothing: 300 models of 900,000 empty iterations each
    would take minutes; together they pass the file's 1,000,000 steps at the second model."""
    text = "".join(f"model m{i} {{ input 8; repeat 900000 {{ }} }}\n" for i in range(300))
    proc = nnc(tmp_path, text)
    assert proc.returncode == 1
    found = errors(proc)
    assert found and {code for code, _, _ in found} == {"E112"} and found[0][1] == 2


def test_a_model_compared_with_itself_many_times_is_compared_once(tmp_path):
    """`compare a, a, a, ...` (990 times) of a model with 50,000 block calls: each pair is compared
    once, so the report holds one comparison instead of 990 (which took minutes)."""
    import json

    text = ("block b() { dense 8 }\nmodel a {\n  input 8\n  repeat 50000 { b() }\n}\ncompare a, "
            + ", ".join(["a"] * 990) + "\n")
    out = tmp_path / "report.json"
    proc = nnc(tmp_path, text, "FILE", "--format", "json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    comparisons = json.loads(out.read_text())["comparisons"]
    assert len(comparisons) == 1
    # the totals (5 rows: params, trainable, non-trainable, MACs, bytes) and 2 rows per block call
    assert len(comparisons[0]["rows"]) == 5 + 2 * 50000
