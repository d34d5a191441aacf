"""Is a temporal design worth recommending? The study's decision rule over seeded ablation runs
(tools/temporal_verdict.py).

Each run is one synthetic set (``<run>/seed<s>/<row>/results.json``, tools/run_ablation.py --preset), scored under
two protocols: unsupervised (Table 1, the row's own results.json) and OSVOS (Table 2, ``<row>/osvos_davis2016/``).
Every row is measured against the no-module ``control`` on overall, clean-frame and degraded-frame J&F (mean and
sample std over training seeds). The rule, fixed before the runs it judges:

    a design is recommended when, on every set (at least two) and under both protocols, its clean-frame J&F is at
    most ``clean_tolerance`` (0.01) below the control's, and its degraded-frame J&F is ahead of the control's by at
    least ``degraded_gain`` (0.04) and by more than one seed std (the larger of the two rows' stds).

Runs whose rows do not share the control's training seeds, or that have fewer than two seeds, are refused (as
tools/compare_runs.py refuses them): a verdict from one seed is not one.
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from vos_eval.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from vos_eval.tables import markdown_table
from .plan import BINARY_OSVOS_FOLDER
from .tables import mean_std, subset_jf

__all__ = ["CONTROL_ROW", "MEASURES", "PROTOCOLS", "collect", "against_control", "decide", "expected_gain",
           "to_markdown"]

CONTROL_ROW = "control"
MEASURES = ("overall", "clean", "degraded")
# protocol -> the sub-folder of a row holding its results ("" : the row's own results.json).
PROTOCOLS = {"unsupervised": "", "osvos": BINARY_OSVOS_FOLDER}
# Shares of degraded frames for the expected-gain table.
DEGRADED_SHARES = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)


def _scores(data: EvaluationResults, path: str) -> Dict[str, float]:
    """Overall, clean and degraded J&F of one run (an error names the file if the set has no frame tags)."""
    scores = {"overall": data.davis["J&F-Mean"], "clean": subset_jf(data, "clean"),
              "degraded": subset_jf(data, "degraded")}
    missing = [k for k, v in scores.items() if v is None]
    if missing:
        raise ResultsFileError(f"{path}: no {missing} J&F ({data.dataset}): the set needs frame_tags.json")
    return scores


def _degraded_share(data: EvaluationResults) -> Optional[float]:
    """The share of scored frames tagged degraded, from the subsets' frame counts (None where not recorded)."""
    counts = [data.subsets.get(s, {}).get("frames") for s in ("clean", "degraded")]
    if any(c is None for c in counts) or sum(counts) == 0:
        return None
    return counts[1] / sum(counts)


def collect(run_dir: str, subfolder: str = "") -> Dict[str, dict]:
    """row -> {"seeds": [...], "dataset": name, "degraded_share": share, measure: {"mean", "std"}} over the seed
    folders that hold the row's results: ``seed<s>/<row>/results.json``, or with ``subfolder`` (an OSVOS protocol's
    folder, e.g. osvos_davis2016) ``seed<s>/<row>/<subfolder>/results.json``."""
    per_row: Dict[str, Dict[int, Tuple[Dict[str, float], EvaluationResults]]] = {}
    # os.path.join drops an empty subfolder: seed*/*/results.json without one.
    for path in sorted(glob.glob(os.path.join(run_dir, "seed*", "*", subfolder, RESULTS_FILE))):
        row_dir = Path(path).parents[1 if subfolder else 0]
        seed_dir, row = row_dir.parent.name, row_dir.name
        match = re.fullmatch(r"seed(\d+)", seed_dir)
        if match:
            data = EvaluationResults.read(path)
            per_row.setdefault(row, {})[int(match[1])] = (_scores(data, path), data)
    if not per_row:
        raise ResultsFileError(f"no {os.path.join('seed<s>', '<row>', subfolder, RESULTS_FILE)} under {run_dir}")
    table = {}
    for row, seeds in per_row.items():
        # The set is its name and, where recorded (OSVOS), its number of sequences.
        datasets = sorted({(data.dataset, data.sequences) for _, data in seeds.values()}, key=str)
        if len(datasets) > 1:
            raise ResultsFileError(f"{run_dir}, row {row!r}: seeds scored on different sets {datasets}; their J&F "
                                   "cannot be summarised together")
        shares = {_degraded_share(data) for _, data in seeds.values()}
        table[row] = {"seeds": sorted(seeds), "dataset": datasets[0][0], "sequences": datasets[0][1],
                      "degraded_share": shares.pop() if len(shares) == 1 else None}
        for measure in MEASURES:
            mean, std = mean_std([seeds[s][0][measure] for s in sorted(seeds)])
            table[row][measure] = {"mean": mean, "std": std}
    return table


def against_control(table: Mapping[str, dict], where: str) -> Dict[str, dict]:
    """row -> measure -> {"margin": row mean - control mean, "std": the larger seed std} for every row but the
    control. Refuses (ResultsFileError naming ``where``) a table without the control, a row whose training seeds
    differ from the control's, fewer than two seeds, or rows scored on different sets."""
    if CONTROL_ROW not in table:
        raise ResultsFileError(f"{where}: no {CONTROL_ROW!r} row (the no-module baseline); found {sorted(table)}")
    control = table[CONTROL_ROW]
    if len(control["seeds"]) < 2:
        raise ResultsFileError(f"{where}: {len(control['seeds'])} training seed(s) of {CONTROL_ROW!r}; a seed std "
                               "needs at least two")
    out = {}
    for row, scores in table.items():
        if row == CONTROL_ROW:
            continue
        if scores["seeds"] != control["seeds"]:
            raise ResultsFileError(f"{where}: row {row!r} has seeds {scores['seeds']}, {CONTROL_ROW!r} has "
                                   f"{control['seeds']}: an incomplete run (finish it, or compare the same seeds)")
        if (scores["dataset"], scores["sequences"]) != (control["dataset"], control["sequences"]):
            raise ResultsFileError(f"{where}: row {row!r} was scored on {scores['dataset']} ({scores['sequences']} "
                                   f"sequences), {CONTROL_ROW!r} on {control['dataset']} ({control['sequences']})")
        out[row] = {m: {"margin": scores[m]["mean"] - control[m]["mean"],
                        "std": max(scores[m]["std"], control[m]["std"])} for m in MEASURES}
    return out


def _checks(margins: Mapping[str, dict], clean_tolerance: float, degraded_gain: float) -> Dict[str, bool]:
    degraded = margins["degraded"]
    return {
        f"clean at most {clean_tolerance} below the control": margins["clean"]["margin"] >= -clean_tolerance,
        f"degraded ahead by >= {degraded_gain} and by more than one std":
            degraded["margin"] >= degraded_gain and degraded["margin"] > degraded["std"],
    }


def decide(cells: Mapping[Tuple[str, str], Mapping[str, dict]], clean_tolerance: float = 0.01,
           degraded_gain: float = 0.04, min_sets: int = 2) -> dict:
    """Apply the rule to ``cells``: (set label, protocol) -> its table (:func:`collect`). Returns {"margins":
    {cell: against_control}, "checks": {cell: {row: {check: bool}}}, "passing": rows that pass in every cell,
    "recommended": the passing row with the largest mean overall margin or None, "complete": whether the cells
    cover at least ``min_sets`` sets under every protocol, "reason": a sentence saying why (not) recommended}."""
    margins = {cell: against_control(table, f"{cell[0]} ({cell[1]})") for cell, table in cells.items()}
    checks = {cell: {row: _checks(m, clean_tolerance, degraded_gain) for row, m in per_row.items()}
              for cell, per_row in margins.items()}
    sets = sorted({s for s, _ in cells})
    missing = [f"{s} ({p})" for s in sets for p in PROTOCOLS if (s, p) not in cells]
    complete = len(sets) >= min_sets and not missing
    rows = sorted(set.intersection(*(set(m) for m in margins.values()))) if margins else []
    passing = [row for row in rows if all(all(checks[cell][row].values()) for cell in cells)]
    recommended = None
    if not complete and rows and not passing:
        # A row must pass in every cell, so one failed cell rules it out whatever the sets still to come show.
        reason = (f"none can be recommended: every row already fails the rule on the sets in hand ({len(sets)} "
                  f"of the {min_sets} the rule needs, cells {sorted(f'{s} ({p})' for s, p in cells)}): keep the "
                  "reference")
    elif not complete:
        reason = (f"no decision: the rule needs at least {min_sets} sets under {sorted(PROTOCOLS)}; have "
                  f"{len(sets)} set(s)" + (f", missing {missing}" if missing else ""))
    elif passing:
        recommended = max(passing, key=lambda r: sum(margins[c][r]["overall"]["margin"] for c in cells))
        reason = f"{recommended} passes the rule on every set and protocol"
    else:
        reason = "no design passes the rule on every set and protocol: keep the reference"
    return {"margins": margins, "checks": checks, "passing": passing, "recommended": recommended,
            "complete": complete, "reason": reason}


def expected_gain(margins: Mapping[str, dict], share: float) -> float:
    """Overall J&F gain over the control expected when ``share`` of the frames are degraded: the frame-weighted
    mix of the clean and degraded margins (J&F is a mean over objects, so this is the frame-average reading)."""
    return (1.0 - share) * margins["clean"]["margin"] + share * margins["degraded"]["margin"]


def _cell(stat: dict) -> str:
    return f"{stat['mean']:.3f}" + (f" ± {stat['std']:.3f}" if stat["std"] is not None else "")


def to_markdown(cells: Mapping[Tuple[str, str], Mapping[str, dict]], runs: Mapping[str, str], result: dict,
                clean_tolerance: float, degraded_gain: float) -> str:
    """Per set and protocol: the scores and the margins over the control with the rule's checks; then the decision
    and the expected overall gain as a function of the share of degraded frames."""
    text = ["# Temporal verdict", "",
            f"Rule (fixed before the runs): recommended when, on every set (at least two) and under both "
            f"protocols, clean-frame J&F is at most {clean_tolerance} below the control's and degraded-frame J&F is "
            f"ahead by >= {degraded_gain} and by more than one seed std. J&F: mean ± sample std over training "
            "seeds.", ""]
    for (label, protocol), table in cells.items():
        where = runs[label] + (f"/seed<s>/<row>/{PROTOCOLS[protocol]}" if PROTOCOLS[protocol] else "")
        margins = result["margins"][label, protocol]
        checks = result["checks"][label, protocol]
        names = list(next(iter(checks.values()))) if checks else []
        rows: List[list] = []
        for row, s in table.items():
            m = margins.get(row)
            diffs = ["", "", ""] if m is None else [f"{m[k]['margin']:+.3f} (std {m[k]['std']:.3f})"
                                                     for k in MEASURES]
            ok = ["", ""] if m is None else ["yes" if checks[row][n] else "no" for n in names]
            rows.append([row, _cell(s["overall"]), _cell(s["clean"]), _cell(s["degraded"]), *diffs, *ok,
                         ",".join(map(str, s["seeds"]))])
        share = table[CONTROL_ROW]["degraded_share"]
        text += [f"## {label}, {protocol} (`{where}`, {table[CONTROL_ROW]['dataset']}"
                 + (f", {share:.0%} of scored frames degraded)" if share is not None else ")"), "",
                 markdown_table(["row", "overall", "clean", "degraded", "overall - control", "clean - control",
                                 "degraded - control", *names, "seeds"], rows), ""]
    text += ["## Decision", "", result["reason"] + ".", ""]
    rows = []
    for (label, protocol), per_row in result["margins"].items():
        for row, m in per_row.items():
            rows.append([label, protocol, row, *(f"{expected_gain(m, p):+.3f}" for p in DEGRADED_SHARES)])
    text += ["## Expected overall gain over the control by share of degraded frames", "",
             "(1 - share) x clean margin + share x degraded margin, from the measured margins above.", "",
             markdown_table(["set", "protocol", "row", *(f"{p:.0%}" for p in DEGRADED_SHARES)], rows), ""]
    return "\n".join(text)
