"""Overhead runs measured side by side: every config built once, then timed in interleaved rounds.

Run back to back, four configs that differ by 1-2% of work measured up to 23% apart, and not in the
order of their work (GPU clocks, allocator state and compile caches drift over a process). Here each
config is built once (model, optimizer, compiled blocks), warmed up, then trained in R rounds of S steps;
each round runs one segment of every config, in an order rotated by one each round, and a config's
segment is compared with the baseline's segment of the same round. Drift slower than a round cancels in
that ratio; what is left shows up as the spread of the per-round ratios, which is recorded with them.

Every config trains the same batches at the same step numbers, so a round's segments do the same work.
S should be a multiple of the re-tier cadence, so that every segment holds the same number of re-tiers.
"""
from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass

import torch

from hima.app.train import lr_at

from . import compile_stats, measure
from .clock import StepClock
from .suite import RunSpec


@dataclass(frozen=True)
class Plan:
    warmup: int  # steps per config before the first round (compiles, lazy optimizer state)
    rounds: int
    segment: int  # steps per config per round

    @property
    def steps(self) -> int:
        return self.warmup + self.rounds * self.segment


def round_orders(n: int, rounds: int) -> list[list[int]]:
    """Config indices in the order each round runs them: rotated by one per round, so every config runs
    at every position of a round as often as the round count allows."""
    return [[(r + i) % n for i in range(n)] for r in range(rounds)]


def paired_ratios(config_ms: list[float], baseline_ms: list[float]) -> dict:
    """Per-round config/baseline ratios and their median, min and max (overhead = ratio - 1)."""
    if len(config_ms) != len(baseline_ms) or not config_ms:
        raise ValueError(f"paired ratios need the same, non-zero number of rounds ({len(config_ms)} vs {len(baseline_ms)})")
    ratios = [a / b for a, b in zip(config_ms, baseline_ms)]
    return {"ratios": ratios, "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


class _Runner:
    """One built config and its position in the data: trains `n` more steps when asked."""

    def __init__(self, spec: RunSpec, s: measure.SuiteSettings, plan: Plan):
        self.setup = measure.build(spec, s, plan.steps)
        self.spec, self.steps, self.done = spec, plan.steps, 0
        self.clock = StepClock(torch.device(self.setup.device))
        self.cadence = measure.EventCadence(self.setup, plan.steps)
        self.cadence.start()
        self.losses: list[torch.Tensor] = []
        self.segment_steps: list[tuple[int, int]] = []  # [first, last) step index of each timed segment
        self.segment_compiles: list[int] = []  # Dynamo frames compiled during each timed segment

    def train(self, n: int) -> None:
        st = self.setup
        self.clock.begin()
        for _ in range(n):
            lr = lr_at(st.cfg, self.done)
            loss = st.train_step(*st.batches.train_batch(self.done), lr)
            self.clock.step_done()
            self.done += 1
            self.losses.append(loss)
            # As the trainer's loop: transitions are taken every step, events only when the spec has them.
            transitions = st.hima.take_transitions() if st.hima is not None else None
            self.cadence.after_step(self.done, loss, lr, transitions)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()  # between segments: the next config starts on an idle device


def run_paired(specs: list[RunSpec], s: measure.SuiteSettings, plan: Plan, log=measure._log) -> list[dict]:
    """Build every spec, warm each up, time `plan.rounds` interleaved rounds; one result per spec. The first
    spec is the baseline every `paired` ratio is taken against."""
    if len(specs) < 2:
        raise ValueError("an interleaved overhead measurement needs a baseline and at least one other config")
    compile_stats.reset()
    started = time.perf_counter()
    session = time.strftime("%Y-%m-%dT%H:%M:%S")  # report.py pairs only runs of one session
    # Build all before any compiles: building HiMA sets global Dynamo guard options, which must not
    # change under a config already compiled (it could recompile inside a timed round).
    runners = [_Runner(spec, s, plan) for spec in specs]
    for runner in runners:
        log(f"{runner.spec.name}: built; warmup {plan.warmup} steps")
        runner.train(plan.warmup)
        _sync(runner.setup.device)
    orders = round_orders(len(runners), plan.rounds)
    for r, order in enumerate(orders):
        for i in order:
            runner = runners[i]
            first, frames = runner.done, compile_stats.frames_compiled()
            runner.train(plan.segment)
            runner.segment_steps.append((first, runner.done))
            runner.segment_compiles.append(compile_stats.frames_compiled() - frames)  # a compile here skews the round
            _sync(runner.setup.device)
        log(f"interleaved round {r + 1}/{plan.rounds} done ({time.perf_counter() - started:.0f}s)")

    segment_ms = []  # [config][round]: ms per step of that config's segment in that round
    for runner in runners:
        step_ms = runner.clock.step_ms()
        segment_ms.append([sum(step_ms[a:b]) / (b - a) for a, b in runner.segment_steps])
    results = []
    for index, (runner, seg) in enumerate(zip(runners, segment_ms)):
        position = [order.index(index) for order in orders]
        results.append(_result(runner, s, plan, position, seg, segment_ms[0], specs[0].name))
        results[-1]["interleaved"]["session"] = session
    for runner in runners:
        runner.setup.events.close()
    del runners
    gc.collect()
    return results


def _result(runner: _Runner, s: measure.SuiteSettings, plan: Plan, position: list[int], seg_ms: list[float],
            base_ms: list[float], base_name: str) -> dict:
    st, spec = runner.setup, runner.spec
    cfg, cuda = st.cfg, st.device == "cuda"
    val = [(x.to(st.device), y.to(st.device)) for x, y in st.batches.val_batches(cfg.eval_batches)]
    val_loss = measure._evaluate(st.model, val, st.autocast)
    runner.cadence.evaluated(runner.done, val_loss)
    step_ms = runner.clock.step_ms()
    n_params = sum(p.numel() for p in st.model.parameters())
    hima = st.hima
    state_bytes = int(hima.optimizer_state_bytes()["total"]) if hima is not None else measure._state_bytes(st.optimizer)
    return {
        "name": spec.name, "status": "ok", "spec": spec.to_json(),
        "config": measure.result_config(spec, s, st),
        "n_params": n_params,
        "timing": {**measure._timing(step_ms, plan.warmup, cfg.batch_size * cfg.block_size, 0.0, 0.0),
                   "wall_time_s": None, "wall_time_no_eval_s": None},  # the configs share the wall clock
        "interleaved": {
            "baseline": base_name, "warmup_steps": plan.warmup, "rounds": plan.rounds, "segment_steps": plan.segment,
            "position_in_round": position,
            "compiles_in_segment": runner.segment_compiles,
            "segment_ms_per_step": [round(v, 4) for v in seg_ms],
            "baseline_segment_ms_per_step": [round(v, 4) for v in base_ms],
            "paired_vs_baseline": paired_ratios(seg_ms, base_ms),
        },
        "train_loss": [round(v, 5) for v in torch.stack(runner.losses).float().tolist()],
        "val_curve": [[runner.done, round(val_loss, 5)]],
        "final_val_loss": val_loss,
        # Every config is resident at once, so a per-run peak would count the others: not measured here.
        "memory": {"device": "cuda" if cuda else "cpu", "peak_allocated_bytes": None, "steady_peak_allocated_bytes": None},
        "optimizer_state": {"end_bytes": state_bytes, "max_bytes": state_bytes,
                            "full_bytes": int(hima.full_optimizer_state_bytes()) if hima is not None else state_bytes,
                            "curve": [[runner.done, state_bytes]]},
        "update_compute_saved": 1.0 - hima.updated_elements_last_step() / n_params if hima is not None else 0.0,
        # Counts are for the whole interleaved session (every config compiles in one process).
        "compile": {**compile_stats.snapshot(), "train_compiles_at_steps": [], "eval_compiles": 0},
        "tiers_end": measure._counts(hima),
        "events": measure._events_info(st.events),
    }
