"""A run that fails during training: an error event, then a done event whose summary describes this run."""
import json
import time

import pytest

from conftest import FAST_CONFIG, events_of, run_trainer


def test_a_diverging_run_reports_its_own_wall_time(token_dir, tmp_path):
    # lr 10 (the largest accepted) blows the weights up within a few updates: the loss becomes NaN.
    config = tmp_path / "explode.json"
    config.write_text(json.dumps({**FAST_CONFIG, "lr": 10, "min_lr": 0, "warmup_steps": 0, "eval_every": 0}))
    began = time.perf_counter()
    proc = run_trainer(token_dir, tmp_path / "run", config, "--max-steps", "20")
    test_duration = time.perf_counter() - began

    assert proc.returncode == 1, proc.stderr[-3000:]
    events = events_of(proc.stdout)
    error, done = events[-2], events[-1]
    assert error["type"] == "error" and error["fatal"] and "loss became nan" in error["message"]
    assert error["cause"] == "non_finite_loss"
    assert done["type"] == "done" and done["reason"] == "error"
    assert f"loss became nan at step {done['step']};" in error["message"]
    # The time since the run started, not since the machine booted (it once read 5014 s after 10 steps).
    assert 0 < done["summary"]["wall_time_s"] < test_duration


def test_a_failing_final_evaluation_keeps_the_final_checkpoint_and_a_resume_finishes_it(token_dir, tmp_path, monkeypatch):
    # An out-of-memory in the final evaluation on a GPU, in-process: the steps since the last periodic save
    # (here: all of them, checkpoint_every 0) must already be in a checkpoint when evaluation starts.
    from hima.app.checkpoint import load_checkpoint
    from hima.app.config import resolve_config
    from hima.app.events import EventWriter
    from hima.app.train import Trainer

    settings = {**FAST_CONFIG, "eval_every": 0, "checkpoint_every": 0, "data": str(token_dir), "device": "cpu", "threads": 1}
    reference = run_trainer(token_dir, tmp_path / "reference", _config(tmp_path, settings), "--max-steps", "6")
    assert reference.returncode == 0, reference.stderr[-3000:]

    out = tmp_path / "run"
    cfg = resolve_config({**settings, "out": str(out), "max_steps": 6}, {})
    trainer = Trainer(cfg, EventWriter(str(out), None), None)

    def out_of_memory():
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(trainer, "evaluate", out_of_memory)
    with pytest.raises(RuntimeError, match="out of memory"):
        trainer.run()
    trainer.events.close()
    assert load_checkpoint(str(out))["step"] == 6

    resumed = run_trainer(token_dir, out, _config(tmp_path, settings), "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    done, expected = events_of(resumed.stdout)[-1], events_of(reference.stdout)[-1]
    assert done["type"] == "done" and done["reason"] == "completed" and done["step"] == 6
    assert done["summary"]["last_val_loss"] == expected["summary"]["last_val_loss"]


def _config(tmp_path, settings):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({k: v for k, v in settings.items() if k not in ("data", "device")}))
    return path
