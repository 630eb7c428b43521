import io
import json
import math
import os
import sys
import threading

import pytest

from hima.app.events import EventWriter


def test_each_event_is_one_line_in_the_stream_and_the_file(tmp_path):
    stream = io.StringIO()
    writer = EventWriter(str(tmp_path), stream)
    writer.emit("eval", step=1, val_loss=2.0)
    writer.emit("status", step=1, state="paused")
    writer.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert lines == stream.getvalue().splitlines()
    assert [json.loads(l)["type"] for l in lines] == ["eval", "status"]
    assert json.loads(lines[0]) == {"v": 1, "type": "eval", "step": 1, "val_loss": 2.0}


def test_non_finite_numbers_are_refused(tmp_path):
    writer = EventWriter(str(tmp_path), None)
    with pytest.raises(ValueError):
        writer.emit("eval", step=1, val_loss=math.nan)
    writer.close()
    assert (tmp_path / "events.jsonl").read_text() == ""  # nothing half-written


def test_a_resumed_segment_starts_on_a_fresh_line_after_a_torn_one(tmp_path):
    (tmp_path / "events.jsonl").write_text('{"v":1,"type":"eval","step":1,"val_loss":2}\n{"v":1,"type":"st')
    writer = EventWriter(str(tmp_path), None)
    writer.emit("eval", step=2, val_loss=1.5)
    writer.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert lines[1] == '{"v":1,"type":"st'  # the torn line stays visible as what it is
    assert json.loads(lines[2])["step"] == 2


def test_a_closed_stdout_does_not_stop_the_file(tmp_path):
    class Gone(io.StringIO):
        def write(self, s):
            raise BrokenPipeError

    writer = EventWriter(str(tmp_path), Gone())
    writer.emit("eval", step=1, val_loss=2.0)
    writer.emit("eval", step=2, val_loss=1.0)
    writer.close()
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 2


def test_concurrent_emits_give_whole_lines_in_the_same_order_on_stdout_and_in_the_file(tmp_path):
    # Rank 0's peer watcher emits from its own thread while the training loop emits: no line may be torn,
    # interleaved or ordered differently on the two outputs. stdout is a real pipe, as in the CLI.
    read_fd, write_fd = os.pipe()
    stdout = os.fdopen(write_fd, "w", encoding="utf-8", buffering=1)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.extend(iter(lambda: os.read(read_fd, 65536), b"")))
    reader.start()
    writer = EventWriter(str(tmp_path), stdout)
    threads, per_thread = 8, 200
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to give a race every chance
    try:
        def emit_many(thread: int) -> None:
            for i in range(per_thread):
                writer.emit("error", message=f"thread {thread} event {i} " + "x" * (i % 50), fatal=False, rank=thread)

        workers = [threading.Thread(target=emit_many, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(old_interval)
    writer.close()
    stdout.close()
    reader.join(timeout=10)
    os.close(read_fd)

    stream_lines = b"".join(received).decode().splitlines()
    file_lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert stream_lines == file_lines
    events = [json.loads(line) for line in file_lines]  # every line is whole, valid JSON
    assert len(events) == threads * per_thread
    for t in range(threads):  # each thread's events, all there, in its order
        mine = [e["message"].split()[3] for e in events if e["rank"] == t]
        assert mine == [str(i) for i in range(per_thread)]
