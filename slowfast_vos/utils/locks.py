"""One writer per output folder: an advisory ``fcntl.flock`` on a lock file that names its holder.

A second run into a folder that a live process holds stops at once with a :class:`FolderBusyError` naming the folder
and that process. The kernel drops a flock when its process dies (kill -9 included), so the lock file a dead run
leaves behind is simply taken over. Only the process that writes (the launcher parent, rank 0) takes the lock: the
lock belongs to its open file, so processes it starts never wait on it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from typing import Dict, Iterator

__all__ = ["FolderBusyError", "LOCK_FILE", "folder_lock", "hold_output_folder"]

# The lock file inside an output folder (OUTPUT_DIR of training, evaluation and OSVOS).
LOCK_FILE = ".slowfast_vos.lock"

# Locks this process holds until it exits: lock file path -> its open descriptor (see hold_output_folder).
_HELD: Dict[str, int] = {}


class FolderBusyError(RuntimeError):
    """Another live process writes into the folder."""


def _describe_holder(fd: int) -> str:
    """What the lock file says about its holder ("pid N: command"), or a fallback when it says nothing yet."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", errors="replace").strip()
    return text or "a process that has not written its pid yet"


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the open file ``fd`` (a releasing holder may have removed it meanwhile)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _acquire(folder: str, lock_path: str, wait: bool = False) -> int:
    """The open, flocked lock file of ``folder``; FolderBusyError when a live process holds it (unless ``wait``)."""
    os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise FolderBusyError(f"{folder} is in use by another run ({holder}); wait for it to finish or write "
                                  f"to another folder") from None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lock_path):
            break
        os.close(fd)  # locked a file its holder removed on release: lock the current one
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:2000]}\n".encode())
    return fd


@contextlib.contextmanager
def folder_lock(folder: str, lock_path: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock ``lock_path`` for writing ``folder`` for the ``with`` block (a dead holder's is taken over);
    ``wait``: wait for a live holder to finish instead of raising FolderBusyError."""
    fd = _acquire(folder, lock_path, wait)
    try:
        yield
    finally:
        os.unlink(lock_path)  # while still locked, so a waiting run finds it gone and locks a fresh file
        os.close(fd)  # closing the only descriptor of the open file releases the flock


def hold_output_folder(folder: str, lock_file: str = LOCK_FILE) -> None:
    """Lock the output folder ``folder`` (its ``lock_file``) until this process exits; a second call is a no-op.

    Call it in the one process that writes the folder (rank 0 of a launch) before anything is written there. Runs
    that share a folder on purpose (OSVOS shards) each take their own ``lock_file``.
    """
    lock_path = os.path.join(os.path.abspath(folder), lock_file)
    if lock_path not in _HELD:
        _HELD[lock_path] = _acquire(folder, lock_path)
