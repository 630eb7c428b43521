"""HiMA under torchrun: one process per device, rank 0 speaks for the run.

Why not DistributedDataParallel: DDP registers its gradient buckets once and then expects every parameter
that produced a gradient at registration to produce one again ("Expected to have finished reduction in the
prior iteration..."). HiMA flips ``requires_grad`` at every re-tier, on Warm update steps and on probe
steps. ``find_unused_parameters=True`` would walk the autograd graph every step and still all-reduce the
Cold tensors' (zero) buckets. So the gradients are reduced here instead, after ``backward()``: bucketed
``all_reduce`` (flattened buckets of ``bucket_bytes``) over exactly the tensors that have a gradient this
step -- Hot, Warm on its update steps, probed Cold. Tiers are identical on every rank (scores come from the
reduced gradients), so every rank builds the same bucket list and a Cold tensor costs no communication.

Per step boundary there is one more collective: a tiny int tensor carrying "stop" and the byte length of
the control lines rank 0 read (rank 0 alone reads stdin / the control socket); when there are lines, one
byte-tensor broadcast follows, so every rank applies the same controls at the same step.

Failures: every rank writes ``<run dir>/ranks/<rank>.json`` (its pid) at start and ``<rank>.done`` at a
clean end; a rank that raises writes ``<rank>.error``. On rank 0 a ``PeerWatch`` thread turns a peer's
error file, or a peer process that vanished without one (SIGKILL, OOM killer), into an ``error`` event
naming that rank, and the collectives' timeout (``HIMA_DIST_TIMEOUT_S``, default 60 s) bounds any wait
on a rank that hangs.
"""
from __future__ import annotations

import json
import os
import struct
import threading
import time
from datetime import timedelta
from typing import Any, Callable

import torch
import torch.distributed as dist

from .control import TOO_LONG

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024  # DDP's default bucket size
RANKS_DIR = "ranks"


def env_rank() -> int:
    """This process's rank from torchrun's environment (0 when not launched by torchrun); no torch import."""
    return int(os.environ.get("RANK", "0"))


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device(requested: str) -> str:
    """Under torchrun with several processes, "auto"/"cuda" mean this process's own GPU (LOCAL_RANK)."""
    if env_world_size() > 1 and requested in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return requested


class RankFailure(RuntimeError):
    """Another rank failed (its error was reported as an `error` event naming it); this run ends."""


class Distributed:
    """The process group of this run plus the few collectives the training loop needs."""

    def __init__(self, run_dir: str, device: str, timeout_s: float | None = None, bucket_bytes: int = DEFAULT_BUCKET_BYTES):
        self.rank, self.world_size = env_rank(), env_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        self.backend = "nccl" if device.startswith("cuda") else "gloo"
        # Gradients go through the training device's backend; the small per-step exchanges (stop flag,
        # controls, figures) through a gloo group on CPU tensors, so reading them never waits for the GPU.
        self.comm_device = torch.device("cpu")
        self.bucket_bytes = bucket_bytes
        timeout = float(os.environ.get("HIMA_DIST_TIMEOUT_S", timeout_s or DEFAULT_TIMEOUT_S))
        self.reports = RankReports(run_dir, self.rank, self.world_size)
        self.reports.starting()
        if not dist.is_initialized():
            dist.init_process_group(self.backend, timeout=timedelta(seconds=timeout))
        self.cpu_group = dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout)) if self.backend == "nccl" else None
        self.allreduce_bytes_total = 0  # gradient payload bytes reduced so far (this process)
        self._steps_since_report = 0
        self._bytes_since_report = 0

    @staticmethod
    def from_env(run_dir: str, device: str) -> "Distributed | None":
        """A process group when launched by torchrun with more than one process, else None."""
        return Distributed(run_dir, device) if env_world_size() > 1 else None

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

    def sync_gradients(self, params: list[torch.nn.Parameter]) -> int:
        """Average the gradients present on ``params`` over all ranks, in place; returns the payload bytes.

        Only tensors with a gradient take part; the list (and so the buckets) is the same on every rank
        because ``requires_grad`` follows the tiers, which are identical everywhere."""
        grads = [p.grad for p in params if p.grad is not None]
        pending = []
        sent = 0
        for bucket in _buckets(grads, self.bucket_bytes):
            flat = torch.cat([g.reshape(-1) for g in bucket]) if len(bucket) > 1 else bucket[0].reshape(-1).clone()
            flat.div_(self.world_size)  # divide first: the sum stays in range for low-precision gradients
            pending.append((dist.all_reduce(flat, async_op=True), flat, bucket))
            sent += flat.numel() * flat.element_size()
        for work, flat, bucket in pending:
            work.wait()
            offset = 0
            for g in bucket:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()
        self.allreduce_bytes_total += sent
        self._bytes_since_report += sent
        self._steps_since_report += 1
        return sent

    def take_bytes_per_step(self) -> float:
        """Mean gradient bytes all-reduced per step since the last call (0.0 if no step ran)."""
        steps, sent = self._steps_since_report, self._bytes_since_report
        self._steps_since_report = self._bytes_since_report = 0
        return sent / steps if steps else 0.0

    # ---- step boundary ----

    def boundary(self, stop: bool, lines: list[Any] | None) -> tuple[bool, list[Any]]:
        """Agree on "stop" (any rank) and on rank 0's control lines; every rank gets the same answer."""
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

    def close(self, clean: bool) -> None:
        if clean:
            self.reports.finished()
        if dist.is_initialized():
            if clean:
                dist.barrier(group=self.cpu_group)  # no rank closes its connections while a peer still finishes the last collective
            dist.destroy_process_group()


def _buckets(grads: list[torch.Tensor], bucket_bytes: int) -> list[list[torch.Tensor]]:
    """Consecutive gradients of one dtype and device, each bucket up to ``bucket_bytes`` (a bigger tensor alone)."""
    buckets: list[list[torch.Tensor]] = []
    size = 0
    for g in grads:
        nbytes = g.numel() * g.element_size()
        last = buckets[-1] if buckets else None
        if last is None or last[0].dtype != g.dtype or last[0].device != g.device or size + nbytes > bucket_bytes:
            buckets.append([g])
            size = nbytes
        else:
            last.append(g)
            size += nbytes
    return buckets


_TOO_LONG_MARK = 0xFFFFFFFF


def _encode_lines(lines: list[Any]) -> bytes:
    # Length-prefixed raw bytes: a line that is not UTF-8 must reach every rank as it came (and be rejected
    # the same way everywhere); TOO_LONG (an over-long line already discarded) travels as a marker.
    parts = []
    for line in lines:
        if line is TOO_LONG:
            parts.append(struct.pack("<I", _TOO_LONG_MARK))
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
        else:
            lines.append(data[at : at + size])
            at += size
    return lines


class RankReports:
    """Files in ``<run dir>/ranks/`` through which ranks tell rank 0 they started, failed or finished."""

    def __init__(self, run_dir: str, rank: int, world_size: int):
        self.dir = os.path.join(run_dir, RANKS_DIR)
        self.rank, self.world_size = rank, world_size

    def _path(self, rank: int, suffix: str) -> str:
        return os.path.join(self.dir, f"{rank}.{suffix}")

    def starting(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        for suffix in ("error", "done"):  # left by an earlier segment of this run folder
            try:
                os.unlink(self._path(self.rank, suffix))
            except FileNotFoundError:
                pass
        _write_atomic(self._path(self.rank, "json"), json.dumps({"pid": os.getpid(), "rank": self.rank}))

    def failed(self, message: str) -> None:
        _write_atomic(self._path(self.rank, "error"), message)

    def finished(self) -> None:
        _write_atomic(self._path(self.rank, "done"), "")

    def peer_failure(self, rank: int) -> str | None:
        """Why peer ``rank`` failed, or None while it is alive (or ended cleanly)."""
        try:
            with open(self._path(rank, "error"), encoding="utf-8") as f:
                return f.read().strip() or "failed without a message"
        except FileNotFoundError:
            pass
        if os.path.exists(self._path(rank, "done")):
            return None
        try:
            with open(self._path(rank, "json"), encoding="utf-8") as f:
                pid = int(json.load(f)["pid"])
        except (OSError, ValueError, KeyError):
            return None  # not started yet
        if _pid_alive(pid):
            return None
        # It may have written its error file just before dying: look once more.
        if os.path.exists(self._path(rank, "error")):
            return self.peer_failure(rank)
        return f"process {pid} ended without reporting an error (killed by a signal or out of memory?)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (dead, not yet reaped by torchrun) still answers kill(0): check its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class PeerWatch:
    """Rank 0's watcher thread: the first failed peer becomes an `error` event naming it, at once (before
    torchrun tears the group down), and ``failure`` tells the training loop to end the run."""

    def __init__(self, reports: RankReports, report: Callable[[int, str], None], interval_s: float = 0.5):
        self.reports, self.report, self.interval_s = reports, report, interval_s
        self.failure: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hima-peer-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.check():
                return

    def check(self) -> bool:
        """Look at every peer once; True (and reported) if one failed."""
        if self.failure is not None:
            return True
        for rank in range(1, self.reports.world_size):
            why = self.reports.peer_failure(rank)
            if why is not None:
                self.failure = f"rank {rank} failed: {why}"
                self.report(rank, self.failure)
                return True
        return False

    def wait_for_failure(self, timeout_s: float) -> str | None:
        """After a collective failed: give a dying peer a moment to leave its report, then return it."""
        deadline = time.monotonic() + timeout_s
        while not self.check() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.failure

    def stop(self) -> None:
        self._stop.set()


class FollowerEvents:
    """The event writer of ranks other than 0: nothing reaches the stream from here except errors, which go
    to this rank's error file for rank 0 to report (same ``emit`` signature as EventWriter)."""

    def __init__(self, reports: RankReports):
        self.reports = reports
        self.path = None

    def emit(self, type_: str, **fields: Any) -> dict:
        if type_ == "error" and not os.path.exists(self.reports._path(self.reports.rank, "error")):
            self.reports.failed(str(fields.get("message", "error")))
        return {"type": type_, **fields}

    def close(self) -> None:
        pass
