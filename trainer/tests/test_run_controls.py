"""Controls over a real trainer's stdin: every line is acked or rejected, tier controls show up in the
next `tiers` event, pause holds the step count while controls are still answered, stop ends cleanly."""
import jsonschema

from conftest import read_events, run_trainer, trainer_cmd
from hima.app.control import MAX_LINE_BYTES
from hima.protocol import schema

PINNED = "transformer.h.0.mlp.c_fc.weight"


def answer(trainer, control_id=None):
    return trainer.wait_for(lambda e: e["type"] in ("ack", "rejected") and (control_id is None or e["id"] == control_id))


def test_controls_over_stdin(token_dir, fast_config, tmp_path, live_trainer):
    t = live_trainer(trainer_cmd(token_dir, tmp_path / "ctl", fast_config, "--max-steps", "100000", "--eval-every", "0"))
    hello = t.wait_for(lambda e: e["type"] == "hello")
    total = sum(x["numel"] for x in hello["tensors"])
    t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 6)  # past the first re-tier

    # Bad lines: each gets a reason, training goes on.
    bad = [
        ("{not json", None, "not valid JSON"),
        ('{"v":1,"type":"set_cutoffs","id":"nan","hot":NaN,"warm":0.5}', None, "NaN"),
        ({"v": 1, "type": "set_cutoffs", "id": "inv", "hot": 0.8, "warm": 0.2}, "inv", "must not exceed warm"),
        ({"v": 1, "type": "set_cutoffs", "id": "neg", "hot": -0.1, "warm": 0.2}, "neg", ">= 0"),
        ({"v": 1, "type": "pin", "id": "who", "name": "no.such.tensor", "tier": "cold"}, "who", "unknown tensor"),
        ({"v": 1, "type": "warp", "id": "w"}, "w", "unknown control type"),
        ({"v": 1, "type": "pause"}, None, "missing required field 'id'"),
        ({"v": 1, "type": "resume", "id": "notpaused"}, "notpaused", "not paused"),
        ("x" * (MAX_LINE_BYTES + 10), None, "longer than"),
        ("[]", None, "JSON object"),
    ]
    for line, _, _ in bad:
        t.send(line)
    for _, control_id, reason in bad:
        event = answer(t)
        assert event["type"] == "rejected" and event["id"] == control_id and reason in event["reason"], event
    before = t.wait_for(lambda e: e["type"] == "step")["step"]
    assert t.wait_for(lambda e: e["type"] == "step")["step"] > before  # still training

    # set_cutoffs: acked, and the next tiers event shows the new cutoffs and a Cold share of about 1 - warm.
    t.send({"v": 1, "type": "set_cutoffs", "id": "cut", "hot": 0.1, "warm": 0.2})
    ack = answer(t, "cut")
    assert ack["type"] == "ack" and ack["control"] == "set_cutoffs"
    tiers = t.wait_for(lambda e: e["type"] == "tiers")
    assert tiers["step"] == ack["effective_step"] + 1
    assert tiers["cutoffs"] == {"hot": 0.1, "warm": 0.2}
    assert tiers["counts"]["cold"]["elements"] >= 0.7 * total  # norms are pinned Hot by policy

    # pin: the tensor is Cold and pinned in the next tiers event.
    t.send({"v": 1, "type": "pin", "id": "p", "name": PINNED, "tier": "cold"})
    assert answer(t, "p")["type"] == "ack"
    tiers = t.wait_for(lambda e: e["type"] == "tiers")
    entry = next(x for x in tiers["tensors"] if x["name"] == PINNED)
    assert entry == {**entry, "tier": "cold", "pinned": True}

    # pause: no steps while paused, controls still answered (a checkpoint at the paused step).
    t.send({"v": 1, "type": "pause", "id": "zz"})
    paused_at = answer(t, "zz")["effective_step"]
    assert t.wait_for(lambda e: e["type"] == "status") == {"v": 1, "type": "status", "step": paused_at, "state": "paused"}
    t.send({"v": 1, "type": "checkpoint", "id": "save"})
    assert answer(t, "save")["type"] == "ack"
    assert t.next_event()["type"] == "checkpoint"
    t.send({"v": 1, "type": "pause", "id": "again"})
    assert "already paused" in answer(t, "again")["reason"]
    t.send({"v": 1, "type": "resume", "id": "go"})
    assert answer(t, "go")["effective_step"] == paused_at
    assert t.next_event()["state"] == "running"
    assert t.wait_for(lambda e: e["type"] == "step")["step"] == paused_at + 1
    # every event between pause and resume was at the paused step: nothing trained meanwhile
    window = t.events[t.events.index(next(e for e in t.events if e.get("id") == "zz")):]
    assert all(e.get("step", paused_at) == paused_at for e in window[:-1])

    # stop: finish the step, checkpoint, done, exit 0.
    t.send({"v": 1, "type": "stop", "id": "end"})
    stop_step = answer(t, "end")["effective_step"]
    assert t.finish() == 0
    tail = [e["type"] for e in t.events[-3:]]
    assert tail == ["checkpoint", "memory", "done"]
    assert t.events[-1]["reason"] == "stopped" and t.events[-1]["step"] == stop_step
    assert (tmp_path / "ctl" / "checkpoints" / f"ckpt-{stop_step:08d}.pt").is_file()
    full = schema()
    for event in t.events:
        jsonschema.validate({"event": event}, full)


def test_sigterm_is_a_graceful_stop_and_the_run_resumes_in_its_folder(token_dir, fast_config, tmp_path, live_trainer):
    out = tmp_path / "term"
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--eval-every", "0"))
    t.wait_for(lambda e: e["type"] == "step" and e["step"] >= 2)
    t.proc.terminate()
    assert t.finish() == 0
    assert t.events[-1]["type"] == "done" and t.events[-1]["reason"] == "stopped"
    stopped_at = t.events[-1]["step"]
    assert any(e["type"] == "checkpoint" and e["step"] == stopped_at for e in t.events)

    # Resume from the run folder (its `latest` checkpoint) for two more steps: same log, marked by a hello.
    more = run_trainer(token_dir, out, fast_config, "--resume", str(out), "--max-steps", str(stopped_at + 2))
    assert more.returncode == 0, more.stderr[-3000:]
    log = read_events(out)
    hellos = [e for e in log if e["type"] == "hello"]
    assert [h["start_step"] for h in hellos] == [0, stopped_at] and hellos[1]["run_id"] == "term"
    assert [e["step"] for e in log if e["type"] == "step"][-2:] == [stopped_at + 1, stopped_at + 2]


def test_eof_on_stdin_is_not_a_stop(token_dir, fast_config, tmp_path, live_trainer):
    out = tmp_path / "eof"
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "8", "--eval-every", "0", "--quiet-stdout"))
    t.proc.stdin.close()
    assert t.finish() == 0
    assert t.events == []  # --quiet-stdout: events only in the file
    events = read_events(out)
    assert events[-1]["reason"] == "completed" and events[-1]["step"] == 8
