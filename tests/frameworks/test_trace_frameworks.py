"""`nnc trace` against PyTorch autograd: every z, a, delta (dL/dz), weight and bias gradient and
the input gradient of small dense networks, for sigmoid, tanh, relu, with and without biases,
under mse (1/2 * sum of squares), bce and ce."""

from __future__ import annotations

import json

import pytest

from helpers_nnc import nnc_in_process

pytestmark = pytest.mark.frameworks


@pytest.fixture(autouse=True)
def _float64():
    import torch

    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(saved)

#: (activations per layer, sizes input..output, bias per layer, loss, target)
NETWORKS = [
    (("sigmoid", "sigmoid"), (2, 2, 1), (False, False), "mse", "0"),
    (("tanh", "tanh"), (3, 2, 2), (True, True), "mse", "0.5,-0.25"),
    (("relu", "sigmoid"), (2, 3, 1), (True, False), "bce", "1"),
    (("tanh", "relu", "linear"), (2, 3, 3, 2), (True, True, True), "mse", "1,-1"),
    (("relu", "softmax"), (3, 4, 3), (True, True), "ce", "2"),
    (("sigmoid", "tanh", "linear"), (4, 3, 2, 3), (False, True, True), "ce", "0"),  # logits
    (("tanh", "linear"), (2, 2, 1), (True, True), "bce", "0"),  # logits
    (("sigmoid", "softmax"), (2, 2, 2), (True, False), "mse", "1,0"),
]


def _weights(rows, columns, seed):
    # small decimals of one digit, varied by position: exact in the file, nearly so in float64
    return [[((seed * 7 + i * 5 + j * 3) % 13 - 6) / 10 for j in range(columns)] for i in range(rows)]


def _bias(rows, seed):
    return [((seed * 3 + i * 4) % 9 - 4) / 10 for i in range(rows)]


def _source(acts, sizes, biases):
    lines = ["model net {", f"    input {sizes[0]}"]
    for n, (act, bias) in enumerate(zip(acts, biases)):
        w = _weights(sizes[n + 1], sizes[n], n)
        text = f"    dense {sizes[n + 1]} {act} weights={json.dumps(w)}"
        text += f" bias={json.dumps(_bias(sizes[n + 1], n))}" if bias else " bias=false"
        lines.append(text)
    lines.append("}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("acts,sizes,biases,loss,target", NETWORKS)
def test_trace_matches_autograd(tmp_path, acts, sizes, biases, loss, target):
    import torch

    path = tmp_path / "net.nn"
    path.write_text(_source(acts, sizes, biases))
    x_values = [(k % 3 - 1) * 0.5 + 0.25 * k for k in range(sizes[0])]
    result = nnc_in_process("trace", path, "--input", ",".join(map(str, x_values)), "--target", target,
                            "--loss", loss, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    x = torch.tensor(x_values, requires_grad=True)
    h = x
    zs, as_, params = [], [], []
    for n, (act, bias) in enumerate(zip(acts, biases)):
        w = torch.tensor(_weights(sizes[n + 1], sizes[n], n), requires_grad=True)
        b = torch.tensor(_bias(sizes[n + 1], n), requires_grad=True) if bias else None
        z = w @ h + (b if b is not None else 0)
        z.retain_grad()
        a = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
             "softmax": lambda v: torch.softmax(v, 0), "linear": lambda v: v}[act](z)
        zs.append(z)
        as_.append(a)
        params.append((w, b))
        h = a
    out = h
    outputs = sizes[-1]
    if loss == "mse":
        y = torch.tensor([float(v) for v in target.split(",")])
        value = 0.5 * ((out - y) ** 2).sum()
    elif loss == "bce":
        y = torch.tensor([float(v) for v in target.split(",")])
        if acts[-1] == "linear":
            value = torch.nn.functional.binary_cross_entropy_with_logits(out, y, reduction="sum")
        else:
            value = torch.nn.functional.binary_cross_entropy(out, y, reduction="sum")
    else:
        index = torch.tensor([int(target)])
        if acts[-1] == "linear":
            value = torch.nn.functional.cross_entropy(out.unsqueeze(0), index, reduction="sum")
        else:
            value = -torch.log(out[int(target)])
    value.backward()

    assert report["loss"] == pytest.approx(value.item(), rel=1e-12, abs=1e-12)
    assert [layer["name"] for layer in report["layers"]] == [f"dense_{n + 1}" for n in range(len(acts))]
    for layer, z, a, (w, b) in zip(report["layers"], zs, as_, params):
        assert layer["z"] == pytest.approx(z.tolist(), rel=1e-12, abs=1e-12)
        assert layer["a"] == pytest.approx(a.tolist(), rel=1e-12, abs=1e-12)
        assert layer["delta"] == pytest.approx(z.grad.tolist(), rel=1e-10, abs=1e-12)
        for mine, theirs in zip(layer["grad_weights"], w.grad.tolist()):
            assert mine == pytest.approx(theirs, rel=1e-10, abs=1e-12)
        if b is None:
            assert "grad_bias" not in layer
        else:
            assert layer["grad_bias"] == pytest.approx(b.grad.tolist(), rel=1e-10, abs=1e-12)
    assert report["grad_input"] == pytest.approx(x.grad.tolist(), rel=1e-10, abs=1e-12)
    assert len(report["layers"][-1]["a"]) == outputs


def test_one_step_matches_torch_sgd(tmp_path):
    import torch

    path = tmp_path / "net.nn"
    path.write_text(_source(("tanh", "sigmoid"), (2, 2, 1), (True, True)))
    result = nnc_in_process("trace", path, "--input", "2,-1", "--target", "1", "--lr", "0.5", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    w1 = torch.nn.Parameter(torch.tensor(_weights(2, 2, 0)))
    b1 = torch.nn.Parameter(torch.tensor(_bias(2, 0)))
    w2 = torch.nn.Parameter(torch.tensor(_weights(1, 2, 1)))
    b2 = torch.nn.Parameter(torch.tensor(_bias(1, 1)))
    optimizer = torch.optim.SGD([w1, b1, w2, b2], lr=0.5)
    out = torch.sigmoid(w2 @ torch.tanh(w1 @ torch.tensor([2.0, -1.0]) + b1) + b2)
    (0.5 * ((out - 1.0) ** 2).sum()).backward()
    optimizer.step()
    first, second = report["layers"]
    for mine, theirs in zip(first["weights_after"], w1.tolist()):
        assert mine == pytest.approx(theirs, rel=1e-12)
    assert first["bias_after"] == pytest.approx(b1.tolist(), rel=1e-12)
    assert second["weights_after"][0] == pytest.approx(w2.tolist()[0], rel=1e-12)
    assert second["bias_after"] == pytest.approx(b2.tolist(), rel=1e-12)
