"""Object ids over a video: mask-IoU tracking of each frame's instances, the given masks of semi-supervised
protocols, and painting instances into one id map. Used by the DAVIS and YouTube-VOS evaluators and the demo."""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from vos_eval.errors import VOSFormatError

__all__ = ["GivenMaskTracker", "InstanceTracker", "instances_to_labels", "label_frame", "mask_iou"]


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
            raise VOSFormatError(f"the given mask of object {obj} is {mask.shape[::-1]}, the frame is "
                                 f"{(width, height)} (WxH)")
    if given:
        tracker.add(given)
    ids = [None if obj in given else obj for obj in tracker.assign(masks, scores)]
    labels = instances_to_labels(masks, scores, ids, height, width)
    for obj, mask in given.items():
        labels[mask] = obj
        tracker.tracks[obj] = mask
    return labels
