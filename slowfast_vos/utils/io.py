"""Atomic file writes: a reader, or a run interrupted half-way, never sees a partial file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(temp_path)`` on a temporary file beside ``path``, then rename it over ``path``.

    The temporary file keeps the extension (writers that infer the format from it work) and is removed if
    ``write`` fails; the result gets the permissions an ordinary ``open`` would give it.
    """
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=os.path.splitext(name)[1], dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path: str, payload: Dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2)))
