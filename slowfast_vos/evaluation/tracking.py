"""Object ids over a video: trackers that give each frame's instances the id of the object they continue, and
painting instances into one id map. :class:`VideoSegmenter` (segmenter.py) chooses one by TEST.VOS.TRACKER.

- :class:`InstanceTracker` ("iou", the earlier rule): greedy mask-IoU matching of each instance to every id's
  last mask. An object missed for a few frames while it moves is never found again (its last mask goes stale).
- :class:`ReIDTracker` ("reid"): Hungarian assignment on mask IoU and appearance; objects without an overlapping
  instance are kept and re-acquired anywhere in the frame by appearance (a colour histogram inside the mask),
  plausible size and distance from where their motion predicts them, behind a gate that keeps an unseen object
  from taking a lost object's id; an object it missed on a frame can be written where its motion puts its last
  mask (:meth:`ReIDTracker.held`, TEST.VOS.REID_HOLD_FRAMES). State per object is its last mask and a few
  numbers, so memory is flat in the video's length.

Both open given objects' tracks with :meth:`add` (semi-supervised protocols) and, when ``allow_new``, new ids for
unmatched instances while fewer than ``max_ids`` exist.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from typing import Collection, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from vos_eval.errors import VOSFormatError

__all__ = ["APPEARANCE_BINS", "ASSIGNMENTS", "OVERLAP_RULES", "InstanceTracker", "ReIDTracker", "appearance",
           "appearance_similarity", "best_instance_per_object", "check_assignment", "check_overlap_rule",
           "check_hold_frames", "check_size_memory", "instances_to_labels", "label_frame", "mask_iou"]

# Bins per colour channel of an instance's appearance histogram.
APPEARANCE_BINS = 16


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between two sets of binary masks (N, H, W) and (M, H, W)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    fa = a.reshape(len(a), -1).astype(np.float32)
    fb = b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def appearance(image: Optional[np.ndarray], masks: np.ndarray) -> Optional[np.ndarray]:
    """Per mask (N, H, W) of an (H, W, C) uint8 image: its pixels' colour histogram, APPEARANCE_BINS per channel,
    each channel's part summing to 1 (an empty mask: zeros). None without an image."""
    if image is None:
        return None
    if image.shape[:2] != masks.shape[1:]:
        raise ValueError(f"the image is {image.shape[:2]}, the masks {masks.shape[1:]} (HxW)")
    bins = (image.astype(np.int64) * APPEARANCE_BINS) // 256  # (H, W, C)
    channels = bins.shape[2]
    out = np.zeros((len(masks), channels * APPEARANCE_BINS), dtype=np.float64)
    for i, mask in enumerate(masks):
        pixels = bins[mask]
        if len(pixels):
            for c in range(channels):
                out[i, c * APPEARANCE_BINS:(c + 1) * APPEARANCE_BINS] = np.bincount(
                    pixels[:, c], minlength=APPEARANCE_BINS) / len(pixels)
    return out


def appearance_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Histogram intersection (N, M) of appearance histograms, averaged over channels: 1 for the same colours."""
    channels = a.shape[1] // APPEARANCE_BINS
    return np.minimum(a[:, None, :], b[None, :, :]).sum(axis=2) / channels


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
        self.tracks: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self._next_id = 1
        self.add(initial or {})

    def add(self, given: Mapping[int, np.ndarray], features: Optional[np.ndarray] = None) -> None:
        """Open a track for each given object (id -> its given mask); an object is given once. ``features``: the
        given masks' appearance (trackers that use it)."""
        for obj, mask in sorted(given.items()):
            if obj in self.tracks:
                raise ValueError(f"object {obj} is given twice in one video")
            self.tracks[obj] = np.asarray(mask, dtype=bool)
            self._next_id = max(self._next_id, obj + 1)

    def confirm(self, obj: int, mask: np.ndarray, feature: Optional[np.ndarray] = None) -> None:
        """Object ``obj`` is ``mask`` on the current frame (a given mask painted over the instances)."""
        self.tracks[obj] = mask

    def held(self, hold_frames: int) -> Dict[int, np.ndarray]:
        """Objects missed on the current frame to write where their motion puts them (TEST.VOS.REID_HOLD_FRAMES):
        none here, this rule keeps no motion."""
        return {}

    def _new_ids(self, ids: List[Optional[int]], scores: np.ndarray, weak: Optional[np.ndarray] = None) -> None:
        """Unmatched instances that are not ``weak``, highest score first, open new ids while allowed."""
        for i in np.argsort(-scores, kind="stable"):
            if weak is not None and weak[i]:
                continue
            if ids[i] is None and self.allow_new and self._next_id <= self.max_ids:
                ids[i] = self._next_id
                self._next_id += 1

    def assign(self, masks: np.ndarray, scores: np.ndarray, features: Optional[np.ndarray] = None,
               weak: Optional[np.ndarray] = None) -> List[Optional[int]]:
        """Object id of every instance (None: dropped, no id left); updates the tracks' last masks. ``weak`` (N,)
        bool: instances that may only continue an object they overlap (never open an id; see VideoSegmenter's
        ``continue_score_thresh``)."""
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
        self._new_ids(ids, scores, weak)
        for i, obj in enumerate(ids):
            if obj is not None:
                self.tracks[obj] = masks[i]
        return ids


def _whole_number(value: int, lowest: int, key: str) -> int:
    """``value`` as an int if it is a whole number >= ``lowest``, else a ValueError naming the config ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
        raise ValueError(f"{key} must be an integer >= {lowest}, got {value!r}")
    return int(value)


def _one_of(value: str, choices: Sequence[str], key: str) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming the config ``key``."""
    if value not in choices:
        raise ValueError(f"{key} must be one of {list(choices)}, got {value!r}")
    return value


def check_size_memory(size_memory: int) -> int:
    """``size_memory`` as an int if it is a whole number >= 1, else a ValueError naming TEST.VOS.REID_SIZE_MEMORY."""
    return _whole_number(size_memory, 1, "TEST.VOS.REID_SIZE_MEMORY")


ASSIGNMENTS = ("joint", "continue-first")


def check_assignment(assignment: str) -> str:
    """``assignment`` if it is one of ASSIGNMENTS, else a ValueError naming TEST.VOS.REID_ASSIGNMENT."""
    return _one_of(assignment, ASSIGNMENTS, "TEST.VOS.REID_ASSIGNMENT")


def _assign_pairs(cost: np.ndarray) -> List[Tuple[int, int]]:
    """(row, column) pairs of a Hungarian assignment on ``cost`` that use only finite costs: as many pairs as
    possible, then the cheapest."""
    from scipy.optimize import linear_sum_assignment

    if not np.isfinite(cost).any():
        return []
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
    return [(int(i), int(k)) for i, k in zip(rows, cols) if np.isfinite(cost[i, k])]


def check_hold_frames(hold_frames: int) -> int:
    """``hold_frames`` as an int if it is a whole number >= 0, else a ValueError naming TEST.VOS.REID_HOLD_FRAMES."""
    return _whole_number(hold_frames, 0, "TEST.VOS.REID_HOLD_FRAMES")


def _shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by (dy, dx) pixels; what leaves the frame is dropped, what enters is empty."""
    height, width = mask.shape
    out = np.zeros_like(mask)
    if abs(dy) < height and abs(dx) < width:
        out[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            mask[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([ys.mean(), xs.mean()]) if len(ys) else np.zeros(2)


class ReIDTracker(InstanceTracker):
    """Ids that survive misses: an object continues by mask IoU with its last mask (and appearance, which keeps
    crossing objects apart); an object missed, occluded or moved too far for any overlap is re-acquired by
    appearance anywhere in the frame. ``assignment`` "joint" (the default): one Hungarian assignment per frame
    over both kinds of pairs, which pairs as many instances as it can, so a second, weaker instance of a found object
    could take that object's continuation while its better instance re-identified a lost object instead.
    "continue-first": continuations are assigned first (Hungarian on overlapping pairs), then the instances and
    objects left are assigned by re-identification.

    Without overlap an object matches an instance only if their appearance histograms intersect by at least
    ``appearance_gate`` and their areas differ by less than ``size_ratio`` times; without appearance (no image),
    only if the instance lies within ``reid_distance`` (a fraction of the frame's diagonal) of where the object's
    last motion predicts it. The object's area there is the median of its last ``size_memory`` observed areas
    (1: its last mask's area, the earlier rule), so that one fragment continuing it just before a loss (a partial
    detection of a half-hidden object) does not set a size that the whole object, when it comes back, can never
    match.
    """

    def __init__(self, max_ids: int, match_iou: float, initial: Optional[Dict[int, np.ndarray]] = None,
                 allow_new: bool = True, *, appearance_gate: float = 0.6, appearance_weight: float = 1.0,
                 size_ratio: float = 3.0, reid_distance: float = 0.2, initial_features: Optional[np.ndarray] = None,
                 size_memory: int = 5, assignment: str = "joint"):
        self.size_memory = check_size_memory(size_memory)
        self.assignment = check_assignment(assignment)
        self.appearance_gate = appearance_gate
        self.appearance_weight = appearance_weight
        self.size_ratio = size_ratio
        self.reid_distance = reid_distance
        self.frame = 0  # frames assigned so far
        self._last_seen: Dict[int, int] = {}
        self._centroid: Dict[int, np.ndarray] = {}
        self._velocity: Dict[int, np.ndarray] = {}
        self._areas: Dict[int, Deque[int]] = {}  # the last size_memory observed areas
        self._feature: Dict[int, Optional[np.ndarray]] = {}
        super().__init__(max_ids, match_iou, None, allow_new)
        self.add(initial or {}, initial_features)

    def add(self, given: Mapping[int, np.ndarray], features: Optional[np.ndarray] = None) -> None:
        given = dict(sorted(given.items()))
        super().add(given)
        for k, (obj, mask) in enumerate(given.items()):
            self._observe(obj, np.asarray(mask, dtype=bool), None if features is None else features[k])

    def confirm(self, obj: int, mask: np.ndarray, feature: Optional[np.ndarray] = None) -> None:
        self._observe(obj, mask, feature)

    def _observe(self, obj: int, mask: np.ndarray, feature: Optional[np.ndarray]) -> None:
        """Record an object's mask on the current frame: position, motion, size and appearance."""
        centroid = _centroid(mask)
        if obj in self._last_seen and self.frame > self._last_seen[obj]:
            self._velocity[obj] = (centroid - self._centroid[obj]) / (self.frame - self._last_seen[obj])
        else:
            self._velocity.setdefault(obj, np.zeros(2))
        self._centroid[obj] = centroid
        self._areas.setdefault(obj, deque(maxlen=self.size_memory)).append(int(mask.sum()))
        old = self._feature.get(obj)
        # A slowly updated appearance: the object's colours, not one frame's shading.
        self._feature[obj] = feature if old is None or feature is None else 0.8 * old + 0.2 * feature
        self._last_seen[obj] = self.frame
        self.tracks[obj] = mask

    def assign(self, masks: np.ndarray, scores: np.ndarray, features: Optional[np.ndarray] = None,
               weak: Optional[np.ndarray] = None) -> List[Optional[int]]:
        self.frame += 1
        ids: List[Optional[int]] = [None] * len(masks)
        track_ids = list(self.tracks)
        if track_ids and len(masks):
            cost, overlap = self._costs(masks, features, track_ids, weak)
            if self.assignment == "joint":
                pairs = _assign_pairs(cost)
            else:
                pairs = _assign_pairs(np.where(overlap, cost, np.inf))
                paired_rows, paired_cols = {i for i, _ in pairs}, {k for _, k in pairs}
                rows = [i for i in range(len(masks)) if i not in paired_rows]
                cols = [k for k in range(len(track_ids)) if k not in paired_cols]
                if rows and cols:
                    rest = _assign_pairs(cost[np.ix_(rows, cols)])
                    pairs += [(rows[a], cols[b]) for a, b in rest]
            for i, k in pairs:
                ids[i] = track_ids[k]
        self._new_ids(ids, scores, weak)
        for i, obj in enumerate(ids):
            if obj is not None:
                self._observe(obj, masks[i], None if features is None else features[i])
        return ids

    def held(self, hold_frames: int) -> Dict[int, np.ndarray]:
        """The objects last observed 1 to ``hold_frames`` frames before the current one (missed since), each as its
        last mask moved by its last motion to the current frame (TEST.VOS.REID_HOLD_FRAMES)."""
        out = {}
        for obj in self.tracks:
            gap = self.frame - self._last_seen[obj]
            if 0 < gap <= hold_frames:
                dy, dx = np.round(self._velocity[obj] * gap).astype(int)
                out[obj] = _shifted(self.tracks[obj], int(dy), int(dx))
        return out

    def _costs(self, masks: np.ndarray, features: Optional[np.ndarray], track_ids: Sequence[int],
               weak: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """(instances, tracks) costs: 1 - IoU (+ appearance) for continuations, 1 + ... for re-identifications,
        inf where a pair is not allowed (a ``weak`` instance is never a re-identification); and which pairs are
        continuations (they overlap)."""
        iou = mask_iou(masks, np.stack([self.tracks[t] for t in track_ids]))
        known = [k for k, t in enumerate(track_ids) if self._feature.get(t) is not None]
        sim = np.full(iou.shape, np.nan)
        if features is not None and known:
            sim[:, known] = appearance_similarity(features, np.stack([self._feature[track_ids[k]] for k in known]))
        dissim = np.where(np.isnan(sim), 0.0, 1.0 - sim)
        height, width = masks.shape[1:]
        diagonal = float(np.hypot(height, width))
        areas = masks.reshape(len(masks), -1).sum(axis=1)
        centroids = np.stack([_centroid(m) for m in masks])
        cost = np.full(iou.shape, np.inf)
        overlaps = (iou >= self.match_iou) & (iou > 0)
        for k, obj in enumerate(track_ids):
            overlap = overlaps[:, k]
            cost[overlap, k] = 1.0 - iou[overlap, k] + self.appearance_weight * dissim[overlap, k]
            gap = self.frame - self._last_seen[obj]
            predicted = self._centroid[obj] + self._velocity[obj] * gap
            distance = np.linalg.norm(centroids - predicted, axis=1) / diagonal
            ratio = np.maximum(areas, 1) / max(float(np.median(self._areas[obj])), 1.0)
            plausible = (ratio < self.size_ratio) & (ratio > 1.0 / self.size_ratio) & ~overlap
            if weak is not None:
                plausible &= ~np.asarray(weak, dtype=bool)
            if np.isnan(sim[:, k]).all():
                allowed = plausible & (distance <= self.reid_distance)
            else:
                allowed = plausible & (sim[:, k] >= self.appearance_gate)
            cost[allowed, k] = 1.0 + dissim[allowed, k] + distance[allowed]
        return cost, overlaps


OVERLAP_RULES = ("score", "previous", "nested")
# OVERLAP "nested": an instance lying at least NESTED_INSIDE of its pixels inside a higher-scoring instance of another
# object that is at least NESTED_LARGER times its area is painted over that instance.
NESTED_INSIDE, NESTED_LARGER = 0.8, 1.5


def check_overlap_rule(overlap: str) -> str:
    """``overlap`` if it is one of OVERLAP_RULES, else a ValueError naming TEST.VOS.OVERLAP."""
    return _one_of(overlap, OVERLAP_RULES, "TEST.VOS.OVERLAP")


def instances_to_labels(
    masks: np.ndarray, scores: np.ndarray, ids: Sequence[Optional[int]], height: int, width: int,
    previous: Optional[Mapping[int, np.ndarray]] = None, nested: bool = False,
) -> np.ndarray:
    """Paint instance masks into an id map; overlapping pixels go to the higher-scoring instance, or, with
    ``previous`` (object id -> its mask on the frame before), to the one object among those claiming a pixel whose
    previous mask covers it (the higher score still decides where none or several do). ``nested``: an instance
    lying mostly inside a much larger, higher-scoring instance of another object (one mask over both objects) is
    painted over it, the smallest last (NESTED_INSIDE, NESTED_LARGER)."""
    labels = np.zeros((height, width), dtype=np.uint8)
    painted = [i for i in np.argsort(scores, kind="stable") if ids[i] is not None]
    for i in painted:
        labels[masks[i]] = ids[i]
    if previous and len(painted) > 1:
        claims = np.sum([masks[i] for i in painted], axis=0)
        before = {i: masks[i] & previous[ids[i]] for i in painted if ids[i] in previous}
        if before and (claims > 1).any():
            owned = (claims > 1) & (np.sum(list(before.values()), axis=0) == 1)
            for i, mine in before.items():
                labels[owned & mine] = ids[i]
    if nested and len(painted) > 1:
        areas = {i: int(masks[i].sum()) for i in painted}
        inner = [i for i in painted if any(
            ids[k] != ids[i] and scores[k] > scores[i] and areas[k] >= NESTED_LARGER * areas[i]
            and (masks[i] & masks[k]).sum() >= NESTED_INSIDE * areas[i] for k in painted)]
        for i in sorted(inner, key=lambda i: -areas[i]):
            labels[masks[i]] = ids[i]
    return labels


def best_instance_per_object(object_ids: np.ndarray, scores: np.ndarray, known: Collection[int]
                             ) -> List[Optional[int]]:
    """Each instance's id when the model names its object: the highest-scoring instance of each ``known`` object
    keeps that object's id; the others, and instances of objects not given yet, get None (not painted)."""
    ids: List[Optional[int]] = [None] * len(object_ids)
    taken = set()
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        obj = int(object_ids[i])
        if obj in known and obj not in taken:
            ids[i] = obj
            taken.add(obj)
    return ids


def label_frame(
    tracker: InstanceTracker,
    masks: np.ndarray,
    scores: np.ndarray,
    height: int,
    width: int,
    given: Optional[Mapping[int, np.ndarray]] = None,
    image: Optional[np.ndarray] = None,
    object_ids: Optional[np.ndarray] = None,
    weak: Optional[np.ndarray] = None,
    overlap: str = "score",
    hold_frames: int = 0,
) -> np.ndarray:
    """One frame's id map. Without ``given``: the tracker's ids of the instances. With the masks given on this frame:
    the given objects' tracks open first, every instance is matched against every track (so a given object's own
    instance goes to its track, not to an earlier object), the instances of earlier objects are painted, and each
    given object is its given mask, painted over them and kept as its track's last mask. ``image`` (H, W, C): the
    frame, for trackers that use appearance. ``object_ids`` (N,): the object the model names for each instance
    (OSVOS.IDENTITY "classes"); then each object given so far is its highest-scoring instance (the tracker only
    records which objects were given). ``weak`` (N,): instances that may only continue an object they overlap
    (dropped where the model names the objects). ``overlap``: who gets a pixel that several objects' instances
    claim, "score" (the higher-scoring instance), "previous" (the object whose mask on the frame before covered
    it, see :func:`instances_to_labels`; each painted object's track then keeps its painted mask) or "nested" (the
    higher score, except that an instance lying mostly inside a much larger one of another object is painted over
    it; tracks keep their instances). ``hold_frames``
    (ReIDTracker, ids from the tracker): an object missed on this frame but seen at most this many frames before is
    written where its last mask, moved by its last motion, falls on pixels no instance took (its track is not
    changed)."""
    check_overlap_rule(overlap)
    given = {obj: np.asarray(mask, dtype=bool) for obj, mask in sorted((given or {}).items())}
    for obj, mask in given.items():
        if mask.shape != (height, width):
            raise VOSFormatError(f"the given mask of object {obj} is {mask.shape[::-1]}, the frame is "
                                 f"{(width, height)} (WxH)")
    given_features = appearance(image, np.stack(list(given.values()))) if given else None
    if given:
        tracker.add(given, given_features)
    previous = dict(tracker.tracks) if overlap == "previous" else None  # the masks before this frame's
    if object_ids is None:
        ids = tracker.assign(masks, scores, appearance(image, masks), weak)
    else:
        ids = best_instance_per_object(object_ids, scores, tracker.tracks)
        if weak is not None:
            ids = [None if w else obj for obj, w in zip(ids, weak)]
    ids = [None if obj in given else obj for obj in ids]
    labels = instances_to_labels(masks, scores, ids, height, width, previous, overlap == "nested")
    if previous is not None:
        for obj in {obj for obj in ids if obj is not None}:
            painted = labels == obj
            if painted.any():
                tracker.tracks[obj] = painted
    if hold_frames and object_ids is None:
        for obj, mask in tracker.held(hold_frames).items():
            if obj not in given:
                labels[mask & (labels == 0)] = obj
    for k, (obj, mask) in enumerate(given.items()):
        labels[mask] = obj
        tracker.confirm(obj, mask, None if given_features is None else given_features[k])
    return labels
