#!/usr/bin/env python
"""Compare methods' DAVIS results side by side in a static HTML report (index.html + images, opens from disk).

    python tools/compare_results.py --davis-root datasets/DAVIS-synthetic/2016 \\
        --results output/ablation/seed1/1-1 output/ablation/seed1/3-7 --names 1-1 3-7 --output report/

    python tools/compare_results.py --dataset ytvos2019_train_holdout \\
        --results output/ytvos_1-1 output/ytvos_3-7 --names 1-1 3-7 --output report-ytvos/

Each --results entry is a results folder (<sequence>/<frame>.png), an OSVOS output folder or a training run's
OUTPUT_DIR (its inference/<dataset>/davis_results or .../Annotations; --dataset picks one where it evaluated several
sets). The set is a DAVIS folder (--davis-root) or a registered DAVIS or YouTube-VOS set (--dataset alone; a
YouTube-VOS set must have every annotation, as train and its held-out part do). Every folder is scored with the
project's evaluator; the report holds the global table, J&F per kind of frame (sets with a
frame_tags.json), a per-sequence table sorted by the second method's gain over the first, J&F over time per
sequence (degraded frames shaded) and the frames where the first two methods differ most, side by side.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from slowfast_vos.reporting import write_comparison_report
from slowfast_vos.utils.console import quiet_third_party_noise
from vos_eval.davis_format import RESOLUTIONS, TASKS, YEARS
from vos_eval.reporting import AUTO, ComparisonError
from vos_eval.reporting.html_report import FRAMES_PER_SEQUENCE, JPEG_QUALITY, THUMB_WIDTH
from vos_eval.run_folder import INFERENCE


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis-root", default=None, help="DAVIS folder holding Annotations/ and ImageSets/")
    parser.add_argument("--results", required=True, nargs="+", help="results, OSVOS or run folders (2 or more)")
    parser.add_argument("--names", nargs="+", help="one name per --results entry (default: the folder names)")
    parser.add_argument("--output", required=True, help="report folder (replaced only by a complete new report)")
    parser.add_argument("--task", choices=TASKS, default=None,
                        help="protocol (default: davis2016 on a DAVIS 2016 layout; required on a 2017 one)")
    parser.add_argument("--set", dest="split", default="val", help="image set (default: val)")
    parser.add_argument("--year", choices=YEARS, default=None, help="DAVIS layout (default: detected)")
    parser.add_argument("--resolution", choices=RESOLUTIONS, default="480p")
    parser.add_argument("--dataset", default=None,
                        help="a registered set (e.g. synthetic_davis2016_val, ytvos2019_train_holdout): the set to "
                             f"score on when --davis-root is not given, and the {INFERENCE}/<dataset> of run folders")
    parser.add_argument("--frame-tags", default=AUTO,
                        help="frame_tags.json ('auto': the set's own where it has one; 'none': no frame kinds)")
    parser.add_argument("--sequences", nargs="+", default=None, help="only these sequences (default: the set's)")
    parser.add_argument("--frames", type=int, default=FRAMES_PER_SEQUENCE,
                        help=f"frames shown per sequence (default {FRAMES_PER_SEQUENCE})")
    parser.add_argument("--thumb-width", type=int, default=THUMB_WIDTH,
                        help=f"width of each image in a frame strip (default {THUMB_WIDTH})")
    parser.add_argument("--jpeg-quality", type=int, default=JPEG_QUALITY, help=f"default {JPEG_QUALITY}")
    parser.add_argument("--title", default=None, help="report title (default: 'Comparison: A vs B')")
    parser.add_argument("--workers", type=int, default=0, help="processes scoring sequences (default: this one)")
    args = parser.parse_args(argv)
    if args.davis_root is None and args.dataset is None:
        parser.error("name the set: --davis-root or a registered --dataset")
    if len(args.results) < 2:
        parser.error("--results needs at least two folders to compare")
    if args.names is not None and len(args.names) != len(args.results):
        parser.error(f"--names has {len(args.names)} names for {len(args.results)} --results folders")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Write the report; 0 on success, 1 with one line naming the folder or file on bad input."""
    args = _parse_args(argv)
    names = args.names or [_folder_name(path) for path in args.results]
    frame_tags = None if args.frame_tags == "none" else args.frame_tags
    try:
        index = write_comparison_report(
            args.davis_root, args.results, names, args.output, task=args.task, split=args.split, year=args.year,
            resolution=args.resolution, dataset=args.dataset, frame_tags=frame_tags, sequences=args.sequences,
            frames_per_sequence=args.frames, thumb_width=args.thumb_width, jpeg_quality=args.jpeg_quality,
            title=args.title, workers=args.workers, progress=True,
        )
    except (ComparisonError, FileNotFoundError) as e:
        print(f"compare_results: error: {e}", file=sys.stderr)
        return 1
    print(f"Report written to {index}")
    return 0


def _folder_name(path: str) -> str:
    """A method's default name: the last component of its folder."""
    return os.path.basename(os.path.normpath(path))


if __name__ == "__main__":
    quiet_third_party_noise()
    sys.exit(main())
