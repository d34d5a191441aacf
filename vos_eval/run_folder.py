"""The layout of a run's output folder, defined once: where evaluations, results PNGs, tables and results.json go.

::

    <output_dir>/results.json                           the first test set's scores (vos_eval.results_file)
    <output_dir>/inference/<dataset>/                   a training run's evaluation of one test set (--eval-only)
        davis_results/<sequence>/<frame>.png            DAVIS result PNGs        (the benchmark's results folder)
        Annotations/<video>/<frame>.png                 YouTube-VOS result PNGs  (the submission's layout)
        global_results-<set>.csv                        the global table (GLOBAL_COLUMNS)
        per-sequence_results-<set>.csv                  one row per object (SEQUENCE_COLUMNS)
        results.json
    <output_dir>/davis_results/ (or Annotations/), the two CSVs, results.json     an OSVOS run (no inference/)

The CSV tables are written by :func:`write_tables` and read back by :func:`read_per_sequence` /
:func:`read_global`, so no one parses them by hand. Imports only the standard library.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import VOSFormatError, VOSNotFoundError
from .io import atomic_write_all, join_under

__all__ = ["DAVIS_RESULTS", "GLOBAL_COLUMNS", "INFERENCE", "RESULTS_FILE", "RESULTS_SUBDIRS", "SEQUENCE_COLUMNS",
           "YTVOS_RESULTS", "RunFolder", "read_global", "read_per_sequence", "write_tables"]

# Folder of a training run's per-test-set evaluations.
INFERENCE = "inference"
# The results folders of the benchmarks (vos_eval.benchmarks picks one per benchmark): DAVIS's, and YouTube-VOS's,
# which is the root folder of its submission zip.
DAVIS_RESULTS = "davis_results"
YTVOS_RESULTS = "Annotations"
RESULTS_SUBDIRS = (DAVIS_RESULTS, YTVOS_RESULTS)
# The scores of a run (schema: vos_eval.results_file).
RESULTS_FILE = "results.json"
GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
SEQUENCE_COLUMNS = ("Sequence", "J-Mean", "F-Mean")


class RunFolder:
    """Paths inside one run's output folder (``RunFolder(cfg.OUTPUT_DIR)``); nothing is created or read."""

    def __init__(self, output_dir: str):
        self.output_dir = output_dir

    @property
    def inference_dir(self) -> str:
        """``<output_dir>/inference``: a training run's evaluations, one folder per test set."""
        return os.path.join(self.output_dir, INFERENCE)

    def evaluation_dir(self, dataset: str) -> str:
        """``<output_dir>/inference/<dataset>``: one test set's results PNGs, tables and results.json (a dataset
        name that is not a plain folder name is an UnsafePathError)."""
        return join_under(self.inference_dir, dataset)

    def results_dir(self, subdir: str) -> str:
        """``<output_dir>/<subdir>``: a benchmark's results PNGs (``subdir``: its results folder, RESULTS_SUBDIRS)."""
        if subdir not in RESULTS_SUBDIRS:
            raise ValueError(f"results folder must be one of {RESULTS_SUBDIRS}, got {subdir!r}")
        return os.path.join(self.output_dir, subdir)

    @property
    def results_json(self) -> str:
        """``<output_dir>/results.json``."""
        return os.path.join(self.output_dir, RESULTS_FILE)

    def global_csv(self, split: str) -> str:
        """``<output_dir>/global_results-<split>.csv``."""
        return os.path.join(self.output_dir, f"global_results-{split}.csv")

    def per_sequence_csv(self, split: str) -> str:
        """``<output_dir>/per-sequence_results-<split>.csv``."""
        return os.path.join(self.output_dir, f"per-sequence_results-{split}.csv")

    def find_results_dir(self, dataset: Optional[str] = None) -> str:
        """The folder of ``<sequence>/<frame>.png`` this folder stands for: its own results folder (an OSVOS run),
        the one of ``inference/<dataset>/`` (a training run; ``dataset`` picks one where it evaluated several), or
        the folder itself. A VOSNotFoundError names the folder when it is missing or ambiguous."""
        if not os.path.isdir(self.output_dir):
            raise VOSNotFoundError(f"results folder not found: {self.output_dir}")
        for subdir in RESULTS_SUBDIRS:
            if os.path.isdir(os.path.join(self.output_dir, subdir)):
                return os.path.join(self.output_dir, subdir)
        if not os.path.isdir(self.inference_dir):
            return self.output_dir
        found = {d: os.path.join(self.inference_dir, d, sub) for d in sorted(os.listdir(self.inference_dir))
                 for sub in RESULTS_SUBDIRS if os.path.isdir(os.path.join(self.inference_dir, d, sub))}
        if dataset is not None:
            if dataset not in found:
                raise VOSNotFoundError(f"run folder {self.output_dir} has no results of dataset {dataset!r} "
                                       f"(found: {list(found) or 'none'})")
            return found[dataset]
        if len(found) != 1:
            raise VOSNotFoundError(
                f"run folder {self.output_dir} holds results of {len(found)} datasets under {self.inference_dir} "
                f"({list(found) or 'none'}); name one (--dataset)"
            )
        return next(iter(found.values()))


def _fmt(value: float) -> str:
    """The official tables' number format: 3 decimals, empty for NaN (as pandas writes it)."""
    return "" if math.isnan(value) else f"{value:.3f}"


def _csv_writer(rows: List[List[str]]) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)

    return write


def write_tables(output_dir: str, split: str, global_metrics: Mapping[str, float],
                 per_sequence: Sequence[Tuple[str, float, float]]) -> Tuple[str, str]:
    """Write ``global_results-<split>.csv`` and ``per-sequence_results-<split>.csv`` as one commit; their paths.

    Both tables are written to temporary files first and renamed only when both are complete, so a failure (e.g. a
    full disk) leaves the previous pair as it was.
    """
    folder = RunFolder(output_dir)
    global_path, seq_path = folder.global_csv(split), folder.per_sequence_csv(split)
    global_rows = [list(GLOBAL_COLUMNS), [_fmt(global_metrics[c]) for c in GLOBAL_COLUMNS]]
    sequence_rows = [list(SEQUENCE_COLUMNS)] + [[n, _fmt(j), _fmt(f)] for n, j, f in per_sequence]
    atomic_write_all([(global_path, _csv_writer(global_rows)), (seq_path, _csv_writer(sequence_rows))])
    return global_path, seq_path


def _rows(path: str, columns: Sequence[str]) -> List[List[str]]:
    """The data rows of a table whose header must be ``columns``; errors name the file."""
    if not os.path.isfile(path):
        raise VOSNotFoundError(f"results table not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise VOSFormatError(f"cannot read results table {path}: {e}") from e
    if not rows or tuple(rows[0]) != tuple(columns):
        found = ",".join(rows[0]) if rows else "no header"
        raise VOSFormatError(f"{path}: expected the header {','.join(columns)}, got {found}")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(columns):
            raise VOSFormatError(f"{path}:{number}: expected {len(columns)} columns, got {len(row)}")
    return rows[1:]


def _number(text: str, path: str, number: int) -> float:
    if text == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise VOSFormatError(f"{path}:{number}: {text!r} is not a number") from None


def read_per_sequence(path: str) -> List[Tuple[str, float, float]]:
    """(object, J-Mean, F-Mean) rows of a per-sequence table written by :func:`write_tables` (NaN for empty)."""
    return [(row[0], _number(row[1], path, i), _number(row[2], path, i))
            for i, row in enumerate(_rows(path, SEQUENCE_COLUMNS), start=2)]


def read_global(path: str) -> Dict[str, float]:
    """The global row of a table written by :func:`write_tables`: {column: value}."""
    rows = _rows(path, GLOBAL_COLUMNS)
    if len(rows) != 1:
        raise VOSFormatError(f"{path}: expected one row of global results, got {len(rows)}")
    return {c: _number(v, path, 2) for c, v in zip(GLOBAL_COLUMNS, rows[0])}
