"""Writing inside an output folder without following symbolic links.

Anyone who can write into a shared output parent could plant ``OUTPUT_DIR/config.yaml -> ~/.bashrc`` (or a lock
file, log, results folder that is a link) and have a run overwrite or append to a file elsewhere. Every place the
project writes under an output folder goes through here: files are opened with ``O_NOFOLLOW``, folders are created,
or checked to be real folders, one component at a time, and a link where the project writes is a
:class:`SymlinkError` naming it. ``OUTPUT_DIR`` itself must not be a link either (its parents may be).
"""
from __future__ import annotations

import errno
import fnmatch
import os
import stat
from typing import IO, Iterable

from .io import UnsafePathError, join_under

__all__ = ["SymlinkError", "check_output_entries", "open_nofollow", "real_folder", "real_folder_under",
           "refuse_symlink"]


class SymlinkError(UnsafePathError):
    """An output folder entry the project would write through is a symbolic link."""


def _link_error(path: str) -> SymlinkError:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return SymlinkError(f"{path} is a symbolic link (to {target}); slowfast_vos never writes through a link in an "
                        f"output folder, since that writes outside it. Remove the link (or use another OUTPUT_DIR)")


def refuse_symlink(path: str) -> str:
    """``path``; a :class:`SymlinkError` naming it when it is a symbolic link."""
    if os.path.islink(path):
        raise _link_error(path)
    return path


def real_folder(root: str, *names: str) -> str:
    """``root/names...`` as real folders: ``root`` (created with its parents if missing; it must not be a link
    itself) and each plain name below it (join_under) created or checked in turn; a link among them is a
    :class:`SymlinkError` naming it, a file a NotADirectoryError."""
    path = refuse_symlink(os.path.abspath(root))
    os.makedirs(path, exist_ok=True)
    refuse_symlink(path)  # created concurrently as a link
    for name in names:
        path = join_under(path, name)
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            raise _link_error(path)
        if not stat.S_ISDIR(mode):
            raise NotADirectoryError(f"{path} is not a folder; slowfast_vos writes a folder there")
    return path


def real_folder_under(root: str, path: str) -> str:
    """:func:`real_folder` for a folder ``path`` inside ``root`` (each component from ``root`` down is created or
    checked to be a real folder); a ``path`` outside ``root`` is an UnsafePathError naming both."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if rel == ".":
        return real_folder(root)
    if rel == ".." or rel.startswith(".." + os.sep):
        raise UnsafePathError(f"{path} is not inside {root}")
    return real_folder(root, *rel.split(os.sep))


def open_nofollow(path: str, mode: str = "a") -> IO[str]:
    """``open(path, mode)`` for text ("w" truncates, "a" appends) that refuses a symbolic link (O_NOFOLLOW): a
    :class:`SymlinkError` naming it instead of writing where the link points."""
    if mode not in ("a", "w"):
        raise ValueError(f"open_nofollow: mode 'a' or 'w', got {mode!r}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _link_error(path) from None
        raise
    return os.fdopen(fd, mode, encoding="utf-8")


def check_output_entries(output_dir: str, patterns: Iterable[str]) -> None:
    """Refuse (SymlinkError naming it) an OUTPUT_DIR that is a link, or any of its entries matching one of
    ``patterns`` (the names, shell-style, of the files and folders a run writes there); run before anything is
    written."""
    output_dir = refuse_symlink(os.path.abspath(output_dir))
    if not os.path.isdir(output_dir):
        return
    patterns = tuple(patterns)
    for name in sorted(os.listdir(output_dir)):
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            refuse_symlink(os.path.join(output_dir, name))
