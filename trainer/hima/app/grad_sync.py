"""Averaging gradients over the ranks of a torchrun run, in flattened buckets (``hima.app.distributed`` says why
the trainer does this itself instead of using DistributedDataParallel).

Two schedules, one bucket rule (consecutive tensors of one dtype and device, up to ``bucket_bytes`` each; a
bigger tensor alone) and bit-identical results (a reduction is element-wise, so how tensors are grouped into
buckets does not change any sum):

- ``reduce_after_backward``: once backward has finished, the gradients present are bucketed in registration
  order and all-reduced together. Simple, but the whole exchange waits on the critical path.
- ``OverlappedReducer``: before backward, a plan over the parameters that require a gradient this step, in
  reverse registration order (about the order backward completes them). A hook on every parameter
  (``register_post_accumulate_grad_hook``: once per backward, after the gradient is complete, so also once
  for the tied embedding / lm-head weight that two uses accumulate into) marks it ready; a complete bucket's
  all-reduce starts from the autograd thread while backward works on the layers below, as DDP does.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

import torch
import torch.distributed as dist


def plan_buckets(tensors: list[torch.Tensor], bucket_bytes: int) -> list[list[int]]:
    """Indices of ``tensors`` per bucket: consecutive tensors of one dtype and device, each bucket up to
    ``bucket_bytes`` (a bigger tensor alone)."""
    buckets: list[list[int]] = []
    size = 0
    for i, t in enumerate(tensors):
        nbytes = t.numel() * t.element_size()
        first = tensors[buckets[-1][0]] if buckets else None
        if first is None or first.dtype != t.dtype or first.device != t.device or size + nbytes > bucket_bytes:
            buckets.append([i])
            size = nbytes
        else:
            buckets[-1].append(i)
            size += nbytes
    return buckets


@dataclass
class _InFlight:
    """One bucket's all-reduce: the async work, the flat buffer it reduces, the gradients it came from."""

    work: dist.Work
    flat: torch.Tensor
    grads: list[torch.Tensor]

    @staticmethod
    def start(grads: list[torch.Tensor], world_size: int) -> "_InFlight":
        flat = torch.cat([g.reshape(-1) for g in grads]) if len(grads) > 1 else grads[0].reshape(-1).clone()
        flat.div_(world_size)  # divide first: the sum stays in range for low-precision gradients
        return _InFlight(dist.all_reduce(flat, async_op=True), flat, grads)

    @property
    def nbytes(self) -> int:
        return self.flat.numel() * self.flat.element_size()

    def finish(self) -> None:
        self.work.wait()
        offset = 0
        for g in self.grads:
            g.copy_(self.flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def reduce_after_backward(params: list[torch.nn.Parameter], world_size: int, bucket_bytes: int) -> int:
    """Average the gradients present on ``params`` over all ranks, in place, after backward; returns the
    payload bytes. Every rank holds gradients for the same tensors (the tiers are identical), so every rank
    builds the same buckets."""
    grads = [p.grad for p in params if p.grad is not None]
    pending = [_InFlight.start([grads[i] for i in bucket], world_size) for bucket in plan_buckets(grads, bucket_bytes)]
    for bucket in pending:
        bucket.finish()
    return sum(b.nbytes for b in pending)


@dataclass
class _Pass:
    """The overlapped reduction of one backward pass: the plan, what is still missing, what was launched."""

    params: list[torch.nn.Parameter]
    buckets: list[list[int]]  # parameter indices, in launch order
    world_size: int
    missing: list[int] = field(init=False)  # gradients each bucket still waits for
    bucket_of: dict[int, int] = field(init=False)
    ready: set[int] = field(default_factory=set)
    launched: list[_InFlight | None] = field(default_factory=list)  # per bucket, None: no gradient at all

    def __post_init__(self) -> None:
        self.missing = [len(b) for b in self.buckets]
        self.bucket_of = {i: b for b, bucket in enumerate(self.buckets) for i in bucket}

    def mark_ready(self, index: int) -> None:
        bucket = self.bucket_of.get(index)
        if bucket is None:
            return  # did not require a gradient when the plan was made; nothing to reduce
        if index in self.ready:
            # A second accumulation into a bucket that may already be on the wire would be lost.
            raise RuntimeError(
                f"parameter {index} received a second gradient in one backward pass; the overlapped gradient "
                "reduction needs exactly one backward per step (use grad_sync 'after-backward' otherwise)"
            )
        self.ready.add(index)
        self.missing[bucket] -= 1
        self.launch(until_incomplete=True)

    def launch(self, until_incomplete: bool) -> None:
        """Start buckets strictly in plan order (NCCL needs the same collective order on every rank): each
        complete one, up to the first incomplete one; or, after backward, all the rest with the gradients that
        exist (a parameter that got none is left out, the same way on every rank: same graph, same flags)."""
        while len(self.launched) < len(self.buckets):
            bucket = self.buckets[len(self.launched)]
            if until_incomplete and self.missing[len(self.launched)] > 0:
                return
            grads = [self.params[i].grad for i in bucket if self.params[i].grad is not None]
            self.launched.append(_InFlight.start(grads, self.world_size) if grads else None)


class OverlappedReducer:
    """All-reduces gradient buckets while backward is still running (see the module docstring).

    ``arm()`` before ``loss.backward()``, ``finish()`` after it; ``disarm()`` if backward raised. The hooks stay
    registered for the life of the model and return at once while the reducer is not armed (evaluation,
    a one-process backward)."""

    def __init__(self, params: list[torch.nn.Parameter], world_size: int, bucket_bytes: int):
        self.params, self.world_size, self.bucket_bytes = params, world_size, bucket_bytes
        self._pass: _Pass | None = None
        # The hooks of CUDA parameters run on autograd's device thread, of CPU ones on the calling thread:
        # with parameters on both, two threads could count down one plan.
        self._lock = threading.Lock()
        for index, p in enumerate(params):
            # torch refuses a hook on a tensor that does not require a gradient (Cold, or frozen by a pin at
            # construction), but the hook lives on the tensor and survives later requires_grad flips.
            frozen = not p.requires_grad
            p.requires_grad_(True)
            p.register_post_accumulate_grad_hook(functools.partial(self._on_grad_ready, index))
            p.requires_grad_(not frozen)

    @property
    def armed(self) -> bool:
        return self._pass is not None

    @property
    def started(self) -> int:
        """Buckets whose all-reduce has started in the current pass (0 when not armed); tells how much overlapped."""
        current = self._pass
        return len(current.launched) if current is not None else 0

    @property
    def planned(self) -> int:
        """Buckets in the current pass's plan (0 when not armed)."""
        current = self._pass
        return len(current.buckets) if current is not None else 0

    def arm(self) -> None:
        """Plan this step's buckets from the parameters that require a gradient now, last registered first."""
        order = [i for i in reversed(range(len(self.params))) if self.params[i].requires_grad]
        buckets = plan_buckets([self.params[i] for i in order], self.bucket_bytes)
        with self._lock:
            self._pass = _Pass(self.params, [[order[j] for j in b] for b in buckets], self.world_size)

    def disarm(self) -> None:
        """Forget the current pass (backward failed): later hooks are no-ops, buckets in flight are dropped."""
        with self._lock:
            self._pass = None

    def finish(self) -> int:
        """After backward: start the buckets not started yet, wait for all, copy the averages back into
        ``.grad``. Returns the payload bytes all-reduced."""
        with self._lock:
            current, self._pass = self._pass, None
        if current is None:
            raise RuntimeError("OverlappedReducer.finish() without arm()")
        current.launch(until_incomplete=False)
        started = [b for b in current.launched if b is not None]
        for bucket in started:
            bucket.finish()
        return sum(b.nbytes for b in started)

    def _on_grad_ready(self, index: int, param: torch.Tensor) -> None:
        with self._lock:
            if self._pass is not None:
                self._pass.mark_ready(index)
