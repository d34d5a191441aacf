"""Atomic file and folder writes (a reader, or a run interrupted half-way, never sees a partial file or set) and
safe paths under a root."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from .locks import FolderBusyError, folder_lock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(temp_path)`` on a temporary file beside ``path``, then rename it over ``path``.

    The temporary file keeps the extension (writers that infer the format from it work) and is removed if
    ``write`` fails; the result gets the permissions an ordinary ``open`` would give it.
    """
    atomic_write_all([(path, write)])


def atomic_write_all(writes: Sequence[Tuple[str, Callable[[str], None]]]) -> None:
    """Write several files as one commit: every ``write(temp_path)`` first, the renames only once all succeeded.

    A failure while writing (e.g. a full disk) removes the temporary files and leaves every target as it was.
    """
    temps: List[Tuple[str, str]] = []
    try:
        for path, write in writes:
            directory, name = os.path.split(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=os.path.splitext(name)[1], dir=directory)
            os.close(fd)
            temps.append((tmp, path))
            write(tmp)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise


def write_json_atomic(path: str, payload: Dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2)))


class UnsafePathError(ValueError):
    """A name that would place a file outside the folder it belongs in (a separator, '..', or empty)."""


def join_under(root: str, *names: str) -> str:
    """``root/name1/name2/...`` where each name must be one plain path component, so the path stays under root.

    Every write path built from data (sequence and frame names, tool arguments) goes through here: a name with a
    separator, a '..', or none at all raises UnsafePathError naming it and the root.
    """
    for name in names:
        if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name
                or (os.sep != "/" and os.sep in name) or (os.altsep is not None and os.altsep in name)):
            raise UnsafePathError(f"refusing to build a path under {root}: {name!r} is not a plain file or folder name")
    return os.path.join(root, *names)


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


def build_atomically(output: str, overwrite: bool, write: Callable[[str], None]) -> None:
    """Run ``write(folder)`` on a fresh hidden folder next to ``output``, then rename it to ``output``.

    An existing ``output`` is a FileExistsError unless ``overwrite``; a failed or interrupted ``write`` leaves
    nothing behind (and the previous ``output``, if any, as it was). One run at a time writes ``output``: a second
    one stops with a FolderBusyError naming the running process, and removes the hidden folders of killed runs.
    """
    parent, name = os.path.split(output)
    os.makedirs(parent, exist_ok=True)
    with folder_lock(output, build_lock_file(output)):
        if os.path.exists(output) and not overwrite:
            raise FileExistsError(f"{output} already exists; pass overwrite=True (--overwrite) to replace it")
        for stale in os.listdir(parent):  # what killed runs left (no live run holds the lock)
            if stale.startswith((f".{name}.tmp-", f".{name}.old-")):
                shutil.rmtree(os.path.join(parent, stale), ignore_errors=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-")
        try:
            write(tmp)
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

