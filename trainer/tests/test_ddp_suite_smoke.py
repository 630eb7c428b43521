"""bench/ddp_suite.py's whole path on CPU (gloo, tiny preset): real torchrun launches, rows merged into the
results file, and bench.ddp_report's table built from them -- what the GPU measurement of issue 6 runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ddp_suite_measures_each_reduction_and_the_report_tabulates_them(tmp_path):
    rows_path = tmp_path / "ddp.json"
    env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "trainer"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, os.path.join(REPO, "bench", "ddp_suite.py"), "--device", "cpu", "--models", "tiny",
           "--nprocs", "1,2", "--methods", "full,hima,full:ddp", "--steps", "24", "--skip", "12",
           "--per-gpu-batch", "2", "--out", str(rows_path), "--keep-events", str(tmp_path / "events")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "failed" not in proc.stderr, proc.stderr[-3000:]
    rows = {(r["method"], r["grad_sync"], r["nproc"]): r for r in json.loads(rows_path.read_text())}
    # "full:ddp" on one process would repeat the bare "full" baseline: it is not run.
    assert set(rows) == {("full", "none", 1), ("hima", "none", 1), ("full", "overlap", 2), ("hima", "overlap", 2), ("full", "ddp", 2)}
    assert all(r["gpu"] == "cpu" and r["tok_s"] > 0 and r["global_batch"] == 2 * r["nproc"] for r in rows.values())
    assert rows[("full", "none", 1)]["allreduce_bytes_per_step"] == 0
    full_bytes = rows[("full", "overlap", 2)]["allreduce_bytes_per_step"]
    # Plain AdamW reduces every gradient, however it is reduced; HiMA at ~50% Cold far less once it has
    # re-tiered (step 10; the figures start after step 12).
    assert full_bytes > 0 and rows[("full", "ddp", 2)]["allreduce_bytes_per_step"] == full_bytes
    assert 0 < rows[("hima", "overlap", 2)]["allreduce_bytes_per_step"] < 0.8 * full_bytes
    assert sorted(os.listdir(tmp_path / "events")) == sorted(
        f"tiny-{m}-{g}-n{n}.jsonl" for m, g, n in [("full", "overlap", 1), ("hima", "overlap", 1), ("full", "overlap", 2), ("hima", "overlap", 2), ("full", "ddp", 2)]
    )

    report = subprocess.run([sys.executable, "-m", "bench.ddp_report", "--rows", str(rows_path), "--out", str(tmp_path / "ddp.md")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "ddp.md").read_text()
    assert "### tiny, eager, cpu" in table
    full = rows[("full", "overlap", 2)]
    expected = f"| full | HiMA reducer, overlapped with backward | {rows[('full', 'none', 1)]['tok_s']:,} | {full['tok_s']:,} | " \
               f"{full['tok_s'] / rows[('full', 'none', 1)]['tok_s']:.2f}x | {full_bytes / 1e6:,.1f} | - |"
    assert expected in table.splitlines()
    assert any(line.startswith("| full | PyTorch DDP | ") for line in table.splitlines())
