"""Control lines on stdin: a reader thread queues raw lines; the training loop drains the queue at each
step boundary and parses every line here. Each line ends as exactly one `ack` or `rejected` event.

A bad line never stops training: anything unreadable becomes a ControlRejected with a reason a user
can act on. EOF on stdin means "no more controls", not "stop".
"""
from __future__ import annotations

import json
import os
import queue
import threading
from typing import Any

from .protocol import SchemaError, control_types, definition, validate

MAX_LINE_BYTES = 64 * 1024
TOO_LONG = object()  # queued in place of a line longer than MAX_LINE_BYTES (its bytes are discarded)
TIER_CONTROLS = ("set_cutoffs", "pin", "unpin")


class ControlRejected(Exception):
    def __init__(self, control_id: str | None, reason: str):
        super().__init__(reason)
        self.control_id = control_id
        self.reason = reason


class ControlReader:
    """Reads lines from a file descriptor on a daemon thread into a queue (bounded line length).

    Raw os.read() on the descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader
    holds its lock, and the interpreter then aborts at exit ("could not acquire lock ... at shutdown").
    """

    def __init__(self, fd: int):
        self.lines: queue.Queue = queue.Queue()
        self._fd = fd
        self.eof = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hima-control-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        discarding = False  # inside a line that already went over the limit
        try:
            while True:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    break
                pending += chunk
                while True:
                    newline = pending.find(b"\n")
                    if newline < 0:
                        if len(pending) > MAX_LINE_BYTES:
                            if not discarding:
                                self.lines.put(TOO_LONG)
                            discarding, pending = True, b""
                        break
                    line, pending = pending[:newline], pending[newline + 1:]
                    if discarding:
                        discarding = False  # the end of the over-long line
                    elif len(line) > MAX_LINE_BYTES:
                        self.lines.put(TOO_LONG)
                    elif line.strip():
                        self.lines.put(line)
            if pending.strip() and not discarding:
                self.lines.put(pending)  # a last line without its newline still counts
        except OSError:
            pass  # stdin closed under us: same as EOF
        finally:
            self.eof.set()

    def pending(self) -> list[Any]:
        """Every line queued so far, without blocking."""
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    def wait(self, timeout: float) -> Any | None:
        """One queued line, waiting up to `timeout` seconds (None if none came)."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def parse_control(raw: Any) -> dict:
    """A queued line -> a control object that matches the schema, or ControlRejected."""
    if raw is TOO_LONG:
        raise ControlRejected(None, f"control line longer than {MAX_LINE_BYTES} bytes; ignored")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ControlRejected(None, "control line is not valid UTF-8") from None
    try:
        obj = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise ControlRejected(None, f"control line is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise ControlRejected(None, f"a control line must be a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    control_id = raw_id if isinstance(raw_id, str) and 1 <= len(raw_id) <= 128 else None
    kinds = control_types()
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        raise ControlRejected(control_id, f"unknown control type {json.dumps(kind)}; expected one of {', '.join(kinds)}")
    try:
        validate(obj, definition(kinds[kind]), "control")
    except SchemaError as e:
        raise ControlRejected(control_id, str(e)) from None
    if kind == "set_cutoffs" and obj["hot"] > obj["warm"]:
        raise ControlRejected(control_id, f"hot ({obj['hot']}) must not exceed warm ({obj['warm']})")
    return obj


def apply_tier_control(hima: Any, method: str, control: dict) -> None:
    """Apply set_cutoffs / pin / unpin to the engine (takes effect at the next step); ControlRejected if refused."""
    cid, kind = control["id"], control["type"]
    if method == "full":
        raise ControlRejected(cid, f"method 'full' updates every tensor every step; it has no tiers to {kind.replace('_', ' ')}")
    if kind in ("pin", "unpin") and control["name"] not in set(hima.names):
        raise ControlRejected(cid, f"unknown tensor {json.dumps(control['name'])}")
    try:
        if kind == "set_cutoffs":
            hima.set_cutoffs(control["hot"], control["warm"])
        elif kind == "pin":
            hima.pin(control["name"], control["tier"])
        else:
            hima.unpin(control["name"])
    except (ValueError, KeyError) as e:
        reason = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
        raise ControlRejected(cid, reason) from None
