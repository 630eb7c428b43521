"""HiMA checkpointing: ``state_dict`` / ``load_state_dict`` keyed by parameter name.

Kept apart from the training step (engine.py) because it only reads and writes the engine's fields.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

from .optimizer_state import load_named_optimizer_state, named_optimizer_state
from .tiering import validate_cutoffs, validate_tier

FORMAT = "hima-engine/1"


class EngineStateMixin:
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the same trajectory, keyed by parameter name.

        Holds: tiers, scores and their last-observed steps, pins, cutoffs, step counters, pending
        transitions, which states are evicted (and their byte sizes), and the optimizer state by name
        (offloaded Cold state included) with the param_groups hyper-parameters. No random number generator
        is used after construction (random-static's frozen set is in ``tiers``). Like
        ``Optimizer.state_dict()``, tensors are not copied: ``torch.save`` it or deep-copy it.
        """
        optimizer = named_optimizer_state(self.optimizer, self._name_of)
        for name in self._store.to_dict()["moved"]:
            optimizer["state"][name] = self._store.state_of(name)
        return {
            "format": FORMAT,
            "method": self.config.method,
            "config": dataclasses.asdict(self.config),
            "names": list(self._names),
            "step": self._step,
            "cutoffs": list(self._cutoffs),
            "scored_tiering": self._scored_tiering,
            "tiers": dict(zip(self._names, self._tiers)),
            "scores": dict(zip(self._names, self._scores.tolist())),
            "last_seen": dict(zip(self._names, self._last_seen.tolist())),
            "pins": dict(self._pins),
            "transitions": None if self._transitions is None else [list(t) for t in self._transitions],
            "updated_last_step": self._updated_last_step,
            "probe_after": self._probe_after,
            "evicted": self._store.to_dict(),
            "optimizer": optimizer,
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` into this engine (same method, same parameter names)."""
        if sd.get("format") != FORMAT:
            raise ValueError(f"not a HiMA engine state (format {sd.get('format')!r}, expected {FORMAT!r})")
        if sd["method"] != self.config.method:
            raise ValueError(f"checkpoint was saved with method {sd['method']!r}, this engine uses {self.config.method!r}")
        saved, mine = set(sd["names"]), set(self._names)
        if saved != mine:
            raise ValueError(
                "checkpoint and model have different parameter tensors: "
                f"missing in this model: {sorted(saved - mine) or 'none'}; "
                f"missing in the checkpoint: {sorted(mine - saved) or 'none'}"
            )
        tiers = [validate_tier(sd["tiers"][name]) for name in self._names]
        pins = {name: validate_tier(tier) for name, tier in sd["pins"].items()}
        cutoffs = validate_cutoffs(*sd["cutoffs"])

        evicted = sd["evicted"]
        load_named_optimizer_state(self.optimizer, self._name_of, sd["optimizer"], skip=set(evicted["moved"]))
        self._store.load(evicted, sd["optimizer"]["state"])

        device = self._scores.device
        self._scores = torch.tensor([sd["scores"][n] for n in self._names], dtype=torch.float32, device=device)
        self._last_seen = torch.tensor([sd["last_seen"][n] for n in self._names], dtype=torch.float32, device=device)
        self._step = int(sd["step"])
        self._prepared_step = -1
        self._cutoffs = cutoffs
        self._scored_tiering = bool(sd["scored_tiering"])
        self._pins = pins
        self._transitions = None if sd["transitions"] is None else [tuple(t) for t in sd["transitions"]]
        self._updated_last_step = int(sd["updated_last_step"])
        self._probe_after = int(sd.get("probe_after", -1))  # absent in states saved before probes rotated
        self._flags = None
        self._rebuild(tiers)
