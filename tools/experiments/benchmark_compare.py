"""Whether two runs of tools/benchmark.py agree: every config's speed ratios (against 1-1 fp32, the medians over
rounds its JSON records) side by side, with their relative difference."""
from __future__ import annotations

import json
from typing import Dict, List, Mapping, NamedTuple, Optional, Tuple

from vos_eval.tables import markdown_table

# The ratios a benchmark JSON records per config (medians of the per-round ratios against 1-1 fp32).
RATIOS = ("infer_ratio", "infer_cpu_ratio", "train_ratio")


class BenchmarkRun(NamedTuple):
    """What a comparison needs of one benchmark JSON: config -> {ratio name: value}, and other processes' share of
    the machine's CPU over the whole run (None for a JSON written before it was recorded)."""

    ratios: Dict[str, Dict[str, float]]
    other_cpu_share: Optional[float]


def read_run(path: str) -> BenchmarkRun:
    """The ratios and machine load of a benchmark JSON (read once); a missing ratio is a ValueError naming the
    file."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    ratios = {}
    for name, entry in data.items():
        if not isinstance(entry, Mapping) or "config" not in entry:
            continue
        missing = [r for r in RATIOS if not isinstance(entry.get(r), (int, float))]
        if missing:
            raise ValueError(f"{path}: config {name!r} has no {missing} (a benchmark JSON with rounds is needed)")
        ratios[name] = {r: float(entry[r]) for r in RATIOS}
    if not ratios:
        raise ValueError(f"{path}: no benchmark entries")
    shares = [e.get("run_other_cpu_share") for e in data.values() if isinstance(e, Mapping)]
    return BenchmarkRun(ratios, next((s for s in shares if isinstance(s, (int, float))), None))


def agreement(a: Mapping[str, Mapping[str, float]], b: Mapping[str, Mapping[str, float]]
              ) -> List[Tuple[str, str, float, float, float]]:
    """(config, ratio, run A, run B, |B - A| / A) for every config and ratio both runs have, 1-1 fp32 left out."""
    rows = []
    for name in a:
        if name not in b or name == "1-1":
            continue
        for ratio in RATIOS:
            x, y = a[name][ratio], b[name][ratio]
            rows.append((name, ratio, x, y, abs(y - x) / x))
    return rows


def report(rows: List[Tuple[str, str, float, float, float]], tolerance: float) -> Tuple[str, bool]:
    """A markdown table of ``rows`` and whether every difference is within ``tolerance``."""
    table = markdown_table(["config", "ratio", "run A", "run B", "difference", f"within {tolerance:.0%}"],
                           [[c, r, f"{x:.3f}", f"{y:.3f}", f"{d:.1%}", "yes" if d <= tolerance else "no"]
                            for c, r, x, y, d in rows])
    return table, all(d <= tolerance for *_, d in rows)
