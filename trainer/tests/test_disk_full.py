"""A full disk ends the run with an `error` event that names the file and says "no space left", keeps the
previous checkpoint and leaves the event log whole lines.

The trainer runs on a real small file system (a tmpfs mounted here; skipped where mounting is not allowed),
filled up by the test at a chosen moment. The event writer's roll-back is also checked without a mount."""
import errno
import json
import os
import subprocess
import sys

import pytest

from conftest import trainer_cmd
from hima.app.events import EventWriter
from hima.app.run_folder import DiskFullError


@pytest.fixture
def small_fs(tmp_path):
    """A 48 MiB tmpfs: room for the run and two of its ~10 MB checkpoints, until the test fills it."""
    mount = tmp_path / "fs"
    mount.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder, leave_bytes: int = 0) -> None:
    """Take all the free space of folder's file system but `leave_bytes`."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)  # unbuffered: no data left to flush at close
    try:
        chunk = b"\0" * 65536
        while True:
            os.write(fd, chunk)  # a short write comes back short; the next one fails with ENOSPC
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    if leave_bytes:
        os.truncate(filler, max(0, filler.stat().st_size - leave_bytes))


def whole_lines(path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), data[-200:]
    return [json.loads(line) for line in data.splitlines()]


def test_a_checkpoint_on_a_full_disk_is_an_error_event_and_the_previous_one_stays(small_fs, token_dir, fast_config, live_trainer):
    out = small_fs / "run"
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 2)
    t.send({"v": 1, "type": "checkpoint", "id": "first"})
    first = t.wait_for(lambda e: e["type"] == "checkpoint")["path"]
    fill(small_fs, leave_bytes=256 * 1024)  # room for events, not for a second checkpoint
    t.send({"v": 1, "type": "checkpoint", "id": "second"})
    assert t.finish(timeout=60) == 1, t.stderr[-3000:]

    events = whole_lines(out / "events.jsonl")
    error, done = events[-2], events[-1]
    assert error["type"] == "error" and error["fatal"], error
    assert "no space left on device writing" in error["message"] and str(out / "checkpoints" / "ckpt-") in error["message"]
    assert f"the last checkpoint, {first}, is kept" in error["message"]
    assert done["type"] == "done" and done["reason"] == "error" and done["summary"]["checkpoint"] == first
    assert (out / "checkpoints" / "latest").read_text() == os.path.basename(first) + "\n"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [os.path.basename(first), "latest"]
    assert "Traceback" not in t.stderr and "unexpected pos" not in t.stderr


def test_a_full_disk_under_the_event_log_is_reported_and_the_log_stays_whole(small_fs, token_dir, fast_config, live_trainer):
    out = small_fs / "run"
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 2)
    fill(small_fs)
    assert t.finish(timeout=60) == 1, t.stderr[-3000:]

    error, done = t.events[-2], t.events[-1]  # stdout: the file had no room for them
    assert error["type"] == "error" and f"no space left on device writing {out / 'events.jsonl'}" in error["message"]
    assert done["type"] == "done" and done["reason"] == "error"
    logged = whole_lines(out / "events.jsonl")
    # Every line whole, in stream order. Not always a prefix: the line that hit the full disk is cut back off,
    # which frees its blocks, so a shorter line after it (the error event) may still fit, and should.
    stream = iter(t.events)
    assert all(any(event == e for e in stream) for event in logged), (logged[-3:], t.events[-4:])
    common = next((i for i, (a, b) in enumerate(zip(logged, t.events)) if a != b), len(logged))
    assert all(e["type"] in ("error", "done") for e in logged[common:]), logged[common:]  # only the ending is skipped past
    assert "Traceback" not in t.stderr


def test_a_failed_append_is_cut_back_off(tmp_path, monkeypatch):
    writer = EventWriter(str(tmp_path), None)
    writer.emit("status", step=1, state="running")
    before = (tmp_path / "events.jsonl").read_bytes()
    real_write = os.write

    def half_then_full(fd, data):
        if len(data) > 10:
            real_write(fd, bytes(data[: len(data) // 2]))  # a short write, then the disk is full
            return len(data) // 2
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(DiskFullError, match=f"no space left on device writing {tmp_path / 'events.jsonl'}"):
        writer.emit("status", step=2, state="paused")
    assert not writer.try_emit("error", message="x", fatal=True, rank=None)  # the error path never raises
    monkeypatch.setattr(os, "write", real_write)
    assert (tmp_path / "events.jsonl").read_bytes() == before
    writer.emit("status", step=3, state="running")
    writer.close()
    assert [e["step"] for e in whole_lines(tmp_path / "events.jsonl")] == [1, 3]
