#!/usr/bin/env python
"""Run the paper's pathway ablation (1-1, 3-3, 7-7, 1-7, 3-7) and write its Tables 1 and 2 and a J&F/time plot.

    python tools/run_ablation.py --config-dir configs --output-dir output/ablation            # train + evaluate
    python tools/run_ablation.py --config-dir configs --output-dir output/ablation --osvos    # + semi-supervised
    python tools/run_ablation.py --output-dir output/ablation --mode eval \\
        --weights-pattern 'weights/{config}/model_final.pth'                                   # evaluate only
    python tools/run_ablation.py --output-dir output/ablation --tables-only                   # rebuild tables
    python tools/run_ablation.py --output-dir output/ablation --dry-run -- SOLVER.MAX_ITER 100

Per config m-n it runs tools/train_net.py (OUTPUT_DIR <output-dir>/m-n) and, with --osvos, tools/osvos_net.py
(OUTPUT_DIR <output-dir>/m-n/osvos) as subprocesses, one after the other. A stage whose results.json exists is
skipped (so an interrupted ablation resumes) unless --force. Each stage's stdout and stderr are streamed to the
console and to <its OUTPUT_DIR>/run_<stage>.log (Detectron2 itself logs to log.txt in the same folder). Options
after ``--`` are config overrides appended to every command. Then it writes, atomically, in <output-dir>:
table1.md/.csv (unsupervised: J&F, parameters, evaluation time, with ratios to 1-1), table2.md/.csv
(semi-supervised J&F), each beside the paper's numbers, and jf_vs_time.png.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from slowfast_vos.evaluation.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from slowfast_vos.utils import atomic_write, markdown_table

TOOLS_DIR = Path(__file__).resolve().parent
TRAIN_NET = TOOLS_DIR / "train_net.py"
OSVOS_NET = TOOLS_DIR / "osvos_net.py"

CONFIGS = ("1-1", "3-3", "7-7", "1-7", "3-7")
BASELINE = "1-1"
# Rows beyond the paper's m-n configs: "control" is the same model with no temporal module (config file
# no_temporal.yaml, MODEL.SLOWFAST.FUSION "none"); "m-n+residual" is slowfast_m-n.yaml with the opt-in residual
# fusion (the module's output added to the target's own features).
CONTROL = "control"
FUSION_SUFFIXES = {"+residual": ("MODEL.SLOWFAST.FUSION", "residual")}
DEFAULT_WEIGHTS_PATTERN = "{output_dir}/{config}/model_final.pth"

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
    "ratio": lambda v: f"{v:.2f}x",
}


class AblationError(RuntimeError):
    """A run failed or a results file is missing or invalid; the message names the config and file."""


class Table(NamedTuple):
    """A results table: column names, the kind of each column (a CELL_FORMATS key) and rows of raw values."""

    title: str
    columns: list[str]
    kinds: list[str]
    rows: list[list[Any]]

    def column(self, name: str) -> list[Any]:
        """The raw values of one column, top to bottom."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def to_markdown(self) -> str:
        """The title and a Markdown table; missing values (no 1-1 run, no paper number) read "n/a"."""
        cells = [
            ["n/a" if value is None else CELL_FORMATS[kind](value) for value, kind in zip(row, self.kinds)]
            for row in self.rows
        ]
        return f"**{self.title}**\n\n{markdown_table(self.columns, cells)}\n"

    def to_csv(self) -> str:
        """A header line and one line per row of raw values (empty where missing)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([["" if value is None else value for value in row] for row in self.rows])
        return buffer.getvalue()


class Run(NamedTuple):
    """One subprocess of the ablation: which config and stage, its command, log and results file."""

    config: str
    stage: str  # "train", "eval" or "osvos"
    command: list[str]
    log_file: str
    results_file: str
    needs: list[str]  # files that must exist when it starts (the weights it loads, possibly made by an earlier run)
    after: tuple = ()  # indices (in the plan) of the runs that must finish first (for --jobs > 1)


# --------------------------------------------------------------------------------------------------------------
# Results files and tables
# --------------------------------------------------------------------------------------------------------------
def results_path(output_dir: str, config: str, semi_supervised: bool = False) -> str:
    """Where the trainer (or the OSVOS driver) writes a config's results.json."""
    parts = [output_dir, config] + (["osvos"] if semi_supervised else []) + [RESULTS_FILE]
    return os.path.join(*parts)


def load_results(
    output_dir: str, configs: Sequence[str], semi_supervised: bool = False
) -> dict[str, EvaluationResults]:
    """Read and check each config's results.json (unsupervised, or the OSVOS one); keyed by config, in order."""
    require = () if semi_supervised else ("timing", "params")
    results = {}
    for config in configs:
        try:
            results[config] = EvaluationResults.read(results_path(output_dir, config, semi_supervised), require)
        except ResultsFileError as e:
            raise AblationError(f"config {config}: {e}") from e
    return results


def _ratio(value: float, baseline: float | None) -> float | None:
    """value / baseline, or None without a usable baseline."""
    if baseline is None or baseline == 0 or math.isnan(baseline):
        return None
    return value / baseline


def build_table1(results: Mapping[str, EvaluationResults]) -> Table:
    """Table 1 (unsupervised): J&F, J, F, parameters, evaluation time and their change from 1-1, beside the paper."""
    base = results.get(BASELINE)
    base_params = base.params["total"] if base else None
    base_time = base.timing["eval_time_s"] if base else None
    columns = ["Config", "J&F-Mean", "J-Mean", "F-Mean", "Parameters", "Δ params vs 1-1", "Eval time (s)",
               "time vs 1-1", "J&F-Mean (paper)", "Parameters (paper)", "Δ params vs 1-1 (paper)"]
    kinds = ["text", "score", "score", "score", "count", "delta", "seconds", "ratio", "score", "count", "delta"]
    rows = []
    for config, data in results.items():
        davis, params, seconds = data.davis, data.params["total"], data.timing["eval_time_s"]
        paper_params = PAPER_PARAMS.get(config)
        rows.append([
            config, davis["J&F-Mean"], davis["J-Mean"], davis["F-Mean"], params,
            None if base_params is None else params - base_params, seconds, _ratio(seconds, base_time),
            PAPER_JF_UNSUPERVISED.get(config), paper_params,
            None if paper_params is None else paper_params - PAPER_PARAMS[BASELINE],
        ])
    datasets = sorted({data.dataset for data in results.values()})
    title = f"Table 1: unsupervised VOS on {', '.join(datasets)} (paper: DAVIS 2016 val)"
    return Table(title, columns, kinds, rows)


def build_table2(results: Mapping[str, EvaluationResults]) -> Table:
    """Table 2 (semi-supervised, OSVOS fine-tuning): J&F, J and F beside the paper's J&F."""
    columns = ["Config", "J&F-Mean (semi-supervised)", "J-Mean", "F-Mean", "J&F-Mean (paper)"]
    kinds = ["text", "score", "score", "score", "score"]
    rows = [
        [config, data.davis["J&F-Mean"], data.davis["J-Mean"], data.davis["F-Mean"],
         PAPER_JF_SEMI_SUPERVISED.get(config)]
        for config, data in results.items()
    ]
    return Table("Table 2: semi-supervised VOS (OSVOS fine-tuning; paper: DAVIS 2016 val)", columns, kinds, rows)


def _write_text(path: str, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_tables(output_dir: str, table1: Table, table2: Table | None = None) -> list[str]:
    """Write table1.md/.csv (and table2.md/.csv when given) into output_dir; returns the paths written."""
    written = []
    for stem, table in (("table1", table1), ("table2", table2)):
        if table is None:
            continue
        for ext, text in ((".md", table.to_markdown()), (".csv", table.to_csv())):
            path = os.path.join(output_dir, stem + ext)
            _write_text(path, text)
            written.append(path)
    return written


def plot_jf_vs_time(results: Mapping[str, EvaluationResults], path: str) -> str:
    """Scatter unsupervised J&F-Mean against evaluation time, one labelled point per config, saved as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for config, data in results.items():
        seconds, jf = data.timing["eval_time_s"], data.davis["J&F-Mean"]
        axes.scatter([seconds], [jf], s=36)
        axes.annotate(config, (seconds, jf), textcoords="offset points", xytext=(5, 5))
    axes.set_xlabel("evaluation time (s)")
    axes.set_ylabel("J&F-Mean (unsupervised)")
    axes.set_title("SlowFast pathway configurations (m-n): accuracy vs. time")
    axes.grid(True, alpha=0.3)
    axes.margins(0.15)
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"))
    return path


def build_outputs(output_dir: str, configs: Sequence[str], osvos: bool) -> list[str]:
    """Tables 1 (and 2) and the plot from the results files; Table 2 needs --osvos or every OSVOS result present."""
    unsupervised = load_results(output_dir, configs)
    semi = None
    if osvos or all(os.path.isfile(results_path(output_dir, c, True)) for c in configs):
        semi = load_results(output_dir, configs, semi_supervised=True)
    else:
        print(f"# no OSVOS results for every config under {output_dir}: table 2 not written (run with --osvos)",
              file=sys.stderr)
    written = write_tables(output_dir, build_table1(unsupervised), build_table2(semi) if semi else None)
    written.append(plot_jf_vs_time(unsupervised, os.path.join(output_dir, "jf_vs_time.png")))
    return written


# --------------------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------------------
def weights_for(pattern: str, output_dir: str, config: str) -> str:
    """The weights file of a config: the pattern with {config} and {output_dir} filled in."""
    try:
        return pattern.format(config=config, output_dir=output_dir)
    except (KeyError, IndexError, ValueError) as e:
        raise AblationError(
            f"--weights-pattern {pattern!r}: only {{config}} and {{output_dir}} may be used ({e})"
        ) from e


def config_variant(config: str) -> tuple[str, tuple[str, ...]]:
    """A row name's config file stem and the overrides it adds: "3-7" -> ("slowfast_3-7", ()), "3-7+residual" ->
    ("slowfast_3-7", ("MODEL.SLOWFAST.FUSION", "residual")), "control" -> ("no_temporal", ())."""
    if config == CONTROL:
        return "no_temporal", ()
    for suffix, opts in FUSION_SUFFIXES.items():
        if config.endswith(suffix):
            return f"slowfast_{config[:-len(suffix)]}", opts
    return f"slowfast_{config}", ()


def _existing_config(config_dir: str, config: str, prefix: str = "") -> str:
    """The config file (<prefix><stem>.yaml, see config_variant) of a row in a folder, or an AblationError naming
    the missing file."""
    path = os.path.join(config_dir, f"{prefix}{config_variant(config)[0]}.yaml")
    if not os.path.isfile(path):
        raise AblationError(f"config {config}: config file not found: {path}")
    return path


def plan_runs(
    configs: Sequence[str],
    config_dir: str,
    output_dir: str,
    mode: str = "train",
    weights_pattern: str = DEFAULT_WEIGHTS_PATTERN,
    osvos: bool = False,
    osvos_config_dir: str = "configs/osvos",
    num_gpus: int | None = None,
    extra_opts: Sequence[str] = (),
) -> list[Run]:
    """The subprocesses of the ablation in order: per config, train (or evaluate) it, then optionally OSVOS.

    Config files are checked here (AblationError naming a missing one); weights only when their run starts.
    """
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    runs = []
    for config in configs:
        out = os.path.join(output_dir, config)
        weights = weights_for(weights_pattern, output_dir, config)
        config_file = _existing_config(config_dir, config)
        command = [sys.executable, str(TRAIN_NET), "--config-file", config_file]
        if num_gpus is not None:
            command += ["--num-gpus", str(num_gpus)]
        # --resume: an interrupted training run continues from its last checkpoint when run again.
        command.append("--eval-only" if mode == "eval" else "--resume")
        command += [*config_variant(config)[1], "OUTPUT_DIR", out]
        if mode == "eval":
            command += ["MODEL.WEIGHTS", weights]
        command += list(extra_opts)
        runs.append(Run(config, mode, command, os.path.join(out, f"run_{mode}.log"),
                        results_path(output_dir, config), [weights] if mode == "eval" else []))
        if osvos:
            osvos_out = os.path.join(out, "osvos")
            osvos_config = _existing_config(osvos_config_dir, config)
            command = [sys.executable, str(OSVOS_NET), "--config-file", osvos_config, *config_variant(config)[1],
                       "OUTPUT_DIR", osvos_out, "MODEL.WEIGHTS", weights, *extra_opts]
            runs.append(Run(config, "osvos", command, os.path.join(osvos_out, "run_osvos.log"),
                            results_path(output_dir, config, semi_supervised=True), [weights]))
    return runs


def execute(run: Run, echo: bool = True) -> None:
    """Run one stage, streaming its output to its log (and the console when ``echo``); AblationError naming config
    + log on failure."""
    for path in run.needs:
        if not os.path.isfile(path):
            raise AblationError(f"config {run.config} ({run.stage}): required file not found: {path}")
    os.makedirs(os.path.dirname(run.log_file), exist_ok=True)
    print(f"# [{run.config} {run.stage}] {shlex.join(run.command)}  (log: {run.log_file})", flush=True)
    with open(run.log_file, "w", encoding="utf-8") as log, subprocess.Popen(
        run.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        log.write(f"$ {shlex.join(run.command)}\n")
        for line in proc.stdout:
            if echo:
                sys.stdout.write(line)
            log.write(line)
            log.flush()
    if proc.returncode != 0:
        raise AblationError(
            f"config {run.config}: {run.stage} failed with exit code {proc.returncode}; see {run.log_file}"
        )
    if not os.path.isfile(run.results_file):
        raise AblationError(
            f"config {run.config}: {run.stage} finished but wrote no {run.results_file}; see {run.log_file}"
        )


# --------------------------------------------------------------------------------------------------------------
# Presets: the whole study at one scale, over several training seeds
# --------------------------------------------------------------------------------------------------------------
class Preset(NamedTuple):
    """A complete ablation recipe: a shared single-frame pre-training, then per seed and config a fine-tune."""

    config_dir: str  # the fine-tune configs (<stem>.yaml, see config_variant)
    pretrain_config: str  # the shared single-frame Mask R-CNN (the stand-in for the model-zoo weights)
    osvos_prefix: str  # the OSVOS config of a row is <config_dir>/<osvos_prefix><stem>.yaml
    finetune_opts: tuple  # overrides of every fine-tune: load the pre-training, freeze backbone and RPN
    description: str


REPO = TOOLS_DIR.parent
PRESETS = {
    "quickstart": Preset(
        config_dir=str(REPO / "configs" / "quickstart"),
        pretrain_config=str(REPO / "configs" / "quickstart" / "pretrain_mask_rcnn.yaml"),
        osvos_prefix="osvos_",
        finetune_opts=("MODEL.FREEZE.BACKBONE", "True", "MODEL.FREEZE.PROPOSAL_GENERATOR", "True"),
        description="CPU scale: make demo's recipe on a freshly generated synthetic DAVIS",
    ),
}
# The synthetic set a preset ablation generates (under <output-dir>/datasets): a seed no config was tuned on, and
# enough validation sequences for the spread over training seeds to mean something.
DEFAULT_DATA = {"seed": 7, "train_sequences": 8, "val_sequences": 16}
DEFAULT_OSVOS_CONFIGS = ("1-1", "3-7")


def preset_dir(output_dir: str, seed: int, config: str) -> str:
    """Output folder of one fine-tune: <output-dir>/seed<seed>/<m-n>."""
    return os.path.join(output_dir, f"seed{seed}", config)


def plan_preset_runs(
    preset: Preset,
    configs: Sequence[str],
    seeds: Sequence[int],
    output_dir: str,
    osvos_configs: Sequence[str] = DEFAULT_OSVOS_CONFIGS,
    extra_opts: Sequence[str] = (),
) -> list[Run]:
    """One pre-training, then per seed: each config's fine-tune + evaluation, and OSVOS for ``osvos_configs``."""
    pretrain_out = os.path.join(output_dir, "pretrain")
    pretrain_weights = os.path.join(pretrain_out, "model_final.pth")
    command = [sys.executable, str(TRAIN_NET), "--config-file", preset.pretrain_config, "--resume",
               "OUTPUT_DIR", pretrain_out, *extra_opts]
    runs = [Run("single-frame", "pretrain", command, os.path.join(pretrain_out, "run_pretrain.log"),
                pretrain_weights, [])]
    after_pretrain = (0,)
    for seed in seeds:
        for config in configs:
            out = preset_dir(output_dir, seed, config)
            config_file = _existing_config(preset.config_dir, config)
            variant_opts = config_variant(config)[1]
            command = [sys.executable, str(TRAIN_NET), "--config-file", config_file, "--resume", *variant_opts,
                       "MODEL.WEIGHTS", pretrain_weights, *preset.finetune_opts, "SEED", str(seed),
                       "OUTPUT_DIR", out, *extra_opts]
            runs.append(Run(config, f"train seed {seed}", command, os.path.join(out, "run_train.log"),
                            os.path.join(out, RESULTS_FILE), [pretrain_weights], after_pretrain))
            after_train = (len(runs) - 1,)
            if config in osvos_configs:
                osvos_file = _existing_config(preset.config_dir, config, preset.osvos_prefix)
                weights = os.path.join(out, "model_final.pth")
                command = [sys.executable, str(OSVOS_NET), "--config-file", osvos_file, *variant_opts,
                           "MODEL.WEIGHTS", weights,
                           "SEED", str(seed), "OUTPUT_DIR", os.path.join(out, "osvos"), *extra_opts]
                runs.append(Run(config, f"osvos seed {seed}", command, os.path.join(out, "osvos", "run_osvos.log"),
                                os.path.join(out, "osvos", RESULTS_FILE), [weights], after_train))
    return runs


def execute_all(runs: Sequence[Run], todo: Sequence[int], jobs: int) -> None:
    """Run the plan's runs ``todo`` (indices), up to ``jobs`` at a time, each once every run it comes after is done.

    With jobs > 1 the runs' output goes to their logs only. After a failure no new run starts; the running ones
    finish, then the first failure is raised.
    """
    if jobs <= 1:
        for index in todo:
            print(f"# [{index + 1}/{len(runs)}] {runs[index].config} {runs[index].stage}", flush=True)
            execute(runs[index])
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    waiting, running, failures = list(todo), {}, []
    with ThreadPoolExecutor(jobs) as pool:
        while waiting or running:
            blocked = set(waiting) | set(running.values())
            ready = [i for i in waiting if not blocked.intersection(runs[i].after)] if not failures else []
            for index in ready[:jobs - len(running)]:
                waiting.remove(index)
                running[pool.submit(execute, runs[index], False)] = index
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                error = future.exception()
                state = "failed" if error else "done"
                print(f"# [{index + 1}/{len(runs)}] {state}: {runs[index].config} {runs[index].stage}", flush=True)
                if error:
                    failures.append(error)
    if failures:
        raise failures[0]


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None for fewer than 2 values) of the non-missing values."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _subset_jf(data: EvaluationResults, subset: str) -> float | None:
    return data.subsets.get(subset, {}).get("J&F-Mean")


def load_seed_results(output_dir: str, configs: Sequence[str], seeds: Sequence[int],
                      semi_supervised: bool = False) -> dict[str, dict[int, EvaluationResults]]:
    """results.json of every config and seed (checked as load_results does): config -> seed -> results."""
    out: dict[str, dict[int, EvaluationResults]] = {config: {} for config in configs}
    for seed in seeds:
        folder = os.path.join(output_dir, f"seed{seed}")
        for config, data in load_results(folder, configs, semi_supervised).items():
            out[config][seed] = data
    return out


def seed_rows(unsupervised: Mapping[str, Mapping[int, EvaluationResults]],
              semi: Mapping[str, Mapping[int, EvaluationResults]] | None = None) -> Table:
    """One row per config and seed: the unsupervised scores (overall, clean, degraded), time, parameters, and the
    semi-supervised J&F where OSVOS ran."""
    columns = ["Config", "Seed", "J&F-Mean", "J-Mean", "F-Mean", "J&F clean", "J&F degraded", "Eval time (s)",
               "Parameters", "J&F-Mean (semi-supervised)"]
    kinds = ["text", "text", "score", "score", "score", "score", "score", "seconds", "count", "score"]
    rows = []
    for config, per_seed in unsupervised.items():
        for seed, data in per_seed.items():
            semi_data = (semi or {}).get(config, {}).get(seed)
            rows.append([config, str(seed), data.davis["J&F-Mean"], data.davis["J-Mean"],
                         data.davis["F-Mean"], _subset_jf(data, "clean"), _subset_jf(data, "degraded"),
                         data.timing["eval_time_s"], data.params["total"],
                         None if semi_data is None else semi_data.davis["J&F-Mean"]])
    return Table("Every run: one row per config and training seed", columns, kinds, rows)


def build_seed_table1(unsupervised: Mapping[str, Mapping[int, EvaluationResults]]) -> Table:
    """Table 1 over seeds: mean and std of J&F, mean J, F, J&F on clean and degraded frames, parameters, time."""
    columns = ["Config", "J&F-Mean", "J&F std", "J-Mean", "F-Mean", "J&F clean", "J&F degraded", "Parameters",
               "Δ params vs 1-1", "Eval time (s)", "time vs 1-1", "J&F-Mean (paper)", "Seeds"]
    kinds = ["text", "score", "score", "score", "score", "score", "score", "count", "delta", "seconds", "ratio",
             "score", "text"]
    base = unsupervised.get(BASELINE)
    base_time = _mean_std([d.timing["eval_time_s"] for d in base.values()])[0] if base else None
    base_params = next(iter(base.values())).params["total"] if base else None
    rows = []
    for config, per_seed in unsupervised.items():
        runs = list(per_seed.values())
        jf, jf_std = _mean_std([d.davis["J&F-Mean"] for d in runs])
        seconds = _mean_std([d.timing["eval_time_s"] for d in runs])[0]
        params = runs[0].params["total"]
        rows.append([
            config, jf, jf_std, _mean_std([d.davis["J-Mean"] for d in runs])[0],
            _mean_std([d.davis["F-Mean"] for d in runs])[0],
            _mean_std([_subset_jf(d, "clean") for d in runs])[0],
            _mean_std([_subset_jf(d, "degraded") for d in runs])[0],
            params, None if base_params is None else params - base_params, seconds, _ratio(seconds, base_time),
            PAPER_JF_UNSUPERVISED.get(config), str(len(runs)),
        ])
    datasets = sorted({d.dataset for per_seed in unsupervised.values() for d in per_seed.values()})
    return Table(f"Table 1: unsupervised VOS on {', '.join(datasets)}, mean over training seeds (std: sample "
                 "standard deviation over seeds)", columns, kinds, rows)


def build_seed_table2(semi: Mapping[str, Mapping[int, EvaluationResults]]) -> Table:
    """Table 2 over seeds: semi-supervised (OSVOS) J&F mean and std, J, F, beside the paper's J&F."""
    columns = ["Config", "J&F-Mean (semi-supervised)", "J&F std", "J-Mean", "F-Mean", "J&F-Mean (paper)", "Seeds"]
    kinds = ["text", "score", "score", "score", "score", "score", "text"]
    rows = []
    for config, per_seed in semi.items():
        runs = list(per_seed.values())
        jf, jf_std = _mean_std([d.davis["J&F-Mean"] for d in runs])
        rows.append([config, jf, jf_std, _mean_std([d.davis["J-Mean"] for d in runs])[0],
                     _mean_std([d.davis["F-Mean"] for d in runs])[0], PAPER_JF_SEMI_SUPERVISED.get(config),
                     str(len(runs))])
    return Table("Table 2: semi-supervised VOS (OSVOS fine-tuning), mean over training seeds", columns, kinds, rows)


def plot_seed_jf_vs_time(unsupervised: Mapping[str, Mapping[int, EvaluationResults]], path: str) -> str:
    """Mean J&F against mean evaluation time per config, with error bars of one standard deviation over seeds."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for config, per_seed in unsupervised.items():
        jf, jf_std = _mean_std([d.davis["J&F-Mean"] for d in per_seed.values()])
        seconds, seconds_std = _mean_std([d.timing["eval_time_s"] for d in per_seed.values()])
        axes.errorbar([seconds], [jf], yerr=[jf_std or 0.0], xerr=[seconds_std or 0.0], fmt="o", capsize=4)
        axes.annotate(config, (seconds, jf), textcoords="offset points", xytext=(6, 6))
    axes.set_xlabel("evaluation time (s)")
    axes.set_ylabel("J&F-Mean (unsupervised)")
    axes.set_title(f"m-n configs: J&F vs. time (mean ± std over {max(map(len, unsupervised.values()))} seeds)")
    axes.grid(True, alpha=0.3)
    axes.margins(0.15)
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"))
    return path


def build_preset_outputs(output_dir: str, configs: Sequence[str], seeds: Sequence[int],
                         osvos_configs: Sequence[str]) -> list[str]:
    """table1/table2 (.md, .csv), runs.csv/.md (one row per config and seed) and jf_vs_time.png of a preset run."""
    unsupervised = load_seed_results(output_dir, configs, seeds)
    osvos = [c for c in configs if c in osvos_configs]
    semi = load_seed_results(output_dir, osvos, seeds, semi_supervised=True) if osvos else None
    written = write_tables(output_dir, build_seed_table1(unsupervised), build_seed_table2(semi) if semi else None)
    runs = seed_rows(unsupervised, semi)
    for ext, text in ((".md", runs.to_markdown()), (".csv", runs.to_csv())):
        path = os.path.join(output_dir, "runs" + ext)
        _write_text(path, text)
        written.append(path)
    written.append(plot_seed_jf_vs_time(unsupervised, os.path.join(output_dir, "jf_vs_time.png")))
    return written


def prepare_preset_data(output_dir: str, data: Mapping[str, int], progress: bool = True) -> str:
    """Generate the preset's synthetic DAVIS under <output-dir>/datasets (once) and point the runs at it."""
    from slowfast_vos.data import ensure_synthetic_davis, synthetic_davis_root

    datasets = os.path.abspath(os.path.join(output_dir, "datasets"))
    root = ensure_synthetic_davis(synthetic_davis_root(datasets), progress=print if progress else None, **data)
    with open(os.path.join(root, "synthetic_davis.json"), encoding="utf-8") as f:
        found = json.load(f)
    differs = {key: (found.get(key), value) for key, value in data.items() if found.get(key) != value}
    if differs:
        raise AblationError(f"{root} was generated with other settings (found, asked): {differs}; use another "
                            "--output-dir or the same data options")
    os.environ["DETECTRON2_DATASETS"] = datasets
    return root


def _config_name(text: str) -> str:
    """argparse type: an m-n pathway config with odd m <= n, optionally +residual, or "control"."""
    if text == CONTROL:
        return text
    suffixes = "|".join(re.escape(s) for s in FUSION_SUFFIXES)
    match = re.fullmatch(rf"(\d+)-(\d+)({suffixes})?", text)
    if not match or int(match[1]) % 2 == 0 or int(match[2]) % 2 == 0 or int(match[1]) > int(match[2]):
        raise argparse.ArgumentTypeError(f"config {text!r}: expected m-n with odd m <= n (e.g. 3-7), optionally "
                                         f"followed by one of {sorted(FUSION_SUFFIXES)}, or {CONTROL!r}")
    return text


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options; everything after a bare ``--`` becomes args.extra_opts (config overrides for every run)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", default="configs", help="folder of slowfast_<m-n>.yaml (default configs)")
    parser.add_argument("--configs", nargs="+", type=_config_name, default=list(CONFIGS),
                        help="rows, in table order: pathway configs m-n (default: the paper's five), m-n+residual "
                             "(residual fusion), control (no temporal module)")
    parser.add_argument("--output-dir", required=True, help="holds <m-n>/ per config, the tables and the plot")
    parser.add_argument("--mode", choices=("train", "eval"), default="train",
                        help="train each config, or only evaluate existing weights (--eval-only)")
    parser.add_argument("--weights-pattern", default=DEFAULT_WEIGHTS_PATTERN,
                        help="weights per config for eval mode and OSVOS; {config} and {output_dir} are filled in "
                             f"(default {DEFAULT_WEIGHTS_PATTERN})")
    parser.add_argument("--osvos", action="store_true", help="also run semi-supervised OSVOS (Table 2)")
    parser.add_argument("--osvos-config-dir", default="configs/osvos", help="folder of OSVOS slowfast_<m-n>.yaml")
    parser.add_argument("--num-gpus", type=int, help="passed to train_net.py (osvos_net.py has --workers instead)")
    parser.add_argument("--force", action="store_true", help="run stages whose results.json already exists")
    parser.add_argument("--dry-run", action="store_true", help="print the commands that would run; run nothing")
    parser.add_argument("--tables-only", action="store_true", help="only rebuild tables and plot from results files")
    preset = parser.add_argument_group(
        "presets", "--preset runs the whole study at one scale: it generates its own synthetic DAVIS under "
        "<output-dir>/datasets, pre-trains one single-frame model, then per training seed fine-tunes and evaluates "
        "every config (and OSVOS for --osvos-configs); tables report mean and std over seeds")
    preset.add_argument("--preset", choices=sorted(PRESETS), help="; ".join(
        f"{name}: {p.description}" for name, p in PRESETS.items()))
    preset.add_argument("--seeds", type=int, default=3, help="training seeds 1..N per config (default 3)")
    preset.add_argument("--jobs", type=int, default=1,
                        help="runs at a time (default 1); more only where cores or GPUs are free for them, and "
                             "evaluation times are then measured under that load")
    preset.add_argument("--osvos-configs", nargs="*", type=_config_name, default=list(DEFAULT_OSVOS_CONFIGS),
                        help="configs that also get OSVOS (default: 1-1 3-7)")
    preset.add_argument("--data-seed", type=int, default=DEFAULT_DATA["seed"],
                        help=f"seed of the generated synthetic DAVIS (default {DEFAULT_DATA['seed']})")
    preset.add_argument("--train-sequences", type=int, default=DEFAULT_DATA["train_sequences"],
                        help=f"its training sequences (default {DEFAULT_DATA['train_sequences']})")
    preset.add_argument("--val-sequences", type=int, default=DEFAULT_DATA["val_sequences"],
                        help=f"its validation sequences (default {DEFAULT_DATA['val_sequences']})")
    preset.add_argument("--data-frames", type=int, default=None, help="frames per sequence (default: 20-30)")
    preset.add_argument("--data-size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"),
                        help="frame size of the generated set (default: the generator's 108 192)")
    args = parser.parse_args(argv)
    if args.preset is not None:
        if args.mode != "train":
            parser.error("--preset trains its models; --mode eval is for --config-dir ablations")
        if args.seeds < 1 or args.jobs < 1:
            parser.error(f"--seeds and --jobs must be at least 1, got {args.seeds} and {args.jobs}")
        args.data = {"seed": args.data_seed, "train_sequences": args.train_sequences,
                     "val_sequences": args.val_sequences}
        if args.data_frames is not None:
            args.data["frames"] = args.data_frames
        if args.data_size is not None:
            args.data["height"], args.data["width"] = args.data_size
    if len(set(args.configs)) != len(args.configs):
        parser.error(f"--configs lists a config twice: {args.configs}")
    if args.dry_run and args.tables_only:
        parser.error("--dry-run and --tables-only exclude each other")
    args.extra_opts = extra
    return args


def main_preset(args: argparse.Namespace) -> int:
    """A preset ablation: data, one pre-training, per seed and config a fine-tune (+ OSVOS), tables over seeds."""
    seeds = list(range(1, args.seeds + 1))
    runs = plan_preset_runs(PRESETS[args.preset], args.configs, seeds, args.output_dir, args.osvos_configs,
                            args.extra_opts)
    if not args.tables_only:
        if args.dry_run:
            print(f"# synthetic DAVIS {args.data} under {os.path.join(args.output_dir, 'datasets')}")
        else:
            prepare_preset_data(args.output_dir, args.data)
        todo = []
        for index, run in enumerate(runs):
            if os.path.isfile(run.results_file) and not args.force:
                print(f"# [{index + 1}/{len(runs)}] skip {run.config} {run.stage}: {run.results_file} exists")
            elif args.dry_run:
                print(f"# [{index + 1}/{len(runs)}] {run.config} {run.stage}\n{shlex.join(run.command)}")
            else:
                todo.append(index)
        if args.dry_run:
            return 0
        execute_all(runs, todo, args.jobs)
    for path in build_preset_outputs(args.output_dir, args.configs, seeds, args.osvos_configs):
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or print, or skip) every stage of the ablation, then write the tables and the plot."""
    args = parse_args(argv)
    if args.preset is not None:
        return main_preset(args)
    if not args.tables_only:
        runs = plan_runs(args.configs, args.config_dir, args.output_dir, args.mode, args.weights_pattern,
                         args.osvos, args.osvos_config_dir, args.num_gpus, args.extra_opts)
        for run in runs:
            if os.path.isfile(run.results_file) and not args.force:
                print(f"# skip {run.config} {run.stage}: {run.results_file} exists (--force to rerun)")
            elif args.dry_run:
                print(shlex.join(run.command))
            else:
                execute(run)
        if args.dry_run:
            return 0
    for path in build_outputs(args.output_dir, args.configs, args.osvos):
        print(path)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AblationError as error:
        sys.exit(f"run_ablation: error: {error}")
