"""Command-line DAVIS evaluation of a results folder: ``python -m slowfast_vos.evaluation --help``."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from tabulate import tabulate

from ..data.davis_format import RESOLUTIONS
from ..data.frame_tags import FrameTagsError, load_frame_tags
from .protocols import TASKS, VOID_MODES, DAVISEvaluationError, evaluate_davis
from .subsets import subset_metrics


def build_parser() -> argparse.ArgumentParser:
    """The evaluator's command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m slowfast_vos.evaluation",
        description="Score a folder of DAVIS results (<sequence>/<frame>.png indexed PNGs) with J&F.",
    )
    p.add_argument("--davis-root", required=True, help="DAVIS folder holding Annotations/ and ImageSets/")
    p.add_argument("--results", required=True, help="results folder: <sequence>/<frame>.png")
    p.add_argument("--task", required=True, choices=TASKS, help="evaluation protocol")
    p.add_argument("--set", default="val", dest="split", help="image set, e.g. val or train (default: val)")
    p.add_argument("--year", choices=("2016", "2017"), default=None, help="DAVIS layout (default: detected)")
    p.add_argument("--resolution", choices=RESOLUTIONS, default="480p", help="frame resolution (default: 480p)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="processes scoring sequences")
    p.add_argument("--output", default=None, help="folder for the CSV tables (default: the results folder)")
    p.add_argument(
        "--void", choices=VOID_MODES, default="exclude", dest="void_mode",
        help="void (255) annotation pixels: excluded from J and F (default) or counted as background",
    )
    p.add_argument(
        "--frame-tags", default=None,
        help="per-frame tags file (e.g. the synthetic set's frame_tags.json): also score its clean/degraded frames",
    )
    p.add_argument(
        "--backend", choices=("native", "official"), default="native",
        help="'official' runs the davis2017-evaluation package when it is installed",
    )
    return p


def run_official(args: argparse.Namespace):
    """Score with the official davis2017-evaluation package (semi-supervised / unsupervised, DAVIS 2017 layout)."""
    from .official import evaluate_official

    return evaluate_official(args.davis_root, args.results, args.task, args.split, write_csvs=False)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the evaluation, print the tables; 0 on success, 1 with a message on bad input."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error (or --help)
        return 0 if e.code in (0, None) else 1
    if args.frame_tags and args.backend == "official":
        print("error: --frame-tags needs the native backend (the official one reports no per-frame values)",
              file=sys.stderr)
        return 1
    start = time.perf_counter()
    try:
        if args.backend == "official":
            results = run_official(args)
        else:
            results = evaluate_davis(
                args.davis_root, args.results, args.task, split=args.split, year=args.year,
                resolution=args.resolution, workers=args.workers, void_mode=args.void_mode, progress=True,
                write_csvs=False,
            )
        subsets = subset_metrics(results, load_frame_tags(args.frame_tags)) if args.frame_tags else {}
    except (DAVISEvaluationError, FrameTagsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    # The scores first: a folder the tables cannot be written to must not lose them.
    print(results.tables())
    if subsets:
        rows = [[name, m["frames"], m["J&F-Mean"], m["J-Mean"], m["F-Mean"]] for name, m in subsets.items()]
        print(f"\n---------- Frame subsets ({args.frame_tags}) ----------")
        print(tabulate(rows, headers=["Subset", "Frames", "J&F-Mean", "J-Mean", "F-Mean"], floatfmt=".3f"))
    rate = f", {results.num_frames / elapsed:.1f} frames/s" if results.num_frames else ""
    print(f"\nScored {len(results.per_sequence)} objects in {elapsed:.2f} s{rate}")
    output = args.output or args.results
    try:
        results.write_csvs(output)
    except OSError as e:
        print(f"error: cannot write the CSV tables to {output}: {e}", file=sys.stderr)
        return 1
    print(f"Tables in {output}")
    return 0
