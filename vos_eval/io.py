"""Atomic file writes: a reader, or a run interrupted half-way, never sees a partial file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple


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
