"""One benchmark run: build the model the trainer builds, train a fixed budget, measure everything.

Engine runs call the trainer's own step (hima.app.train.Trainer.train_step: LR -> forward/backward under
autocast -> clip -> hima.step() -> zero_grad), on the trainer's sequential token order, so the bench
times the code users run. Around it the bench adds what the trainer's loop does not give: per-step
device-timed durations with no sync inside the window, peak memory reset after model + optimizer
creation, per-step optimizer-state bytes and updated elements, compile counts per step, and a run with
the event stream switched off. With events on, the trainer's own emit_* methods write the events at
the trainer's cadence, so the monitoring overhead measured is the product's. The plain baseline
(engine=False) is a bare torch AdamW loop with the same model, data, autocast and clipping.
"""
from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass

import torch

from hima.app.base_weights import apply_base, load_base
from hima.compile import compile_per_block, uncompiled
from hima.app.config import resolve_config
from hima.app.data import TokenBatches
from hima.app.events import EventWriter
from hima.app.model import GPT, gpt_config
from hima.app.train import Trainer, lr_at, make_optimizer

from . import compile_stats
from .clock import StepClock
from .suite import RunSpec


MAX_EPOCHS = 2  # a budget may see the corpus at most twice


@dataclass(frozen=True)
class SuiteSettings:
    data: str
    out: str  # results folder; run folders go to <out>/runs/<name>/
    device: str
    batch: int
    seq: int
    seed: int
    steps: int
    medium_steps: int
    overhead_steps: int
    eval_every: int  # 0: only at the end
    eval_batches: int
    retier_every: int | None  # None: the preset's default
    compile_backend: str
    preset_override: str | None = None  # the smoke test runs every spec on "tiny"
    forget_data: str | None = None  # fine-tuning: token files of the base's corpus, evaluated at start and end
    eval_at_start: bool = False  # fine-tuning: evaluate the base before the first step (step 0 of the curves)


class _NoEvents:
    """Stands in for EventWriter when monitoring is off: nothing is serialised or written."""

    path = None

    def emit(self, type_: str, **fields) -> dict:
        return {}

    def close(self) -> None:
        pass


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def train_config(spec: RunSpec, s: SuiteSettings, run_dir: str, steps: int | None = None):
    steps = steps if steps is not None else getattr(s, spec.steps_key)
    preset = s.preset_override or spec.preset
    flags = {
        "preset": preset, "data": s.data, "out": run_dir, "run_id": spec.name, "max_steps": steps,
        "batch_size": s.batch, "block_size": s.seq, "data_order": "sequential",
        "device": s.device, "method": "full" if spec.method == "lora" else spec.method, "hot": spec.hot, "warm": spec.warm,
        "seed": s.seed if spec.seed is None else spec.seed,
        "eval_batches": s.eval_batches, "eval_every": s.eval_every, "compile": False,  # compiled below
    }
    if spec.random_cold_fraction is not None:
        flags["random_cold_fraction"] = spec.random_cold_fraction
    if s.retier_every is not None:
        flags["retier_every"] = flags["first_retier"] = s.retier_every
    if spec.first_retier is not None:
        flags["first_retier"] = spec.first_retier
    if spec.layout is not None:
        flags["layout"] = spec.layout
    if spec.warm_placement is not None:
        flags["warm_placement"] = spec.warm_placement
    if spec.method.startswith("hima"):
        flags["freeze_stem"] = spec.freeze_stem
    if spec.warm_every is not None:
        flags["warm_every"] = spec.warm_every
        flags["warm_lr_scale"] = spec.warm_every ** 0.5  # sqrt(k), the engine's rule for its default k
    if spec.ramp is not None:
        flags["ramp_start"], flags["ramp_end"] = spec.ramp
    if spec.lr is not None:
        flags["lr"], flags["min_lr"] = spec.lr, spec.lr / 10
    if spec.init_from is not None:
        flags["init_from"] = spec.init_from
    cfg = resolve_config({}, flags)
    # A short budget: warm up over at most a tenth of it, so most steps run at a real learning rate.
    cfg.warmup_steps = min(cfg.warmup_steps, max(1, steps // 10))
    return cfg


def _plain_parts(cfg, device: str, spec: RunSpec):
    """What Trainer.__init__ builds, minus HiMA: the baseline a user would run (same seed, same init, same
    base weights); method "lora": LoRA adapters (peft) on the base, AdamW on the adapters alone."""
    torch.manual_seed(cfg.seed)
    batches = TokenBatches(cfg.data, cfg.batch_size, cfg.block_size, cfg.seed, cfg.data_order)
    model_config = gpt_config(cfg.preset, batches.meta.vocab_size, batches.block_size)
    model = GPT(model_config).to(device)
    if cfg.init_from:
        apply_base(model, load_base(cfg.init_from), asdict(model_config))
    if spec.method == "lora":
        from .lora import add_lora

        return model, add_lora(model, spec.lora_rank or 16, cfg, device), batches
    return model, make_optimizer(model, cfg, device), batches


def user_step(model, optimizer, autocast, grad_clip: float, device: str, hima=None):
    """The loop a user writes, with the same signature as Trainer.train_step: torch AdamW alone (the
    baseline), or around HiMA (``hima``), which then takes the clip, the step and zero_grad."""

    def train_step(x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        for group in optimizer.param_groups:
            group["lr"] = lr
        with autocast:
            _, loss = model(x.to(device, non_blocking=True), y.to(device, non_blocking=True))
        loss.backward()
        if hima is None:
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            if grad_clip > 0:
                hima.clip_grad_norm_(grad_clip)
            hima.step()
            hima.zero_grad()
        return loss.detach()

    return train_step


def _state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(t.numel() * t.element_size() for st in optimizer.state.values() for t in st.values() if torch.is_tensor(t))


def _forget_batches(s: SuiteSettings, cfg, device: str) -> list:
    if not s.forget_data:
        return []
    other = TokenBatches(s.forget_data, cfg.batch_size, cfg.block_size, cfg.seed, cfg.data_order)
    return [(x.to(device), y.to(device)) for x, y in other.val_batches(cfg.eval_batches)]


def _evaluate(model, val, autocast) -> float:
    model.eval()
    with torch.no_grad(), autocast, uncompiled():  # as Trainer.evaluate: no evaluation graphs compiled
        losses = [model(x, y)[1].float() for x, y in val]
    model.train()
    return float(torch.stack(losses).mean().item())


@dataclass
class Setup:
    """One built run: the model, optimizer and step function a run trains with, compiled as its spec says."""

    spec: RunSpec
    cfg: object  # hima.app.config.TrainConfig
    device: str
    events: object  # EventWriter or _NoEvents
    trainer: Trainer | None  # None for the plain AdamW baseline
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batches: TokenBatches
    hima: object | None
    autocast: object
    train_step: object  # (x, y, lr) -> loss tensor


def build(spec: RunSpec, s: SuiteSettings, steps: int | None = None) -> Setup:
    """Build a run as the trainer would (same seed, init, data order, compilation); `steps` overrides the budget."""
    run_dir = os.path.join(s.out, "runs", spec.name)
    cfg = train_config(spec, s, run_dir, steps)
    device = "cuda" if s.device == "cuda" or (s.device == "auto" and torch.cuda.is_available()) else "cpu"
    events = EventWriter(run_dir, stdout=None) if spec.events else _NoEvents()
    trainer = None
    if spec.model != "gpt":
        from .library_model import build_library_run

        model, optimizer, batches, hima, autocast, train_step, blocks = build_library_run(spec, cfg, device)
    elif spec.engine:
        base = load_base(cfg.init_from) if cfg.init_from else None
        trainer = Trainer(cfg, events, controls=None, base=base)  # type: ignore[arg-type]
        model, optimizer, batches, hima = trainer.model, trainer.optimizer, trainer.batches, trainer.hima
        autocast = trainer.autocast
        train_step = trainer.train_step
    else:
        model, optimizer, batches = _plain_parts(cfg, device, spec)
        hima = None
        autocast = torch.autocast(device, dtype=torch.bfloat16) if device == "cuda" else _nullcontext()
        train_step = user_step(model, optimizer, autocast, cfg.grad_clip, device)

    if MAX_EPOCHS * batches.steps_per_epoch() < cfg.max_steps:
        raise ValueError(
            f"{cfg.data}: {batches.steps_per_epoch()} steps of {cfg.batch_size}x{cfg.block_size} tokens fit before a "
            f"token repeats, and the corpus may be seen at most {MAX_EPOCHS} times, but the budget is {cfg.max_steps} "
            "steps; lower --steps/--batch/--seq or use a larger corpus (scripts/prepare-gpu-corpus.sh)"
        )
    if spec.compile == "block":  # as the trainer does (TrainConfig.compile), limits raised for the tiers
        compile_per_block(blocks if spec.model != "gpt" else model.transformer.h, hima=hima, backend=s.compile_backend)
    elif spec.compile == "whole":
        if spec.engine:
            raise ValueError(f"{spec.name}: whole-model compilation is only for the plain AdamW baseline")
        model.compile(backend=s.compile_backend)
    return Setup(spec, cfg, device, events, trainer, model, optimizer, batches, hima, autocast, train_step)


class EventCadence:
    """The event stream at the trainer's cadence (Trainer.run): a step event every log_every steps (one
    device sync each), tiers + memory at every re-tier, memory every memory_every steps. Off (no events)
    for a run whose spec says so, so the on/off pair measures exactly this work."""

    def __init__(self, setup: Setup, steps: int):
        self.setup, self.steps = setup, steps
        self.on = setup.spec.events and setup.trainer is not None
        self.loss_sum = torch.zeros((), device=setup.device)
        self.interval, self.interval_start = 0, time.perf_counter()

    def start(self) -> None:
        if self.on:
            trainer = self.setup.trainer
            trainer.emit_hello()
            trainer.emit_tiers(self.setup.hima.take_transitions() or [])
            trainer.emit_memory()

    def after_step(self, done: int, loss: torch.Tensor, lr: float, transitions) -> None:
        if not self.on:
            return
        trainer, cfg = self.setup.trainer, self.setup.cfg
        trainer.step = done
        self.loss_sum += loss.detach().float()
        self.interval += 1
        if self.interval >= cfg.log_every or done == self.steps:
            mean = float(self.loss_sum.item()) / self.interval
            elapsed = max(1e-9, time.perf_counter() - self.interval_start)
            self.setup.events.emit("step", step=done, loss=mean, lr=lr, step_time_ms=1000.0 * elapsed / self.interval,
                                   tokens_per_s=cfg.batch_size * cfg.block_size * self.interval / elapsed)
            self.loss_sum.zero_()
            self.interval, self.interval_start = 0, time.perf_counter()
        if transitions is not None:
            trainer.emit_tiers(transitions)
            trainer.emit_memory()
        elif done % cfg.memory_every == 0:
            trainer.emit_memory()

    def evaluated(self, done: int, val_loss: float) -> None:
        if self.setup.spec.events:
            self.setup.events.emit("eval", step=done, val_loss=val_loss)


def run_one(spec: RunSpec, s: SuiteSettings) -> dict:
    device = "cuda" if s.device == "cuda" or (s.device == "auto" and torch.cuda.is_available()) else "cpu"
    cuda = device == "cuda"
    compile_stats.reset()
    leftover = 0
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        # Bytes still allocated by earlier runs of this process: subtracted from every peak below, so a
        # run's figures do not depend on its place in the suite (measured on an H100: every run after the
        # first of a process peaked ~330 MiB higher, which looked like HiMA overhead).
        leftover = torch.cuda.memory_allocated()

    setup = build(spec, s)
    cfg, events, trainer, hima = setup.cfg, setup.events, setup.trainer, setup.hima
    model, optimizer, batches, autocast, train_step = (
        setup.model, setup.optimizer, setup.batches, setup.autocast, setup.train_step)
    steps = cfg.max_steps

    n_params = sum(p.numel() for p in model.parameters())
    val = [(x.to(device), y.to(device)) for x, y in batches.val_batches(cfg.eval_batches)]
    model_bytes = torch.cuda.memory_allocated() if cuda else None
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    cadence = EventCadence(setup, steps)
    cadence.start()
    forget = _forget_batches(s, cfg, device)
    forget_start = _evaluate(model, forget, autocast) if forget else None
    val_start = _evaluate(model, val, autocast) if s.eval_at_start else None
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    clock = StepClock(torch.device(device))
    losses, val_curve, state_curve, saved_fraction, compiles_at = [], [], [], [], []
    if val_start is not None:
        val_curve.append((0, val_start))
    cold_curve = [(0, hima.counts()["cold"]["elements"] / n_params)] if hima is not None else []
    steady_from = min(steps - 1, max(10, steps // 10))  # steps before this are warmup (first compiles)
    # Steady-state memory starts after HiMA's first re-tier (before it every tensor is Hot); the same
    # step for every run of a suite, the plain baseline included, so the peaks compare like with like.
    memory_from = min(steps - 1, max(steady_from, (cfg.first_retier or 0) + 1))
    step_peaks: list[int] = []  # max_memory_allocated of each step (host-side allocator stats: no sync)
    frames_before = compile_stats.frames_compiled()
    eval_compiles, eval_s = 0, 0.0
    started = time.perf_counter()
    clock.begin()
    for step in range(steps):
        lr = lr_at(cfg, step)
        loss = train_step(*batches.train_batch(step), lr)
        clock.step_done()
        done = step + 1
        losses.append(loss)
        if hima is not None:
            saved_fraction.append(1.0 - hima.updated_elements_last_step() / n_params)
            transitions = hima.take_transitions()
        else:
            transitions = None
        frames = compile_stats.frames_compiled()
        if frames != frames_before:
            compiles_at.append(step)
            frames_before = frames

        cadence.after_step(done, loss, lr, transitions)
        if hima is not None and transitions:
            cold_curve.append((done, hima.counts()["cold"]["elements"] / n_params))
        if hima is not None and (transitions is not None or done % 10 == 0 or done in (1, steps)):
            state_curve.append((done, int(hima.optimizer_state_bytes()["total"])))
        elif hima is None and (done in (1, steps) or done % 10 == 0):
            state_curve.append((done, _state_bytes(optimizer)))

        if cuda:
            step_peaks.append(torch.cuda.max_memory_allocated())
            torch.cuda.reset_peak_memory_stats()
        if (cfg.eval_every and done % cfg.eval_every == 0) or done == steps:
            if cuda:
                torch.cuda.synchronize()  # queued training work finishes here, not inside the evaluation's time
            before, eval_started = compile_stats.frames_compiled(), time.perf_counter()
            val_curve.append((done, _evaluate(model, val, autocast)))
            eval_compiles += compile_stats.frames_compiled() - before
            frames_before = compile_stats.frames_compiled()
            cadence.evaluated(done, val_curve[-1][1])
            eval_s += time.perf_counter() - eval_started
            _log(f"{spec.name}: step {done}/{steps} val {val_curve[-1][1]:.4f} ({time.perf_counter() - started:.0f}s)")
            if cuda:
                torch.cuda.reset_peak_memory_stats()  # nor is its memory
            clock.begin()  # evaluation is not step time

    step_ms = clock.step_ms()
    wall_s = time.perf_counter() - started
    forget_end = _evaluate(model, forget, autocast) if forget else None
    if spec.save_weights:
        torch.save(model.state_dict(), spec.save_weights)
    result = {
        "name": spec.name, "status": "ok", "spec": spec.to_json(),
        "config": result_config(spec, s, setup),
        "n_params": n_params,
        "timing": _timing(step_ms, steady_from, cfg.batch_size * cfg.block_size, wall_s, eval_s),
        "train_loss": [round(v, 5) for v in torch.stack(losses).float().tolist()],
        "val_curve": [[st, round(v, 5)] for st, v in val_curve],
        "final_val_loss": val_curve[-1][1],
        # Fine-tuning: the loss on the base's own corpus before and after (forgetting).
        "forget_val_loss": [forget_start, forget_end] if forget else None,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad) if spec.method == "lora" else None,
        "memory": _memory(cuda, model_bytes, [p - leftover for p in step_peaks], memory_from, leftover),
        "optimizer_state": {
            "end_bytes": state_curve[-1][1], "max_bytes": max(b for _, b in state_curve),
            "full_bytes": int(hima.full_optimizer_state_bytes()) if hima is not None else state_curve[-1][1],
            "curve": state_curve,
        },
        "update_compute_saved": statistics.fmean(saved_fraction) if saved_fraction else 0.0,
        # (step, share of parameter elements Cold from that step on): the ramp and every re-tier
        "cold_share_curve": [[st, round(v, 5)] for st, v in cold_curve],
        "compile": {**compile_stats.snapshot(), "train_compiles_at_steps": compiles_at, "eval_compiles": eval_compiles},
        "tiers_end": _counts(hima),
        "events": _events_info(events),
    }
    events.close()
    del setup, trainer, model, optimizer, hima, batches, val
    gc.collect()
    return result


def result_config(spec: RunSpec, s: SuiteSettings, setup: Setup) -> dict:
    """The setup a run's JSON records: what a reader needs to reproduce it."""
    cfg, batches, cuda = setup.cfg, setup.batches, setup.device == "cuda"
    steps = cfg.max_steps
    return {
        "preset": cfg.preset, "method": cfg.method, "hot": cfg.hot, "warm": cfg.warm, "batch": cfg.batch_size,
        "seq_len": cfg.block_size, "steps": steps, "seed": cfg.seed, "lr": cfg.lr, "min_lr": cfg.min_lr,
        "warmup_steps": cfg.warmup_steps, "grad_clip": cfg.grad_clip, "eval_every": cfg.eval_every,
        "eval_batches": cfg.eval_batches, "retier_every": cfg.retier_every, "data_order": cfg.data_order,
        "compile": spec.compile, "compile_backend": s.compile_backend if spec.compile != "none" else None,
        "weight_dtype": "float32", "optimizer_state_dtype": "float32",
        "autocast": "bfloat16" if cuda else None, "fused_adamw": cuda,
        "corpus": {"dir": cfg.data, "source": batches.meta.source, "n_train": batches.meta.n_train,
                   "n_val": batches.meta.n_val, "vocab_size": batches.meta.vocab_size,
                   "steps_before_repeat": batches.steps_per_epoch(),
                   "epochs": round(steps / max(1, batches.steps_per_epoch()), 3)},
        "layout": getattr(getattr(setup.hima, "config", None), "layout", None) if setup.hima is not None and cfg.method not in ("full", "random-static") else None,
        "ramp_steps": [setup.hima.config.ramp_start, setup.hima.config.ramp_end] if setup.hima is not None else None,
        "model": spec.model,
        "init_from": os.path.basename(cfg.init_from) if cfg.init_from else None,
        "lora_rank": spec.lora_rank if spec.method == "lora" else None,
    }


def _timing(step_ms: list[float], steady_from: int, tokens_per_step: int, wall_s: float, eval_s: float) -> dict:
    steady = step_ms[steady_from:]
    median = statistics.median(steady)
    slow = [(i, round(ms, 2)) for i, ms in enumerate(step_ms) if ms > 3 * median]
    return {
        "ms_per_step_median": median,
        "ms_per_step_mean_steady": statistics.fmean(steady),
        # Every step of the budget (compiles, Warm/probe/re-tier steps included): the wall-clock view.
        "ms_per_step_mean_all": statistics.fmean(step_ms),
        "ms_per_step_p90": sorted(steady)[int(0.9 * (len(steady) - 1))],
        "tokens_per_s": tokens_per_step / (median / 1000.0),
        "steady_from_step": steady_from,
        "train_time_s": sum(step_ms) / 1000.0,  # every step, compiles included; evaluation excluded
        "wall_time_s": wall_s,  # the whole budget, evaluations included
        # The whole budget minus evaluations (host clock: Python, event writing, syncs and compiles included).
        "wall_time_no_eval_s": wall_s - eval_s,
        "slow_steps": slow,  # (step, ms) over 3x the median: compiles, re-tiers
        "step_ms": [round(ms, 3) for ms in step_ms],
    }


def _memory(cuda: bool, model_bytes: int | None, step_peaks: list[int], memory_from: int, leftover: int = 0) -> dict:
    if not cuda:
        return {"device": "cpu", "peak_allocated_bytes": None, "steady_peak_allocated_bytes": None}
    return {
        "device": "cuda",
        "leftover_bytes": leftover,  # allocated before this run began (earlier runs); not in the figures here
        "model_bytes": model_bytes - leftover,  # parameters (+ val batches) allocated before the first step
        # Peak over every training step (counter reset after model + optimizer creation): includes the
        # first steps (compilation, the lazily created Adam state) and, for HiMA, the all-Hot start.
        "peak_allocated_bytes": max(step_peaks),
        # Peak from step memory_from on: the steady state, after HiMA's first re-tier.
        "steady_peak_allocated_bytes": max(step_peaks[memory_from:]),
        "steady_from_step": memory_from,
        "end_allocated_bytes": torch.cuda.memory_allocated() - leftover,
        "end_reserved_bytes": torch.cuda.memory_reserved(),
        "step_peak_mib": [round(b / 2**20) for b in step_peaks],  # which steps peak: probes, Warm updates
    }


def _counts(hima) -> dict | None:
    if hima is None:
        return None
    out = {}
    for tier, c in hima.counts().items():
        out[str(getattr(tier, "value", tier))] = {"tensors": int(c["tensors"]), "elements": int(c["elements"])}
    return out


def _events_info(events) -> dict:
    path = getattr(events, "path", None)
    if not path or not os.path.exists(path):
        return {"written": False}
    with open(path, "rb") as f:
        lines = sum(1 for _ in f)
    return {"written": True, "lines": lines, "bytes": os.path.getsize(path)}


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def environment() -> dict:
    cuda = torch.cuda.is_available()
    return {
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": "cuda" if cuda else "cpu",
        "python": sys.version.split()[0],
    }
