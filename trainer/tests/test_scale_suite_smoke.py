"""bench/scale_suite.py's whole path on CPU (gloo, tiny preset): every kind of row it writes for GPUs -- the
replicated reducer, DDP, FSDP2 with AdamW and with HiMA, and a budget ladder -- from real torchrun launches,
and the Markdown tables built from them. CPU rows are a smoke test, never results (gpu "cpu")."""
from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYS = {"gpu", "nproc", "nnodes", "model", "params", "method", "engine", "memory_budget_gib", "fits", "tok_s",
        "peak_bytes_max", "reduce_bytes_per_step"}


def test_scale_suite_writes_every_row_kind_and_its_report(tmp_path, token_dir):
    rows_path = tmp_path / "scale.json"
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "trainer"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, os.path.join(REPO, "bench", "scale_suite.py"), "--device", "cpu", "--nprocs", "2",
           "--models", "tiny", "--budget-gib", "1", "--search-models", "tiny", "--steps", "16", "--skip", "11",
           "--per-gpu-batch", "1", "--data", str(token_dir), "--out", str(rows_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(rows_path.read_text())
    assert all(KEYS <= set(r) and r["gpu"] == "cpu" and r["nproc"] == 2 and r["nnodes"] == 1 for r in rows)
    by = {(r["method"], r["engine"], r["memory_budget_gib"]): r for r in rows}
    assert set(by) == {("replicated-reducer", "adamw", None), ("ddp", "adamw", None), ("fsdp2", "adamw", None),
                       ("fsdp2", "hima", None), ("fsdp2", "adamw", 1.0), ("fsdp2", "hima", 1.0)}
    assert all(r["fits"] and r["tok_s"] > 0 and r["params"] > 0 for r in rows)
    # Every AdamW run reduces every gradient (fp32), however it is reduced; HiMA at ~50% Cold far less.
    full = 4 * by[("ddp", "adamw", None)]["params"]
    assert by[("replicated-reducer", "adamw", None)]["reduce_bytes_per_step"] == full
    assert by[("fsdp2", "adamw", None)]["reduce_bytes_per_step"] == full
    assert 0 < by[("fsdp2", "hima", None)]["reduce_bytes_per_step"] < 0.8 * full
    table = (tmp_path / "scale.md").read_text()
    assert "### Throughput, cpu" in table and "### 1 GiB per GPU, FSDP2, cpu" in table
    assert "| tiny | 2 | ddp | adamw | " in table
    assert "| 2 | tiny | tiny | 1.00x |" in table
