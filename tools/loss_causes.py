#!/usr/bin/env python
"""Why were objects lost? Each lost frame of each object, classified from the recorded detections.

A frame is lost for an object when its result's J is below 0.1 where the ground truth shows the object (the
tracking measures' rule, vos_eval/tracking_metrics.py). From the instances recorded for the same run
(TEST.VOS.SAVE_INSTANCES; tools/replay_tracking.py) each lost frame is put in the first kind that fits:

- missed: no recorded instance covers half of the object;
- merged: the instance covering most of it also covers half of another object (one mask for touching objects);
- below threshold: an instance matches the object alone (IoU >= 0.5) but scores below --score-thresh;
- wrong id: such an instance scores high enough but was written with another id or none.

    python tools/loss_causes.py --instances output/rec/inference/synthetic_davis2017_val/instances \\
        --results output/rec/inference/synthetic_davis2017_val/davis_results \\
        --annotations datasets/DAVIS-synthetic/Annotations/480p --score-thresh 0.8
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

import numpy as np

from slowfast_vos.evaluation.recorded import load_recorded_video
from vos_eval.id_png import PNG_EXT, RESULT, VOID, VOID_ID, read_id_png
from vos_eval.io import write_json_atomic
from vos_eval.tables import markdown_table
from vos_eval.tracking_metrics import LOSS_J

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
    alone = inter / np.maximum((masks | target).reshape(len(masks), -1).sum(1), 1) >= 0.5
    if not (alone & (scores >= score_thresh)).any():
        return "below threshold" if alone.any() else "merged"
    return "wrong id"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", required=True, help="recorded instances folder (one <sequence>.npz each)")
    parser.add_argument("--results", required=True, help="the run's results folder (<sequence>/<frame>.png)")
    parser.add_argument("--annotations", required=True, help="ground-truth folder (<sequence>/<frame>.png)")
    parser.add_argument("--score-thresh", type=float, required=True, help="the run's TEST.VOS.SCORE_THRESH")
    parser.add_argument("--json", help="also write the counts here")
    args = parser.parse_args(argv)
    counts: Counter = Counter()
    videos = sorted(f[:-4] for f in os.listdir(args.instances) if f.endswith(".npz"))
    if not videos:
        sys.exit(f"loss_causes: no recorded videos (<sequence>.npz) in {args.instances}")
    for seq in videos:
        frames = list(load_recorded_video(args.instances, seq).items())
        for frame, (masks, scores, _) in frames[1:]:  # not the given first frame
            gt = read_id_png(os.path.join(args.annotations, seq, frame + PNG_EXT), VOID)
            result = read_id_png(os.path.join(args.results, seq, frame + PNG_EXT), RESULT)
            for obj in (int(o) for o in np.unique(gt) if o not in (0, VOID_ID)):
                target, mine = gt == obj, result == obj
                if (target & mine).sum() / max((target | mine).sum(), 1) < LOSS_J:
                    counts[cause(gt, obj, masks, scores, args.score_thresh)] += 1
    total = sum(counts.values())
    print(markdown_table(["cause", "lost frames", "share"],
                         [[c, counts[c], f"{counts[c] / total:.0%}" if total else "-"] for c in CAUSES]
                         + [["all", total, "100%" if total else "-"]]))
    if args.json:
        write_json_atomic(args.json, {c: counts[c] for c in CAUSES})
    return 0


if __name__ == "__main__":
    sys.exit(main())
