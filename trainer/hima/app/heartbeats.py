"""Failure detection that needs no shared filesystem: heartbeats and error notes in the process group's store.

Why: rank 0's peer watch (``hima.app.rank_watch``) reads report files and pids on its own disk, which is
enough on one machine; a rank on another machine leaves its files on that machine's disk and its pid means
nothing here. Every torchrun run already has a key-value store every rank reaches (the c10d TCPStore the
process group was built on), so once the group exists each rank also:

- bumps ``hima/beat/<rank>`` every ``interval_s`` (a counter, not a time: the machines' clocks need not agree);
- writes ``hima/error/<rank>`` with its error message when it fails, and ``hima/done/<rank>`` at a clean end;
- writes ``hima/where/<rank>`` once: which node (torchrun's GROUP_RANK) and host it runs on, for the message.

Rank 0's watch then reports a peer as failed when its error note appears, or when its counter has not moved
for ``timeout_s`` by rank 0's own monotonic clock (SIGKILL, out-of-memory killer, a machine gone). The files
stay, for the failures before the group exists (a rank that never joins).
"""
from __future__ import annotations

import os
import socket
import threading
import time

import torch.distributed as dist

DEFAULT_INTERVAL_S = 1.0
DEFAULT_TIMEOUT_S = 15.0  # silence that counts as a failure: well above a stall of a busy machine's thread
PREFIX = "hima"


def default_store():
    """The store the default process group was built on (torchrun's TCPStore), or None if torch hides it."""
    try:
        return dist.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):
        return None


class Heartbeats:
    """This rank's heartbeat thread, and (rank 0) the view of every peer's."""

    def __init__(self, store, rank: int, world_size: int, interval_s: float | None = None, timeout_s: float | None = None):
        self.store, self.rank, self.world_size = store, rank, world_size
        self.interval_s = float(os.environ.get("HIMA_HEARTBEAT_INTERVAL_S", interval_s or DEFAULT_INTERVAL_S))
        self.timeout_s = float(os.environ.get("HIMA_HEARTBEAT_TIMEOUT_S", timeout_s or DEFAULT_TIMEOUT_S))
        self._seen: dict[int, tuple[int, float]] = {}  # peer -> (last counter, when it last moved)
        self._stop = threading.Event()
        where = f"node {os.environ.get('GROUP_RANK', '0')}, host {socket.gethostname()}"
        self._try(lambda: store.set(self._key("where", rank), where))
        self._beat()
        self._thread = threading.Thread(target=self._run, name="hima-heartbeat", daemon=True)
        self._thread.start()

    @staticmethod
    def _key(kind: str, rank: int) -> str:
        return f"{PREFIX}/{kind}/{rank}"

    def _try(self, action) -> bool:
        try:
            action()
            return True
        except Exception:  # the store is gone (rank 0's launcher ended): nothing left to tell
            return False

    def _beat(self) -> bool:
        return self._try(lambda: self.store.add(self._key("beat", self.rank), 1))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self._beat():
                return

    def failed(self, message: str) -> None:
        self._try(lambda: self.store.set(self._key("error", self.rank), message))

    def finished(self) -> None:
        self._try(lambda: self.store.set(self._key("done", self.rank), "1"))

    def stop(self) -> None:
        self._stop.set()

    def _get(self, kind: str, rank: int) -> str | None:
        key = self._key(kind, rank)
        try:
            if not self.store.check([key]):
                return None
            return self.store.get(key).decode("utf-8", "replace")
        except Exception:
            return None

    def where(self, rank: int) -> str:
        return self._get("where", rank) or "node unknown"

    def peer_failure(self, rank: int) -> str | None:
        """Why peer ``rank`` failed, or None while its heartbeat moves (or after its clean end)."""
        error = self._get("error", rank)
        if error is not None:
            return f"{error.strip() or 'failed without a message'} ({self.where(rank)})"
        if self._get("done", rank) is not None:
            return None
        try:
            count = int(self.store.add(self._key("beat", rank), 0))
        except Exception:
            return None  # the store itself is unreachable: the collectives' timeout ends the run
        now = time.monotonic()
        last = self._seen.get(rank)
        if last is None or count != last[0]:
            self._seen[rank] = (count, now)
            return None
        silent = now - last[1]
        if count > 0 and silent >= self.timeout_s:
            return (f"no heartbeat for {silent:.0f} s ({self.where(rank)}): the process was killed, ran out of "
                    "memory, or its machine is unreachable")
        return None
