"""Paths in records meant to be read elsewhere (ablation_runs.json, stage records, reports, benchmark JSON): relative
to the repository or to the run's output folder, never the absolute paths of the machine that wrote them, which mean
nothing to a reader and show that machine's layout."""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

__all__ = ["EXTERNAL", "REPO", "portable_command", "portable_path"]

# The repository root (the folder holding the vos_eval package).
REPO = str(Path(__file__).resolve().parents[1])
# Prefix of a path outside the repository and the output folder: only its last component is kept.
EXTERNAL = "<external>"


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def portable_path(path: str, output_dir: Optional[str] = None) -> str:
    """``path`` as a record may show it: a relative path unchanged; inside the repository, relative to it
    (``tools/train_net.py``, ``output/ablation/seed1/1-1``); otherwise relative to ``output_dir`` (``.``,
    ``pretrain/model_final.pth``, ``../../pretrain/model_final.pth``) when the two share a folder below the top
    level; anything else ``<external>/<last component>``."""
    if not os.path.isabs(path):
        return path
    path = os.path.normpath(path)
    for repo in dict.fromkeys((REPO, os.path.realpath(REPO))):
        if _inside(path, repo):
            return os.path.relpath(path, repo)
    if output_dir is not None:
        output_dir = os.path.abspath(output_dir)
        common = os.path.commonpath([path, output_dir])
        if len(Path(common).parts) > 2:  # shared below the top level: e.g. /tmp/run, not /tmp or /
            return os.path.relpath(path, output_dir)
    return f"{EXTERNAL}/{os.path.basename(path)}"


def _interpreter(arg: str) -> bool:
    """Whether ``arg`` names this Python interpreter."""
    return os.path.isabs(arg) and (arg == sys.executable or bool(re.fullmatch(r"python[0-9.]*", os.path.basename(arg))))


def portable_command(command: Sequence[str], output_dir: Optional[str] = None) -> list[str]:
    """``command`` with the interpreter as ``python`` and every absolute path argument (alone or after ``--flag=``)
    made portable_path."""
    portable = []
    for arg in command:
        if _interpreter(arg):
            portable.append("python")
        elif os.path.isabs(arg):
            portable.append(portable_path(arg, output_dir))
        elif arg.startswith("-") and "=" in arg and os.path.isabs(arg.split("=", 1)[1]):
            flag, value = arg.split("=", 1)
            portable.append(f"{flag}={portable_path(value, output_dir)}")
        else:
            portable.append(arg)
    return portable
