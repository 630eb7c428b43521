"""The GPU suite's whole path on CPU: tiny preset, synthetic tokens, a few steps per run.

Runs `python -m bench.gpu_suite` as the lead runs it on the GPU (same flags, smaller numbers) and checks
what the results folder would tell a reader: every run recorded with its setup, HiMA's savings visible,
the event stream valid, the summary keys exact, a bad budget refused with a clear message.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from hima.protocol import validate_event

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUMMARY_KEYS = [
    "gpu", "medium_speedup", "small_adam_state_reduction", "small_peak_memory_reduction",
    "small_val_loss_full", "small_val_loss_hima_50", "small_val_loss_random_static_50",
    "small_val_loss_hima_no_warm_50", "controller_overhead", "monitoring_overhead",
    "small_steps", "medium_steps", "small_e2e_speedup", "medium_e2e_speedup", "small_ttq_speedup",
    "medium_ttq_speedup", "small_steady_peak_reduction", "small_adam_state_reduction_stable",
    "small_adam_state_stable_cutoffs", "compile_seconds_full", "compile_seconds_hima", "library_model",
    "library_model_e2e_speedup", "budget_gib", "max_batch_full", "max_batch_hima",
    "small_val_gap_hima_50", "small_val_gap_seeds", "small_val_loss_hima_no_warm_hot_50",
    "small_val_loss_hima_no_warm_cold_50", "small_tradeoff",
]
# One run of each kind the suite has (plain AdamW compiled and eager, HiMA and the headline HiMA setting,
# random-static, all-Hot HiMA, the monitoring pair), so the test stays short on 2 shared cores; the GPU suite runs every spec the same way.
SMALL_RUNS = ["small-full", "small-full-eager", "small-hima-50", "small-hima-50-later-nowarm-stem", "small-random-static-50"]
OVERHEAD_RUNS = ["overhead-full", "overhead-hima-all-hot", "overhead-hima-all-hot-events"]
STEPS = 4
# The overhead runs are interleaved: 1 warmup step each, then 3 rounds of 2 steps of every config.
ROUNDS, SEGMENT = 3, 2
OVERHEAD_STEPS = 1 + ROUNDS * SEGMENT


def _tokens(path: str, n: int, vocab: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    pattern = np.arange(n) % 61  # learnable, so the loss moves
    noise = rng.integers(0, vocab, size=n)
    np.where(rng.random(n) < 0.2, noise, pattern).astype("<u2").tofile(path)
    return n


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("tokens")
    meta = {"tokenizer": "gpt2", "vocab_size": 128, "source": "synthetic smoke tokens", "token_map": None,
            "n_train": _tokens(str(d / "train.bin"), 20_000, 128, 0), "n_val": _tokens(str(d / "val.bin"), 2_000, 128, 1)}
    (d / "meta.json").write_text(json.dumps(meta))
    return str(d)


def _flags(data: str, out: str) -> list[str]:
    return ["--data", data, "--out", out, "--device", "cpu", "--preset", "tiny", "--batch", "2", "--seq", "32",
            "--steps", str(STEPS), "--overhead-warmup", "1", "--overhead-rounds", str(ROUNDS),
            "--overhead-segment", str(SEGMENT), "--eval-every", "2", "--eval-batches", "1",
            "--retier-every", "2", "--compile-backend", "eager"]


@pytest.fixture(scope="module")
def results(data_dir, tmp_path_factory) -> str:
    """The suite as the lead runs it: a child process from the repository root."""
    out = str(tmp_path_factory.mktemp("results"))
    cmd = [sys.executable, "-m", "bench.gpu_suite", *_flags(data_dir, out), "--only", ",".join(SMALL_RUNS + OVERHEAD_RUNS)]
    # One thread: the CPU is shared, and oversubscribed intra-op threads make tiny steps 100x slower.
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "trainer"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _suite_main(argv: list[str]) -> int:
    sys.path.insert(0, REPO)
    try:
        from bench import gpu_suite
    finally:
        sys.path.remove(REPO)
    return gpu_suite.main(argv)


def _load(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_every_run_is_recorded_with_its_setup(results):
    runs = {r["name"]: r for r in _load(os.path.join(results, "results.json"))["runs"]}
    assert sorted(runs) == sorted(SMALL_RUNS + OVERHEAD_RUNS)
    for name, r in runs.items():
        assert r["status"] == "ok", r.get("error")
        assert os.path.isfile(os.path.join(results, "runs", f"{name}.json"))
        assert {"gpu", "torch"} <= set(r["env"])
        c = r["config"]
        steps = OVERHEAD_STEPS if name in OVERHEAD_RUNS else STEPS
        assert (c["batch"], c["seq_len"], c["steps"], c["seed"]) == (2, 32, steps, 1337)
        assert c["corpus"]["source"] == "synthetic smoke tokens"
        assert len(r["timing"]["step_ms"]) == steps and r["timing"]["ms_per_step_median"] > 0
        assert r["val_curve"][-1][0] == steps and math.isfinite(r["final_val_loss"])
    small = runs["small-full"]["timing"]
    assert small["wall_time_s"] >= small["wall_time_no_eval_s"] > 0 and small["ms_per_step_mean_all"] > 0


def test_hima_saves_state_and_compute_that_full_adamw_spends(results):
    runs = {r["name"]: r for r in _load(os.path.join(results, "results.json"))["runs"]}
    full, hima = runs["small-full"], runs["small-hima-50"]
    assert full["update_compute_saved"] == 0.0
    assert hima["update_compute_saved"] > 0.2
    assert hima["optimizer_state"]["end_bytes"] < 0.8 * full["optimizer_state"]["end_bytes"]
    assert hima["tiers_end"]["cold"]["tensors"] > 0
    # All-Hot HiMA updates every element and holds all state, like plain AdamW: a like-for-like overhead.
    all_hot = runs["overhead-hima-all-hot"]
    assert all_hot["update_compute_saved"] == 0.0 and all_hot["tiers_end"]["cold"]["tensors"] == 0
    static = runs["small-random-static-50"]["tiers_end"]
    total = sum(t["elements"] for t in static.values())
    assert 0.35 < static["cold"]["elements"] / total < 0.65
    # Compilation is counted; the eager run compiles nothing.
    assert len(full["compile"]["train_compiles_at_steps"]) >= 1
    assert runs["small-full-eager"]["compile"]["frames_compiled"] == 0


def test_monitoring_run_writes_valid_events_and_the_quiet_run_none(results):
    events_path = os.path.join(results, "runs", "overhead-hima-all-hot-events", "events.jsonl")
    with open(events_path, encoding="utf-8") as f:
        events = [json.loads(line) for line in f]
    for event in events:
        validate_event(event)
    kinds = {e["type"] for e in events}
    assert {"hello", "step", "tiers", "memory", "eval"} <= kinds
    assert not os.path.exists(os.path.join(results, "runs", "overhead-hima-all-hot", "events.jsonl"))


def test_summary_has_exactly_the_issue_keys_and_the_readme_the_table(results):
    summary = _load(os.path.join(results, "summary.json"))
    assert list(summary) == SUMMARY_KEYS
    for key in ("small_adam_state_reduction", "small_val_loss_full", "small_val_loss_hima_50",
                "small_val_loss_random_static_50", "controller_overhead", "monitoring_overhead"):
        assert isinstance(summary[key], float) and math.isfinite(summary[key]), key
    for key in ("small_e2e_speedup", "small_ttq_speedup", "small_val_gap_hima_50", "compile_seconds_hima"):
        assert isinstance(summary[key], float) and math.isfinite(summary[key]), key
    assert summary["small_steps"] == STEPS and summary["small_val_gap_seeds"] == [summary["small_val_gap_hima_50"]]
    assert {p["name"] for p in summary["small_tradeoff"]} >= {"small-full", "small-hima-50"}
    # Runs not made in this call are reported as such (null, "not measured"), never invented.
    assert summary["medium_speedup"] is None and summary["medium_e2e_speedup"] is None and summary["max_batch_hima"] is None
    readme = open(os.path.join(results, "README.md"), encoding="utf-8").read()
    for name in SMALL_RUNS + OVERHEAD_RUNS:
        assert f"| {name} |" in readme
    assert "| small-hima-50 | small-full |" in readme  # the whole-run table
    assert "| Medium speedup >= 1.16x (published) | not measured |" in readme
    assert f"median of {ROUNDS} interleaved rounds" in readme
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    for png in ("val_loss.png", "step_time.png"):
        assert os.path.getsize(os.path.join(results, png)) > 1000


def test_overhead_runs_are_interleaved_and_paired_round_by_round(results):
    runs = {r["name"]: r for r in _load(os.path.join(results, "results.json"))["runs"]}
    inter = [runs[n]["interleaved"] for n in OVERHEAD_RUNS]
    assert len({i["session"] for i in inter}) == 1
    for i in inter:
        assert (i["rounds"], i["segment_steps"], i["warmup_steps"]) == (ROUNDS, SEGMENT, 1)
        assert i["baseline"] == "overhead-full" and len(i["segment_ms_per_step"]) == ROUNDS
        assert all(ms > 0 for ms in i["segment_ms_per_step"])
        assert i["compiles_in_segment"] == [0] * ROUNDS  # every compile happened in the warmup, none while timed
    # Rotated order: round r starts with config r, so no config always runs first (or right after another).
    assert [i["position_in_round"] for i in inter] == [[0, 2, 1], [1, 0, 2], [2, 1, 0]]
    # Each segment's ms/step is the mean of that segment's steps (the warmup step is not in any segment).
    hot = runs["overhead-hima-all-hot"]
    step_ms = hot["timing"]["step_ms"]
    assert hot["interleaved"]["segment_ms_per_step"][0] == pytest.approx(sum(step_ms[1:3]) / 2, rel=1e-3)
    # The summary's figures are the median of the per-round ratios, not a ratio of two runs' medians.
    summary = _load(os.path.join(results, "summary.json"))
    base = runs["overhead-full"]["interleaved"]["segment_ms_per_step"]
    ratios = sorted(a / b for a, b in zip(hot["interleaved"]["segment_ms_per_step"], base))
    assert summary["controller_overhead"] == pytest.approx(ratios[1] - 1.0, rel=1e-3)
    assert hot["interleaved"]["paired_vs_baseline"]["median"] == pytest.approx(ratios[1], rel=1e-3)
    # Every config trained the same batches at the same steps: same init, same data, same loss at step 0.
    assert len({runs[n]["train_loss"][0] for n in OVERHEAD_RUNS}) == 1


def test_the_backward_part_pairs_stem_training_and_frozen_with_adamw(data_dir, tmp_path):
    """bench.suite.BACKWARD: 50% Cold from the first step, the stem training or frozen, one interleaved session."""
    out = str(tmp_path)
    cmd = [sys.executable, "-m", "bench.gpu_suite", *_flags(data_dir, out), "--part", "backward"]
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "trainer"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = {r["name"]: r for r in _load(os.path.join(out, "results.json"))["runs"]}
    assert set(runs) == {"backward-full", "backward-stem", "backward-frozen"}
    assert len({r["interleaved"]["session"] for r in runs.values()}) == 1
    for name in ("backward-stem", "backward-frozen"):
        tiers = runs[name]["tiers_end"]
        assert tiers["cold"]["tensors"] > 0 and runs[name]["interleaved"]["baseline"] == "backward-full", tiers
    assert runs["backward-frozen"]["tiers_end"]["cold"]["elements"] > runs["backward-stem"]["tiers_end"]["cold"]["elements"]
    readme = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    for what in ("stem training (backward through the Cold blocks) vs plain AdamW", "stem frozen vs plain AdamW",
                 "stem frozen vs stem training"):
        assert f"- 50% Cold, {what}" in readme or f"- {what}" in readme, what


def test_paired_overhead_cancels_drift_that_fools_run_medians():
    sys.path.insert(0, REPO)
    try:
        from bench import report
    finally:
        sys.path.remove(REPO)
    drift = [30.0, 33.0, 36.0, 39.0]  # the device slows down over the session
    base = {"name": "b", "status": "ok", "timing": {"ms_per_step_median": 31.5},
            "interleaved": {"session": "s", "segment_ms_per_step": drift}}
    cfg = {"name": "a", "status": "ok", "timing": {"ms_per_step_median": 37.0},  # ran later: +17% by medians
           "interleaved": {"session": "s", "segment_ms_per_step": [1.01 * ms for ms in drift[:2]] + [1.03 * ms for ms in drift[2:]]}}
    o = report.paired_overhead({"a": cfg, "b": base}, "a", "b")
    assert o["paired"] and o["overhead"] == pytest.approx(0.02) and (o["min"], o["max"]) == pytest.approx((0.01, 0.03))
    # Runs of different sessions are not paired: their medians are compared, and the report says so.
    cfg["interleaved"]["session"] = "other"
    o = report.paired_overhead({"a": cfg, "b": base}, "a", "b")
    assert not o["paired"] and "unpaired" in report._overhead_text(o)


def test_a_budget_that_would_repeat_tokens_is_refused_clearly(data_dir, tmp_path):
    code = _suite_main([*_flags(data_dir, str(tmp_path)), "--only", "small-full", "--steps", "100000", "--no-report"])
    assert code == 1
    run = _load(os.path.join(tmp_path, "runs", "small-full.json"))
    assert run["status"] == "error" and "before a token repeats" in run["error"]


def test_unknown_part_is_a_usage_error(data_dir, tmp_path, capsys):
    assert _suite_main([*_flags(data_dir, str(tmp_path)), "--part", "huge"]) == 2
    assert "unknown part(s) huge" in capsys.readouterr().err
