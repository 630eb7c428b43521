"""Pure tier-assignment rules: which tier each parameter tensor belongs to, given scores and cutoffs.

No torch state lives here (plain Python lists in, lists out), so the rules can be read and tested alone.

Cutoffs are cumulative fractions of parameter ELEMENTS: tensors are ranked by score (highest first) and
walked in that order; a tensor belongs to the tier in which the midpoint of its element span falls.
So with ``hot=0.3, warm=0.6`` about 30% of all elements are Hot, 30% Warm and 40% Cold, and a tensor that
straddles a boundary goes where most of its elements lie.
"""
from __future__ import annotations

import math
import random
from typing import Literal, Sequence

from .protocol import cutoff_order_problem
from .protocol_generated import TIERS as PROTOCOL_TIERS

Tier = Literal["hot", "warm", "cold"]
TIERS: tuple[Tier, ...] = PROTOCOL_TIERS  # type: ignore[assignment]


def validate_tier(tier: object) -> Tier:
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}: expected one of 'hot', 'warm', 'cold'")
    return tier  # type: ignore[return-value]


def validate_cutoffs(hot: object, warm: object) -> tuple[float, float]:
    """Return (hot, warm) as floats, or raise ValueError saying what is wrong."""
    for label, value in (("hot", hot), ("warm", warm)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"cutoff {label} must be a number, got {value!r}")
        if math.isnan(value):
            raise ValueError(f"cutoff {label} is NaN; cutoffs must satisfy 0 <= hot <= warm <= 1")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"cutoff {label}={value} is outside [0, 1]; cutoffs must satisfy 0 <= hot <= warm <= 1")
    if order := cutoff_order_problem(hot, warm):  # type: ignore[arg-type]
        raise ValueError(f"cutoff {order}; cutoffs must satisfy 0 <= hot <= warm <= 1")
    return float(hot), float(warm)  # type: ignore[arg-type]


def assign_tiers(
    scores: Sequence[float], numels: Sequence[int], cutoffs: tuple[float, float], current: Sequence[Tier],
    pins: dict[int, Tier], hysteresis: float, two_tier: bool = False,
) -> list[Tier]:
    """Tiers for every tensor.

    - ``pins`` (index -> tier) are taken as they are; their elements count toward their tier's share, and the
      unpinned tensors fill what remains of each share (as close to the cutoffs as the pins allow).
    - Hysteresis: for ranking, a tensor's score is multiplied by ``(1 + hysteresis)`` for each tier level it
      currently holds above Cold. A challenger must therefore beat an incumbent by that relative margin to
      take its place; the tier shares still follow the cutoffs exactly.
    - ``two_tier`` (the ``hima-no-warm`` ablation): no Warm tier; the Hot boundary is the ``warm`` cutoff, so
      the Cold share equals ``hima``'s with the same cutoffs.
    """
    hot, warm = cutoffs
    total = sum(numels)
    tiers, pinned, free = _with_pins(numels, current, pins)
    free_total = sum(numels[i] for i in free)

    if two_tier:
        hot_end = _clamp(warm * total - pinned["hot"], 0.0, free_total)
        warm_end = hot_end
        level = {"hot": 1, "warm": 1, "cold": 0}
    else:
        hot_end = _clamp(hot * total - pinned["hot"], 0.0, free_total)
        warm_end = _clamp(warm * total - pinned["hot"] - pinned["warm"], hot_end, free_total)
        level = {"hot": 2, "warm": 1, "cold": 0}

    bonus = 1.0 + hysteresis
    effective = {i: scores[i] * bonus ** level[current[i]] for i in free}
    # Ties break by registration order so the result is deterministic.
    ranked = sorted(free, key=lambda i: (-effective[i], i))

    before = 0
    for i in ranked:
        midpoint = before + numels[i] / 2
        tiers[i] = "hot" if midpoint < hot_end else "warm" if midpoint < warm_end else "cold"
        before += numels[i]
    return tiers


def assign_depth_tiers(
    scores: Sequence[float], numels: Sequence[int], cutoffs: tuple[float, float], current: Sequence[Tier],
    pins: dict[int, Tier], hysteresis: float, two_tier: bool = False, warm_by_depth: bool = False,
) -> list[Tier]:
    """Tiers for depth units (bottom to top; the last one is the head), the ``depth`` layout's rule.

    - Cold is a contiguous prefix from the bottom: unpinned units are walked in depth order and a unit is Cold
      while the midpoint of its element span lies below the Cold share (``1 - warm``, minus pinned Cold
      elements). The head (last unit) is never Cold by this rule (only by a pin).
    - The other unpinned units are ranked by score (with ``assign_tiers``' hysteresis bonus) and split into
      Hot and Warm by the ``hot`` cutoff (midpoint rule); with ``two_tier`` they are all Hot. With
      ``warm_by_depth`` Warm is instead the band of units right above the Cold prefix (walked in depth order
      like Cold, the head never Warm by this rule): on the steps a Warm unit rests, backward stops above it.
    - ``pins`` (unit index -> tier) are kept and count toward their tier's share.
    - At least one unit is Hot (the best-ranked free one, if no unit is Hot otherwise).
    """
    hot, warm = cutoffs
    total = sum(numels)
    tiers, pinned, free = _with_pins(numels, current, pins)

    cold_budget = (1.0 - warm) * total - pinned["cold"]
    before = 0
    rest = []
    for u in free:
        if u != len(numels) - 1 and before + numels[u] / 2 < cold_budget:
            tiers[u] = "cold"
            before += numels[u]
        else:
            rest.append(u)
            cold_budget = -1.0  # the prefix ends at the first unit that is not Cold

    hot_end = 0.0 if two_tier else hot * total - pinned["hot"]
    level = {"hot": 2, "warm": 1, "cold": 0}
    bonus = 1.0 + hysteresis
    if warm_by_depth and not two_tier:
        # Hot fills the top: walk from the head down; what the Hot share leaves is Warm.
        ranked = list(reversed(rest))
    else:
        ranked = sorted(rest, key=lambda u: (-scores[u] * bonus ** level[current[u]], u))
    before = 0
    for u in ranked:
        tiers[u] = "hot" if two_tier or before + numels[u] / 2 < hot_end else "warm"
        before += numels[u]
    if ranked and "hot" not in tiers:
        tiers[ranked[0]] = "hot"  # every step must train something: a step with no gradient at all has no backward
    return tiers


def _with_pins(
    numels: Sequence[int], current: Sequence[Tier], pins: dict[int, Tier]
) -> tuple[list[Tier], dict[str, int], list[int]]:
    """The tiers with the pins applied, the elements pinned to each tier, and the indices left free."""
    tiers: list[Tier] = list(current)
    pinned = {tier: 0 for tier in TIERS}
    for index, tier in pins.items():
        tiers[index] = tier
        pinned[tier] += numels[index]
    return tiers, pinned, [i for i in range(len(numels)) if i not in pins]


def ramped_cutoffs(cutoffs: tuple[float, float], step: int, start: int, end: int) -> tuple[float, float]:
    """The cutoffs in force at ``step`` while the Warm and Cold shares ramp in.

    Before ``start`` every tensor is Hot (1, 1); from ``end`` on the cutoffs are as given; in between the Warm
    and Cold shares grow linearly: ``hot' = 1 - (1 - hot) r``, ``warm' = 1 - (1 - warm) r`` with
    ``r = (step - start) / (end - start)``. ``start == end`` switches at that step.
    """
    hot, warm = cutoffs
    if step >= end:
        r = 1.0
    elif step < start:
        r = 0.0
    else:
        r = (step - start) / (end - start)
    return 1.0 - (1.0 - hot) * r, 1.0 - (1.0 - warm) * r


def random_cold_indices(numels: Sequence[int], fraction: float, seed: int) -> set[int]:
    """A seeded random set of tensors covering about ``fraction`` of all elements (midpoint rule)."""
    order = list(range(len(numels)))
    random.Random(seed).shuffle(order)
    target = fraction * sum(numels)
    cold: set[int] = set()
    before = 0
    for i in order:
        if before + numels[i] / 2 < target:
            cold.add(i)
        before += numels[i]
    return cold


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def probe_selection(cold: Sequence[int], numels: Sequence[int], budget: float, after: int) -> list[int]:
    """Round-robin probe set: Cold tensor indices taken in registration order, starting after index ``after``
    (wrapping around), while fewer than ``budget`` elements are taken; at least one tensor.

    Each call that continues after the last index it returned covers at least ``budget`` elements, so
    ``ceil(cold elements / budget)`` consecutive probes reach every Cold tensor.
    """
    if not cold:
        return []
    ordered = sorted(cold)
    start = next((k for k, i in enumerate(ordered) if i > after), 0)
    chosen: list[int] = []
    taken = 0
    for k in range(len(ordered)):
        index = ordered[(start + k) % len(ordered)]
        if chosen and taken >= budget:
            break
        chosen.append(index)
        taken += numels[index]
    return chosen
