"""How well a result follows each object over time, beside J&F: losses, recoveries, re-acquisitions after the
object was out of view, and id switches (torch-free, from the per-frame J that scoring computes).

Definitions (on an object's scored frames, in video order; frames where the ground truth does not show the object
are skipped, so an occlusion neither starts nor ends a loss):

- lost frame: the ground truth shows the object and its J is below ``LOSS_J`` (0.1; an empty result counts).
- a loss: a maximal run of lost frames. It is recovered at the first later frame showing the object with
  J >= ``RECOVER_J`` (0.5); ``frames_to_recover`` counts scored frames from the loss's first frame to that one.
  A loss never recovered is an object lost until the end of the video.
- a reappearance: a frame showing the object after frames that did not (it left the view or was fully occluded);
  re-acquired when J >= RECOVER_J on that frame or a later one.
- an id switch (several objects): a frame where the object's result mask lies mostly (> half of its pixels) on
  another object's ground truth, after a frame where it did not.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional

import numpy as np

__all__ = ["LOSS_J", "RECOVER_J", "TRACKING_KEYS", "object_tracking", "tracking_summary"]

LOSS_J = 0.1
RECOVER_J = 0.5
# The keys of a tracking summary (results.json's "tracking").
TRACKING_KEYS = ("objects", "frames_lost", "losses", "losses_recovered", "objects_lost_until_end",
                 "mean_frames_to_recover", "reappearances", "reappearances_reacquired", "id_switches")


def _first_recovery(j: np.ndarray, present: np.ndarray, start: int) -> Optional[int]:
    """The first frame index >= start showing the object with J >= RECOVER_J, or None."""
    hits = np.flatnonzero(present[start:] & (j[start:] >= RECOVER_J))
    return None if len(hits) == 0 else start + int(hits[0])


def object_tracking(j: np.ndarray, present: np.ndarray, on_other: Optional[np.ndarray] = None) -> Dict[str, object]:
    """One object's losses, recoveries, reappearances and id switches (see the module docstring).

    ``j``: its J per scored frame; ``present``: whether the ground truth shows it there; ``on_other``: whether its
    result mask lies mostly on another object (None: one object, no switches possible)."""
    j = np.nan_to_num(np.asarray(j, dtype=float), nan=1.0)
    present = np.asarray(present, dtype=bool)
    if j.shape != present.shape:
        raise ValueError(f"J has {j.shape} frames, the presence {present.shape}")
    lost = present & (j < LOSS_J)
    shown = np.flatnonzero(present)
    losses: List[Dict[str, Optional[int]]] = []
    previous_lost = False
    for t in shown:
        if lost[t] and not previous_lost:
            end = _first_recovery(j, present, int(t))
            losses.append({"start": int(t), "recovered_at": end})
        previous_lost = bool(lost[t])
    # A loss is one run of lost frames: a run ends at the next shown frame that is not lost.
    reappearances = [int(t) for t in shown if t > 0 and not present[t - 1]]
    reacquired = [t for t in reappearances if _first_recovery(j, present, t) is not None]
    switches = 0
    if on_other is not None:
        on_other = np.asarray(on_other, dtype=bool)
        switches = int(np.sum(on_other[1:] & ~on_other[:-1]) + (1 if len(on_other) and on_other[0] else 0))
    recovered = [loss for loss in losses if loss["recovered_at"] is not None]
    return {
        "frames_lost": int(lost.sum()),
        "losses": len(losses),
        "losses_recovered": len(recovered),
        "frames_to_recover": [int(loss["recovered_at"]) - int(loss["start"]) for loss in recovered],
        "lost_until_end": len(recovered) < len(losses),
        "reappearances": len(reappearances),
        "reappearances_reacquired": len(reacquired),
        "id_switches": switches,
        "lost_frames": [int(t) for t in np.flatnonzero(lost)],
    }


def tracking_summary(per_frame: Mapping[str, tuple], presence: Mapping[str, np.ndarray],
                     on_other: Mapping[str, Optional[np.ndarray]]) -> Dict[str, float]:
    """The TRACKING_KEYS summed (counts) or averaged (frames to recover) over every scored object."""
    objects = [object_tracking(per_frame[name][0], presence[name], on_other.get(name)) for name in per_frame]
    waits = [w for o in objects for w in o["frames_to_recover"]]
    return {
        "objects": len(objects),
        "frames_lost": sum(o["frames_lost"] for o in objects),
        "losses": sum(o["losses"] for o in objects),
        "losses_recovered": sum(o["losses_recovered"] for o in objects),
        "objects_lost_until_end": sum(o["lost_until_end"] for o in objects),
        "mean_frames_to_recover": float(np.mean(waits)) if waits else 0.0,
        "reappearances": sum(o["reappearances"] for o in objects),
        "reappearances_reacquired": sum(o["reappearances_reacquired"] for o in objects),
        "id_switches": sum(o["id_switches"] for o in objects),
    }
