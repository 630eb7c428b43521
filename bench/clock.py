"""Step timing without a device sync inside the measured window.

On CUDA each boundary is a recorded cuda.Event; elapsed times are read once, after one synchronize at
the end of the run. Consecutive steps share a boundary event, so time the GPU sat idle waiting for
the CPU (launch-bound steps, data loading) is counted, not hidden between two separate events.
"""
from __future__ import annotations

import time

import torch


class _CpuMark:
    def __init__(self) -> None:
        self.t = time.perf_counter()


class StepClock:
    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self._intervals: list[tuple[object, object]] = []
        self._start: object | None = None

    def _mark(self) -> object:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return _CpuMark()

    def begin(self) -> None:
        """Start timing the next step (after work that must not be counted, e.g. an evaluation)."""
        self._start = self._mark()

    def step_done(self) -> None:
        """End the current step; the next step starts at the same boundary."""
        assert self._start is not None, "begin() before step_done()"
        end = self._mark()
        self._intervals.append((self._start, end))
        self._start = end

    def step_ms(self) -> list[float]:
        """Milliseconds per step, in step order. Synchronizes once."""
        if self.cuda:
            torch.cuda.synchronize()
            return [a.elapsed_time(b) for a, b in self._intervals]  # type: ignore[attr-defined]
        return [(b.t - a.t) * 1000.0 for a, b in self._intervals]  # type: ignore[attr-defined]
