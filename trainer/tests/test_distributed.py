"""HiMA under torchrun on CPU (gloo, 2 processes): the real launcher, the real trainer.

A two-process run must train exactly like one process on the same global batch, keep the tiers identical on
both ranks (the trainer checks at every tiers event and fails the run otherwise), send no bytes for Cold
tensors, reduce gradients to the same result whether overlapped with backward (the default), after it or
through DDP (method full), apply a control at the same step everywhere, and end with an error naming a rank
that died -- also one that failed before the process group existed.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import jsonschema
import pytest

from conftest import LiveTrainer, events_of, read_events, run_trainer, trainer_cmd
from hima.app.config import ConfigError, resolve_config
from hima.protocol import schema, validate_event

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo + torchrun standalone on Linux/macOS")


def torchrun_cmd(data, out, config, *extra, nproc: int = 2) -> list[str]:
    # trainer_cmd is [python, "-m", "hima", "train", ...]: the same trainer, started by torchrun.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            *trainer_cmd(data, out, config, *extra)[1:]]


class TorchrunTrainer(LiveTrainer):
    """A live torchrun in its own process group, so the test can end it and every rank it started."""

    def __init__(self, cmd: list[str]):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, start_new_session=True,
                                     env={**os.environ, "OMP_NUM_THREADS": "1"})
        self.events, self._lines, self._stderr = [], queue.Queue(), []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, None), daemon=True).start()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def run_torchrun(data, out, config, *extra, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(torchrun_cmd(data, out, config, *extra), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, env=env)


def with_settings(config, tmp_path, name: str, **settings):
    """A copy of the config file with ``settings`` added."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**json.loads(config.read_text()), **settings}))
    return path


# Small gradient buckets (the tiny model is ~5 MB, one default bucket): about 40 per step, so the overlapped
# reduction really starts buckets during backward, in the same order on both ranks.
SMALL_BUCKETS = {"HIMA_DIST_BUCKET_BYTES": str(128 * 1024)}


def check_events(events: list[dict]) -> None:
    full_schema = schema()  # its root validates {"event": <one event>}, as in test_run_events
    for e in events:
        jsonschema.validate({"event": e}, full_schema)
        validate_event(e)


def of_type(events, kind):
    return [e for e in events if e["type"] == kind]


def test_two_ranks_train_like_one_process(token_dir, fast_config, tmp_path):
    steps = ["--max-steps", "16", "--batch-size", "4"]
    one = run_trainer(token_dir, tmp_path / "one", fast_config, *steps)
    two = run_torchrun(token_dir, tmp_path / "two", fast_config, *steps, env=SMALL_BUCKETS)  # default: overlap
    after = with_settings(fast_config, tmp_path, "after", grad_sync="after-backward")
    two_after = run_torchrun(token_dir, tmp_path / "two-after", after, *steps, env=SMALL_BUCKETS)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-3000:]
    assert two_after.returncode == 0, two_after.stderr[-3000:]
    single, multi = events_of(one.stdout), events_of(two.stdout)  # only rank 0 writes the stream
    check_events(multi)
    assert multi == read_events(tmp_path / "two")
    assert of_type(multi, "hello")[0]["nproc"] == 2
    assert len(of_type(multi, "hello")) == 1 and len(of_type(multi, "done")) == 1

    # Same global batch, gradients averaged over the two halves: the same losses, step for step.
    losses_one = [e["loss"] for e in of_type(single, "step")]
    losses_two = [e["loss"] for e in of_type(multi, "step")]
    assert len(losses_two) == 16
    assert losses_two == pytest.approx(losses_one, rel=1e-4, abs=1e-5)
    assert of_type(multi, "eval")[-1]["val_loss"] == pytest.approx(of_type(single, "eval")[-1]["val_loss"], rel=1e-4)

    # The same tiers at every re-tier as the one-process run (rank 1's are checked against rank 0's by the
    # trainer itself at each tiers event: a mismatch would have failed the run above).
    tiers_one = [(e["step"], {t["name"]: t["tier"] for t in e["tensors"]}) for e in of_type(single, "tiers")]
    tiers_two = [(e["step"], {t["name"]: t["tier"] for t in e["tensors"]}) for e in of_type(multi, "tiers")]
    assert tiers_two == tiers_one
    assert any(t == "cold" for _, tiers in tiers_two for t in tiers.values())  # the run really tiered

    memory = of_type(multi, "memory")[-1]
    assert memory["ranks"]["nproc"] == 2
    rss = memory["ranks"]["rss_bytes"]
    assert 0 < rss["min"] <= rss["max"]

    # Overlapped with backward or after it: the same buckets' sums, so the same run to the last bit (measured:
    # identical losses), and the same bytes on the wire at every memory event.
    after_events = events_of(two_after.stdout)
    assert [e["loss"] for e in of_type(after_events, "step")] == losses_two
    assert of_type(after_events, "eval")[-1]["val_loss"] == of_type(multi, "eval")[-1]["val_loss"]
    bytes_of = lambda events: [(e["step"], e["ranks"]["allreduce_bytes_per_step"]) for e in of_type(events, "memory")]
    assert bytes_of(after_events) == bytes_of(multi)
    assert of_type(after_events, "hello")[0]["config"]["grad_sync"] == "after-backward"
    assert of_type(multi, "hello")[0]["config"]["grad_sync"] == "overlap"


@pytest.fixture
def no_probe_config(tmp_path, fast_config):
    path = tmp_path / "noprobe.json"
    path.write_text(json.dumps({**json.loads(fast_config.read_text()), "probe_every": 0, "eval_every": 0}))
    return path


def test_allreduce_bytes_equal_the_non_cold_gradients(token_dir, no_probe_config, tmp_path):
    hima = run_torchrun(token_dir, tmp_path / "hima", no_probe_config, "--max-steps", "10", "--hot", "0.4", "--warm", "0.4")
    full = run_torchrun(token_dir, tmp_path / "full", no_probe_config, "--max-steps", "10", "--method", "full")
    assert hima.returncode == 0, hima.stderr[-6000:]
    assert full.returncode == 0, full.stderr[-6000:]
    events, full_events = events_of(hima.stdout), events_of(full.stdout)
    n_params = of_type(events, "hello")[0]["model"]["n_params"]

    # full: every tensor, every step (fp32 gradients: 4 bytes an element). The memory event at step 10 covers
    # steps 6..10; the one after the loop covers no new step and repeats that interval's figure.
    full_memory = [e for e in of_type(full_events, "memory") if e["step"] == 10]
    assert len(full_memory) == 2
    assert [e["ranks"]["allreduce_bytes_per_step"] for e in full_memory] == [4 * n_params, 4 * n_params]

    # hima: after the re-tier at step 5, steps 6..10 reduce the Hot tensors only (no Warm tier, no probes).
    retier = next(e for e in of_type(events, "tiers") if e["step"] == 5)
    assert retier["counts"]["cold"]["elements"] > 0.3 * n_params
    hot_bytes = 4 * retier["counts"]["hot"]["elements"]
    at_10 = next(e for e in of_type(events, "memory") if e["step"] == 10)
    assert at_10["ranks"]["allreduce_bytes_per_step"] == hot_bytes
    assert hot_bytes < 0.7 * 4 * n_params
    assert at_10["ranks"]["allreduce_bytes_total"] == 5 * 4 * n_params + 5 * hot_bytes  # steps 1..5 all Hot


def test_ddp_reference_trains_full_like_the_trainers_own_reduction(token_dir, no_probe_config, tmp_path):
    steps = ["--max-steps", "6", "--method", "full"]
    ddp = run_torchrun(token_dir, tmp_path / "ddp", with_settings(no_probe_config, tmp_path, "ddp", grad_sync="ddp"), *steps)
    own = run_torchrun(token_dir, tmp_path / "own", no_probe_config, *steps)
    assert ddp.returncode == 0, ddp.stderr[-6000:]
    assert own.returncode == 0, own.stderr[-6000:]
    events, own_events = events_of(ddp.stdout), events_of(own.stdout)
    check_events(events)
    assert of_type(events, "hello")[0]["config"]["grad_sync"] == "ddp"
    # DDP also divides each gradient by the process count before summing, and a sum of two does not depend on
    # the buckets: the same losses to the last bit (measured on gloo).
    assert [e["loss"] for e in of_type(events, "step")] == [e["loss"] for e in of_type(own_events, "step")]
    n_params = of_type(events, "hello")[0]["model"]["n_params"]
    at_5 = next(e for e in of_type(events, "memory") if e["step"] == 5)
    assert at_5["ranks"]["allreduce_bytes_per_step"] == 4 * n_params  # computed: every gradient, every step


def test_ddp_is_refused_for_a_method_that_changes_requires_grad():
    with pytest.raises(ConfigError, match="grad_sync 'ddp' .* needs method 'full', not 'hima'"):
        resolve_config({"grad_sync": "ddp", "method": "hima"}, {"data": "d", "out": "o"})
    with pytest.raises(ConfigError, match="grad_sync must be one of overlap, after-backward, ddp"):
        resolve_config({"grad_sync": "later"}, {"data": "d", "out": "o"})
    assert resolve_config({"grad_sync": "ddp", "method": "full"}, {"data": "d", "out": "o"}).grad_sync == "ddp"


def test_control_applies_at_the_same_step_on_both_ranks(token_dir, fast_config, tmp_path):
    out = tmp_path / "ctl"
    t = TorchrunTrainer(torchrun_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    try:
        t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 6, timeout=90)
        t.send({"v": 1, "type": "set_cutoffs", "id": "cut", "hot": 0.1, "warm": 0.2})
        ack = t.wait_for(lambda e: e["type"] in ("ack", "rejected") and e["id"] == "cut", timeout=60)
        assert ack["type"] == "ack"
        # The tiers event right after the ack: rank 0 checks rank 1 holds the same cutoffs and tiers at
        # that step (a control applied a step late on rank 1 fails the run with an error event).
        tiers = t.wait_for(lambda e: e["type"] == "tiers" or e["type"] == "error", timeout=60)
        assert tiers["type"] == "tiers", tiers
        assert tiers["step"] == ack["effective_step"] + 1 and tiers["cutoffs"] == {"hot": 0.1, "warm": 0.2}
        # pause holds every rank (rank 1 keeps exchanging empty control batches, no collective timeout).
        t.send({"v": 1, "type": "pause", "id": "p"})
        paused_at = t.wait_for(lambda e: e["type"] == "ack" and e["id"] == "p", timeout=60)["effective_step"]
        time.sleep(2.0)
        t.send({"v": 1, "type": "stop", "id": "s"})
        assert t.finish(timeout=90) == 0, t.stderr[-3000:]
    finally:
        t.kill()
    events = read_events(out)
    assert not of_type(events, "error"), of_type(events, "error")
    assert max(e["step"] for e in of_type(events, "step")) == paused_at
    assert of_type(events, "done")[0]["reason"] == "stopped"


def test_killed_rank_ends_the_run_with_an_error_naming_it(token_dir, fast_config, tmp_path):
    out = tmp_path / "kill"
    t = TorchrunTrainer(torchrun_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    try:
        t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 3, timeout=90)
        pid = json.loads((out / "ranks" / "1.json").read_text())["pid"]
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        error = t.wait_for(lambda e: e["type"] == "error", timeout=30)
        assert error["rank"] == 1 and "rank 1" in error["message"] and error["fatal"] is True
        code = t.proc.wait(timeout=60)
        assert code != 0
        assert time.monotonic() - killed < 60  # ended, not hung on a collective
    finally:
        t.kill()
    events = read_events(out)
    check_events(events)
    assert of_type(events, "done")[-1]["reason"] == "error"


def test_rank_failing_before_the_process_group_ends_the_run_with_an_error_naming_it(token_dir, fast_config, tmp_path):
    out = tmp_path / "early"
    started = time.monotonic()
    # Test hook (hima.app.distributed): rank 1 raises just before init_process_group; rank 0 is then waiting in
    # the rendezvous, where only its peer watch can still act.
    result = run_torchrun(token_dir, out, fast_config, "--max-steps", "5", env={"HIMA_TEST_FAIL_BEFORE_GROUP": "1"}, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    events = events_of(result.stdout)
    check_events(events)
    assert events == read_events(out)
    assert [e["type"] for e in events] == ["error", "done"], events
    error, done = events
    assert error["rank"] == 1 and error["fatal"] is True
    assert "rank 1 failed: RuntimeError: rank 1 failed before joining the process group" in error["message"]
    assert done["reason"] == "error" and done["step"] == 0
    # Not the 60 s collective timeout, nor torchrun's 30 s wait before SIGKILL: rank 0 ended on its own.
    assert elapsed < 25, elapsed


def test_more_processes_than_gpus_fail_on_every_rank_with_one_clear_message(monkeypatch):
    from hima.app import distributed

    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(distributed.torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    for rank in range(4):  # every rank decides alike, before any of them touches a GPU or the process group
        monkeypatch.setenv("LOCAL_RANK", str(rank))
        for device in ("auto", "cuda"):
            with pytest.raises(ConfigError, match="^4 processes need 4 GPUs; this machine has 2 "):
                distributed.local_device(device)
        assert distributed.local_device("cpu") == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.local_device("cuda") == "cuda:1"


def test_rank_reports_of_an_earlier_launch_are_not_taken_for_this_one(tmp_path, monkeypatch):
    from hima.app.rank_watch import RankReports

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "earlier")
    old = RankReports(str(tmp_path), 1, 2)
    old.starting()
    old.failed("out of memory")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "now")
    watcher = RankReports(str(tmp_path), 0, 2)
    assert watcher.peer_failure(1) is None  # the error file (and the pid) belong to the earlier launch
    RankReports(str(tmp_path), 1, 2).failed("CUDA error: invalid device ordinal")
    assert watcher.peer_failure(1) == "CUDA error: invalid device ordinal"
