"""The loop's step timing: a step event's time is training alone, not controls, pauses, events, eval or saves."""
from hima.app import train
from hima.app.train import IntervalClock


def test_time_in_not_training_blocks_is_left_out(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(train.time, "perf_counter", lambda: now[0])
    clock = IntervalClock()
    now[0] += 2.0  # a step
    clock.steps += 1
    with clock.not_training():
        now[0] += 30.0  # a pause at the boundary
    now[0] += 3.0  # another step
    clock.steps += 1
    assert (clock.steps, clock.training_seconds()) == (2, 5.0)
    clock.restart()
    with clock.not_training():
        now[0] += 7.0  # an evaluation right after the step event
    now[0] += 1.0
    assert (clock.steps, clock.training_seconds()) == (0, 1.0)
