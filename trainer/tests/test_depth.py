"""The depth layout: Cold as a prefix of depth units, backward cut below the lowest trainable block, a bounded
number of compiled graphs, the Warm/Cold ramp, both no-Warm ablations, and a model this project did not write."""
import pytest
import torch

from hima import HiMA, HiMAConfig, compile_per_block
from hima.depth import depth_units
from hima.app.model import GPT, gpt_config
from hima.tiering import assign_depth_tiers, ramped_cutoffs


def gpt(seed=0, layers=None):
    torch.manual_seed(seed)
    config = gpt_config("tiny", vocab_size=64, block_size=16)
    if layers is not None:
        config = type(config)(**{**config.__dict__, "n_layer": layers})
    return GPT(config)


def train(model, hima, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, 64, (2, 16), generator=g)
        _, loss = model(idx, idx)
        if loss.requires_grad:
            loss.backward()
        hima.step()
        hima.zero_grad()


def engine(model, **config):
    config = {"first_retier": 2, "retier_every": 2, "hot": 0.5, "warm": 0.5, **config}
    return HiMA(model, torch.optim.AdamW(model.parameters(), lr=1e-3), HiMAConfig(**config))


def test_units_of_a_tied_gpt_are_stem_blocks_head():
    model = gpt()
    hima = engine(model)
    units = depth_units(model, [p for _, p in model.named_parameters()])
    names = hima.names
    assert units.names == ["stem", "block 0", "block 1", "block 2", "block 3", "head"]
    assert [names[i] for i in units.members[0]] == ["transformer.wpe.weight"]
    assert [names[i] for i in units.members[-1]] == ["transformer.wte.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"]
    assert units.tied_embeddings == [model.transformer.wte]


def test_cold_is_a_prefix_from_the_bottom_and_the_head_is_never_cold():
    scores = [5.0, 1.0, 9.0, 0.5, 3.0]  # the scores do not move Cold: depth does
    tiers = assign_depth_tiers(scores, [10, 10, 10, 10, 60], (0.2, 0.65), ["hot"] * 5, {}, 0.0)
    assert tiers == ["cold", "cold", "cold", "warm", "hot"]
    everything = assign_depth_tiers(scores, [10, 10, 10, 10, 60], (0.0, 0.0), ["hot"] * 5, {}, 0.0)
    assert everything[:4] == ["cold"] * 4 and everything[4] == "hot"  # head kept; at least one unit Hot


def test_pins_keep_their_tier_and_the_prefix_continues_past_them():
    tiers = assign_depth_tiers([1.0] * 4, [10, 10, 10, 10], (0.5, 0.5), ["hot"] * 4, {0: "hot"}, 0.0)
    assert tiers == ["hot", "cold", "cold", "hot"]


def test_warm_by_depth_is_the_band_above_the_cold_prefix():
    tiers = assign_depth_tiers([9.0, 1.0, 9.0, 1.0, 9.0, 1.0], [10] * 6, (0.3, 0.7), ["hot"] * 6, {}, 0.0,
                               warm_by_depth=True)
    assert tiers == ["cold", "cold", "warm", "warm", "hot", "hot"]


def test_ramp_grows_warm_and_cold_shares_linearly():
    assert ramped_cutoffs((0.4, 0.5), 0, 100, 300) == (1.0, 1.0)
    assert ramped_cutoffs((0.4, 0.5), 200, 100, 300) == pytest.approx((0.7, 0.75))
    assert ramped_cutoffs((0.4, 0.5), 300, 100, 300) == (0.4, 0.5)
    assert ramped_cutoffs((0.4, 0.5), 5, 0, 0) == (0.4, 0.5)


def test_engine_cold_share_ramps_in_and_stays_a_prefix():
    model = gpt(layers=8)
    hima = engine(model, ramp_start=2, ramp_end=14, hot=0.3, warm=0.3)
    shares = []
    for _ in range(8):
        train(model, hima, 2)
        tiers = hima.tiers()
        cold_blocks = [k for k in range(8) if tiers[f"transformer.h.{k}.attn.c_attn.weight"] == "cold"]
        assert cold_blocks == list(range(len(cold_blocks)))  # contiguous from block 0
        for k in range(8):  # a block's tensors share one tier
            assert len({t for n, t in tiers.items() if n.startswith(f"transformer.h.{k}.")}) == 1
        shares.append(hima.counts()["cold"]["elements"] / sum(p.numel() for p in model.parameters()))
    assert shares == sorted(shares) and shares[0] < 0.1 and shares[-1] > 0.5


def test_backward_stops_at_the_lowest_trainable_block():
    """No gradient, no input gradient and no saved activation below the lowest trainable tensor."""
    model = gpt(layers=6)
    hima = engine(model, hot=0.45, warm=0.45, freeze_stem=True)
    train(model, hima, 2)  # first re-tier: the stem and the lowest blocks go Cold
    tiers = hima.tiers()
    cold = [k for k in range(6) if tiers[f"transformer.h.{k}.mlp.c_fc.weight"] == "cold"]
    assert cold and cold == list(range(len(cold))) and tiers["transformer.wpe.weight"] == "cold"
    saved = {k: 0 for k in range(6)}
    input_grad = {}
    current = [None]
    def enter(k):
        def hook(module, args):
            current[0] = k
            input_grad[k] = args[0].requires_grad
        return hook

    def leave(module, args, out):
        current[0] = None

    for k, block in enumerate(model.transformer.h):
        block.register_forward_pre_hook(enter(k))
        block.register_forward_hook(leave)

    def pack(t):
        if current[0] is not None:
            saved[current[0]] += 1
        return t

    idx = torch.randint(0, 64, (2, 16))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _, loss = model(idx, idx)
    loss.backward()
    lowest = len(cold)
    for k in cold:
        assert saved[k] == 0 and not input_grad[k]
        assert all(p.grad is None for p in model.transformer.h[k].parameters())
    assert not input_grad[lowest] and saved[lowest] > 0  # trains, but computes no gradient for its input
    assert model.transformer.wte.weight.grad is not None  # the tied weight still learns from the output side


def test_compiled_blocks_need_at_most_four_graphs_however_often_tiers_change():
    import torch._dynamo as dynamo
    import torch._dynamo.utils as dynamo_utils

    dynamo.reset()
    dynamo_utils.counters.clear()
    model = gpt(layers=6)
    hima = engine(model, hot=0.3, warm=0.6, warm_every=2)
    assert hima.requires_grad_patterns(list(model.transformer.h)) == 4
    compile_per_block(model.transformer.h, hima=hima, backend="eager")
    for k, cutoffs in enumerate([(0.3, 0.6), (0.6, 0.8), (0.2, 0.4), (0.5, 0.9), (0.3, 0.6)]):
        hima.set_cutoffs(*cutoffs)
        train(model, hima, 6, seed=k)
    assert int(dynamo_utils.counters["stats"]["unique_graphs"]) <= 4
    dynamo.reset()


def test_both_no_warm_ablations():
    model = gpt(layers=8)
    hot_reading = engine(model, method="hima-no-warm", hot=0.3, warm=0.6)
    train(model, hot_reading, 2)
    model2 = gpt(layers=8)
    cold_reading = engine(model2, method="hima-no-warm-cold", hot=0.3, warm=0.6)
    train(model2, cold_reading, 2)
    total = sum(p.numel() for p in model.parameters())
    for h in (hot_reading, cold_reading):
        assert h.counts()["warm"]["tensors"] == 0
    # Warm -> Hot keeps hima's Cold share (1 - warm); Warm -> Cold makes it 1 - hot.
    assert hot_reading.counts()["cold"]["elements"] / total == pytest.approx(0.4, abs=0.08)
    assert cold_reading.counts()["cold"]["elements"] / total == pytest.approx(0.7, abs=0.08)


def test_a_pin_applies_to_the_tensors_whole_unit():
    model = gpt()
    hima = engine(model, first_retier=100)
    hima.pin("transformer.h.1.attn.c_attn.weight", "cold")
    assert {t for n, t in hima.tiers().items() if n.startswith("transformer.h.1.")} == {"cold"}
    assert hima.is_pinned("transformer.h.1.ln_1.bias")
    hima.unpin("transformer.h.1.ln_1.bias")
    assert not hima.is_pinned("transformer.h.1.attn.c_attn.weight")


def test_a_hugging_face_gpt2_through_the_public_api():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=4, n_head=2, use_cache=False,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = transformers.GPT2LMHeadModel(config)
    hima = HiMA(model, torch.optim.AdamW(model.parameters(), lr=1e-3),
                HiMAConfig(first_retier=2, retier_every=2, hot=0.5, warm=0.5, freeze_stem=True))
    units = depth_units(model, [p for _, p in model.named_parameters()])
    assert units.names[0] == "stem" and units.names[-1] == "head" and len(units.names) == 6
    idx = torch.randint(0, 64, (2, 16))
    for _ in range(3):
        loss = model(input_ids=idx, labels=idx).loss
        loss.backward()
        hima.step()
        hima.zero_grad()
    assert hima.tier_of("transformer.h.0.attn.c_attn.weight") == "cold"
    assert hima.tier_of("transformer.wte.weight") == "hot"
    needs_grad = {}

    def record(k):
        def hook(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            needs_grad[k] = hidden.requires_grad
        return hook

    for k, block in enumerate(model.transformer.h):
        block.register_forward_pre_hook(record(k), with_kwargs=True)
    model(input_ids=idx, labels=idx).loss.backward()
    assert model.transformer.h[0].attn.c_attn.weight.grad is None and model.transformer.wte.weight.grad is not None
    cold = [k for k in range(4) if hima.tier_of(f"transformer.h.{k}.attn.c_attn.weight") == "cold"]
    assert not any(needs_grad[k] for k in cold + [len(cold)])  # backward stops at the lowest trainable block


def test_first_retier_0_makes_the_cold_prefix_before_the_first_step():
    model = gpt()
    hima = engine(model, first_retier=0, freeze_stem=True)
    tiers = hima.tiers()
    assert tiers["transformer.wpe.weight"] == "cold" and tiers["transformer.h.0.attn.c_attn.weight"] == "cold"
    assert tiers["transformer.wte.weight"] == "hot"  # the head is never Cold
    assert not model.transformer.h[0].attn.c_attn.weight.requires_grad
    assert all(p not in hima.optimizer.state for n, p in model.named_parameters() if tiers[n] == "cold")
    train(model, hima, 3)  # and it trains from there
    assert hima.tiers()["transformer.h.0.attn.c_attn.weight"] == "cold"


def test_by_default_the_stem_trains_under_a_cold_prefix_of_blocks():
    """freeze_stem False (the default): the embeddings keep learning from the input side; the Cold blocks above
    them get no weight gradient and hold no optimizer state, but pass the input gradient down."""
    model = gpt(layers=6)
    hima = engine(model, hot=0.45, warm=0.45)
    train(model, hima, 2)
    tiers = hima.tiers()
    cold = [k for k in range(6) if tiers[f"transformer.h.{k}.mlp.c_fc.weight"] == "cold"]
    assert cold and cold == list(range(len(cold))) and tiers["transformer.wpe.weight"] == "hot"
    idx = torch.randint(0, 64, (2, 16))
    _, loss = model(idx, idx)
    loss.backward()
    assert model.transformer.wpe.weight.grad is not None
    # the tied embedding learns from both sides: its gradient differs from the output side's alone
    both = model.transformer.wte.weight.grad.clone()
    assert all(p.grad is None for k in cold for p in model.transformer.h[k].parameters())
    hima.zero_grad()
    hima.config.freeze_stem = True
    hima._input_cut.active = True
    _, loss = model(idx, idx)
    loss.backward()
    assert not torch.allclose(both, model.transformer.wte.weight.grad)
