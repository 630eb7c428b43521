"""A run folder is private whatever the umask (folders 0700, files 0600), and a symbolic link inside it is
refused with a message that names it: the trainer never appends to, reads from or prunes a place the user
did not name."""
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import run_trainer, trainer_cmd

ROOT = Path(__file__).resolve().parents[2]


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_a_run_folder_is_private_whatever_the_umask(token_dir, fast_config, tmp_path, umask):
    out = tmp_path / "runs" / "r"
    proc = subprocess.run(trainer_cmd(token_dir, out, fast_config, "--max-steps", "3", "--control-socket", str(out / "control.sock")),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, umask=umask)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert mode(out) == 0o700 and mode(out / "checkpoints") == 0o700
    files = ["events.jsonl", "trainer.json", "trainer.lock", "checkpoints/latest", "checkpoints/ckpt-00000003.pt"]
    assert {name: oct(mode(out / name)) for name in files} == {name: oct(0o600) for name in files}


def test_an_older_run_s_readable_event_log_becomes_private_on_resume(token_dir, fast_config, tmp_path):
    out = tmp_path / "r"
    assert run_trainer(token_dir, out, fast_config, "--max-steps", "2").returncode == 0
    os.chmod(out / "events.jsonl", 0o644)  # as an older version left it
    assert run_trainer(token_dir, out, fast_config, "--resume", str(out), "--max-steps", "3").returncode == 0
    assert mode(out / "events.jsonl") == 0o600


def finished_run(token_dir, fast_config, tmp_path) -> Path:
    out = tmp_path / "r"
    proc = run_trainer(token_dir, out, fast_config, "--max-steps", "2", "--checkpoint-every", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_a_linked_event_log_is_refused_and_its_target_untouched(token_dir, fast_config, tmp_path):
    out = finished_run(token_dir, fast_config, tmp_path)
    notes = tmp_path / "elsewhere" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("my notes\n")
    (out / "events.jsonl").unlink()
    (out / "events.jsonl").symlink_to(notes)
    proc = run_trainer(token_dir, out, fast_config, "--resume", str(out), "--max-steps", "4")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert notes.read_text() == "my notes\n"
    error = json.loads(proc.stdout.splitlines()[-1])
    assert error["type"] == "error" and f"{out / 'events.jsonl'} is a symbolic link" in error["message"]


@pytest.mark.parametrize("resume", [True, False])
def test_a_linked_checkpoints_folder_is_refused_and_nothing_there_deleted(token_dir, fast_config, tmp_path, resume):
    out = finished_run(token_dir, fast_config, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (out / "checkpoints").rename(elsewhere)  # real checkpoints, now outside the run folder
    (elsewhere / "ckpt-00000000.pt").write_text("someone's file")  # what rotation would prune
    (out / "checkpoints").symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir())
    extra = ("--resume", str(out)) if resume else ()
    proc = run_trainer(token_dir, out, fast_config, *extra, "--max-steps", "6", "--checkpoint-every", "1")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert sorted(p.name for p in elsewhere.iterdir()) == before
    assert f"{out / 'checkpoints'} is a symbolic link" in proc.stderr


def test_a_linked_checkpoint_file_is_refused(token_dir, fast_config, tmp_path):
    out = finished_run(token_dir, fast_config, tmp_path)
    real = tmp_path / "real.pt"
    (out / "checkpoints" / "ckpt-00000002.pt").rename(real)
    (out / "checkpoints" / "ckpt-00000002.pt").symlink_to(real)
    proc = run_trainer(token_dir, out, fast_config, "--resume", str(out), "--max-steps", "4")
    assert proc.returncode == 2
    assert f"{out / 'checkpoints' / 'ckpt-00000002.pt'} is a symbolic link" in proc.stderr


def test_the_trainer_and_the_extension_check_the_run_folder_entries_the_schema_lists():
    from hima.app.run_folder import RUN_ENTRIES

    schema = json.loads((ROOT / "protocol" / "hima.schema.json").read_text())
    assert RUN_ENTRIES == tuple(p["const"] for p in schema["$defs"]["RunFolder"]["properties"].values())
    source = (ROOT / "src" / "run" / "runFolderCheck.ts").read_text()
    assert "RUN_ENTRIES: readonly string[] = Object.values(RUN_FOLDER)" in source
