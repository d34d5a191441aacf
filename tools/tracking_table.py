#!/usr/bin/env python
"""J&F and the tracking measures of every results.json under a folder, one line each, as a Markdown table.

    python tools/tracking_table.py docs/results/tracking-5150/same-detections --output tracking.md

For comparing runs that differ in how they follow objects (TEST.VOS.TRACKER, the OSVOS output rule): each line is
a results file (its folder relative to the given one), with J&F, J-Decay and results.json's "tracking" part (frames
lost, losses recovered, objects lost until the end of their video, reappearances re-acquired, id switches;
vos_eval/tracking_metrics.py). Files without a tracking part are listed with n/a there.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from vos_eval.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from slowfast_vos.utils import atomic_write, markdown_table

COLUMNS = ["results", "dataset", "J&F-Mean", "J-Decay", "objects", "frames lost", "losses recovered",
           "lost until end", "reappearances re-acquired", "id switches"]


def rows(folder: str) -> list:
    """One table row per results.json under ``folder`` (sorted by path)."""
    out = []
    for path in sorted(Path(folder).rglob(RESULTS_FILE)):
        data = EvaluationResults.read(str(path))
        t = data.tracking
        tracking = (["n/a"] * 6 if t is None else
                    [str(int(t["objects"])), str(int(t["frames_lost"])),
                     f"{int(t['losses_recovered'])}/{int(t['losses'])}", str(int(t["objects_lost_until_end"])),
                     f"{int(t['reappearances_reacquired'])}/{int(t['reappearances'])}", str(int(t["id_switches"]))])
        out.append([str(path.parent.relative_to(folder)), data.dataset, f"{data.metrics['J&F-Mean']:.3f}",
                    f"{data.metrics['J-Decay']:.3f}", *tracking])
    if not out:
        raise ResultsFileError(f"no {RESULTS_FILE} under {folder}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a folder holding results.json files (at any depth)")
    parser.add_argument("--output", help="write the table to this Markdown file (atomically)")
    args = parser.parse_args(argv)
    try:
        text = markdown_table(COLUMNS, rows(args.folder)) + "\n"
    except ResultsFileError as error:
        sys.exit(f"tracking_table: error: {error}")
    print(text, end="")
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        atomic_write(args.output, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
