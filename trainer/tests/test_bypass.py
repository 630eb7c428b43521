"""The stem bypass (HiMAConfig.stem_bypass): the stem trains above a Cold prefix of blocks while the prefix leaves
the backward pass: the same forward, exact gradients above the prefix, the stem's gradient the one at the top
of the prefix, no activation saved and no input gradient in the prefix, and per-block compile agrees."""
import copy

import pytest
import torch

from hima import HiMA, HiMAConfig, compile_per_block
from hima.bypass import StemBypass

from test_depth import gpt


def engine(model, **config):
    config = {"first_retier": 1, "retier_every": 1, "hot": 0.6, "warm": 0.6, "freeze_stem": False,
              "stem_bypass": True, **config}
    return HiMA(model, torch.optim.AdamW(model.parameters(), lr=1e-3), HiMAConfig(**config))


def batch(seed=0):
    return torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(seed))


def one_step(model, hima, seed=0):
    idx = batch(seed)
    _, loss = model(idx, idx)
    loss.backward()
    hima.step()
    hima.zero_grad()


def cold_blocks(hima, n):
    tiers = hima.tiers()
    return [k for k in range(n) if tiers[f"transformer.h.{k}.mlp.c_fc.weight"] == "cold"]


def test_the_forward_is_unchanged_and_gradients_above_the_prefix_are_exact():
    model = gpt(layers=6)
    reference = copy.deepcopy(model)
    bypass = StemBypass(list(model.transformer.h))
    for k in range(3):  # the prefix: blocks 0..2 frozen in both models
        for m in (model, reference):
            m.transformer.h[k].requires_grad_(False)
    bypass.set_top(3)
    grad_at_top = {}
    def keep_grad(module, args):
        if args[0].requires_grad:  # returns None: args unchanged
            args[0].register_hook(lambda g: grad_at_top.setdefault("g", g.clone()))

    reference.transformer.h[3].register_forward_pre_hook(keep_grad)
    idx = batch()
    with torch.no_grad():
        assert torch.equal(model(idx)[0], reference(idx)[0])
    _, loss = model(idx, idx)
    _, ref_loss = reference(idx, idx)
    assert torch.equal(loss, ref_loss)
    loss.backward()
    ref_loss.backward()
    for (name, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
        if name.startswith(tuple(f"transformer.h.{k}." for k in range(3))):
            assert p.grad is None and q.grad is None, name
        elif name != "transformer.wpe.weight" and name != "transformer.wte.weight":
            torch.testing.assert_close(p.grad, q.grad, msg=name)  # above the prefix: exact
    # The position embedding learns from the gradient at the top of the prefix (summed over the batch).
    torch.testing.assert_close(model.transformer.wpe.weight.grad[:16], grad_at_top["g"].sum(0))
    bypass.remove()
    assert not model.transformer.h[0]._forward_pre_hooks and not model.transformer.h[3]._forward_pre_hooks


def test_the_prefix_saves_no_activation_and_computes_no_input_gradient():
    model = gpt(layers=6)
    hima = engine(model)
    one_step(model, hima)  # the first re-tier: the lowest blocks go Cold, the stem stays Hot
    cold = cold_blocks(hima, 6)
    assert cold == list(range(len(cold))) and cold and hima.tier_of("transformer.wpe.weight") == "hot"
    saved, input_grad, current = {k: 0 for k in range(6)}, {}, [None]

    def enter(k):
        def hook(module, args):
            current[0] = k
            input_grad[k] = args[0].requires_grad
        return hook

    for k, block in enumerate(model.transformer.h):
        block.register_forward_pre_hook(enter(k))  # after the bypass's hooks: sees the input the block gets
        block.register_forward_hook(lambda *a: current.__setitem__(0, None))

    def pack(t):
        if current[0] is not None:
            saved[current[0]] += 1
        return t

    idx = batch(1)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _, loss = model(idx, idx)
    loss.backward()
    for k in cold:
        assert saved[k] == 0 and not input_grad[k], k
    assert input_grad[len(cold)] and saved[len(cold)] > 0  # the lowest trainable block passes a gradient down
    assert model.transformer.wpe.weight.grad is not None and model.transformer.wpe.weight.grad.abs().sum() > 0


def test_the_bypass_follows_the_prefix_and_is_off_without_one():
    model = gpt(layers=4)
    hima = engine(model, hot=1.0, warm=1.0)
    one_step(model, hima)
    assert hima._bypass.top is None and not model.transformer.h[0]._forward_pre_hooks  # nothing Cold: no hooks
    hima.set_cutoffs(0.6, 0.6)
    assert hima._bypass.top == len(cold_blocks(hima, 4)) > 0
    one_step(model, hima, 1)
    hima.set_cutoffs(1.0, 1.0)
    assert hima._bypass.top is None


def test_with_the_stem_frozen_the_input_side_cut_applies_instead():
    model = gpt(layers=4)
    hima = engine(model, freeze_stem=True)
    one_step(model, hima)
    assert hima.tier_of("transformer.wpe.weight") == "cold" and hima._bypass.top is None


def test_a_model_without_blocks_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match="stem_bypass needs a stack of blocks"):
        HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(stem_bypass=True))


def test_per_block_compile_gives_the_eager_gradients():
    torch._dynamo.reset()
    model = gpt(layers=4)
    eager = copy.deepcopy(model)
    hima, hima_eager = engine(model), engine(eager)
    compile_per_block(model.transformer.h, hima, backend="aot_eager")
    for step in range(4):
        idx = batch(step)
        _, loss = model(idx, idx)
        _, ref = eager(idx, idx)
        loss.backward()
        ref.backward()
        for (name, p), (_, q) in zip(model.named_parameters(), eager.named_parameters()):
            assert (p.grad is None) == (q.grad is None), name
            if p.grad is not None:
                torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)
        for h in (hima, hima_eager):
            h.step()
            h.zero_grad()
        if step == 1:
            for h in (hima, hima_eager):
                h.set_cutoffs(0.4, 0.4)  # the prefix grows: the bypass moves up
    assert hima._bypass.top == hima_eager._bypass.top and hima._bypass.top
    with torch.no_grad():  # evaluation: no gradient anywhere, the same logits
        idx = batch(9)
        torch.testing.assert_close(model(idx)[0], eager(idx)[0], rtol=1e-4, atol=1e-5)
