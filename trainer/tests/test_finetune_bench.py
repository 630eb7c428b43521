"""The fine-tuning benchmark's whole path on CPU: a tiny base pre-trained on one synthetic corpus, every method
(full AdamW, HiMA at three cutoffs, LISA, LoRA through peft) continued on another, then the report.

Runs `python -m bench.finetune` and `python -m bench.finetune_report` as the lead runs them on the GPU (same
flags, smaller numbers) and checks what a reader of the results relies on: every method starts from the same
base, the base corpus is evaluated before and after, LoRA trains only its adapters, LISA and HiMA hold less
optimizer state than full AdamW, and the summary keys are exactly the issue's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("peft")  # in the test extras (trainer/pyproject.toml); LoRA is one of the methods compared

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYS = ["finetune_val_gap_hima", "finetune_ttq_speedup", "finetune_peak_reduction", "finetune_val_loss_full",
        "finetune_val_loss_hima", "finetune_val_loss_lisa", "finetune_peak_lisa_vs_hima", "finetune_val_loss_lora"]
METHODS = ["full", "hima-30", "hima-50", "hima-50-nowarm", "hima-70", "hima-50-stem", "hima-30-stem", "hima-50-nowarm-step0",
           "lisa", "lora-lr1", "lora-lr2"]
STEPS = 6


def _corpus(folder, period: int, seed: int) -> str:
    """Learnable synthetic tokens: a repeating pattern (its period differs between the two corpora) plus noise."""
    os.makedirs(folder, exist_ok=True)
    for name, n, s in (("train.bin", 20_000, seed), ("val.bin", 2_000, seed + 1)):
        rng = np.random.default_rng(s)
        tokens = np.where(rng.random(n) < 0.2, rng.integers(0, 128, n), np.arange(n) % period)
        tokens.astype("<u2").tofile(os.path.join(folder, name))
    meta = {"tokenizer": "gpt2", "vocab_size": 128, "source": f"synthetic period {period}", "token_map": None,
            "n_train": 20_000, "n_val": 2_000}
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f)
    return str(folder)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("finetune")
    base_data, new_data = _corpus(root / "base", 61, 0), _corpus(root / "new", 37, 5)
    runs, report = str(root / "runs"), str(root / "report")
    os.makedirs(report)
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "trainer"), "OMP_NUM_THREADS": "1"}
    bench = [sys.executable, "-m", "bench.finetune", "--preset", "tiny", "--base-data", base_data, "--data", new_data,
             "--out", runs, "--device", "cpu", "--base-steps", "8", "--steps", str(STEPS), "--batch", "2", "--seq", "32",
             "--eval-every", "2", "--eval-batches", "1", "--retier-every", "2", "--compile-backend", "eager"]
    proc = subprocess.run(bench, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, "-m", "bench.finetune_report", "--runs", runs, "--out", report],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return runs, report


def _load(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_every_method_continues_from_the_same_base(results):
    runs_dir, _ = results
    data = _load(os.path.join(runs_dir, "finetune-tiny.json"))
    assert os.path.isfile(os.path.join(runs_dir, "base-tiny.pt"))
    assert data["base"]["config"]["steps"] == 8 and data["base"]["config"]["corpus"]["source"] == "synthetic period 61"
    runs = {r["name"].split("-", 2)[2]: r for r in data["runs"]}
    assert sorted(runs) == sorted(METHODS)
    starts = set()
    for method, r in runs.items():
        assert r["status"] == "ok", r.get("error")
        assert r["config"]["init_from"] == "base-tiny.pt" and r["config"]["corpus"]["source"] == "synthetic period 37"
        assert r["val_curve"][0][0] == 0 and r["val_curve"][-1][0] == STEPS
        starts.add(round(r["val_curve"][0][1], 5))
        before, after = r["forget_val_loss"]
        assert before is not None and after is not None
    assert len(starts) == 1  # step 0 is the same base everywhere (LoRA's adapters start at zero: same output)
    assert runs["full"]["forget_val_loss"][0] == pytest.approx(runs["lisa"]["forget_val_loss"][0])


def test_lora_trains_only_adapters_and_lisa_hima_hold_less_state(results):
    runs_dir, _ = results
    runs = {r["name"].split("-", 2)[2]: r for r in _load(os.path.join(runs_dir, "finetune-tiny.json"))["runs"]}
    lora = runs["lora-lr1"]
    assert lora["config"]["lora_rank"] == 32
    assert 0 < lora["trainable_params"] < lora["n_params"] - runs["full"]["n_params"] + 1  # the adapters alone
    # AdamW's two fp32 moments for the adapters and nothing else: the base weights are frozen.
    adapters = 8 * lora["trainable_params"]
    assert adapters <= lora["optimizer_state"]["max_bytes"] < adapters + 4096  # + the 4-byte step counters
    full_state = runs["full"]["optimizer_state"]["max_bytes"]
    for method in ("hima-50", "lisa"):
        assert runs[method]["optimizer_state"]["end_bytes"] < 0.9 * full_state, method
        assert runs[method]["tiers_end"]["cold"]["tensors"] > 0


def test_the_report_has_the_issue_keys_and_a_table(results):
    _, report = results
    summary = _load(os.path.join(report, "summary.json"))
    assert sorted(summary) == sorted(KEYS)
    assert summary["finetune_val_loss_full"] is None  # the keys are GPT-2 Small's; the smoke test ran tiny
    finetune = _load(os.path.join(report, "finetune.json"))
    rows = {r["method"]: r for r in finetune["rows"]["tiny"]}
    assert sorted(rows) == sorted(METHODS)
    assert rows["full"]["val_gap"] == 0 and rows["full"]["e2e_speedup"] == 1.0
    assert rows["hima-50"]["state_reduction"] > 0.1
    table = open(os.path.join(report, "finetune.md"), encoding="utf-8").read()
    assert "## GPT-2 Tiny" in table and "| lisa |" in table and "| lora-lr1 |" in table
