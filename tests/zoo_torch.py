"""PyTorch builders for the model zoo in ``examples/`` (written by hand, no torchvision).

Every builder returns an ``nn.Sequential`` whose top-level children carry the
names of the ``.nn`` file's top-level labels (layers and block calls), and whose
block modules have children named like the block's branches (``b1``, ``b3``,
``main``, ``shortcut``, ``downsample``, ...), so that the test can match nnc's
JSON ``layers``/``blocks``/``branches`` with PyTorch submodules by name.

The definitions follow torchvision's (resnet18/resnet50 v1.5, vgg16, alexnet)
and the papers (GoogLeNet Table 1, LeNet-5, MobileNet v1 Table 1), see the
comments in the matching ``examples/*.nn`` files.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F


class Concat(nn.Module):
    """Runs the named branches on the same input and concatenates on channels."""

    def __init__(self, branches: "OrderedDict[str, nn.Module]"):
        super().__init__()
        self.order = list(branches)
        for name, module in branches.items():
            self.add_module(name, module)

    def forward(self, x):
        return torch.cat([getattr(self, name)(x) for name in self.order], dim=1)


class Residual(nn.Module):
    """``relu(main(x) + shortcut(x))``; the shortcut child is named as in the .nn file."""

    def __init__(self, main: nn.Module, shortcut: nn.Module | None = None, shortcut_name: str = "shortcut"):
        super().__init__()
        self.main = main
        self.shortcut_name = shortcut_name
        self.add_module(shortcut_name, shortcut if shortcut is not None else nn.Identity())

    def forward(self, x):
        return F.relu(self.main(x) + getattr(self, self.shortcut_name)(x))


def _seq(*modules):
    return nn.Sequential(*modules)


# --------------------------------------------------------------------- GoogLeNet

GOOGLENET_TABLE = [
    # name, (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
    ("inception_3a", (64, 96, 128, 16, 32, 32)),
    ("inception_3b", (128, 128, 192, 32, 96, 64)),
    ("pool3", None),
    ("inception_4a", (192, 96, 208, 16, 48, 64)),
    ("inception_4b", (160, 112, 224, 24, 64, 64)),
    ("inception_4c", (128, 128, 256, 24, 64, 64)),
    ("inception_4d", (112, 144, 288, 32, 64, 64)),
    ("inception_4e", (256, 160, 320, 32, 128, 128)),
    ("pool4", None),
    ("inception_5a", (256, 160, 320, 32, 128, 128)),
    ("inception_5b", (384, 192, 384, 48, 128, 128)),
]


def inception(c_in, c1, r3, c3, r5, c5, pp, bias=True):
    relu = nn.ReLU
    return Concat(OrderedDict(
        b1=_seq(nn.Conv2d(c_in, c1, 1, bias=bias), relu()),
        b3=_seq(nn.Conv2d(c_in, r3, 1, bias=bias), relu(), nn.Conv2d(r3, c3, 3, padding=1, bias=bias), relu()),
        b5=_seq(nn.Conv2d(c_in, r5, 1, bias=bias), relu(), nn.Conv2d(r5, c5, 5, padding=2, bias=bias), relu()),
        pool=_seq(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(c_in, pp, 1, bias=bias), relu()),
    ))


def naive_inception(c_in, c1, c3, c5):
    return Concat(OrderedDict(
        b1=_seq(nn.Conv2d(c_in, c1, 1), nn.ReLU()),
        b3=_seq(nn.Conv2d(c_in, c3, 3, padding=1), nn.ReLU()),
        b5=_seq(nn.Conv2d(c_in, c5, 5, padding=2), nn.ReLU()),
        pool=nn.MaxPool2d(3, stride=1, padding=1),
    ))


def googlenet(bias=True):
    layers = OrderedDict(
        conv1=_seq(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=bias), nn.ReLU()),
        pool1=nn.MaxPool2d(3, stride=2, padding=1),
        conv2=_seq(nn.Conv2d(64, 64, 1, bias=bias), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1, bias=bias), nn.ReLU()),
        pool2=nn.MaxPool2d(3, stride=2, padding=1),
    )
    c_in = 192
    for name, cfg in GOOGLENET_TABLE:
        if cfg is None:
            layers[name] = nn.MaxPool2d(3, stride=2, padding=1)
            continue
        layers[name] = inception(c_in, *cfg, bias=bias)
        c1, _, c3, _, c5, pp = cfg
        c_in = c1 + c3 + c5 + pp
    layers["avgpool"] = nn.AvgPool2d(7, stride=1)
    layers["dropout"] = nn.Dropout(0.4)
    layers["linear"] = _seq(nn.Flatten(), nn.Linear(1024, 1000, bias=bias))
    return nn.Sequential(layers)


def inception_naive():
    return nn.Sequential(OrderedDict(module=naive_inception(512, 64, 128, 64)))


def inception_bottleneck():
    return nn.Sequential(OrderedDict(module=inception(512, 64, 64, 128, 64, 64, 512)))


# ----------------------------------------------------------------------- ResNets

def _conv_bn(c_in, c_out, k, stride=1, padding=0):
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding, bias=False), nn.BatchNorm2d(c_out)]


def basic_block(c_in, c, stride=1):
    main = _seq(*_conv_bn(c_in, c, 3, stride, 1), nn.ReLU(), *_conv_bn(c, c, 3, 1, 1))
    if stride != 1 or c_in != c:
        return Residual(main, _seq(*_conv_bn(c_in, c, 1, stride)), "downsample")
    return Residual(main)


def bottleneck_block(c_in, w, stride=1):
    main = _seq(*_conv_bn(c_in, w, 1), nn.ReLU(),
                *_conv_bn(w, w, 3, stride, 1), nn.ReLU(),      # v1.5: stride on the 3x3
                *_conv_bn(w, 4 * w, 1))
    if stride != 1 or c_in != 4 * w:
        return Residual(main, _seq(*_conv_bn(c_in, 4 * w, 1, stride)), "downsample")
    return Residual(main)


def _resnet(block, expansion, counts):
    layers = OrderedDict(
        conv1=nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
        bn1=nn.BatchNorm2d(64),
        relu=nn.ReLU(),
        maxpool=nn.MaxPool2d(3, stride=2, padding=1),
    )
    c_in = 64
    for stage, (width, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            layers[f"layer{stage}_{i}"] = block(c_in, width, stride)
            c_in = width * expansion
    layers["avgpool"] = _seq(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    layers["fc"] = nn.Linear(c_in, 1000)
    return nn.Sequential(layers)


def resnet18():
    return _resnet(basic_block, 1, (2, 2, 2, 2))


def resnet50():
    return _resnet(bottleneck_block, 4, (3, 4, 6, 3))


# -------------------------------------------------------- VGG16, AlexNet, LeNet-5

def vgg16():
    layers = OrderedDict()
    c_in = 3
    for stage, (c, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        modules = []
        for _ in range(n):
            modules += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU()]
            c_in = c
        layers[f"stage{stage}"] = _seq(*modules, nn.MaxPool2d(2))
    layers["flatten"] = nn.Flatten()
    layers["fc6"] = _seq(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5))
    layers["fc7"] = _seq(nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5))
    layers["fc8"] = nn.Linear(4096, 1000)
    return nn.Sequential(layers)


def alexnet():
    return nn.Sequential(OrderedDict(
        conv1=_seq(nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2)),
        conv2=_seq(nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2)),
        conv3=_seq(nn.Conv2d(192, 384, 3, padding=1), nn.ReLU()),
        conv4=_seq(nn.Conv2d(384, 256, 3, padding=1), nn.ReLU()),
        conv5=_seq(nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2)),
        flatten=nn.Flatten(),
        fc6=_seq(nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU()),
        fc7=_seq(nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU()),
        fc8=nn.Linear(4096, 1000),
    ))


def lenet5():
    return nn.Sequential(OrderedDict(
        c1_s2=_seq(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2)),
        c3_s4=_seq(nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2)),
        flatten=nn.Flatten(),
        c5=_seq(nn.Linear(400, 120), nn.Tanh()),
        f6=_seq(nn.Linear(120, 84), nn.Tanh()),
        output=_seq(nn.Linear(84, 10), nn.Softmax(dim=1)),
    ))


# ------------------------------------------------------------------- MobileNet v1

def depthwise_separable(c_in, f, stride=1):
    return _seq(
        nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False), nn.BatchNorm2d(c_in), nn.ReLU(),
        nn.Conv2d(c_in, f, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(),
    )


MOBILENET_BLOCKS = [
    ("b1", 64, 1), ("b2", 128, 2), ("b3", 128, 1), ("b4", 256, 2), ("b5", 256, 1), ("b6", 512, 2),
    *[(f"b7_11_{i}", 512, 1) for i in range(1, 6)],
    ("b12", 1024, 2), ("b13", 1024, 1),
]


def mobilenet_v1():
    layers = OrderedDict(
        conv1=nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False),
        conv1_bn=nn.BatchNorm2d(32),
        conv1_relu=nn.ReLU(),
    )
    c_in = 32
    for name, f, stride in MOBILENET_BLOCKS:
        layers[name] = depthwise_separable(c_in, f, stride)
        c_in = f
    layers["avgpool"] = _seq(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    layers["fc"] = _seq(nn.Linear(1024, 1000), nn.Softmax(dim=1))
    return nn.Sequential(layers)


# ------------------------------------------------------------------- measurement

def measure(model: nn.Module, input_shape_hwc):
    """One forward pass on zeros (batch 1) under FlopCounterMode with shape hooks.

    Returns ``{"params": int, "macs": int, "modules": {name: {...}}}`` where
    ``modules`` has, for every named submodule (``"layer1_0"``, ``"layer1_0.main"``),
    its parameter count, MACs (FLOPs / 2) and output shape in nnc's form
    (batch left out, channels last).
    """
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    shapes = {}
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(_module, _inputs, output, name=name):
            shapes[name] = tuple(output.shape)

        handles.append(module.register_forward_hook(hook))
    h, w, c = input_shape_hwc
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, c, h, w))
    for handle in handles:
        handle.remove()
    flops = counter.get_flop_counts()
    root = type(model).__name__
    modules = {}
    for name, module in model.named_modules():
        if not name:
            continue
        module_flops = sum(flops.get(f"{root}.{name}", {}).values())
        modules[name] = {
            "params": sum(p.numel() for p in module.parameters()),
            "macs": module_flops // 2,
            "shape": nnc_shape(shapes[name]) if name in shapes else None,
        }
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "macs": counter.get_total_flops() // 2,
        "modules": modules,
    }


def nnc_shape(torch_shape):
    """(N, C, H, W) -> [H, W, C]; (N, F) -> [F]."""
    dims = list(torch_shape[1:])
    if len(dims) == 3:
        return [dims[1], dims[2], dims[0]]
    return dims
