"""The pure tier rules: element-weighted cutoffs, pins, hysteresis, the no-Warm ablation, random sets."""
import math

import pytest

from hima.tiering import assign_tiers, random_cold_indices, validate_cutoffs

NUMELS = [100, 100, 200, 600]  # 1000 elements


def test_cutoffs_are_fractions_of_elements_not_tensors():
    tiers = assign_tiers([4, 3, 2, 1], NUMELS, (0.2, 0.4), ["hot"] * 4, {}, hysteresis=0.0)
    # 20% of elements = the two 100-element tensors; by tensor count 20% would be under one tensor.
    assert tiers == ["hot", "hot", "warm", "cold"]


def test_a_tensor_goes_to_the_tier_holding_most_of_its_elements():
    # The 600-element tensor ranked first spans [0, 600): its midpoint 300 lies beyond hot=0.25 (250).
    tiers = assign_tiers([1, 2, 3, 4], NUMELS, (0.25, 0.7), ["hot"] * 4, {}, hysteresis=0.0)
    assert tiers == ["cold", "cold", "cold", "warm"]  # the next one, [600, 800), has its midpoint at 700
    tiers = assign_tiers([1, 2, 3, 4], NUMELS, (0.35, 0.7), ["hot"] * 4, {}, hysteresis=0.0)
    assert tiers[3] == "hot"


def test_pinned_elements_count_toward_their_tier_share():
    # Pinning the 600-element tensor Cold already exceeds the 40% Cold share: everything else is Hot/Warm.
    tiers = assign_tiers([4, 3, 2, 9], NUMELS, (0.2, 0.6), ["hot"] * 4, {3: "cold"}, hysteresis=0.0)
    assert tiers == ["hot", "hot", "warm", "cold"]
    # A pin wins over the best score.
    tiers = assign_tiers([9, 1, 1, 1], [100] * 4, (0.5, 0.75), ["hot"] * 4, {0: "cold"}, hysteresis=0.0)
    assert tiers[0] == "cold"
    assert tiers.count("hot") == 2 and tiers.count("warm") == 1


def test_hysteresis_keeps_incumbents_within_the_margin_and_moves_them_beyond_it():
    numels = [10, 10]
    current = ["hot", "cold"]
    # The Cold challenger is 5% better: not enough to displace the Hot incumbent with a 10% margin per level.
    assert assign_tiers([1.0, 1.05], numels, (0.5, 0.5), current, {}, hysteresis=0.1) == ["hot", "cold"]
    assert assign_tiers([1.0, 1.05], numels, (0.5, 0.5), current, {}, hysteresis=0.0) == ["cold", "hot"]
    # 30% better beats the two-level (hot vs cold) bonus of 1.1**2 = 1.21.
    assert assign_tiers([1.0, 1.3], numels, (0.5, 0.5), current, {}, hysteresis=0.1) == ["cold", "hot"]


def test_two_tier_uses_the_warm_cutoff_as_hot_boundary():
    three = assign_tiers([4, 3, 2, 1], NUMELS, (0.2, 0.4), ["hot"] * 4, {}, hysteresis=0.0)
    two = assign_tiers([4, 3, 2, 1], NUMELS, (0.2, 0.4), ["hot"] * 4, {}, hysteresis=0.0, two_tier=True)
    assert "warm" not in two
    assert two == ["hot", "hot", "hot", "cold"]
    assert [t == "cold" for t in two] == [t == "cold" for t in three]


@pytest.mark.parametrize(
    "hot, warm, message",
    [
        (math.nan, 0.5, "NaN"),
        (0.2, math.nan, "NaN"),
        (-0.1, 0.5, "outside [0, 1]"),
        (0.2, 1.5, "outside [0, 1]"),
        (0.7, 0.5, "must not exceed warm"),
        ("0.3", 0.5, "must be a number"),
        (True, 0.5, "must be a number"),
    ],
)
def test_invalid_cutoffs_are_rejected_with_a_reason(hot, warm, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_cutoffs(hot, warm)


def test_edge_cutoffs_are_valid():
    assert validate_cutoffs(0, 1) == (0.0, 1.0)
    assert validate_cutoffs(0.5, 0.5) == (0.5, 0.5)


def test_random_cold_set_is_seeded_and_covers_the_fraction():
    numels = [10 * (i % 7 + 1) for i in range(60)]
    total = sum(numels)
    a = random_cold_indices(numels, 0.5, seed=0)
    assert a == random_cold_indices(numels, 0.5, seed=0)
    assert a != random_cold_indices(numels, 0.5, seed=1)
    share = sum(numels[i] for i in a) / total
    assert abs(share - 0.5) <= max(numels) / total
    assert random_cold_indices(numels, 0.0, seed=0) == set()
    assert random_cold_indices(numels, 1.0, seed=0) == set(range(60))
