"""HiMA under torchrun: one process per device, rank 0 speaks for the run.

Why not DistributedDataParallel: DDP registers its gradient buckets once and then expects every parameter
that produced a gradient at registration to produce one again ("Expected to have finished reduction in the
prior iteration..."). HiMA flips ``requires_grad`` at every re-tier, on Warm update steps and on probe
steps. ``find_unused_parameters=True`` would walk the autograd graph every step and still all-reduce the
Cold tensors' (zero) buckets. So the trainer averages the gradients itself (``hima.app.grad_sync``), over
exactly the tensors that have a gradient this step -- Hot, Warm on its update steps, probed Cold. Tiers
are identical on every rank (scores come from the reduced gradients), so every rank builds the same
buckets and a Cold tensor costs no communication.

How (``grad_sync`` in the run config; ignored by a one-process run):
- ``overlap`` (default): like DDP, each bucket's all-reduce starts while backward is still running. The
  bucket plan is made just before backward from the parameters that require a gradient this step, last
  registered first (about the order backward finishes them); a post-accumulate-grad hook on every parameter
  marks it ready, and complete buckets are launched strictly in plan order, the same on every rank.
- ``after-backward``: the same buckets, all-reduced once backward has finished (communication fully exposed;
  kept to measure what the overlap gains).
- ``ddp``: the model wrapped in DistributedDataParallel, for method ``full`` only (nothing changes
  ``requires_grad`` there): the reference the other two are measured against.
With ``strategy`` "fsdp2" none of these: the model is sharded (``hima.app.fsdp``), FSDP2 reduce-scatters the
gradients that exist this step, and the bytes reported are those it sent. That strategy also runs in one
process (a process group of one), so a sharded checkpoint can be resumed there.
All three give the same averages (a sum over ranks does not depend on how tensors are bucketed). What
overlap buys depends on the link: on 2 H200s over NVLink, GPT-2 Small full (498 MB of gradients a step)
measured 29.6 ms/step without any reduction, 32.2 after backward, 32.4 overlapped, 31.5 with DDP
(interleaved rounds in one job, medians): the all-reduce itself takes 1.7 ms there, so little is left to hide.

Per step boundary there is one more collective: a tiny int tensor carrying "stop" and the byte length of
the control lines rank 0 read (rank 0 alone reads stdin / the control socket); when there are lines, one
byte-tensor broadcast follows, so every rank applies the same controls at the same step.

Gradient buckets hold up to ``HIMA_DIST_BUCKET_BYTES`` (default 25 MiB, DDP's default).

Failures: see ``hima.app.rank_watch`` (report files in ``<run dir>/ranks/``, rank 0's ``PeerWatch``, started
before the rendezvous) and ``hima.app.heartbeats`` (the same news through the group's store, across machines);
the collectives' timeout (``HIMA_DIST_TIMEOUT_S``, default 60 s) bounds any wait on a
rank that hangs.
"""
from __future__ import annotations

import os
import struct
import threading
import time
from datetime import timedelta
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from .config import ConfigError
from .control import TOO_LONG, CrowdedLine
from .grad_sync import OverlappedReducer, reduce_after_backward
from .heartbeats import Heartbeats, default_store
from .rank_watch import PeerWatch, RankReports
from .signals import JoinGuard

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024  # DDP's default bucket size
# Test hook, set only by trainer/tests/test_distributed.py: the rank it names fails just before joining the
# process group, as a rank-specific start-up error (a GPU it cannot use) would.
FAIL_BEFORE_GROUP_ENV = "HIMA_TEST_FAIL_BEFORE_GROUP"
# Test hook, set only by trainer/tests/test_stop_race.py: "RANK:SECONDS" -- that rank sleeps this long before
# each step boundary's collective, so the other ranks spend that time waiting inside it.
SLOW_BOUNDARY_ENV = "HIMA_TEST_SLOW_BOUNDARY"


def env_rank() -> int:
    """This process's rank from torchrun's environment (0 when not launched by torchrun); no torch import."""
    return int(os.environ.get("RANK", "0"))


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device(requested: str) -> str:
    """Under torchrun with several processes, "auto"/"cuda" mean this process's own GPU (LOCAL_RANK).

    Every rank checks that this machine has a GPU per local process, so all of them fail up front with the
    same message (rank 0's reaches the event stream), not the one rank whose GPU is missing, alone."""
    if env_world_size() > 1 and requested in ("auto", "cuda") and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_WORLD_SIZE", env_world_size()))
        gpus = torch.cuda.device_count()
        if local > gpus:
            raise ConfigError(
                f"{local} processes need {local} GPUs; this machine has {gpus} "
                "(start at most one process per GPU, or use --device cpu)"
            )
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return requested


def _import_dynamo_first() -> None:
    """Import torch._dynamo before the process group exists. Imported later (HiMA imports it to refuse a
    whole-model compile), it keeps references to the group it finds in torch.distributed, so
    destroy_process_group() no longer frees the group: its gloo worker threads outlive it, and one of them
    released the last collective's tensors while the interpreter was shutting down (it needs the GIL there,
    the thread is made to exit inside a C++ destructor: "terminate called without an active exception",
    SIGABRT after `done`, about 1 run in 14). Imported first, it finds no group, and close() really
    closes it (test_distributed_shutdown.py)."""
    import torch._dynamo  # noqa: F401


class RankFailure(RuntimeError):
    """Another rank failed (its error was reported as an `error` event naming it); this run ends."""


class Distributed:
    """The process group of this run plus the few collectives the training loop needs.

    On rank 0, ``report(rank, message)`` emits the `error` event of a failed peer, and ``end_run(reason)``
    (which must not return) ends the process if that happens before the group exists; ``join_guard`` is a
    ``JoinGuard`` made earlier in start-up, if any (else one is made here)."""

    def __init__(
        self, run_dir: str, device: str, grad_sync: str = "overlap",
        report: Callable[[int, str], None] | None = None, end_run: Callable[[str], None] | None = None,
        join_guard: JoinGuard | None = None, timeout_s: float | None = None, bucket_bytes: int = DEFAULT_BUCKET_BYTES,
        strategy: str = "replicated",
    ):
        self.rank, self.world_size = env_rank(), env_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        self.backend = "nccl" if device.startswith("cuda") else "gloo"
        # Gradients go through the training device's backend; the small per-step exchanges (stop flag,
        # controls, figures) through a gloo group on CPU tensors, so reading them never waits for the GPU.
        self.comm_device = torch.device("cpu")
        self.grad_sync = grad_sync
        self.strategy = strategy
        self.nnodes = max(1, self.world_size // int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size)))
        # Like DDP's bucket_cap_mb: fewer, bigger buckets cost less per launch, smaller ones overlap sooner.
        self.bucket_bytes = int(os.environ.get("HIMA_DIST_BUCKET_BYTES", bucket_bytes))
        timeout = float(os.environ.get("HIMA_DIST_TIMEOUT_S", timeout_s or DEFAULT_TIMEOUT_S))
        self.reports = RankReports(run_dir, self.rank, self.world_size)
        self.reports.starting()
        self.watch: PeerWatch | None = None
        if self.is_main:
            if join_guard is None and threading.current_thread() is threading.main_thread():
                join_guard = JoinGuard()
            self.watch = PeerWatch(self.reports, report or (lambda rank, message: None), end_run, join_guard)
        try:
            if os.environ.get(FAIL_BEFORE_GROUP_ENV) == str(self.rank):
                raise RuntimeError(f"rank {self.rank} failed before joining the process group ({FAIL_BEFORE_GROUP_ENV})")
            if not dist.is_initialized():
                _import_dynamo_first()
                if "MASTER_ADDR" in os.environ:
                    dist.init_process_group(self.backend, timeout=timedelta(seconds=timeout))
                else:  # one process not started by torchrun (the fsdp2 strategy alone): a group of one
                    dist.init_process_group(self.backend, store=dist.HashStore(), rank=0, world_size=1,
                                            timeout=timedelta(seconds=timeout))
        finally:
            if self.watch is not None:
                self.watch.joined()
        self.cpu_group = dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout)) if self.backend == "nccl" else None
        # Across machines rank 0 cannot read its peers' report files: heartbeats in the group's store.
        store = default_store() if self.world_size > 1 else None
        self.heartbeats = Heartbeats(store, self.rank, self.world_size) if store is not None else None
        self.reports.heartbeats = self.heartbeats
        if self.watch is not None:
            self.watch.attach(self.heartbeats)
        self.allreduce_bytes_total = 0  # gradient payload bytes reduced so far (this process)
        self._steps_since_report = 0
        self._bytes_since_report = 0
        self._last_bytes_per_step = 0.0
        self._params: list[nn.Parameter] = []
        self._reducer: OverlappedReducer | None = None
        self._ddp_bytes = 0
        self._meter = None  # fsdp2: the reduce-scatter byte counter (hima.app.fsdp.ReduceScatterMeter)
        slow_rank, _, slow_s = os.environ.get(SLOW_BOUNDARY_ENV, "").partition(":")
        self._test_boundary_delay_s = float(slow_s) if slow_rank == str(self.rank) else 0.0

    @staticmethod
    def from_env(run_dir: str, device: str, strategy: str = "replicated", **kwargs: Any) -> "Distributed | None":
        """A process group when launched by torchrun with more than one process, or for the fsdp2 strategy
        (which shards over a group even of one); else None."""
        if env_world_size() > 1 or strategy == "fsdp2":
            return Distributed(run_dir, device, strategy=strategy, **kwargs)
        return None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def check_batch(self, batch_size: int) -> None:
        if batch_size % self.world_size:
            raise ValueError(f"batch_size {batch_size} (the global batch) must be a multiple of the {self.world_size} processes")

    def local_slice(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's rows of the global batch: the ranks together see exactly a one-process run's batch."""
        n = x.shape[0] // self.world_size
        rows = slice(self.rank * n, (self.rank + 1) * n)
        return x[rows], y[rows]

    # ---- gradients ----

    def shard(self, model: nn.Module, blocks: list[nn.Module]) -> nn.Module:
        """The fsdp2 strategy: shard ``model`` in place, before its optimizer is built (``hima.app.fsdp``)."""
        from .fsdp import ReduceScatterMeter, shard_model

        self._meter = ReduceScatterMeter()
        return shard_model(model, blocks, torch.device(self.device).type, self._meter)

    def wrap(self, model: nn.Module) -> nn.Module:
        """Set up gradient averaging for ``model`` (per ``grad_sync``); returns the module the training step
        calls: a DistributedDataParallel around ``model`` for "ddp", else ``model`` itself."""
        self._params = list(model.parameters())  # the same order on every rank: gradient buckets match
        if self._meter is not None:
            return model  # sharded: FSDP2's hooks reduce-scatter the gradients
        if self.grad_sync == "ddp":
            # DDP reduces every parameter's gradient every step (method full: all of them require one). This
            # figure is computed from the parameters, not observed from DDP.
            self._ddp_bytes = sum(p.numel() * p.element_size() for p in self._params if p.requires_grad)
            device_ids = [torch.device(self.device).index] if self.backend == "nccl" else None
            # gradient_as_bucket_view: .grad points into DDP's buckets instead of a copy of them.
            return nn.parallel.DistributedDataParallel(
                model, device_ids=device_ids, bucket_cap_mb=self.bucket_bytes / 2**20, gradient_as_bucket_view=True
            )
        if self.grad_sync == "overlap":
            self._reducer = OverlappedReducer(self._params, self.world_size, self.bucket_bytes)
        return model

    def backward(self, loss: torch.Tensor) -> int:
        """``loss.backward()`` with the gradients averaged over all ranks when it returns; returns the payload
        bytes all-reduced this step."""
        if self._meter is not None:
            self._meter.take()
            if loss.requires_grad:  # pins can leave a step with nothing to train
                loss.backward()
            sent = self._meter.take()
        elif self._reducer is not None:
            self._reducer.arm()
            try:
                loss.backward()
            except BaseException:
                self._reducer.disarm()  # the hooks must not act on a later backward (e.g. evaluation's)
                raise
            sent = self._reducer.finish()
        elif self.grad_sync == "ddp":
            loss.backward()  # DDP's hooks have reduced the gradients by the time backward returns
            sent = self._ddp_bytes
        else:
            loss.backward()
            sent = reduce_after_backward(self._params, self.world_size, self.bucket_bytes)
        self.allreduce_bytes_total += sent
        self._bytes_since_report += sent
        self._steps_since_report += 1
        return sent

    def take_bytes_per_step(self) -> float:
        """Mean gradient bytes all-reduced per step since the last call. When no step ran since then (the
        memory event after the loop ends), the figure of the last interval that had steps (0.0 before any)."""
        steps, sent = self._steps_since_report, self._bytes_since_report
        self._steps_since_report = self._bytes_since_report = 0
        if steps:
            self._last_bytes_per_step = sent / steps
        return self._last_bytes_per_step

    # ---- step boundary ----

    def boundary(self, stop: bool, lines: list[Any] | None) -> tuple[bool, list[Any]]:
        """Agree on "stop" (any rank) and on rank 0's control lines; every rank gets the same answer."""
        if self._test_boundary_delay_s:
            time.sleep(self._test_boundary_delay_s)
        payload = _encode_lines(lines or []) if self.is_main else b""
        flags = torch.tensor([int(stop), len(payload)], dtype=torch.int64, device=self.comm_device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.cpu_group)
        stop_all, size = bool(flags[0].item()), int(flags[1].item())
        if size == 0:
            return stop_all, []
        buffer = torch.empty(size, dtype=torch.uint8, device=self.comm_device)
        if self.is_main:
            buffer.copy_(torch.frombuffer(bytearray(payload), dtype=torch.uint8))
        dist.broadcast(buffer, src=0, group=self.cpu_group)
        return stop_all, _decode_lines(buffer.cpu().numpy().tobytes())

    # ---- figures ----

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a scalar tensor over ranks (e.g. the loss of each rank's slice of the global batch)."""
        t = value.detach().to(self.comm_device, torch.float64).clone()
        dist.all_reduce(t, group=self.cpu_group)
        return (t / self.world_size).to(value.device)

    def min_max(self, values: list[int | None]) -> list[dict | None]:
        """Per value: {"min", "max"} over ranks, or None where any rank has no figure."""
        t = torch.tensor([-1 if v is None else int(v) for v in values], dtype=torch.int64, device=self.comm_device)
        gathered = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(gathered, t, group=self.cpu_group)
        table = torch.stack(gathered).cpu()
        out: list[dict | None] = []
        for column in table.T.tolist():
            out.append(None if min(column) < 0 else {"min": int(min(column)), "max": int(max(column))})
        return out

    def all_equal(self, obj: Any) -> bool:
        """Whether every rank holds the same (picklable) ``obj``; for checks and tests, not the hot path."""
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj, group=self.cpu_group)
        return all(g == gathered[0] for g in gathered)

    def close(self, clean: bool, step: int | None = None) -> None:
        if clean:
            self.reports.finished(step)
        if self.heartbeats is not None:
            self.heartbeats.stop()
        if dist.is_initialized():
            if clean:
                dist.barrier(group=self.cpu_group)  # no rank closes its connections while a peer still finishes the last collective
            dist.destroy_process_group()


_TOO_LONG_MARK = 0xFFFFFFFF
_CROWDED_MARK = 0xFFFFFFFE  # followed by a length-prefixed line: a CrowdedLine (rejected on every rank alike)


def _encode_lines(lines: list[Any]) -> bytes:
    # Length-prefixed raw bytes: a line that is not UTF-8 must reach every rank as it came (and be rejected
    # the same way everywhere); TOO_LONG (an over-long line already discarded) travels as a marker.
    parts = []
    for line in lines:
        if line is TOO_LONG:
            parts.append(struct.pack("<I", _TOO_LONG_MARK))
        elif isinstance(line, CrowdedLine):
            parts.append(struct.pack("<II", _CROWDED_MARK, len(line)) + bytes(line))
        else:
            parts.append(struct.pack("<I", len(line)) + bytes(line))
    return b"".join(parts)


def _decode_lines(data: bytes) -> list[Any]:
    lines: list[Any] = []
    at = 0
    while at < len(data):
        (size,) = struct.unpack_from("<I", data, at)
        at += 4
        if size == _TOO_LONG_MARK:
            lines.append(TOO_LONG)
        elif size == _CROWDED_MARK:
            (size,) = struct.unpack_from("<I", data, at)
            lines.append(CrowdedLine(data[at + 4 : at + 4 + size]))
            at += 4 + size
        else:
            lines.append(data[at : at + size])
            at += size
    return lines
