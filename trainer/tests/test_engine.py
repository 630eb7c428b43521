"""HiMA engine behaviour on tiny CPU models: scores, tiers, Warm schedule, Cold eviction, controls, methods."""
import math

import pytest
import torch
from torch import nn

from hima import HiMA, HiMAConfig


class Bag(nn.Module):
    """Named parameters whose gradients a test chooses: loss = sum_i (coef_i * p_i).sum()."""

    def __init__(self, sizes):
        super().__init__()
        self.ps = nn.ParameterList([nn.Parameter(torch.zeros(n)) for n in sizes])

    def loss(self, coefs):
        return sum((p * c).sum() for p, c in zip(self.ps, coefs))


def step_bag(bag, hima, coefs):
    loss = bag.loss(coefs)
    if loss.requires_grad:
        loss.backward()
    hima.step()
    hima.zero_grad()


def make(sizes, lr=0.1, **config):
    bag = Bag(sizes)
    opt = torch.optim.AdamW(bag.parameters(), lr=lr, weight_decay=0.0)
    config.setdefault("pin_norms", None)
    return bag, opt, HiMA(bag, opt, HiMAConfig(**{"layout": "tensor", **config}))


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.LayerNorm(32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))


def regression_batch(step):
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(64, 8, generator=g)
    return x, torch.sin(x[:, :1] * 2) + x[:, 1:2] * x[:, 2:3]


# ---- scores and tiers ----------------------------------------------------------------------------------

def test_tiers_follow_known_gradients_with_element_cutoffs():
    bag, _, hima = make([100, 100, 200, 600], hot=0.2, warm=0.4, first_retier=1, retier_every=1, hysteresis=0.0)
    step_bag(bag, hima, [4.0, 3.0, 2.0, 1.0])
    assert [hima.tier_of(f"ps.{i}") for i in range(4)] == ["hot", "hot", "warm", "cold"]
    assert hima.counts() == {
        "hot": {"tensors": 2, "elements": 200},
        "warm": {"tensors": 1, "elements": 200},
        "cold": {"tensors": 1, "elements": 600},
    }
    assert hima.take_transitions() == [("ps.2", "hot", "warm"), ("ps.3", "hot", "cold")]
    assert hima.take_transitions() is None


def test_score_is_an_ema_of_gradient_rms():
    bag, _, hima = make([16, 4], first_retier=100)
    step_bag(bag, hima, [3.0, -2.0])  # constant gradients: RMS = |coef| whatever the size
    assert hima.score_of("ps.0") == pytest.approx(3.0)
    assert hima.score_of("ps.1") == pytest.approx(2.0)
    step_bag(bag, hima, [5.0, -2.0])
    assert hima.score_of("ps.0") == pytest.approx(0.9 * 3.0 + 0.1 * 5.0)
    x = torch.zeros(16)
    x[0] = 4.0  # ||g|| = 4 over 16 elements: RMS 1
    bag2, _, hima2 = make([16], first_retier=100)
    (bag2.ps[0] * x).sum().backward()
    hima2.step()
    assert hima2.score_of("ps.0") == pytest.approx(1.0)


def test_all_tensors_stay_hot_until_first_retier():
    bag, _, hima = make([10, 10, 10], hot=0.3, warm=0.6, first_retier=3, retier_every=1)
    for _ in range(2):
        step_bag(bag, hima, [3.0, 2.0, 1.0])
        assert hima.counts()["hot"]["tensors"] == 3 and hima.take_transitions() is None
    step_bag(bag, hima, [3.0, 2.0, 1.0])
    assert [hima.tier_of(n) for n in hima.names] == ["hot", "warm", "cold"]


# ---- Cold ----------------------------------------------------------------------------------------------

def test_cold_tensor_gets_no_gradient_and_holds_no_optimizer_state():
    bag, opt, hima = make([32, 32], hot=0.5, warm=0.5, first_retier=2, retier_every=100, probe_every=0)
    for _ in range(2):
        step_bag(bag, hima, [1.0, 0.01])
    cold = bag.ps[1]
    assert hima.tier_of("ps.1") == "cold"
    assert cold.requires_grad is False
    bag.loss([1.0, 1.0]).backward()
    assert cold.grad is None and bag.ps[0].grad is not None
    hima.step()
    hima.zero_grad()
    assert cold not in opt.state
    bytes_ = hima.optimizer_state_bytes()
    assert bytes_["cold"] == 0
    assert bytes_["total"] == bytes_["hot"] == 2 * 32 * 4
    assert hima.evicted_bytes() == 2 * 32 * 4
    assert hima.full_optimizer_state_bytes() == 2 * 64 * 4


@pytest.mark.parametrize("cold_state", ["offload", "drop"])
def test_cold_state_is_offloaded_or_dropped_and_comes_back_on_thaw(cold_state):
    bag, opt, hima = make([8, 8], hot=0.5, warm=0.5, first_retier=2, retier_every=100, probe_every=0,
                          cold_state=cold_state)
    for _ in range(2):
        step_bag(bag, hima, [1.0, 0.5])
    assert hima.tier_of("ps.1") == "cold" and hima.evicted_bytes() == 64
    hima.set_cutoffs(1.0, 1.0)
    assert hima.tier_of("ps.1") == "hot" and hima.evicted_bytes() == 0
    state = opt.state.get(bag.ps[1], {})
    if cold_state == "offload":
        # Before eviction: two updates with gradient 0.5 -> exp_avg = 0.5 * (1 - 0.9**2), step 2.
        assert torch.allclose(state["exp_avg"], torch.full((8,), 0.5 * (1 - 0.9**2)))
        assert float(state["step"]) == 2
    else:
        assert not state  # re-created as zeros by AdamW at the next update
    before = bag.ps[1].detach().clone()
    step_bag(bag, hima, [1.0, 0.5])
    assert not torch.equal(bag.ps[1], before), "a thawed tensor must train again"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_memory_drops_by_the_evicted_state_size():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1024, 1024), nn.Linear(1024, 1024)).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    hima = HiMA(model, opt, HiMAConfig(layout="tensor", hot=0.5, warm=0.5, first_retier=2, retier_every=1000, probe_every=0))
    x = torch.randn(8, 1024, device="cuda")

    def train_step(scale):
        (model[1](model[0](x) * scale)).pow(2).mean().backward()
        hima.step()
        hima.zero_grad()
        torch.cuda.synchronize()
        return torch.cuda.memory_allocated()

    with_all_state = train_step(1.0)  # step 1: everything Hot, AdamW state for all four tensors
    after_retier = train_step(1.0)  # step 2: re-tier; one 1024x1024 weight goes Cold
    evicted = hima.evicted_bytes()
    assert evicted >= 2 * 1024 * 1024 * 4
    assert hima.optimizer_state_bytes()["cold"] == 0
    assert with_all_state - after_retier >= evicted


# ---- Warm ----------------------------------------------------------------------------------------------

def test_warm_updates_every_k_steps_with_scaled_lr_and_keeps_its_moments():
    k, s, lr, wd = 3, 0.5, 0.1, 0.01
    bag = Bag([4, 4])
    opt = torch.optim.AdamW(bag.parameters(), lr=lr, weight_decay=wd)
    hima = HiMA(bag, opt, HiMAConfig(layout="tensor", warm_every=k, warm_lr_scale=s, first_retier=1000, probe_every=0, pin_norms=None))
    hima.pin("ps.0", "hot")
    hima.pin("ps.1", "warm")
    warm = bag.ps[1]
    lr_object = opt.param_groups[0]["lr"]
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = v = torch.zeros(4, dtype=torch.float64)
    expected = torch.zeros(4, dtype=torch.float64)
    updates = 0
    for t in range(8):
        coef = float(t + 1)
        before = warm.detach().clone()
        step_bag(bag, hima, [1.0, coef])
        if (t + 1) % k == 0:
            updates += 1
            g = torch.full((4,), coef, dtype=torch.float64)
            expected = expected * (1 - lr * s * wd)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            denom = (v / (1 - b2**updates)).sqrt() + eps
            expected = expected - (lr * s / (1 - b1**updates)) * m / denom
            assert torch.allclose(warm.detach().double(), expected, rtol=1e-6, atol=1e-7), f"step {t}"
            # Moments continue across updates (not reset): exp_avg is the running EMA.
            assert torch.allclose(opt.state[warm]["exp_avg"].double(), m, rtol=1e-6)
        else:
            assert torch.equal(warm.detach(), before), f"Warm tensor moved at step {t}"
        assert opt.param_groups[0]["lr"] is lr_object
    assert updates == 2
    # The Hot tensor moved every step at the full lr.
    assert float(opt.state[bag.ps[0]]["step"]) == 8


def test_warm_skips_backward_except_on_its_update_steps():
    bag, _, hima = make([4, 4], warm_every=4, first_retier=1000, probe_every=0)
    hima.pin("ps.1", "warm")
    seen = []
    for _ in range(8):
        bag.loss([1.0, 1.0]).backward()
        seen.append(bag.ps[1].grad is not None)
        hima.step()
        hima.zero_grad()
    assert seen == [False, False, False, True] * 2
    assert hima.updated_elements_last_step() == 8


def test_lr_scheduler_keeps_working():
    bag, opt, hima = make([4, 4], warm_every=2, warm_lr_scale=3.0, first_retier=1000)
    hima.pin("ps.1", "warm")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (step + 1))
    for step in range(5):
        step_bag(bag, hima, [1.0, 1.0])
        sched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / (step + 2))


# ---- coming back, hysteresis, pins -------------------------------------------------------------------

def test_cold_tensor_is_probed_and_comes_back_when_its_gradient_grows():
    bag, _, hima = make([10, 10], hot=0.5, warm=0.5, first_retier=2, retier_every=2, probe_every=2)
    for _ in range(2):
        step_bag(bag, hima, [1.0, 0.1])
    assert hima.tier_of("ps.1") == "cold"
    frozen = bag.ps[1].detach().clone()
    grads = []
    for t in range(2, 4):
        bag.loss([1.0, 10.0]).backward()
        grads.append(bag.ps[1].grad is not None)
        hima.step()
        hima.zero_grad()
    assert grads == [False, True]  # only the probe step computes its gradient...
    assert torch.equal(bag.ps[1].detach(), frozen)  # ...and it is not applied
    assert hima.tier_of("ps.1") == "hot" and hima.tier_of("ps.0") == "cold"
    step_bag(bag, hima, [1.0, 10.0])
    assert not torch.equal(bag.ps[1].detach(), frozen)


@pytest.mark.parametrize("hysteresis, flips", [(0.0, True), (0.1, False)])
def test_hysteresis_prevents_flip_flop_at_a_boundary(hysteresis, flips):
    bag, _, hima = make([10, 10], hot=0.5, warm=0.5, first_retier=1, retier_every=1, probe_every=1,
                        score_beta=0.0, hysteresis=hysteresis)
    step_bag(bag, hima, [1.05, 1.0])
    hima.take_transitions()
    moved = 0
    for t in range(6):
        step_bag(bag, hima, [1.0, 1.05] if t % 2 == 0 else [1.05, 1.0])
        moved += len(hima.take_transitions())
    assert (moved > 0) == flips


def test_tensor_cold_from_the_start_is_trained_once_thawed():
    bag, opt, hima = make([6, 6], first_retier=1000)
    hima.pin("ps.1", "cold")
    for _ in range(3):
        step_bag(bag, hima, [1.0, 1.0])
    assert torch.equal(bag.ps[1].detach(), torch.zeros(6))
    assert any(p is bag.ps[1] for p in opt.param_groups[0]["params"])
    hima.unpin("ps.1")
    assert not hima.is_pinned("ps.1") and hima.tier_of("ps.1") == "hot"
    step_bag(bag, hima, [1.0, 1.0])
    assert not torch.equal(bag.ps[1].detach(), torch.zeros(6))


def test_pins_override_scores():
    bag, _, hima = make([10, 10, 10], hot=0.34, warm=0.67, first_retier=1, retier_every=1)
    hima.pin("ps.0", "cold")
    hima.pin("ps.2", "hot")
    for _ in range(3):
        step_bag(bag, hima, [5.0, 1.0, 0.01])
    assert [hima.tier_of(n) for n in hima.names] == ["cold", "warm", "hot"]
    assert hima.is_pinned("ps.0") and not hima.is_pinned("ps.1")


def test_bad_pins_are_rejected_with_the_name():
    _, _, hima = make([4])
    with pytest.raises(KeyError, match="unknown tensor 'nope'"):
        hima.pin("nope", "hot")
    with pytest.raises(KeyError, match="unknown tensor 'nope'"):
        hima.unpin("nope")
    with pytest.raises(ValueError, match="unknown tier 'lukewarm'"):
        hima.pin("ps.0", "lukewarm")


def test_policy_pins_norms_hot_by_default():
    model = mlp()
    hima = HiMA(model, torch.optim.AdamW(model.parameters()), HiMAConfig(layout="tensor"))
    assert hima.is_pinned("1.weight") and hima.tier_of("1.bias") == "hot"
    emb = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    hima = HiMA(emb, torch.optim.AdamW(emb.parameters()), HiMAConfig(layout="tensor", pin_embeddings="cold"))
    assert hima.tier_of("0.weight") == "cold" and not hima.is_pinned("1.weight")


# ---- cutoffs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hot, warm", [(math.nan, 0.5), (-0.1, 0.5), (0.2, 1.1), (0.6, 0.4)])
def test_set_cutoffs_rejects_invalid_values_and_keeps_the_old_ones(hot, warm):
    _, _, hima = make([4])
    with pytest.raises(ValueError, match="0 <= hot <= warm <= 1"):
        hima.set_cutoffs(hot, warm)
    assert hima.cutoffs == (0.3, 0.6)


def test_set_cutoffs_takes_effect_at_the_next_step():
    bag, _, hima = make([10, 10, 10, 10], hot=1.0, warm=1.0, first_retier=1000)
    step_bag(bag, hima, [4.0, 3.0, 2.0, 1.0])
    assert hima.counts()["hot"]["tensors"] == 4
    hima.set_cutoffs(0.25, 0.5)
    assert hima.cutoffs == (0.25, 0.5)
    assert [hima.tier_of(n) for n in hima.names] == ["hot", "warm", "cold", "cold"]
    bag.loss([1.0] * 4).backward()
    assert [p.grad is not None for p in bag.ps] == [True, False, False, False]


# ---- methods -------------------------------------------------------------------------------------------

def test_full_method_equals_plain_adamw_and_never_touches_requires_grad():
    def run(use_hima):
        model = mlp()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        hima = HiMA(model, opt, HiMAConfig(layout="tensor", method="full")) if use_hima else None
        for step in range(6):
            x, y = regression_batch(step)
            nn.functional.mse_loss(model(x), y).backward()
            (hima or opt).step()
            (hima or opt).zero_grad()
        return model, hima

    plain, _ = run(False)
    full, hima = run(True)
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), full.parameters()))
    assert hima.counts()["hot"]["tensors"] == len(hima.names) and hima.take_transitions() is None
    with pytest.raises(ValueError, match="not supported for method 'full'"):
        hima.set_cutoffs(0.1, 0.2)
    with pytest.raises(ValueError, match="not supported for method 'full'"):
        hima.pin("0.weight", "cold")


def test_random_static_freezes_a_seeded_fraction_and_never_retiers():
    def cold_set(seed):
        torch.manual_seed(0)
        model = nn.Sequential(*[nn.Linear(8, 8) for _ in range(12)])
        hima = HiMA(model, torch.optim.AdamW(model.parameters()),
                    HiMAConfig(layout="tensor", method="random-static", random_cold_fraction=0.5, seed=seed, retier_every=1, first_retier=1))
        return model, hima, {n for n in hima.names if hima.tier_of(n) == "cold"}

    model, hima, a = cold_set(0)
    assert a == cold_set(0)[2] and a != cold_set(1)[2]
    share = hima.counts()["cold"]["elements"] / sum(p.numel() for p in model.parameters())
    assert 0.4 <= share <= 0.6
    assert "warm" not in hima.tiers().values()
    x = torch.randn(4, 8)
    for _ in range(5):
        model(x).sum().backward()
        for name, p in model.named_parameters():
            assert (p.grad is None) == (name in a)
        hima.step()
        hima.zero_grad()
        assert hima.take_transitions() is None
    with pytest.raises(ValueError, match="not supported for method 'random-static'"):
        hima.set_cutoffs(0.1, 0.2)


def test_hima_no_warm_never_has_warm_tensors_and_keeps_the_cold_share():
    sizes = [100, 100, 200, 600]
    bag, _, hima = make(sizes, method="hima-no-warm", hot=0.2, warm=0.4, first_retier=1, retier_every=1)
    for _ in range(4):
        step_bag(bag, hima, [4.0, 3.0, 2.0, 1.0])
        assert hima.counts()["warm"]["tensors"] == 0
    assert [hima.tier_of(n) for n in hima.names] == ["hot", "hot", "hot", "cold"]
    with pytest.raises(ValueError, match="no Warm tier"):
        hima.pin("ps.0", "warm")


def test_config_is_validated():
    with pytest.raises(ValueError, match="unknown HiMA method 'fast'"):
        make([4], method="fast")
    with pytest.raises(ValueError, match="warm_every must be an integer >= 1"):
        make([4], warm_every=0)
    with pytest.raises(ValueError, match="cold_state"):
        make([4], cold_state="disk")
    with pytest.raises(ValueError, match="0 <= hot <= warm <= 1"):
        make([4], hot=0.9, warm=0.1)


def test_optimizer_with_tensors_outside_the_model_is_refused():
    model = nn.Linear(2, 2)
    stray = nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="not parameters of the model"):
        HiMA(model, torch.optim.AdamW([*model.parameters(), stray]))


# ---- any nn.Module -------------------------------------------------------------------------------------

def test_hima_trains_an_mlp_with_tiers_changing():
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    hima = HiMA(model, opt, HiMAConfig(layout="tensor", first_retier=10, retier_every=10, probe_every=5))
    losses, seen_tiers = [], set()
    x, y = regression_batch(0)  # one fixed batch: the loss must fall clearly, not wander with the data
    for step in range(60):
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        hima.clip_grad_norm_(1.0)
        hima.step()
        hima.zero_grad()
        losses.append(loss.item())
        seen_tiers |= {t for t, c in hima.counts().items() if c["tensors"]}
    assert seen_tiers == {"hot", "warm", "cold"}
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


def test_hima_trains_a_small_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 3))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    hima = HiMA(model, opt, HiMAConfig(layout="tensor", first_retier=5, retier_every=5, probe_every=5))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 1, 8, 8, generator=g)
    y = (x[:, 0, :4].mean((1, 2)) > 0).long() + (x[:, 0, 4:].mean((1, 2)) > 0).long()
    losses = []
    for _ in range(40):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        hima.step()
        hima.zero_grad()
        losses.append(loss.item())
    assert hima.counts()["cold"]["tensors"] > 0
    assert losses[-1] < 0.6 * losses[0]


# ---- probes ----------------------------------------------------------------------------------------------

def test_probes_rotate_over_cold_tensors_and_avoid_warm_update_steps():
    # 4 Cold tensors, 4 probes per re-tier window: one tensor per probe, each probed once per window.
    bag, _, hima = make([10] * 6, warm_every=4, first_retier=1000, retier_every=8, probe_every=2)
    for i in range(4):
        hima.pin(f"ps.{i}", "cold")
    hima.pin("ps.5", "warm")
    probed, warm_steps = [], []
    for step in range(16):
        bag.loss([1.0] * 6).backward()
        probed.append([i for i in range(4) if bag.ps[i].grad is not None])
        if bag.ps[5].grad is not None:
            warm_steps.append(step)
        hima.step()
        hima.zero_grad()
    assert warm_steps == [3, 7, 11, 15]
    probe_steps = [s for s, got in enumerate(probed) if got]
    assert not set(probe_steps) & set(warm_steps), "a probe must not stack on a Warm update step"
    assert all(len(got) <= 1 for got in probed), "a probe takes a bounded share of the Cold tensors"
    assert [got[0] for got in probed if got] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert all(torch.equal(bag.ps[i].detach(), torch.zeros(10)) for i in range(4)), "probe gradients are not applied"


def test_probe_fraction_sets_the_share_probed_at_once():
    bag, _, hima = make([10] * 5, first_retier=1000, probe_every=1, probe_fraction=0.4)
    for i in range(4):
        hima.pin(f"ps.{i}", "cold")
    bag.loss([1.0] * 5).backward()
    assert sum(bag.ps[i].grad is not None for i in range(4)) == 2  # 40% of 50 elements = two tensors
    with pytest.raises(ValueError, match="probe_fraction"):
        HiMAConfig(layout="tensor", probe_fraction=0.0).validate()


def test_clip_uses_the_scoring_norms_and_matches_torch():
    model = mlp()
    reference = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    hima = HiMA(model, opt, HiMAConfig(layout="tensor", method="full"))
    x, y = regression_batch(0)
    for net in (model, reference):
        (100 * nn.functional.mse_loss(net(x), y)).backward()
    expected = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
    total = hima.clip_grad_norm_(0.5)
    assert torch.allclose(total, expected)
    for p, q in zip(model.parameters(), reference.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-7)
