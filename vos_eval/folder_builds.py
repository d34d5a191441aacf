"""Atomic folder builds (a reader, or a run interrupted half-way, never sees a partial set) and their locks; the
atomic file writes and safe paths they use are :mod:`vos_eval.io`."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Callable, Iterator

from .locks import FolderBusyError, folder_lock

__all__ = ["build_atomically", "build_lock_file", "building_atomically", "ensure_generated", "link_or_copy"]


def link_or_copy(src: str, dst: str) -> None:
    """Hard-link ``src`` to ``dst`` (the same bytes without using space), copying where links fail."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def build_lock_file(output: str) -> str:
    """The lock file of a run that builds the folder ``output`` (beside it: the folder itself is renamed into
    place)."""
    return os.path.join(os.path.dirname(output), f".{os.path.basename(output)}.lock")


@contextlib.contextmanager
def building_atomically(output: str, overwrite: bool, file: bool = False) -> Iterator[str]:
    """:func:`build_atomically` as a ``with`` block, for outputs written piece by piece (e.g. a video's frames): the
    block writes into the hidden folder it is given (``file``: the file of that name inside it), which is renamed to
    ``output`` when the block ends without an error and removed otherwise."""
    parent, name = os.path.split(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    with folder_lock(output, build_lock_file(output)):
        if os.path.exists(output) and not overwrite:
            raise FileExistsError(f"{output} already exists; pass overwrite=True (--overwrite) to replace it")
        for stale in os.listdir(parent):  # what killed runs left (no live run holds the lock)
            if stale.startswith((f".{name}.tmp-", f".{name}.old-")):
                shutil.rmtree(os.path.join(parent, stale), ignore_errors=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")
        try:
            if file:
                yield os.path.join(tmp, name)
                os.replace(os.path.join(tmp, name), output)
                return
            yield tmp
            os.chmod(tmp, 0o755)
            if os.path.exists(output):
                trash = tempfile.mkdtemp(dir=parent, prefix=f".{name}.old-")
                os.replace(output, os.path.join(trash, "old"))
                os.replace(tmp, output)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(tmp, output)
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)


def build_atomically(output: str, overwrite: bool, write: Callable[[str], None]) -> None:
    """Run ``write(folder)`` on a fresh hidden folder next to ``output``, then rename it to ``output``.

    An existing ``output`` is a FileExistsError unless ``overwrite``; a failed or interrupted ``write`` leaves
    nothing behind (and the previous ``output``, if any, as it was). One run at a time writes ``output``: a second
    one stops with a FolderBusyError naming the running process, and removes the hidden folders of killed runs.
    """
    with building_atomically(output, overwrite) as tmp:
        write(tmp)


def ensure_generated(root: str, marker: str, what: str, generate: Callable[[str], str]) -> str:
    """``root`` if its ``marker`` file says it is a complete generated set, else ``generate(root)``; a non-empty
    folder without the marker is refused (FileExistsError naming it and ``what`` it should be)."""
    if os.path.isfile(os.path.join(root, marker)):
        return root
    if os.path.exists(root) and os.listdir(root):
        raise FileExistsError(
            f"{root} exists but is not a complete {what} set (no {marker}); remove it or pass another root"
        )
    if os.path.isdir(root):
        os.rmdir(root)
    try:
        return generate(root)
    except FolderBusyError:  # another process is generating it: wait for it, then take its set
        with folder_lock(root, build_lock_file(root), wait=True):
            if os.path.isfile(os.path.join(root, marker)):
                return root
        raise
    except OSError:
        if os.path.isfile(os.path.join(root, marker)):  # another process finished it first
            return root
        raise

