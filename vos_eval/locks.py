"""One writer per output folder: an advisory ``fcntl.flock`` on a lock file that names its holder.

A second run into a folder that a live process holds stops at once with a :class:`FolderBusyError` naming the folder
and that process. The kernel drops a flock when its process dies (kill -9 included), so the lock file a dead run
leaves behind is simply taken over. Only the process that writes (the launcher parent, rank 0) takes the lock: the
lock belongs to its open file, so processes it starts never wait on it. The parts of one run that share a folder on
purpose (the shards of one OSVOS run) hold it together with a shared lock plus one member lock each; no other run
joins them. Lock files are never opened through a symbolic link.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
from typing import Dict, Iterator, List, Optional, Tuple

from .output_folder import real_folder, refuse_symlink

__all__ = ["FolderBusyError", "LOCK_FILE", "folder_holder", "folder_lock", "hold_output_folder"]

# The lock file inside an output folder (OUTPUT_DIR of training, evaluation and OSVOS; an ablation's output folder).
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
        return os.lstat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _open_lock_file(lock_path: str, create: bool = True) -> int:
    """The lock file opened for reading and writing, created if missing (``create``); never through a symbolic link
    (a planted link would otherwise have its target truncated): SymlinkError naming it."""
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_CREAT if create else 0), 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            refuse_symlink(lock_path)
        raise


def _member_files(root: str) -> List[str]:
    """The member lock files of shared runs (OSVOS shards) in the folder ``root``."""
    prefix = f"{LOCK_FILE}.run-"
    return sorted(os.path.join(root, n) for n in os.listdir(root) if n.startswith(prefix) and "." in n[len(prefix):])


def _live_members(root: str, skip: str = "") -> Dict[str, str]:
    """The member lock files of ``root`` that a live process holds -> what they say about it; the files of dead
    members are removed. ``skip``: a member file not to probe."""
    live = {}
    for path in _member_files(root):
        if path == skip:
            continue
        try:
            fd = _open_lock_file(path, create=False)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            live[path] = _describe_holder(fd)
        else:
            os.unlink(path)  # a dead member's, removed while locked
        finally:
            os.close(fd)
    return live


def _busy(folder: str, holder: str) -> FolderBusyError:
    return FolderBusyError(f"{folder} is in use by another run ({holder}); wait for it to finish or write to another "
                           "folder")


def _acquire(folder: str, lock_path: str, wait: bool = False, shared: bool = False) -> int:
    """The open, flocked lock file of ``folder``; FolderBusyError when a live process holds it (unless ``wait``).
    ``shared``: a shared lock (several shared holders at once, none beside an exclusive one), the file left as is."""
    os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    while True:
        fd = _open_lock_file(lock_path)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IsADirectoryError(f"lock file {lock_path} is not a plain file; remove it")
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            members = _live_members(os.path.dirname(lock_path)) if not shared else {}
            holder = "; ".join(members.values()) if members else _describe_holder(fd)
            os.close(fd)
            raise _busy(folder, holder) from None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lock_path):
            break
        os.close(fd)  # locked a file its holder removed on release: lock the current one
    if not shared:
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


def folder_holder(folder: str) -> Optional[str]:
    """What the live run holding the output folder ``folder`` says about itself ("pid N: command"), or None when no
    live run holds it (a probe: it takes and drops the lock at once, and creates nothing)."""
    lock_path = os.path.join(folder, LOCK_FILE)
    try:
        fd = _open_lock_file(lock_path, create=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        members = _live_members(folder)
        return "; ".join(members.values()) if members else _describe_holder(fd)
    finally:
        os.close(fd)
    return None


def _plain_name(text: str, what: str) -> str:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError(f"{what} must be letters, digits, '-' and '_', got {text!r}")
    return text


def hold_output_folder(folder: str, run: Optional[Tuple[str, str]] = None) -> None:
    """Lock the output folder ``folder`` until this process exits; a second call is a no-op. Every kind of run
    (training, evaluation, OSVOS, ablation) takes this one lock, so that one run at a time writes the folder.

    ``run``: (group, member) for the parts of one run that share the folder on purpose (the shards of one OSVOS
    run: group = the run's provenance and shard count, member = the shard): members of one group may hold the
    folder together, nothing else beside them (another group, an exclusive run, the same member twice). Call it in
    the one process that writes the folder (rank 0 of a launch) before anything is written there; an OUTPUT_DIR that
    is a symbolic link is a SymlinkError naming it.
    """
    root = real_folder(folder)
    lock_path = os.path.join(root, LOCK_FILE)
    if run is None:
        if lock_path not in _HELD:
            _HELD[lock_path] = _acquire(folder, lock_path)
        return
    group, member = (_plain_name(run[0], "run group"), _plain_name(run[1], "run member"))
    member_path = os.path.join(root, f"{LOCK_FILE}.run-{group}.{member}")
    if member_path in _HELD:
        return
    gate = _open_lock_file(os.path.join(root, f"{LOCK_FILE}.gate"))  # one shared run joins at a time
    try:
        fcntl.flock(gate, fcntl.LOCK_EX)
        main = _acquire(folder, lock_path, shared=True)  # refused next to an exclusive run
        try:
            others = {path: holder for path, holder in _live_members(root, skip=member_path).items()
                      if not os.path.basename(path).startswith(f"{LOCK_FILE}.run-{group}.")}
            if others:
                raise _busy(folder, "; ".join(others.values()) + " (another run's part)")
            _HELD[member_path] = _acquire(folder, member_path)  # the same member twice is refused here
        except BaseException:
            os.close(main)
            raise
        _HELD[lock_path + f".shared-{group}.{member}"] = main
    finally:
        os.close(gate)
