"""Crash-safe checkpoints in <run dir>/checkpoints/.

A checkpoint is written to a temporary file in the same folder, fsync'ed, then renamed over its final
name (os.replace is atomic on one file system), so a crash leaves either the old set or the new file,
never a torn one. The `latest` pointer (a one-line text file with the checkpoint's file name) is
replaced the same way, after the checkpoint it names is complete. The newest K are kept.

Loading never runs code from the file: a checkpoint is a zip archive holding one pickle, and before anything
is unpickled that pickle is read opcode by opcode (nothing executed) to check that it is a HiMA checkpoint
and imports nothing outside ALLOWED_GLOBALS; it is then loaded with ``torch.load(weights_only=True)``, which
enforces the same allow-list. A checkpoint someone else crafted is refused, never executed.

Disk full: the file is written through our own writes, so ENOSPC surfaces as an OSError naming the
checkpoint (torch's writer turns it into an unrelated "unexpected pos"); the temp file is removed and the
previous checkpoint and `latest` stay as they were.
"""
from __future__ import annotations

import os
import pickletools
import random
import re
import tempfile
import zipfile
from typing import Any

import numpy as np
import torch

from ..protocol import RUN_FOLDER
from .run_folder import RunFolderError, check_entry, link_refused, open_entry, private_folder, raise_if_disk_full

FORMAT = "hima-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^ckpt-(\d{8})\.pt$")
# A sharded checkpoint (strategy fsdp2) is a folder written by torch.distributed.checkpoint: hima.app.sharded_checkpoint.
_SHARDED_NAME = re.compile(r"^ckpt-(\d{8})\.dcp$")


# What a checkpoint's pickle may import, as pickle names them ("module name"): tensors and their storages
# (state dicts are OrderedDicts), and numpy's RNG state array (np.random.get_state(), pickled with protocol 2,
# whose bytes go through _codecs.encode). torch.load(weights_only=True) allows the torch and builtin ones itself.
ALLOWED_GLOBALS = {
    "collections OrderedDict", "_codecs encode", "torch._utils _rebuild_tensor_v2",
    "numpy dtype", "numpy ndarray",
    "numpy._core.multiarray _reconstruct", "numpy.core.multiarray _reconstruct",  # numpy 2.x, 1.x
}
_STORAGE = re.compile(r"^torch [A-Za-z0-9]*Storage$")  # torch.FloatStorage, torch.BFloat16Storage, ...


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or does not fit this run. The message names the file."""


def checkpoint_dir(run_dir: str) -> str:
    return os.path.join(run_dir, RUN_FOLDER["checkpoints"])


def _real_folder(folder: str) -> str:
    """A checkpoints folder that is a link (its rotation would delete files wherever it leads) is refused."""
    check_entry(folder)
    return folder


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not supported (e.g. Windows): the rename itself is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileWriter:
    """A file object over a descriptor whose writes are plain os.write() calls, for torch.save: an OSError
    (ENOSPC) is remembered, because torch's zip writer replaces it with its own RuntimeError."""

    def __init__(self, fd: int):
        self.fd, self.error, self._pos = fd, None, 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        try:
            while view:
                n = os.write(self.fd, view)
                view, self._pos = view[n:], self._pos + n
        except OSError as e:
            self.error = e
            raise
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass


def atomic_write(path: str, write) -> None:
    """Write a file so that readers (and a crash) see either the old content or the whole new one.

    The file is 0600 (mkstemp); a link at `path` is replaced, never followed (rename works on the name).
    No space left: DiskFullError naming `path`, and the old file is kept."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    out = _FileWriter(fd)
    try:
        try:
            write(out)
            os.fsync(fd)
        except BaseException as e:
            raise_if_disk_full(out.error or e, path)
            raise
        finally:
            os.close(fd)
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
    folder = private_folder(checkpoint_dir(run_dir))
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
    """A checkpoint file, a checkpoints/ folder or a run folder -> the checkpoint file to load.

    Inside the run folder no link is followed: `checkpoints`, `latest` and the file it names must be real.
    A sharded checkpoint (a ``ckpt-N.dcp`` folder) resolves to that folder."""
    if os.path.isfile(path):
        check_entry(path)
        return path
    if os.path.isdir(path) and _SHARDED_NAME.match(os.path.basename(os.path.normpath(path))):
        check_entry(path)
        return path
    if not os.path.isdir(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    folder = path if os.path.lexists(os.path.join(path, "latest")) else _real_folder(checkpoint_dir(path))
    pointer = os.path.join(folder, "latest")
    try:
        fd = open_entry(pointer, os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            name = f.read(4096).decode("utf-8").strip()
    except RunFolderError as e:
        raise CheckpointError(str(e)) from None
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint in {path} (missing {pointer})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read {pointer}: {e}") from None
    if not _NAME.match(name) and not _SHARDED_NAME.match(name):
        raise CheckpointError(f"{pointer} is corrupt: it names {name!r}, not a checkpoint file")
    target = os.path.join(folder, name)
    if os.path.islink(target):
        raise CheckpointError(str(link_refused(target)))
    if _SHARDED_NAME.match(name) and os.path.isdir(target):
        return target
    if not os.path.isfile(target):
        raise CheckpointError(f"{pointer} names {name}, which does not exist{_others(target)}")
    return target


def _check_pickle(path: str, f) -> None:
    """Before anything is unpickled: `f` is a zip archive whose one pickle starts like a HiMA checkpoint
    ({"format": FORMAT, ...}) and imports nothing but ALLOWED_GLOBALS. Reading opcodes executes nothing."""
    try:
        with zipfile.ZipFile(f) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise CheckpointError(f"checkpoint {path} is corrupt or unreadable: not a torch.save archive{_others(path)}")
            data = archive.read(pickles[0])
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or unreadable: {type(e).__name__}: {e}{_others(path)}") from None
    strings: list[str] = []
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name in ("STACK_GLOBAL", "INST", "OBJ", "EXT1", "EXT2", "EXT4"):
                raise CheckpointError(f"{path} is not a HiMA checkpoint: its pickle uses {op.name}, which HiMA never writes")
            if op.name == "GLOBAL" and arg not in ALLOWED_GLOBALS and not _STORAGE.match(arg):
                raise CheckpointError(f"{path} is not a HiMA checkpoint: it would import {arg.replace(' ', '.')!s}, which a HiMA checkpoint never holds; refusing to load it")
            if isinstance(arg, str) and op.name.endswith("UNICODE") and len(strings) < 2:
                strings.append(arg)
    except (ValueError, EOFError) as e:  # genops: unknown opcode, truncated stream
        raise CheckpointError(f"checkpoint {path} is corrupt or unreadable: {e}{_others(path)}") from None
    if strings != ["format", FORMAT]:
        raise CheckpointError(f"{path} is not a HiMA checkpoint")


def load_checkpoint(path: str) -> dict:
    """Load and check a checkpoint file (see resolve_checkpoint for what `path` may be)."""
    path = resolve_checkpoint(path)
    if os.path.isdir(path):
        from .sharded_checkpoint import read_record

        return read_record(path)
    try:
        fd = open_entry(path, os.O_RDONLY)
    except RunFolderError as e:
        raise CheckpointError(str(e)) from None
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None
    try:
        with os.fdopen(fd, "rb") as f:
            _check_pickle(path, f)
            f.seek(0)
            # numpy 2 rebuilds the uint32 dtype as numpy.dtypes.UInt32DType: the one dtype numpy's RNG state holds.
            allowed = [g for g in (np.dtype, np.ndarray, type(np.dtype(np.uint32)), _numpy_reconstruct()) if g is not None]
            with torch.serialization.safe_globals(allowed):
                data = torch.load(f, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as e:  # torch raises many kinds (pickle, zip, EOF, UnpicklingError) for a damaged file
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


def _numpy_reconstruct():
    """numpy's array unpickling helper (numpy._core in 2.x, numpy.core in 1.x)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return getattr(__import__(module, fromlist=["_reconstruct"]), "_reconstruct")
        except (ImportError, AttributeError):
            continue
    return None
