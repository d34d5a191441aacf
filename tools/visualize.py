#!/usr/bin/env python
"""Overlay VOS result masks (and optionally ground truth) on a sequence's frames: a GIF/MP4 and a contact sheet.

Works on plain DAVIS folders, so it shows the results of any method:

    python tools/visualize.py --frames DAVIS/JPEGImages/480p/bear --results out/results/bear \\
        [--gt DAVIS/Annotations/480p/bear] --output vis/ [--format gif|mp4] [--fps 8]
    python tools/visualize.py --davis-root DAVIS --results-root out/results [--sequences bear car] \\
        [--show-gt] --output vis/

Writes ``<output>/<sequence>.<gif|mp4>`` and ``<output>/<sequence>_sheet.png`` (evenly sampled frames, each
labelled with its frame name). The drawing is ``vos_eval.visualization``; masks follow the DAVIS id-PNG policy
of ``vos_eval.davis_format`` (indexed or grey ids; 0/255 masks are object 1; colour PNGs are refused).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from slowfast_vos.utils.console import quiet_third_party_noise
from vos_eval.visualization import visualize_results, visualize_sequence
from vos_eval.davis_format import RESOLUTIONS, YEARS, DAVISLayout


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (one sequence by folders, or several under a DAVIS root and a results root)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    one = parser.add_argument_group("one sequence")
    one.add_argument("--frames", help="folder of the sequence's JPEG frames (00000.jpg ...)")
    one.add_argument("--results", help="folder of the sequence's result PNGs (indexed, one per frame)")
    one.add_argument("--gt", help="folder of the sequence's ground-truth PNGs (drawn as dashed contours)")
    many = parser.add_argument_group("several sequences")
    many.add_argument("--davis-root", help="DAVIS root holding JPEGImages/<resolution>/<sequence>")
    many.add_argument("--results-root", help="results root holding <sequence>/<frame>.png")
    many.add_argument("--sequences", nargs="+", help="sequences to render (default: every folder in --results-root)")
    many.add_argument("--resolution", choices=RESOLUTIONS, default="480p", help="DAVIS resolution (default 480p)")
    many.add_argument("--year", choices=YEARS, default="2017",
                      help="DAVIS layout: names the full-resolution folder (1080p for 2016; default 2017)")
    many.add_argument("--show-gt", action="store_true", help="also draw Annotations/<resolution>/<sequence>")
    parser.add_argument("--output", required=True, help="folder for <sequence>.<format> and <sequence>_sheet.png")
    parser.add_argument("--format", choices=("gif", "mp4"), default="gif")
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument("--alpha", type=float, default=0.5, help="opacity of the mask colour")
    parser.add_argument("--sheet-columns", type=int, default=6)
    parser.add_argument("--max-sheet-frames", type=int, default=24)
    args = parser.parse_args(argv)
    single = args.frames is not None or args.results is not None
    multi = args.davis_root is not None or args.results_root is not None
    if single == multi:
        parser.error("give either --frames and --results, or --davis-root and --results-root")
    if single and (args.frames is None or args.results is None):
        parser.error("--frames and --results go together")
    if multi and (args.davis_root is None or args.results_root is None):
        parser.error("--davis-root and --results-root go together")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Render the sequences named on the command line; prints each output path."""
    args = _parse_args(argv)
    options = dict(fmt=args.format, fps=args.fps, sheet_columns=args.sheet_columns,
                   max_sheet_frames=args.max_sheet_frames, alpha=args.alpha)
    if args.frames is not None:
        rendered = [visualize_sequence(args.frames, args.results, args.output, gt_dir=args.gt, **options)]
    else:
        layout = DAVISLayout(args.davis_root, args.year, "val", args.resolution)
        rendered = visualize_results(layout, args.results_root, args.output, args.sequences, args.show_gt, **options)
    for paths in rendered:
        print(f"{paths['video']}\n{paths['sheet']}")
    return 0


if __name__ == "__main__":
    quiet_third_party_noise()
    sys.exit(main())
