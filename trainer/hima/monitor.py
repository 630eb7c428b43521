"""RunMonitor: any training loop writes a HiMA run folder that the VS Code panel follows live.

A few lines in your own loop, with or without a HiMA engine::

    from hima.monitor import RunMonitor

    with RunMonitor(".hima/runs/my-run", model, hima=hima, max_steps=1000) as monitor:
        for step in range(1000):
            ...                           # forward, backward, hima.step(), hima.zero_grad()
            monitor.step(loss)            # events; controls from the panel are applied here
            if monitor.should_stop:
                break

The folder is laid out as the trainer's own (`python -m hima train`) and every line is a protocol event
(protocol/hima.schema.json): `hello` with the tensor list, `step`, `memory`, `eval`, `done`, and `tiers` when a
HiMA engine is attached. The same pieces write it: EventWriter (events.jsonl), ControlSocket (control.sock,
0600), trainer.json and the run folder lock. Control lines arrive on the socket's threads and wait in a
queue; the thread that calls `step()` drains it at that step boundary, so a cutoff or pin changes the engine
between two optimizer steps, never during one. Each control ends as one `ack` or `rejected` event, as the
trainer's own do; tier controls need an engine, `checkpoint` needs a `save` hook.

Not imported by `import hima` (it uses the application's event and control modules): `import hima.monitor`.
"""
from __future__ import annotations

import json
import math
import os
import queue
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .app.cli import _lock_run_folder, write_trainer_info
from .app.control import MAX_QUEUED_LINES, TIER_CONTROLS, ControlRejected, ControlSocket, answer_control, apply_tier_control
from .app.events import EventWriter
from .app.run_folder import refuse_links
from .app.tensor_layout import tensor_infos
from .engine import HiMA
from .gpu_metrics import GpuMetrics
from .optimizer_state import moment_bytes
from .protocol import RUN_FOLDER, is_run_id
from .tiering import TIERS

__all__ = ["RunMonitor"]

_NO_CUTOFFS = {"hot": 1.0, "warm": 1.0}  # without an engine every tensor is Hot


class RunMonitor:
    """Writes one run's protocol events to ``out`` and, with ``controls``, serves its control socket.

    ``out``: the run folder (created 0700); put it under ``<workspace>/.hima/runs/`` for the panel to list
    it. ``model``: the module trained (its parameters are the tensor list); may be left out when ``hima`` is
    given. ``hima``: the engine, for `tiers` events, optimizer-state memory and tier controls. ``optimizer``:
    without an engine, where the learning rate and the optimizer-state bytes are read (optional).
    ``max_steps``: the planned optimizer steps (the panel's progress; 0 when unknown). ``config``: anything
    JSON-like worth keeping with the run (shown in `hello`). ``log_every``: steps averaged into one `step`
    event. ``memory_every``: steps between `memory` events. ``save``: called for a `checkpoint` control;
    returns the path written (None: nothing written). ``echo``: also write each event line to this stream.
    """

    def __init__(
        self, out: str | os.PathLike, model: nn.Module | None = None, hima: HiMA | None = None, *,
        optimizer: torch.optim.Optimizer | None = None, run_id: str | None = None, max_steps: int = 0,
        start_step: int = 0, config: dict | None = None, dtype: str | None = None, log_every: int = 1,
        memory_every: int = 10, controls: bool = True, save: Callable[[], str | None] | None = None,
        echo: Any = None,
    ) -> None:
        if model is None and hima is None:
            raise ValueError("RunMonitor needs the model or the HiMA engine (or both)")
        if log_every < 1 or memory_every < 1:
            raise ValueError("log_every and memory_every must be at least 1")
        self.out = os.fspath(out)
        self.model = model if model is not None else hima._model
        self.hima = hima
        self.optimizer = hima.optimizer if hima is not None else optimizer
        self.log_every, self.memory_every, self._save = log_every, memory_every, save
        name = os.path.basename(os.path.normpath(os.path.abspath(self.out)))
        self.run_id = run_id or (name if is_run_id(name) else "run")
        if not is_run_id(self.run_id):
            raise ValueError(f"run id {self.run_id!r} is not a valid run id (letters, digits, '.', '_', '-')")
        first = next(iter(self.model.parameters()), None)
        self.device = str(first.device) if first is not None else "cpu"

        self._lock = _lock_run_folder(self.out)  # also makes the folder (0700); one writer per run folder
        self._channel: ControlSocket | None = None
        self.events: EventWriter | None = None
        try:
            refuse_links(self.out)
            self.events = EventWriter(self.out, echo)
            self._lines: queue.Queue = queue.Queue(maxsize=MAX_QUEUED_LINES)
            if controls:
                self._channel = ControlSocket(os.path.join(self.out, RUN_FOLDER["control_socket"]), self._lines, self.out)
            write_trainer_info(self.out, self.run_id, self._channel.path if self._channel else None,
                               [sys.executable, *sys.argv], writer="monitor")
        except BaseException:
            self._release()
            raise

        self.step_count = start_step
        self.paused = False
        self.should_stop = False  # a `stop` control arrived: end the loop (close() then reports "stopped")
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.last_val_loss: float | None = None
        self.last_checkpoint: str | None = None
        self.transitions_total = 0
        self._tiers_dirty = False
        self._closed = False
        self._started = time.perf_counter()
        self._interval_start = self._started
        self._interval_steps = 0
        self._loss_sum: torch.Tensor | float = 0.0
        self._losses = 0
        self._tokens = 0
        self._gpu_metrics = GpuMetrics()
        self._emit_hello(max_steps, start_step, config, dtype or (str(first.dtype).replace("torch.", "") if first is not None else "float32"))
        if hima is not None:
            self._emit_tiers(hima.take_transitions() or [])
        self._emit_memory()

    # ---- what the loop calls ------------------------------------------------------------------------------

    def step(self, loss: torch.Tensor | float | None = None, *, lr: float | None = None, tokens: int | None = None,
             step: int | None = None) -> None:
        """One optimizer step done: call after ``hima.step()`` (or ``optimizer.step()``).

        ``loss``: this step's loss (a tensor stays on the device until the `step` event: one sync per
        ``log_every`` steps); None when the loop reports losses with ``log()`` instead. ``tokens``: the
        tokens (or samples) in this step's batch, for the throughput figure. ``step``: the step number when
        the loop keeps its own (e.g. a framework's global step); else calls are counted.
        Then: `tiers` after a re-tier or a tier control, `memory` every ``memory_every`` steps, and the
        queued controls (a pause blocks here until resumed or stopped)."""
        self.step_count = self.step_count + 1 if step is None else int(step)
        self._interval_steps += 1
        self._tokens += tokens or 0
        if loss is not None:
            value = loss.detach().float() if isinstance(loss, torch.Tensor) else float(loss)
            self._loss_sum = self._loss_sum + value
            self._losses += 1
        if self._losses and self._interval_steps >= self.log_every:
            self._emit_step(self._loss_sum / self._losses, lr)
        self._after_step()

    def log(self, loss: torch.Tensor | float, *, lr: float | None = None) -> None:
        """A `step` event now with ``loss`` (e.g. a framework's logged mean) for the steps since the last one."""
        self._emit_step(loss, lr)

    def eval(self, val_loss: torch.Tensor | float, *, step: int | None = None) -> None:
        """An `eval` event: the validation loss at ``step`` (default: the steps done)."""
        value = float(val_loss)
        if not math.isfinite(value):
            self._events().emit("error", message=f"validation loss became {value} at step {self.step_count}", fatal=False, rank=None, cause="non_finite_loss")
            return
        self.last_val_loss = value
        self._events().emit("eval", step=self.step_count if step is None else int(step), val_loss=value)

    def checkpoint(self, path: str) -> None:
        """Record a checkpoint the loop wrote (a `checkpoint` event)."""
        self.last_checkpoint = os.fspath(path)
        self._events().emit("checkpoint", step=self.step_count, path=self.last_checkpoint)

    def boundary(self) -> None:
        """Apply the queued controls now (``step()`` does this itself); blocks while the run is paused."""
        for raw in self._drain():
            self._handle(raw)
        self._show_changed_tiers()
        while self.paused and not self.should_stop:
            try:
                raw = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self._handle(raw)
            self._show_changed_tiers()

    def _show_changed_tiers(self) -> None:
        # After tier controls: the panel sees the new tiers at once (one event for all the boundary's controls).
        if self._tiers_dirty:
            self._tiers_dirty = False
            self._emit_tiers(self.hima.take_transitions() or [])
            self._emit_memory()

    def close(self, reason: str | None = None) -> None:
        """The final `memory` and `done` events; the socket, the log and the lock are released. ``reason``:
        completed, stopped or error (default: stopped after a `stop` control, else completed)."""
        if self._closed:
            return
        reason = reason or ("stopped" if self.should_stop else "completed")
        try:
            if self._losses:
                self._emit_step(self._loss_sum / self._losses, None)
            self._emit_memory()
            self._emit_done(reason)
        finally:
            self._closed = True
            self._release()

    def __enter__(self) -> RunMonitor:
        return self

    def __exit__(self, kind, error, _tb) -> None:
        if error is None:
            self.close()
        elif isinstance(error, KeyboardInterrupt):
            self.close("stopped")
        else:
            self.events.try_emit("error", message=f"{kind.__name__}: {error}", fatal=True, rank=None)
            self.close("error")

    # ---- events -------------------------------------------------------------------------------------------

    def _events(self) -> EventWriter:
        if self._closed or self.events is None:
            raise RuntimeError("this RunMonitor is closed")
        return self.events

    def _emit_hello(self, max_steps: int, start_step: int, config: dict | None, dtype: str) -> None:
        method = self.hima.config.method if self.hima is not None else "full"
        settings = {"monitor": {"log_every": self.log_every, "memory_every": self.memory_every}}
        if self.hima is not None:
            settings["hima"] = _json_safe(vars(self.hima.config))
        if config:
            settings["user"] = _json_safe(config)
        params = list(self.model.parameters())
        self._events().emit(
            "hello", run_id=self.run_id, method=method, device=self.device, dtype=dtype, max_steps=int(max_steps),
            start_step=int(start_step), cutoffs=self._cutoffs(),
            model={"preset": None, "n_params": sum(p.numel() for p in params), "n_layer": None},
            config=settings, tensors=tensor_infos(self.model), nproc=1,
        )

    def _emit_step(self, loss: torch.Tensor | float, lr: float | None) -> None:
        value = float(loss)  # the one device sync per interval
        elapsed = max(1e-9, time.perf_counter() - self._interval_start)
        steps = max(1, self._interval_steps)
        if math.isfinite(value):
            self.first_loss = value if self.first_loss is None else self.first_loss
            self.last_loss = value
            self._events().emit("step", step=self.step_count, loss=value, lr=self._lr(lr),
                                step_time_ms=1000.0 * elapsed / steps, tokens_per_s=self._tokens / elapsed)
        else:  # JSON has no NaN: the panel learns of it as an error line, and the loop decides what to do
            self._events().emit("error", message=f"loss became {value} at step {self.step_count}", fatal=False, rank=None, cause="non_finite_loss")
        self._interval_start, self._interval_steps, self._tokens = time.perf_counter(), 0, 0
        self._loss_sum, self._losses = 0.0, 0

    def _lr(self, lr: float | None) -> float:
        if lr is None and self.optimizer is not None and self.optimizer.param_groups:
            lr = self.optimizer.param_groups[0].get("lr", 0.0)
        lr = float(lr) if lr is not None else 0.0
        return lr if math.isfinite(lr) and lr >= 0 else 0.0

    def _after_step(self) -> None:
        if self.hima is not None:
            transitions = self.hima.take_transitions()
            if transitions is not None or self._tiers_dirty:
                self._tiers_dirty = False
                self._emit_tiers(transitions or [])
                self._emit_memory()
            elif self.step_count % self.memory_every == 0:
                self._emit_memory()
        elif self.step_count % self.memory_every == 0:
            self._emit_memory()
        self.boundary()

    def _cutoffs(self) -> dict:
        if self.hima is None:
            return dict(_NO_CUTOFFS)
        hot, warm = self.hima.cutoffs
        return {"hot": float(hot), "warm": float(warm)}

    def _counts(self) -> dict:
        if self.hima is not None:
            counts = self.hima.counts()
            return {t: {"tensors": int(counts[t]["tensors"]), "elements": int(counts[t]["elements"])} for t in TIERS}
        params = list(self.model.parameters())
        empty = {"tensors": 0, "elements": 0}
        return {"hot": {"tensors": len(params), "elements": sum(p.numel() for p in params)}, "warm": empty, "cold": dict(empty)}

    def _emit_tiers(self, transitions: list) -> None:
        hima = self.hima
        moves = [{"name": n, "from": a, "to": b} for n, a, b in transitions]
        self.transitions_total += len(moves)
        scores = hima.scores()  # one device sync for all tensors
        tensors = [{"name": n, "tier": hima.tier_of(n), "score": _finite_score(scores[n]), "pinned": bool(hima.is_pinned(n))}
                   for n in hima.names]
        self._events().emit("tiers", step=self.step_count, cutoffs=self._cutoffs(), counts=self._counts(),
                            tensors=tensors, transitions=moves)

    def _state_bytes(self) -> tuple[dict, int, int]:
        """(optimizer state bytes per tier and total, what full AdamW would hold, evicted bytes)."""
        if self.hima is not None:
            state = self.hima.optimizer_state_bytes()
            return ({k: int(state[k]) for k in ("total", *TIERS)}, int(self.hima.full_optimizer_state_bytes()),
                    int(self.hima.evicted_bytes()))
        params = list(self.model.parameters())
        held = 0
        if self.optimizer is not None:
            held = sum(moment_bytes(self.optimizer.state[p], p.device) for p in params if self.optimizer.state.get(p))
        full = sum(2 * p.numel() * p.element_size() for p in params)
        return {"total": held, "hot": held, "warm": 0, "cold": 0}, full, 0

    def _emit_memory(self) -> None:
        state, full, evicted = self._state_bytes()
        cuda = self.device.startswith("cuda") and torch.cuda.is_available()
        gpu = self._gpu_metrics.read(self.device)
        self._events().emit(
            "memory", step=self.step_count, device=self.device, optimizer_state_bytes=state,
            full_optimizer_state_bytes=full, evicted_bytes=evicted,
            allocated_bytes=int(torch.cuda.memory_allocated()) if cuda else None,
            peak_bytes=int(torch.cuda.max_memory_allocated()) if cuda else None, rss_bytes=_rss_bytes(),
            **({"gpu": gpu} if gpu is not None else {}),
        )

    def _emit_done(self, reason: str) -> None:
        state, full, _ = self._state_bytes()
        self._events().emit("done", step=self.step_count, reason=reason, summary={
            "wall_time_s": round(time.perf_counter() - self._started, 3), "first_loss": self.first_loss,
            "last_loss": self.last_loss, "last_val_loss": self.last_val_loss, "counts": self._counts(),
            "optimizer_state_bytes": state["total"], "full_optimizer_state_bytes": full,
            "transitions": self.transitions_total, "checkpoint": self.last_checkpoint,
        })

    # ---- controls -----------------------------------------------------------------------------------------

    def _drain(self) -> list:
        lines = []
        while True:
            try:
                lines.append(self._lines.get_nowait())
            except queue.Empty:
                return lines

    def _handle(self, raw: Any) -> None:
        """One queued line -> exactly one `ack` or `rejected` (then its effect), as the trainer answers it."""
        def check(control: dict) -> None:
            kind, cid = control["type"], control["id"]
            if kind in TIER_CONTROLS:
                if self.hima is None:
                    raise ControlRejected(cid, "this run has no HiMA engine attached (RunMonitor(hima=...)); it has no tiers to change")
                apply_tier_control(self.hima, self.hima.config.method, control)
                self._tiers_dirty = True
            elif kind == "checkpoint" and self._save is None:
                raise ControlRejected(cid, "this run has no checkpoint hook (RunMonitor(save=...)); save from your own loop")

        kind = answer_control(raw, self._events().emit, self.step_count, self.paused, check)
        if kind in ("pause", "resume"):
            self.paused = kind == "pause"
        elif kind == "checkpoint":
            path = self._save()
            if path is not None:
                self.checkpoint(path)
        elif kind == "stop":
            self.should_stop = True

    def _release(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.events is not None:
            self.events.close()
        if self._lock is not None:
            os.close(self._lock)  # the lock goes with the descriptor
            self._lock = None


def _finite_score(score: float) -> float:
    score = float(score)
    return score if math.isfinite(score) and score > 0 else 0.0


def _json_safe(value: Any) -> Any:
    """A JSON copy of ``value``: what JSON cannot hold becomes its text (a config may hold anything)."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _constant: None)  # NaN, Infinity -> null


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
