"""The ``fsdp2`` strategy: the GPT sharded with PyTorch's ``fully_shard`` (FSDP2), HiMA's tiers on top.

Why FSDP2 and not the replicated reducer: a replica of the model and its AdamW state on every GPU is what a
model too large for one GPU cannot have. ``fully_shard`` on every transformer block and then on the root
(embeddings, final norm, the tied head) makes each parameter a DTensor holding 1/N of its rows per rank;
forward and backward all-gather one block at a time, and each gradient is reduce-scattered back to its shards.

How HiMA's tiers meet it (checked on gloo in trainer/tests/test_fsdp.py):
- FSDP2 reduce-scatters only the parameters that received a gradient in this backward (its post-backward
  collects those with ``.grad``), and it copies ``requires_grad`` from the sharded parameter to the unsharded
  one at every all-gather. So a Cold tensor (``requires_grad`` False, set by the engine on the sharded
  parameter) gets no gradient, no reduce-scatter and no optimizer state on any rank; a Warm one only on its
  update steps; a probed Cold one on its probe step. The bytes below are counted at the reduce-scatter
  itself, not computed from the tiers.
- Scores need each gradient's norm over all shards: ``hima.sharding.grad_norms`` (one all-reduce per step).
- Cold optimizer state is evicted per rank: each offloads its own shard (``hima.sharding.HostShard``).
- Parameters are still all-gathered for forward, Cold ones too: Cold saves gradient traffic, gradient
  memory and optimizer state, not the all-gather.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

try:  # the interface set_custom_reduce_scatter takes (torch >= 2.6)
    from torch.distributed.fsdp._fully_shard._fsdp_api import ReduceScatter
except ImportError:  # pragma: no cover - older torch: the strategy is refused with a clear message below
    ReduceScatter = object  # type: ignore[assignment,misc]


class ReduceScatterMeter(ReduceScatter):  # type: ignore[misc,valid-type]
    """FSDP2's reduce-scatter, unchanged, counting the payload bytes this rank sends into it.

    Installed on every sharded module (``set_custom_reduce_scatter``); ``take()`` returns the bytes since the
    last call. FSDP2 calls it from the thread running backward, one call per module whose parameters got
    gradients."""

    def __init__(self) -> None:
        self.bytes = 0

    def allocate(self, size, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        return torch.empty(*size, dtype=dtype, device=device)

    def __call__(self, output_tensor: torch.Tensor, input_tensor: torch.Tensor, group: dist.ProcessGroup,
                 op, async_op: bool = False):
        self.bytes += input_tensor.numel() * input_tensor.element_size()
        return dist.reduce_scatter_tensor(output_tensor, input_tensor, op=op, group=group, async_op=async_op)

    def take(self) -> int:
        sent, self.bytes = self.bytes, 0
        return sent


def fsdp2_problem() -> str | None:
    """Why this torch cannot run the fsdp2 strategy, or None."""
    if not dist.is_available():
        return "this torch build has no torch.distributed"
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:
        return f"torch {torch.__version__} has no torch.distributed.fsdp.fully_shard (FSDP2 needs torch >= 2.6)"
    if ReduceScatter is object:
        return f"torch {torch.__version__} has no FSDP2 custom reduce-scatter interface (needs torch >= 2.6)"
    return None


def shard_model(model: nn.Module, blocks: list[nn.Module], device_type: str, meter: ReduceScatterMeter) -> nn.Module:
    """``fully_shard`` each of ``blocks``, then the root (what is left: embeddings, final norm, head), over one
    mesh of every rank. ``model`` is changed in place (its parameters become DTensors) and returned. Build the
    optimizer and HiMA after this: they must hold the sharded parameters."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device_type, (dist.get_world_size(),))
    for block in blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    for module in [*blocks, model]:
        module.set_custom_reduce_scatter(meter)
    return model
