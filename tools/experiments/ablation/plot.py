"""The ablation's picture: J&F against each config's inference time measured alone (the timing stages), overall
in one panel and on clean and degraded frames in the other, where the configurations differ."""
from __future__ import annotations

from vos_eval.io import atomic_write
from .tables import AblationResults, mean_std, subset_jf

SUBSET_MARKERS = (("clean", "o", "clean frames"), ("degraded", "^", "degraded frames"))


def plot_jf_vs_time(results: AblationResults, path: str) -> str | None:
    """Save the two-panel PNG at ``path`` (mean ± std over seeds per config); None, writing nothing, when no config
    has a usable timing. Configs without one are left out and named in the title."""
    timed = {row: t for row, t in results.timing.items() if t is not None and row in results.unsupervised}
    if not timed:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    overall, subsets = figure.subplots(1, 2, sharex=True)
    seeds = max(len(per_seed) for per_seed in results.unsupervised.values())
    for index, (row, timing) in enumerate(timed.items()):
        runs = list(results.unsupervised[row].values())
        color = f"C{index % 10}"
        jf, jf_std = mean_std([d.davis["J&F-Mean"] for d in runs])
        overall.errorbar([timing.seconds], [jf], yerr=[jf_std or 0.0], fmt="o", capsize=4, color=color)
        overall.annotate(row, (timing.seconds, jf), textcoords="offset points", xytext=(6, 6))
        for subset, marker, _ in SUBSET_MARKERS:
            value, std = mean_std([subset_jf(d, subset) for d in runs])
            if value is not None:
                subsets.errorbar([timing.seconds], [value], yerr=[std or 0.0], fmt=marker, capsize=3, color=color)
                subsets.annotate(row, (timing.seconds, value), textcoords="offset points", xytext=(6, 4),
                                 fontsize=8)
    for _, marker, label in SUBSET_MARKERS:  # legend entries for the marker shapes only
        subsets.plot([], [], marker, color="grey", label=label)
    subsets.legend(loc="best", fontsize=8)
    missing = [row for row in results.unsupervised if row not in timed]
    overall.set_title(f"J&F overall (mean ± std over {seeds} seeds)"
                      + (f"\nnot timed: {', '.join(missing)}" if missing else ""), fontsize=10)
    subsets.set_title("J&F on clean and degraded frames", fontsize=10)
    overall.set_ylabel("J&F-Mean (unsupervised)")
    for axes in (overall, subsets):
        axes.set_xlabel("inference time, each config alone (s)")
        axes.grid(True, alpha=0.3)
        axes.margins(0.15)
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"))
    return path
