"""Run the paper's pathway ablation (1-1, 3-3, 7-7, 1-7, 3-7) over training seeds and write its Tables 1 and 2,
a table of every run, the timing table and a J&F/time plot.

    python tools/run_ablation.py --preset quickstart --seeds 3 --output-dir output/ablation-synthetic  # CPU scale
    python tools/run_ablation.py --preset study --data-seed 5150 --output-dir output/study-5150   # temporal study
    python tools/run_ablation.py --config-dir configs --output-dir output/ablation --osvos              # paper scale
    python tools/run_ablation.py --output-dir output/ablation --mode eval \\
        --weights-pattern 'weights/{config}/model_final.pth'                                        # evaluate only
    python tools/run_ablation.py --output-dir output/ablation --tables-only                        # rebuild tables
    python tools/run_ablation.py --output-dir output/ablation --dry-run -- SOLVER.MAX_ITER 100

One pipeline (tools/experiments/ablation/): --preset quickstart generates its synthetic DAVIS under
<output-dir>/datasets and pre-trains one single-frame model in <output-dir>/pretrain; then per training seed N and
row it fine-tunes (or, --mode eval, evaluates) into <output-dir>/seed<N>/<row>/ and runs OSVOS for the OSVOS rows
(the paper's binary DAVIS 2016 protocol; quickstart: osvos_davis2016/, and with --osvos-multi-object also the
DAVIS 2017 multi-object osvos/); last, each row's inference is timed alone, one row after another
(<output-dir>/timing/<row>/): Table 1's time and the plot's x-axis come only from there. A single-seed study is
--seeds 1 (the default without --preset). A stage whose results.json exists is skipped (so an interrupted ablation
resumes) unless --force. Options after ``--`` are config overrides appended to every command. Each stage streams
its output to <its OUTPUT_DIR>/run_<stage>.log and leaves ablation_stage.json (command, wall time, ran alone or
not). The tool prints its wall time at the end and appends it to <output-dir>/ablation_runs.json.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import (
    CONFIGS,
    DEFAULT_DATA,
    DEFAULT_OSVOS_ROWS,
    DEFAULT_WEIGHTS_PATTERN,
    PRESETS,
    Recipe,
    STUDY_ROWS,
    Scripts,
    check_row_name,
    config_dir_recipe,
    load_results,
    pending,
    plan_stages,
    prepare_data,
    record_invocation,
    run_stages,
    write_outputs,
)
from slowfast_vos.precision import cpu_summary
from vos_eval.locks import FolderBusyError, hold_output_folder

from ..stages import REPO, StageError, utc_now

SCRIPTS = Scripts(sys.executable, os.path.join(REPO, "tools", "train_net.py"),
                  os.path.join(REPO, "tools", "osvos_net.py"))
PRESET_CONFIG_DIRS = {name: os.path.join(REPO, "configs", "quickstart") for name in PRESETS}


def _row_name(text: str) -> str:
    """argparse type for a row name (see plan.check_row_name)."""
    try:
        return check_row_name(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options; everything after a bare ``--`` becomes args.extra_opts (config overrides for every stage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-dir", default="configs", help="folder of slowfast_<m-n>.yaml (default configs)")
    parser.add_argument("--configs", nargs="+", type=_row_name, default=None,
                        help="rows, in table order: pathway configs m-n (default: the paper's five; --preset study: "
                             f"{' '.join(STUDY_ROWS)}), m-n+residual (residual fusion), control (no temporal module)")
    parser.add_argument("--output-dir", required=True, help="holds seed<N>/<row>/, timing/, the tables and the plot")
    parser.add_argument("--seeds", type=int, default=None,
                        help="training seeds 1..N per row (default 3 with --preset, else 1)")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="run (and tabulate) seeds from this one to --seeds, e.g. seed 3 on another core or "
                             "machine while seeds 1-2 run here; the seed<N> folders can then be put together")
    parser.add_argument("--mode", choices=("train", "eval"), default="train",
                        help="train each row, or only evaluate existing weights (--eval-only)")
    parser.add_argument("--weights-pattern", default=DEFAULT_WEIGHTS_PATTERN,
                        help="weights per row and seed for eval mode; {config}, {seed} and {output_dir} are filled "
                             f"in (default {DEFAULT_WEIGHTS_PATTERN})")
    parser.add_argument("--osvos", action="store_true", help="semi-supervised OSVOS (Table 2) for every row")
    parser.add_argument("--osvos-configs", nargs="*", type=_row_name, default=None,
                        help="rows that get OSVOS (default: none; 1-1 3-7 with --preset quickstart; every row with "
                             "--preset study)")
    parser.add_argument("--osvos-multi-object", action="store_true",
                        help="also score OSVOS multi-object on the DAVIS 2017 view (recipes that have one: "
                             "quickstart), an extra column of Table 2; doubles the OSVOS time")
    parser.add_argument("--osvos-config-dir", default="configs/osvos", help="folder of OSVOS slowfast_<m-n>.yaml")
    parser.add_argument("--num-gpus", type=int, help="passed to train_net.py (osvos_net.py has --workers instead)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="stages at a time (default 1), only where cores or GPUs are free for them; timing "
                             "stages always run alone")
    parser.add_argument("--force", action="store_true", help="run stages whose results.json already exists")
    parser.add_argument("--dry-run", action="store_true", help="print the commands that would run; run nothing")
    parser.add_argument("--tables-only", action="store_true", help="only rebuild tables and plot from results files")
    preset = parser.add_argument_group(
        "presets", "--preset runs the whole study at one scale: it generates its own synthetic DAVIS under "
        "<output-dir>/datasets and pre-trains one single-frame model that every fine-tune starts from")
    preset.add_argument("--preset", choices=sorted(PRESETS), help="; ".join(
        f"{name}: {recipe(PRESET_CONFIG_DIRS[name]).description}" for name, recipe in sorted(PRESETS.items())))
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
    if args.preset is not None and args.mode != "train":
        parser.error("--preset trains its models; --mode eval is for --config-dir ablations")
    args.seeds = args.seeds if args.seeds is not None else (3 if args.preset else 1)
    if args.configs is None:
        args.configs = list(STUDY_ROWS if args.preset == "study" else CONFIGS)
    if args.seeds < 1 or args.jobs < 1:
        parser.error(f"--seeds and --jobs must be at least 1, got {args.seeds} and {args.jobs}")
    if not 1 <= args.first_seed <= args.seeds:
        parser.error(f"--first-seed must be between 1 and --seeds ({args.seeds}), got {args.first_seed}")
    if len(set(args.configs)) != len(args.configs):
        parser.error(f"--configs lists a config twice: {args.configs}")
    if args.dry_run and args.tables_only:
        parser.error("--dry-run and --tables-only exclude each other")
    # Rows asked for OSVOS by name must have its results; with --tables-only and no such option, Table 2 lists
    # whichever rows ran OSVOS (e.g. a run made before the paper-protocol stage existed).
    args.osvos_required = args.osvos or args.osvos_configs is not None or not args.tables_only
    if args.osvos:
        args.osvos_configs = list(args.configs)
    elif args.osvos_configs is None:
        args.osvos_configs = list(DEFAULT_OSVOS_ROWS.get(args.preset, ()))
    args.osvos_configs = [row for row in args.configs if row in args.osvos_configs]
    args.data = {"seed": args.data_seed, "train_sequences": args.train_sequences, "val_sequences": args.val_sequences}
    if args.data_frames is not None:
        args.data["frames"] = args.data_frames
    if args.data_size is not None:
        args.data["height"], args.data["width"] = args.data_size
    args.extra_opts = extra
    return args


def recipe_of(args: argparse.Namespace) -> Recipe:
    """The preset's recipe, or the --config-dir / --osvos-config-dir one."""
    if args.preset is not None:
        return PRESETS[args.preset](PRESET_CONFIG_DIRS[args.preset])
    return config_dir_recipe(args.config_dir, args.osvos_config_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or print, or skip) every stage of the ablation, then write the tables and the plot."""
    started, start = utc_now(), time.monotonic()
    args = parse_args(argv)
    recipe = recipe_of(args)
    seeds = list(range(args.first_seed, args.seeds + 1))
    ran: list[str] = []
    skipped = 0
    if not args.dry_run:  # one run_ablation per output folder (its stages hold their own folders)
        hold_output_folder(args.output_dir)
    if not args.tables_only:
        stages = plan_stages(recipe, args.configs, seeds, args.output_dir, SCRIPTS, mode=args.mode,
                             weights_pattern=args.weights_pattern, osvos_rows=args.osvos_configs,
                             multi_object=args.osvos_multi_object, num_gpus=args.num_gpus,
                             extra_opts=args.extra_opts)
        if recipe.generates_data:
            if args.dry_run:
                print(f"# synthetic DAVIS {args.data} under {Path(args.output_dir) / 'datasets'}")
            else:
                prepare_data(args.output_dir, args.data)
        todo = pending(stages, args.force)
        for index, stage in enumerate(stages):
            if index not in todo:
                print(f"# skip {stage.label}: {stage.results_file} exists (--force to rerun)")
            elif args.dry_run:
                print(shlex.join(stage.command))
        if args.dry_run:
            return 0
        skipped = len(stages) - len(todo)
        ran = [stages[index].label for index in run_stages(stages, todo, args.jobs)]
    required = args.osvos_configs if args.osvos_required else []
    results = load_results(args.output_dir, args.configs, seeds, recipe, required)
    for path in write_outputs(args.output_dir, results):
        print(path)
    # A comparison report of the same results (write_comparison_report) belongs here, behind a --report option.
    wall_s = time.monotonic() - start
    log = record_invocation(args.output_dir, {
        "command": [sys.executable, *sys.argv] if argv is None else ["run_ablation", *argv],
        "machine": cpu_summary(), "started": started, "wall_s": round(wall_s, 1), "jobs": args.jobs, "stages_run": ran,
        "stages_skipped": skipped})
    print(f"# wall time {wall_s / 60:.1f} min ({wall_s:.0f} s): {len(ran)} stages run, {skipped} skipped; "
          f"recorded in {log}")
    return 0


def cli() -> None:
    """tools/run_ablation.py: ``main``, its errors (a stage, a config, a busy folder) one line naming the tool."""
    try:
        sys.exit(main())
    except (StageError, FolderBusyError) as error:
        sys.exit(f"run_ablation: error: {error}")
