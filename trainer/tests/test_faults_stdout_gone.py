"""The window that launched the trainer goes away: its stdout pipe closes. Training must go on, with
events.jsonl as the record, and end normally."""
import json
import subprocess

from conftest import read_events, trainer_cmd


def test_training_goes_on_after_the_stdout_reader_goes_away(token_dir, fast_config, tmp_path):
    out = tmp_path / "run"
    stderr_log = open(tmp_path / "stderr.log", "w")  # what the detached launcher does with stderr
    proc = subprocess.Popen(trainer_cmd(token_dir, out, fast_config, "--max-steps", "40", "--eval-every", "0"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_log)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "hello"
        proc.stdout.close()  # the reader end is gone: the trainer's next stdout write gets EPIPE
        lines_when_closed = len((out / "events.jsonl").read_text().splitlines())
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stderr_log.close()
    events = read_events(out)  # every line parses: nothing torn or doubled by the failed writes
    assert len(events) > lines_when_closed
    assert [e["step"] for e in events if e["type"] == "step"] == list(range(1, 41))
    assert events[-1]["type"] == "done" and events[-1]["reason"] == "completed"
    stderr = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-2000:]
