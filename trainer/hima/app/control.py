"""Control lines on stdin (and on a Unix socket, ControlSocket): reader threads queue raw lines; the
training loop drains the queue at each step boundary and parses every line here. Each line ends as
exactly one `ack` or `rejected` event.

A bad line never stops training: anything unreadable becomes a ControlRejected with a reason a user
can act on. EOF on stdin means "no more controls", not "stop".
"""
from __future__ import annotations

import json
import os
import queue
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from ..protocol import PROTOCOL_VERSION, RUN_FOLDER, SchemaError, control_types, definition, validate

MAX_LINE_BYTES = 64 * 1024
MAX_QUEUED_LINES = 4096  # lines waiting for the next step boundary, over all channels
TOO_LONG = object()  # queued in place of a line longer than MAX_LINE_BYTES (its bytes are discarded)


class CrowdedLine(bytes):
    """A line from a client turned away at the connection cap: it becomes a `rejected` event that says so
    (with the control's id, so the panel shows why instead of *pending*), never a control."""
TIER_CONTROLS = ("set_cutoffs", "pin", "unpin")


class ControlRejected(Exception):
    def __init__(self, control_id: str | None, reason: str):
        super().__init__(reason)
        self.control_id = control_id
        self.reason = reason


class LineSplitter:
    """Bytes in, queued lines out: one queue item per non-blank line, an over-long line becomes one
    TOO_LONG marker and its bytes are dropped as they stream in (memory stays bounded)."""

    def __init__(self, lines: queue.Queue):
        self._lines = lines
        self._pending = bytearray()  # grows in place: appending chunk after chunk stays linear
        self._discarding = False  # inside a line that already went over the limit

    def feed(self, chunk: bytes) -> None:
        # Search only the new bytes: a long line sent a byte at a time must not cost quadratic time.
        scan_from = len(self._pending)
        self._pending += chunk
        while True:
            newline = self._pending.find(b"\n", scan_from)
            scan_from = 0
            if newline < 0:
                if len(self._pending) > MAX_LINE_BYTES:
                    if not self._discarding:
                        self._lines.put(TOO_LONG)
                    self._discarding, self._pending = True, bytearray()
                return
            line, self._pending = bytes(self._pending[:newline]), self._pending[newline + 1:]
            if self._discarding:
                self._discarding = False  # the end of the over-long line
            elif len(line) > MAX_LINE_BYTES:
                self._lines.put(TOO_LONG)
            elif line.strip():
                self._lines.put(line)

    def finish(self) -> None:
        """End of input: a last line without its newline still counts."""
        if self._pending.strip() and not self._discarding:
            self._lines.put(bytes(self._pending))
        self._pending, self._discarding = bytearray(), False


class ControlReader:
    """Reads lines from a file descriptor on a daemon thread into a queue (bounded line length).

    The queue is bounded too: a client that floods controls faster than steps run is slowed down
    (its writes block), the trainer's memory is not. Other channels (ControlSocket) feed the same queue.

    Raw os.read() on the descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader
    holds its lock, and the interpreter then aborts at exit ("could not acquire lock ... at shutdown").
    """

    def __init__(self, fd: int):
        self.lines: queue.Queue = queue.Queue(maxsize=MAX_QUEUED_LINES)
        self._fd = fd
        self.eof = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hima-control-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        splitter = LineSplitter(self.lines)
        try:
            while True:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    break
                splitter.feed(chunk)
            splitter.finish()
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


class ControlChannelError(ValueError):
    """The control socket cannot be set up (path taken, unusable); the CLI exits with code 2."""


# sun_path holds 108 bytes on Linux, 104 on macOS/BSD, each with a terminating NUL.
MAX_SOCKET_PATH_BYTES = 107 if sys.platform.startswith("linux") else 103
MAX_SOCKET_CONNECTIONS = 16
CROWDED_REASON = (
    f"too many control clients: {MAX_SOCKET_CONNECTIONS} are connected to this trainer (the limit), so this "
    "connection was closed; close another client (e.g. a window on this run) and send the control again"
)
TURN_AWAY_READ_S = 1.0  # how long a client over the cap may take to send the lines it wants answered
# A connection that sends nothing for this long is closed (a client reconnects when it has a control to send):
# an idle client must not hold one of the MAX_SOCKET_CONNECTIONS places for ever.
IDLE_TIMEOUT_S = 300.0
IDLE_TIMEOUT_ENV = "HIMA_CONTROL_IDLE_S"  # tests shorten it
SOCKET_PATH_FILE = RUN_FOLDER["control_path"]  # in the run folder, when the socket lives elsewhere (path too long)


class ControlSocket:
    """A Unix stream socket that accepts control lines, into the same queue as stdin.

    Only the user can connect: the socket file is created 0600 (and on Linux a peer with another uid
    is dropped). Several clients may be connected at once (up to MAX_SOCKET_CONNECTIONS); each one's
    lines are split like stdin's. Acks and rejections go to the event stream. A client over the cap is
    turned away: the lines it sends in its first TURN_AWAY_READ_S become `rejected` events giving
    CROWDED_REASON, the reason is written back to it as a `rejected` line, and it is closed. A client
    silent for IDLE_TIMEOUT_S is told so the same way and closed.

    If `requested` is too long for AF_UNIX, the socket is made in a private short folder instead
    ($XDG_RUNTIME_DIR or the temp dir) and its path is written to <run_dir>/control.path; `path` is
    where it actually listens (trainer.json records it).
    """

    def __init__(self, requested: str, lines: queue.Queue, run_dir: str):
        self._lines = lines
        self._private_dir: str | None = None
        self._path_file: str | None = None
        self.path = os.path.abspath(requested)
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH_BYTES:
            self._private_dir = tempfile.mkdtemp(prefix="hima-", dir=os.environ.get("XDG_RUNTIME_DIR") or None)
            self.path = os.path.join(self._private_dir, RUN_FOLDER["control_socket"])
            if len(os.fsencode(self.path)) > MAX_SOCKET_PATH_BYTES:
                os.rmdir(self._private_dir)
                raise ControlChannelError(f"control socket path {requested} is too long for a Unix socket, and so is {self.path}")
        self._remove_stale(self.path)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket file is born 0600: no window where others may connect
        try:
            self._server.bind(self.path)
        except OSError as e:
            self._server.close()
            raise ControlChannelError(f"cannot create control socket {self.path}: {e}") from None
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        self._inode = os.stat(self.path).st_ino
        self._server.listen(4)
        self._server.settimeout(0.5)  # the accept loop checks for close() twice a second
        if self._private_dir is not None:
            from .checkpoint import atomic_write  # a reader never sees half a path
            self._path_file = os.path.join(run_dir, SOCKET_PATH_FILE)
            atomic_write(self._path_file, lambda f: f.write((self.path + "\n").encode()))
        self._closed = threading.Event()
        self.idle_timeout_s = float(os.environ.get(IDLE_TIMEOUT_ENV, IDLE_TIMEOUT_S))
        self._connections: set[socket.socket] = set()
        self._guard = threading.Lock()
        threading.Thread(target=self._accept_loop, name="hima-control-socket", daemon=True).start()

    @staticmethod
    def _remove_stale(path: str) -> None:
        """A socket file left by a killed trainer is removed; a live one or any other file is not."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise ControlChannelError(f"{path} exists and is not a socket; not replacing it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            pass  # nobody listens: stale
        except OSError as e:
            raise ControlChannelError(f"cannot check the existing control socket {path}: {e}") from None
        else:
            raise ControlChannelError(f"another process is listening on {path} (is a trainer still running for this run?)")
        finally:
            probe.close()
        os.unlink(path)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return  # closed
            if not _same_user(conn):
                conn.close()
                continue
            with self._guard:
                crowded = len(self._connections) >= MAX_SOCKET_CONNECTIONS
                if not crowded:
                    conn.settimeout(self.idle_timeout_s)
                    self._connections.add(conn)
                    threading.Thread(target=self._read, args=(conn,), name="hima-control-conn", daemon=True).start()
                    continue
            self._turn_away(conn)

    def _turn_away(self, conn: socket.socket) -> None:
        """Over the cap: answer what the client sends at once with CROWDED_REASON (events and socket), close.
        Done here in the accept thread, bounded in time and bytes: a flood of clients costs no threads."""
        sent: queue.Queue = queue.Queue()
        splitter = LineSplitter(sent)
        deadline = time.monotonic() + TURN_AWAY_READ_S
        try:
            while (left := deadline - time.monotonic()) > 0:
                conn.settimeout(left)
                chunk = conn.recv(MAX_LINE_BYTES)
                if not chunk:
                    break
                splitter.feed(chunk)
        except OSError:
            pass  # timed out (nothing more sent) or reset
        splitter.finish()
        while not sent.empty():
            line = sent.get_nowait()
            _put_nowait(self._lines, CrowdedLine(b"" if line is TOO_LONG else line))
        _say_goodbye(conn, CROWDED_REASON)

    def _read(self, conn: socket.socket) -> None:
        splitter = LineSplitter(self._lines)
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                splitter.feed(chunk)
            splitter.finish()
        except socket.timeout:
            _say_goodbye(conn, f"no control line for {self.idle_timeout_s:g} s: connection closed (reconnect to send more)")
        except OSError:
            pass  # reset by the peer, or closed by close()
        finally:
            with self._guard:
                self._connections.discard(conn)
            conn.close()

    def close(self) -> None:
        """Stop listening, drop the connections, remove the socket file (only if it is still ours)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._server.close()
        with self._guard:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        try:
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass
        for leftover in (self._path_file, self._private_dir):
            if leftover is not None:
                try:
                    (os.rmdir if leftover == self._private_dir else os.unlink)(leftover)
                except OSError:
                    pass


def _put_nowait(lines: queue.Queue, item) -> None:
    try:
        lines.put_nowait(item)  # the accept thread must not block on a full queue
    except queue.Full:
        pass


def _say_goodbye(conn: socket.socket, reason: str) -> None:
    """Tell a client why it is being closed (one `rejected` line, as in the event stream), then close it."""
    line = json.dumps({"v": PROTOCOL_VERSION, "type": "rejected", "id": None, "reason": reason}) + "\n"
    try:
        conn.settimeout(1.0)
        conn.sendall(line.encode("utf-8"))
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


def _same_user(conn: socket.socket) -> bool:
    """Linux: the peer's uid must be ours (the 0600 mode already ensures it; this does not rely on it)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    try:
        _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except OSError:
        return False
    return uid == os.getuid()


def _control_id(raw: bytes) -> str | None:
    """The id of a control line, if it has a usable one (for a rejection that does not parse it further)."""
    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    raw_id = obj.get("id") if isinstance(obj, dict) else None
    return raw_id if isinstance(raw_id, str) and 1 <= len(raw_id) <= 128 else None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def parse_control(raw: Any) -> dict:
    """A queued line -> a control object that matches the schema, or ControlRejected."""
    if raw is TOO_LONG:
        raise ControlRejected(None, f"control line longer than {MAX_LINE_BYTES} bytes; ignored")
    if isinstance(raw, CrowdedLine):
        raise ControlRejected(_control_id(raw), CROWDED_REASON)
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
    except SchemaError as e:  # set_cutoffs with hot > warm too: the schema's x-ordered
        raise ControlRejected(control_id, str(e)) from None
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


def answer_control(raw: Any, emit: Callable[..., Any], step: int, paused: bool, check: Callable[[dict], None]) -> str | None:
    """One control line -> exactly one `ack` or `rejected`, as every run answers it (the trainer's loop and
    hima.monitor.RunMonitor). ``check(control)`` applies a tier control or refuses what the caller cannot do
    (raising ControlRejected); pause/resume are refused when they change nothing, and once acked they report
    their `status`. Returns the acked control's type (the caller carries out checkpoint, stop and the pause
    state), or None when it was rejected."""
    try:
        control = parse_control(raw)
        kind, cid = control["type"], control["id"]
        if kind == "pause" and paused:
            raise ControlRejected(cid, "the run is already paused")
        if kind == "resume" and not paused:
            raise ControlRejected(cid, "the run is not paused")
        check(control)
    except ControlRejected as e:
        emit("rejected", id=e.control_id, reason=e.reason)
        return None
    emit("ack", id=cid, control=kind, effective_step=step)
    if kind in ("pause", "resume"):
        emit("status", step=step, state="paused" if kind == "pause" else "running")
    return kind
