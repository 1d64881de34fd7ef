"""`class_token` and `position_embedding` against PyTorch: ViT-B/16's class token and position
embedding written as timm's VisionTransformer holds them, GPT-2's and BERT's position tables from
Hugging Face configs (random weights, on the meta device), and the exported modules run:
parameters, output shapes, FlopCounterMode MACs (0) and the values they compute."""

from __future__ import annotations

import pytest

from nnlang.driver import compile_text
from nnlang.emit import pytorch as torch_emit

pytestmark = pytest.mark.frameworks


def _nodes(body: str) -> dict:
    compilation = compile_text(f"model m {{\n{body}}}\n", "a.nn")
    assert compilation.ok, [d.message for d in compilation.diagnostics if d.is_error]
    return {n.name: n for n in compilation.program.models[0].layers}


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_vit_b16_class_token_and_position_embedding():
    import torch
    from torch import nn

    class VitTokens(nn.Module):
        """As timm's VisionTransformer: cls_token (1, 1, 768), pos_embed (1, 197, 768)."""

        def __init__(self):
            super().__init__()
            self.cls_token = nn.Parameter(torch.zeros(1, 1, 768))
            self.pos_embed = nn.Parameter(torch.zeros(1, 197, 768))

        def forward(self, x):
            x = torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], dim=1)
            return x + self.pos_embed

    module = VitTokens()
    assert _params(module) == 768 + 197 * 768
    out = module(torch.zeros(2, 196, 768))  # 196 patches of a 224x224 image, 16x16 each
    nodes = _nodes("    input 196x768\n    cls: class_token\n    pos: position_embedding 197\n")
    assert tuple(out.shape[1:]) == nodes["pos"].output_shape == nodes["cls"].output_shape
    assert module.cls_token.numel() == nodes["cls"].trainable.value
    assert module.pos_embed.numel() == nodes["pos"].trainable.value


def test_gpt2_wpe():
    import torch
    from transformers import GPT2Config, GPT2Model

    with torch.device("meta"):
        model = GPT2Model(GPT2Config())  # GPT-2 small: n_positions 1024, n_embd 768
    assert model.wpe.weight.numel() == 1024 * 768
    nodes = _nodes("    input T\n    wte: embedding 50257 768\n    wpe: position_embedding max_len=1024\n")
    assert nodes["wpe"].trainable.value == model.wpe.weight.numel()
    assert nodes["wte"].trainable.value == model.wte.weight.numel()


def test_bert_base_position_table():
    import torch
    from transformers import BertConfig, BertModel

    with torch.device("meta"):
        model = BertModel(BertConfig())  # max_position_embeddings 512, hidden 768
    table = model.embeddings.position_embeddings.weight.numel()
    assert table == 512 * 768
    nodes = _nodes("    input Tx768\n    p: position_embedding max_position_embeddings=512\n")
    assert nodes["p"].trainable.value == table


def test_the_exported_modules_compute_what_the_counts_say():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    source = "model m {\n    input 5x4\n    cls: class_token\n    pos: position_embedding 8\n}\n"
    compilation = compile_text(source, "a.nn")
    export = torch_emit.export(compilation.program, source_lines=compilation.source.lines, file_name="a.nn")
    namespace: dict = {}
    exec(compile(export.code, "<pytorch export>", "exec"), namespace)
    module = namespace[export.models[0].class_name]().eval()
    cls = module.get_submodule(export.models[0].modules[0])
    pos = module.get_submodule(export.models[0].modules[1])
    assert _params(cls) == 4 and _params(pos) == 8 * 4
    with torch.no_grad():
        cls.token.copy_(torch.arange(4.0).reshape(1, 1, 4))
        pos.table.copy_(torch.arange(32.0).reshape(8, 4) * 100)
    x = torch.ones(2, 5, 4)
    with FlopCounterMode(display=False) as counter:
        out = module(x)
    assert counter.get_total_flops() == 0
    assert tuple(out.shape) == (2, 5 + 1, 4)
    # position 0 is the token, positions 1..5 the input, each plus its row of the table
    expected = torch.cat([torch.arange(4.0).reshape(1, 1, 4).expand(2, 1, 4), x], dim=1)
    expected = expected + torch.arange(24.0).reshape(6, 4) * 100
    assert torch.equal(out, expected)
