"""Base weights for fine-tuning and continued pre-training (``init_from``): where a new run starts from.

A base is a HiMA checkpoint (a file, a checkpoints/ folder or a run folder; only its model weights are taken:
the optimizer, schedule, tiers and step start afresh), or a file holding a model's state dict saved with
``torch.save(model.state_dict(), path)`` (e.g. a model trained elsewhere and mapped to this model's names).
Both are read with ``weights_only`` loading: a base file can hold tensors, never code.

Loaded before the run folder is touched, so a missing or mismatched base is a start-up error (exit 2) that
leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint

# Prefixes that wrappers add to parameter names: torch.compile's OptimizedModule and DistributedDataParallel.
_WRAPPER_PREFIXES = ("_orig_mod.", "module.")


@dataclass
class BaseWeights:
    path: str  # the file the weights came from
    kind: str  # "hima-checkpoint" | "state-dict"
    state: dict[str, torch.Tensor]
    step: int | None = None  # the base run's step (HiMA checkpoints)
    run_id: str | None = None  # the base run's id (HiMA checkpoints)
    model_config: dict | None = None  # the base model's architecture (HiMA checkpoints)
    sha256: str = ""

    def describe(self) -> dict[str, Any]:
        """What `hello` records as the run's base."""
        return {"path": self.path, "kind": self.kind, "step": self.step, "run_id": self.run_id,
                "sha256": self.sha256, "tensors": len(self.state)}


def load_base(path: str) -> BaseWeights:
    """Read a base (see the module docstring); raises CheckpointError with a message a user can act on."""
    if not os.path.exists(path):
        raise CheckpointError(f"base weights not found: {path}")
    if os.path.isdir(path):
        ckpt = load_checkpoint(resolve_checkpoint(path))
        if ckpt.get("sharded"):
            raise CheckpointError(f"{ckpt['path']} is a sharded (fsdp2) checkpoint: as base weights it is not supported yet; "
                                  "resume it (--resume), or start from a checkpoint of a replicated run")
    elif not zipfile.is_zipfile(path):  # every HiMA checkpoint is a zip archive (torch.save's format)
        return _load_state_dict_file(path)
    else:
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as e:
            if "is not a HiMA checkpoint" not in str(e):
                raise
            return _load_state_dict_file(path)
    return BaseWeights(
        path=ckpt["path"], kind="hima-checkpoint", state=ckpt["model"], step=int(ckpt["step"]),
        run_id=ckpt["config"].get("run_id"), model_config=ckpt.get("model_config"), sha256=_sha256(ckpt["path"]),
    )


def _load_state_dict_file(path: str) -> BaseWeights:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip, EOF and unsafe-global errors all mean: not a state dict we can read
        raise CheckpointError(
            f"base weights {path} are neither a HiMA checkpoint nor a state dict saved with torch.save: "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]  # the common {"state_dict": ...} wrapping (Lightning and others)
    if not isinstance(data, dict) or not data or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in data.items()):
        raise CheckpointError(f"base weights {path} do not hold a state dict (a mapping of parameter names to tensors)")
    return BaseWeights(path=os.path.abspath(path), kind="state-dict", state=_strip_prefixes(data), sha256=_sha256(path))


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in _WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def apply_base(model: nn.Module, base: BaseWeights, model_config: dict | None = None) -> None:
    """Copy the base's weights into ``model`` (every parameter and buffer must match by name and shape)."""
    if base.model_config is not None and model_config is not None and base.model_config != model_config:
        differ = sorted(k for k in set(base.model_config) | set(model_config) if base.model_config.get(k) != model_config.get(k))
        raise CheckpointError(
            f"base {base.path} is a different model: " + ", ".join(
                f"{k} {base.model_config.get(k)!r} there, {model_config.get(k)!r} here" for k in differ)
            + " (pick the preset, block size and data the base was trained with)")
    mine = model.state_dict()
    missing = sorted(set(mine) - set(base.state))
    unexpected = sorted(set(base.state) - set(mine))
    shapes = sorted(k for k in set(mine) & set(base.state) if tuple(mine[k].shape) != tuple(base.state[k].shape))
    if missing or unexpected or shapes:
        problems = []
        if missing:
            problems.append(f"missing {_some(missing)}")
        if unexpected:
            problems.append(f"not in this model {_some(unexpected)}")
        if shapes:
            problems.append("other shapes " + _some([f"{k} {tuple(base.state[k].shape)} vs {tuple(mine[k].shape)}" for k in shapes]))
        raise CheckpointError(f"base {base.path} does not fit this model: {'; '.join(problems)}")
    with torch.no_grad():
        model.load_state_dict(base.state, strict=True)


def _some(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")
