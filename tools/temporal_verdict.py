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
import glob
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from slowfast_vos.evaluation.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from slowfast_vos.utils import atomic_write, markdown_table

BASELINES = ("control", "1-1")
MEASURES = ("overall", "clean", "degraded")


def _mean_std(values: Sequence[float]) -> Dict[str, Optional[float]]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return {"mean": mean, "std": std}


def _scores(data: EvaluationResults) -> Dict[str, float]:
    """Overall, clean and degraded J&F of one run (an error names the run if the set has no frame tags)."""
    subsets = data.subsets
    missing = [k for k in ("clean", "degraded") if "J&F-Mean" not in subsets.get(k, {})]
    if missing:
        raise ResultsFileError(f"no {missing} J&F in the results of {data.dataset}: the set needs frame_tags.json")
    return {"overall": data.davis["J&F-Mean"], "clean": subsets["clean"]["J&F-Mean"],
            "degraded": subsets["degraded"]["J&F-Mean"]}


def collect(run_dir: str) -> Dict[str, Dict[str, dict]]:
    """row -> {"seeds": [...], measure: {"mean", "std"}} over the seed folders that hold the row's results."""
    per_row: Dict[str, Dict[int, Dict[str, float]]] = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "seed*", "*", RESULTS_FILE))):
        seed_dir, row = Path(path).parent.parent.name, Path(path).parent.name
        match = re.fullmatch(r"seed(\d+)", seed_dir)
        if match:
            per_row.setdefault(row, {})[int(match[1])] = _scores(EvaluationResults.read(path))
    if not per_row:
        raise ResultsFileError(f"no seed<s>/<row>/{RESULTS_FILE} under {run_dir}")
    table = {}
    for row, seeds in per_row.items():
        table[row] = {"seeds": sorted(seeds)}
        for measure in MEASURES:
            table[row][measure] = _mean_std([seeds[s][measure] for s in sorted(seeds)])
    return table


def verdicts(table: Dict[str, dict], clean_tolerance: float, degraded_gain: float) -> Dict[str, dict]:
    """For each temporal row: the margins over both baselines and whether each criterion holds."""
    missing = [b for b in BASELINES if b not in table]
    if missing:
        raise ResultsFileError(f"the run lacks the baseline row(s) {missing}; found {sorted(table)}")
    best_clean = max(table[b]["clean"]["mean"] for b in BASELINES)
    out = {}
    for row, scores in table.items():
        if row in BASELINES:
            continue
        overall_margins = {}
        for base in BASELINES:
            spread = max(s or 0.0 for s in (scores["overall"]["std"], table[base]["overall"]["std"]))
            overall_margins[base] = {"margin": scores["overall"]["mean"] - table[base]["overall"]["mean"],
                                     "std": spread}
        degraded = {b: scores["degraded"]["mean"] - table[b]["degraded"]["mean"] for b in BASELINES}
        clean_gap = scores["clean"]["mean"] - best_clean
        checks = {
            "overall ahead of both by one std": all(m["margin"] >= m["std"] > 0 for m in overall_margins.values()),
            f"clean within {clean_tolerance} of the better baseline": clean_gap >= -clean_tolerance,
            f"degraded ahead of both by {degraded_gain}": all(g >= degraded_gain for g in degraded.values()),
        }
        out[row] = {"overall": overall_margins, "degraded_gain": degraded, "clean_gap": clean_gap,
                    "checks": checks, "wins": all(checks.values())}
    return out


def to_markdown(run_dir: str, table: Dict[str, dict], result: Dict[str, dict]) -> str:
    """The scores table and the verdict table."""
    def cell(stat: dict) -> str:
        return f"{stat['mean']:.3f}" + (f" ± {stat['std']:.3f}" if stat["std"] is not None else "")

    rows = [[row, cell(s["overall"]), cell(s["clean"]), cell(s["degraded"]), ",".join(map(str, s["seeds"]))]
            for row, s in table.items()]
    text = [f"J&F on `{run_dir}` (mean ± sample std over training seeds)\n",
            markdown_table(["row", "overall", "clean frames", "degraded frames", "seeds"], rows), ""]
    if result:
        names = list(next(iter(result.values()))["checks"])
        vrows = []
        for row, v in result.items():
            margins = ", ".join(f"{b} {m['margin']:+.3f} (std {m['std']:.3f})" for b, m in v["overall"].items())
            gains = ", ".join(f"{b} {g:+.3f}" for b, g in v["degraded_gain"].items())
            vrows.append([row, margins, f"{v['clean_gap']:+.3f}", gains,
                          *("yes" if v["checks"][n] else "no" for n in names), "**yes**" if v["wins"] else "no"])
        text += ["Issue 19's criteria for each temporal row against the control and 1-1\n",
                 markdown_table(["row", "overall margin", "clean vs better baseline", "degraded gain", *names,
                                 "net win"], vrows), ""]
    return "\n".join(text)


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
