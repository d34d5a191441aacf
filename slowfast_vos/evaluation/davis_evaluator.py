"""DAVISEvaluator: turns per-frame Instances into DAVIS result PNGs and scores them with J&F.

Frames must arrive in video order within a sequence (``inference_on_videos`` guarantees it): instance ids are
kept stable over a video by matching each frame's masks to the last mask of every id.
"""
from __future__ import annotations

import itertools
import logging
import os
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from ..data.davis_format import MASK_EXT, TASKS, VOID_ID, DAVISEvaluationError, DAVISLayout, read_id_png, write_id_png
from ..data.frame_tags import load_frame_tags
from ..utils import join_under
from .protocols import DAVISResults, evaluate_davis, scored_frames
from .results_file import SUBSET_PREFIX
from .subsets import subset_metrics

logger = logging.getLogger(__name__)

# Sub-folder of output_dir that receives <sequence>/<frame>.png.
RESULTS_SUBDIR = "davis_results"


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between two sets of binary masks (N, H, W) and (M, H, W)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    fa = a.reshape(len(a), -1).astype(np.float32)
    fb = b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


class InstanceTracker:
    """Keeps object ids stable over one video: greedy mask-IoU matching of each frame's instances to the last
    mask of every known id; unmatched instances open new ids while fewer than ``max_ids`` exist.
    """

    def __init__(
        self,
        max_ids: int,
        match_iou: float,
        initial: Optional[Dict[int, np.ndarray]] = None,
        allow_new: bool = True,
    ):
        self.max_ids = max_ids
        self.match_iou = match_iou
        self.allow_new = allow_new
        self.tracks: "OrderedDict[int, np.ndarray]" = OrderedDict(sorted((initial or {}).items()))
        self._next_id = max(self.tracks, default=0) + 1

    def assign(self, masks: np.ndarray, scores: np.ndarray) -> List[Optional[int]]:
        """Object id of every instance (None: dropped, no id left); updates the tracks' last masks."""
        ids: List[Optional[int]] = [None] * len(masks)
        track_ids = list(self.tracks)
        if track_ids and len(masks):
            iou = mask_iou(masks, np.stack([self.tracks[t] for t in track_ids]))
            # Greedy: best pairs first; among equal IoUs the higher-scoring instance wins.
            pairs = sorted(
                ((iou[i, k], scores[i], i, k) for i in range(len(masks)) for k in range(len(track_ids))),
                key=lambda p: (-p[0], -p[1]),
            )
            used = set()
            for value, _, i, k in pairs:
                if value < self.match_iou or value <= 0:
                    break
                if ids[i] is None and k not in used:
                    ids[i] = track_ids[k]
                    used.add(k)
        for i in np.argsort(-scores, kind="stable"):
            if ids[i] is None and self.allow_new and self._next_id <= self.max_ids:
                ids[i] = self._next_id
                self._next_id += 1
        for i, obj in enumerate(ids):
            if obj is not None:
                self.tracks[obj] = masks[i]
        return ids


def instances_to_labels(
    masks: np.ndarray, scores: np.ndarray, ids: Sequence[Optional[int]], height: int, width: int
) -> np.ndarray:
    """Paint instance masks into an id map; overlapping pixels go to the higher-scoring instance."""
    labels = np.zeros((height, width), dtype=np.uint8)
    for i in np.argsort(scores, kind="stable"):
        if ids[i] is not None:
            labels[masks[i]] = ids[i]
    return labels


def threshold_kwargs(cfg) -> Dict[str, float]:
    """The TEST.DAVIS keys every video evaluator takes (instance filtering, tracking, scoring processes)."""
    d = cfg.TEST.DAVIS
    return {"score_thresh": d.SCORE_THRESH, "mask_thresh": d.MASK_THRESH, "max_objects": d.MAX_OBJECTS,
            "match_iou": d.MATCH_IOU, "workers": d.WORKERS}


class VideoMaskEvaluator(DatasetEvaluator):
    """What the DAVIS and YouTube-VOS evaluators share: id PNGs of whole videos written under
    ``<output_dir>/<results_subdir>``, instances kept by score and mask thresholds, tracking settings, and the
    gathering of every rank's written frames before the main process checks and scores them.

    Subclasses define ``process``, ``reset`` (which must set ``self._written``: video -> written frames),
    ``_check_complete(per_rank)`` and ``_results()`` (what ``evaluate`` returns once every frame is there).
    """

    def __init__(
        self,
        dataset_name: str,
        output_dir: str,
        *,
        results_subdir: str,
        score_thresh: float,
        mask_thresh: float,
        max_objects: int,
        match_iou: float,
        workers: int = 0,
        distributed: bool = True,
        write_only: bool = False,
    ):
        """
        Args:
            dataset_name: a registered set (its metadata is ``self._meta``).
            output_dir: the results go to ``<output_dir>/<results_subdir>``, tables to ``output_dir``.
            score_thresh: instances with a lower score are dropped.
            mask_thresh: mask probability at or above which a pixel belongs to an instance.
            max_objects: most object ids per video (multi-object protocols).
            match_iou: least mask IoU to continue an id from its last mask.
            workers: processes scoring sequences (<= 1: in this process).
            distributed: gather the written frames from all ranks and score on the main process.
            write_only: only write the result PNGs (``evaluate()`` returns {}), e.g. for one sequence of a set whose
                sequences are segmented by separate runs (OSVOS); the set is scored later.
        """
        if not output_dir:
            raise ValueError(f"{type(self).__name__} needs an output_dir for its result PNGs")
        self._dataset_name = dataset_name
        self._meta = MetadataCatalog.get(dataset_name)
        self._output_dir = output_dir
        self._results_dir = os.path.join(output_dir, results_subdir)
        self._score_thresh = score_thresh
        self._mask_thresh = mask_thresh
        self._max_objects = max_objects
        self._match_iou = match_iou
        self._workers = workers
        self._distributed = distributed
        self._write_only = write_only

    @property
    def results_dir(self) -> str:
        """Folder of the written ``<sequence>/<frame>.png`` results."""
        return self._results_dir

    @property
    def task(self) -> str:
        """The protocol results are written and scored for."""
        return self._task

    def _frame_masks(self, output, height: int, width: int, where: str) -> Tuple[np.ndarray, np.ndarray]:
        """Binary masks (N, H, W) and scores (N,) of the instances kept by score_thresh, highest score first."""
        instances = output["instances"].to("cpu")
        scores = instances.scores.numpy().astype(np.float64) if instances.has("scores") else np.ones(len(instances))
        keep = scores >= self._score_thresh
        if not instances.has("pred_masks"):
            if len(instances):
                raise ValueError(f"{where}: the model's instances have no pred_masks")
            return np.zeros((0, height, width), dtype=bool), scores[keep]
        masks = instances.pred_masks
        if masks.ndim != 3 or tuple(masks.shape[1:]) != (height, width):
            raise ValueError(
                f"{where}: pred_masks of shape {tuple(masks.shape)}, "
                f"expected (N, {height}, {width}) at the frame's size"
            )
        masks = masks[torch.as_tensor(keep)]
        masks = masks.numpy() if masks.dtype == torch.bool else (masks >= self._mask_thresh).numpy()
        return masks, scores[keep]

    def _gather(self) -> Optional[List[Dict[str, List[str]]]]:
        """Every rank's written frames (per sequence) on the main process; None elsewhere."""
        if not self._distributed or comm.get_world_size() == 1:
            return [dict(self._written)]
        comm.synchronize()
        gathered = comm.gather(dict(self._written), dst=0)
        return gathered if comm.is_main_process() else None


    @staticmethod
    def _merge_ranks(per_rank: List[Dict[str, List[str]]]) -> Tuple[Dict[str, List[int]], Dict[str, set]]:
        """From the gathered ``{video: written frames}`` of every rank: the ranks that wrote each video, and each
        video's written frames."""
        owners: Dict[str, List[int]] = defaultdict(list)
        written: Dict[str, set] = defaultdict(set)
        for rank, frames in enumerate(per_rank):
            for video, names in frames.items():
                owners[video].append(rank)
                written[video].update(names)
        return owners, written

    def evaluate(self):
        if self._write_only:
            return {}
        per_rank = self._gather()
        if per_rank is None:
            return {}
        if not any(itertools.chain.from_iterable(r.values() for r in per_rank)):
            logger.warning(f"{type(self).__name__} on {self._dataset_name} received no frames")
            return {}
        self._check_complete(per_rank)
        return self._results()


class DAVISEvaluator(VideoMaskEvaluator):
    """Writes DAVIS result PNGs for every processed frame and scores them with the DAVIS protocols.

    Protocols: ``davis2016`` (and any protocol on a DAVIS 2016 set, which has one object per video) writes the union
    of the kept instances as object 1; ``unsupervised`` writes up to
    ``max_objects`` tracked ids; ``semi-supervised`` starts each video's tracks from the first annotated frame
    (the protocol's given masks), so ids are the annotation's ids and no others are opened.
    """

    def __init__(self, dataset_name: str, output_dir: str, *, task: Optional[str] = None, **settings):
        """
        Args:
            dataset_name: a registered DAVIS set; its metadata gives the set's ``layout`` (a DAVISLayout), its
                ``sequences`` and the default task.
            output_dir: PNGs go to ``<output_dir>/davis_results``, the CSV tables to ``output_dir``.
            task: "davis2016", "semi-supervised" or "unsupervised"; None: the metadata's task.
            settings: VideoMaskEvaluator's ``score_thresh``, ``mask_thresh``, ``max_objects``, ``match_iou``,
                ``workers``, ``distributed``, ``write_only`` (see there).
        """
        super().__init__(dataset_name, output_dir, results_subdir=RESULTS_SUBDIR, **settings)
        for key in ("layout", "sequences"):
            if not hasattr(self._meta, key):
                raise ValueError(f"metadata of dataset {dataset_name!r} lacks {key!r}: not a registered DAVIS set")
        self._layout: DAVISLayout = self._meta.layout
        task = task or getattr(self._meta, "task", None)
        if task not in TASKS:
            raise ValueError(f"DAVIS task must be one of {TASKS} (TEST.DAVIS.TASK or metadata 'task'), got {task!r}")
        self._task = task
        # DAVIS 2016 has one foreground object per video: under every protocol a frame's prediction is the union of
        # its instances (the paper's binary evaluation), never a set of tracked ids.
        self._single_object = task == "davis2016" or self._layout.year == "2016"
        self.reset()

    @classmethod
    def from_config(
        cls, cfg, dataset_name: str, output_dir: Optional[str] = None, *, distributed: bool = True,
        write_only: bool = False,
    ) -> "DAVISEvaluator":
        """Build from ``cfg.TEST.DAVIS`` (output_dir default: ``<OUTPUT_DIR>/inference/<dataset_name>``)."""
        return cls(
            dataset_name,
            output_dir or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name),
            task=cfg.TEST.DAVIS.TASK or None,
            distributed=distributed,
            write_only=write_only,
            **threshold_kwargs(cfg),
        )

    def reset(self):
        self._trackers: Dict[str, InstanceTracker] = {}
        self._written: Dict[str, List[str]] = defaultdict(list)

    def _tracker(self, sequence: str, height: int, width: int) -> InstanceTracker:
        """The sequence's tracker; semi-supervised tracks start from the first annotated frame's objects."""
        if sequence not in self._trackers:
            initial, allow_new = None, True
            if self._task == "semi-supervised":
                first = self._layout.annotation_frames(sequence)[0]
                path = os.path.join(self._layout.annotation_dir, sequence, first + MASK_EXT)
                gt = read_id_png(path, self._layout.year)
                if gt.shape != (height, width):
                    raise DAVISEvaluationError(f"{path} is {gt.shape[::-1]}, the frames are {(width, height)} (WxH)")
                ids = [int(i) for i in np.unique(gt) if i not in (0, VOID_ID)]
                initial, allow_new = {i: gt == i for i in ids}, False
            self._trackers[sequence] = InstanceTracker(self._max_objects, self._match_iou, initial, allow_new)
        return self._trackers[sequence]

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            seq, frame = inp["sequence"], inp["frame_name"]
            height, width = int(inp["height"]), int(inp["width"])
            masks, scores = self._frame_masks(out, height, width, f"{seq}/{frame}")
            if self._single_object:
                labels = masks.any(axis=0).astype(np.uint8) if len(masks) else np.zeros((height, width), np.uint8)
            else:
                ids = self._tracker(seq, height, width).assign(masks, scores)
                labels = instances_to_labels(masks, scores, ids, height, width)
            write_id_png(join_under(self._results_dir, seq, frame + MASK_EXT), labels)
            self._written[seq].append(frame)

    def _check_complete(self, per_rank: List[Dict[str, List[str]]]) -> None:
        """Every scored frame of every sequence written, and multi-object sequences by one rank only."""
        owners, written = self._merge_ranks(per_rank)
        if self._task != "davis2016":
            split = {seq: ranks for seq, ranks in owners.items() if len(ranks) > 1}
            if split:
                raise DAVISEvaluationError(
                    f"sequences processed by several ranks, so their object ids disagree: {sorted(split)[:10]}; "
                    "give each process whole sequences"
                )
        missing = [
            f"{seq}/{frame}"
            for seq in self._meta.sequences
            for frame in scored_frames(self._layout.annotation_frames(seq), self._task)
            if frame not in written[seq]
        ]
        if missing:
            raise DAVISEvaluationError(
                f"{len(missing)} frames of {self._dataset_name} were not processed, e.g. {missing[:10]}"
            )

    def _results(self):
        results = self.score()
        logger.info(f"DAVIS {self._task} evaluation of {self._dataset_name}:\n{results.tables()}")
        # The DAVIS benchmark's [0, 1] scale, as the official tables, the CSVs and the paper report it.
        out = {"davis": dict(results.global_metrics)}
        tags_file = getattr(self._meta, "frame_tags", None)
        if tags_file is not None:
            if os.path.isfile(tags_file):
                for subset, metrics in subset_metrics(results, load_frame_tags(tags_file)).items():
                    out[SUBSET_PREFIX + subset] = metrics
            else:
                logger.warning(f"{self._dataset_name}: no frame tags file {tags_file} (a set generated before tags "
                               "existed?): no clean/degraded split")
        return out

    def score(self) -> DAVISResults:
        """Score every sequence's results in ``results_dir`` on the set's layout; write the CSVs to output_dir."""
        return evaluate_davis(
            self._layout.root,
            self._results_dir,
            self._task,
            layout=self._layout,
            sequences=list(self._meta.sequences),
            workers=self._workers,
            output_dir=self._output_dir,
        )
