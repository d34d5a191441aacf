"""Does a temporal configuration pay? Issue 19's criteria over a seeded ablation run (tools/temporal_verdict.py).

Each temporal row (any row but ``control`` and ``1-1``) of ``<run>/seed<s>/<row>/results.json`` is checked against
both baselines: overall J&F ahead of each by at least one seed std (the larger of the two rows' sample stds), clean-
frame J&F within ``clean_tolerance`` of the better baseline's, degraded-frame J&F ahead of each by ``degraded_gain``.
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Dict

from ..evaluation.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from ..utils import markdown_table
from .tables import mean_std, subset_jf

__all__ = ["BASELINES", "collect", "to_markdown", "verdicts"]

BASELINES = ("control", "1-1")
MEASURES = ("overall", "clean", "degraded")


def _scores(data: EvaluationResults, path: str) -> Dict[str, float]:
    """Overall, clean and degraded J&F of one run (an error names the file if the set has no frame tags)."""
    scores = {"overall": data.davis["J&F-Mean"], "clean": subset_jf(data, "clean"),
              "degraded": subset_jf(data, "degraded")}
    missing = [k for k, v in scores.items() if v is None]
    if missing:
        raise ResultsFileError(f"{path}: no {missing} J&F ({data.dataset}): the set needs frame_tags.json")
    return scores


def collect(run_dir: str, subfolder: str = "") -> Dict[str, Dict[str, dict]]:
    """row -> {"seeds": [...], measure: {"mean", "std"}} over the seed folders that hold the row's results:
    ``seed<s>/<row>/results.json``, or with ``subfolder`` (an OSVOS protocol's folder, e.g. osvos_davis2016)
    ``seed<s>/<row>/<subfolder>/results.json``."""
    per_row: Dict[str, Dict[int, Dict[str, float]]] = {}
    # os.path.join drops an empty subfolder: seed*/*/results.json without one.
    for path in sorted(glob.glob(os.path.join(run_dir, "seed*", "*", subfolder, RESULTS_FILE))):
        row_dir = Path(path).parents[1 if subfolder else 0]
        seed_dir, row = row_dir.parent.name, row_dir.name
        match = re.fullmatch(r"seed(\d+)", seed_dir)
        if match:
            per_row.setdefault(row, {})[int(match[1])] = _scores(EvaluationResults.read(path), path)
    if not per_row:
        raise ResultsFileError(f"no {os.path.join('seed<s>', '<row>', subfolder, RESULTS_FILE)} under {run_dir}")
    table = {}
    for row, seeds in per_row.items():
        table[row] = {"seeds": sorted(seeds)}
        for measure in MEASURES:
            mean, std = mean_std([seeds[s][measure] for s in sorted(seeds)])
            table[row][measure] = {"mean": mean, "std": std}
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
