"""Scoring a DAVIS results folder with the benchmark's protocols: DAVIS 2016 binary, semi-supervised, unsupervised.

A results folder holds ``<sequence>/<frame>.png`` indexed PNGs. :func:`evaluate_davis` reads each sequence's
annotations and results once, scores the sequences in parallel processes with the vectorised measures of
:mod:`.metrics`, and writes the benchmark's two CSV tables. Bad input raises :class:`DAVISEvaluationError`.
"""
from __future__ import annotations

import csv
import logging
import multiprocessing as mp
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..data.davis_format import (
    MASK_EXT,
    TASKS,
    VOID_ID,
    DAVISEvaluationError,
    DAVISLayout,
    DAVISNotFoundError,
    annotation_frames,
    check_name,
    read_id_png,
)
from ..utils import atomic_write_all
from .input_warnings import warn_suspicious_inputs
from .metrics import BOUNDARY_THRESHOLD, db_statistics, pairwise_jf

logger = logging.getLogger(__name__)

# How void (255) annotation pixels are treated: excluded from J and from both masks before F (the measures'
# definition, db_eval_iou / f_measure), or as background. davis2017-evaluation's loader sets 255 to 0 before
# it takes the void mask, so its published numbers amount to "background"; DAVIS 2017 val has no void pixels.
VOID_MODES = ("exclude", "background")
# Most predicted ids per sequence the unsupervised protocol accepts.
MAX_UNSUPERVISED_PROPOSALS = 20
GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
SEQUENCE_COLUMNS = ("Sequence", "J-Mean", "F-Mean")
# Missing result frames named in an error message before it only counts the rest.
_MAX_LISTED = 10


def scored_frames(frames: Sequence[str], task: str) -> List[str]:
    """Frames a protocol scores: all for unsupervised, all but the first and the last otherwise."""
    return list(frames) if task == "unsupervised" else list(frames[1:-1])


@dataclass(frozen=True)
class _SequenceJob:
    """Everything a worker process needs to score one sequence."""

    sequence: str
    task: str
    year: str
    annotation_dir: str
    results_dir: str
    frames: Tuple[str, ...]
    void_mode: str
    max_proposals: int
    bound_th: float


@dataclass
class SequenceScores:
    """Per-frame J and F of one sequence's objects (rows = GT objects 1..K) over the scored frames, and the
    result id scored as each object."""

    sequence: str
    frames: List[str]
    j: np.ndarray
    f: np.ndarray
    matched_ids: List[int]


def _load_stack(
    folder: str, frames: Sequence[str], what: str, year: Optional[str], shape: Optional[Tuple[int, int]] = None
) -> np.ndarray:
    """Read ``<folder>/<frame>.png`` for every frame into one (T, H, W) uint8 stack; sizes must agree.

    ``year``: the annotations' DAVIS year (the PNG policy of davis_format), None for results.
    """
    stack = None
    for i, frame in enumerate(frames):
        path = os.path.join(folder, frame + MASK_EXT)
        labels = read_id_png(path, year)
        if shape is None:
            shape = labels.shape
        if labels.shape != shape:
            raise DAVISEvaluationError(
                f"{what} PNG {path} is {labels.shape[1]}x{labels.shape[0]} (WxH), expected {shape[1]}x{shape[0]}"
            )
        if stack is None:
            stack = np.empty((len(frames), *shape), dtype=np.uint8)
        stack[i] = labels
    return stack


def evaluate_sequence(job: _SequenceJob) -> SequenceScores:
    """Score one sequence under ``job.task``: load its annotations and results once, return per-frame J and F."""
    seq = job.sequence
    gt = _load_stack(os.path.join(job.annotation_dir, seq), job.frames, "annotation", job.year)
    void = None
    if job.year == "2017":
        is_void = gt == VOID_ID
        gt[is_void] = 0
        if job.void_mode == "exclude" and is_void.any():
            void = is_void
    if len(job.frames) < 3 and job.task != "unsupervised":
        raise DAVISEvaluationError(
            f"sequence {seq!r} has {len(job.frames)} annotated frames; the {job.task} protocol scores all but the "
            "first and the last, so it needs at least 3"
        )
    frames = scored_frames(job.frames, job.task)
    sl = slice(0, len(frames)) if job.task == "unsupervised" else slice(1, len(job.frames) - 1)
    pred = _load_stack(os.path.join(job.results_dir, seq), frames, "result", None, shape=gt.shape[1:])
    # Objects are the ids 1..K with K the largest id of the first annotated frame, as the toolkit counts them.
    num_gt = int(gt[0].max())
    gt, void = gt[sl], None if void is None else void[sl]

    if job.task == "davis2016":
        gt_bin, pred_bin = (gt > 0).astype(np.uint8), (pred > 0).astype(np.uint8)
        j, f = pairwise_jf(gt_bin, pred_bin, 1, 1, void, diagonal=True, bound_th=job.bound_th)
        return SequenceScores(seq, frames, j, f, [1])

    if num_gt == 0:
        raise DAVISEvaluationError(f"sequence {seq!r}: the first annotation frame {job.frames[0]!r} has no object")
    num_pred = int(pred.max())
    if job.task == "semi-supervised":
        if num_pred > num_gt:
            bad = next(fr for fr, p in zip(frames, pred) if p.max() > num_gt)
            raise DAVISEvaluationError(
                f"result {os.path.join(job.results_dir, seq, bad + '.png')} holds id {int(pred.max())}, but sequence "
                f"{seq!r} has {num_gt} objects (ids 1..{num_gt}) in its first frame"
            )
        j, f = pairwise_jf(gt, pred, num_gt, num_gt, void, diagonal=True, bound_th=job.bound_th)
        return SequenceScores(seq, frames, j, f, list(range(1, num_gt + 1)))

    if num_pred > job.max_proposals:
        raise DAVISEvaluationError(
            f"results of sequence {seq!r} in {job.results_dir} hold id {num_pred}; the unsupervised protocol allows "
            f"at most {job.max_proposals} ids per sequence"
        )
    num_pred = max(num_pred, num_gt)  # missing ids are empty proposals
    j_all, f_all = pairwise_jf(gt, pred, num_gt, num_pred, void, bound_th=job.bound_th)
    # Hungarian matching of proposals (rows) to GT objects (columns) on the sequence mean of (J + F) / 2.
    score = (np.mean(j_all, axis=2) + np.mean(f_all, axis=2)).T / 2
    from scipy.optimize import linear_sum_assignment  # here: SciPy's optimizer package takes ~0.5 s to import

    rows, cols = linear_sum_assignment(-score)
    matched = dict(zip(cols.tolist(), rows.tolist()))
    order = [matched[g] for g in range(num_gt)]
    j = np.stack([j_all[g, p] for g, p in enumerate(order)])
    f = np.stack([f_all[g, p] for g, p in enumerate(order)])
    return SequenceScores(seq, frames, j, f, [p + 1 for p in order])


@dataclass
class DAVISResults:
    """A scored results folder: the global table, the per-object table and every object's per-frame values."""

    task: str
    split: str
    global_metrics: Dict[str, float]
    per_sequence: List[Tuple[str, float, float]]
    per_frame: Dict[str, Tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # The result id scored as each object (the Hungarian match under the unsupervised protocol).
    matched_ids: Dict[str, int] = field(default_factory=dict)
    num_frames: int = 0
    # Each object's sequence and the names of its scored frames (the columns of its per_frame values).
    frames: Dict[str, Tuple[str, List[str]]] = field(default_factory=dict)

    def __getitem__(self, key: str):
        """Dict-style access to the tables: ``results["global"]`` and ``results["per_sequence"]``."""
        tables = {"global": self.global_metrics, "per_sequence": self.per_sequence}
        if key not in tables:
            raise KeyError(f"{key!r}: DAVISResults holds 'global' and 'per_sequence'")
        return tables[key]

    def write_csvs(self, output_dir: str) -> Tuple[str, str]:
        """Write ``global_results-<set>.csv`` and ``per-sequence_results-<set>.csv`` as one commit; return paths.

        Both tables are written to temporary files first and renamed only when both are complete, so a failure
        (e.g. a full disk) leaves the previous pair as it was.
        """
        global_path = os.path.join(output_dir, f"global_results-{self.split}.csv")
        seq_path = os.path.join(output_dir, f"per-sequence_results-{self.split}.csv")
        global_rows = [list(GLOBAL_COLUMNS), [_fmt(self.global_metrics[c]) for c in GLOBAL_COLUMNS]]
        sequence_rows = [list(SEQUENCE_COLUMNS)] + [[n, _fmt(j), _fmt(f)] for n, j, f in self.per_sequence]
        atomic_write_all([(global_path, _csv_writer(global_rows)), (seq_path, _csv_writer(sequence_rows))])
        return global_path, seq_path

    def tables(self) -> str:
        """The global and per-sequence tables as text, for logs and the command line."""
        from tabulate import tabulate

        g = tabulate([[self.global_metrics[c] for c in GLOBAL_COLUMNS]], headers=GLOBAL_COLUMNS, floatfmt=".3f")
        s = tabulate(self.per_sequence, headers=SEQUENCE_COLUMNS, floatfmt=".3f")
        return (
            f"--------------------------- Global results for {self.split} ---------------------------\n{g}\n\n"
            f"---------- Per sequence results for {self.split} ----------\n{s}"
        )


def _fmt(value: float) -> str:
    """The official tables' number format: 3 decimals, empty for NaN (as pandas writes it)."""
    return "" if np.isnan(value) else f"{value:.3f}"


def _csv_writer(rows: List[List[str]]) -> Callable[[str], None]:
    """A function writing ``rows`` as CSV to a given (temporary) path."""

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)

    return write


def summarize(task: str, split: str, scores: Sequence[SequenceScores]) -> DAVISResults:
    """Per-object Mean/Recall/Decay and their means over all objects, named ``<sequence>_<object index>``."""
    stats: Dict[str, List[float]] = {k: [] for k in ("JM", "JR", "JD", "FM", "FR", "FD")}
    per_sequence, per_frame, matched, num_frames, frames = [], {}, {}, 0, {}
    for sc in scores:
        num_frames += len(sc.frames)
        for i in range(sc.j.shape[0]):
            name = f"{sc.sequence}_{i + 1}"
            jm, jr, jd = db_statistics(sc.j[i])
            fm, fr, fd = db_statistics(sc.f[i])
            for key, value in zip(("JM", "JR", "JD", "FM", "FR", "FD"), (jm, jr, jd, fm, fr, fd)):
                stats[key].append(value)
            per_sequence.append((name, jm, fm))
            per_frame[name] = (sc.j[i], sc.f[i])
            matched[name] = sc.matched_ids[i]
            frames[name] = (sc.sequence, list(sc.frames))
    if not per_sequence:
        raise DAVISEvaluationError("no object was scored")
    global_metrics = global_table(stats["JM"], stats["JR"], stats["JD"], stats["FM"], stats["FR"], stats["FD"])
    return DAVISResults(task, split, global_metrics, per_sequence, per_frame, matched, num_frames, frames)


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


def _check_results_complete(jobs: Sequence[_SequenceJob]) -> None:
    """Raise one error naming the missing result frames (the first few of them) before any scoring starts."""
    missing = []
    for job in jobs:
        folder = os.path.join(job.results_dir, job.sequence)
        present = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        missing += [os.path.join(folder, fr + MASK_EXT) for fr in scored_frames(job.frames, job.task)
                    if fr + MASK_EXT not in present]
    if missing:
        listed = "\n  ".join(missing[:_MAX_LISTED])
        more = f"\n  ... and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        raise DAVISEvaluationError(f"{len(missing)} result frames are missing:\n  {listed}{more}")


def _worker_init() -> None:
    """One OpenCV thread per worker process: the processes already use every core."""
    import cv2

    cv2.setNumThreads(1)


def _start_pool(workers: int):
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


def _iterate_scores(jobs: Sequence[_SequenceJob], workers: int) -> Iterator[SequenceScores]:
    """Score the jobs in order, in ``workers`` processes, or in this one when workers <= 1."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(evaluate_sequence, jobs)
        return
    with _start_pool(min(workers, len(jobs))) as pool:
        yield from pool.imap(evaluate_sequence, jobs)


def evaluate_davis(
    davis_root: str,
    results_dir: str,
    task: str,
    split: str = "val",
    year: Optional[str] = None,
    resolution: str = "480p",
    workers: int = 0,
    *,
    sequences: Optional[Sequence[str]] = None,
    annotation_dir: Optional[str] = None,
    output_dir: Optional[str] = None,
    void_mode: str = "exclude",
    max_proposals: int = MAX_UNSUPERVISED_PROPOSALS,
    bound_th: float = BOUNDARY_THRESHOLD,
    progress: bool = False,
    layout: Optional[DAVISLayout] = None,
    write_csvs: bool = True,
) -> DAVISResults:
    """Score ``results_dir`` (``<sequence>/<frame>.png``) against a DAVIS root under ``task``; write the CSVs.

    ``layout`` (a registered dataset's ``metadata.layout``) says where the set is; without it the layout of
    ``davis_root`` is found from ``split``, ``year`` (None: detected from the ImageSets list that exists) and
    ``resolution``. ``sequences`` / ``annotation_dir`` override the set's list and annotation folder. The CSV
    tables go to ``output_dir`` (default: ``results_dir``) unless ``write_csvs`` is False. ``workers`` > 1 scores
    sequences in that many processes.
    """
    if task not in TASKS:
        raise DAVISEvaluationError(f"task must be one of {TASKS}, got {task!r}")
    if void_mode not in VOID_MODES:
        raise DAVISEvaluationError(f"void_mode must be one of {VOID_MODES}, got {void_mode!r}")
    if not os.path.isdir(results_dir):
        raise DAVISNotFoundError(f"results folder {results_dir!r} not found")
    if layout is None:
        layout = DAVISLayout.find(davis_root, split, year, resolution, task)
    annotation_dir = annotation_dir or layout.annotation_dir
    if not os.path.isdir(annotation_dir):
        raise DAVISNotFoundError(f"annotation folder {annotation_dir!r} not found")
    if sequences is None:
        sequences = layout.sequences()
    jobs = [
        _SequenceJob(
            sequence=check_name(seq, "sequence", "evaluate_davis"),
            task=task,
            year=layout.year,
            annotation_dir=annotation_dir,
            results_dir=results_dir,
            frames=tuple(annotation_frames(annotation_dir, seq)),
            void_mode=void_mode,
            max_proposals=max_proposals,
            bound_th=bound_th,
        )
        for seq in sequences
    ]
    _check_results_complete(jobs)
    warn_suspicious_inputs(task, layout, [
        (job.sequence, os.path.join(annotation_dir, job.sequence, job.frames[0] + MASK_EXT),
         os.path.join(results_dir, job.sequence, scored_frames(job.frames, task)[0] + MASK_EXT))
        for job in jobs if scored_frames(job.frames, task)
    ])
    scores = _iterate_scores(jobs, workers)
    if progress:
        from tqdm import tqdm

        scores = tqdm(scores, total=len(jobs), desc=f"DAVIS {task} {layout.split}", unit="seq")
    results = summarize(task, layout.split, list(scores))
    if write_csvs:
        results.write_csvs(output_dir or results_dir)
    return results
