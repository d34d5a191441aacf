"""Do two seeded runs of the same recipe agree? E.g. the quickstart recipe in fp32 and in bf16 (tools/compare_runs.py).

Both runs use the ablation's layout (``<run>/seed<s>/<row>/results.json``, tools/run_ablation.py --preset). For every
row they share, J&F overall, on clean and on degraded frames is summarised over each run's training seeds (mean and
sample std); the runs agree on a measure when their means differ by less than one seed std (the larger of the two
runs' stds), and agree on a row when they agree on all three measures.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Dict, Sequence, Set, Tuple

from vos_eval.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from vos_eval.tables import markdown_table
from .verdict import MEASURES, collect

__all__ = ["check_same_sets", "compare_runs", "comparison_markdown", "scored_sets"]


def scored_sets(run_dir: str, protocol: str = "") -> Dict[str, Set[Tuple[str, object]]]:
    """row -> the (dataset, sequences scored) pairs its seeds' results.json files record (``seed<s>/<row>/
    [protocol/]results.json``, the files verdict.collect reads); sequences is None where a file does not record it."""
    sets: Dict[str, Set[Tuple[str, object]]] = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "seed*", "*", protocol, RESULTS_FILE))):
        row = Path(path).parents[1 if protocol else 0].name
        record = EvaluationResults.read(path)
        sets.setdefault(row, set()).add((record.dataset, record.sequences))
    return sets


def check_same_sets(runs: Dict[str, str], rows: Sequence[str], protocol: str = "") -> None:
    """ResultsFileError naming the runs and row when the runs' (or one run's seeds') results of a row were scored on
    different sets (another dataset, or another number of sequences): their J&F are not comparable."""
    sets = {label: scored_sets(folder, protocol) for label, folder in runs.items()}
    for row in rows:
        for label, folder in runs.items():
            if len(sets[label].get(row, ())) > 1:
                raise ResultsFileError(f"{folder} ({label}), row {row!r}: its seeds were scored on different sets "
                                       f"{sorted(sets[label][row], key=str)}; their J&F cannot be summarised together")
        first, second = (sets[label].get(row, set()) for label in runs)
        if first != second:
            (a, a_dir), (b, b_dir) = runs.items()
            raise ResultsFileError(f"row {row!r} was scored on different sets: {a_dir} ({a}) on "
                                   f"{sorted(first, key=str)}, {b_dir} ({b}) on {sorted(second, key=str)}; comparing "
                                   "their J&F would be wrong")


def compare_runs(runs: Dict[str, str], rows: Sequence[str] = (), protocol: str = "") -> Dict[str, dict]:
    """``runs``: two labels -> run folders (the first is the reference). Returns row -> {"seeds": {label: [...]},
    measure: {label: {"mean", "std"}, "difference": second - first, "spread": larger std, "agree": bool},
    "agree": bool} for ``rows`` (default: every row both runs have, in the first run's order); an error names a run
    that lacks a row asked for, a row with fewer than two seeds in either run (no std to compare with), or a row the
    runs scored on different sets (check_same_sets).
    ``protocol``: compare the runs' OSVOS results in that sub-folder of each row (e.g. osvos_davis2016) instead of
    the unsupervised ones."""
    if len(runs) != 2:
        raise ValueError(f"compare_runs needs two runs, got {len(runs)}: {sorted(runs)}")
    (first, first_dir), (second, second_dir) = runs.items()
    tables = {first: collect(first_dir, protocol), second: collect(second_dir, protocol)}
    wanted = list(rows) or [row for row in tables[first] if row in tables[second]]
    if not wanted:
        raise ResultsFileError(f"{first_dir} and {second_dir} have no row in common")
    out: Dict[str, dict] = {}
    for row in wanted:
        for label, folder in runs.items():
            if row not in tables[label]:
                raise ResultsFileError(f"{folder} ({label}) has no results for row {row!r}; it has "
                                       f"{sorted(tables[label])}")
            if len(tables[label][row]["seeds"]) < 2:
                raise ResultsFileError(f"{folder} ({label}), row {row!r}: {len(tables[label][row]['seeds'])} "
                                       "training seed(s); a seed std needs at least two")
    check_same_sets(runs, wanted, protocol)
    for row in wanted:
        entry: Dict[str, object] = {"seeds": {label: tables[label][row]["seeds"] for label in runs}}
        for measure in MEASURES:
            stats = {label: tables[label][row][measure] for label in runs}
            difference = stats[second]["mean"] - stats[first]["mean"]
            spread = max(stats[first]["std"], stats[second]["std"])
            entry[measure] = {**stats, "difference": difference, "spread": spread,
                              "agree": abs(difference) < spread}
        entry["agree"] = all(entry[m]["agree"] for m in MEASURES)
        out[row] = entry
    return out


def comparison_markdown(runs: Dict[str, str], result: Dict[str, dict], protocol: str = "") -> str:
    """The comparison as a Markdown table, one line per row and measure, and a one-line summary."""
    first, second = runs
    lines = []
    for row, entry in result.items():
        for measure in MEASURES:
            m = entry[measure]
            lines.append([row, measure, *(f"{m[label]['mean']:.3f} ± {m[label]['std']:.3f}" for label in runs),
                          f"{m['difference']:+.3f}", f"{m['spread']:.3f}", "yes" if m["agree"] else "**no**"])
    header = ["row", "J&F", f"{first} (mean ± std)", f"{second} (mean ± std)", f"{second} - {first}",
              "seed std (larger)", "|difference| < std"]
    agreeing = [row for row, entry in result.items() if entry["agree"]]
    summary = (f"{second} agrees with {first} within one seed std on every measure of every row."
               if len(agreeing) == len(result) else
               f"{second} differs from {first} by one seed std or more on: "
               + ", ".join(f"{row} {m}" for row, e in result.items() for m in MEASURES if not e[m]["agree"]) + ".")
    seeds = "; ".join(f"{label}: {runs[label]}" for label in runs)
    what = f"OSVOS J&F ({protocol}/)" if protocol else "J&F"
    return "\n".join([f"{what} over training seeds ({seeds})\n", markdown_table(header, lines), "", summary, ""])
