"""fp16 with torch.amp.GradScaler: HiMA takes the optimizer's place in torch's recipe (unscale_, clip, step),
and a step the scaler skips (an inf/nan gradient) leaves the step count, the schedules and the scores alone."""
import math

import pytest
import torch
from torch import nn

from hima import HiMA, HiMAConfig


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 1))


def batch(step):
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(32, 8, generator=g)
    return x, torch.sin(x[:, :1] * 2) + x[:, 1:2] * x[:, 2:3]


def engine(model, **config):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    settings = {"layout": "tensor", "first_retier": 2, "retier_every": 2, "hot": 0.3, "warm": 0.6, "probe_every": 0, **config}
    return HiMA(model, opt, HiMAConfig(**settings))


def fp16_step(model, hima, scaler, step, poison=None):
    """torch's GradScaler recipe with HiMA in the optimizer's place; `poison` puts an inf in that parameter's gradient."""
    x, y = batch(step)
    with torch.autocast("cpu", dtype=torch.float16):
        loss = nn.functional.mse_loss(model(x).float(), y)
    scaler.scale(loss).backward()
    if poison is not None:
        poison.grad.view(-1)[0] = math.inf
    scaler.unscale_(hima)
    hima.clip_grad_norm_(1.0)
    scaler.step(hima)
    scaler.update()
    hima.zero_grad()
    return loss.detach()


def test_fp16_with_grad_scaler_trains_and_tiers():
    model = mlp()
    hima = engine(model)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    x, y = batch(999)
    with torch.no_grad():
        before = float(nn.functional.mse_loss(model(x), y))
    for s in range(80):
        fp16_step(model, hima, scaler, s)
    assert hima.step_count == 80
    with torch.no_grad():
        assert float(nn.functional.mse_loss(model(x), y)) < before
    assert all(math.isfinite(v) and v > 0 for v in hima.scores().values())
    assert hima.counts()["cold"]["tensors"] > 0  # the cutoffs applied at the re-tiers


def test_a_skipped_step_is_not_counted_and_leaves_scores_and_weights():
    model = mlp()
    hima = engine(model)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    for s in range(3):
        fp16_step(model, hima, scaler, s)
    hima.take_transitions()
    steps, scores, tiers = hima.step_count, hima.scores(), hima.tiers()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    scale = scaler.get_scale()
    hot = next(p for name, p in model.named_parameters() if hima.tier_of(name) == "hot")

    fp16_step(model, hima, scaler, 3, poison=hot)

    assert scaler.get_scale() < scale  # the scaler saw the inf and skipped
    assert hima.step_count == steps
    assert hima.scores() == scores  # no inf/nan score, no observation of the skipped step
    assert hima.tiers() == tiers and hima.take_transitions() is None
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    # The retry at the same step number is scored and applied like any step.
    fp16_step(model, hima, scaler, 4)
    assert hima.step_count == steps + 1
    assert hima.scores() != scores
    assert all(math.isfinite(v) for v in hima.scores().values())


def test_skipped_steps_do_not_shift_the_retier_schedule():
    # Same batches, one run with two skipped steps in between: the same tiers after the same applied steps.
    ref_model, model = mlp(), mlp()
    ref, hima = engine(ref_model), engine(model)
    ref_scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=1000)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=1000)
    for s in range(6):
        fp16_step(ref_model, ref, ref_scaler, s)
    for s in range(6):
        if s == 3:
            fp16_step(model, hima, scaler, s, poison=next(model.parameters()))
            scaler.update(2.0 ** 8)  # back to the reference scale, so only the skip differs
        fp16_step(model, hima, scaler, s)
    assert hima.step_count == ref.step_count == 6
    assert hima.tiers() == ref.tiers()
    assert hima.scores() == pytest.approx(ref.scores())


def test_non_finite_gradient_without_a_scaler_keeps_the_scores():
    model = mlp()
    hima = engine(model)
    x, y = batch(0)
    nn.functional.mse_loss(model(x), y).backward()
    hima.step()
    hima.zero_grad()
    scores = hima.scores()
    nn.functional.mse_loss(model(x), y).backward()
    next(model.parameters()).grad.view(-1)[0] = math.nan
    hima.step()
    assert hima.scores() == scores
