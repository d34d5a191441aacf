"""J&F on a subset of the scored frames (the clean or degraded frames of a tagged set, or any kind of frame): one rule.

The rule is the benchmark's global row restricted to the subset, per object: each object's J and F are averaged
over its scored frames in the subset, then over the objects that have any frame there; J&F = (J + F) / 2. Frames
are not pooled across objects, so an object with 2 clean frames weighs as much as one with 80, as each object does
in the overall J-Mean (the "all" subset is the overall J&F). The ``frames`` entry counts the distinct frames in the
subset that score some object. results.json's ``davis_<subset>`` entries (the evaluators), the comparison report's
frame kinds (:mod:`vos_eval.reporting`) and ``tools/frame_breakdown.py`` all come from here.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np

from .frame_tags import BORDER_FRAMES, FRAME_KINDS, OCCLUDED_FRACTION, SUBSETS, FrameTags, FrameTagsError, frame_kinds
from .scoring import VOSResults

__all__ = ["frame_kind_metrics", "subset_metrics", "subset_scores"]


def subset_scores(results: VOSResults, member: Callable[[str, str], bool]) -> Optional[Dict[str, float]]:
    """J&F-Mean, J-Mean, F-Mean and frame count on the scored frames where ``member(sequence, frame)`` holds, by the
    module's rule; None when no object has a scored frame there."""
    j_means: List[float] = []
    f_means: List[float] = []
    counted = set()
    for name, (sequence, frames) in results.frames.items():
        keep = np.array([member(sequence, frame) for frame in frames], dtype=bool)
        if not keep.any():
            continue
        j, f = results.per_frame[name]
        j_means.append(float(np.nanmean(j[keep])))
        f_means.append(float(np.nanmean(f[keep])))
        counted.update((sequence, frame) for frame, k in zip(frames, keep) if k)
    if not j_means:
        return None
    jm, fm = float(np.mean(j_means)), float(np.mean(f_means))
    return {"J&F-Mean": (jm + fm) / 2, "J-Mean": jm, "F-Mean": fm, "frames": len(counted)}


def subset_metrics(results: VOSResults, tags: FrameTags) -> Dict[str, Dict[str, float]]:
    """The scores of every SUBSETS subset (clean, degraded) that has a scored frame: what results.json holds. Frames
    the tags do not list are in no subset."""
    out = {}
    for subset, predicate in SUBSETS.items():
        scores = subset_scores(results, lambda s, f, keep=predicate: f in tags.get(s, {}) and keep(tags[s][f]))
        if scores is not None:
            out[subset] = scores
    return out


def frame_kind_metrics(results: VOSResults, tags: FrameTags, border: int = BORDER_FRAMES,
                       occluded: float = OCCLUDED_FRACTION) -> Dict[str, Dict[str, float]]:
    """The scores of every FRAME_KINDS kind (all, clean, degraded, border, inner, occluded; ``border`` and
    ``occluded`` as for frame_kinds) that has a scored frame; clean and degraded equal :func:`subset_metrics`'s. A
    scored frame the tags do not list is a FrameTagsError naming it."""
    kinds: Dict[tuple, List[str]] = {}
    for sequence, frames in results.frames.values():
        for frame in frames:
            if frame not in tags.get(sequence, {}):
                raise FrameTagsError(f"the frame tags have no entry for the scored frame {sequence}/{frame}")
            kinds.setdefault((sequence, frame), frame_kinds(tags, sequence, frame, border, occluded))
    out = {}
    for kind in FRAME_KINDS:
        scores = subset_scores(results, lambda s, f, wanted=kind: wanted in kinds[(s, f)])
        if scores is not None:
            out[kind] = scores
    return out
