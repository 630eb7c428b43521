"""Signals at start-up and stop, in one place: how SIGTERM, Ctrl-C and the launcher's death reach the loop.

- ``StopSignals`` (installed first thing by the cli, before the slow start-up): SIGTERM and Ctrl-C are a
  graceful stop, the same as a `stop` control; a second signal aborts.
- ``JoinGuard`` (rank 0 of a torchrun run, until its process group exists): SIGTERM is held back so the peer
  watch (``rank_watch.PeerWatch``) can say which rank failed first; then it goes on to ``StopSignals``.
- ``stop_when_launcher_dies``: the trainer stops when the command-line launcher that started it dies.

`node dist/cli.js train` owns its trainer: it shows the progress, turns Ctrl-C into a stop, prints the
summary. If the CLI is SIGKILLed (or its terminal vanishes) the trainer used to carry on, re-parented, with
nobody to stop it. The CLI names itself in HIMA_LAUNCHER_PID; rank 0 watches that process and, when it is
gone, sends itself SIGTERM: the same graceful stop as Ctrl-C (next step boundary, checkpoint, `done`
"stopped"; under torchrun every rank stops at the same step). The extension's detached launch does not
set it: that trainer is meant to outlive the window.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import threading
import time

from .rank_watch import pid_alive

LAUNCHER_PID_ENV = "HIMA_LAUNCHER_PID"
POLL_S = 0.5  # where pidfd_open is unavailable (macOS, old kernels)
log = logging.getLogger("hima")


def stop_when_launcher_dies() -> None:
    """Start the watch if HIMA_LAUNCHER_PID names a process (no-op otherwise)."""
    try:
        pid = int(os.environ.get(LAUNCHER_PID_ENV, ""))
    except ValueError:
        return
    if pid <= 1:
        return
    threading.Thread(target=_watch, args=(pid,), name="hima-launcher-watch", daemon=True).start()


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # exact: a pid reused later is not this process
    except ProcessLookupError:
        fd = None  # already gone
    except (AttributeError, OSError):
        fd = -1  # no pidfd here: poll
    if fd is not None and fd >= 0:
        select.select([fd], [], [])  # readable once the process has exited
        os.close(fd)
    elif fd == -1:
        while pid_alive(pid):
            time.sleep(POLL_S)
    log.info("the launcher (pid %d) is gone: stopping the run", pid)
    os.kill(os.getpid(), signal.SIGTERM)


class StopSignals:
    """SIGTERM and Ctrl-C as a graceful stop, from the first moments of the process (cli installs it before
    the slow start-up: model, data, checkpoint, rendezvous), same as a `stop` control: ``signalled`` is acted
    on at the next step boundary (under torchrun it is this rank's vote there). A signal during start-up is
    acted on at the first boundary: the run ends "stopped" at its start step. The Trainer reads it as
    ``stop_signalled``. Only a second *signal* aborts (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.signalled = False

    def install(self) -> "StopSignals":
        """Become the SIGTERM and SIGINT handler (main thread only, Python's rule)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        return self

    def _on_signal(self, signum, frame) -> None:
        # Only a second *signal* aborts: a SIGTERM after a `stop` control (e.g. a window escalating a stop
        # that is already checkpointing) must not throw that checkpoint away.
        if self.signalled:
            raise KeyboardInterrupt  # a second signal: the user wants out now, not after a checkpoint
        log.info("signal %s: stopping after this step (send it again to abort)", signum)
        self.signalled = True


class JoinGuard:
    """Rank 0, from start-up until its process group exists: SIGTERM is held back (remembered, and announced
    on a pipe the peer watch waits on), so the watch can report why the run ends before this process goes.

    Create it in the main thread (Python's rule for signal handlers); ``release()`` once the group exists."""

    def __init__(self) -> None:
        self.held: list[int] = []
        self._read, write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(write, False)
        # The pipe stays open for the life of the process: the watch may still be waiting on it at release.
        self._previous_handler = signal.signal(signal.SIGTERM, self._hold)
        # Python's C-level handler writes the signal number here the moment a signal arrives, even while the
        # main thread is stuck in C++ and cannot run ``_hold`` yet.
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self.released = False

    def _hold(self, signum: int, frame) -> None:
        self.held.append(signum)

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s``; True if SIGTERM or SIGINT (Ctrl-C) arrived meanwhile."""
        try:
            ready, _, _ = select.select([self._read], [], [], timeout_s)
            data = os.read(self._read, 64) if ready else b""
        except (OSError, ValueError):
            return False
        return any(n in (signal.SIGTERM, signal.SIGINT) for n in data)

    def release(self) -> None:
        """Put SIGTERM's previous handler back (the trainer's StopSignals under the cli) and hand it a held
        SIGTERM now, once: a held signal is one stop request, not a second signal that aborts."""
        if self.released:
            return
        self.released = True
        signal.set_wakeup_fd(self._previous_fd)
        signal.signal(signal.SIGTERM, self._previous_handler)
        if self.held:
            signal.raise_signal(signal.SIGTERM)
