"""The one stage runner and the one stage record of the experiments.

A stage is a ``tools/*.py`` command run as a subprocess with its output streamed to a log (the ablation's stages,
the quickstart's steps, the precision check's evaluations). :func:`run_logged` starts it; :class:`StageRecord` is
what is kept of it in its output folder: its command (portable: no machine paths), when it started, its wall time,
whether it ran alone, and the inputs its results depend on (``inputs``: e.g. the weights' sha256, the config and
overrides), so that a stage whose record holds the same inputs need not run again.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from vos_eval.io import write_json_atomic
from vos_eval.output_folder import open_nofollow, real_folder

from . import REPO

__all__ = ["REPO", "StageError", "StageRecord", "run_logged", "utc_now"]


class StageError(RuntimeError):
    """A stage failed, or its record cannot be read; the message names the stage, log or file."""


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_logged(command: Sequence[str], log_file: str, echo: bool | Callable[[str], str | None] = True,
               cwd: str | None = None) -> int:
    """Run ``command`` (in ``cwd``, by default the current folder), its stdout and stderr written to ``log_file``
    (after a ``$ command`` line; the log's folder is created as a real folder and the log is never opened through a
    link) and echoed to the console: every line with ``echo`` True, none with False, otherwise what ``echo(line)``
    returns for it (None: nothing). Returns the exit code."""
    real_folder(os.path.dirname(os.path.abspath(log_file)))
    with open_nofollow(log_file, "w") as log, subprocess.Popen(
        list(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        log.write(f"$ {shlex.join(command)}\n")
        for line in proc.stdout:
            shown = line if echo is True else None if echo is False else echo(line)
            if shown is not None:
                sys.stdout.write(shown)
                sys.stdout.flush()
            log.write(line)
            log.flush()
    return proc.returncode


@dataclass
class StageRecord:
    """How a stage ran: its label and command, when it started (UTC), its wall time, whether it ran alone (no other
    stage of its experiment running at any moment of it) with how many stages at a time, its kind ("pretrain",
    "train", "osvos", "eval", ...) and the inputs its results depend on. Records written before the kind was
    recorded read back with ``kind`` None (see ``stage_kind``); ``inputs`` is written only when there are any."""

    stage: str
    command: list[str]
    started: str
    wall_s: float
    ran_alone: bool
    jobs: int
    kind: str | None = None
    inputs: dict[str, Any] | None = None

    @property
    def stage_kind(self) -> str:
        """The stage's kind: the recorded one, or for an older record (no ``kind``) the word after the row in its
        label ("3-7 osvos seed 2" -> "osvos"), the only place such a record kept it."""
        if self.kind:
            return self.kind
        words = self.stage.split()
        return words[1] if len(words) > 1 else self.stage

    def write(self, path: str) -> None:
        """Write the record atomically."""
        data = asdict(self)
        if data["inputs"] is None:
            del data["inputs"]
        write_json_atomic(path, data)

    @classmethod
    def read(cls, path: str) -> StageRecord | None:
        """The record at ``path``, or None when there is none (a stage run by hand or by an older tool);
        StageError naming the file when it is not a record."""
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            # A missing field with no default (all but ``kind`` and ``inputs``) is a TypeError naming it.
            return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StageError(f"cannot read stage record {path}: {e}") from e
