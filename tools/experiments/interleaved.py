"""Timing several variants (configs, precisions) so that their ratios hold from run to run: the variants are measured
round robin, several rounds, the first rounds discarded as warm-up, and each ratio is taken within a round (where
the machine's speed is nearly the same for all variants) before its median and spread over rounds. Timed one after
another instead, a machine whose speed drifts over minutes moves the ratios (tools/benchmark.py once gave 2.18 and
1.49 for the same ratio in two back-to-back runs)."""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["RoundStatistics", "interleaved_schedule", "ratio_statistics"]


def interleaved_schedule(variants: Sequence[str], rounds: int, warmup_rounds: int = 0) -> list[tuple[int, str]]:
    """The measurement order, as (round, variant) pairs: ``warmup_rounds + rounds`` rounds, each measuring every
    variant once; each round starts one variant later than the previous one, so no variant always runs first (right
    after a model build or the previous round's largest variant). Rounds below ``warmup_rounds`` are the warm-up."""
    if rounds < 1 or warmup_rounds < 0:
        raise ValueError(f"rounds must be >= 1 and warm-up rounds >= 0, got {rounds} and {warmup_rounds}")
    if not variants:
        raise ValueError("no variants to time")
    count = len(variants)
    return [(r, variants[(r + i) % count]) for r in range(warmup_rounds + rounds) for i in range(count)]


class RoundStatistics(dict):
    """Median, min, max and relative spread ((max - min) / median) of one figure over the kept rounds, with the
    per-round values: ``{"median": ..., "min": ..., "max": ..., "spread": ..., "rounds": [...]}`` (a dict, so it
    is written to JSON as it is)."""

    @classmethod
    def of(cls, values: Sequence[float]) -> RoundStatistics:
        if not values:
            raise ValueError("no rounds to summarise")
        median = statistics.median(values)
        lo, hi = min(values), max(values)
        return cls(median=median, min=lo, max=hi, spread=(hi - lo) / median if median else 0.0,
                   rounds=list(values))


def ratio_statistics(per_round: Mapping[int, Mapping[str, Mapping[str, Any]]], reference: str,
                     figure: str) -> dict[str, RoundStatistics]:
    """For every variant, the statistics of ``figure``'s ratio to ``reference``'s within each round.

    ``per_round``: round -> variant -> measurement (only the kept rounds); a round where the reference or a variant
    lacks the figure is left out for that variant."""
    ratios: dict[str, list[float]] = {}
    for measured in per_round.values():
        base = measured[reference].get(figure)
        if not base:
            continue
        for variant, values in measured.items():
            if figure in values:
                ratios.setdefault(variant, []).append(values[figure] / base)
    return {variant: RoundStatistics.of(values) for variant, values in ratios.items()}
