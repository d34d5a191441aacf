"""An ablation's results: read from its folders (plan.py's layout), summarised over seeds into Tables 1 and 2,
a table of every run and the timing table, each written as Markdown and CSV.

Results files are read through :class:`EvaluationResults` (its schema is defined once, in evaluation/). The time
column comes only from timing stages whose record says they ran alone (schedule.py); the evaluation time a
fine-tune recorded is never used, since fine-tunes may have run side by side (--jobs > 1).
"""
from __future__ import annotations

import csv
import io
import math
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from vos_eval.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from vos_eval.io import atomic_write
from vos_eval.tables import markdown_table
from ..stages import StageRecord
from .plan import (
    BASELINE,
    STAGE_RECORD,
    AblationError,
    OSVOSProtocol,
    Recipe,
    osvos_dir,
    run_dir,
    timing_dir,
)

# The paper's Table 1 / Table 2 (DAVIS 2016 val): J&F-Mean unsupervised and semi-supervised, and parameter counts.
PAPER_JF_UNSUPERVISED = {"1-1": 0.645, "3-3": 0.679, "7-7": 0.673, "1-7": 0.655, "3-7": 0.676}
PAPER_JF_SEMI_SUPERVISED = {"1-1": 0.747, "3-3": 0.747, "7-7": 0.755, "1-7": 0.741, "3-7": 0.758}
PAPER_PARAMS = {"1-1": 45_421_851, "3-3": 46_398_747, "7-7": 48_407_835, "1-7": 45_618_459, "3-7": 46_570_779}

# How each kind of table cell is written in Markdown (CSV cells hold the raw values).
CELL_FORMATS: dict[str, Callable[[Any], str]] = {
    "text": str,
    "score": lambda v: f"{v:.3f}",
    "count": lambda v: f"{v:,}",
    "delta": lambda v: f"{v:+,}" if v else "0",
    "seconds": lambda v: f"{v:.1f}",
    "ms": lambda v: f"{v:.1f}",
    "ratio": lambda v: f"{v:.2f}x",
    "signed": lambda v: f"{v:+.3f}",
}


class Table(NamedTuple):
    """A results table: column names, the kind of each column (a CELL_FORMATS key), rows of raw values and notes."""

    title: str
    columns: list[str]
    kinds: list[str]
    rows: list[list[Any]]
    notes: tuple[str, ...] = ()

    def column(self, name: str) -> list[Any]:
        """The raw values of one column, top to bottom."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def to_markdown(self) -> str:
        """The title, a Markdown table and the notes; missing values (no 1-1 run, no paper number) read "n/a"."""
        cells = [
            ["n/a" if value is None else CELL_FORMATS[kind](value) for value, kind in zip(row, self.kinds)]
            for row in self.rows
        ]
        notes = "".join(f"\n{note}\n" for note in self.notes)
        return f"**{self.title}**\n\n{markdown_table(self.columns, cells)}\n{notes}"

    def to_csv(self) -> str:
        """A header line and one line per row of raw values (empty where missing)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([["" if value is None else value for value in row] for row in self.rows])
        return buffer.getvalue()


class Timing(NamedTuple):
    """A row's inference timed alone: its evaluation's seconds, frames, and the command that measured it."""

    seconds: float
    frames: int | None
    command: list[str]
    started: str


PerSeed = dict[str, dict[int, EvaluationResults]]  # row -> seed -> results


@dataclass
class AblationResults:
    """Everything an ablation's folders hold: unsupervised results per row and seed, OSVOS under the paper's
    protocol and (optionally) multi-object, and each row's timing (None where there is no usable one, with why)."""

    unsupervised: PerSeed
    binary_osvos: PerSeed = field(default_factory=dict)
    multi_object_osvos: PerSeed = field(default_factory=dict)
    timing: dict[str, Timing | None] = field(default_factory=dict)
    timing_notes: list[str] = field(default_factory=list)
    recipe: str = ""  # the recipe's description, named in every table's title

    def titled(self, title: str) -> str:
        """A table title followed by the recipe it was made with."""
        return f"{title}; recipe: {self.recipe}" if self.recipe else title


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None for fewer than 2 values) of the non-missing values."""
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    mean = sum(present) / len(present)
    if len(present) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in present) / (len(present) - 1))


def _read(path: str, row: str, require: Sequence[str] = ()) -> EvaluationResults:
    try:
        return EvaluationResults.read(path, require)
    except ResultsFileError as e:
        raise AblationError(f"config {row}: {e}") from e


def _read_osvos(output_dir: str, rows: Sequence[str], seeds: Sequence[int], protocol: OSVOSProtocol,
                required: Sequence[str]) -> PerSeed:
    """OSVOS results of one protocol: every seed of the ``required`` rows (AblationError naming a missing file),
    whatever exists for the other rows; rows with none are left out."""
    out: PerSeed = {}
    for row in rows:
        for seed in seeds:
            path = os.path.join(osvos_dir(output_dir, seed, row, protocol), RESULTS_FILE)
            if row in required or os.path.isfile(path):
                out.setdefault(row, {})[seed] = _read(path, row)
    return out


def read_timing(output_dir: str, row: str) -> tuple[Timing | None, str | None]:
    """A row's timing measurement, or None and the reason it cannot be used (not run yet, no record of how it
    ran, or it ran beside other stages)."""
    folder = timing_dir(output_dir, row)
    path = os.path.join(folder, RESULTS_FILE)
    if not os.path.isfile(path):
        return None, f"{row}: not timed yet ({path} missing: run the ablation again to time it)"
    record = StageRecord.read(os.path.join(folder, STAGE_RECORD))
    if record is None:
        return None, f"{row}: {path} has no stage record, so nothing says it ran alone; not used"
    if not record.ran_alone:
        return None, f"{row}: {path} was measured beside other stages; not used"
    data = _read(path, row, ("timing",))
    frames = data.timing.get("frames")
    return Timing(data.timing["eval_time_s"], None if frames is None else int(frames), record.command,
                  record.started), None


def load_results(output_dir: str, rows: Sequence[str], seeds: Sequence[int], recipe: Recipe,
                 osvos_rows: Sequence[str] = ()) -> AblationResults:
    """Read an ablation's folders: every row and seed's unsupervised results (AblationError naming a missing or
    invalid file), OSVOS results (complete for ``osvos_rows``; other rows where present) and the timings."""
    unsupervised: PerSeed = {
        row: {seed: _read(os.path.join(run_dir(output_dir, seed, row), RESULTS_FILE), row, ("params",))
              for seed in seeds}
        for row in rows
    }
    results = AblationResults(unsupervised, _read_osvos(output_dir, rows, seeds, recipe.binary_osvos, osvos_rows),
                              recipe=recipe.description)
    if recipe.multi_object_osvos is not None:
        results.multi_object_osvos = _read_osvos(output_dir, rows, seeds, recipe.multi_object_osvos, ())
    for row in rows:
        results.timing[row], note = read_timing(output_dir, row)
        if note:
            results.timing_notes.append(note)
    return results


def subset_jf(data: EvaluationResults, subset: str) -> float | None:
    """J&F-Mean on a frame subset ("clean", "degraded"), None when the set has no such tags."""
    return data.subsets.get(subset, {}).get("J&F-Mean")


def _ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None without both."""
    if value is None or baseline is None or baseline == 0 or math.isnan(baseline):
        return None
    return value / baseline


def _datasets(per_seed: PerSeed) -> str:
    return ", ".join(sorted({d.dataset for runs in per_seed.values() for d in runs.values()})) or "n/a"


def _time_note(results: AblationResults) -> str:
    """Where Table 1's time comes from."""
    measured = [t for t in results.timing.values() if t is not None]
    note = ("Eval time: each row's `train_net.py --eval-only` over the same validation frames with its first "
            "seed's weights, rows timed one at a time after every other stage (timing/<row>/; timing.md has the "
            "commands). Times that fine-tunes recorded are not used: stages may have run side by side.")
    if not measured:
        note += " No row has a usable timing yet."
    return " ".join([note, *results.timing_notes])


def build_table1(results: AblationResults) -> Table:
    """Table 1 (unsupervised) over seeds: J&F mean and std, J, F, J&F on clean and degraded frames, parameters,
    time (from the timing stages only) and their change from 1-1, beside the paper."""
    columns = ["Config", "J&F-Mean", "J&F std", "J-Mean", "F-Mean", "J&F clean", "J&F degraded", "Parameters",
               "Δ params vs 1-1", "Eval time (s)", "time vs 1-1", "J&F-Mean (paper)", "Parameters (paper)",
               "Δ params vs 1-1 (paper)", "Seeds"]
    kinds = ["text", "score", "score", "score", "score", "score", "score", "count", "delta", "seconds", "ratio",
             "score", "count", "delta", "text"]
    base = results.unsupervised.get(BASELINE)
    base_params = next(iter(base.values())).params["total"] if base else None
    base_timing = results.timing.get(BASELINE)
    base_time = base_timing.seconds if base_timing else None
    rows = []
    for row, per_seed in results.unsupervised.items():
        runs = list(per_seed.values())
        jf, jf_std = mean_std([d.davis["J&F-Mean"] for d in runs])
        params = runs[0].params["total"]
        timing = results.timing.get(row)
        seconds = timing.seconds if timing else None
        paper_params = PAPER_PARAMS.get(row)
        rows.append([
            row, jf, jf_std, mean_std([d.davis["J-Mean"] for d in runs])[0],
            mean_std([d.davis["F-Mean"] for d in runs])[0],
            mean_std([subset_jf(d, "clean") for d in runs])[0], mean_std([subset_jf(d, "degraded") for d in runs])[0],
            params, None if base_params is None else params - base_params, seconds, _ratio(seconds, base_time),
            PAPER_JF_UNSUPERVISED.get(row), paper_params,
            None if paper_params is None else paper_params - PAPER_PARAMS[BASELINE], str(len(runs)),
        ])
    title = (f"Table 1: unsupervised VOS on {_datasets(results.unsupervised)} (paper: DAVIS 2016 val), mean over "
             "training seeds (std: sample standard deviation over seeds)")
    return Table(results.titled(title), columns, kinds, rows, (_time_note(results),))


def build_table2(results: AblationResults) -> Table | None:
    """Table 2 (semi-supervised OSVOS) over seeds for every row that ran OSVOS: the paper's protocol (one binary
    object, first frame given) mean and std, J&F on clean and degraded frames (sets with frame tags), beside the
    paper, and the multi-object score where it ran; None when no row ran OSVOS."""
    ran = [row for row in results.unsupervised
           if row in results.binary_osvos or row in results.multi_object_osvos]
    if not ran:
        return None
    columns = ["Config", "J&F-Mean (semi-supervised)", "J&F std", "J-Mean", "F-Mean", "J&F clean", "J&F degraded",
               "OSVOS - parent", "J-Decay", "Losses recovered", "Objects lost until end", "J&F-Mean (paper)", "Seeds"]
    kinds = ["text", "score", "score", "score", "score", "score", "score", "signed", "score", "text", "text", "score",
             "text"]
    multi = bool(results.multi_object_osvos)
    if multi:
        columns += ["J&F-Mean (multi-object)", "multi-object std", "Seeds (multi-object)"]
        kinds += ["score", "score", "text"]
    rows = []
    for row in ran:
        per_seed = results.binary_osvos.get(row, {})
        runs = list(per_seed.values())
        jf, jf_std = mean_std([d.davis["J&F-Mean"] for d in runs])
        # The same seeds' unsupervised parents, so the difference compares like with like.
        parent = mean_std([results.unsupervised[row][s].davis["J&F-Mean"] for s in per_seed
                           if s in results.unsupervised.get(row, {})])[0]
        cells = [row, jf, jf_std, mean_std([d.davis["J-Mean"] for d in runs])[0],
                 mean_std([d.davis["F-Mean"] for d in runs])[0], mean_std([subset_jf(d, "clean") for d in runs])[0],
                 mean_std([subset_jf(d, "degraded") for d in runs])[0],
                 None if jf is None or parent is None else jf - parent,
                 mean_std([d.davis["J-Decay"] for d in runs])[0], *_tracking_cells(runs),
                 PAPER_JF_SEMI_SUPERVISED.get(row), str(len(runs))]
        if multi:
            multi_runs = list(results.multi_object_osvos.get(row, {}).values())
            cells += [*mean_std([d.davis["J&F-Mean"] for d in multi_runs]), str(len(multi_runs))]
        rows.append(cells)
    notes = [(f"Semi-supervised (the paper's protocol): OSVOS fine-tuned on each sequence's first-frame mask, one "
              f"binary object per sequence, scored on {_datasets(results.binary_osvos)}; each frame's result is "
              "the union of the fine-tuned model's detections, as in the reference. OSVOS - parent: the mean "
              "J&F change from the same seeds' unsupervised parents (Table 1). Losses (J < 0.1 where the object "
              "is shown) recovered (J >= 0.5 again) and objects lost until the end of their video, summed over "
              "seeds (vos_eval/tracking_metrics.py; n/a for results scored before they were measured).")]
    if multi:
        notes.append(f"Multi-object: the same parents' OSVOS on {_datasets(results.multi_object_osvos)}, each object "
                     "given and scored on its own (a harder task; it does not compare with the paper's numbers).")
    return Table(results.titled("Table 2: semi-supervised VOS (OSVOS fine-tuning; paper: DAVIS 2016 val), mean over "
                                "training seeds"), columns, kinds, rows, tuple(notes))


def _tracking_cells(runs: Sequence[EvaluationResults]) -> list[str | None]:
    """'recovered/losses' and the objects lost until the end, summed over the runs (None without tracking)."""
    tracked = [d.tracking for d in runs if d.tracking is not None]
    if not runs or len(tracked) < len(runs):
        return [None, None]
    losses = sum(int(t["losses"]) for t in tracked)
    recovered = sum(int(t.get("losses_recovered", 0)) for t in tracked)
    return [f"{recovered}/{losses}", str(sum(int(t.get("objects_lost_until_end", 0)) for t in tracked))]


def build_runs_table(results: AblationResults) -> Table:
    """One row per config and training seed: unsupervised scores (overall, clean, degraded), parameters, and the
    semi-supervised J&F where OSVOS ran (no time: a run's own evaluation may have shared the machine)."""
    columns = ["Config", "Seed", "J&F-Mean", "J-Mean", "F-Mean", "J&F clean", "J&F degraded", "Parameters",
               "J&F-Mean (semi-supervised)", "J&F-Mean (multi-object)"]
    kinds = ["text", "text", "score", "score", "score", "score", "score", "count", "score", "score"]
    rows = []
    for row, per_seed in results.unsupervised.items():
        for seed, data in per_seed.items():
            semi = [results.binary_osvos.get(row, {}).get(seed), results.multi_object_osvos.get(row, {}).get(seed)]
            rows.append([row, str(seed), data.davis["J&F-Mean"], data.davis["J-Mean"], data.davis["F-Mean"],
                         subset_jf(data, "clean"), subset_jf(data, "degraded"), data.params["total"],
                         *[None if d is None else d.davis["J&F-Mean"] for d in semi]])
    return Table("Every run: one row per config and training seed", columns, kinds, rows)


def build_timing_table(results: AblationResults) -> Table:
    """The timing stages: per row the seconds, frames, ms per frame, ratio to 1-1, when and with what command."""
    base = results.timing.get(BASELINE)
    columns = ["Config", "Eval time (s)", "Frames", "ms/frame", "time vs 1-1", "Started (UTC)", "Command"]
    kinds = ["text", "seconds", "text", "ms", "ratio", "text", "text"]
    rows = []
    for row, timing in results.timing.items():
        if timing is None:
            rows.append([row, None, None, None, None, None, None])
            continue
        ms = 1000 * timing.seconds / timing.frames if timing.frames else None
        rows.append([row, timing.seconds, None if timing.frames is None else str(timing.frames), ms,
                     _ratio(timing.seconds, base.seconds if base else None), timing.started,
                     f"`{shlex.join(timing.command)}`"])
    return Table("Timing: each row's inference alone, one row after another, after every other stage", columns,
                 kinds, rows, tuple(results.timing_notes))


def build_stages_table(output_dir: str) -> Table | None:
    """Every stage record under ``output_dir`` (ablation_stage.json of each stage that finished, from every
    invocation), in start order: the stage, when it started, its wall time and whether it ran alone; the notes give
    the sum per stage kind. None when no stage has a record."""
    records = []
    for path in sorted(Path(output_dir).rglob(STAGE_RECORD)):
        record = StageRecord.read(str(path))
        if record is not None:
            records.append(record)
    if not records:
        return None
    records.sort(key=lambda r: r.started)
    rows = [[r.stage, r.started, r.wall_s, r.wall_s / 60, "yes" if r.ran_alone else "no", str(r.jobs)]
            for r in records]
    per_kind: dict[str, float] = {}
    for r in records:
        kind = r.stage_kind
        per_kind[kind] = per_kind.get(kind, 0.0) + r.wall_s
    total = sum(per_kind.values())
    notes = ("Sum of stage wall times: " + ", ".join(f"{kind} {s / 60:.1f} min" for kind, s in per_kind.items())
             + f"; all {len(records)} stages {total / 60:.1f} min (the tool's own wall time, with start-up and table "
             "writing, is in ablation_runs.json).",)
    return Table("Stages: each finished stage's wall time, as its ablation_stage.json records it",
                  ["Stage", "Started (UTC)", "Wall (s)", "Wall (min)", "Ran alone", "Jobs"],
                  ["text", "text", "seconds", "seconds", "text", "text"], rows, notes)


def write_text(path: str, text: str) -> str:
    """Write a UTF-8 text file atomically; returns its path."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def write_table(output_dir: str, stem: str, table: Table) -> list[str]:
    """<stem>.md and <stem>.csv in output_dir; returns the paths written."""
    return [write_text(os.path.join(output_dir, stem + ext), text)
            for ext, text in ((".md", table.to_markdown()), (".csv", table.to_csv()))]
