"""Cooling (HiMAConfig.cool_steps): a tensor sent to Cold keeps training with its updates annealed to 0 for a
fixed number of steps, then freezes; the Cold prefix stays a prefix; pins freeze at once; checkpoints keep it."""
import copy
import math

import pytest
import torch

from hima import HiMA, HiMAConfig
from hima.cooling import Cooling
from hima.depth import InputSideCut

from test_depth import gpt, train


def engine(model, **config):
    config = {"first_retier": 2, "retier_every": 2, "hot": 1.0, "warm": 1.0, "probe_every": 0, **config}
    return HiMA(model, torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1), HiMAConfig(**config))


def unit_tiers(hima, model):
    """Tier of the stem and of each block (block tensors share one tier in the depth layout)."""
    tiers = hima.tiers()
    return [tiers["transformer.wpe.weight"]] + [tiers[f"transformer.h.{k}.attn.c_attn.weight"] for k in range(len(model.transformer.h))]


def test_factors_fall_from_one_toward_zero_and_cooling_ends_after_its_steps():
    cooling = Cooling(4)
    chosen = cooling.hold(["hot", "hot"], ["cold", "hot"], step=10, at_once=set())
    assert chosen == ["hot", "hot"] and cooling.started == {0: 10}  # held in its tier while it cools
    factors = [cooling.factor(0, s) for s in range(10, 14)]
    assert all(a > b for a, b in zip(factors, factors[1:])) and 0.85 < factors[0] < 1 and 0 < factors[-1] < 0.15
    assert factors == pytest.approx([0.5 * (1 + math.cos(math.pi * k / 5)) for k in range(1, 5)])
    assert cooling.finished(13) == [] and cooling.finished(14) == [0] and cooling.started == {}


def test_a_later_choice_out_of_cold_stops_cooling_and_at_once_freezes():
    cooling = Cooling(5)
    cooling.hold(["hot", "warm"], ["cold", "cold"], step=3, at_once={1})
    assert cooling.started == {0: 3}  # tensor 1 freezes at once (a pin), tensor 0 cools
    assert cooling.hold(["hot", "cold"], ["cold", "cold"], step=5, at_once=set()) == ["hot", "cold"]
    assert cooling.started == {0: 3}  # a re-tier that still says Cold does not restart the cooling
    cooling.hold(["hot", "cold"], ["hot", "cold"], step=6, at_once=set())
    assert cooling.started == {}


@pytest.mark.parametrize("make", [
    lambda p, lr: torch.optim.AdamW([p], lr=lr, weight_decay=0.1),
    lambda p, lr: torch.optim.SGD([p], lr=lr, momentum=0.9, weight_decay=0.01),
])
def test_a_scaled_update_is_the_optimizer_step_at_the_learning_rate_times_the_factor(make):
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(8, 8))
    ref = torch.nn.Parameter(p.detach().clone())
    cooling = Cooling(6)
    cooling.started = {0: 0}
    opt, ref_opt = make(p, 1e-2), make(ref, 1e-2)
    for step in range(5):
        grad = torch.randn(8, 8)
        f = cooling.factor(0, step)
        ref_opt.param_groups[0]["lr"] = 1e-2 * f  # the same moments, stepped at lr * f
        p.grad, ref.grad = grad.clone(), grad.clone()
        with cooling.scaled_updates([p], step):
            opt.step()
        ref_opt.step()
        torch.testing.assert_close(p.detach(), ref.detach(), rtol=1e-6, atol=1e-7)
        ref.data.copy_(p.data)


def test_a_block_sent_to_cold_keeps_training_annealed_then_freezes_and_the_prefix_stays_a_prefix():
    model = gpt(layers=4)
    hima = engine(model, cool_steps=3, freeze_stem=True)
    train(model, hima, 2)
    hima.set_cutoffs(0.55, 0.55)  # about 45% Cold: the stem and the bottom blocks
    assert set(unit_tiers(hima, model)) == {"hot"}  # chosen Cold, but cooling first
    cooling = hima._cooling.started
    assert cooling, "set_cutoffs must start cooling"
    w = model.transformer.h[0].attn.c_attn.weight
    assert w.requires_grad and hima.optimizer.state[w]  # trains, state kept
    before = w.detach().clone()
    train(model, hima, 1)
    moved = (w.detach() - before).abs().max().item()
    assert moved > 0  # a cooling tensor is still updated
    train(model, hima, 2)  # 3 cooling steps in all
    tiers = unit_tiers(hima, model)
    assert tiers[0] == "cold" and tiers[1] == "cold" and tiers[-1] == "hot"
    first_hot = tiers.index("hot")
    assert set(tiers[:first_hot]) == {"cold"} and set(tiers[first_hot:]) == {"hot"}  # a prefix
    assert not w.requires_grad and w not in hima.optimizer.state  # frozen, state evicted
    frozen = w.detach().clone()
    train(model, hima, 2)
    assert torch.equal(w.detach(), frozen)


def test_the_ramp_with_cooling_freezes_the_same_prefix_later_and_always_contiguous():
    model = gpt(layers=4)
    ref_model = copy.deepcopy(model)  # before any engine hooks the model
    hima = engine(model, cool_steps=4, freeze_stem=True, hot=0.4, warm=0.4, ramp_start=2, ramp_end=14)
    ref = engine(ref_model, freeze_stem=True, hot=0.4, warm=0.4, ramp_start=2, ramp_end=14)
    seen_cold_at = {}
    for step in range(24):
        train(model, hima, 1, seed=step)
        train(ref_model, ref, 1, seed=step)
        tiers = unit_tiers(hima, model)
        k = tiers.index("hot") if "hot" in tiers else len(tiers)
        assert all(t == "cold" for t in tiers[:k]) and "cold" not in tiers[k:], tiers
        for u, t in enumerate(tiers):
            if t == "cold":
                seen_cold_at.setdefault(u, hima.step_count)
    ref_tiers = unit_tiers(ref, ref_model)
    assert unit_tiers(hima, model) == ref_tiers  # the same Cold prefix in the end
    assert seen_cold_at and min(seen_cold_at.values()) >= 2 + 4


def test_a_pin_to_cold_freezes_at_once():
    model = gpt(layers=4)
    hima = engine(model, cool_steps=10)
    train(model, hima, 2)
    hima.pin("transformer.h.0.attn.c_attn.weight", "cold")
    assert hima.tier_of("transformer.h.0.mlp.c_fc.weight") == "cold"
    assert not hima._cooling.started


def test_cooling_survives_a_checkpoint():
    model = gpt(layers=4)
    hima = engine(model, cool_steps=6, freeze_stem=True)
    train(model, hima, 2)
    hima.set_cutoffs(0.55, 0.55)
    train(model, hima, 2)
    state = copy.deepcopy(hima.state_dict())
    model2 = gpt(layers=4)  # a fresh model (a deep copy would carry the first engine's hooks)
    model2.load_state_dict(model.state_dict())
    hima2 = engine(model2, cool_steps=6, freeze_stem=True)
    hima2.load_state_dict(state)
    assert hima2._cooling.started == hima._cooling.started and hima2._cooling.started
    train(model, hima, 5, seed=3)
    train(model2, hima2, 5, seed=3)
    assert hima.tiers() == hima2.tiers()
    for (name, a), (_, b) in zip(model.named_parameters(), model2.named_parameters()):
        torch.testing.assert_close(a, b, msg=name)


def test_the_input_side_gradient_is_scaled_while_the_stem_cools():
    model = gpt(layers=2)
    wte = model.transformer.wte
    cut = InputSideCut([wte])
    idx = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(0))

    def grad(active, scale):
        cut.active, cut.scale = active, scale
        model.zero_grad()
        _, loss = model(idx, idx)
        loss.backward()
        return wte.weight.grad.clone()

    out_side = grad(True, 1.0)
    full = grad(False, 1.0)
    torch.testing.assert_close(grad(False, 0.25) - out_side, 0.25 * (full - out_side), rtol=1e-4, atol=1e-6)
    cut.remove()


def test_the_engine_fades_the_input_side_with_the_cooling_stem():
    model = gpt(layers=4)
    hima = engine(model, cool_steps=4, freeze_stem=True)
    train(model, hima, 2)
    hima.set_cutoffs(0.55, 0.55)
    scales = []
    for _ in range(5):
        scales.append(hima._input_cut.scale)
        train(model, hima, 1)
    assert scales[0] < 1 and all(a > b for a, b in zip(scales[:4], scales[1:4]))
    assert hima._input_cut.active  # the stem froze: the input side is cut
