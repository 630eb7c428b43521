"""HiMA: Hot / Warm / Cold parameter tiers for any nn.Module and torch optimizer.

Every parameter tensor the optimizer holds gets a tier:

- **Hot**: updated every step.
- **Warm**: updated every ``warm_every`` (k) steps with the learning rate times ``warm_lr_scale`` (s); its
  optimizer moments stay on the device, so momentum is continuous.
- **Cold**: frozen. ``requires_grad`` is False (autograd skips its weight-gradient compute) and its
  optimizer state is evicted from ``optimizer.state`` (moved to CPU memory or freed: ``cold_state``).

Tensors are ranked by a score and split by cutoffs (cumulative fractions of parameter elements, see
``hima.tiering``); tiers are recomputed every ``retier_every`` steps. Parameter groups are never rebuilt.

Typical loop::

    hima = HiMA(model, torch.optim.AdamW(model.parameters(), lr=3e-4))
    for batch in data:
        loss = model(batch).loss
        loss.backward()
        hima.clip_grad_norm_(1.0)      # optional; clips only the gradients that will be applied
        hima.step()
        hima.zero_grad()

fp16 with ``torch.amp.GradScaler``: pass ``hima`` where torch's recipe passes the optimizer::

        scaler.scale(loss).backward()
        scaler.unscale_(hima)          # before clipping: scores and the clip see unscaled gradients
        hima.clip_grad_norm_(1.0)
        scaler.step(hima)              # skipped when a gradient is inf/nan: HiMA does not count that step
        scaler.update()
        hima.zero_grad()

bf16 autocast needs no scaler: the plain loop applies.
"""
from __future__ import annotations

import math
import random

import torch
from torch import nn

from .compile import refuse_whole_model_compile
from .depth import DepthUnits, InputSideCut, depth_units
from .engine_config import METHODS, HiMAConfig
from .engine_state import EngineStateMixin
from .optimizer_state import ColdStateStore, moment_bytes
from .sharding import grad_norms, local_bytes, local_device, scale_
from .registry import policy_pins, register_parameters, requires_grad_patterns
from .tiering import (
    TIERS, Tier, assign_depth_tiers, assign_tiers, probe_selection, random_cold_indices, ramped_cutoffs,
    validate_cutoffs, validate_tier,
)

__all__ = ["HiMA", "HiMAConfig", "METHODS"]

class HiMA(EngineStateMixin):
    """Tiered training controller wrapping ``model``'s named parameters and ``optimizer``.

    Every parameter the optimizer holds is registered once, by name; ``optimizer.param_groups`` are never
    changed; only ``optimizer.state`` entries of Cold tensors are evicted and restored. HiMA owns
    ``requires_grad`` of the registered parameters (except with method ``full``, which never touches it).

    Score: per tensor, the RMS of its gradient, ``||g||_2 / sqrt(numel)`` (so tensors of different sizes
    are comparable), smoothed by an EMA in steps: a new observation ``x`` at step t gives
    ``score = w * score + (1 - w) * x`` with ``w = score_beta ** (t - t_last_observed)`` (the first
    observation sets the score). Hot tensors are observed every step, Warm ones on their update steps, Cold
    ones when a probe step picks them (round-robin, a bounded share per probe), so a stale score fades at the
    same rate a fresh one would move.
    Scores stay on the device: no host synchronisation per step; re-tiering (every R steps) syncs once.
    A step whose gradients hold an inf or nan is not observed (every score keeps its value).

    Mixed precision: HiMA has the optimizer's ``param_groups`` and ``step()``, so ``GradScaler`` takes it in
    place of the optimizer (``scaler.unscale_(hima)``, ``scaler.step(hima)``). A step the scaler skips never
    reaches ``step()``: the step count, the Warm and re-tier schedules and the scores stay where they were.
    """

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, config: HiMAConfig | None = None,
        blocks: list[nn.Module] | None = None,
    ) -> None:
        """``blocks``: the model's stack of blocks for the ``depth`` layout; found automatically when None
        (``hima.depth.find_blocks``: the largest list of same-class modules)."""
        config = config if config is not None else HiMAConfig()
        config.validate()
        self.config = config
        self.optimizer = optimizer
        self._model = model
        if config.method != "full":
            refuse_whole_model_compile(model, config.method)
        self._names, self._params = register_parameters(model, optimizer)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._name_of = {id(p): name for name, p in zip(self._names, self._params)}
        self._numels = [p.numel() for p in self._params]
        self._device = local_device(self._params[0])  # a sharded (FSDP2) parameter: its shard's device
        self._multi_device = any(local_device(p) != self._device for p in self._params)
        self._scores = torch.zeros(len(self._params), dtype=torch.float32, device=self._device)
        self._last_seen = torch.full_like(self._scores, -math.inf)
        self._inv_sqrt_numel = torch.tensor([1.0 / math.sqrt(n) for n in self._numels], device=self._device)
        self._index_cache: dict[tuple[int, ...], torch.Tensor] = {}
        self._store = ColdStateStore(optimizer, config.cold_state)
        self._cutoffs = (float(config.hot), float(config.warm))
        self._step = 0
        self._scored_tiering = False  # becomes True at the first re-tier that ranks by score
        self._prepared_step = -1  # step whose gradients have been scored and filtered
        self._applied_norms: torch.Tensor | None = None  # norms of the gradients applied this step (for clipping)
        self._probe_after = -1  # round-robin cursor: the last Cold index probed
        self._transitions: list[tuple[str, Tier, Tier]] | None = None
        self._updated_last_step = 0
        self._units: DepthUnits | None = None
        self._input_cut: InputSideCut | None = None
        if (self._uses_tiering and config.layout == "depth") or config.method == "lisa":
            self._units = depth_units(model, self._params, blocks)
            self._unit_of = self._units.unit_of()
            self._input_cut = InputSideCut(self._units.tied_embeddings)
        use_policy_pins = self._uses_tiering and self._units is None
        self._pins: dict[str, Tier] = policy_pins(model, self._name_of, config) if use_policy_pins else {}
        self._tiers: list[Tier] = ["hot"] * len(self._params)
        self._flags: tuple[bool, tuple[int, ...]] | None = None  # (Warm on, probed Cold indices) currently set
        if config.method == "random-static":
            frozen = random_cold_indices(self._numels, config.random_cold_fraction, config.seed)
            self._apply_tiers(["cold" if i in frozen else "hot" for i in range(len(self._params))])
        elif config.method == "lisa":
            self._apply_tiers(self._lisa_tiers())
        else:
            self._apply_tiers(self._unscored_tiers())
            if self._units is not None and config.first_retier == 0:
                # Depth layout, first_retier 0: Cold (chosen by depth, not by score) from the first step, so the
                # memory it frees is free from the start (fine-tuning; the largest batch that fits a budget).
                self._scored_tiering = True
                self._apply_tiers(self._depth_tiers(two_tier=config.method != "hima"))
        self._transitions = None  # the construction is not a transition

    # ---- the training step ---------------------------------------------------------------------------

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Score the gradients, then clip only those that will be applied this step; return their total norm.

        Use instead of ``torch.nn.utils.clip_grad_norm_(model.parameters())``, which would also count probe
        gradients of Cold tensors (never applied) and scale the scores.
        """
        self._prepare_gradients()
        applied = [p.grad for p in self._params if p.grad is not None]
        if self._multi_device or self._applied_norms is None:
            return torch.nn.utils.clip_grad_norm_([p for p in self._params if p.grad is not None], max_norm)
        # The per-tensor norms were computed once for the scores: the clip reuses them (one pass over the
        # gradients per step, not two). Same rule as torch.nn.utils.clip_grad_norm_.
        total = torch.linalg.vector_norm(self._applied_norms)
        scale_(applied, torch.clamp(max_norm / (total + 1e-6), max=1.0))
        return total

    def step(self) -> None:
        """Apply the optimizer to Hot tensors (and Warm ones on their k-th step, with lr * s), then re-tier
        when due and set ``requires_grad`` for the next step. Call after ``loss.backward()``."""
        self._prepare_gradients()
        if self._flags is not None and self._flags[1]:
            self._probe_after = self._flags[1][-1]  # the next probe continues after the last tensor probed
        warm_due = self._warm_due(self._step)
        warm = [p for p in self._warm_params if p.grad is not None] if warm_due else []
        scale = self.config.warm_lr_scale
        if warm and scale != 1.0:
            self._step_with_scaled_warm(warm, scale)
        else:
            self.optimizer.step()
        self._updated_last_step = sum(p.numel() for p in self._hot_params if p.grad is not None)
        self._updated_last_step += sum(p.numel() for p in warm)
        self._step += 1
        if self._retier_due(self._step):
            self._scored_tiering = True
            self._retier()
        elif self.config.method == "lisa" and self._step % self.config.lisa_interval == 0:
            self._record(self._apply_tiers(self._lisa_tiers()))
        self._set_requires_grad()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set every registered gradient to None (always: ``set_to_none`` is accepted for the optimizer's
        signature). Also ends a step that ``GradScaler`` skipped: the next gradients are scored afresh."""
        for p in self._params:
            p.grad = None
        self._prepared_step = -1

    @property
    def param_groups(self) -> list[dict]:
        """The wrapped optimizer's parameter groups, so ``GradScaler.unscale_(hima)`` and
        ``GradScaler.step(hima)`` treat HiMA as the optimizer (fp16: see the class docstring)."""
        return self.optimizer.param_groups

    def _step_with_scaled_warm(self, warm: list[torch.Tensor], scale: float) -> None:
        # Two optimizer calls, each parameter stepped once: Hot at the group lr, then Warm at lr * s.
        # Groups are left as they were (the lr object itself is put back), so LR schedulers keep working.
        warm_grads = [p.grad for p in warm]
        for p in warm:
            p.grad = None
        self.optimizer.step()
        hot = [p for p in self._hot_params if p.grad is not None]
        hot_grads = [p.grad for p in hot]
        for p in hot:
            p.grad = None
        for p, g in zip(warm, warm_grads):
            p.grad = g
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        try:
            for group, lr in zip(self.optimizer.param_groups, lrs):
                group["lr"] = lr * scale
            self.optimizer.step()
        finally:
            for group, lr in zip(self.optimizer.param_groups, lrs):
                group["lr"] = lr
            for p, g in zip(hot, hot_grads):
                p.grad = g

    def _prepare_gradients(self) -> None:
        """Once per step: update scores from the gradients present, then drop those not applied this step."""
        if self._prepared_step == self._step:
            return
        self._prepared_step = self._step
        self._applied_norms = None
        indices = [i for i, p in enumerate(self._params) if p.grad is not None]
        if not indices:
            return
        norms = self._update_scores(indices)
        warm_due = self._warm_due(self._step)
        applied = []
        for position, i in enumerate(indices):
            tier = self._tiers[i]
            if self.config.method != "full" and (tier == "cold" or (tier == "warm" and not warm_due)):
                self._params[i].grad = None
            else:
                applied.append(position)
        if applied:
            self._applied_norms = norms if len(applied) == len(indices) else norms[self._index_tensor(applied)]

    def _update_scores(self, indices: list[int]) -> torch.Tensor:
        """Update the scores of ``indices`` from their gradients; return the gradients' L2 norms (stacked)."""
        grads = [self._params[i].grad for i in indices]
        norms = grad_norms(grads)  # over all shards of a sharded gradient: every rank scores alike
        if self._multi_device:
            norms = [n.to(self._device) for n in norms]
        stacked = torch.stack(norms)
        where = self._index_tensor(indices)
        rms = stacked * self._inv_sqrt_numel[where]
        weight = torch.pow(self.config.score_beta, self._step - self._last_seen[where])
        # A step with a non-finite gradient is not observed at all (no host sync: a device-side choice): it
        # would poison the EMA for ever (0 * inf = nan), and under fp16 it is a step GradScaler skips, so
        # its retry at the same step number must still count as the tensor's observation.
        finite = torch.isfinite(stacked).all()
        previous_scores, previous_seen = self._scores[where], self._last_seen[where]
        self._scores.index_copy_(0, where, torch.where(finite, weight * previous_scores + (1.0 - weight) * rms, previous_scores))
        self._last_seen.index_copy_(0, where, torch.where(finite, torch.full_like(previous_seen, float(self._step)), previous_seen))
        return stacked

    def _index_tensor(self, indices: list[int]) -> torch.Tensor:
        # A new index tensor is a host->device copy; the few gradient patterns of a run are cached.
        key = tuple(indices)
        cached = self._index_cache.get(key)
        if cached is None:
            if len(self._index_cache) >= 32:
                self._index_cache.clear()
            cached = self._index_cache[key] = torch.tensor(indices, dtype=torch.long, device=self._device)
        return cached

    # ---- schedules ---------------------------------------------------------------------------------------

    @property
    def _uses_tiering(self) -> bool:
        return self.config.method in ("hima", "hima-no-warm", "hima-no-warm-cold")

    def _warm_due(self, step: int) -> bool:
        return (step + 1) % self.config.warm_every == 0

    def _probe_due(self, step: int) -> bool:
        every = self.config.probe_every
        if not (self._uses_tiering and every > 0 and self._cold_params) or self._units is not None:
            return False
        if self._warm_params and self.config.warm_every > 1:
            # A Warm update step already computes the Warm gradients: a probe on it would stack both on the
            # step's memory peak, so the probe moves one step earlier.
            if self._warm_due(step):
                return False
            return (step + 1) % every == 0 or ((step + 2) % every == 0 and self._warm_due(step + 1))
        return (step + 1) % every == 0

    def _probe_indices(self) -> tuple[int, ...]:
        """The Cold tensors probed on this step: round-robin, about ``probe_fraction`` of the elements."""
        if not self._probe_due(self._step):
            return ()
        c = self.config
        cold = [i for i, tier in enumerate(self._tiers) if tier == "cold"]
        if c.probe_fraction is not None:
            budget = c.probe_fraction * sum(self._numels)
        else:
            probes_per_window = max(1, c.retier_every // c.probe_every)
            budget = sum(self._numels[i] for i in cold) / probes_per_window
        return tuple(probe_selection(cold, self._numels, budget, self._probe_after))

    def _retier_due(self, steps_done: int) -> bool:
        c = self.config
        return self._uses_tiering and steps_done >= c.first_retier and (steps_done - c.first_retier) % c.retier_every == 0

    def _set_requires_grad(self, force: bool = False) -> None:
        """Flags for the step about to run: Hot on; Warm on its update steps; the probed Cold tensors on."""
        if self.config.method == "full":
            return
        probed = self._probe_indices()
        warm_on = not self.config.warm_skip_backward or self._warm_due(self._step)
        flags = (warm_on, probed)
        if force or flags != self._flags:
            # model.compile() may have been called after construction: refuse before flags change under it.
            refuse_whole_model_compile(self._model, self.config.method)
            for p in self._warm_params:
                p.requires_grad_(warm_on)
            on = set(probed)
            for i, tier in enumerate(self._tiers):
                if tier == "cold":
                    self._params[i].requires_grad_(i in on)
        if force:
            for p in self._hot_params:
                p.requires_grad_(True)
            if self._input_cut is not None:  # the tied embedding's input side is Cold with the stem
                self._input_cut.active = self._tiers[self._units.members[0][0]] == "cold"
        self._flags = flags

    # ---- tiering -----------------------------------------------------------------------------------------

    def _unscored_tiers(self) -> list[Tier]:
        """Before scores are used: every tensor Hot except pinned ones."""
        return [self._pins.get(name, "hot") for name in self._names]

    def cutoffs_in_force(self) -> tuple[float, float]:
        """The cutoffs the next re-tier uses: ``cutoffs`` while the ramp (``ramp_start``..``ramp_end``) is
        over, scaled toward all-Hot before (``hima.tiering.ramped_cutoffs``). For ``hima-no-warm-cold`` the
        Warm share is Cold: (hot, hot)."""
        c = self.config
        hot, warm = ramped_cutoffs(self._cutoffs, self._step, c.ramp_start, c.ramp_end)
        return (hot, hot) if c.method == "hima-no-warm-cold" else (hot, warm)

    def _retier(self) -> None:
        if not self._scored_tiering:
            self._record(self._apply_tiers(self._unscored_tiers()))
            return
        two_tier = self.config.method != "hima"
        if self._units is not None:
            self._record(self._apply_tiers(self._depth_tiers(two_tier)))
            return
        pins = {self._index[name]: tier for name, tier in self._pins.items()}
        tiers = assign_tiers(
            self._scores.tolist(), self._numels, self.cutoffs_in_force(), self._tiers, pins,
            self.config.hysteresis, two_tier=two_tier,
        )
        self._record(self._apply_tiers(tiers))

    def _depth_tiers(self, two_tier: bool) -> list[Tier]:
        """Per-tensor tiers from the depth rule applied to units (``hima.tiering.assign_depth_tiers``)."""
        units = self._units
        scores = self._scores.tolist()
        unit_scores, unit_numels, current, pins = [], [], [], {}
        for u, members in enumerate(units.members):
            elements = sum(self._numels[i] for i in members)
            # The RMS over the unit's elements of its tensors' gradient RMS scores.
            unit_scores.append(math.sqrt(sum(self._numels[i] * scores[i] ** 2 for i in members) / elements))
            unit_numels.append(elements)
            current.append(self._tiers[members[0]])
            pinned = [self._pins[self._names[i]] for i in members if self._names[i] in self._pins]
            if pinned:
                pins[u] = pinned[-1]
        if not self.config.freeze_stem and units.names[0] == "stem":
            pins.setdefault(0, "hot")  # the stem trains unless the user pinned it (HiMAConfig.freeze_stem)
        unit_tiers = assign_depth_tiers(
            unit_scores, unit_numels, self.cutoffs_in_force(), current, pins, self.config.hysteresis, two_tier=two_tier,
            warm_by_depth=self.config.warm_placement == "depth")
        return [unit_tiers[self._unit_of[i]] for i in range(len(self._params))]

    def _lisa_tiers(self) -> list[Tier]:
        """LISA's sample for the current interval: the stem and head units Hot, ``lisa_layers`` of the blocks Hot,
        the other blocks Cold (a model without blocks: its first and last units always Hot). Seeded by (seed,
        interval number), so a resumed run draws the same blocks."""
        names = self._units.names
        always = {u for u, name in enumerate(names) if name in ("stem", "head")} or {0, len(names) - 1}
        middle = [u for u in range(len(names)) if u not in always]
        interval = self._step // self.config.lisa_interval
        rng = random.Random(self.config.seed * 1_000_003 + interval)
        hot_units = always | set(rng.sample(middle, min(self.config.lisa_layers, len(middle))))
        return ["hot" if self._unit_of[i] in hot_units else "cold" for i in range(len(self._params))]

    def _record(self, changes: list[tuple[str, Tier, Tier]]) -> None:
        # Changes accumulate until the loop takes them, so none are lost between two events.
        self._transitions = (self._transitions or []) + changes

    def _apply_tiers(self, tiers: list[Tier]) -> list[tuple[str, Tier, Tier]]:
        changes = []
        for i, (old, new) in enumerate(zip(self._tiers, tiers)):
            if old == new:
                continue
            changes.append((self._names[i], old, new))
            if new == "cold":
                self._store.evict(self._names[i], self._params[i])
            elif old == "cold":
                self._store.restore(self._names[i], self._params[i])
        if changes or not hasattr(self, "_hot_params"):
            self._rebuild(tiers)
        return changes

    def _rebuild(self, tiers: list[Tier]) -> None:
        """Adopt ``tiers`` (state already evicted/restored) and set requires_grad for the next step."""
        self._tiers = list(tiers)
        by_tier = {tier: [p for p, t in zip(self._params, tiers) if t == tier] for tier in TIERS}
        self._hot_params, self._warm_params, self._cold_params = by_tier["hot"], by_tier["warm"], by_tier["cold"]
        self._index_cache.clear()
        self._set_requires_grad(force=True)

    # ---- controls ----------------------------------------------------------------------------------------

    def set_cutoffs(self, hot: float, warm: float) -> None:
        """Change the cutoffs (fractions of parameter elements, ``0 <= hot <= warm <= 1``).

        Re-tiers at once with the current scores, so the change applies from the next step. Before the
        first step there are no scores yet: the cutoffs are stored and used from the first re-tier.
        """
        self._refuse_controls("changing cutoffs")
        self._cutoffs = validate_cutoffs(hot, warm)
        if self._step > 0:
            self._scored_tiering = True
            self._retier()

    def pin(self, name: str, tier: Tier) -> None:
        """Keep tensor ``name`` in ``tier`` regardless of its score (applies from the next step)."""
        self._refuse_controls("pinning")
        index = self._lookup(name)
        validate_tier(tier)
        if tier == "warm" and self.config.method != "hima":
            raise ValueError(f"{self.config.method} has no Warm tier: pin to 'hot' or 'cold'")
        for i in self._pin_group(index):
            self._pins[self._names[i]] = tier
        self._retier()

    def unpin(self, name: str) -> None:
        """Let tensor ``name`` be tiered by its score again (applies from the next step)."""
        self._refuse_controls("unpinning")
        for i in self._pin_group(self._lookup(name)):
            self._pins.pop(self._names[i], None)
        self._retier()

    def _pin_group(self, index: int) -> list[int]:
        """The tensors a pin of tensor ``index`` applies to: its depth unit, or the tensor alone."""
        if self._units is None:
            return [index]
        return list(self._units.members[self._unit_of[index]])

    def _refuse_controls(self, what: str) -> None:
        if not self._uses_tiering:
            raise ValueError(f"{what} is not supported for method {self.config.method!r} (only hima, hima-no-warm, hima-no-warm-cold)")

    def _lookup(self, name: str) -> int:
        if name not in self._index:
            raise KeyError(f"unknown tensor {name!r}: not a registered parameter of this model")
        return self._index[name]

    # ---- inspection --------------------------------------------------------------------------------------

    @property
    def step_count(self) -> int:
        """Optimizer steps done."""
        return self._step

    @property
    def names(self) -> list[str]:
        """Registered parameter names, in registration (``model.named_parameters()``) order."""
        return list(self._names)

    @property
    def cutoffs(self) -> tuple[float, float]:
        return self._cutoffs

    def tier_of(self, name: str) -> Tier:
        return self._tiers[self._lookup(name)]

    def score_of(self, name: str) -> float:
        """Current score (EMA of gradient RMS); 0.0 before the tensor's first gradient. Syncs the device."""
        return float(self._scores[self._lookup(name)])

    def scores(self) -> dict[str, float]:
        """All scores by name, with one device sync."""
        return dict(zip(self._names, self._scores.tolist()))

    def tiers(self) -> dict[str, Tier]:
        return dict(zip(self._names, self._tiers))

    def is_pinned(self, name: str) -> bool:
        return self._names[self._lookup(name)] in self._pins

    def counts(self) -> dict[Tier, dict[str, int]]:
        """Per tier: number of tensors and of elements."""
        out = {tier: {"tensors": 0, "elements": 0} for tier in TIERS}
        for tier, numel in zip(self._tiers, self._numels):
            out[tier]["tensors"] += 1
            out[tier]["elements"] += numel
        return out

    def take_transitions(self) -> list[tuple[str, Tier, Tier]] | None:
        """Tier changes ``(name, old, new)`` since the last call; None when no re-tier happened since then."""
        taken, self._transitions = self._transitions, None
        return taken

    def optimizer_state_bytes(self) -> dict[str, int]:
        """Bytes held in ``optimizer.state`` on each parameter's device, per tier and in total (all state
        tensors except the scalar ``step`` counter). Cold is 0 once its state is evicted."""
        out = {tier: 0 for tier in TIERS}
        for p, tier in zip(self._params, self._tiers):
            state = self.optimizer.state.get(p)
            if state:
                out[tier] += moment_bytes(state, local_device(p))
        return {"total": sum(out.values()), **out}

    def full_optimizer_state_bytes(self) -> int:
        """What plain AdamW would hold: two moments (exp_avg, exp_avg_sq) in each parameter's dtype (this
        rank's shards when the model is sharded); the 4-byte step counters are not counted (nor in
        ``optimizer_state_bytes``)."""
        return sum(2 * local_bytes(p) for p in self._params)

    def evicted_bytes(self) -> int:
        """Device bytes of Cold optimizer state currently evicted (offloaded to CPU or dropped)."""
        return self._store.evicted_bytes()

    def requires_grad_patterns(self, modules: list[nn.Module]) -> int:
        """Upper bound on the distinct ``requires_grad`` patterns this engine gives the parameters of
        ``modules`` that share one forward (so one torch.compile cache): 1 for ``full``; one fixed pattern
        per module for ``random-static``; for ``hima``/``hima-no-warm`` any combination of the unpinned
        parameters of a module (norms and biases are pinned Hot by default: 2**4 for a GPT block); for the
        ``depth`` layout 4 (a block's tensors all on or all off, its input with or without a gradient)."""
        if self._units is not None:
            return 4
        return requires_grad_patterns(self.config.method, modules, self._name_of, self._pins)

    def updated_elements_last_step(self) -> int:
        """Elements whose gradients the optimizer applied in the last step."""
        return self._updated_last_step

