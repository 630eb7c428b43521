"""EventWriter: every protocol event as one JSON line, on stdout and in <out>/events.jsonl.

Each line goes to the file with one write() on an O_APPEND descriptor (no user-space buffer that a
crash could cut in two), so a crash can tear at most the very last line of the file. Non-finite
numbers are refused (JSON has no NaN); the loop turns a NaN loss into an `error` event instead.

stdout is a courtesy copy for whoever launched the trainer: when that reader goes away (the VS Code
window closed or reloaded), writing to it fails with EPIPE and the trainer carries on with the file
alone; the file is the record.
"""
from __future__ import annotations

import json
import os
import threading
from typing import IO, Any

from .protocol import PROTOCOL_VERSION

EVENTS_FILE = "events.jsonl"


class EventWriter:
    def __init__(self, out_dir: str | None, stdout: IO[str] | None):
        """`stdout`: the stream for the event lines (None: file only, e.g. --quiet-stdout)."""
        self._stdout = stdout
        # One emit at a time: rank 0's PeerWatch thread emits while the loop does. Without it two lines
        # could interleave on stdout, or reach stdout and the file in different orders.
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.path: str | None = None
        if out_dir is not None:
            os.makedirs(out_dir, exist_ok=True)
            self.path = os.path.join(out_dir, EVENTS_FILE)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._start_on_fresh_line()

    def _start_on_fresh_line(self) -> None:
        # A previous segment killed mid-line left a torn last line: end it, so this segment's first
        # event is its own line (readers report the torn one, they never glue two lines together).
        assert self.path is not None
        size = os.path.getsize(self.path)
        if size:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    self._write_file(b"\n")

    def _write_file(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:  # one call in practice; a short write (disk nearly full) continues, never reorders
            view = view[os.write(self._fd, view):]

    def emit(self, type_: str, **fields: Any) -> dict:
        event = {"v": PROTOCOL_VERSION, "type": type_, **fields}
        line = json.dumps(event, allow_nan=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self._fd is not None:
                self._write_file(line.encode("utf-8"))
            if self._stdout is not None:
                try:
                    self._stdout.write(line)
                    self._stdout.flush()
                except (OSError, ValueError):
                    # EPIPE (the reader went away) or a closed stream: keep training, the file is the record.
                    self._drop_stdout()
        return event

    def _drop_stdout(self) -> None:
        stream, self._stdout = self._stdout, None
        try:
            stream.close()  # its buffer still holds the failed line; closing now keeps exit quiet
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
