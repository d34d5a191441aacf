#!/usr/bin/env python
"""Why were objects lost? Each lost frame of each object, classified from the recorded detections.

A frame is lost for an object when its result's J is below 0.1 where the ground truth shows the object (the
tracking measures' rule, vos_eval/tracking_metrics.py). From the instances recorded for the same run
(TEST.VOS.SAVE_INSTANCES; tools/replay_tracking.py) each lost frame is put in the first kind that fits:

- missed: no recorded instance covers half of the object;
- merged: the instance covering most of it also covers half of another object (one mask for touching objects);
- below threshold: an instance matches the object alone (IoU >= 0.5) but scores below --score-thresh;
- wrong id: such an instance scores high enough but was written with another id or none.

Then each object lost until the end of its video (no J >= 0.5 after some lost frame) is split by what the detector
offered after its last frame with J >= 0.5: an instance matching it alone (IoU >= 0.5, scoring >= --score-thresh)
on some frame there, which ids could have recovered, or none, which only the detector could have. Frames after
the given first one count; with --benchmark-frames only those a semi-supervised benchmark scores (not the last one
either), so that the objects lost until the end are those of results.json's tracking part.

    python tools/loss_causes.py --instances output/rec/inference/synthetic_davis2017_val/instances \\
        --results output/rec/inference/synthetic_davis2017_val/davis_results \\
        --annotations datasets/DAVIS-synthetic/Annotations/480p --score-thresh 0.8
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from typing import Dict, Optional, Tuple

import numpy as np

from slowfast_vos.evaluation.recorded import load_recorded_video
from slowfast_vos.evaluation.tracking import mask_iou
from vos_eval.id_png import PNG_EXT, RESULT, VOID, VOID_ID, read_id_png
from vos_eval.io import write_json_atomic
from vos_eval.protocols import scored_frames
from vos_eval.tables import markdown_table
from vos_eval.tracking_metrics import LOSS_J, RECOVER_J, object_tracking

CAUSES = ("missed", "merged", "below threshold", "wrong id")


def cause(gt: np.ndarray, obj: int, masks: np.ndarray, scores: np.ndarray, score_thresh: float) -> str:
    """The kind of one lost frame of object ``obj`` (see the module docstring)."""
    if not len(masks):
        return "missed"
    target = gt == obj
    inter = (masks & target).reshape(len(masks), -1).sum(1)
    cover = inter / max(target.sum(), 1)
    if cover.max() < 0.5:
        return "missed"
    best = masks[int(np.argmax(cover))]
    others = [o for o in np.unique(gt) if o not in (0, VOID_ID, obj)]
    if any((best & (gt == o)).sum() >= 0.5 * (gt == o).sum() for o in others):
        return "merged"
    alone = matches_alone(gt, obj, masks)
    if not (alone & (scores >= score_thresh)).any():
        return "below threshold" if alone.any() else "merged"
    return "wrong id"


def matches_alone(gt: np.ndarray, obj: int, masks: np.ndarray) -> np.ndarray:
    """(N,) bool: which instances match object ``obj`` alone (mask IoU >= 0.5 with it)."""
    return mask_iou(masks, (gt == obj)[None])[:, 0] >= 0.5 if len(masks) else np.zeros(0, dtype=bool)


def lost_until_end(j: list, present: list, found_alone: list) -> Optional[bool]:
    """For one object's frames in order: None if it is not lost until the end (vos_eval.tracking_metrics' rule);
    else whether an instance matched it alone (``found_alone``) on a frame showing it after its last frame with
    J >= RECOVER_J."""
    if not object_tracking(np.asarray(j, dtype=float), np.asarray(present, dtype=bool))["lost_until_end"]:
        return None
    good = [t for t, (v, p) in enumerate(zip(j, present)) if p and v >= RECOVER_J]
    return any(present[t] and found_alone[t] for t in range(good[-1] + 1 if good else 0, len(j)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", required=True, help="recorded instances folder (one <sequence>.npz each)")
    parser.add_argument("--results", required=True, help="the run's results folder (<sequence>/<frame>.png)")
    parser.add_argument("--annotations", required=True, help="ground-truth folder (<sequence>/<frame>.png)")
    parser.add_argument("--score-thresh", type=float, required=True, help="the run's TEST.VOS.SCORE_THRESH")
    parser.add_argument("--json", help="also write the counts here")
    parser.add_argument("--benchmark-frames", action="store_true",
                        help="count only the frames the semi-supervised benchmark scores (leave out the last one too)")
    args = parser.parse_args(argv)
    counts: Counter = Counter()
    until_end = {"objects": 0, "found_alone_later": 0}
    videos = sorted(f[:-4] for f in os.listdir(args.instances) if f.endswith(".npz"))
    if not videos:
        sys.exit(f"loss_causes: no recorded videos (<sequence>.npz) in {args.instances}")
    for seq in videos:
        frames = list(load_recorded_video(args.instances, seq).items())
        if args.benchmark_frames:
            scored = set(scored_frames([name for name, _ in frames], "semi-supervised"))
            frames = frames[:1] + [f for f in frames[1:] if f[0] in scored]
        seen: Dict[int, Dict[int, Tuple[float, bool]]] = {}  # object -> frame index -> (J, found alone)
        for t, (frame, (masks, scores, _)) in enumerate(frames[1:]):  # not the given first frame
            gt = read_id_png(os.path.join(args.annotations, seq, frame + PNG_EXT), VOID)
            result = read_id_png(os.path.join(args.results, seq, frame + PNG_EXT), RESULT)
            for obj in (int(o) for o in np.unique(gt) if o not in (0, VOID_ID)):
                target, mine = gt == obj, result == obj
                j = (target & mine).sum() / max((target | mine).sum(), 1)
                if j < LOSS_J:
                    counts[cause(gt, obj, masks, scores, args.score_thresh)] += 1
                found = bool((matches_alone(gt, obj, masks) & (scores >= args.score_thresh)).any())
                seen.setdefault(obj, {})[t] = (float(j), found)
        for per in seen.values():  # a frame not showing the object: not shown, J 1, not found
            rows = [per.get(t, (1.0, False)) for t in range(len(frames) - 1)]
            verdict = lost_until_end([j for j, _ in rows], [t in per for t in range(len(rows))],
                                     [found for _, found in rows])
            if verdict is not None:
                until_end["objects"] += 1
                until_end["found_alone_later"] += int(verdict)
    total = sum(counts.values())
    print(markdown_table(["cause", "lost frames", "share"],
                         [[c, counts[c], f"{counts[c] / total:.0%}" if total else "-"] for c in CAUSES]
                         + [["all", total, "100%" if total else "-"]]))
    print()
    print(markdown_table(["objects lost until the end", "an instance matched it alone later (ids)",
                          "none did (the detector)"],
                         [[until_end["objects"], until_end["found_alone_later"],
                           until_end["objects"] - until_end["found_alone_later"]]]))
    if args.json:
        write_json_atomic(args.json, {**{c: counts[c] for c in CAUSES}, "lost_until_end": until_end})
    return 0


if __name__ == "__main__":
    sys.exit(main())
