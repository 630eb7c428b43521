"""EventWriter: every protocol event as one JSON line, on stdout and in <out>/events.jsonl.

Each line is written with a single write() and flushed at once, so a crash can tear at most the very
last line of the file. Non-finite numbers are refused (JSON has no NaN); the loop turns a NaN loss
into an `error` event instead.
"""
from __future__ import annotations

import json
import os
from typing import IO, Any

from .protocol import PROTOCOL_VERSION


class EventWriter:
    def __init__(self, out_dir: str | None, stdout: IO[str] | None):
        """`stdout`: the stream for the event lines (None: file only, e.g. --quiet-stdout)."""
        self._stdout = stdout
        self._file: IO[str] | None = None
        self.path: str | None = None
        if out_dir is not None:
            os.makedirs(out_dir, exist_ok=True)
            self.path = os.path.join(out_dir, "events.jsonl")
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)
            self._start_on_fresh_line()

    def _start_on_fresh_line(self) -> None:
        # A previous segment killed mid-line left a torn last line: end it, so this segment's first
        # event is its own line (readers report the torn one, they never glue two lines together).
        assert self.path is not None and self._file is not None
        size = os.path.getsize(self.path)
        if size:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    self._file.write("\n")
                    self._file.flush()

    def emit(self, type_: str, **fields: Any) -> dict:
        event = {"v": PROTOCOL_VERSION, "type": type_, **fields}
        line = json.dumps(event, allow_nan=False, separators=(",", ":")) + "\n"
        if self._file is not None:
            self._file.write(line)
            self._file.flush()
        if self._stdout is not None:
            try:
                self._stdout.write(line)
                self._stdout.flush()
            except (BrokenPipeError, ValueError):
                # The reader went away (extension reloaded): keep training, the file is the record.
                self._stdout = None
        return event

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
