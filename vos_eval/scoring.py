"""The scoring core every protocol shares (DAVIS's in :mod:`.protocols`, YouTube-VOS's in :mod:`.ytvos`).

Loading id-PNG stacks, the Hungarian match of result ids to objects, per-object J and F statistics, the global and
per-object tables (and their CSVs), the check that every result frame is there, and the pool of scoring processes.
A protocol decides which frames and objects are scored; this module turns their J and F into the benchmark tables.
Errors are the caller's format error class (``error``), so a DAVIS scoring raises DAVISFormatError and a YouTube-VOS
one YTVOSFormatError.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Type

import numpy as np

from .id_png import PNG_EXT as MASK_EXT
from .id_png import read_id_png
from .errors import VOSFormatError
from .metrics import db_statistics
from .run_folder import GLOBAL_COLUMNS, SEQUENCE_COLUMNS, write_tables
from .tracking_metrics import tracking_summary

__all__ = [
    "GLOBAL_COLUMNS",
    "MAX_LISTED",
    "MAX_UNSUPERVISED_PROPOSALS",
    "SEQUENCE_COLUMNS",
    "ObjectScores",
    "VOSResults",
    "check_results_complete",
    "global_table",
    "load_stack",
    "map_jobs",
    "match_objects",
    "on_another_object",
    "start_pool",
    "summarize",
]

# Most predicted ids per video the unsupervised protocols accept.
MAX_UNSUPERVISED_PROPOSALS = 20
# Problem frames named in an error message or report before it only counts the rest.
MAX_LISTED = 10


def load_stack(
    folder: str,
    frames: Sequence[str],
    what: str,
    policy: str,
    shape: Optional[Tuple[int, int]] = None,
    error: Type[VOSFormatError] = VOSFormatError,
) -> np.ndarray:
    """Read ``<folder>/<frame>.png`` for every frame into one (T, H, W) uint8 stack; sizes must agree.

    ``policy``: the id-PNG policy (:data:`.id_png.POLICIES`: the benchmark's annotation policy, or RESULT for
    results). ``what`` names the PNGs in errors ("annotation", "result").
    """
    stack = None
    for i, frame in enumerate(frames):
        path = os.path.join(folder, frame + MASK_EXT)
        labels = read_id_png(path, policy, error=error, what=f"{what} PNG")
        if shape is None:
            shape = labels.shape
        if labels.shape != shape:
            raise error(f"{what} PNG {path} is {labels.shape[1]}x{labels.shape[0]} (WxH), expected "
                        f"{shape[1]}x{shape[0]}")
        if stack is None:
            stack = np.empty((len(frames), *shape), dtype=np.uint8)
        stack[i] = labels
    return stack


def match_objects(j_all: np.ndarray, f_all: np.ndarray, columns: Optional[Sequence[Sequence[int]]] = None) -> List[int]:
    """The result id (0-based proposal index) scored as each object: the Hungarian match of proposals to objects
    on the mean of (J + F) / 2 over each object's scored frames (``columns[g]``; default every frame).

    ``j_all``, ``f_all``: (objects, proposals, frames), with at least as many proposals as objects.
    """
    num_gt, num_pred = j_all.shape[:2]
    score = np.empty((num_pred, num_gt))
    for g in range(num_gt):
        cols = slice(None) if columns is None else list(columns[g])
        score[:, g] = (j_all[g][:, cols].mean(axis=1) + f_all[g][:, cols].mean(axis=1)) / 2
    from scipy.optimize import linear_sum_assignment  # here: SciPy's optimizer package takes ~0.5 s to import

    rows, cols = linear_sum_assignment(-score)
    matched = dict(zip(cols.tolist(), rows.tolist()))
    return [matched[g] for g in range(num_gt)]


def on_another_object(gt: np.ndarray, pred: np.ndarray, obj: int, pred_id: int) -> np.ndarray:
    """Per frame of (T, H, W) id maps: whether result id ``pred_id`` covers some pixels and more than half of them
    lie on one ground-truth object other than ``obj`` (an id switch's symptom)."""
    out = np.zeros(len(gt), dtype=bool)
    for t in range(len(gt)):
        mine = pred[t] == pred_id
        area = int(mine.sum())
        if area:
            counts = np.bincount(gt[t][mine].ravel(), minlength=max(obj, 1) + 1)
            counts[0] = 0
            counts[obj] = 0
            out[t] = counts.max() * 2 > area
    return out


@dataclass
class ObjectScores:
    """Per-frame J and F of one object over its scored frames, and the result id scored as it."""

    name: str
    sequence: str
    frames: List[str]
    j: np.ndarray
    f: np.ndarray
    matched_id: int
    # Whether the ground truth shows the object on each scored frame (None: on every one).
    present: Optional[np.ndarray] = None
    # Whether its result mask lies mostly on another object's ground truth (None: a single-object protocol).
    on_other: Optional[np.ndarray] = None


@dataclass
class VOSResults:
    """A scored results folder: the global table, the per-object table and every object's per-frame values."""

    task: str
    split: str
    global_metrics: Dict[str, float]
    per_sequence: List[Tuple[str, float, float]]
    per_frame: Dict[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # The result id scored as each object (the Hungarian match under the unsupervised protocols).
    matched_ids: Dict[str, int] = field(default_factory=dict)
    num_frames: int = 0
    # Each object's sequence and the names of its scored frames (the columns of its per_frame values).
    frames: Dict[str, Tuple[str, List[str]]] = field(default_factory=dict)
    # Per object and scored frame: the ground truth shows it; its result lies mostly on another object (or None).
    presence: Dict[str, np.ndarray] = field(default_factory=dict)
    on_other: Dict[str, Optional[np.ndarray]] = field(default_factory=dict)

    def tracking(self) -> Dict[str, float]:
        """Losses, recoveries, reappearances and id switches over every object (:mod:`.tracking_metrics`)."""
        return tracking_summary(self.per_frame, self.presence, self.on_other)

    def __getitem__(self, key: str):
        """Dict-style access to the tables: ``results["global"]`` and ``results["per_sequence"]``."""
        tables = {"global": self.global_metrics, "per_sequence": self.per_sequence}
        if key not in tables:
            raise KeyError(f"{key!r}: VOSResults holds 'global' and 'per_sequence'")
        return tables[key]

    def write_csvs(self, output_dir: str) -> Tuple[str, str]:
        """Write the global and per-sequence CSV tables of the set as one commit (:func:`.run_folder.write_tables`);
        return their paths."""
        return write_tables(output_dir, self.split, self.global_metrics, self.per_sequence)

    def tables(self) -> str:
        """The global and per-sequence tables as text, for logs and the command line."""
        from tabulate import tabulate

        g = tabulate([[self.global_metrics[c] for c in GLOBAL_COLUMNS]], headers=GLOBAL_COLUMNS, floatfmt=".3f")
        s = tabulate(self.per_sequence, headers=SEQUENCE_COLUMNS, floatfmt=".3f")
        return (
            f"--------------------------- Global results for {self.split} ---------------------------\n{g}\n\n"
            f"---------- Per sequence results for {self.split} ----------\n{s}"
        )


def global_table(
    j_mean: Sequence[float],
    j_recall: Sequence[float],
    j_decay: Sequence[float],
    f_mean: Sequence[float],
    f_recall: Sequence[float],
    f_decay: Sequence[float],
) -> Dict[str, float]:
    """The benchmark's global row from per-object statistics: means over objects, J&F = (J-Mean + F-Mean) / 2."""
    jm, fm = float(np.mean(j_mean)), float(np.mean(f_mean))
    return {
        "J&F-Mean": (jm + fm) / 2,
        "J-Mean": jm,
        "J-Recall": float(np.mean(j_recall)),
        "J-Decay": float(np.mean(j_decay)),
        "F-Mean": fm,
        "F-Recall": float(np.mean(f_recall)),
        "F-Decay": float(np.mean(f_decay)),
    }


def summarize(
    task: str, split: str, objects: Sequence[ObjectScores], error: Type[VOSFormatError] = VOSFormatError
) -> VOSResults:
    """Per-object Mean/Recall/Decay (:func:`.metrics.db_statistics`) and their means over all objects."""
    if not objects:
        raise error("no object was scored")
    stats: Dict[str, List[float]] = {k: [] for k in ("JM", "JR", "JD", "FM", "FR", "FD")}
    per_sequence = []
    for o in objects:
        jm, jr, jd = db_statistics(o.j)
        fm, fr, fd = db_statistics(o.f)
        for key, value in zip(("JM", "JR", "JD", "FM", "FR", "FD"), (jm, jr, jd, fm, fr, fd)):
            stats[key].append(value)
        per_sequence.append((o.name, jm, fm))
    return VOSResults(
        task, split, global_table(stats["JM"], stats["JR"], stats["JD"], stats["FM"], stats["FR"], stats["FD"]),
        per_sequence,
        per_frame={o.name: (o.j, o.f) for o in objects},
        matched_ids={o.name: o.matched_id for o in objects},
        num_frames=sum(len(o.frames) for o in objects),
        frames={o.name: (o.sequence, list(o.frames)) for o in objects},
        presence={o.name: np.ones(len(o.j), dtype=bool) if o.present is None else o.present for o in objects},
        on_other={o.name: o.on_other for o in objects},
    )


def check_results_complete(
    expected: Iterable[Tuple[str, Sequence[str]]], error: Type[VOSFormatError] = VOSFormatError
) -> None:
    """One error naming the missing result frames (the first MAX_LISTED of them) before any scoring starts.

    ``expected``: (folder, frame names) pairs; each frame needs ``<folder>/<frame>.png``.
    """
    missing = []
    for folder, frames in expected:
        present = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        missing += [os.path.join(folder, fr + MASK_EXT) for fr in frames if fr + MASK_EXT not in present]
    if missing:
        listed = "\n  ".join(missing[:MAX_LISTED])
        more = f"\n  ... and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        raise error(f"{len(missing)} result frames are missing:\n  {listed}{more}")


def _worker_init() -> None:
    """One OpenCV thread per worker process: the processes already use every core."""
    import cv2

    cv2.setNumThreads(1)


def start_pool(workers: int):
    """A process pool (fork where available, so workers start at once), forked while OpenCV has no threads.

    A child forked while OpenCV's thread pool is running can inherit one of its locks held and deadlock on its
    first OpenCV call, so the pool is stopped for the fork and restored afterwards.
    """
    import cv2

    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return mp.get_context(method).Pool(workers, initializer=_worker_init)
    finally:
        cv2.setNumThreads(threads)


def map_jobs(score: Callable, jobs: Sequence, workers: int) -> Iterator:
    """``score(job)`` for every job, in order, in ``workers`` processes (or in this one when workers <= 1)."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(score, jobs)
        return
    with start_pool(min(workers, len(jobs))) as pool:
        yield from pool.imap(score, jobs)
