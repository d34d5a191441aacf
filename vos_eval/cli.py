"""Command-line evaluation of a DAVIS or YouTube-VOS results folder: ``python -m vos_eval --help``."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from tabulate import tabulate

from .benchmarks import UnknownBenchmarkError, benchmark_for
from .davis_format import RESOLUTIONS, TASKS, DAVISLayout
from .errors import VOSFormatError
from .frame_tags import FrameTagsError, load_frame_tags
from .protocols import VOID_MODES
from .subsets import subset_metrics
from .ytvos_format import YTVOSLayout


def build_parser() -> argparse.ArgumentParser:
    """The evaluator's command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m vos_eval",
        description="Score a folder of DAVIS or YouTube-VOS results (<sequence>/<frame>.png indexed PNGs) with J&F.",
    )
    root = p.add_mutually_exclusive_group(required=True)
    root.add_argument("--davis-root", help="DAVIS folder holding Annotations/ and ImageSets/")
    root.add_argument("--ytvos-root", help="YouTube-VOS release folder holding <set>/meta.json (a set with every "
                                           "annotation, e.g. train: valid is scored by the server)")
    p.add_argument("--results", required=True, help="results folder: <sequence>/<frame>.png")
    p.add_argument("--task", required=True, choices=TASKS, help="evaluation protocol (YouTube-VOS: semi-supervised "
                                                                "or unsupervised)")
    p.add_argument("--set", default=None, dest="split",
                   help="image set, e.g. val or train (default: val for DAVIS, train for YouTube-VOS)")
    p.add_argument("--year", choices=("2016", "2017"), default=None, help="DAVIS layout (default: detected)")
    p.add_argument("--resolution", choices=RESOLUTIONS, default="480p", help="frame resolution (default: 480p)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="processes scoring sequences")
    p.add_argument("--output", default=None, help="folder for the CSV tables (default: the results folder)")
    p.add_argument(
        "--void", choices=VOID_MODES, default=None, dest="void_mode",
        help="DAVIS: void (255) annotation pixels excluded from J and F (exclude, the default) or counted as "
             "background",
    )
    p.add_argument(
        "--frame-tags", default=None,
        help="per-frame tags file (e.g. the synthetic set's frame_tags.json): also score its clean/degraded frames",
    )
    p.add_argument(
        "--backend", choices=("native", "official"), default="native",
        help="'official' runs the davis2017-evaluation package when it is installed (DAVIS)",
    )
    return p


def run_official(args: argparse.Namespace):
    """Score with the official davis2017-evaluation package (semi-supervised / unsupervised, DAVIS 2017 layout)."""
    from .official import evaluate_official

    return evaluate_official(args.davis_root, args.results, args.task, args.split or "val", write_csvs=False)


def find_layout(args: argparse.Namespace):
    """The set the command line names: a YouTube-VOS split, or a DAVIS set (its year detected unless given)."""
    if args.ytvos_root:
        layout = YTVOSLayout(os.path.abspath(args.ytvos_root), args.split or "train")
        layout.check_root()
        return layout
    return DAVISLayout.find(args.davis_root, args.split or "val", args.year, args.resolution, args.task)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the evaluation, print the tables; 0 on success, 1 with a message on bad input."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error (or --help)
        return 0 if e.code in (0, None) else 1
    if args.ytvos_root and (args.backend == "official" or args.year or args.void_mode):
        print("error: --backend official, --year and --void are DAVIS options (got --ytvos-root)", file=sys.stderr)
        return 1
    if args.frame_tags and args.backend == "official":
        print("error: --frame-tags needs the native backend (the official one reports no per-frame values)",
              file=sys.stderr)
        return 1
    start = time.perf_counter()
    try:
        if args.backend == "official":
            results = run_official(args)
        else:
            layout = find_layout(args)
            benchmark = benchmark_for(layout)
            options = {"void_mode": args.void_mode} if args.void_mode else {}
            results = benchmark.evaluate(layout, args.results, benchmark.check_task(args.task, "--task"),
                                         workers=args.workers, progress=True, write_csvs=False, **options)
        subsets = subset_metrics(results, load_frame_tags(args.frame_tags)) if args.frame_tags else {}
    except (VOSFormatError, FrameTagsError, UnknownBenchmarkError) as e:
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
