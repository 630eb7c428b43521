"""The trainer stops when the command-line launcher that started it dies.

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
