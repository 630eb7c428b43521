"""Tier controls against the real engine: refused with a reason where the method or name does not allow them."""
import pytest
import torch

from hima import HiMA, HiMAConfig
from hima.app.control import ControlRejected, apply_tier_control
from hima.app.model import GPT, gpt_config

NAME = "transformer.h.1.attn.c_attn.weight"


def engine(method: str) -> HiMA:
    model = GPT(gpt_config("tiny", 64, 16))
    return HiMA(model, torch.optim.AdamW(model.parameters(), lr=1e-3), HiMAConfig(method=method))


def control(kind: str, **fields) -> dict:
    return {"v": 1, "type": kind, "id": "c", **fields}


@pytest.mark.parametrize("method", ["full", "random-static"])
def test_methods_without_live_tiers_refuse_tier_controls(method):
    hima = engine(method)
    for c in (control("set_cutoffs", hot=0.1, warm=0.2), control("pin", name=NAME, tier="cold"), control("unpin", name=NAME)):
        with pytest.raises(ControlRejected) as info:
            apply_tier_control(hima, method, c)
        assert method in info.value.reason and info.value.control_id == "c"


def test_unknown_tensor_and_warm_pin_without_warm_tier_are_refused():
    with pytest.raises(ControlRejected, match="unknown tensor"):
        apply_tier_control(engine("hima"), "hima", control("pin", name="lm_head.weight", tier="hot"))
    with pytest.raises(ControlRejected, match="no Warm tier"):
        apply_tier_control(engine("hima-no-warm"), "hima-no-warm", control("pin", name=NAME, tier="warm"))


def test_pin_is_applied_to_the_engine():
    hima = engine("hima")
    apply_tier_control(hima, "hima", control("pin", name=NAME, tier="cold"))
    assert hima.is_pinned(NAME) and hima.tier_of(NAME) == "cold"
    apply_tier_control(hima, "hima", control("unpin", name=NAME))
    assert not hima.is_pinned(NAME)
