"""Checkpoints: resuming continues the same trajectory exactly; damaged checkpoints are refused by name."""
import pytest

from conftest import events_of, run_trainer
from hima.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def step_losses(events):
    return {e["step"]: e["loss"] for e in events if e["type"] == "step"}


def test_resume_reproduces_the_uninterrupted_run_exactly(token_dir, fast_config, tmp_path):
    whole = run_trainer(token_dir, tmp_path / "whole", fast_config, "--max-steps", "16", "--checkpoint-every", "8")
    assert whole.returncode == 0, whole.stderr[-3000:]
    ckpt = tmp_path / "whole" / "checkpoints" / "ckpt-00000008.pt"
    assert ckpt.is_file()

    resumed = run_trainer(token_dir, tmp_path / "resumed", fast_config, "--max-steps", "16", "--resume", str(ckpt))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    events = events_of(resumed.stdout)
    assert events[0]["type"] == "hello" and events[0]["start_step"] == 8
    expected = {s: l for s, l in step_losses(events_of(whole.stdout)).items() if s > 8}
    assert step_losses(events) == expected  # bit-identical losses, steps 9..16
    assert [e["val_loss"] for e in events if e["type"] == "eval"][-1] == events_of(whole.stdout)[-1]["summary"]["last_val_loss"]
    # The tier map continues where it was: the first tiers event of the resumed segment equals the
    # checkpointed assignment.
    tiers_at_8 = [e for e in events_of(whole.stdout) if e["type"] == "tiers" and e["step"] <= 8][-1]
    first = next(e for e in events if e["type"] == "tiers")
    assert [(t["name"], t["tier"]) for t in first["tensors"]] == [(t["name"], t["tier"]) for t in tiers_at_8["tensors"]]


def test_damaged_checkpoints_are_refused_with_the_file_name(tmp_path):
    run = tmp_path / "run"
    good = save_checkpoint(str(run), 4, {"model": {}, "hima": {}, "config": {}, "rng": {}}, keep=3)
    assert load_checkpoint(str(run))["path"] == good  # a run folder resolves through `latest`

    torn = run / "checkpoints" / "ckpt-00000009.pt"
    torn.write_bytes(open(good, "rb").read()[:100])  # a truncated copy
    with pytest.raises(CheckpointError, match="ckpt-00000009.pt is corrupt"):
        load_checkpoint(str(torn))

    (run / "checkpoints" / "latest").write_text("ckpt-00000077.pt\n")
    with pytest.raises(CheckpointError, match="ckpt-00000077.pt, which does not exist"):
        load_checkpoint(str(run))

    foreign = tmp_path / "foreign.pt"
    import torch
    torch.save({"weights": 1}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pt is not a HiMA checkpoint"):
        load_checkpoint(str(foreign))


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    for step in (1, 2, 3, 4):
        save_checkpoint(str(tmp_path), step, {"model": {}, "hima": {}, "config": {}, "rng": {}}, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["ckpt-00000003.pt", "ckpt-00000004.pt", "latest"]  # no temp files left behind
    assert (tmp_path / "checkpoints" / "latest").read_text() == "ckpt-00000004.pt\n"


def test_cli_refuses_a_corrupt_checkpoint(token_dir, fast_config, tmp_path):
    bad = tmp_path / "ckpt-00000005.pt"
    bad.write_bytes(b"garbage" * 10)
    proc = run_trainer(token_dir, tmp_path / "r", fast_config, "--resume", str(bad))
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "corrupt" in proc.stderr
