"""The YouTube-VOS protocol: the frames a video's results must have, the masks the semi-supervised protocol gives,
and local J&F scoring on a split that has every annotation (the held-out train videos).

As youtube-vos.org/dataset/vos describes it and the public loaders (STM, STCN, XMem) follow it:

- an object's mask is given on its first-appearance frame (:meth:`.ytvos_format.YTVOSLayout.first_appearances`;
  the valid PNG there holds only the objects that first appear on it); from that frame on the method segments it,
  keeping the given id;
- the results are ``Annotations/<video>/<frame>.png`` (indexed PNGs of the given ids) for every frame the split's
  meta.json lists for the video (the union of its objects' ``"frames"``), uploaded as a zip (:mod:`.submission`);
- J (region) and F (boundary) are the DAVIS measures (:mod:`.metrics`), averaged over all objects; the server's
  overall score is the mean of J and F over seen and over unseen categories. A held-out part of *train* has only
  seen categories, so the local score here is the plain object mean, in DAVIS's global table (:mod:`.scoring`).
- Each object is scored on the listed frames strictly after its first appearance: the first-appearance frame holds
  the given mask, which a method copies. (The server's scoring code is not public: this frame rule is the
  project's reading of the protocol, applied to both local protocols so that their numbers compare.)
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .davis_format import MASK_EXT, natural_key, natural_sorted
from .id_png import RESULT
from .io import join_under
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
from .ytvos_format import MASK_POLICY, YTVOSFormatError, YTVOSLayout, YTVOSNotFoundError, read_mask

__all__ = ["YTVOS_TASKS", "evaluate_ytvos", "given_masks", "required_frames", "scored_objects"]

logger = logging.getLogger(__name__)

# The protocols of a YouTube-VOS set: masks given at each object's first appearance, or none given.
YTVOS_TASKS = ("semi-supervised", "unsupervised")


def required_frames(objects: Mapping[int, Mapping[str, object]]) -> List[str]:
    """The frames a video's results must have: the union of its objects' meta.json "frames", natural order."""
    return natural_sorted({frame for obj in objects.values() for frame in obj["frames"]})


def _warn_never_given(layout: YTVOSLayout, video: str, first: Mapping[int, str]) -> None:
    never = sorted(set(layout.meta()[video]) - set(first))
    if never:
        logger.warning(f"YouTube-VOS video {video!r}: objects {never} are in {layout.meta_file} but no annotation PNG "
                       "holds them; they are neither given nor scored")


def given_masks(layout: YTVOSLayout, video: str) -> Dict[str, Dict[int, np.ndarray]]:
    """Frame -> {object id: mask} of the masks the semi-supervised protocol gives: each object's mask on its
    first-appearance frame (only the objects that first appear there, whatever else the PNG holds)."""
    first = layout.first_appearances(video)
    _warn_never_given(layout, video, first)
    out: Dict[str, Dict[int, np.ndarray]] = defaultdict(dict)
    frames: Dict[str, np.ndarray] = {}
    for obj, frame in first.items():
        if frame not in frames:
            frames[frame] = read_mask(join_under(layout.annotation_dir, video, frame + MASK_EXT))
        out[frame][obj] = frames[frame] == obj
    return dict(out)


@dataclass(frozen=True)
class _VideoJob:
    """What a worker process needs to score one video."""

    video: str
    task: str
    annotation_dir: str
    results_dir: str
    # (object id, its scored frames), objects in id order.
    objects: Tuple[Tuple[int, Tuple[str, ...]], ...]
    # Every id meta.json lists for the video (the ids a semi-supervised result may hold).
    listed_ids: Tuple[int, ...]
    max_proposals: int
    bound_th: float


def scored_objects(layout: YTVOSLayout, video: str) -> List[Tuple[int, List[str]]]:
    """(object id, scored frames) of a video: the listed frames strictly after the object's first appearance."""
    required = required_frames(layout.meta()[video])
    first = layout.first_appearances(video)
    _warn_never_given(layout, video, first)
    return [(obj, [f for f in required if natural_key(f) > natural_key(start)]) for obj, start in first.items()]


def _score_video(job: _VideoJob) -> List[ObjectScores]:
    """J and F of each object of one video on its scored frames (semi-supervised: result id = object id;
    unsupervised: the Hungarian match of result ids to objects on the mean of (J + F) / 2, as DAVIS)."""
    objects = [(obj, fs) for obj, fs in job.objects if fs]
    frames = natural_sorted({f for _, fs in objects for f in fs})
    if not frames:
        return []
    column = {f: i for i, f in enumerate(frames)}
    gt = load_stack(os.path.join(job.annotation_dir, job.video), frames, "annotation", MASK_POLICY,
                    error=YTVOSFormatError)
    pred = load_stack(os.path.join(job.results_dir, job.video), frames, "result", RESULT, shape=gt.shape[1:],
                      error=YTVOSFormatError)
    ids = [obj for obj, _ in objects]
    num_gt = max(ids)
    num_pred = int(pred.max())
    if job.task == "semi-supervised":
        extra = sorted(set(np.unique(pred).tolist()) - set(job.listed_ids) - {0})
        if extra:
            t = next(i for i, p in enumerate(pred) if np.isin(p, extra).any())
            raise YTVOSFormatError(
                f"result {os.path.join(job.results_dir, job.video, frames[t] + MASK_EXT)} holds ids {extra} that "
                f"video {job.video!r} does not have (its objects: {list(job.listed_ids)})"
            )
        num_gt = max(num_gt, num_pred)
        j_all, f_all = pairwise_jf(gt, pred, num_gt, num_gt, diagonal=True, bound_th=job.bound_th)
        matched = {obj: obj for obj in ids}
        pick = {obj: (j_all[obj - 1], f_all[obj - 1]) for obj in ids}
    else:
        if num_pred > job.max_proposals:
            raise YTVOSFormatError(f"results of video {job.video!r} in {job.results_dir} hold id {num_pred}; the "
                                   f"unsupervised protocol allows at most {job.max_proposals} ids per video")
        num_pred = max(num_pred, len(ids))  # missing ids are empty proposals
        j_all, f_all = pairwise_jf(gt, pred, num_gt, num_pred, bound_th=job.bound_th)
        rows = [obj - 1 for obj in ids]
        order = match_objects(j_all[rows], f_all[rows], [[column[f] for f in fs] for _, fs in objects])
        matched = {obj: p + 1 for obj, p in zip(ids, order)}
        pick = {obj: (j_all[obj - 1, matched[obj] - 1], f_all[obj - 1, matched[obj] - 1]) for obj in ids}
    out = []
    for obj, fs in objects:
        idx = [column[f] for f in fs]
        j, f = pick[obj]
        out.append(ObjectScores(f"{job.video}_{obj}", job.video, list(fs), j[idx], f[idx], matched[obj],
                                present=(gt[idx] == obj).any(axis=(1, 2)),
                                on_other=on_another_object(gt[idx], pred[idx], obj, matched[obj])))
    return out


def evaluate_ytvos(
    layout: YTVOSLayout,
    results_dir: str,
    task: str = "semi-supervised",
    *,
    sequences: Optional[Sequence[str]] = None,
    workers: int = 0,
    output_dir: Optional[str] = None,
    split: Optional[str] = None,
    max_proposals: int = MAX_UNSUPERVISED_PROPOSALS,
    bound_th: float = BOUNDARY_THRESHOLD,
    write_csvs: bool = True,
    progress: bool = False,
) -> VOSResults:
    """Score ``results_dir`` (``<video>/<frame>.png``) against a split that has every annotation (train).

    Each object (``<video>_<object id>``) is scored on the frames meta.json lists for its video strictly after its
    first appearance; its Mean, Recall and Decay come from :func:`.metrics.db_statistics` and the global table is the
    mean over objects (DAVIS's table: J&F-Mean, J-Mean, J-Recall, J-Decay, F-Mean, F-Recall, F-Decay). Objects with
    no scored frame (first seen on a video's last listed frame) are left out and counted in the log. ``sequences``:
    the videos to score (default: all of meta.json); ``split``: the tables' set name (default: the layout's split);
    ``progress``: a progress bar.
    """
    if task not in YTVOS_TASKS:
        raise YTVOSFormatError(f"YouTube-VOS task must be one of {YTVOS_TASKS}, got {task!r}")
    if not os.path.isdir(results_dir):
        raise YTVOSNotFoundError(f"results folder {results_dir!r} not found")
    meta = layout.meta()
    videos = list(sequences) if sequences is not None else sorted(meta)
    jobs, skipped = [], 0
    for video in videos:
        if video not in meta:
            raise YTVOSNotFoundError(f"video {video!r} is not in {layout.meta_file}")
        objects = scored_objects(layout, video)
        skipped += sum(1 for _, fs in objects if not fs)
        if objects:
            jobs.append(_VideoJob(video, task, layout.annotation_dir, results_dir,
                                  tuple((obj, tuple(fs)) for obj, fs in objects), tuple(sorted(meta[video])),
                                  max_proposals, bound_th))
    expected = [(os.path.join(results_dir, job.video), natural_sorted({f for _, fs in job.objects for f in fs}))
                for job in jobs]
    check_results_complete(expected, YTVOSFormatError)
    per_video = map_jobs(_score_video, jobs, workers)
    if progress:
        from tqdm import tqdm

        per_video = tqdm(per_video, total=len(jobs), desc=f"YouTube-VOS {task} {layout.split}", unit="video")
    per_video = list(per_video)
    if skipped:
        logger.info(f"YouTube-VOS scoring: {skipped} objects first appear on their video's last listed frame and "
                    "have no frame to score")
    objects = [o for objs in per_video for o in objs]
    if not objects:
        raise YTVOSFormatError("no object was scored (no object has a listed frame after its first appearance)")
    results = summarize(task, split or layout.split, objects, YTVOSFormatError)
    if write_csvs:
        results.write_csvs(output_dir or results_dir)
    return results
