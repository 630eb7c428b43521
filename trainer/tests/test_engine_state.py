"""state_dict / load_state_dict: keyed by name, and a resumed run continues bit-for-bit on CPU."""
import copy

import pytest
import torch
from torch import nn

from hima import HiMA, HiMAConfig
from test_engine import mlp, regression_batch

CONFIG = dict(first_retier=4, retier_every=4, probe_every=3, warm_every=2, hot=0.3, warm=0.6)


def build(cold_state="offload", method="hima"):
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    return model, opt, HiMA(model, opt, HiMAConfig(method=method, cold_state=cold_state, **CONFIG))


def train(model, hima, steps, start):
    losses = []
    for step in range(start, start + steps):
        x, y = regression_batch(step)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        hima.clip_grad_norm_(1.0)
        hima.step()
        hima.zero_grad()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("cold_state, method", [("offload", "hima"), ("drop", "hima"), ("offload", "hima-no-warm")])
def test_resume_continues_the_same_trajectory(cold_state, method):
    model, opt, hima = build(cold_state, method)
    train(model, hima, 9, 0)
    assert hima.counts()["cold"]["tensors"] > 0 and (cold_state == "drop" or hima.evicted_bytes() > 0)
    saved = copy.deepcopy({"model": model.state_dict(), "hima": hima.state_dict()})
    evicted_at_save = hima.evicted_bytes()
    expected = train(model, hima, 10, 9)

    model2, opt2, hima2 = build(cold_state, method)
    model2.load_state_dict(saved["model"])
    hima2.load_state_dict(saved["hima"])
    assert hima2.step_count == 9
    assert hima2.tiers() == saved["hima"]["tiers"]
    assert hima2.evicted_bytes() == evicted_at_save == sum(saved["hima"]["evicted"]["bytes"].values())
    resumed = train(model2, hima2, 10, 9)

    assert resumed == expected
    for (name, a), b in zip(model.named_parameters(), model2.parameters()):
        assert torch.equal(a, b), name
        assert a.requires_grad == b.requires_grad, name
    assert hima2.tiers() == hima.tiers()
    assert hima2.scores() == hima.scores()
    assert hima2.optimizer_state_bytes() == hima.optimizer_state_bytes()


def test_state_dict_is_keyed_by_parameter_name():
    model, opt, hima = build()
    train(model, hima, 5, 0)
    sd = hima.state_dict()
    names = [n for n, _ in model.named_parameters()]
    assert list(sd["tiers"]) == names and list(sd["scores"]) == names
    assert set(sd["optimizer"]["state"]) <= set(names)
    assert sd["optimizer"]["param_groups"][0]["params"] == names
    assert sd["optimizer"]["param_groups"][0]["lr"] == 1e-2
    # Offloaded Cold state is in the checkpoint although it is not in optimizer.state.
    cold = [n for n in names if sd["tiers"][n] == "cold"]
    assert cold and all(n in sd["optimizer"]["state"] for n in cold)
    assert sd["cutoffs"] == [0.3, 0.6] and sd["step"] == 5


def test_loading_into_a_model_with_other_tensors_fails_clearly():
    model, opt, hima = build()
    train(model, hima, 2, 0)
    sd = hima.state_dict()
    other = nn.Sequential(nn.Linear(8, 32), nn.Linear(32, 1))
    other_hima = HiMA(other, torch.optim.AdamW(other.parameters()), HiMAConfig(**CONFIG))
    with pytest.raises(ValueError, match=r"missing in this model: \['3.bias', '3.weight', '5.bias'"):
        other_hima.load_state_dict(sd)
    _, _, full = build(method="full")
    with pytest.raises(ValueError, match="saved with method 'hima'"):
        full.load_state_dict(sd)
    with pytest.raises(ValueError, match="not a HiMA engine state"):
        full.load_state_dict(opt.state_dict())
