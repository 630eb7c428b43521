"""A real trainer under a storm of hostile control lines, on stdin and on its socket at once: every
line is answered (ack or rejected), training goes on, and the run ends with `done` within a time bound."""
import json
import random
import socket
import time

from conftest import read_events, trainer_cmd

LINES = 300
TIME_BOUND_S = 120
STEPS = 30
HTML_NAME = "<img src=x onerror=alert(1)>"


def hostile_line(rng: random.Random, tensor_names: list[str]) -> bytes:
    kind = rng.random()
    if kind < 0.3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))).replace(b"\n", b" ")
    if kind < 0.35:
        return b"{" * rng.randrange(1, 50_000) if rng.random() < 0.5 else b"x" * 70_000  # deep or over-long
    if kind < 0.5:
        junk = rng.choice([[], {}, None, 1e308, -0.0, "\u202e", [[[]]], {"type": None}, True, "x" * 500])
        return json.dumps(junk).encode()
    control = {"v": rng.choice([1, 1, 1, 2, "1"]), "id": rng.choice(["", "x" * 129, f"c{rng.randrange(10**6)}", None, 7])}
    control["type"] = rng.choice(["set_cutoffs", "pin", "unpin", "resume", "checkpoint" if rng.random() < 0.05 else "nope", "STOP"])
    if control["type"] == "set_cutoffs":
        control.update(hot=rng.uniform(-0.2, 1.2), warm=rng.uniform(-0.2, 1.2))
    elif control["type"] in ("pin", "unpin"):
        control.update(name=rng.choice(tensor_names + [HTML_NAME, "", "../../etc"]), tier=rng.choice(["hot", "warm", "cold", "lava"]))
    if rng.random() < 0.2:
        control[rng.choice(["extra", "hot", "__proto__"])] = rng.choice([1, "2", None, [], {}])
    return json.dumps(control).encode()


def test_a_storm_of_hostile_lines_on_stdin_and_socket_is_answered_and_training_ends(token_dir, fast_config, tmp_path, live_trainer):
    rng = random.Random(7)
    out, sock = tmp_path / "run", str(tmp_path / "control.sock")
    started = time.monotonic()
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", str(STEPS), "--eval-every", "0", "--control-socket", sock))
    hello = t.wait_for(lambda e: e["type"] == "hello")
    names = [x["name"] for x in hello["tensors"]]
    lines = [hostile_line(rng, names) for _ in range(LINES - 1)]
    lines.append(json.dumps({"v": 1, "type": "pin", "id": "html", "name": HTML_NAME, "tier": "cold"}).encode())
    assert not any(b"\n" in line for line in lines)
    answerable = sum(1 for line in lines if line.strip())

    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(sock)
    with client:
        for i, line in enumerate(lines):
            if i % 2:
                client.sendall(line + b"\n")
            else:
                t.proc.stdin.buffer.write(line + b"\n")
                t.proc.stdin.flush()
    t.proc.stdin.close()  # EOF on stdin: no more controls, not a stop

    done = t.wait_for(lambda e: e["type"] == "done", timeout=TIME_BOUND_S)
    assert done["reason"] == "completed" and done["step"] == STEPS
    assert t.finish() == 0
    assert time.monotonic() - started < TIME_BOUND_S
    answers = [e for e in t.events if e["type"] in ("ack", "rejected")]
    assert len(answers) == answerable, (len(answers), answerable)
    assert sum(e["type"] == "rejected" for e in answers) > LINES // 2
    html = next(e for e in answers if e["id"] == "html")
    assert html["type"] == "rejected" and HTML_NAME in html["reason"]  # quoted back as plain text
    assert read_events(out) == t.events  # the file holds the same complete lines as stdout
