"""How a failed rank reaches the event stream: report files in ``<run dir>/ranks/`` and rank 0's watch on them.

Every rank writes ``<rank>.json`` (its pid) at start and ``<rank>.done`` at a clean end; a rank that raises
writes ``<rank>.error`` (``FollowerEvents``: ranks other than 0 write no events). Each file carries the
launch it belongs to (torchrun's run id and restart count), so the files an earlier segment left in the run
folder are never taken for this launch's.

On rank 0 a ``PeerWatch`` thread turns a peer's error file, or a peer process that vanished without one
(SIGKILL, OOM killer), into an ``error`` event naming that rank. It starts before ``init_process_group``: a
peer can fail before it ever joins (a GPU it cannot use), and then rank 0 would wait in the rendezvous until
torchrun killed it, with no event at all. While rank 0 joins, its main thread is inside a C++ wait that
neither an exception nor a Python signal handler can interrupt, so during that phase the watch ends the run
itself (``end_run``). ``JoinGuard`` (``hima.app.signals``) holds back SIGTERM until then, because torchrun sends it to rank 0 about
0.1 s after the failed peer exits, usually before the watch has looked. A SIGTERM still held when the group
exists goes to the handler in place before the guard: the trainer's stop handler (``hima.app.signals.StopSignals``,
installed first thing by the cli), so the run then stops at its first step boundary with `done` "stopped".

The files need rank 0 to share a disk (and a pid namespace) with its peers. Across machines the watch also
reads the peers' heartbeats and error notes in the process group's store (``hima.app.heartbeats``), attached
once the group exists.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..protocol import RUN_FOLDER
from .events import EventWriter
from .run_folder import open_entry, private_folder

if TYPE_CHECKING:  # signals imports pid_alive from here
    from .signals import JoinGuard

RANKS_DIR = RUN_FOLDER["ranks"]


def launch_id() -> str:
    """This launch of the ranks: torchrun's run id (a fresh uuid per ``--standalone`` launch) and restart count."""
    return f"{os.environ.get('TORCHELASTIC_RUN_ID', '')}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"


class RankReports:
    """Files in ``<run dir>/ranks/`` through which ranks tell rank 0 they started, failed or finished."""

    def __init__(self, run_dir: str, rank: int, world_size: int):
        self.dir = os.path.join(run_dir, RANKS_DIR)
        self.rank, self.world_size = rank, world_size
        self.launch = launch_id()
        self.heartbeats = None  # hima.app.heartbeats.Heartbeats, once the process group exists: the same news in its store

    def _path(self, rank: int, suffix: str) -> str:
        return os.path.join(self.dir, f"{rank}.{suffix}")

    def _write(self, suffix: str, **fields: Any) -> None:
        private_folder(self.dir)  # a rank may fail before it announced its start
        _write_atomic(self._path(self.rank, suffix), json.dumps({"launch": self.launch, **fields}))

    def _read(self, rank: int, suffix: str) -> dict | None:
        """The file's fields if it exists and belongs to this launch, else None."""
        try:
            with os.fdopen(open_entry(self._path(rank, suffix), os.O_RDONLY), encoding="utf-8") as f:
                fields = json.load(f)
        except (OSError, ValueError):
            return None
        return fields if isinstance(fields, dict) and fields.get("launch") == self.launch else None

    def starting(self) -> None:
        for suffix in ("error", "done"):  # left by an earlier segment of this run folder (ignored anyway)
            try:
                os.unlink(self._path(self.rank, suffix))
            except FileNotFoundError:
                pass
        self._write("json", pid=os.getpid(), rank=self.rank)

    def failed(self, message: str) -> None:
        if self.heartbeats is not None:
            self.heartbeats.failed(message)
        self._write("error", message=message)

    def finished(self, step: int | None = None) -> None:
        """A clean end, after ``step`` steps (kept in the file: every rank must end at the same step)."""
        if self.heartbeats is not None:
            self.heartbeats.finished()
        self._write("done", step=step)

    def has_failed(self) -> bool:
        return self._read(self.rank, "error") is not None

    def peer_failure(self, rank: int) -> str | None:
        """Why peer ``rank`` failed, or None while it is alive (or ended cleanly, or has not started)."""
        error = self._read(rank, "error")
        if error is not None:
            return str(error.get("message") or "").strip() or "failed without a message"
        if self._read(rank, "done") is not None:
            return None
        started = self._read(rank, "json")
        if started is None or not isinstance(started.get("pid"), int):
            return None  # not started yet
        pid = started["pid"]
        if pid_alive(pid):
            return None
        # It may have written its error file just before dying: look once more.
        if self._read(rank, "error") is not None:
            return self.peer_failure(rank)
        return f"process {pid} ended without reporting an error (killed by a signal or out of memory?)"


def pid_alive(pid: int) -> bool:
    """False once ``pid`` has exited (a zombie not yet reaped counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (dead, not yet reaped by torchrun) still answers kill(0): check its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with os.fdopen(open_entry(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class PeerWatch:
    """Rank 0's watcher thread: the first failed peer becomes an `error` event naming it, at once (before
    torchrun tears the group down), and ``failure`` tells the training loop to end the run.

    Until ``joined()`` (the process group exists) it also ends the run itself: ``end_run("error")`` after a
    peer failed, ``end_run("stopped")`` after SIGTERM / Ctrl-C with no failed peer if the group has not formed
    within ``STOP_JOIN_GRACE_S``. ``end_run`` must not return."""

    STOP_JOIN_GRACE_S = 10.0  # after a stop signal during start-up: how long the group may take to form

    def __init__(
        self, reports: RankReports, report: Callable[[int, str], None],
        end_run: Callable[[str], None] | None = None, guard: JoinGuard | None = None, interval_s: float = 0.5,
    ):
        self.reports, self.report, self.interval_s = reports, report, interval_s
        self.failure: str | None = None
        self._end_run = end_run
        self._joining = end_run is not None
        self._guard = guard
        self.heartbeats = None  # attached once the process group exists (hima.app.heartbeats)
        self._lock = threading.Lock()  # check() runs on this thread and, after a failed collective, the main one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hima-peer-watch", daemon=True)
        self._thread.start()

    def joined(self) -> None:
        """The process group exists (or could not be formed): from now on the training loop acts on failures."""
        self._joining = False
        if self._guard is not None:
            self._guard.release()

    def _run(self) -> None:
        while True:
            joining = self._joining
            if joining and self._guard is not None:
                signalled = self._guard.wait(self.interval_s)
            else:
                signalled = False
                if self._stop.wait(self.interval_s):
                    return
            if signalled:
                # torchrun signals rank 0 when a peer ended: give that peer's report a moment to land.
                self.wait_for_failure(1.0)
                # A plain stop: if the group forms soon, the training loop stops every rank at its first
                # boundary (clean, torchrun exits 0); ending rank 0 alone would leave the others waiting.
                self._wait_for_join(self.STOP_JOIN_GRACE_S)
            failed = self.check()
            # Re-read: if the group formed meanwhile, the training loop ends the run (at its next boundary).
            if self._joining and (failed or signalled):
                self._end_run("error" if failed else "stopped")
            if failed:
                return

    def _wait_for_join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._joining and not self.check() and time.monotonic() < deadline:
            time.sleep(0.1)

    def attach(self, heartbeats) -> None:
        self.heartbeats = heartbeats

    @property
    def settle_s(self) -> float:
        """After a collective failed, how long a dead peer may take to be recognised: its report file lands at
        once, its silence in the store only after the heartbeat timeout."""
        return 5.0 if self.heartbeats is None else max(5.0, self.heartbeats.timeout_s + 2.0)

    def check(self) -> bool:
        """Look at every peer once; True (and reported) if one failed."""
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        if self.failure is not None:
            return True
        for rank in range(1, self.reports.world_size):
            why = self.reports.peer_failure(rank)
            if why is None and self.heartbeats is not None:
                why = self.heartbeats.peer_failure(rank)
            if why is not None:
                self.failure = f"rank {rank} failed: {why}"
                self.report(rank, self.failure)
                return True
        return False

    def wait_for_failure(self, timeout_s: float) -> str | None:
        """After a collective failed: give a dying peer a moment to leave its report, then return it."""
        deadline = time.monotonic() + timeout_s
        while not self.check() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.failure

    def stop(self) -> None:
        self._stop.set()


class FollowerEvents:
    """The event writer of ranks other than 0: nothing reaches the stream from here except errors, which go
    to this rank's error file for rank 0 to report (same ``emit`` signature as EventWriter)."""

    def __init__(self, reports: RankReports):
        self.reports = reports
        self.path = None

    def emit(self, type_: str, **fields: Any) -> dict:
        if type_ == "error" and not self.reports.has_failed():
            self.reports.failed(str(fields.get("message", "error")))
        return {"type": type_, **fields}

    try_emit = EventWriter.try_emit  # emit for the error path: never raises

    def close(self) -> None:
        pass
