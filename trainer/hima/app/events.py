"""EventWriter: every protocol event as one JSON line, on stdout and in <out>/events.jsonl.

Each line goes to the file with one write() on an O_APPEND descriptor (no user-space buffer that a
crash could cut in two), so a crash can tear at most the very last line of the file. Non-finite
numbers are refused (JSON has no NaN); the loop turns a NaN loss into an `error` event instead.

The log is private (0600 in a 0700 folder) and never opened through a symbolic link (hima.app.run_folder).
A write that fails (no space left on the device) is undone: the file is cut back to where the line began,
so the log stays whole lines; emit raises DiskFullError naming the file, and the error path reports with
try_emit, which cannot raise (its line still reaches stdout, and the file if there is room again).

stdout is a courtesy copy for whoever launched the trainer: when that reader goes away (the VS Code
window closed or reloaded), writing to it fails with EPIPE and the trainer carries on with the file
alone; the file is the record.
"""
from __future__ import annotations

import json
import os
import threading
from typing import IO, Any

from ..protocol import PROTOCOL_VERSION, RUN_FOLDER
from .run_folder import open_entry, private_folder, raise_if_disk_full

EVENTS_FILE = RUN_FOLDER["events"]


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
            private_folder(out_dir)
            self.path = os.path.join(out_dir, EVENTS_FILE)
            self._fd = open_entry(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
            self._start_on_fresh_line()

    def _start_on_fresh_line(self) -> None:
        # A previous segment killed mid-line left a torn last line: end it, so this segment's first
        # event is its own line (readers report the torn one, they never glue two lines together).
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            self._write_file(b"\n")

    def _write_file(self, data: bytes) -> None:
        """Append `data` whole, or not at all: a failed write is cut back off (DiskFullError for ENOSPC)."""
        assert self._fd is not None and self.path is not None
        start = os.fstat(self._fd).st_size
        view = memoryview(data)
        try:
            while view:  # one call in practice; a short write (disk nearly full) continues, never reorders
                view = view[os.write(self._fd, view):]
        except OSError as e:
            try:
                os.ftruncate(self._fd, start)  # frees what the partial line took: the log ends on a whole line
            except OSError:
                pass
            raise_if_disk_full(e, self.path)
            raise

    def emit(self, type_: str, **fields: Any) -> dict:
        """Write one event; raises (after the stdout copy went out) if the file could not take it."""
        event = {"v": PROTOCOL_VERSION, "type": type_, **fields}
        line = json.dumps(event, allow_nan=False, separators=(",", ":")) + "\n"
        with self._lock:
            failure: OSError | None = None
            if self._fd is not None:
                try:
                    self._write_file(line.encode("utf-8"))
                except OSError as e:
                    failure = e
            self._write_stdout(line)
        if failure is not None:
            raise failure
        return event

    def try_emit(self, type_: str, **fields: Any) -> bool:
        """emit for the error path: never raises; False if the file could not take the line."""
        try:
            self.emit(type_, **fields)
            return True
        except OSError:
            return False

    def _write_stdout(self, line: str) -> None:
        if self._stdout is not None:
            try:
                self._stdout.write(line)
                self._stdout.flush()
            except (OSError, ValueError):
                # EPIPE (the reader went away) or a closed stream: keep training, the file is the record.
                self._drop_stdout()

    def _drop_stdout(self) -> None:
        stream, self._stdout = self._stdout, None
        try:
            stream.close()  # its buffer still holds the failed line; closing now keeps exit quiet
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError:
                    pass  # every line that got in was one write(); nothing to add here
                os.close(self._fd)
                self._fd = None
