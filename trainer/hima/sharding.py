"""What the HiMA engine needs to know about sharded parameters (FSDP2's ``fully_shard``: DTensors, Shard(0)).

Under FSDP2 every parameter the optimizer holds is a DTensor whose local tensor is this rank's shard, and so
are its gradient and its AdamW moments. The engine works on plain tensors everywhere else; these helpers are
the few places where a shard is not the whole tensor:

- a gradient's norm (the score, the clip) is the norm over all shards: local squared norms, one all-reduce
  over the mesh per step, so every rank scores the same numbers and keeps the same tiers;
- the bytes a tensor holds on this device are its local shard's, not the global shape's;
- an evicted (offloaded) Cold moment keeps only this rank's shard in host memory, and comes back as the same
  DTensor (mesh, placements, global shape) when the tensor thaws.

Nothing here imports FSDP: a model that is not sharded takes the plain-tensor path of every function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

try:
    from torch.distributed.tensor import DTensor, Shard
except ImportError:  # a torch built without distributed support: nothing can be sharded
    DTensor = None  # type: ignore[assignment,misc]
    Shard = None  # type: ignore[assignment,misc]


def is_sharded(t: Any) -> bool:
    return DTensor is not None and isinstance(t, DTensor)


def local(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of ``t`` (the tensor itself when it is not sharded); shares its storage."""
    return t.to_local() if is_sharded(t) else t


def local_bytes(t: torch.Tensor) -> int:
    """Bytes ``t`` holds on this rank."""
    part = local(t)
    return part.numel() * part.element_size()


def local_device(t: torch.Tensor) -> torch.device:
    return local(t).device


def grad_norms(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """The L2 norm of each gradient over all its shards (float32, on the shards' device).

    Sharded gradients: one all-reduce of the stacked squared local norms over their mesh's group; every
    rank must call this with the same tensors (the tiers are identical on every rank)."""
    if not any(is_sharded(g) for g in grads):
        return list(torch._foreach_norm(grads, 2, dtype=torch.float32))
    if not all(is_sharded(g) for g in grads):
        raise ValueError("gradients of sharded and unsharded parameters mixed in one model; shard the whole model (fully_shard on the root)")
    mesh = grads[0].device_mesh
    for g in grads:
        if g.device_mesh != mesh or not all(isinstance(p, Shard) for p in g.placements):
            raise ValueError(f"HiMA supports FSDP2's sharding (Shard placements on one mesh); got {g.placements}")
    squares = torch.stack(torch._foreach_norm([g.to_local() for g in grads], 2, dtype=torch.float32)) ** 2
    dist.all_reduce(squares, group=mesh.get_group())
    return list(squares.sqrt().unbind(0))


def scale_(grads: list[torch.Tensor], factor: torch.Tensor) -> None:
    """Multiply every gradient by the scalar tensor ``factor`` in place (each shard by the same factor)."""
    torch._foreach_mul_([local(g) for g in grads], factor)


@dataclass
class HostShard:
    """An evicted state tensor's shard in host memory, with what rebuilds its DTensor on thaw."""

    data: torch.Tensor
    mesh: Any
    placements: tuple
    shape: torch.Size
    stride: tuple[int, ...]

    def to(self, device: torch.device) -> torch.Tensor:
        return self._dtensor(self.data.to(device))

    def as_dtensor(self) -> torch.Tensor:
        """The shard as a DTensor whose local part stays in host memory: for ``torch.distributed.checkpoint``,
        which writes each rank's shard with its global offsets (no device copy is made)."""
        return self._dtensor(self.data)

    def _dtensor(self, part: torch.Tensor) -> torch.Tensor:
        return DTensor.from_local(part, self.mesh, self.placements, run_check=False, shape=self.shape, stride=self.stride)


def to_host(t: torch.Tensor) -> torch.Tensor | HostShard:
    """A host-memory copy of ``t``: a tensor, or for a DTensor only this rank's shard (``HostShard``)."""
    if is_sharded(t):
        return HostShard(t.to_local().to("cpu", copy=True), t.device_mesh, tuple(t.placements), t.shape, t.stride())
    return t.to("cpu", copy=True)


def to_device(held: torch.Tensor | HostShard, device: torch.device) -> torch.Tensor:
    return held.to(device)
