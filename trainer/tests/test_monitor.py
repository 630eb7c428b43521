"""hima.monitor.RunMonitor: a user's own loop writes a run folder the panel follows, and answers its controls."""
import json
import os
import socket
import threading
import time

import jsonschema
import pytest
import torch
from torch import nn

from hima import HiMA, HiMAConfig
from hima.monitor import RunMonitor
from hima.protocol import RUN_FOLDER, definition, schema, validate, validate_event


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 1))


def batch(step):
    g = torch.Generator().manual_seed(step)
    x = torch.randn(16, 8, generator=g)
    return x, x[:, :1] * x[:, 1:2]


def engine(model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    return HiMA(model, opt, HiMAConfig(layout="tensor", first_retier=2, retier_every=2, probe_every=0))


def train(model, hima_or_opt, monitor, steps, start=0):
    for s in range(start, start + steps):
        x, y = batch(s)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        hima_or_opt.step()
        hima_or_opt.zero_grad()
        monitor.step(loss, tokens=len(x))


def read_events(out):
    events = [json.loads(line) for line in (out / RUN_FOLDER["events"]).read_text().splitlines()]
    validator = jsonschema.Draft202012Validator(schema())
    for event in events:
        validate_event(event)  # the trainer's own validator
        validator.validate({"event": event})  # and the reference implementation
    return events


def send(monitor, *controls):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(monitor._channel.path))
        s.sendall("".join(json.dumps({"v": 1, **c}) + "\n" for c in controls).encode())


def answered(out, ids):
    return {e["id"]: e for e in read_events(out) if e["type"] in ("ack", "rejected") and e["id"] in ids}


def answer(monitor, out, *ids, timeout=10.0):
    """Step boundaries until every control id is acked or rejected (the socket thread queues them meanwhile)."""
    deadline = time.monotonic() + timeout
    while len(got := answered(out, ids)) < len(ids):
        assert time.monotonic() < deadline, f"unanswered: {set(ids) - set(got)}"
        monitor.boundary()
        time.sleep(0.01)
    return got


def test_plain_loop_without_hima_writes_a_valid_run(tmp_path):
    out = tmp_path / "plain-run"
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    with RunMonitor(out, model, optimizer=opt, max_steps=6, memory_every=3) as monitor:
        assert (out / RUN_FOLDER["control_socket"]).exists()
        train(model, opt, monitor, 6)
    events = read_events(out)
    types = [e["type"] for e in events]
    assert types[0] == "hello" and types[-1] == "done" and "tiers" not in types
    hello = events[0]
    assert hello["run_id"] == "plain-run" and hello["method"] == "full" and hello["max_steps"] == 6
    assert [t["name"] for t in hello["tensors"]] == [n for n, _ in model.named_parameters()]
    steps = [e for e in events if e["type"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5, 6]
    assert steps[0]["lr"] == pytest.approx(1e-2) and steps[0]["tokens_per_s"] > 0
    memory = [e for e in events if e["type"] == "memory"]
    assert memory[-1]["optimizer_state_bytes"]["total"] > 0  # AdamW's moments, read from the optimizer
    assert events[-1]["reason"] == "completed" and events[-1]["step"] == 6
    record = json.loads((out / RUN_FOLDER["trainer_record"]).read_text())
    assert record["pid"] == os.getpid() and record["run_id"] == "plain-run"
    assert record["control_socket"].endswith(RUN_FOLDER["control_socket"])
    assert not (out / RUN_FOLDER["control_socket"]).exists()  # removed at close


def test_the_trainer_record_names_the_monitor_and_the_lock_stays_open_while_it_runs(tmp_path):
    # The extension finds a user's script through trainer.json and takes its pid for this run's writer only
    # while that process holds <run>/trainer.lock open (src/run/TrainerRecord.ts): the script's command line
    # need not name the run folder.
    out = tmp_path / "own-run"
    model = mlp()
    lock = out / RUN_FOLDER["trainer_lock"]
    with RunMonitor(out, model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1)) as monitor:
        record = json.loads((out / RUN_FOLDER["trainer_record"]).read_text())
        validate(record, definition("TrainerRecord"), "trainer record")
        assert record["writer"] == "monitor" and record["pid"] == os.getpid()
        assert lock_is_open(lock)
        monitor.step(0.5)
    assert not lock_is_open(lock)  # released at close: the run is no longer live


def lock_is_open(path):
    target = os.stat(path)
    for fd in os.listdir("/proc/self/fd"):
        try:
            st = os.stat(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            return True
    return False


def test_with_hima_tiers_and_memory_follow_the_engine(tmp_path):
    out = tmp_path / "run"
    model = mlp()
    hima = engine(model)
    with RunMonitor(out, hima=hima, max_steps=8, log_every=4) as monitor:
        train(model, hima, monitor, 8)
    events = read_events(out)
    assert events[0]["method"] == "hima" and events[0]["cutoffs"] == {"hot": 0.3, "warm": 0.6}
    tiers = [e for e in events if e["type"] == "tiers"]
    assert tiers[0]["step"] == 0 and any(e["transitions"] for e in tiers[1:])
    assert tiers[-1]["counts"] == {t: v for t, v in hima.counts().items()}
    assert [e["step"] for e in events if e["type"] == "step"] == [4, 8]
    done = events[-1]
    assert done["summary"]["counts"]["cold"]["tensors"] > 0
    assert done["summary"]["transitions"] == sum(len(e["transitions"]) for e in tiers)


def test_controls_on_the_socket_are_applied_at_a_step_boundary_and_answered(tmp_path):
    out = tmp_path / "run"
    model = mlp()
    hima = engine(model)
    with RunMonitor(out, hima=hima) as monitor:
        train(model, hima, monitor, 3)
        send(monitor,
             {"type": "set_cutoffs", "id": "c1", "hot": 0.2, "warm": 0.5},
             {"type": "pin", "id": "p1", "name": "0.weight", "tier": "cold"},
             {"type": "pin", "id": "p2", "name": "nope", "tier": "cold"},
             {"type": "set_cutoffs", "id": "bad", "hot": 0.8, "warm": 0.5})
        got = answer(monitor, out, "c1", "p1", "p2", "bad")
        assert hima.cutoffs == (0.2, 0.5) and hima.tier_of("0.weight") == "cold"
        train(model, hima, monitor, 1, start=3)
    assert got["c1"]["type"] == got["p1"]["type"] == "ack" and got["c1"]["effective_step"] == 3
    assert got["p2"]["type"] == "rejected" and "unknown tensor" in got["p2"]["reason"]
    assert got["bad"]["type"] == "rejected" and "must not exceed" in got["bad"]["reason"]
    events = read_events(out)
    after = [e for e in events if e["type"] == "tiers" and e["cutoffs"] == {"hot": 0.2, "warm": 0.5}]
    assert after[0]["step"] == 3  # shown at the boundary that applied them, before the next step
    assert next(t for t in after[0]["tensors"] if t["name"] == "0.weight") == \
        {"name": "0.weight", "tier": "cold", "score": pytest.approx(after[0]["tensors"][0]["score"]), "pinned": True}


def test_pause_blocks_the_loop_until_resumed_and_stop_ends_it(tmp_path):
    out = tmp_path / "run"
    model = mlp()
    hima = engine(model)
    monitor = RunMonitor(out, hima=hima)
    train(model, hima, monitor, 2)
    resumed = threading.Event()

    def resume_once_paused():
        # From another thread, as the panel would: the loop is blocked in its boundary, answering controls.
        deadline = time.monotonic() + 10
        while not answered(out, ["pause"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        send(monitor, {"type": "resume", "id": "resume"})
        resumed.set()

    threading.Thread(target=resume_once_paused, daemon=True).start()
    send(monitor, {"type": "pause", "id": "pause"})
    while not monitor.paused:
        monitor.boundary()  # returns once the pause has come and gone
        if resumed.is_set() and answered(out, ["resume"]):
            break
    assert resumed.is_set() and not monitor.paused
    assert answered(out, ["pause", "resume"]).keys() == {"pause", "resume"}
    send(monitor, {"type": "stop", "id": "stop"}, {"type": "resume", "id": "again"})
    got = answer(monitor, out, "stop", "again")
    assert monitor.should_stop and got["again"]["type"] == "rejected"
    monitor.close()
    events = read_events(out)
    assert [e["state"] for e in events if e["type"] == "status"] == ["paused", "running"]
    assert events[-1]["type"] == "done" and events[-1]["reason"] == "stopped"


def test_without_hima_tier_controls_and_checkpoints_are_rejected_with_a_reason(tmp_path):
    out = tmp_path / "run"
    model = mlp()
    with RunMonitor(out, model) as monitor:
        send(monitor, {"type": "set_cutoffs", "id": "c", "hot": 0.1, "warm": 0.2}, {"type": "checkpoint", "id": "k"})
        got = answer(monitor, out, "c", "k")
    assert "no HiMA engine" in got["c"]["reason"] and "checkpoint hook" in got["k"]["reason"]


def test_a_checkpoint_control_calls_the_save_hook(tmp_path):
    out = tmp_path / "run"
    model = mlp()
    saved = []

    def save():
        path = str(tmp_path / f"model-{len(saved)}.pt")
        torch.save(model.state_dict(), path)
        saved.append(path)
        return path

    with RunMonitor(out, model, save=save) as monitor:
        send(monitor, {"type": "checkpoint", "id": "k"})
        answer(monitor, out, "k")
    events = read_events(out)
    assert [e["path"] for e in events if e["type"] == "checkpoint"] == saved
    assert events[-1]["summary"]["checkpoint"] == saved[0]


def test_controls_from_many_threads_are_each_answered_once(tmp_path):
    out = tmp_path / "run"
    model = mlp()
    hima = engine(model)
    ids = [f"t{i}-{j}" for i in range(4) for j in range(5)]
    with RunMonitor(out, hima=hima) as monitor:
        threads = [threading.Thread(target=send, args=(monitor, *[
            {"type": "set_cutoffs", "id": f"t{i}-{j}", "hot": 0.1 * j, "warm": 0.6} for j in range(5)]))
            for i in range(4)]
        for t in threads:
            t.start()
        step = 0
        deadline = time.monotonic() + 20
        while len(answered(out, ids)) < len(ids):
            assert time.monotonic() < deadline
            train(model, hima, monitor, 1, start=step)  # controls land between steps, never during one
            step += 1
        for t in threads:
            t.join()
    answers = [e for e in read_events(out) if e["type"] in ("ack", "rejected")]
    assert sorted(e["id"] for e in answers) == sorted(ids)


def test_non_finite_loss_is_an_error_line_not_a_step(tmp_path):
    out = tmp_path / "run"
    with RunMonitor(out, mlp(), controls=False) as monitor:
        monitor.step(1.5)
        monitor.step(float("nan"))
        monitor.eval(1.25)
    events = read_events(out)
    assert [e["loss"] for e in events if e["type"] == "step"] == [1.5]
    error = next(e for e in events if e["type"] == "error")
    assert not error["fatal"] and "loss became nan at step 2" in error["message"]
    assert error["cause"] == "non_finite_loss"  # what the panel's and the CLI's NaN alert read
    assert events[-1]["summary"]["last_val_loss"] == 1.25
    assert json.loads((out / RUN_FOLDER["trainer_record"]).read_text())["control_socket"] is None


def test_an_exception_in_the_loop_ends_the_run_with_an_error(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with RunMonitor(out, mlp()) as monitor:
            monitor.step(1.0)
            raise RuntimeError("data loader broke")
    events = read_events(out)
    error = next(e for e in events if e["type"] == "error")
    assert error["fatal"] and error["message"] == "RuntimeError: data loader broke"
    assert events[-1]["type"] == "done" and events[-1]["reason"] == "error"


def test_one_writer_per_run_folder(tmp_path):
    out = tmp_path / "run"
    model = mlp()
    with RunMonitor(out, model):
        with pytest.raises(ValueError, match="in use by another trainer"):
            RunMonitor(out, model)
    RunMonitor(out, model).close()  # released at close: the folder can be written again


def test_import_hima_does_not_load_the_monitor():
    import subprocess
    import sys
    code = "import sys, hima; print('hima.monitor' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
