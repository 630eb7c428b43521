import io
import json
import math

import pytest

from hima.events import EventWriter


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
