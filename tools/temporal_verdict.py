#!/usr/bin/env python
"""Does a temporal configuration pay? Issue 19's criteria applied to a seeded ablation run.

    python tools/temporal_verdict.py output/net-win-4242 --output docs/results/net-win/set-4242

Reads ``<run>/seed<s>/<row>/results.json`` of every row and seed (the layout of ``tools/run_ablation.py
--preset``), and reports per row J&F overall, on clean and on degraded frames (mean ± sample std over seeds). Each
temporal row (any row but ``control`` and ``1-1``) is then checked against both baselines:
overall J&F ahead of each by at least one seed std (the larger of the two rows' stds), clean-frame J&F within
--clean-tolerance (0.01) of the better baseline's, and degraded-frame J&F ahead of each by at least --degraded-gain
(0.05). With --output it writes verdict.md and verdict.json there (atomically).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from slowfast_vos.ablation.verdict import collect, to_markdown, verdicts
from slowfast_vos.evaluation.results_file import ResultsFileError
from slowfast_vos.utils import atomic_write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="output folder of tools/run_ablation.py --preset (holds seed<s>/<row>/)")
    parser.add_argument("--output", help="folder for verdict.md and verdict.json")
    parser.add_argument("--clean-tolerance", type=float, default=0.01)
    parser.add_argument("--degraded-gain", type=float, default=0.05)
    args = parser.parse_args(argv)
    try:
        table = collect(args.run_dir)
        result = verdicts(table, args.clean_tolerance, args.degraded_gain)
    except ResultsFileError as error:
        sys.exit(f"temporal_verdict: error: {error}")
    text = to_markdown(args.run_dir, table, result)
    print(text)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        atomic_write(os.path.join(args.output, "verdict.md"),
                     lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        payload = {"run": args.run_dir, "scores": table, "verdicts": result,
                   "criteria": {"clean_tolerance": args.clean_tolerance, "degraded_gain": args.degraded_gain}}
        atomic_write(os.path.join(args.output, "verdict.json"),
                     lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2), encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
