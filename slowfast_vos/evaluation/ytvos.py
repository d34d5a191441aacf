"""YouTube-VOS results: semi-supervised ids for objects that appear late, the result writer and evaluator, the
submission check and zip, and local J&F scoring on a split that has every annotation (the held-out train videos).

The protocol, as youtube-vos.org/dataset/vos describes it and the public loaders (STM, STCN, XMem) follow it:

- an object's mask is given on its first-appearance frame (the valid PNG there holds only the objects that first
  appear on it); from that frame on the method segments it, keeping the given id;
- the results are ``Annotations/<video>/<frame>.png`` (indexed PNGs of the given ids) for every frame the split's
  meta.json lists for the video (the union of its objects' ``"frames"``), uploaded as a zip with ``Annotations/``
  at its root;
- J (region) and F (boundary) are the DAVIS measures (:mod:`.metrics`), averaged over all objects; the server's
  overall score is the mean of J and F over seen and over unseen categories. A held-out part of *train* has only
  seen categories, so the local score here is the plain object mean, reported as DAVIS's global table.
- Each object is scored on the listed frames strictly after its first appearance: the first-appearance frame holds
  the given mask, which a method copies. (The server's scoring code is not public: this frame rule is the
  project's reading of the protocol, applied to both local protocols so that their numbers compare.)

Frames are the annotated ones (every 5th frame of the 30 fps video); a video's first appearance of an object is the
first of its meta.json frames whose annotation PNG holds its id (:func:`first_appearances`), so the tracker's given
frame and the scored frames follow from the same rule on valid-style and on train-style annotations.
"""
from __future__ import annotations

import logging
import os
import zipfile
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..data.davis_format import FRAME_EXT, MASK_EXT, natural_key, natural_sorted, read_id_png, write_id_png
from ..data.ytvos_format import MASK_YEAR, YTVOSFormatError, YTVOSLayout, YTVOSNotFoundError
from ..utils import atomic_write, join_under
from .davis_evaluator import InstanceTracker, VideoMaskEvaluator, instances_to_labels, threshold_kwargs
from .metrics import BOUNDARY_THRESHOLD, db_statistics, pairwise_jf
from .protocols import MAX_UNSUPERVISED_PROPOSALS, DAVISResults, _start_pool, global_table

__all__ = [
    "SUBMISSION_ROOT",
    "YTVOS_TASKS",
    "GivenMaskTracker",
    "SubmissionReport",
    "YTVOSEvaluator",
    "YTVOSSubmissionError",
    "check_submission",
    "evaluate_ytvos",
    "first_appearances",
    "given_masks",
    "label_frame",
    "required_frames",
    "write_submission_zip",
]

logger = logging.getLogger(__name__)

# The protocols of a YouTube-VOS set: masks given at each object's first appearance, or none given.
YTVOS_TASKS = ("semi-supervised", "unsupervised")
# The folder the result PNGs go in, and the one top-level folder of a submission zip (what the server unpacks).
SUBMISSION_ROOT = "Annotations"
# Default file name of the submission zip the evaluator writes for a split without annotations to score.
SUBMISSION_ZIP = "submission.zip"
# Problem frames named in a check's message before it only counts the rest.
MAX_LISTED = 20


class YTVOSSubmissionError(YTVOSFormatError):
    """A results folder is not a complete, valid YouTube-VOS submission; the message lists what is wrong."""


# ---------------------------------------------------------------------------------------------------------------
# Frames and given masks
# ---------------------------------------------------------------------------------------------------------------


def required_frames(objects: Mapping[int, Mapping[str, object]]) -> List[str]:
    """The frames a video's results must have: the union of its objects' meta.json "frames", natural order."""
    return natural_sorted({frame for obj in objects.values() for frame in obj["frames"]})


def first_appearances(layout: YTVOSLayout, video: str) -> "OrderedDict[int, str]":
    """Object id -> its first-appearance frame: the first of its meta.json frames whose annotation PNG holds the id.

    On valid, that is the frame whose PNG gives the object; on train (a PNG on every frame), the first frame it is
    on. Objects that no PNG holds are left out (warned): they have no given mask and no ground truth.
    """
    objects = layout.meta()[video]
    cache: Dict[str, Optional[np.ndarray]] = {}
    out: "OrderedDict[int, str]" = OrderedDict()
    for obj in sorted(objects):
        for frame in natural_sorted(objects[obj]["frames"]):
            if frame not in cache:
                path = join_under(layout.annotation_dir, video, frame + MASK_EXT)
                cache[frame] = read_id_png(path, MASK_YEAR) if os.path.isfile(path) else None
            labels = cache[frame]
            if labels is not None and (labels == obj).any():
                out[obj] = frame
                break
        else:
            logger.warning(f"YouTube-VOS video {video!r}: object {obj} is in {layout.meta_file} but no annotation "
                           f"PNG of its frames holds it; it is neither given nor scored")
    return out


def given_masks(layout: YTVOSLayout, video: str) -> Dict[str, Dict[int, np.ndarray]]:
    """Frame -> {object id: mask} of the masks the semi-supervised protocol gives: each object's mask on its
    first-appearance frame (only the objects that first appear there, whatever else the PNG holds)."""
    out: Dict[str, Dict[int, np.ndarray]] = defaultdict(dict)
    frames: Dict[str, np.ndarray] = {}
    for obj, frame in first_appearances(layout, video).items():
        if frame not in frames:
            frames[frame] = read_id_png(join_under(layout.annotation_dir, video, frame + MASK_EXT), MASK_YEAR)
        out[frame][obj] = frames[frame] == obj
    return dict(out)


class GivenMaskTracker(InstanceTracker):
    """Semi-supervised ids over one video whose objects are given on different frames: :meth:`add` opens the given
    objects' tracks (from their given masks); instances continue those tracks by mask IoU and never open others."""

    def __init__(self, match_iou: float):
        super().__init__(max_ids=0, match_iou=match_iou, initial=None, allow_new=False)

    def add(self, given: Mapping[int, np.ndarray]) -> None:
        """Open a track for each given object (id -> its given mask); an object is given once."""
        for obj, mask in sorted(given.items()):
            if obj in self.tracks:
                raise ValueError(f"object {obj} is given twice in one video")
            self.tracks[obj] = np.asarray(mask, dtype=bool)


def label_frame(
    tracker: InstanceTracker,
    masks: np.ndarray,
    scores: np.ndarray,
    height: int,
    width: int,
    given: Optional[Mapping[int, np.ndarray]] = None,
) -> np.ndarray:
    """One frame's id map. Without ``given``: the tracker's ids of the instances. With the masks given on this frame
    (a :class:`GivenMaskTracker`): the given objects' tracks open first, every instance is matched against every
    track (so a given object's own instance goes to its track, not to an earlier object), the instances of earlier
    objects are painted, and each given object is its given mask, painted over them and kept as its track's last
    mask."""
    given = {obj: np.asarray(mask, dtype=bool) for obj, mask in sorted((given or {}).items())}
    for obj, mask in given.items():
        if mask.shape != (height, width):
            raise YTVOSFormatError(f"the given mask of object {obj} is {mask.shape[::-1]}, the frame is "
                                   f"{(width, height)} (WxH)")
    if given:
        tracker.add(given)
    ids = [None if obj in given else obj for obj in tracker.assign(masks, scores)]
    labels = instances_to_labels(masks, scores, ids, height, width)
    for obj, mask in given.items():
        labels[mask] = obj
        tracker.tracks[obj] = mask
    return labels


# ---------------------------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------------------------


class YTVOSEvaluator(VideoMaskEvaluator):
    """Writes ``<output_dir>/Annotations/<video>/<frame>.png`` for every frame meta.json lists, in the given ids, and
    scores them (a split with every annotation, e.g. the held-out train videos) or, on a split without them
    (valid), checks that the folder is a complete submission and zips it.

    Shares VideoMaskEvaluator's instance filtering (score and mask thresholds) and gathering of the ranks' frames
    with DAVISEvaluator; the sets, protocols, tracking and scoring are YouTube-VOS's. Frames must arrive in video
    order per video and each process must hold whole videos (``inference_on_videos`` with
    ``build_video_test_loader`` do both). ``evaluate()``
    returns ``{"davis": {J&F-Mean, J-Mean, J-Recall, J-Decay, F-Mean, F-Recall, F-Decay}}`` (the results schema's J&F
    table; YouTube-VOS uses DAVIS's measures) on the main process, ``{}`` elsewhere and for a split it cannot score.
    """

    def __init__(self, dataset_name: str, output_dir: str, *, task: Optional[str] = None,
                 submission_zip: Optional[str] = SUBMISSION_ZIP, **settings):
        """
        Args:
            dataset_name: a registered YouTube-VOS set (metadata ``layout``: a YTVOSLayout, ``sequences``, ``task``).
            output_dir: PNGs go to ``<output_dir>/Annotations``, the CSV tables (or the submission zip) to output_dir.
            task: "semi-supervised" or "unsupervised"; None: the metadata's task.
            submission_zip: on a split without annotations to score, ``evaluate()`` writes this zip (a name under
                output_dir, or a path) once the folder checks complete; None: only the check.
            settings: VideoMaskEvaluator's ``score_thresh``, ``mask_thresh``, ``max_objects``, ``match_iou``,
                ``workers``, ``distributed``, ``write_only`` (see there).
        """
        super().__init__(dataset_name, output_dir, results_subdir=SUBMISSION_ROOT, **settings)
        layout = getattr(self._meta, "layout", None)
        if not isinstance(layout, YTVOSLayout) or not hasattr(self._meta, "sequences"):
            raise ValueError(f"metadata of dataset {dataset_name!r} has no YTVOSLayout 'layout' and 'sequences': not "
                             "a registered YouTube-VOS set")
        self._layout = layout
        task = task or getattr(self._meta, "task", None)
        if task not in YTVOS_TASKS:
            raise ValueError(f"YouTube-VOS task must be one of {YTVOS_TASKS} (TEST.YTVOS.TASK or metadata 'task'), "
                             f"got {task!r}")
        self._task = task
        self._submission_zip = submission_zip
        # The zip the last evaluate() wrote (a split without annotations to score), else None.
        self.submission_path: Optional[str] = None
        self.reset()

    @classmethod
    def from_config(
        cls, cfg, dataset_name: str, output_dir: Optional[str] = None, *, distributed: bool = True,
        write_only: bool = False,
    ) -> "YTVOSEvaluator":
        """Build from ``cfg.TEST.YTVOS`` (task, zip) and the thresholds of ``cfg.TEST.DAVIS`` (output_dir default:
        ``<OUTPUT_DIR>/inference/<dataset_name>``)."""
        return cls(
            dataset_name,
            output_dir or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name),
            task=cfg.TEST.YTVOS.TASK or None,
            distributed=distributed,
            write_only=write_only,
            submission_zip=SUBMISSION_ZIP if cfg.TEST.YTVOS.SUBMISSION_ZIP else None,
            **threshold_kwargs(cfg),
        )

    @property
    def layout(self) -> YTVOSLayout:
        """The set's YTVOSLayout (metadata ``layout``)."""
        return self._layout

    @property
    def scorable(self) -> bool:
        """Whether the split has every annotation (train and its held-out part), so results can be scored here."""
        return self._layout.split == "train"

    def reset(self):
        self._trackers: Dict[str, InstanceTracker] = {}
        self._given: Dict[str, Dict[str, Dict[int, np.ndarray]]] = {}
        self._required: Dict[str, set] = {}
        self._written: Dict[str, List[str]] = defaultdict(list)

    def _video_state(self, video: str) -> Tuple[InstanceTracker, Dict[str, Dict[int, np.ndarray]], set]:
        """The video's tracker, given masks (semi-supervised) and required frames, made on its first frame."""
        if video not in self._trackers:
            objects = self._layout.meta().get(video)
            if objects is None:
                raise YTVOSFormatError(f"video {video!r} is not in {self._layout.meta_file}")
            self._required[video] = set(required_frames(objects))
            if self._task == "semi-supervised":
                self._trackers[video] = GivenMaskTracker(self._match_iou)
                self._given[video] = given_masks(self._layout, video)
            else:
                self._trackers[video] = InstanceTracker(self._max_objects, self._match_iou)
                self._given[video] = {}
        return self._trackers[video], self._given[video], self._required[video]

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            video, frame = inp["sequence"], inp["frame_name"]
            height, width = int(inp["height"]), int(inp["width"])
            masks, scores = self._frame_masks(out, height, width, f"{video}/{frame}")
            tracker, given, required = self._video_state(video)
            labels = label_frame(tracker, masks, scores, height, width, given.get(frame))
            # Every frame feeds the tracks; the listed ones are written (the submission's frames).
            if frame in required:
                write_id_png(join_under(self._results_dir, video, frame + MASK_EXT), labels)
                self._written[video].append(frame)

    def _check_complete(self, per_rank: List[Dict[str, List[str]]]) -> None:
        """Every listed frame of every video written, each video by one rank only."""
        owners, written = self._merge_ranks(per_rank)
        split = sorted(video for video, ranks in owners.items() if len(ranks) > 1)
        if split:
            raise YTVOSFormatError(f"videos processed by several ranks, so their object ids disagree: {split[:10]}; "
                                   "give each process whole videos")
        meta = self._layout.meta()
        missing = [f"{video}/{frame}" for video in self._meta.sequences
                   for frame in required_frames(meta[video]) if frame not in written[video]]
        if missing:
            raise YTVOSFormatError(
                f"{len(missing)} listed frames of {self._dataset_name} were not processed (not in the set's frames?)"
                f", e.g. {missing[:10]}"
            )

    def _results(self):
        if not self.scorable:
            self.submission_path = self.finish_submission()
            return {}
        results = self.score()
        logger.info(f"YouTube-VOS {self._task} evaluation of {self._dataset_name}:\n{results.tables()}")
        return {"davis": dict(results.global_metrics)}

    def finish_submission(self) -> Optional[str]:
        """Check the written folder against meta.json and, when ``submission_zip`` is set, write the zip; its path."""
        sequences = list(self._meta.sequences)
        if self._submission_zip is None:
            check_submission(self._results_dir, self._layout, videos=sequences).raise_if_invalid()
            logger.info(f"{self._dataset_name}: submission folder {self._results_dir} is complete")
            return None
        path = os.path.join(self._output_dir, self._submission_zip)
        write_submission_zip(self._results_dir, self._layout, path, videos=sequences)
        logger.info(f"{self._dataset_name}: {self._layout.split} has no annotations to score here; wrote the "
                    f"submission {path} (upload it to the YouTube-VOS evaluation server)")
        return path

    def score(self) -> DAVISResults:
        """Score every video's results in ``results_dir``; write the CSV tables to output_dir."""
        return evaluate_ytvos(self._layout, self._results_dir, self._task, sequences=list(self._meta.sequences),
                              workers=self._workers, output_dir=self._output_dir,
                              split=_split_label(self._meta))


def _split_label(meta) -> str:
    """The tables' set name: the split, with the subset (e.g. train_holdout) where the set is one."""
    subset = getattr(meta, "subset", None)
    return f"{meta.split}_{subset}" if isinstance(subset, str) and subset else str(meta.split)


# ---------------------------------------------------------------------------------------------------------------
# Local scoring
# ---------------------------------------------------------------------------------------------------------------


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


@dataclass
class _ObjectScores:
    """Per-frame J and F of one object over its scored frames, and the result id scored as it."""

    name: str
    video: str
    frames: List[str]
    j: np.ndarray
    f: np.ndarray
    matched_id: int


def scored_objects(layout: YTVOSLayout, video: str) -> List[Tuple[int, List[str]]]:
    """(object id, scored frames) of a video: the listed frames strictly after the object's first appearance."""
    required = required_frames(layout.meta()[video])
    out = []
    for obj, first in first_appearances(layout, video).items():
        out.append((obj, [f for f in required if natural_key(f) > natural_key(first)]))
    return out


def _load(folder: str, frames: Sequence[str], year: Optional[str], what: str,
          shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
    stack = None
    for i, frame in enumerate(frames):
        path = os.path.join(folder, frame + MASK_EXT)
        labels = read_id_png(path, year)
        shape = shape or labels.shape
        if labels.shape != shape:
            raise YTVOSFormatError(f"{what} PNG {path} is {labels.shape[1]}x{labels.shape[0]} (WxH), expected "
                                   f"{shape[1]}x{shape[0]}")
        if stack is None:
            stack = np.empty((len(frames), *shape), dtype=np.uint8)
        stack[i] = labels
    return stack


def _score_video(job: _VideoJob) -> List[_ObjectScores]:
    """J and F of each object of one video on its scored frames (semi-supervised: result id = object id;
    unsupervised: the Hungarian match of result ids to objects on the mean of (J + F) / 2, as DAVIS)."""
    objects = [(obj, fs) for obj, fs in job.objects if fs]
    frames = natural_sorted({f for _, fs in objects for f in fs})
    if not frames:
        return []
    column = {f: i for i, f in enumerate(frames)}
    gt = _load(os.path.join(job.annotation_dir, job.video), frames, MASK_YEAR, "annotation")
    pred = _load(os.path.join(job.results_dir, job.video), frames, None, "result", shape=gt.shape[1:])
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
        cols = {obj: [column[f] for f in fs] for obj, fs in objects}
        score = np.array([[(j_all[obj - 1, p, cols[obj]].mean() + f_all[obj - 1, p, cols[obj]].mean()) / 2
                           for p in range(num_pred)] for obj in ids])
        from scipy.optimize import linear_sum_assignment  # here: SciPy's optimizer package takes ~0.5 s to import

        rows, cols_p = linear_sum_assignment(-score)
        matched = {ids[r]: int(p) + 1 for r, p in zip(rows.tolist(), cols_p.tolist())}
        pick = {obj: (j_all[obj - 1, matched[obj] - 1], f_all[obj - 1, matched[obj] - 1]) for obj in ids}
    out = []
    for obj, fs in objects:
        idx = [column[f] for f in fs]
        j, f = pick[obj]
        out.append(_ObjectScores(f"{job.video}_{obj}", job.video, list(fs), j[idx], f[idx], matched[obj]))
    return out


def _missing_results(jobs: Sequence[_VideoJob]) -> List[str]:
    missing = []
    for job in jobs:
        folder = os.path.join(job.results_dir, job.video)
        present = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        needed = natural_sorted({f for _, fs in job.objects for f in fs})
        missing += [os.path.join(folder, f + MASK_EXT) for f in needed if f + MASK_EXT not in present]
    return missing


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
) -> DAVISResults:
    """Score ``results_dir`` (``<video>/<frame>.png``) against a split that has every annotation (train).

    Each object (``<video>_<object id>``) is scored on the frames meta.json lists for its video strictly after its
    first appearance; its Mean, Recall and Decay come from :func:`.metrics.db_statistics` and the global table is the
    mean over objects (DAVIS's table: J&F-Mean, J-Mean, J-Recall, J-Decay, F-Mean, F-Recall, F-Decay). Objects with
    no scored frame (first seen on a video's last listed frame) are left out and counted in the log. ``sequences``:
    the videos to score (default: all of meta.json); ``split``: the tables' set name (default: the layout's split).
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
    missing = _missing_results(jobs)
    if missing:
        listed = "\n  ".join(missing[:MAX_LISTED])
        more = f"\n  ... and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        raise YTVOSFormatError(f"{len(missing)} result frames are missing:\n  {listed}{more}")
    if workers > 1 and len(jobs) > 1:
        with _start_pool(min(workers, len(jobs))) as pool:
            per_video = list(pool.imap(_score_video, jobs))
    else:
        per_video = [_score_video(job) for job in jobs]
    if skipped:
        logger.info(f"YouTube-VOS scoring: {skipped} objects first appear on their video's last listed frame and "
                    "have no frame to score")
    results = _summarize(task, split or layout.split, [o for objs in per_video for o in objs])
    if write_csvs:
        results.write_csvs(output_dir or results_dir)
    return results


def _summarize(task: str, split: str, objects: Sequence[_ObjectScores]) -> DAVISResults:
    """DAVIS's per-object statistics and global table over YouTube-VOS objects."""
    if not objects:
        raise YTVOSFormatError("no object was scored (no object has a listed frame after its first appearance)")
    stats: Dict[str, List[float]] = {k: [] for k in ("JM", "JR", "JD", "FM", "FR", "FD")}
    per_sequence = []
    for o in objects:
        jm, jr, jd = db_statistics(o.j)
        fm, fr, fd = db_statistics(o.f)
        for key, value in zip(("JM", "JR", "JD", "FM", "FR", "FD"), (jm, jr, jd, fm, fr, fd)):
            stats[key].append(value)
        per_sequence.append((o.name, jm, fm))
    return DAVISResults(
        task, split, global_table(stats["JM"], stats["JR"], stats["JD"], stats["FM"], stats["FR"], stats["FD"]),
        per_sequence,
        per_frame={o.name: (o.j, o.f) for o in objects},
        matched_ids={o.name: o.matched_id for o in objects},
        num_frames=sum(len(o.frames) for o in objects),
        frames={o.name: (o.video, list(o.frames)) for o in objects},
    )


# ---------------------------------------------------------------------------------------------------------------
# Submission: check and zip
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class SubmissionReport:
    """What :func:`check_submission` found: counts and the problem frames (``<video>/<frame>`` items) by kind."""

    results_dir: str
    videos: int = 0
    frames: int = 0
    missing: List[str] = field(default_factory=list)
    wrong_size: List[str] = field(default_factory=list)
    bad_ids: List[str] = field(default_factory=list)
    unreadable: List[str] = field(default_factory=list)
    not_listed: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No missing, unreadable, wrongly sized or wrongly labelled frame (frames not listed are only noted)."""
        return not (self.missing or self.wrong_size or self.bad_ids or self.unreadable)

    def summary(self, max_listed: int = MAX_LISTED) -> str:
        """A readable account: the counts, then each kind of problem with its first ``max_listed`` items."""
        head = (f"{self.results_dir}: {self.frames} frames of {self.videos} videos expected; "
                + ("complete and valid" if self.ok else "NOT a valid submission"))
        parts = [head]
        for title, items in (("missing frames", self.missing), ("frames of the wrong size", self.wrong_size),
                             ("frames with ids the video does not have there", self.bad_ids),
                             ("unreadable or non-indexed PNGs", self.unreadable),
                             ("files not listed in meta.json (left out of the zip)", self.not_listed)):
            if items:
                shown = "\n    ".join(items[:max_listed])
                more = f"\n    ... and {len(items) - max_listed} more" if len(items) > max_listed else ""
                parts.append(f"  {len(items)} {title}:\n    {shown}{more}")
        return "\n".join(parts)

    def raise_if_invalid(self, max_listed: int = MAX_LISTED) -> None:
        """A YTVOSSubmissionError with :meth:`summary` unless the submission is valid."""
        if not self.ok:
            raise YTVOSSubmissionError(self.summary(max_listed))


def _frame_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) of an image from its header, or None if it cannot be read."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError):
        return None


def check_submission(
    results_dir: str,
    layout: YTVOSLayout,
    *,
    videos: Optional[Iterable[str]] = None,
    image_dir: Optional[str] = None,
) -> SubmissionReport:
    """Check a results folder (``<video>/<frame>.png``) against a split's meta.json.

    Every frame meta.json lists for a video must have an indexed (or grey) PNG of the size of that frame's JPEG
    (in ``image_dir``, default the layout's) holding only 0 and the ids of the video's objects that have appeared by
    that frame (an object is segmented from its first listed frame on). PNGs of frames or videos meta.json does not
    list are noted (:attr:`SubmissionReport.not_listed`), not errors. Reads each PNG once.
    """
    meta = layout.meta()
    image_dir = image_dir or layout.image_dir
    names = list(videos) if videos is not None else sorted(meta)
    if not names:  # an empty submission is never complete
        raise YTVOSFormatError(f"no videos to check: {layout.meta_file} lists none" if not meta else "no videos given")
    report = SubmissionReport(results_dir)
    for video in names:
        if video not in meta:
            raise YTVOSNotFoundError(f"video {video!r} is not in {layout.meta_file}")
        objects = meta[video]
        frames = required_frames(objects)
        starts = {obj: min(map(natural_key, o["frames"])) for obj, o in objects.items() if o["frames"]}
        report.videos += 1
        report.frames += len(frames)
        folder = join_under(results_dir, video)
        present = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        for frame in frames:
            item = f"{video}/{frame}"
            if frame + MASK_EXT not in present:
                report.missing.append(item)
                continue
            path = os.path.join(folder, frame + MASK_EXT)
            try:
                with Image.open(path) as image:
                    image.load()
                    mode, size, array = image.mode, image.size, np.asarray(image)
            except (OSError, SyntaxError, ValueError) as e:
                report.unreadable.append(f"{item} ({e})")
                continue
            if mode not in ("P", "L"):
                report.unreadable.append(f"{item} (mode {mode!r}; the server reads indexed PNGs of ids)")
                continue
            expected = _frame_size(os.path.join(image_dir, video, frame + FRAME_EXT))
            if expected is None:
                frame_path = os.path.join(image_dir, video, frame + FRAME_EXT)
                report.wrong_size.append(f"{item} (no readable frame {frame_path} to compare with)")
            elif size != expected:
                report.wrong_size.append(f"{item} ({size[0]}x{size[1]}, the frame is {expected[0]}x{expected[1]})")
            ids = np.flatnonzero(np.bincount(array.ravel(), minlength=256))
            allowed = {obj for obj, start in starts.items() if start <= natural_key(frame)}
            bad = sorted(int(i) for i in ids if i and int(i) not in allowed)
            if bad:
                report.bad_ids.append(f"{item} (ids {bad}; allowed here: {sorted(allowed)})")
        listed = set(f + MASK_EXT for f in frames)
        report.not_listed += sorted(f"{video}/{n}" for n in present if n not in listed)
    if os.path.isdir(results_dir):
        wanted = set(names)
        report.not_listed += sorted(f"{n}/" for n in os.listdir(results_dir)
                                    if n not in wanted and os.path.isdir(os.path.join(results_dir, n)))
    return report


def write_submission_zip(
    results_dir: str,
    layout: YTVOSLayout,
    output: str,
    *,
    videos: Optional[Iterable[str]] = None,
    image_dir: Optional[str] = None,
    report: Optional[SubmissionReport] = None,
) -> SubmissionReport:
    """Check ``results_dir`` (:func:`check_submission`, unless ``report`` is a valid check of it already; an invalid
    one is a YTVOSSubmissionError and writes nothing) and zip its listed frames as
    ``Annotations/<video>/<frame>.png`` at the zip's root, the layout the YouTube-VOS server unpacks. The zip is
    written to a temporary file beside ``output``, read back (every entry, its CRC) and only then renamed to
    ``output``: a failure leaves no zip, or the previous one, at ``output``."""
    names = list(videos) if videos is not None else None
    if report is None:
        report = check_submission(results_dir, layout, videos=names, image_dir=image_dir)
    report.raise_if_invalid()
    meta = layout.meta()
    entries = [(os.path.join(results_dir, video, frame + MASK_EXT), f"{SUBMISSION_ROOT}/{video}/{frame}{MASK_EXT}")
               for video in (names if names is not None else sorted(meta))
               for frame in required_frames(meta[video])]

    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, arcname in entries:
                zf.write(path, arcname)
        with zipfile.ZipFile(tmp) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise YTVOSSubmissionError(f"{output}: entry {bad} of the written zip is corrupt")
            if zf.namelist() != [arcname for _, arcname in entries]:
                raise YTVOSSubmissionError(f"{output}: the written zip does not hold the {len(entries)} expected "
                                           "entries")

    atomic_write(output, write)
    return report
