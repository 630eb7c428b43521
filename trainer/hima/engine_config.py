"""HiMAConfig: the engine's options, their defaults and why, and their validation."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .protocol_generated import DEFAULT_CUTOFFS, METHODS
from .tiering import Tier, validate_cutoffs, validate_tier

LAYOUTS = ("depth", "tensor")


@dataclass
class HiMAConfig:
    """Options of the HiMA engine.

    method: ``full`` (plain optimizer, everything Hot forever), ``hima``, ``random-static`` (a seeded random
        set of tensors covering ``random_cold_fraction`` of the elements is Cold for the whole run, the rest
        Hot), ``hima-no-warm`` (ablation: Hot/Cold only; the ``warm`` cutoff is the Hot boundary, so the Cold
        share equals ``hima``'s with the same cutoffs), ``hima-no-warm-cold`` (the other ablation: Hot/Cold
        only, the Hot boundary is the ``hot`` cutoff, so what ``hima`` would make Warm is Cold: less compute),
        ``lisa`` (LISA, Pan et al., NeurIPS 2024, as a baseline in the same engine: the stem and head units
        (embeddings, final norm, output layer) always Hot, ``lisa_layers`` blocks sampled uniformly at random
        every ``lisa_interval`` steps are Hot, every other block Cold; no scores, cutoffs or pins).
    layout: ``depth`` (default) or ``tensor``. ``tensor``: every tensor is tiered on its own by its score, so
        Cold tensors end up scattered over depth. ``depth``: tiers are kept per depth unit (stem, each block,
        head: see ``hima.depth``), Cold is a contiguous prefix of units from the bottom, and the other units
        are Hot or Warm by score (the RMS of their tensors' scores). Only a Cold prefix shortens the backward
        pass and drops activations (see ``hima.depth`` for the measured difference), and a block whose
        tensors share one tier has two ``requires_grad`` patterns (all on, all off), so a compiled block
        needs at most 4 graphs however often tiers change. In this layout there are no probes (Cold is
        chosen by depth, not score), policy pins do not apply, and a pin applies to the tensor's whole unit.
    freeze_stem: with the ``depth`` layout, whether the stem (the units below the first block: position embeddings,
        an untied token embedding, and the tied embedding's input side) may be Cold with the prefix. Default False
        (measured): GPT-2 Small, 3000 steps on an H200, Cold ramped in over 50-95% of the budget, no Warm: with the
        stem frozen, 10% / 30% / 50% Cold cost +0.08 / +0.12 / +0.18 in val loss against full AdamW; with it
        training, +0.03 / +0.04 / +0.08 (Medium, 50%: +0.04); fine-tuning Small on a new corpus at 30% Cold,
        +0.24 -> +0.04. The price: backward runs down to the embeddings, so the Cold blocks' activations are kept
        and the step is faster only by their weight gradients (50% Cold: 1.05x whole run, against 1.15x frozen).
        True gives the largest savings (the whole backward below the lowest trainable block is cut).
    warm_placement: ``score`` (default) or ``depth``, for the ``depth`` layout: which non-Cold units are Warm.
        ``score``: the lowest-scored ones (HiMA's gradient ranking). ``depth``: the band right above the Cold
        prefix (Hot fills from the top down), so on the k-1 steps of k that Warm rests the backward pass stops
        above the band too.
    ramp_start, ramp_end: steps over which the Warm and Cold shares grow linearly from 0 to what the cutoffs
        say (``hima.tiering.ramped_cutoffs``); re-tiers in between use the ramped cutoffs. Default 0, 0: the
        cutoffs apply from the first re-tier.
    hot, warm: cutoffs, cumulative fractions of parameter ELEMENTS over tensors ranked by score;
        ``0 <= hot <= warm <= 1``; Cold share = ``1 - warm``.
    first_retier: the first re-tier (steps); before it every tensor is Hot (scores are gathered). With the depth
        layout, 0 applies the Cold prefix at construction (Cold is chosen by depth; Hot/Warm wait for scores), so
        the memory it frees is free from the first step.
    warm_lr_scale: default 1.0 (measured). The earlier default, sqrt(k) = 2 for k=4, reasoned that k noisy Adam
        steps add up to about sqrt(k) single steps; measured, it made Warm tensors worse than frozen ones: GPT-2
        Small on an H200, the bottom half Warm at lr x 2 reached val 5.27 after 3000 steps where the same half
        Cold reached 5.06; on the CPU demo model (300 steps) Warm at lr x 2 5.53, Warm at lr x 1 5.24, Cold
        5.23, all Hot 4.96. Change it together with ``warm_every``.
    probe_every: every this many steps some Cold tensors get gradients once, used only to refresh their
        scores (never applied), so a Cold tensor can come back. Default 25. 0 disables probing. A probe never
        falls on a Warm update step (it moves one step earlier): both raise the step's memory.
    probe_fraction: at most about this fraction of all parameter elements is probed on one probe step
        (whole tensors, round-robin over the Cold tensors in registration order; at least one tensor).
        None (default): the Cold share divided by the probes in one re-tier window, so every Cold tensor is
        probed about once per window while a probe step's extra gradients and activations stay a fraction
        of the Cold share (probing every Cold tensor at once made HiMA's peak memory equal full AdamW's).
    hysteresis: at a re-tier, a tensor's ranking score is multiplied by ``1 + hysteresis`` per tier level it
        holds above Cold, so a challenger must beat an incumbent by that relative margin (no flip-flop).
    pin_embeddings / pin_norms / pin_biases: policy pins for ``nn.Embedding`` weights, for the parameters of
        norm layers (any module whose class name contains "Norm") and for biases (1-D parameters named
        ``bias`` outside norm layers). Defaults: embeddings unpinned (the tied GPT embedding is a third of the
        model; it is ranked like any tensor), norms and biases Hot: they are tiny, so freezing them saves
        nothing, their scores are not comparable with those of matrices, and under per-block
        ``torch.compile`` every distinct ``requires_grad`` pattern of a block is a separate graph: with only
        the 4 matrices of a GPT block free there are at most 2**4 = 16 patterns, with the biases free 256.
        Pins apply to ``hima`` and ``hima-no-warm`` only.
    lisa_layers, lisa_interval: LISA's gamma (blocks trained at a time; default 2, ms-swift's LISA default)
        and K (steps between samples; default 20, as in LMFlow's LISA fine-tuning script). A block left out has
        its optimizer state evicted like any Cold tensor, and restored when it is sampled again.
    cold_state: ``offload`` (Cold optimizer state copied to CPU memory and restored on thaw) or ``drop``
        (freed; re-created as zeros by the optimizer on thaw).
    warm_skip_backward: Warm tensors get ``requires_grad`` False on steps where they are not updated.
    """

    method: str = "hima"
    hot: float = DEFAULT_CUTOFFS["hot"]
    warm: float = DEFAULT_CUTOFFS["warm"]
    retier_every: int = 50
    first_retier: int = 50
    warm_every: int = 4
    warm_lr_scale: float = 1.0
    score_beta: float = 0.9
    probe_every: int = 25
    probe_fraction: float | None = None
    hysteresis: float = 0.1
    random_cold_fraction: float = 0.5
    seed: int = 0
    pin_embeddings: Tier | None = None
    pin_norms: Tier | None = "hot"
    pin_biases: Tier | None = "hot"
    cold_state: str = "offload"
    warm_skip_backward: bool = True
    layout: str = "depth"
    warm_placement: str = "score"
    freeze_stem: bool = False
    ramp_start: int = 0
    ramp_end: int = 0
    lisa_layers: int = 2
    lisa_interval: int = 20

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown HiMA method {self.method!r}: expected one of {', '.join(METHODS)}")
        validate_cutoffs(self.hot, self.warm)
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        for name, low in (("retier_every", 1), ("first_retier", 0), ("warm_every", 1), ("probe_every", 0),
                          ("ramp_start", 0), ("ramp_end", 0), ("lisa_layers", 1), ("lisa_interval", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.warm_placement not in ("score", "depth"):
            raise ValueError(f"warm_placement must be 'score' or 'depth', got {self.warm_placement!r}")
        if self.ramp_end < self.ramp_start:
            raise ValueError(f"ramp_end ({self.ramp_end}) must be >= ramp_start ({self.ramp_start})")
        _check_range("warm_lr_scale", self.warm_lr_scale, 0.0, math.inf, low_open=True)
        _check_range("score_beta", self.score_beta, 0.0, 1.0, high_open=True)
        _check_range("hysteresis", self.hysteresis, 0.0, math.inf)
        if self.probe_fraction is not None:
            _check_range("probe_fraction", self.probe_fraction, 0.0, 1.0, low_open=True)
        _check_range("random_cold_fraction", self.random_cold_fraction, 0.0, 1.0)
        for name in ("pin_embeddings", "pin_norms", "pin_biases"):
            if getattr(self, name) is not None:
                validate_tier(getattr(self, name))
        if self.method.startswith("hima-no-warm") and "warm" in (self.pin_embeddings, self.pin_norms, self.pin_biases):
            raise ValueError("hima-no-warm has no Warm tier: pin_embeddings/pin_norms/pin_biases cannot be 'warm'")
        if self.cold_state not in ("offload", "drop"):
            raise ValueError(f"cold_state must be 'offload' or 'drop', got {self.cold_state!r}")


def _check_range(name, value, low, high, low_open=False, high_open=False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name}={value!r} is out of range ({'(' if low_open else '['}{low}, {high}{')' if high_open else ']'})")
