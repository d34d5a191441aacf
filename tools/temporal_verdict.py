#!/usr/bin/env python
"""Is a temporal design worth recommending? The study's decision rule over seeded ablation runs, one per set.

    python tools/temporal_verdict.py output/study-5150 output/study-60606 --output docs/results/study/verdict

Reads, for every run (tools/run_ablation.py --preset layout), Table 1's ``seed<s>/<row>/results.json``
(unsupervised) and Table 2's ``seed<s>/<row>/osvos_davis2016/results.json`` (OSVOS, the paper's protocol), and
reports per set and protocol J&F overall, on clean and on degraded frames against the no-module control (mean ±
sample std over seeds). The rule (tools/experiments/ablation/verdict.py): a design is recommended when, on every set
(at least two) and under both protocols, its clean-frame J&F is at most --clean-tolerance (0.01) below the
control's and its degraded-frame J&F is ahead by at least --degraded-gain (0.04) and by more than one seed std.
Also prints the overall gain to expect as a function of the share of degraded frames. Runs with fewer than two
seeds, or rows that lack some of the control's seeds, are refused. With --output it writes verdict.md and
verdict.json there (atomically).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from experiments.ablation.verdict import PROTOCOLS, collect, decide, to_markdown
from vos_eval.results_file import ResultsFileError
from slowfast_vos.utils import atomic_write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="output folders of tools/run_ablation.py --preset, one per set")
    parser.add_argument("--labels", nargs="+", help="a name per run (default: the folders' names)")
    parser.add_argument("--protocols", nargs="+", choices=sorted(PROTOCOLS), default=sorted(PROTOCOLS),
                        help="which tables to judge (default both; the rule needs both for a decision)")
    parser.add_argument("--output", help="folder for verdict.md and verdict.json")
    parser.add_argument("--clean-tolerance", type=float, default=0.01)
    parser.add_argument("--degraded-gain", type=float, default=0.04)
    args = parser.parse_args(argv)
    labels = args.labels or [os.path.basename(os.path.normpath(run)) for run in args.runs]
    if len(labels) != len(args.runs) or len(set(labels)) != len(labels):
        parser.error(f"--labels must name each run once: {labels} for {args.runs}")
    runs = dict(zip(labels, args.runs))
    try:
        cells = {(label, protocol): collect(run, PROTOCOLS[protocol])
                 for label, run in runs.items() for protocol in args.protocols}
        result = decide(cells, args.clean_tolerance, args.degraded_gain)
    except ResultsFileError as error:
        sys.exit(f"temporal_verdict: error: {error}")
    text = to_markdown(cells, runs, result, args.clean_tolerance, args.degraded_gain)
    print(text)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        atomic_write(os.path.join(args.output, "verdict.md"),
                     lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        payload = {"runs": runs, "criteria": {"clean_tolerance": args.clean_tolerance,
                                              "degraded_gain": args.degraded_gain},
                   "scores": {f"{label}/{protocol}": table for (label, protocol), table in cells.items()},
                   "margins": {f"{label}/{protocol}": m for (label, protocol), m in result["margins"].items()},
                   "checks": {f"{label}/{protocol}": c for (label, protocol), c in result["checks"].items()},
                   "passing": result["passing"], "recommended": result["recommended"],
                   "complete": result["complete"], "reason": result["reason"]}
        atomic_write(os.path.join(args.output, "verdict.json"),
                     lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2), encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
