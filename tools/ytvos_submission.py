#!/usr/bin/env python
"""Check a YouTube-VOS results folder against the split's meta.json and zip it for the evaluation server.

    python tools/ytvos_submission.py --results output/model/inference/ytvos2019_valid/Annotations \\
        --meta datasets/youtube-vos-2019/valid/meta.json --output submission.zip
    python tools/ytvos_submission.py --results DIR --meta valid/meta.json --check-only

The results folder holds ``<video>/<frame>.png`` (or is a folder holding ``Annotations/`` with them). Every frame
meta.json lists for a video must have an indexed PNG of the size of that frame's JPEG (``--images``, default the
JPEGImages folder beside meta.json) holding only the ids of the video's objects that have appeared by then (each
object's first appearance is read from the split's Annotations beside meta.json, the given masks). The zip
holds ``Annotations/<video>/<frame>.png`` at its root; it is written to a temporary file, read back and renamed, so
a failed run leaves no zip at --output.

Exit status: 0 the submission is valid (and the zip written); 1 it is not (the problems are listed: missing frames,
wrong sizes, ids a video does not have, unreadable PNGs); 2 bad arguments or a missing / malformed meta.json or
results folder; 3 the zip could not be written. Needs neither torch nor Detectron2 (only ``vos_eval``).
"""
import argparse
import os
import sys

from vos_eval.scoring import MAX_LISTED
from vos_eval.submission import SUBMISSION_ROOT, YTVOSSubmissionError, check_submission, write_submission_zip
from vos_eval.ytvos_format import YTVOSFormatError, YTVOSLayout

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_WRITE = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, metavar="DIR",
                        help="folder of <video>/<frame>.png, or a folder holding Annotations/ with them")
    parser.add_argument("--meta", required=True, metavar="FILE", help="the split's meta.json (e.g. valid/meta.json)")
    parser.add_argument("--images", metavar="DIR", help="the split's JPEGImages (default: beside meta.json)")
    parser.add_argument("--output", metavar="FILE", help="the zip to write (required unless --check-only)")
    parser.add_argument("--check-only", action="store_true", help="check the folder, write no zip")
    parser.add_argument("--max-listed", type=int, default=MAX_LISTED, metavar="N",
                        help=f"problem frames listed per kind (default {MAX_LISTED})")
    return parser


def results_folder(path: str) -> str:
    """The folder of <video>/<frame>.png: ``path`` itself, or its Annotations/ sub-folder where it has one."""
    inner = os.path.join(path, SUBMISSION_ROOT)
    return inner if os.path.isdir(inner) else path


def layout_of(meta: str) -> YTVOSLayout:
    """The YTVOSLayout whose meta.json is ``meta`` (``<root>/<split>/meta.json``)."""
    meta = os.path.abspath(meta)
    if os.path.basename(meta) != "meta.json":
        raise YTVOSFormatError(f"--meta {meta}: expected the split's meta.json (<root>/<split>/meta.json)")
    split_dir = os.path.dirname(meta)
    return YTVOSLayout(os.path.dirname(split_dir), os.path.basename(split_dir))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not args.check_only and not args.output:
        print("error: --output FILE is required unless --check-only", file=sys.stderr)
        return EXIT_USAGE
    if args.max_listed < 1:
        print("error: --max-listed must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    results = results_folder(args.results)
    if not os.path.isdir(results):
        print(f"error: results folder {args.results} not found", file=sys.stderr)
        return EXIT_USAGE
    try:
        layout = layout_of(args.meta)
        layout.meta()
        report = check_submission(results, layout, image_dir=args.images)
    except YTVOSFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not report.ok:
        print(report.summary(args.max_listed), file=sys.stderr)
        return EXIT_INVALID
    print(report.summary(args.max_listed))
    if args.check_only:
        return EXIT_OK
    try:
        write_submission_zip(results, layout, args.output, image_dir=args.images, report=report)
    except YTVOSSubmissionError as e:  # the zip did not read back as written
        print(f"error: {e}", file=sys.stderr)
        return EXIT_WRITE
    except OSError as e:
        print(f"error: cannot write {args.output}: {e}", file=sys.stderr)
        return EXIT_WRITE
    print(f"wrote {args.output}: {report.frames} frames of {report.videos} videos under {SUBMISSION_ROOT}/")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
