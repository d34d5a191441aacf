"""The DAVIS protocols: DAVIS 2016 binary, semi-supervised and unsupervised scoring of a results folder.

A results folder holds ``<sequence>/<frame>.png`` indexed PNGs. :func:`evaluate_davis` reads each sequence's
annotations and results once, scores the sequences in parallel processes with the vectorised measures of
:mod:`.metrics`, and writes the benchmark's two CSV tables (the shared core: :mod:`.scoring`). Bad input raises
:class:`DAVISFormatError`.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .davis_format import (
    MASK_EXT,
    TASKS,
    VOID_ID,
    DAVISFormatError,
    DAVISLayout,
    DAVISNotFoundError,
    annotation_frames,
    annotation_policy,
    check_name,
)
from .id_png import RESULT, VOID
from .input_warnings import warn_suspicious_inputs
from .metrics import BOUNDARY_THRESHOLD, pairwise_jf
from .scoring import (
    MAX_UNSUPERVISED_PROPOSALS,
    ObjectScores,
    on_another_object,
    VOSResults,
    check_results_complete,
    load_stack,
    map_jobs,
    match_objects,
    summarize,
)

logger = logging.getLogger(__name__)

# How void (255) annotation pixels are treated: excluded from J and from both masks before F (the measures'
# definition, db_eval_iou / f_measure), or as background. davis2017-evaluation's loader sets 255 to 0 before
# it takes the void mask, so its published numbers amount to "background"; DAVIS 2017 val has no void pixels.
VOID_MODES = ("exclude", "background")


def scored_frames(frames: Sequence[str], task: str) -> List[str]:
    """Frames a protocol scores: all for unsupervised, all but the first and the last otherwise."""
    return list(frames) if task == "unsupervised" else list(frames[1:-1])


@dataclass(frozen=True)
class _SequenceJob:
    """Everything a worker process needs to score one sequence."""

    sequence: str
    task: str
    # The id-PNG policy of the annotations (binary on DAVIS 2016, ids with void on DAVIS 2017).
    policy: str
    annotation_dir: str
    results_dir: str
    frames: Tuple[str, ...]
    void_mode: str
    max_proposals: int
    bound_th: float


def evaluate_sequence(job: _SequenceJob) -> List[ObjectScores]:
    """Score one sequence under ``job.task``: load its annotations and results once, return each object's per-frame
    J and F (objects named ``<sequence>_<object index>``)."""
    seq = job.sequence
    gt = load_stack(os.path.join(job.annotation_dir, seq), job.frames, "annotation", job.policy,
                    error=DAVISFormatError)
    void = None
    if job.policy == VOID:
        is_void = gt == VOID_ID
        gt[is_void] = 0
        if job.void_mode == "exclude" and is_void.any():
            void = is_void
    if len(job.frames) < 3 and job.task != "unsupervised":
        raise DAVISFormatError(
            f"sequence {seq!r} has {len(job.frames)} annotated frames; the {job.task} protocol scores all but the "
            "first and the last, so it needs at least 3"
        )
    frames = scored_frames(job.frames, job.task)
    sl = slice(0, len(frames)) if job.task == "unsupervised" else slice(1, len(job.frames) - 1)
    pred = load_stack(os.path.join(job.results_dir, seq), frames, "result", RESULT, shape=gt.shape[1:],
                      error=DAVISFormatError)
    # Objects are the ids 1..K with K the largest id of the first annotated frame, as the toolkit counts them.
    num_gt = int(gt[0].max())
    gt, void = gt[sl], None if void is None else void[sl]

    if job.task == "davis2016":
        gt_bin, pred_bin = (gt > 0).astype(np.uint8), (pred > 0).astype(np.uint8)
        j, f = pairwise_jf(gt_bin, pred_bin, 1, 1, void, diagonal=True, bound_th=job.bound_th)
        return _objects(seq, frames, j, f, [1], gt_bin)

    if num_gt == 0:
        raise DAVISFormatError(f"sequence {seq!r}: the first annotation frame {job.frames[0]!r} has no object")
    num_pred = int(pred.max())
    if job.task == "semi-supervised":
        if num_pred > num_gt:
            bad = next(fr for fr, p in zip(frames, pred) if p.max() > num_gt)
            raise DAVISFormatError(
                f"result {os.path.join(job.results_dir, seq, bad + '.png')} holds id {int(pred.max())}, but sequence "
                f"{seq!r} has {num_gt} objects (ids 1..{num_gt}) in its first frame"
            )
        j, f = pairwise_jf(gt, pred, num_gt, num_gt, void, diagonal=True, bound_th=job.bound_th)
        return _objects(seq, frames, j, f, list(range(1, num_gt + 1)), gt, pred)

    if num_pred > job.max_proposals:
        raise DAVISFormatError(
            f"results of sequence {seq!r} in {job.results_dir} hold id {num_pred}; the unsupervised protocol allows "
            f"at most {job.max_proposals} ids per sequence"
        )
    num_pred = max(num_pred, num_gt)  # missing ids are empty proposals
    j_all, f_all = pairwise_jf(gt, pred, num_gt, num_pred, void, bound_th=job.bound_th)
    order = match_objects(j_all, f_all)  # the Hungarian match on the sequence mean of (J + F) / 2
    j = np.stack([j_all[g, p] for g, p in enumerate(order)])
    f = np.stack([f_all[g, p] for g, p in enumerate(order)])
    return _objects(seq, frames, j, f, [p + 1 for p in order], gt, pred)


def _objects(seq: str, frames: List[str], j: np.ndarray, f: np.ndarray, matched: List[int], gt: np.ndarray,
             pred: Optional[np.ndarray] = None) -> List[ObjectScores]:
    """One ObjectScores per row of a sequence's (objects, frames) J and F, with where the ground truth (ids 1..K
    on the scored frames) shows each object and, given the results ``pred`` of several objects, where its matched
    result lies on another object."""
    return [ObjectScores(f"{seq}_{i + 1}", seq, frames, j[i], f[i], matched[i],
                         present=(gt == i + 1).any(axis=(1, 2)),
                         on_other=None if pred is None else on_another_object(gt, pred, i + 1, matched[i]))
            for i in range(j.shape[0])]


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
    label: Optional[str] = None,
) -> VOSResults:
    """Score ``results_dir`` (``<sequence>/<frame>.png``) against a DAVIS root under ``task``; write the CSVs.

    ``layout`` (a registered dataset's ``metadata.layout``) says where the set is; without it the layout of
    ``davis_root`` is found from ``split``, ``year`` (None: detected from the ImageSets list that exists) and
    ``resolution``. ``sequences`` / ``annotation_dir`` override the set's list and annotation folder. The CSV
    tables go to ``output_dir`` (default: ``results_dir``) unless ``write_csvs`` is False. ``workers`` > 1 scores
    sequences in that many processes. ``label``: the tables' set name (default: the layout's split).
    """
    if task not in TASKS:
        raise DAVISFormatError(f"task must be one of {TASKS}, got {task!r}")
    if void_mode not in VOID_MODES:
        raise DAVISFormatError(f"void_mode must be one of {VOID_MODES}, got {void_mode!r}")
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
            policy=annotation_policy(layout.year),
            annotation_dir=annotation_dir,
            results_dir=results_dir,
            frames=tuple(annotation_frames(annotation_dir, seq)),
            void_mode=void_mode,
            max_proposals=max_proposals,
            bound_th=bound_th,
        )
        for seq in sequences
    ]
    check_results_complete(((os.path.join(results_dir, job.sequence), scored_frames(job.frames, task)) for job in jobs),
                           DAVISFormatError)
    warn_suspicious_inputs(task, layout, [
        (job.sequence, os.path.join(annotation_dir, job.sequence, job.frames[0] + MASK_EXT),
         os.path.join(results_dir, job.sequence, scored_frames(job.frames, task)[0] + MASK_EXT))
        for job in jobs if scored_frames(job.frames, task)
    ])
    scores = map_jobs(evaluate_sequence, jobs, workers)
    if progress:
        from tqdm import tqdm

        scores = tqdm(scores, total=len(jobs), desc=f"DAVIS {task} {layout.split}", unit="seq")
    results = summarize(task, label or layout.split, [o for objects in scores for o in objects], DAVISFormatError)
    if write_csvs:
        results.write_csvs(output_dir or results_dir)
    return results
