"""SIGTERM stops a run cleanly, also under torchrun and while paused.

Under torchrun, SIGTERM goes to rank 0 (its pid is in trainer.json). Python runs a signal handler only once
the main thread is back from C++, so a signal that arrives while rank 0 waits in the step boundary's
stop-agreement collective is seen right after that collective returned "no stop". If rank 0 acted on it
there, it would leave the loop alone while rank 1 trains another step; their next collectives would no
longer match and both would hang until the collective timeout. A test hook (hima.app.distributed) slows rank 1
before every boundary, so rank 0 spends most of each step waiting inside that collective and a SIGTERM at a
random moment almost always lands there.

A signal during start-up (model build, data, checkpoint load, the rendezvous) is handled too: the cli installs
the stop handler first, so the run ends at its start step with `done` "stopped" and exit 0, not killed by
SIGTERM's default action (exit 143). A test hook (hima.app.cli) holds rank 0 in start-up for a few seconds.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import read_events, run_trainer, trainer_cmd
from test_distributed import TorchrunTrainer, check_events, of_type, torchrun_cmd

RANK_1_WAIT_S = 0.5  # rank 1's sleep before each boundary: rank 0 waits that long in the collective
# A clean stop takes a few seconds (next boundary, checkpoint, done); a hang lasts the collective timeout (60 s).
STOP_BOUND_S = 25
DONE_LOG = re.compile(r"^hima: done \((\w+)\) at step (\d+)$", re.MULTILINE)  # cli logs it on every rank


@pytest.mark.skipif(sys.platform == "win32", reason="gloo + torchrun standalone on Linux/macOS")
@pytest.mark.parametrize("attempt", range(3))
def test_sigterm_to_rank_0_stops_every_rank_at_the_same_step(token_dir, fast_config, tmp_path, monkeypatch, attempt):
    monkeypatch.setenv("HIMA_TEST_SLOW_BOUNDARY", f"1:{RANK_1_WAIT_S}")
    out = tmp_path / "run"
    t = TorchrunTrainer(torchrun_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    # Right after a step event rank 0 enters the next boundary and waits there for rank 1: aim inside that wait.
    delay = random.uniform(0, 0.8 * RANK_1_WAIT_S)
    try:
        t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 2, timeout=90)
        time.sleep(delay)
        rank_0 = json.loads((out / "trainer.json").read_text())["pid"]
        os.kill(rank_0, signal.SIGTERM)
        try:
            code = t.proc.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"torchrun still running {STOP_BOUND_S} s after SIGTERM to rank 0 ({delay:.2f} s after "
                        f"a step event): the ranks hang.\nstderr:\n{t.stderr[-3000:]}")
        assert code == 0, t.stderr[-3000:]
        t.finish(timeout=10)
    finally:
        t.kill()
    events = read_events(out)
    check_events(events)
    assert not of_type(events, "error"), of_type(events, "error")
    done = of_type(events, "done")[-1]
    assert done["reason"] == "stopped"
    assert max(e["step"] for e in of_type(events, "step")) == done["step"]
    # Rank 1 writes no events; its own log line says where it stopped (the stderr reader may lag the exit).
    deadline = time.monotonic() + 5
    while len(DONE_LOG.findall(t.stderr)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    ends = DONE_LOG.findall(t.stderr)
    assert ends == [("stopped", str(done["step"]))] * 2, (ends, t.stderr[-3000:])


def test_sigterm_while_paused_ends_the_run(token_dir, fast_config, tmp_path, live_trainer):
    out = tmp_path / "paused"
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 2)
    t.send({"v": 1, "type": "pause", "id": "p"})
    paused_at = t.wait_for(lambda e: e["type"] == "ack" and e["id"] == "p")["effective_step"]
    t.wait_for(lambda e: e["type"] == "status" and e["state"] == "paused")
    t.proc.send_signal(signal.SIGTERM)
    assert t.finish(timeout=STOP_BOUND_S) == 0, t.stderr[-3000:]
    events = read_events(out)
    done = of_type(events, "done")[-1]
    assert done["reason"] == "stopped" and done["step"] == paused_at
    assert of_type(events, "checkpoint")[-1]["step"] == paused_at


def test_a_signal_after_a_stop_control_does_not_abort_but_a_second_signal_does():
    from hima.app.signals import StopSignals

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        signals = StopSignals().install()  # a `stop` control was applied: that is no signal
        signal.raise_signal(signal.SIGTERM)  # the handler runs before raise_signal returns
        assert signals.signalled  # noted; the stop (and its checkpoint) goes on
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # the second signal: out now
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


SLOW_START_S = 2  # HIMA_TEST_SLOW_START: rank 0 stays in start-up this long after writing trainer.json


def _sigterm_once_started(out, proc) -> None:
    """SIGTERM to the trainer (rank 0) as soon as trainer.json names it: it is then still starting."""
    info = out / "trainer.json"
    deadline = time.monotonic() + 60
    while not info.is_file():
        assert proc.poll() is None, "the trainer ended before writing trainer.json"
        assert time.monotonic() < deadline, "no trainer.json after 60 s"
        time.sleep(0.05)
    os.kill(json.loads(info.read_text())["pid"], signal.SIGTERM)


def _start_stopped(events: list[dict], step: int) -> dict:
    """The run ended "stopped" at ``step`` with no step trained; returns its done event."""
    check_events(events)
    assert not of_type(events, "error") and not of_type(events, "step"), events
    hello, done = of_type(events, "hello")[-1], events[-1]
    assert hello["start_step"] == step
    assert done["type"] == "done" and done["reason"] == "stopped" and done["step"] == step, done
    return done


def test_sigterm_during_start_up_ends_the_run_stopped_at_its_start(token_dir, fast_config, tmp_path, live_trainer, monkeypatch):
    out = tmp_path / "early"
    monkeypatch.setenv("HIMA_TEST_SLOW_START", str(SLOW_START_S))
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "100000"))
    _sigterm_once_started(out, t.proc)
    assert t.finish(timeout=STOP_BOUND_S) == 0, t.stderr[-3000:]
    done = _start_stopped(read_events(out), 0)
    # No step ran: no checkpoint is written, and done says so.
    assert not of_type(read_events(out), "checkpoint") and done["summary"]["checkpoint"] is None
    assert not (out / "checkpoints").exists()


def test_sigterm_while_a_resumed_run_starts_keeps_its_checkpoint(token_dir, fast_config, tmp_path, live_trainer, monkeypatch):
    out = tmp_path / "resumed"
    first = run_trainer(token_dir, out, fast_config, "--max-steps", "2", "--eval-every", "0")
    assert first.returncode == 0, first.stderr[-3000:]
    ckpt = out / "checkpoints" / "ckpt-00000002.pt"
    before = ckpt.read_bytes()
    (out / "trainer.json").unlink()  # the first run's: wait for the resumed trainer's own
    monkeypatch.setenv("HIMA_TEST_SLOW_START", str(SLOW_START_S))
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--resume", str(out), "--max-steps", "100000"))
    _sigterm_once_started(out, t.proc)
    assert t.finish(timeout=STOP_BOUND_S) == 0, t.stderr[-3000:]
    events = read_events(out)
    segment = events[max(i for i, e in enumerate(events) if e["type"] == "hello"):]
    done = _start_stopped(segment, 2)
    assert not of_type(segment, "checkpoint")
    assert done["summary"]["checkpoint"] == str(ckpt)  # the one it resumed from, still `latest`, unchanged
    assert (out / "checkpoints" / "latest").read_text() == ckpt.name + "\n"
    assert ckpt.read_bytes() == before


def test_sigterm_to_rank_0_held_until_the_group_exists_stops_both_ranks(token_dir, fast_config, tmp_path, monkeypatch):
    # Rank 0's JoinGuard holds the SIGTERM (hima.app.signals) while the hook keeps it in start-up; rank 1 waits in
    # the rendezvous meanwhile, so the group forms as soon as rank 0 joins and the guard hands the held signal to
    # the stop handler: both ranks stop at the first step boundary. Before, the guard re-raised it with the
    # default action (rank 0 killed, exit 143, no done).
    monkeypatch.setenv("HIMA_TEST_SLOW_START", str(SLOW_START_S))
    out = tmp_path / "run"
    t = TorchrunTrainer(torchrun_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    try:
        _sigterm_once_started(out, t.proc)
        try:
            code = t.proc.wait(timeout=STOP_BOUND_S + SLOW_START_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"torchrun still running after SIGTERM to rank 0 during start-up.\nstderr:\n{t.stderr[-3000:]}")
        assert code == 0, t.stderr[-3000:]
        t.finish(timeout=10)
    finally:
        t.kill()
    done = _start_stopped(read_events(out), 0)
    assert done["summary"]["checkpoint"] is None
    deadline = time.monotonic() + 5
    while len(DONE_LOG.findall(t.stderr)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert DONE_LOG.findall(t.stderr) == [("stopped", "0")] * 2, t.stderr[-3000:]
