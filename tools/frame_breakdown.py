#!/usr/bin/env python
"""Where do models win or lose? J&F per kind of frame, averaged over training seeds, from DAVIS result folders.

    python tools/frame_breakdown.py --davis-root datasets/DAVIS-synthetic \\
        --runs 'output/ablation-synthetic/seed*/*/inference/*/davis_results' --compare 1-1 3-7

Scores each results folder with the DAVIS 2016 protocol on ``<davis-root>/2016`` (the synthetic set's binary
view), then scores every
frame kind: all, clean and degraded (from the set's frame_tags.json), border (the first and last --border frames,
whose window reaches outside the video) and inner, occluded (some object more than --occluded hidden), by the one
subset rule of vos_eval.subsets (per object, then over objects), so clean and degraded equal results.json's. Folders are
grouped into variants by one component of their path (--group-by, counted from the end; default 4, the config of
``seed<s>/<config>/inference/<set>/davis_results``); each cell is the mean over the variant's folders ± the sample
standard deviation over them, with the frame count. --compare A B adds B - A per sequence (mean over folders).
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
from collections import defaultdict
from typing import Dict, Sequence, Tuple

import numpy as np

from vos_eval.frame_tags import BORDER_FRAMES, FRAME_KINDS, FRAME_TAGS_FILE, OCCLUDED_FRACTION, load_frame_tags
from vos_eval.protocols import evaluate_davis
from vos_eval.subsets import frame_kind_metrics
from vos_eval.run_folder import DAVIS_RESULTS, INFERENCE


def breakdown(root_2016: str, results_dir: str, tags: dict, border: int, occluded: float
              ) -> Tuple[Dict[str, Tuple[float, int]], Dict[str, float]]:
    """(J&F and frame count per kind, J&F per sequence) of one results folder."""
    with tempfile.TemporaryDirectory() as tables:  # the CSV tables are not needed here
        scores = evaluate_davis(root_2016, results_dir, "davis2016", year="2016", output_dir=tables)
    kinds = frame_kind_metrics(scores, tags, border, occluded)
    table = {kind: (values["J&F-Mean"], int(values["frames"])) for kind, values in kinds.items()}
    per_sequence = {sequence: float((np.nanmean(scores.per_frame[name][0]) + np.nanmean(scores.per_frame[name][1])) / 2)
                    for name, (sequence, _) in scores.frames.items()}  # the 2016 protocol: one object per sequence
    return table, per_sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis-root", required=True, help="the synthetic set (holding frame_tags.json and 2016/)")
    parser.add_argument("--runs", required=True, nargs="+", help="results folders or glob patterns")
    parser.add_argument("--group-by", type=int, default=4,
                        help="path component (from the end) naming a folder's variant (default 4: "
                             f"<variant>/{INFERENCE}/<set>/{DAVIS_RESULTS})")
    parser.add_argument("--border", type=int, default=BORDER_FRAMES,
                        help=f"frames at each end counted as border (default {BORDER_FRAMES})")
    parser.add_argument("--occluded", type=float, default=OCCLUDED_FRACTION,
                        help=f"occluded fraction threshold (default {OCCLUDED_FRACTION})")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="per-sequence J&F of B - A")
    args = parser.parse_args(argv)
    tags = load_frame_tags(os.path.join(args.davis_root, FRAME_TAGS_FILE))
    folders = sorted({f for pattern in args.runs for f in (glob.glob(pattern) or [pattern]) if os.path.isdir(f)})
    if not folders:
        sys.exit(f"frame_breakdown: no results folder matches {args.runs}")
    variants: Dict[str, list] = defaultdict(list)
    for folder in folders:
        variant = os.path.normpath(folder).split(os.sep)[-args.group_by]
        variants[variant].append(breakdown(os.path.join(args.davis_root, "2016"), folder, tags, args.border,
                                           args.occluded))
    print("| variant | runs | " + " | ".join(FRAME_KINDS) + " |")
    print("|---|---:|" + "---:|" * len(FRAME_KINDS))
    for variant, runs in variants.items():
        cells = []
        for kind in FRAME_KINDS:
            values = [table[kind][0] for table, _ in runs if kind in table]
            count = runs[0][0].get(kind, (0, 0))[1]
            std = f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.3f}{std} ({count})" if values else "n/a")
        print(f"| {variant} | {len(runs)} | " + " | ".join(cells) + " |")
    if args.compare:
        a, b = args.compare
        missing = [v for v in (a, b) if v not in variants]
        if missing:
            sys.exit(f"frame_breakdown: no folders of variant(s) {missing}; found {sorted(variants)}")
        print(f"\n| sequence | {a} | {b} | {b} - {a} |\n|---|---:|---:|---:|")
        for sequence in sorted(variants[a][0][1]):
            va = np.mean([seqs[sequence] for _, seqs in variants[a]])
            vb = np.mean([seqs[sequence] for _, seqs in variants[b]])
            print(f"| {sequence} | {va:.3f} | {vb:.3f} | {vb - va:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
