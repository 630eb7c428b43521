"""What the trainer creates and opens inside a run folder: private, and never through a symbolic link.

A run folder holds a model, its optimizer state and the event log: another local user must not read or
swap them, whatever the umask (folders 0700, files 0600). A symbolic link placed inside a run folder (a
cloned repository's .hima/runs, a folder shared by mistake) would make the trainer append events to, or
prune checkpoints in, a place the user never named, so every entry is opened with O_NOFOLLOW (or checked
with lstat) and a link is refused with a message that names it.
"""
from __future__ import annotations

import errno
import os
import stat

from ..protocol_generated import RUN_FOLDER

FOLDER_MODE = 0o700
FILE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # absent on Windows, where links need privileges to create
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class RunFolderError(ValueError):
    """An entry of a run folder is a symbolic link or not what it should be; the CLI exits with code 2."""


class DiskFullError(OSError):
    """No space left on the device while writing a run's file; the message names the file."""

    def __init__(self, path: str):
        super().__init__(errno.ENOSPC, f"no space left on device writing {path}")
        self.path = path

    def __str__(self) -> str:
        return self.strerror  # no "[Errno 28]": this is the message the user reads


def raise_if_disk_full(error: BaseException, path: str) -> None:
    """ENOSPC (or a full quota) while writing `path` -> DiskFullError naming it."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(error, DiskFullError):
        raise DiskFullError(path) from error


def link_refused(path: str) -> RunFolderError:
    return RunFolderError(f"{path} is a symbolic link; HiMA does not follow links inside a run folder (remove it)")


def private_folder(path: str) -> str:
    """Create ``path`` (and missing parents) if needed; a folder created here is 0700 whatever the umask.

    An existing folder keeps its mode (it may be the user's own, e.g. ``--out .``); it must not be a link."""
    try:
        os.mkdir(path, FOLDER_MODE)
        os.chmod(path, FOLDER_MODE)  # mkdir's mode is masked by the umask; a umask cannot widen it, chmod undoes a narrower one
    except FileExistsError:
        pass
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        return private_folder(path)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise link_refused(path)
    if not stat.S_ISDIR(st.st_mode):
        raise RunFolderError(f"{path} exists and is not a folder")
    return path


def check_entry(path: str) -> None:
    """Refuse ``path`` if it is a symbolic link (a missing entry is fine: it will be created)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise link_refused(path)


def open_entry(path: str, flags: int, mode: int = FILE_MODE) -> int:
    """``os.open`` that refuses a symbolic link and anything but a regular file; a file created here is 0600.

    A file of ours that an older version left readable by others is made 0600 on the way."""
    try:
        # O_NONBLOCK: opening a FIFO planted at the path must fail the check below, not hang here.
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0), mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise link_refused(path) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RunFolderError(f"{path} is not a regular file")
        if flags & (os.O_WRONLY | os.O_RDWR) and st.st_mode & 0o077 and hasattr(os, "fchmod") and st.st_uid == os.getuid():
            os.fchmod(fd, FILE_MODE)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


# Entries the trainer or the extension writes or reads in a run folder: $defs/RunFolder of the protocol
# schema, which src/run/runFolderCheck.ts reads too.
RUN_ENTRIES = tuple(RUN_FOLDER.values())


def refuse_links(run_dir: str) -> None:
    """Before a trainer touches a run folder: none of its entries (nor checkpoints/latest) may be a link."""
    for name in RUN_ENTRIES:
        check_entry(os.path.join(run_dir, name))
    check_entry(os.path.join(run_dir, RUN_FOLDER["checkpoints"], "latest"))
