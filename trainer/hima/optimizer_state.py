"""Optimizer state by parameter name: evicting Cold state, restoring it, counting bytes, (de)serialising.

The optimizer keeps its parameter groups untouched; only entries of ``optimizer.state`` move.
"""
from __future__ import annotations

from typing import Any

import torch

from .sharding import HostShard, local_bytes, local_device, to_device, to_host


def moment_bytes(state: dict[str, Any], device: torch.device) -> int:
    """Bytes of the state tensors on ``device`` (a sharded tensor's: this rank's shard), all keys except the
    scalar ``step`` counter."""
    return sum(
        local_bytes(value)
        for key, value in state.items()
        if key != "step" and isinstance(value, torch.Tensor) and local_device(value) == device
    )


class ColdStateStore:
    """Holds the optimizer state of Cold tensors away from ``optimizer.state``.

    ``offload``: the state tensors are copied to CPU memory and put back, values intact, on thaw.
    ``drop``: the state is freed; on thaw the optimizer re-creates it as zeros at its next update.
    Either way the device copy is released, so ``torch.cuda.memory_allocated`` drops by its size.
    A sharded (FSDP2) tensor's state is its shard: each rank offloads and restores only its own.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, mode: str) -> None:
        self._optimizer = optimizer
        self._mode = mode
        self._held: dict[str, tuple[dict[str, Any], set[str]]] = {}  # name -> (state, keys moved off the device)
        self._bytes: dict[str, int] = {}  # name -> device bytes released at eviction

    def evict(self, name: str, param: torch.Tensor) -> None:
        state = self._optimizer.state.pop(param, None)
        if not state:
            return
        device = local_device(param)
        self._bytes[name] = moment_bytes(state, device)
        if self._mode == "offload":
            moved = {k for k, v in state.items() if isinstance(v, torch.Tensor) and local_device(v) == device}
            offloaded = {k: (to_host(v) if k in moved else v) for k, v in state.items()}
            self._held[name] = (offloaded, moved)

    def restore(self, name: str, param: torch.Tensor) -> None:
        self._bytes.pop(name, None)
        held = self._held.pop(name, None)
        if held is None:
            return
        state, moved = held
        device = local_device(param)
        self._optimizer.state[param] = {k: (to_device(v, device) if k in moved else v) for k, v in state.items()}

    def evicted_bytes(self) -> int:
        return sum(self._bytes.values())

    def state_of(self, name: str) -> dict[str, Any] | None:
        """The held (offloaded) state of ``name``, or None; a sharded tensor's as DTensors over host memory."""
        held = self._held.get(name)
        if not held:
            return None
        return {k: (v.as_dtensor() if isinstance(v, HostShard) else v) for k, v in held[0].items()}

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": dict(self._bytes), "moved": {n: sorted(m) for n, (_, m) in self._held.items()}}

    def load(self, record: dict[str, Any], states: dict[str, dict[str, Any]]) -> None:
        """Restore from ``to_dict()`` plus the saved states of the offloaded names."""
        self._bytes = dict(record["bytes"])
        self._held = {}
        for name, moved in record["moved"].items():
            state = {k: (to_host(v) if k in moved and isinstance(v, torch.Tensor) else v) for k, v in states[name].items()}
            self._held[name] = (state, set(moved))


def named_optimizer_state(optimizer: torch.optim.Optimizer, name_of: dict[int, str]) -> dict[str, Any]:
    """``optimizer.state_dict()`` with parameter indices replaced by names (tensors are not copied)."""
    indexed = optimizer.state_dict()
    index_to_name: dict[int, str] = {}
    for saved_group, group in zip(indexed["param_groups"], optimizer.param_groups):
        for index, param in zip(saved_group["params"], group["params"]):
            index_to_name[index] = name_of[id(param)]
    return {
        "state": {index_to_name[i]: state for i, state in indexed["state"].items()},
        "param_groups": [
            {**group, "params": [index_to_name[i] for i in group["params"]]} for group in indexed["param_groups"]
        ],
    }


def load_named_optimizer_state(
    optimizer: torch.optim.Optimizer, name_of: dict[int, str], saved: dict[str, Any], skip: set[str]
) -> None:
    """Load a ``named_optimizer_state`` dict; names in ``skip`` (held elsewhere) are not put in ``optimizer.state``."""
    groups = optimizer.param_groups
    if len(saved["param_groups"]) != len(groups):
        raise ValueError(
            f"saved optimizer has {len(saved['param_groups'])} parameter groups, this one has {len(groups)}"
        )
    index_of: dict[str, int] = {}
    indexed_groups = []
    for g, (saved_group, group) in enumerate(zip(saved["param_groups"], groups)):
        names = [name_of[id(p)] for p in group["params"]]
        if list(saved_group["params"]) != names:
            missing = sorted(set(saved_group["params"]) - set(names))
            extra = sorted(set(names) - set(saved_group["params"]))
            raise ValueError(
                f"parameter group {g} holds different tensors than the saved one "
                f"(only in the checkpoint: {missing or 'none'}; only in this model: {extra or 'none'}; "
                "or a different order)"
            )
        start = len(index_of)
        for offset, name in enumerate(names):
            index_of[name] = start + offset
        indexed_groups.append({**saved_group, "params": list(range(start, start + len(names)))})
    state = {index_of[name]: st for name, st in saved["state"].items() if name not in skip}
    optimizer.load_state_dict({"state": state, "param_groups": indexed_groups})
