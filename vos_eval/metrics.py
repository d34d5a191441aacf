"""DAVIS region (J) and boundary (F) measures and their per-object statistics, vectorised over frames.

The definitions follow the DAVIS benchmark (Perazzi et al., CVPR 2016; davis2017-evaluation): J is the
Jaccard index with void pixels excluded, F the boundary F-measure with a disk tolerance of
``ceil(0.008 * diagonal)`` pixels. Every function accepts a stack of frames ``(..., H, W)`` and returns one
value per frame, so a whole sequence is scored with a handful of array operations instead of a Python loop.
"""
from __future__ import annotations

import math
from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

# Boundary tolerance as a fraction of the image diagonal (values >= 1 are taken as pixels), as in DAVIS.
BOUNDARY_THRESHOLD = 0.008
# Bytes of working memory one chunk of frames may use in pairwise_jf (boundary and dilated maps).
_CHUNK_BYTES = 64 * 2**20

__all__ = [
    "BOUNDARY_THRESHOLD",
    "boundary_radius",
    "db_statistics",
    "decay_bin_indices",
    "dilate",
    "disk",
    "f_measure",
    "jaccard",
    "pairwise_jf",
    "seg2bmap",
]


def disk(radius: int) -> np.ndarray:
    """Disk structuring element, identical to ``skimage.morphology.disk(radius)`` (uint8, x^2 + y^2 <= r^2)."""
    r = int(radius)
    if r < 0 or r != radius:
        raise ValueError(f"disk radius must be a non-negative integer, got {radius!r}")
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return (x * x + y * y <= r * r).astype(np.uint8)


def boundary_radius(height: int, width: int, bound_th: float = BOUNDARY_THRESHOLD) -> int:
    """Tolerance radius in pixels: ``bound_th`` pixels if >= 1, else ``ceil(bound_th * sqrt(H^2 + W^2))``."""
    if bound_th >= 1:
        return int(math.ceil(bound_th))
    return int(np.ceil(bound_th * np.linalg.norm((height, width))))


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of binary masks ``(..., H, W)``, as the DAVIS toolkit defines it.

    A pixel is on the boundary when it differs from its east, south or south-east neighbour; the last row
    compares with the east neighbour only, the last column with the south one, and the bottom-right pixel is
    never a boundary. Boundaries therefore sit half a pixel towards the origin from the true contour.
    """
    seg = np.asarray(seg, dtype=bool)
    if seg.ndim < 2:
        raise ValueError(f"seg2bmap expects (..., H, W) masks, got shape {seg.shape}")
    bmap = np.zeros_like(seg)
    core = seg[..., :-1, :-1]
    bmap[..., :-1, :-1] = (core ^ seg[..., :-1, 1:]) | (core ^ seg[..., 1:, :-1]) | (core ^ seg[..., 1:, 1:])
    bmap[..., -1, :-1] = seg[..., -1, :-1] ^ seg[..., -1, 1:]
    bmap[..., :-1, -1] = seg[..., :-1, -1] ^ seg[..., 1:, -1]
    bmap[..., -1, -1] = False
    return bmap


def dilate(maps: np.ndarray, radius: int) -> np.ndarray:
    """Dilate binary maps ``(..., H, W)`` with ``disk(radius)``; all frames go through one cv2.dilate call.

    Frames are stacked vertically with ``radius`` empty rows between them, so no frame reaches into another.
    """
    maps = np.asarray(maps, dtype=bool)
    if radius == 0:
        return maps.copy()
    *lead, h, w = maps.shape
    n = int(np.prod(lead, dtype=np.int64)) if lead else 1
    padded = np.zeros((n, h + radius, w), dtype=np.uint8)
    padded[:, :h] = maps.reshape(n, h, w)
    out = cv2.dilate(padded.reshape(n * (h + radius), w), disk(radius))
    return out.reshape(n, h + radius, w)[:, :h].astype(bool).reshape(maps.shape)


def _frame_counts(maps: np.ndarray) -> np.ndarray:
    """Number of True pixels of each frame of a ``(T, H, W)`` boolean stack, as int64."""
    # A loop of whole-frame count_nonzero calls is several times faster than count_nonzero(axis=...).
    return np.fromiter((np.count_nonzero(frame) for frame in maps), dtype=np.int64, count=maps.shape[0])


def _f_from_counts(n_fg: np.ndarray, n_gt: np.ndarray, fg_match: np.ndarray, gt_match: np.ndarray) -> np.ndarray:
    """Boundary F per frame from boundary pixel counts, with DAVIS's conventions for empty boundaries."""
    n_fg, n_gt = np.broadcast_arrays(n_fg, n_gt)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_fg > 0, fg_match / n_fg.astype(np.float64), 0.0)
        recall = np.where(n_gt > 0, gt_match / n_gt.astype(np.float64), 0.0)
    # No predicted boundary: P = 1 (and R = 0 unless the GT has none either); no GT boundary: R = 1.
    precision = np.where(n_fg == 0, 1.0, precision)
    recall = np.where(n_gt == 0, 1.0, recall)
    recall = np.where((n_fg == 0) & (n_gt > 0), 0.0, recall)
    precision = np.where((n_fg > 0) & (n_gt == 0), 0.0, precision)
    denom = precision + recall
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    return f


def _as_frames(*arrays: Optional[np.ndarray]) -> Tuple[Tuple[int, ...], List[Optional[np.ndarray]]]:
    """Check that the masks share one shape and reshape them to ``(T, H, W)`` boolean stacks."""
    shape = np.shape(arrays[0])
    if len(shape) < 2:
        raise ValueError(f"masks must be (..., H, W), got shape {shape}")
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
            continue
        if np.shape(a) != shape:
            raise ValueError(f"mask shapes differ: {shape} vs {np.shape(a)}")
        out.append(np.asarray(a, dtype=bool).reshape(-1, *shape[-2:]))
    return shape[:-2], out


def jaccard(gt: np.ndarray, pred: np.ndarray, void: Optional[np.ndarray] = None) -> np.ndarray:
    """Region similarity J = |pred & gt| / |pred | gt| per frame, void pixels excluded; 1 when both are empty."""
    lead, (gt, pred, void) = _as_frames(gt, pred, void)
    inter, union = gt & pred, gt | pred
    if void is not None:
        inter &= ~void
        union &= ~void
    n_inter, n_union = _frame_counts(inter), _frame_counts(union)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.where(n_union > 0, n_inter / n_union.astype(np.float64), 1.0)
    return j.reshape(lead)


def f_measure(
    gt: np.ndarray, pred: np.ndarray, void: Optional[np.ndarray] = None, bound_th: float = BOUNDARY_THRESHOLD
) -> np.ndarray:
    """Boundary measure F per frame: F-score of boundary precision and recall within the disk tolerance.

    Void pixels are removed from both masks before their boundaries are taken, as the DAVIS toolkit does.
    """
    lead, (gt, pred, void) = _as_frames(gt, pred, void)
    if void is not None:
        gt, pred = gt & ~void, pred & ~void
    radius = boundary_radius(*gt.shape[-2:], bound_th=bound_th)
    gt_b, pred_b = seg2bmap(gt), seg2bmap(pred)
    gt_dil, pred_dil = dilate(gt_b, radius), dilate(pred_b, radius)
    f = _f_from_counts(
        _frame_counts(pred_b), _frame_counts(gt_b), _frame_counts(pred_b & gt_dil), _frame_counts(gt_b & pred_dil)
    )
    return f.reshape(lead)


def pairwise_jf(
    gt_labels: np.ndarray,
    pred_labels: np.ndarray,
    num_gt: int,
    num_pred: int,
    void: Optional[np.ndarray] = None,
    *,
    diagonal: bool = False,
    bound_th: float = BOUNDARY_THRESHOLD,
) -> Tuple[np.ndarray, np.ndarray]:
    """J and F of every GT object 1..num_gt against every predicted id 1..num_pred, per frame.

    ``gt_labels`` and ``pred_labels`` are ``(T, H, W)`` id maps (0 = background; ids above ``num_gt`` /
    ``num_pred`` count as background). Returns ``(J, F)`` of shape ``(num_gt, num_pred, T)``, or
    ``(num_gt, T)`` with ``diagonal=True`` (object k against id k only; ``num_pred`` must equal ``num_gt``).
    Each id's mask, boundary map and dilation are computed once, on the id's bounding box over a chunk of
    frames (all frames of the chunk at once), and shared by all pairs; the values are exactly those of
    :func:`jaccard` and :func:`f_measure` on the full frames.
    """
    gt_labels, pred_labels = np.asarray(gt_labels), np.asarray(pred_labels)
    if gt_labels.ndim != 3 or gt_labels.shape != pred_labels.shape:
        raise ValueError(
            f"expected two (T, H, W) label stacks of one shape, got {gt_labels.shape}, {pred_labels.shape}"
        )
    if void is not None and np.shape(void) != gt_labels.shape:
        raise ValueError(f"void shape {np.shape(void)} differs from the labels' {gt_labels.shape}")
    if diagonal and num_pred != num_gt:
        raise ValueError(f"diagonal=True needs num_pred == num_gt, got {num_pred} and {num_gt}")
    if not (0 <= num_gt <= 255 and 0 <= num_pred <= 255):
        raise ValueError(f"object ids must fit in uint8, got num_gt={num_gt}, num_pred={num_pred}")
    t, h, w = gt_labels.shape
    radius = boundary_radius(h, w, bound_th=bound_th)
    # Worst case per frame: a full-frame mask, boundary and dilation per id.
    chunk = max(1, min(t, _CHUNK_BYTES // (3 * (num_gt + num_pred + 1) * h * w)))
    j_parts, f_parts = [], []
    for start in range(0, t, chunk):
        sl = slice(start, min(t, start + chunk))
        chunk_void = None if void is None else np.asarray(void[sl], dtype=bool)
        gt_ids = _IdStack.from_labels(gt_labels[sl], num_gt, chunk_void, radius)
        pred_ids = _IdStack.from_labels(pred_labels[sl], num_pred, chunk_void, radius)
        if diagonal:
            pairs = [(g, g) for g in range(num_gt)]
        else:
            pairs = [(g, p) for g in range(num_gt) for p in range(num_pred)]
        n = sl.stop - sl.start
        j = np.empty((num_gt, num_pred, n))
        f = np.empty((num_gt, num_pred, n))
        for g, p in pairs:
            j[g, p], f[g, p] = _pair_jf(gt_ids[g], pred_ids[p], n)
        if diagonal:
            idx = np.arange(num_gt)
            j, f = j[idx, idx], f[idx, idx]
        j_parts.append(j)
        f_parts.append(f)
    return np.concatenate(j_parts, axis=-1), np.concatenate(f_parts, axis=-1)


def _box_overlap(a: Tuple[int, int, int, int], b: Tuple[int, int, int, int]):
    """Slices of two boxes (y0, y1, x0, x1) that cover their common area, or None when they do not meet."""
    y0, y1, x0, x1 = max(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3])
    if y0 >= y1 or x0 >= x1:
        return None
    return (
        (slice(None), slice(y0 - a[0], y1 - a[0]), slice(x0 - a[2], x1 - a[2])),
        (slice(None), slice(y0 - b[0], y1 - b[0]), slice(x0 - b[2], x1 - b[2])),
    )


def _overlap_counts(a, a_box, b, b_box, n: int) -> np.ndarray:
    """Per-frame count of pixels set in both ``a`` and ``b``, two stacks placed at their boxes."""
    sl = _box_overlap(a_box, b_box)
    if sl is None:
        return np.zeros(n, dtype=np.int64)
    return _frame_counts(a[sl[0]] & b[sl[1]])


class _IdMaps(NamedTuple):
    """One id over a chunk of frames, cropped: its mask and boundary on ``box``, the dilation on ``dil_box``."""

    box: Tuple[int, int, int, int]
    mask: np.ndarray
    area: np.ndarray
    bmap: np.ndarray
    n_boundary: np.ndarray
    dil_box: Tuple[int, int, int, int]
    dilated: np.ndarray


class _IdStack:
    """Builds the cropped maps of ids 1..num of a label stack (void pixels removed); None for absent ids."""

    @staticmethod
    def from_labels(labels: np.ndarray, num: int, void: Optional[np.ndarray], radius: int) -> List[Optional[_IdMaps]]:
        if void is not None:
            labels = np.where(void, 0, labels)
        h, w = labels.shape[-2:]
        out: List[Optional[_IdMaps]] = []
        for k in range(1, num + 1):
            full = labels == k
            seen = full.any(axis=0)
            rows = np.flatnonzero(seen.any(axis=1))
            if rows.size == 0:
                out.append(None)
                continue
            cols = np.flatnonzero(seen.any(axis=0))
            # One empty row/column of margin on each side makes the cropped boundary map exact (seg2bmap).
            box = (max(rows[0] - 1, 0), min(rows[-1] + 2, h), max(cols[0] - 1, 0), min(cols[-1] + 2, w))
            mask = full[:, box[0] : box[1], box[2] : box[3]]
            bmap = seg2bmap(mask)
            dil_box = (max(box[0] - radius, 0), min(box[1] + radius, h),
                       max(box[2] - radius, 0), min(box[3] + radius, w))
            canvas = np.zeros((mask.shape[0], dil_box[1] - dil_box[0], dil_box[3] - dil_box[2]), dtype=bool)
            canvas[:, box[0] - dil_box[0] : box[1] - dil_box[0], box[2] - dil_box[2] : box[3] - dil_box[2]] = bmap
            out.append(_IdMaps(box, mask, _frame_counts(mask), bmap, _frame_counts(bmap), dil_box,
                               dilate(canvas, radius)))
        return out


def _pair_jf(gt: Optional[_IdMaps], pred: Optional[_IdMaps], n: int) -> Tuple[np.ndarray, np.ndarray]:
    """J and F per frame of one GT id against one predicted id (None = absent in the whole chunk)."""
    zeros = np.zeros(n, dtype=np.int64)
    gt_area = zeros if gt is None else gt.area
    pred_area = zeros if pred is None else pred.area
    both = gt is not None and pred is not None
    inter = _overlap_counts(gt.mask, gt.box, pred.mask, pred.box, n) if both else zeros
    union = gt_area + pred_area - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.where(union > 0, inter / union.astype(np.float64), 1.0)
    n_gt = zeros if gt is None else gt.n_boundary
    n_fg = zeros if pred is None else pred.n_boundary
    fg_match = _overlap_counts(pred.bmap, pred.box, gt.dilated, gt.dil_box, n) if both else zeros
    gt_match = _overlap_counts(gt.bmap, gt.box, pred.dilated, pred.dil_box, n) if both else zeros
    return j, _f_from_counts(n_fg, n_gt, fg_match, gt_match)


def decay_bin_indices(n: int) -> List[Tuple[int, int]]:
    """The four (first, last) inclusive frame-index ranges DAVIS's decay compares: round(linspace(1, n, 5))."""
    ids = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.int64)
    return [(int(ids[i]), int(ids[i + 1])) for i in range(4)]


def db_statistics(values: Sequence[float]) -> Tuple[float, float, float]:
    """Per-object (Mean, Recall, Decay) over its frames: nanmean, fraction > 0.5, first minus last quarter."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"db_statistics needs a non-empty 1-d array of per-frame values, got shape {values.shape}")
    mean = float(np.nanmean(values)) if not np.all(np.isnan(values)) else float("nan")
    recall = float(np.mean(values > 0.5))
    bins = [values[a : b + 1] for a, b in decay_bin_indices(values.size)]
    first, last = bins[0], bins[3]
    if np.all(np.isnan(first)) or np.all(np.isnan(last)):
        decay = float("nan")
    else:
        decay = float(np.nanmean(first) - np.nanmean(last))
    return mean, recall, decay
