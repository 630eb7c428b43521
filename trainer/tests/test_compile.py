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
        HiMA(compiled, torch.optim.AdamW(compiled.parameters()), HiMAConfig(layout="tensor", method=method))
    model.compile(backend="aot_eager")
    with pytest.raises(HiMACompileError, match="compiled as a whole"):
        HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(layout="tensor", method=method))


def test_whole_model_compile_after_construction_is_refused_before_requires_grad_changes():
    model = Net()
    hima = HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(layout="tensor", warm_every=2, first_retier=100))
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
    HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(layout="tensor", method="full"))


def test_per_block_compile_gives_correct_gradient_presence_while_tiers_change():
    torch.manual_seed(0)
    model = Net()
    assert compile_per_block(model.blocks, backend="aot_eager") == 3
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    hima = HiMA(model, opt, HiMAConfig(layout="tensor", first_retier=2, retier_every=2, probe_every=3, warm_every=2,
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


def test_per_block_compile_follows_hima_tier_changes_without_falling_back_to_eager():
    """A GPT whose blocks are compiled (aot_eager) trains with HiMA through many re-tiers and probes: every
    requires_grad pattern gets its own graph (none silently reused, no recompile-limit hit) and the loss and
    gradients equal those of an eager copy driven through the same tiers."""
    import copy

    import torch._dynamo as dynamo
    import torch._dynamo.utils as dynamo_utils

    from hima.app.model import GPT, gpt_config

    dynamo.reset()
    dynamo_utils.counters.clear()
    dynamo.config.skip_tensor_guards_with_matching_dict_tags = True  # torch's default; compile_per_block changes it
    dynamo.config.recompile_limit = 8
    torch.manual_seed(0)
    eager = GPT(gpt_config("tiny", vocab_size=64, block_size=16))
    compiled = copy.deepcopy(eager)
    config = dict(first_retier=2, retier_every=2, probe_every=3, warm_every=2, hot=0.3, warm=0.6, hysteresis=0.0)
    engines = []
    for model in (eager, compiled):
        engines.append(HiMA(model, torch.optim.AdamW(model.parameters(), lr=3e-3), HiMAConfig(**{"layout": "tensor", **config})))
    compile_per_block(compiled.transformer.h, hima=engines[1], backend="aot_eager")
    assert dynamo.config.recompile_limit >= 2 * 16 and not dynamo.config.skip_tensor_guards_with_matching_dict_tags

    g = torch.Generator().manual_seed(0)
    patterns, changes = set(), 0
    for step in range(14):
        x = torch.randint(0, 64, (4, 16), generator=g)
        patterns |= {tuple(p.requires_grad for p in block.parameters()) for block in compiled.transformer.h}
        losses = []
        for model, hima in zip((eager, compiled), engines):
            _, loss = model(x, x)
            loss.backward()
            losses.append(loss.detach())
            for name, p in model.named_parameters():
                assert (p.grad is not None) == p.requires_grad, f"step {step}: {name}"
            hima.clip_grad_norm_(1.0)
            hima.step()
            changes += len(hima.take_transitions() or []) if model is compiled else 0
            hima.zero_grad()
        assert torch.allclose(losses[0], losses[1], atol=1e-5), f"step {step}"
        assert engines[0].tiers() == engines[1].tiers()
    for pe, pc in zip(eager.parameters(), compiled.parameters()):
        assert torch.allclose(pe, pc, atol=1e-4)
    assert changes >= 6 and len(patterns) >= 4
    frames = dynamo_utils.counters["frames"]["ok"]
    assert frames >= len(patterns), f"{frames} graphs for {len(patterns)} requires_grad patterns: one was reused"
    assert frames <= 16, "biases and norms are pinned Hot: at most 2**4 patterns per GPT block"
    dynamo.reset()
