"""The training loop: GPT-2 on token files, HiMA-tiered AdamW, protocol events, controls at step boundaries.

Order of one step: controls (at the boundary) -> LR -> forward/backward -> clip -> hima.step() ->
events (step, tiers after a re-tier, memory, eval, checkpoint). A control acked with
effective_step = s acts on the boundary after s steps, i.e. before step s + 1 runs.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from dataclasses import asdict

import torch

from .. import HiMA, HiMAConfig, compile_per_block
from ..compile import uncompiled
from ..gpu_metrics import GpuMetrics
from .base_weights import BaseWeights, apply_base
from .checkpoint import CheckpointError, load_checkpoint, restore_rng, rng_state, save_checkpoint
from .config import TrainConfig, engine_settings
from .control import TIER_CONTROLS, ControlReader, answer_control, apply_tier_control
from .data import TokenBatches
from .distributed import Distributed, RankFailure, local_device
from .events import EventWriter
from .model import GPT, MODEL_PRESETS, gpt_config
from .rank_watch import FollowerEvents, PeerWatch
from .sharded_checkpoint import load_sharded, save_sharded
from .signals import JoinGuard, StopSignals
from .tensor_layout import tensor_infos

log = logging.getLogger("hima")


def pick_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {requested} was requested but CUDA is not available")
        index = torch.device(requested).index
        if index is not None:  # "cuda:N" (torchrun ranks); plain "cuda" means the current device
            torch.cuda.set_device(index)  # memory figures below are per current device
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps was requested but MPS is not available")
    return requested


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warmup to cfg.lr, then cosine decay to cfg.min_lr at max_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / (cfg.warmup_steps + 1)
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: str) -> torch.optim.AdamW:
    # Weight decay on matrices and embeddings only; never on biases and norm gains.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    extra = {"fused": True} if device.startswith("cuda") else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8, **extra)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _tier_name(tier) -> str:
    return str(getattr(tier, "value", tier))


def _finite_score(score) -> float:
    score = float(score)
    return score if math.isfinite(score) and score > 0 else 0.0


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite; its error event carries cause non_finite_loss."""


def token_batches(cfg: TrainConfig) -> TokenBatches:
    """The run's batches: its data folder read and checked as training reads it (DataError names a bad file)."""
    return TokenBatches(cfg.data, cfg.batch_size, cfg.block_size or MODEL_PRESETS[cfg.preset]["block_size"], cfg.seed, cfg.data_order)


def check_config(cfg: TrainConfig) -> None:
    """`--check`: what resolve_config cannot see without the data and the engine, checked without making the
    run folder or the model: the token files, and the HiMA settings (raises DataError or ValueError)."""
    token_batches(cfg)
    HiMAConfig(**engine_settings(cfg)).validate()


class Trainer:
    def __init__(
        self, cfg: TrainConfig, events: EventWriter, controls: ControlReader | None, resume: dict | None = None,
        join_guard: JoinGuard | None = None, stop_signals: StopSignals | None = None, base: BaseWeights | None = None,
    ):
        """``base``: the weights to start from (``cfg.init_from``, read by hima.app.base_weights.load_base); ignored
        on resume, where the checkpoint holds the weights and records the base.
        ``join_guard``: rank 0 of a multi-process run may pass the one it made at start-up (see hima.app.rank_watch).
        ``stop_signals``: the installed handlers (cli), so a signal during start-up stops the run; without it
        signals are not handled here."""
        self.cfg, self.events, self.controls = cfg, events, controls
        self.stop_signals = stop_signals or StopSignals()
        self.started = time.perf_counter()  # reset when the run starts; done's wall_time_s counts from it
        self.device = pick_device(local_device(cfg.device))
        if cfg.memory_budget_gib is not None and self.device.startswith("cuda"):
            total = torch.cuda.get_device_properties(torch.device(self.device)).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, cfg.memory_budget_gib * 2**30 / total), torch.device(self.device))
        # None unless torchrun started several processes.
        self.dist = Distributed.from_env(
            cfg.out, self.device, grad_sync=cfg.grad_sync, strategy=cfg.strategy, join_guard=join_guard,
            report=lambda rank, message: self.events.emit("error", message=message, fatal=True, rank=rank),
            end_run=lambda reason: self._end_before_training(reason, resume),
        )
        if self.dist is not None:
            self.dist.check_batch(cfg.batch_size)
            if isinstance(events, FollowerEvents):  # this rank's errors also reach rank 0 through the group's store
                events.reports.heartbeats = self.dist.heartbeats
        use_bf16 = cfg.dtype == "bfloat16" or (cfg.dtype == "auto" and self.device.startswith("cuda"))
        self.dtype = "bfloat16" if use_bf16 else "float32"
        self.autocast = (
            torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()
        )
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.batches = token_batches(cfg)
        self.model_config = gpt_config(cfg.preset, self.batches.meta.vocab_size, self.batches.block_size)
        self.model = GPT(self.model_config).to(self.device)
        self.base = base.describe() if base is not None else None  # what `hello` records as the run's base
        if base is not None and resume is None:
            apply_base(self.model, base, asdict(self.model_config))
        self.sharded = cfg.strategy == "fsdp2"
        if self.sharded:  # before the optimizer and HiMA: they must hold the sharded parameters
            self.dist.shard(self.model, list(self.model.transformer.h))
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        self.hima = HiMA(self.model, self.optimizer, HiMAConfig(**engine_settings(cfg)))
        if cfg.compile:
            compile_per_block(self.model.transformer.h, hima=self.hima)  # raises the recompile limit to fit the tiers
        # What train_step calls forward on: the model, or its DDP wrapper (grad_sync "ddp"). Everything else
        # (evaluation, checkpoints, HiMA) uses self.model.
        self.train_module = self.model if self.dist is None else self.dist.wrap(self.model)
        self.tokens_per_step = cfg.batch_size * self.batches.block_size
        self.step = 0
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.last_val_loss: float | None = None
        self.last_val_step: int | None = None  # the step last_val_loss was measured at
        self.transitions_total = 0
        self.last_checkpoint: str | None = None
        if resume is not None:
            self._restore(resume)
        self.start_step = self.step
        self.paused = False
        self.stop_requested = False  # agreed by every rank (a `stop` control, or a signal acted on at a boundary)
        self.tiers_dirty = False  # a tier control was applied: show the result after the next step
        self.watch: PeerWatch | None = self.dist.watch if self.dist else None  # rank 0: reports failed peers
        self.gpu_metrics = GpuMetrics()  # NVML figures for memory events, when nvidia-ml-py is installed

    @property
    def stop_signalled(self) -> bool:
        """SIGTERM / Ctrl-C arrived (StopSignals), maybe during start-up; acted on at the next boundary."""
        return self.stop_signals.signalled

    # ---- checkpoints ----
    def _restore(self, ckpt: dict) -> None:
        saved = ckpt.get("model_config")
        if saved != asdict(self.model_config):
            raise CheckpointError(f"{ckpt['path']} holds a different model ({saved}) than this run ({asdict(self.model_config)})")
        if ckpt["config"].get("method") != self.cfg.method:
            raise CheckpointError(f"{ckpt['path']} was trained with method {ckpt['config'].get('method')!r}, not {self.cfg.method!r}")
        if bool(ckpt.get("sharded")) != self.sharded:
            kind = "a sharded (fsdp2)" if ckpt.get("sharded") else "a one-file (replicated)"
            raise CheckpointError(f"{ckpt['path']} is {kind} checkpoint; resume it with strategy "
                                  f"{'fsdp2' if ckpt.get('sharded') else 'replicated'}, not {self.cfg.strategy!r}")
        try:
            if self.sharded:
                load_sharded(ckpt, self.model, self.hima)  # every rank its shards; the RNG too
            else:
                self.model.load_state_dict(ckpt["model"])
                self.hima.load_state_dict(ckpt["hima"])
                restore_rng(ckpt["rng"])
        except (RuntimeError, KeyError, ValueError) as e:
            if isinstance(e, CheckpointError):
                raise
            raise CheckpointError(f"{ckpt['path']} does not fit this run: {e}") from None
        self.step = ckpt["step"]
        counters = ckpt.get("counters", {})
        self.first_loss = counters.get("first_loss")
        self.last_loss = counters.get("last_loss")
        self.last_val_loss = counters.get("last_val_loss")
        self.last_val_step = counters.get("last_val_step")
        self.transitions_total = counters.get("transitions_total", 0)
        self.last_checkpoint = ckpt["path"]
        self.base = ckpt.get("base")

    def save(self) -> str | None:
        if self.sharded:
            return self._save_sharded()
        if self.dist is not None and not self.dist.is_main:
            return None  # rank 0 writes the checkpoint (all ranks hold the same model and tiers)
        payload = {
            "model": self.model.state_dict(),
            "hima": self.hima.state_dict(),
            **self._record(),
            "rng": rng_state(),
        }
        self.last_checkpoint = save_checkpoint(self.cfg.out, self.step, payload, self.cfg.keep_checkpoints)
        self.events.emit("checkpoint", step=self.step, path=self.last_checkpoint)
        return self.last_checkpoint

    def _save_sharded(self) -> str:
        # A collective: every rank writes its shards (the loop reaches save() at the same step on every rank).
        self.last_checkpoint = save_sharded(self.cfg.out, self.step, self.model, self.hima, self._record(),
                                            self.cfg.keep_checkpoints, group=self.dist.cpu_group)
        self.events.emit("checkpoint", step=self.step, path=self.last_checkpoint)  # rank 0's writer only
        return self.last_checkpoint

    def _record(self) -> dict:
        """What a checkpoint holds besides tensors: the run's config, the model's, the counters."""
        return {
            "config": self.cfg.to_json(),
            "model_config": asdict(self.model_config),
            "base": self.base,
            "data": {"seed": self.cfg.seed, "order": self.cfg.data_order, "next_step": self.step},
            "counters": {
                "first_loss": self.first_loss, "last_loss": self.last_loss,
                "last_val_loss": self.last_val_loss, "last_val_step": self.last_val_step,
                "transitions_total": self.transitions_total,
            },
        }

    # ---- events ----
    def emit_hello(self) -> None:
        self.events.emit(
            "hello", run_id=self.cfg.run_id, method=self.cfg.method, device=self.device, dtype=self.dtype,
            max_steps=self.cfg.max_steps, start_step=self.start_step, cutoffs=self._cutoffs(),
            model={"preset": self.cfg.preset, "n_params": self.model.num_params(), "n_layer": self.model_config.n_layer},
            config={**self.cfg.to_json(), "device": self.device}, tensors=tensor_infos(self.model),
            nproc=self.dist.world_size if self.dist else 1, base=self.base, strategy=self.cfg.strategy,
            nnodes=self.dist.nnodes if self.dist else 1,
        )

    def _cutoffs(self) -> dict:
        hot, warm = self.hima.cutoffs
        return {"hot": float(hot), "warm": float(warm)}

    def _counts(self) -> dict:
        counts = {_tier_name(k): v for k, v in self.hima.counts().items()}
        return {t: {"tensors": int(counts[t]["tensors"]), "elements": int(counts[t]["elements"])} for t in ("hot", "warm", "cold")}

    def emit_tiers(self, transitions: list) -> None:
        moves = [{"name": n, "from": _tier_name(a), "to": _tier_name(b)} for n, a, b in transitions]
        self.transitions_total += len(moves)
        scores = self.hima.scores()  # one device sync for all tensors
        tensors = [
            {"name": n, "tier": _tier_name(self.hima.tier_of(n)), "score": _finite_score(scores[n]), "pinned": bool(self.hima.is_pinned(n))}
            for n in self.hima.names
        ]
        self.events.emit("tiers", step=self.step, cutoffs=self._cutoffs(), counts=self._counts(), tensors=tensors, transitions=moves)
        if self.dist is not None and not self.dist.all_equal((self.step, self._cutoffs(), self.hima.tiers())):
            # Different tiers mean different gradient buckets: stop now rather than reduce mismatched tensors.
            raise RankFailure(f"ranks hold different tiers at step {self.step}")

    def emit_memory(self) -> None:
        state = {k: int(v) for k, v in self.hima.optimizer_state_bytes().items()}
        cuda = self.device.startswith("cuda")
        allocated = torch.cuda.memory_allocated() if cuda else None
        peak = torch.cuda.max_memory_allocated() if cuda else None
        rss = _rss_bytes()
        extra = {}
        if (gpu := self.gpu_metrics.read(self.device)) is not None:
            extra["gpu"] = gpu
        if self.dist is not None:  # a collective: every rank emits memory at the same steps
            alloc_mm, peak_mm, rss_mm = self.dist.min_max([allocated, peak, rss])
            extra["ranks"] = {
                "nproc": self.dist.world_size, "allocated_bytes": alloc_mm, "peak_bytes": peak_mm, "rss_bytes": rss_mm,
                "allreduce_bytes_per_step": self.dist.take_bytes_per_step(),
                "allreduce_bytes_total": self.dist.allreduce_bytes_total,
            }
        self.events.emit(
            "memory", step=self.step, device=self.device,
            optimizer_state_bytes={k: state[k] for k in ("total", "hot", "warm", "cold")},
            full_optimizer_state_bytes=int(self.hima.full_optimizer_state_bytes()),
            evicted_bytes=int(self.hima.evicted_bytes()),
            allocated_bytes=allocated, peak_bytes=peak, rss_bytes=rss, **extra,
        )

    def _end_before_training(self, reason: str, resume: dict | None) -> None:
        """Rank 0's way out when a peer fails (or SIGTERM comes) before the process group exists; called by the
        peer watch thread after it emitted the peer's `error` event. Nothing was trained: no model, no tiers."""
        self.events.emit(
            "done", step=resume["step"] if resume else 0, reason=reason,
            summary={
                "wall_time_s": round(time.perf_counter() - self.started, 3), "first_loss": None, "last_loss": None,
                "last_val_loss": None, "counts": {t: {"tensors": 0, "elements": 0} for t in ("hot", "warm", "cold")},
                "optimizer_state_bytes": 0, "full_optimizer_state_bytes": 0, "transitions": 0,
                "checkpoint": resume["path"] if resume else None,
            },
        )
        self.events.close()  # flushed and fsynced: os._exit below runs no cleanup
        # The main thread is inside init_process_group's C++ rendezvous wait, which no exception or Python
        # signal handler can interrupt; left alone, torchrun would SIGKILL it later with nothing reported.
        os._exit(1 if reason == "error" else 0)

    def emit_done(self, reason: str) -> None:
        self.events.emit(
            "done", step=self.step, reason=reason,
            summary={
                "wall_time_s": round(time.perf_counter() - self.started, 3), "first_loss": self.first_loss,
                "last_loss": self.last_loss, "last_val_loss": self.last_val_loss, "counts": self._counts(),
                "optimizer_state_bytes": int(self.hima.optimizer_state_bytes()["total"]),
                "full_optimizer_state_bytes": int(self.hima.full_optimizer_state_bytes()),
                "transitions": self.transitions_total, "checkpoint": self.last_checkpoint,
            },
        )

    # ---- controls ----
    def handle_control(self, raw) -> None:
        def check(control: dict) -> None:
            if control["type"] in TIER_CONTROLS:
                apply_tier_control(self.hima, self.cfg.method, control)
                self.tiers_dirty = True

        kind = answer_control(raw, self.events.emit, self.step, self.paused, check)
        if kind in ("pause", "resume"):
            self.paused = kind == "pause"
        elif kind == "checkpoint":
            self.save()
        elif kind == "stop":
            self.stop_requested = True

    def at_boundary(self) -> None:
        """Apply every queued control; while paused, block here (still answering controls)."""
        if self.dist is not None:
            return self._at_boundary_distributed()
        self.stop_requested = self.stop_requested or self.stop_signalled
        if self.controls is None:
            return
        for raw in self.controls.pending():
            self.handle_control(raw)
        while self.paused and not self.stop_requested:
            raw = self.controls.wait(0.2)
            if raw is not None:
                self.handle_control(raw)
            self.stop_requested = self.stop_requested or self.stop_signalled  # SIGTERM while paused

    def _at_boundary_distributed(self) -> None:
        # Rank 0 reads the lines; every rank applies the same ones here, so tiers and pauses stay in step.
        # A pause keeps exchanging (empty) batches every 0.2 s: no collective waits long enough to time out.
        def exchange(lines):
            # A signal is only this rank's vote: its handler may run just after the collective below returned
            # "no stop" (it waited there, in C++), and acting on it alone would leave the loop while the other
            # ranks train another step. Only the agreed answer stops, on every rank at the same boundary.
            stop, agreed = self.dist.boundary(self.stop_requested or self.stop_signalled, lines)
            self.stop_requested = self.stop_requested or stop
            for raw in agreed:
                self.handle_control(raw)

        if self.watch is not None and self.watch.failure:
            raise RankFailure(self.watch.failure)
        exchange(self.controls.pending() if self.controls is not None else [])
        while self.paused and not self.stop_requested:
            raw = self.controls.wait(0.2) if self.controls is not None else None
            exchange([] if raw is None else [raw])

    # ---- the loop ----
    def evaluate(self) -> float:
        self.model.eval()
        losses = []
        with torch.no_grad(), self.autocast, uncompiled():  # no evaluation graphs to fill the compile cache
            for x, y in self.batches.val_batches(self.cfg.eval_batches):
                _, loss = self.model(x.to(self.device), y.to(self.device))
                losses.append(loss.float())
        self.model.train()
        self.last_val_loss = float(torch.stack(losses).mean().item())
        self.last_val_step = self.step
        self.events.emit("eval", step=self.step, val_loss=self.last_val_loss)
        return self.last_val_loss

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()

    def _emit_step(self, loss_sum: torch.Tensor, steps: int, lr: float, elapsed: float) -> None:
        """One step event for the last `steps` steps: mean loss, time per step averaged over them."""
        # Under torchrun each rank's loss is over its slice of the global batch: report their mean.
        total = loss_sum if self.dist is None else self.dist.mean(loss_sum)
        mean_loss = float(total.item()) / steps  # the one device sync per interval
        if not math.isfinite(mean_loss):
            raise NonFiniteLoss(f"loss became {mean_loss} at step {self.step}; lower the learning rate")
        elapsed = max(1e-9, elapsed)
        self.first_loss = mean_loss if self.first_loss is None else self.first_loss
        self.last_loss = mean_loss
        self.events.emit(
            "step", step=self.step, loss=mean_loss, lr=lr, step_time_ms=1000.0 * elapsed / steps,
            tokens_per_s=self.tokens_per_step * steps / elapsed,
        )
        loss_sum.zero_()

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        """One optimizer step on the batch (x, y) at learning rate ``lr``: forward/backward under autocast,
        clip, ``hima.step()``, ``zero_grad``. Returns the loss as a device tensor: no host sync, no events,
        so the benchmark times exactly this code."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.autocast:
            _, loss = self.train_module(x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))
        if self.dist is None:
            if loss.requires_grad:  # pins can leave a step with nothing to train (every tensor Cold or resting Warm)
                loss.backward()
        else:
            self.dist.backward(loss)  # averaged over ranks before scoring: every rank scores the same gradients
        if self.cfg.grad_clip > 0:
            self.hima.clip_grad_norm_(self.cfg.grad_clip)  # clips only applied gradients, not probe ones
        self.hima.step()
        self.hima.zero_grad()
        return loss.detach()

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.batches.train_batch(step)
        return (x, y) if self.dist is None else self.dist.local_slice(x, y)

    def run(self) -> str:
        """Train to max_steps (or until stopped). Returns the done reason."""
        if self.dist is None:
            return self._run()
        try:
            reason = self._run()
        except Exception as e:
            # A collective failing usually means a peer died: name it (its report may take a moment to land).
            failure = self.watch.wait_for_failure(self.watch.settle_s) if self.watch is not None else None
            if failure is not None and not isinstance(e, RankFailure):
                raise RankFailure(f"{failure}; ending the run on all ranks ({type(e).__name__}: {e})") from e
            raise
        finally:
            if self.watch is not None:
                self.watch.stop()
        self.dist.close(clean=True, step=self.step)
        return reason

    def _run(self) -> str:
        self.started = time.perf_counter()
        cfg = self.cfg
        self.emit_hello()
        self.emit_tiers(self.hima.take_transitions() or [])
        self.emit_memory()
        loss_sum = torch.zeros((), device=self.device)
        clock, lr = IntervalClock(), 0.0  # the training time of the steps since the last step event
        while self.step < cfg.max_steps:
            with clock.not_training():  # controls, and a pause
                self.at_boundary()
            if self.stop_requested:
                break
            lr = lr_at(cfg, self.step)
            loss = self.train_step(*self._batch(self.step), lr)
            self.step += 1
            loss_sum += loss.float()
            clock.steps += 1

            if clock.steps >= cfg.log_every or self.step == cfg.max_steps:
                self._emit_step(loss_sum, clock.steps, lr, clock.training_seconds())
                clock.restart()
            with clock.not_training():  # event writing, evaluation, checkpoints
                transitions = self.hima.take_transitions()
                if transitions is not None or self.tiers_dirty:
                    self.tiers_dirty = False
                    self.emit_tiers(transitions or [])
                    self.emit_memory()
                elif self.step % cfg.memory_every == 0:
                    self.emit_memory()
                if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.max_steps:
                    self._sync()
                    self.evaluate()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < cfg.max_steps:
                    self._sync()
                    self.save()

        if clock.steps:  # stopped mid-interval: report the steps run since the last step event
            self._emit_step(loss_sum, clock.steps, lr, clock.training_seconds())
        reason = "stopped" if self.stop_requested else "completed"
        # The checkpoint first: a final evaluation that fails (out of memory on a GPU) must not cost the steps
        # trained since the last periodic save. Stopped before a step ran (e.g. a signal during start-up):
        # nothing new to keep; saving would write a step-0 checkpoint for nothing, or rewrite the checkpoint
        # this run resumed from (done names that one).
        if reason == "completed" or self.step > self.start_step:
            self.save()
        # A run resumed from its final checkpoint (killed during the final evaluation) evaluates then.
        if reason == "completed" and self.step > 0 and self.last_val_step != self.step:
            self.evaluate()
        self.emit_memory()
        self.emit_done(reason)
        return reason


class IntervalClock:
    """The training time of the steps since the last step event: wall time since ``restart()`` less the time
    spent in ``not_training()`` blocks (control boundaries and pauses, event writing, evaluation, checkpoints),
    so ``step_time_ms`` and ``tokens_per_s`` speak of training alone."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.steps = 0
        self._start = time.perf_counter()
        self._excluded = 0.0

    @contextlib.contextmanager
    def not_training(self):
        began = time.perf_counter()
        try:
            yield
        finally:
            self._excluded += time.perf_counter() - began

    def training_seconds(self) -> float:
        return time.perf_counter() - self._start - self._excluded
