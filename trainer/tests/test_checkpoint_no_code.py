"""A checkpoint never runs code: a crafted `ckpt-*.pt` in a run folder (a cloned repository's .hima/runs) is
refused before anything is unpickled, and torch.load(weights_only=True) would refuse it again if that check
were bypassed. The file the payload would create is the proof."""
import json
import os

import pytest
import torch

import hima.app.checkpoint as checkpoint
from conftest import run_trainer
from hima.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

EMPTY = {"model": {}, "hima": {}, "config": {}, "rng": {}}


class Payload:
    """Unpickling it runs a shell command (what an attacker's checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted_run(folder, marker, evil_first: bool):
    """A run folder whose `latest` checkpoint carries the payload, first or after a genuine-looking header."""
    ckpts = folder / "checkpoints"
    ckpts.mkdir(parents=True)
    header = {"format": "hima-checkpoint", "format_version": 1, "step": 8, **EMPTY}
    data = {"evil": Payload(marker), **header} if evil_first else {**header, "evil": Payload(marker)}
    torch.save(data, ckpts / "ckpt-00000008.pt")
    (ckpts / "latest").write_text("ckpt-00000008.pt\n")
    return ckpts / "ckpt-00000008.pt"


@pytest.mark.parametrize("evil_first", [False, True])
def test_a_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, evil_first):
    marker = tmp_path / "pwned"
    path = crafted_run(tmp_path / "run", marker, evil_first)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(tmp_path / "run"))
    assert not marker.exists()
    assert str(path) in str(info.value)
    assert "not a HiMA checkpoint" in str(info.value)


def test_weights_only_loading_refuses_it_even_past_the_format_check(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    path = crafted_run(tmp_path / "run", marker, evil_first=False)
    monkeypatch.setattr(checkpoint, "_check_pickle", lambda path, f: None)
    with pytest.raises(CheckpointError, match="corrupt or unreadable"):
        load_checkpoint(str(path))
    assert not marker.exists()


def test_resume_from_a_crafted_checkpoint_exits_2_and_runs_nothing(token_dir, fast_config, tmp_path):
    marker = tmp_path / "pwned"
    path = crafted_run(tmp_path / "run", marker, evil_first=False)
    proc = run_trainer(token_dir, tmp_path / "run", fast_config, "--resume", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert not marker.exists()
    error = json.loads(proc.stdout.splitlines()[-1])
    assert error["type"] == "error" and str(path) in error["message"] and "posix.system" in error["message"]


def test_a_real_checkpoint_loads_with_its_rng_state(tmp_path):
    from hima.app.checkpoint import rng_state

    save_checkpoint(str(tmp_path), 4, {**EMPTY, "rng": rng_state(), "model": {"w": torch.ones(3)}}, keep=2)
    loaded = load_checkpoint(str(tmp_path))
    assert loaded["step"] == 4 and torch.equal(loaded["model"]["w"], torch.ones(3))
    assert loaded["rng"]["numpy"][0] == "MT19937"
