"""Damaged or foreign checkpoints are refused with a message that names the file (and the other
checkpoints one could resume from instead); a save interrupted by a crash leaves nothing that counts."""
import json
import os

import pytest
import torch

from conftest import run_trainer
from hima.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

EMPTY = {"model": {}, "hima": {}, "config": {}, "rng": {}}


@pytest.fixture
def run(tmp_path):
    for step in (4, 8):
        save_checkpoint(str(tmp_path), step, EMPTY, keep=3)
    return tmp_path


def ckpt(run, step):
    return run / "checkpoints" / f"ckpt-{step:08d}.pt"


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty"])
def test_a_damaged_checkpoint_is_refused_naming_it_and_the_alternatives(run, damage):
    path = ckpt(run, 8)
    good = path.read_bytes()
    path.write_bytes({"truncated": good[: len(good) // 2], "random bytes": os.urandom(len(good)), "empty": b""}[damage])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(run))  # through `latest`, as Resume Run does
    message = str(info.value)
    assert f"checkpoint {path} is corrupt or unreadable" in message
    assert "other checkpoints there: ckpt-00000004.pt" in message
    assert load_checkpoint(str(ckpt(run, 4)))["step"] == 4  # the hint works


@pytest.mark.parametrize("pointer, expected", [
    ("ckpt-00000077.pt\n", "names ckpt-00000077.pt, which does not exist (other checkpoints there: ckpt-00000008.pt, ckpt-00000004.pt)"),
    ("../../../etc/passwd\n", "is corrupt: it names '../../../etc/passwd', not a checkpoint file"),
    ("", "is corrupt: it names '', not a checkpoint file"),
])
def test_a_bad_latest_pointer_is_refused(run, pointer, expected):
    (run / "checkpoints" / "latest").write_text(pointer)
    with pytest.raises(CheckpointError, match="latest") as info:
        load_checkpoint(str(run))
    assert expected in str(info.value)


def test_a_checkpoint_of_another_format_version_or_missing_parts_is_refused(tmp_path):
    newer = tmp_path / "newer.pt"
    torch.save({"format": "hima-checkpoint", "format_version": 99, "step": 1, **EMPTY}, newer)
    with pytest.raises(CheckpointError, match=f"{newer} has checkpoint format 99"):
        load_checkpoint(str(newer))
    partial = tmp_path / "partial.pt"
    torch.save({"format": "hima-checkpoint", "format_version": 1, "step": 1, "model": {}}, partial)
    with pytest.raises(CheckpointError, match=f"{partial} is incomplete: no 'hima'"):
        load_checkpoint(str(partial))


def test_temp_files_of_an_interrupted_save_are_cleared_and_never_pointed_at(run):
    leftover = run / "checkpoints" / ".tmp-abc123"
    leftover.write_bytes(b"half a checkpoint")  # what a SIGKILL during torch.save leaves
    assert load_checkpoint(str(run))["step"] == 8  # `latest` still names the last complete one
    save_checkpoint(str(run), 12, EMPTY, keep=3)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "ckpt-00000004.pt", "ckpt-00000008.pt", "ckpt-00000012.pt", "latest"]


def test_resuming_with_another_model_size_is_refused_naming_the_checkpoint(token_dir, fast_config, tmp_path):
    first = run_trainer(token_dir, tmp_path / "r", fast_config, "--max-steps", "3")
    assert first.returncode == 0, first.stderr[-2000:]
    bigger = tmp_path / "bigger.json"
    bigger.write_text(json.dumps({**json.loads(fast_config.read_text()), "block_size": 64}))
    proc = run_trainer(token_dir, tmp_path / "r", bigger, "--resume", str(tmp_path / "r"))
    assert proc.returncode == 2
    path = tmp_path / "r" / "checkpoints" / "ckpt-00000003.pt"
    assert f"{path} holds a different model" in proc.stderr
    error = json.loads(proc.stdout.splitlines()[-1])
    assert error["type"] == "error" and error["fatal"] and str(path) in error["message"]
