"""torch.compile with HiMA: whole-model compilation is refused, per-block compilation gives right gradients."""
import pytest
import torch
from torch import nn

from hima import HiMA, HiMACompileError, HiMAConfig, compile_per_block


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return x + torch.tanh(self.fc(x))


class Net(nn.Module):
    def __init__(self, width=8, depth=3):
        super().__init__()
        self.blocks = nn.ModuleList([Block(width) for _ in range(depth)])
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


@pytest.mark.parametrize("method", ["hima", "hima-no-warm", "random-static"])
def test_whole_model_compile_is_refused_with_advice(method):
    model = Net()
    compiled = torch.compile(model, backend="aot_eager")
    with pytest.raises(HiMACompileError, match="compile_per_block"):
        HiMA(compiled, torch.optim.AdamW(compiled.parameters()), HiMAConfig(method=method))
    model.compile(backend="aot_eager")
    with pytest.raises(HiMACompileError, match="compiled as a whole"):
        HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(method=method))


def test_whole_model_compile_after_construction_is_refused_before_requires_grad_changes():
    model = Net()
    hima = HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(warm_every=2, first_retier=100))
    hima.pin("head.weight", "warm")
    model.compile(backend="aot_eager")
    x = torch.randn(4, 8)
    with pytest.raises(HiMACompileError, match="compile_per_block"):
        for _ in range(2):
            model(x).sum().backward()
            hima.step()
            hima.zero_grad()


def test_full_method_accepts_a_whole_model_compile():
    model = Net()
    model.compile(backend="aot_eager")
    HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(method="full"))


def test_per_block_compile_gives_correct_gradient_presence_while_tiers_change():
    torch.manual_seed(0)
    model = Net()
    assert compile_per_block(model.blocks, backend="aot_eager") == 3
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    hima = HiMA(model, opt, HiMAConfig(first_retier=2, retier_every=2, probe_every=3, warm_every=2,
                                       hot=0.3, warm=0.6, hysteresis=0.0, pin_norms=None))
    x = torch.randn(16, 8)
    patterns, checks = set(), 0
    for step in range(12):
        expected = {name: p.requires_grad for name, p in model.named_parameters()}
        patterns.add(tuple(expected.values()))
        model(x).pow(2).mean().backward()
        for name, p in model.named_parameters():
            assert (p.grad is not None) == expected[name], f"step {step}: {name}"
            checks += 1
        hima.step()
        hima.zero_grad()
    assert len(patterns) >= 3, "tiers and probes should have changed requires_grad several times"
    assert checks == 12 * 8


def test_compile_per_block_rejects_non_modules():
    with pytest.raises(TypeError, match="nn.Module"):
        compile_per_block([nn.Linear(2, 2), "block"])
