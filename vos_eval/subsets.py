"""J&F on subsets of frames (e.g. the clean and the degraded frames of a tagged set) beside the overall numbers."""
from __future__ import annotations

from typing import Dict

import numpy as np

from .frame_tags import SUBSETS, FrameTags, subset_frames
from .scoring import VOSResults

__all__ = ["subset_metrics"]


def subset_metrics(results: VOSResults, tags: FrameTags) -> Dict[str, Dict[str, float]]:
    """J&F-Mean, J-Mean, F-Mean and the frame count of every SUBSETS subset of the scored frames.

    As for the benchmark's global row, each object's J and F are averaged over its frames in the subset, then over
    the objects that have any; J&F = (J + F) / 2. A subset with no scored frame is left out.
    """
    out: Dict[str, Dict[str, float]] = {}
    for subset in SUBSETS:
        j_means, f_means, counted = [], [], set()
        for name, (sequence, frames) in results.frames.items():
            members = subset_frames(tags, sequence, subset)
            keep = np.array([frame in members for frame in frames], dtype=bool)
            if not keep.any():
                continue
            j, f = results.per_frame[name]
            j_means.append(float(np.nanmean(j[keep])))
            f_means.append(float(np.nanmean(f[keep])))
            counted.update((sequence, frame) for frame, k in zip(frames, keep) if k)
        if j_means:
            jm, fm = float(np.mean(j_means)), float(np.mean(f_means))
            out[subset] = {"J&F-Mean": (jm + fm) / 2, "J-Mean": jm, "F-Mean": fm, "frames": len(counted)}
    return out
