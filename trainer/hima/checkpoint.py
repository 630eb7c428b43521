"""Crash-safe checkpoints in <run dir>/checkpoints/.

A checkpoint is written to a temporary file in the same folder, fsync'ed, then renamed over its final
name (os.replace is atomic on one file system), so a crash leaves either the old set or the new file,
never a torn one. The `latest` pointer (a one-line text file with the checkpoint's file name) is
replaced the same way, after the checkpoint it names is complete. The newest K are kept.
"""
from __future__ import annotations

import os
import random
import re
import tempfile
from typing import Any

import numpy as np
import torch

FORMAT = "hima-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^ckpt-(\d{8})\.pt$")


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or does not fit this run. The message names the file."""


def checkpoint_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "checkpoints")


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not supported (e.g. Windows): the rename itself is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, write) -> None:
    """Write a file so that readers (and a crash) see either the old content or the whole new one."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save_checkpoint(run_dir: str, step: int, payload: dict[str, Any], keep: int) -> str:
    """Write ckpt-<step>.pt atomically, point `latest` at it, prune to the newest `keep`. Returns its path."""
    folder = checkpoint_dir(run_dir)
    os.makedirs(folder, exist_ok=True)
    name = f"ckpt-{step:08d}.pt"
    path = os.path.join(folder, name)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": step, **payload}
    _remove_temp_files(folder)
    atomic_write(path, lambda f: torch.save(data, f))
    atomic_write(os.path.join(folder, "latest"), lambda f: f.write((name + "\n").encode()))
    for old in sorted(n for n in os.listdir(folder) if _NAME.match(n))[:-keep]:
        if old != name:
            os.unlink(os.path.join(folder, old))
    return path


def _remove_temp_files(folder: str) -> None:
    """Temporary files a killed trainer left mid-save: never referenced, only taking disk space."""
    for name in os.listdir(folder):
        if name.startswith(".tmp-"):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _others(path: str) -> str:
    """The other checkpoints next to `path`, as a hint for --resume when this one is refused."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        names = sorted((n for n in os.listdir(folder) if _NAME.match(n) and n != os.path.basename(path)), reverse=True)
    except OSError:
        return ""
    return f" (other checkpoints there: {', '.join(names)})" if names else ""


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file, a checkpoints/ folder or a run folder -> the checkpoint file to load."""
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    folder = path if os.path.isfile(os.path.join(path, "latest")) else checkpoint_dir(path)
    pointer = os.path.join(folder, "latest")
    try:
        with open(pointer, encoding="utf-8") as f:
            name = f.read().strip()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint in {path} (missing {pointer})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read {pointer}: {e}") from None
    if not _NAME.match(name):
        raise CheckpointError(f"{pointer} is corrupt: it names {name!r}, not a checkpoint file")
    target = os.path.join(folder, name)
    if not os.path.isfile(target):
        raise CheckpointError(f"{pointer} names {name}, which does not exist{_others(target)}")
    return target


def load_checkpoint(path: str) -> dict:
    """Load and check a checkpoint file (see resolve_checkpoint for what `path` may be)."""
    path = resolve_checkpoint(path)
    try:
        # weights_only=False: the file also holds RNG states (numpy arrays, tuples). Only load
        # checkpoints this trainer wrote; the run folder is the user's own.
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many kinds (pickle, zip, EOF) for a damaged file
        raise CheckpointError(f"checkpoint {path} is corrupt or unreadable: {type(e).__name__}: {e}{_others(path)}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a HiMA checkpoint")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {data.get('format_version')}, this trainer reads {FORMAT_VERSION}")
    for key in ("step", "model", "hima", "config", "rng"):
        if key not in data:
            raise CheckpointError(f"{path} is incomplete: no '{key}'")
    data["path"] = path
    return data
