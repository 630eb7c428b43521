"""A run that fails during training: an error event, then a done event whose summary describes this run."""
import json
import time

from conftest import FAST_CONFIG, events_of, run_trainer


def test_a_diverging_run_reports_its_own_wall_time(token_dir, tmp_path):
    # lr 1e30 blows the weights up on the first update: the loss is NaN from step 2 on.
    config = tmp_path / "explode.json"
    config.write_text(json.dumps({**FAST_CONFIG, "lr": 1e30, "min_lr": 0, "warmup_steps": 0, "eval_every": 0}))
    began = time.perf_counter()
    proc = run_trainer(token_dir, tmp_path / "run", config, "--max-steps", "20")
    test_duration = time.perf_counter() - began

    assert proc.returncode == 1, proc.stderr[-3000:]
    events = events_of(proc.stdout)
    error, done = events[-2], events[-1]
    assert error["type"] == "error" and error["fatal"] and "loss became nan" in error["message"]
    assert done["type"] == "done" and done["reason"] == "error" and done["step"] == 2
    # The time since the run started, not since the machine booted (it once read 5014 s after 10 steps).
    assert 0 < done["summary"]["wall_time_s"] < test_duration
