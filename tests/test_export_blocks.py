"""`nnc export`: one parametrised class per block definition, built with each call's arguments.

The generated code is read as a Python syntax tree (neither torch nor keras is imported);
the expected classes, constructor arguments and module paths are written out from the .nn
files by hand. That the exported models build and agree with nnc layer by layer is checked
by the `frameworks` tests of test_export.py (the examples, BLOCKS, NESTED and the generated
networks, whose blocks take parameters).
"""

from __future__ import annotations

import ast

import pytest

from helpers_nnc import EXAMPLES, run_nnc
from nnlang.driver import compile_text
from nnlang.emit import keras as keras_emit
from nnlang.emit import pytorch as torch_emit


def exported(target: str, text: str, name: str = "net.nn"):
    compilation = compile_text(text, name)
    errors = [d for d in compilation.diagnostics if d.is_error]
    assert compilation.program is not None and not errors, errors
    emitter = torch_emit if target == "pytorch" else keras_emit
    made = emitter.export(compilation.program, source_lines=compilation.source.lines, file_name=name)
    compile(made.code, name, "exec")
    return made, ast.parse(made.code)


def example(target: str, stem: str):
    path = EXAMPLES / f"{stem}.nn"
    return exported(target, path.read_text(encoding="utf-8"), f"examples/{stem}.nn")


def classes(tree: ast.Module) -> dict:
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def method(cls: ast.ClassDef, name: str) -> ast.FunctionDef:
    return next(item for item in cls.body if isinstance(item, ast.FunctionDef) and item.name == name)


def parameters(cls: ast.ClassDef) -> list:
    """The constructor's parameters after self, as written (`s=2`, `*`, `name`)."""
    args = method(cls, "__init__").args
    plain = args.args[1:]
    defaults = [None] * (len(plain) - len(args.defaults)) + list(args.defaults)
    written = [a.arg if d is None else f"{a.arg}={ast.unparse(d)}" for a, d in zip(plain, defaults)]
    if args.kwonlyargs:
        written += ["*", *(a.arg for a in args.kwonlyargs)]
    return written


def assignments(function: ast.FunctionDef) -> dict:
    """self.<attribute> = <value> in a function, as source text."""
    return {target.attr: ast.unparse(node.value) for node in ast.walk(function) if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Attribute)}


# --- PyTorch ---------------------------------------------------------------------------------


def test_resnet18_has_one_class_per_block_definition():
    made, tree = example("pytorch", "resnet18")
    found = classes(tree)
    assert sorted(found) == ["Add", "Basic", "BasicDown", "Resnet18"]
    assert parameters(found["Basic"]) == ["in_channels", "c"]
    assert parameters(found["BasicDown"]) == ["in_channels", "c", "s=2"]
    # the channels each call's input has, from the file: 64 after the stem, then each block's c
    built = assignments(method(found["Resnet18"], "__init__"))
    assert {name: built[name] for name in built if name.startswith("layer")} == {
        "layer1_0": "Basic(64, 64)", "layer1_1": "Basic(64, 64)",
        "layer2_0": "BasicDown(64, 128)", "layer2_1": "Basic(128, 128)",
        "layer3_0": "BasicDown(128, 256)", "layer3_1": "Basic(256, 256)",
        "layer4_0": "BasicDown(256, 512)", "layer4_1": "Basic(512, 512)",
    }
    modules = ast.unparse(method(found["BasicDown"], "__init__"))
    assert "'conv2d_1': nn.Conv2d(in_channels, c, kernel_size=3, stride=s, padding=1, bias=False)" in modules
    assert "'conv2d_2': nn.Conv2d(c, c, kernel_size=3, padding=1, bias=False)" in modules
    assert "'conv2d_3': nn.Conv2d(in_channels, c, kernel_size=1, stride=s, bias=False)" in modules
    assert "'batchnorm_3': nn.BatchNorm2d(c, eps=0.001, momentum=0.01)" in modules


def test_a_layer_of_a_block_is_found_under_its_name_in_the_class():
    """The report's layer3_1/main/conv2d_14 (nnc numbers the model's convolutions) is the
    second convolution of the block: model.layer3_1.main.conv2d_2."""
    made, _ = example("pytorch", "resnet18")
    program = compile_text((EXAMPLES / "resnet18.nn").read_text(encoding="utf-8")).program
    nodes = [node for node in program.models[0].layers if node.path == ("layer3_1", "main") and node.kind == "conv2d"]
    assert [made.models[0].modules[node.index] for node in nodes] == ["layer3_1.main.conv2d_1",
                                                                      "layer3_1.main.conv2d_2"]


def test_a_repeat_count_parameter_is_a_loop():
    made, tree = example("pytorch", "vgg16")
    found = classes(tree)
    assert sorted(found) == ["FcReluDropout", "Vgg16", "VggStage"]
    assert parameters(found["VggStage"]) == ["in_channels", "c", "n"]
    init = ast.unparse(method(found["VggStage"], "__init__"))
    assert "for _ in range(n):" in init and "channels = in_channels" in init and "channels = c" in init
    assert "'conv2d_1': nn.Conv2d(channels, c, kernel_size=3, padding=1)" in init
    built = assignments(method(found["Vgg16"], "__init__"))
    assert [built[f"stage{n}"] for n in range(1, 6)] == [
        "VggStage(3, 64, 2)", "VggStage(64, 128, 2)", "VggStage(128, 256, 3)", "VggStage(256, 512, 3)",
        "VggStage(512, 512, 3)"]
    # stage3 = vgg_stage(256, 3): its convolutions are the three iterations of the loop
    program = compile_text((EXAMPLES / "vgg16.nn").read_text(encoding="utf-8")).program
    convolutions = [node for node in program.models[0].layers if node.path == ("stage3",) and node.kind == "conv2d"]
    assert [made.models[0].modules[node.index] for node in convolutions] == [
        "stage3.repeat.0.conv2d_1", "stage3.repeat.1.conv2d_1", "stage3.repeat.2.conv2d_1"]


GROWING = """
block grow(g, n) {
    repeat n { concat { branch { } branch new { conv2d g k=3 pad=same } } }
}
model m {
    input 8x8x4
    a: grow(2, 3)
    b: grow(5, 1)
}
"""


def test_a_loop_carries_the_channels_from_one_iteration_to_the_next():
    _, tree = exported("pytorch", GROWING)
    init = ast.unparse(method(classes(tree)["Grow"], "__init__"))
    assert "channels = in_channels" in init and "channels = channels + g" in init
    assert "nn.Conv2d(channels, g, kernel_size=3, padding=1)" in init
    # a's input has 4 channels; b's 4 + 3*2 = 10
    assert assignments(method(classes(tree)["M"], "__init__")) == {"a": "Grow(4, 2, 3)", "b": "Grow(10, 5, 1)"}


def test_parameters_give_strides_biases_and_defaults():
    text = """
    block unit(c, s=1, b=true, d=c*2) {
        conv2d c k=3 s=s pad=1 bias=b
        conv2d d k=1 bias=b
    }
    model m {
        input 8x8x3
        unit(4)
        unit(4, s=2, b=false)
        unit(6, d=3)
    }
    """
    _, tree = exported("pytorch", text)
    unit = classes(tree)["Unit"]
    assert parameters(unit) == ["in_channels", "c", "s=1", "b=True", "d=None"]
    init = ast.unparse(method(unit, "__init__"))
    assert "if d is None:\n        d = c * 2" in init
    assert "nn.Conv2d(in_channels, c, kernel_size=3, stride=s, padding=1, bias=b)" in init
    assert "nn.Conv2d(c, d, kernel_size=1, bias=b)" in init
    # the input channels: 3, then d = 4*2 = 8 after unit(4), 8 again after unit(4, s=2, b=false)
    assert list(assignments(method(classes(tree)["M"], "__init__")).values()) == [
        "Unit(3, 4)", "Unit(8, 4, s=2, b=False)", "Unit(8, 6, d=3)"]


def test_blocks_calling_blocks_pass_their_parameters_on():
    text = """
    block unit(c) { conv2d c k=1 }
    block pair(c) {
        first: unit(c)
        second: unit(2*c + 1)
    }
    model m {
        input 4x4x3
        p: pair(5)
        q: pair(2)
    }
    """
    _, tree = exported("pytorch", text)
    found = classes(tree)
    assert sorted(found) == ["M", "Pair", "Unit"]
    assert assignments(method(found["Pair"], "__init__")) == {"first": "Unit(in_channels, c)",
                                                              "second": "Unit(c, 2 * c + 1)"}
    assert assignments(method(found["M"], "__init__")) == {"p": "Pair(3, 5)", "q": "Pair(11, 2)"}  # 2*5 + 1


def test_calls_that_differ_in_structure_get_a_class_each():
    """An activation given as an argument: the layers differ, so each structure has its class
    (same constructor), and the docstrings say which calls each is for."""
    text = """
    block head(u, act) { dense u act }
    model m {
        input 6
        a: head(4, relu)
        b: head(3, tanh)
        c: head(2, relu)
    }
    """
    _, tree = exported("pytorch", text)
    found = classes(tree)
    assert sorted(found) == ["Head", "Head_2", "M"]
    assert parameters(found["Head"]) == parameters(found["Head_2"]) == ["in_features", "u", "act"]
    assert "this one for a, c." in " ".join(ast.get_docstring(found["Head"]).split())
    assert "this one for b." in " ".join(ast.get_docstring(found["Head_2"]).split())
    assert list(assignments(method(found["M"], "__init__")).values()) == [
        "Head(6, 4, 'relu')", "Head_2(4, 3, 'tanh')", "Head(3, 2, 'relu')"]


def test_parameter_names_python_or_the_module_uses_are_renamed():
    text = """
    block nn(F, in_channels, self=1, name=2, channels=3) {
        conv2d F k=self
        conv2d in_channels k=1 s=name
        conv2d channels k=1
    }
    model m {
        input 8x8x2
        nn(4, 5, self=3)
    }
    """
    _, tree = exported("pytorch", text)
    block = classes(tree)["Nn"]
    assert parameters(block) == ["in_channels_2", "F_", "in_channels", "self_=1", "name=2", "channels=3"]
    init = ast.unparse(method(block, "__init__"))
    assert "nn.Conv2d(in_channels_2, F_, kernel_size=self_)" in init
    assert "nn.Conv2d(F_, in_channels, kernel_size=1, stride=name)" in init
    assert list(assignments(method(classes(tree)["M"], "__init__")).values()) == ["Nn(2, 4, 5, self_=3)"]


# --- Keras -----------------------------------------------------------------------------------


def test_mobilenet_has_one_keras_class_for_its_block():
    made, tree = example("keras", "mobilenet_v1")
    found = classes(tree)
    assert sorted(found) == ["Dws"]
    assert parameters(found["Dws"]) == ["f", "s=1", "*", "name"]
    built = [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Call) and ast.unparse(node.func.func) == "Dws"]
    # b1..b6, five times b7_11 (the repeat numbers the label), b12, b13
    assert built == ["Dws(64, name='b1')", "Dws(128, s=2, name='b2')", "Dws(128, name='b3')",
                     "Dws(256, s=2, name='b4')", "Dws(256, name='b5')", "Dws(512, s=2, name='b6')",
                     *(f"Dws(512, name='b7_11_{n}')" for n in range(1, 6)),
                     "Dws(1024, s=2, name='b12')", "Dws(1024, name='b13')"]
    # pad=1 is Keras' 'same' where s is 1, not where it is 2: an explicit padding serves both
    init = ast.unparse(method(found["Dws"], "__init__"))
    assert "layers.ZeroPadding2D(1, name=name + '_depthwise2d_1_pad')" in init
    assert "layers.DepthwiseConv2D(3, strides=s, use_bias=False, name=name + '_depthwise2d_1')" in init
    # the Keras layers are named after the call: b2's depthwise convolution is b2_depthwise2d_1
    program = compile_text((EXAMPLES / "mobilenet_v1.nn").read_text(encoding="utf-8")).program
    node = next(n for n in program.models[0].layers if n.path == ("b2",) and n.kind == "depthwise2d")
    assert made.models[0].layers[node.index] == ["b2_depthwise2d_1_pad", "b2_depthwise2d_1"]


def test_a_keras_loop_names_each_iteration():
    made, tree = example("keras", "vgg16")
    init = ast.unparse(method(classes(tree)["VggStage"], "__init__"))
    assert "for i in range(n):" in init and "prefix = f'{name}_repeat_{i + 1}'" in init
    program = compile_text((EXAMPLES / "vgg16.nn").read_text(encoding="utf-8")).program
    convolutions = [node for node in program.models[0].layers if node.path == ("stage4",) and node.kind == "conv2d"]
    assert [made.models[0].layers[node.index] for node in convolutions] == [
        ["stage4_repeat_1_conv2d_1"], ["stage4_repeat_2_conv2d_1"], ["stage4_repeat_3_conv2d_1"]]


def test_keras_names_stay_unique_when_a_call_name_meets_a_layer_name():
    """A layer outside the block called `a_conv2d_1` takes the name the call `a` would give its
    convolution: the call is named a_2 instead."""
    text = """
    block blk(c) { conv2d c k=1 }
    model m {
        input 4x4x2
        a_conv2d_1: conv2d 3 k=1
        a: blk(2)
    }
    """
    made, tree = exported("keras", text)
    names = [name for names in made.models[0].layers.values() for name in names]
    assert names == ["a_conv2d_1", "a_2_conv2d_1"]


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_the_command_writes_the_classes(tmp_path, target):
    source = tmp_path / "net.nn"
    source.write_text(GROWING)
    proc = run_nnc("export", source, "--to", target)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("class Grow") == 1
