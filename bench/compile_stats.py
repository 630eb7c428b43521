"""How often torch.compile compiled during a run, and how long it took (torch._dynamo's own counters).

The counters are process-wide and cumulative, so a run calls reset() first (which also drops the
previous run's graphs: every run pays its own compilation, and no run reuses another's guards).
"""
from __future__ import annotations

import logging

import torch

_LIMIT_WARNING = "hit config.recompile_limit"


class _LimitHits(logging.Handler):
    """Counts Dynamo's "hit config.recompile_limit" warnings: past the limit a block silently runs eager."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _LIMIT_WARNING in message:
            self.count += 1
            self.first = self.first or message.splitlines()[0] + " | " + " ".join(message.splitlines()[1:3])


_limit_hits = _LimitHits()


def _utils():
    import torch._dynamo.utils as utils  # imported lazily: torch._dynamo is slow to import

    return utils


def reset() -> None:
    logger = logging.getLogger("torch._dynamo.convert_frame")
    if _limit_hits not in logger.handlers:
        logger.addHandler(_limit_hits)
    _limit_hits.count, _limit_hits.first = 0, None
    torch._dynamo.reset()
    utils = _utils()
    utils.counters.clear()
    if hasattr(utils, "compilation_time_metrics"):
        utils.compilation_time_metrics.clear()


def frames_compiled() -> int:
    """Frames Dynamo has compiled since reset() (the first compile of a block and every recompile)."""
    return int(_utils().counters["frames"]["ok"])


def snapshot() -> dict:
    utils = _utils()
    counters = utils.counters
    try:
        spent = utils.calculate_time_spent()
    except Exception:  # private API: absent or changed in some torch versions; the counts still stand
        spent = {}
    return {
        "frames_compiled": int(counters["frames"]["ok"]),
        "frames_total": int(counters["frames"]["total"]),
        "unique_graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "compile_s": float(spent.get("entire_frame_compile", 0.0)) + float(spent.get("entire_backward_compile", 0.0)),
        "recompile_limit_hits": _limit_hits.count,
        "recompile_limit_message": _limit_hits.first,
        "recompile_limit": int(getattr(torch._dynamo.config, "recompile_limit", torch._dynamo.config.cache_size_limit)),
    }
