"""The control socket: only the user can connect, several clients feed the same queue as stdin, a stale
socket from a killed trainer is replaced, a live one is not, and the file is gone when the trainer exits."""
import json
import os
import queue
import socket
import stat
import time

import pytest

from conftest import read_events, trainer_cmd
from hima.app.control import MAX_SOCKET_PATH_BYTES, SOCKET_PATH_FILE, ControlChannelError, ControlSocket


def connect(path: str) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(path)
    return client


def drain(lines: queue.Queue, count: int, timeout: float = 10) -> list:
    out, deadline = [], time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        try:
            out.append(lines.get(timeout=0.1))
        except queue.Empty:
            pass
    return out


@pytest.fixture
def short_dir(tmp_path):
    # pytest's tmp_path can itself be long; the tests that need a normal-length path make sure of it.
    assert len(os.fsencode(str(tmp_path / "control.sock"))) <= MAX_SOCKET_PATH_BYTES
    return tmp_path


def test_lines_from_several_clients_reach_the_queue_and_the_socket_is_private(short_dir):
    lines: queue.Queue = queue.Queue()
    channel = ControlSocket(str(short_dir / "control.sock"), lines, str(short_dir))
    try:
        assert stat.S_IMODE(os.stat(channel.path).st_mode) == 0o600
        a, b = connect(channel.path), connect(channel.path)
        a.sendall(b'{"from":"a"}\n{"from":')
        b.sendall(b'{"from":"b"}\n')
        a.sendall(b'"a2"}\n')
        got = drain(lines, 3)
        assert sorted(got) == [b'{"from":"a"}', b'{"from":"a2"}', b'{"from":"b"}']  # split per client, never mixed
        a.close()
        b.sendall(b"after a left\n")
        assert drain(lines, 1) == [b"after a left"]
        b.close()
    finally:
        channel.close()
    assert not os.path.exists(channel.path)


def test_a_stale_socket_is_replaced_but_a_live_one_or_a_plain_file_is_not(short_dir):
    path = str(short_dir / "control.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what SIGKILL leaves behind
    first = ControlSocket(path, queue.Queue(), str(short_dir))
    try:
        with pytest.raises(ControlChannelError, match="another process is listening"):
            ControlSocket(path, queue.Queue(), str(short_dir))
    finally:
        first.close()
    plain = short_dir / "not-a-socket"
    plain.write_text("keep me")
    with pytest.raises(ControlChannelError, match="not a socket"):
        ControlSocket(str(plain), queue.Queue(), str(short_dir))
    assert plain.read_text() == "keep me"


def test_a_path_too_long_for_af_unix_moves_to_a_private_folder_named_in_control_path(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/tmp")
    run_dir = tmp_path / ("deep" * 30)
    run_dir.mkdir()
    requested = str(run_dir / "control.sock")
    assert len(requested) > MAX_SOCKET_PATH_BYTES
    lines: queue.Queue = queue.Queue()
    channel = ControlSocket(requested, lines, str(run_dir))
    try:
        assert channel.path != requested and channel.path.startswith("/tmp/hima-")
        assert (run_dir / SOCKET_PATH_FILE).read_text() == channel.path + "\n"
        assert stat.S_IMODE(os.stat(os.path.dirname(channel.path)).st_mode) == 0o700
        with connect(channel.path) as client:
            client.sendall(b"hello\n")
            assert drain(lines, 1) == [b"hello"]
    finally:
        channel.close()
    assert not os.path.exists(os.path.dirname(channel.path))
    assert not (run_dir / SOCKET_PATH_FILE).exists()


def test_a_trainer_takes_controls_over_its_socket_and_removes_it_at_exit(token_dir, fast_config, short_dir, live_trainer):
    out = short_dir / "run"
    sock = str(short_dir / "control.sock")
    t = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "100000", "--control-socket", sock))
    t.wait_for(lambda e: e["type"] == "hello")
    info = json.loads((out / "trainer.json").read_text())
    assert info["pid"] == t.proc.pid and info["control_socket"] == sock and info["run_id"] == "run"
    assert info["argv"][1:4] == ["-m", "hima", "train"] and abs(info["started"] - time.time()) < 120

    with connect(sock) as client:
        client.sendall(b"\xff garbage\n")
        assert t.wait_for(lambda e: e["type"] == "rejected")["reason"] == "control line is not valid UTF-8"
        client.sendall(json.dumps({"v": 1, "type": "stop", "id": "sock-stop"}).encode() + b"\n")
        assert t.wait_for(lambda e: e["type"] == "ack")["id"] == "sock-stop"
    done = t.wait_for(lambda e: e["type"] == "done")
    assert done["reason"] == "stopped"
    assert t.finish() == 0
    assert not os.path.exists(sock)
    assert read_events(out)[-1]["type"] == "done"


def test_a_second_trainer_on_the_same_run_folder_is_refused(token_dir, fast_config, short_dir, live_trainer):
    out = short_dir / "run"
    first = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "100000"))
    first.wait_for(lambda e: e["type"] == "hello")
    size = (out / "events.jsonl").stat().st_size
    second = live_trainer(trainer_cmd(token_dir, out, fast_config, "--max-steps", "10"))
    error = second.wait_for(lambda e: e["type"] == "error")
    assert "in use by another trainer" in error["message"] and str(out) in error["message"]
    assert second.finish() == 2
    first.send({"v": 1, "type": "stop", "id": "s"})
    first.wait_for(lambda e: e["type"] == "done")
    assert first.finish() == 0
    assert not any(e["type"] == "error" for e in read_events(out))  # the refused one wrote nothing there
    assert (out / "events.jsonl").stat().st_size > size


def read_reply(client: socket.socket, timeout: float = 10) -> tuple[list[dict], bool]:
    """What the trainer wrote back before closing, and whether it closed."""
    client.settimeout(timeout)
    data = b""
    try:
        while chunk := client.recv(4096):
            data += chunk
    except socket.timeout:
        return [json.loads(line) for line in data.splitlines()], False
    return [json.loads(line) for line in data.splitlines()], True


def test_a_client_over_the_cap_is_told_why_and_its_control_is_rejected_not_lost(short_dir):
    from hima.app.control import CROWDED_REASON, MAX_SOCKET_CONNECTIONS, ControlRejected, parse_control

    lines: queue.Queue = queue.Queue()
    path = str(short_dir / "control.sock")
    channel = ControlSocket(path, lines, str(short_dir))
    idle = [connect(path) for _ in range(MAX_SOCKET_CONNECTIONS)]  # they hold every place and say nothing
    try:
        time.sleep(0.5)  # all accepted
        late = connect(path)
        late.sendall(json.dumps({"v": 1, "type": "pause", "id": "late"}).encode() + b"\n")
        reply, closed = read_reply(late)
        assert closed and reply == [{"v": 1, "type": "rejected", "id": None, "reason": CROWDED_REASON}]
        [queued] = drain(lines, 1)
        with pytest.raises(ControlRejected) as info:
            parse_control(queued)  # the training loop turns it into a `rejected` event for the panel
        assert (info.value.control_id, info.value.reason) == ("late", CROWDED_REASON)
        idle[0].sendall(b'{"v":1,"type":"resume","id":"r"}\n')  # the connected clients still work
        assert drain(lines, 1) == [b'{"v":1,"type":"resume","id":"r"}']
    finally:
        for c in idle:
            c.close()
        channel.close()


def test_an_idle_client_is_timed_out_and_its_place_freed(short_dir, monkeypatch):
    monkeypatch.setenv("HIMA_CONTROL_IDLE_S", "0.5")
    lines: queue.Queue = queue.Queue()
    path = str(short_dir / "control.sock")
    channel = ControlSocket(path, lines, str(short_dir))
    try:
        sleeper = connect(path)
        reply, closed = read_reply(sleeper)
        assert closed and reply[0]["type"] == "rejected" and "no control line for 0.5 s" in reply[0]["reason"]
        with connect(path) as busy:  # a client that keeps talking is not timed out
            for i in range(4):
                busy.sendall(b'{"v":1,"type":"pause","id":"p%d"}\n' % i)
                time.sleep(0.3)
            assert len(drain(lines, 4)) == 4
    finally:
        channel.close()


def test_turned_away_lines_cross_the_ranks_as_what_they_are():
    from hima.app.control import TOO_LONG, CrowdedLine
    from hima.app.distributed import _decode_lines, _encode_lines

    decoded = _decode_lines(_encode_lines([CrowdedLine(b'{"id":"a"}'), b"plain", TOO_LONG]))
    assert [type(x).__name__ for x in decoded] == ["CrowdedLine", "bytes", "object"]
    assert decoded[0] == b'{"id":"a"}' and decoded[1] == b"plain" and decoded[2] is TOO_LONG
