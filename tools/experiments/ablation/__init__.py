"""The paper's pathway ablation as one pipeline: plan the stages (plan.py), run them resumably (schedule.py), and
summarise the results over training seeds into Tables 1 and 2, a table of every run, the timing table and the
J&F/time plot (tables.py, plot.py). ``tools/run_ablation.py`` is its command line (over command.py)."""
from __future__ import annotations

import os
import sys

from .plan import (
    BASELINE,
    CONFIGS,
    CONTROL,
    DEFAULT_DATA,
    DEFAULT_OSVOS_ROWS,
    DEFAULT_WEIGHTS_PATTERN,
    FUSION_SUFFIXES,
    PRESETS,
    STUDY_ROWS,
    AblationError,
    OSVOSProtocol,
    Recipe,
    Scripts,
    Stage,
    check_row_name,
    config_dir_recipe,
    config_variant,
    plan_stages,
    prepare_data,
    quickstart_recipe,
    run_dir,
    study_recipe,
    weights_for,
)
from ..stages import StageRecord
from .plot import plot_jf_vs_time
from .schedule import execute, pending, record_invocation, run_stages
from .tables import (
    AblationResults,
    Table,
    build_runs_table,
    build_stages_table,
    build_table1,
    build_table2,
    build_timing_table,
    load_results,
    write_table,
)

__all__ = [
    "BASELINE", "CONFIGS", "CONTROL", "DEFAULT_DATA", "DEFAULT_OSVOS_ROWS", "DEFAULT_WEIGHTS_PATTERN",
    "FUSION_SUFFIXES", "PRESETS", "STUDY_ROWS", "AblationError", "AblationResults", "OSVOSProtocol", "Recipe",
    "Scripts", "Stage",
    "StageRecord", "Table", "build_runs_table", "build_stages_table", "build_table1", "build_table2",
    "build_timing_table",
    "check_row_name", "config_dir_recipe", "config_variant", "execute", "load_results", "pending",
    "plan_stages", "plot_jf_vs_time", "prepare_data", "quickstart_recipe", "record_invocation", "run_dir",
    "run_stages", "study_recipe", "weights_for", "write_outputs", "write_table",
]


def write_outputs(output_dir: str, results: AblationResults) -> list[str]:
    """Write table1, table2 (rows that ran OSVOS), runs, timing and stages (.md, .csv) and jf_vs_time.png of an
    ablation's results (load_results) into output_dir; returns the paths written."""
    written = write_table(output_dir, "table1", build_table1(results))
    table2 = build_table2(results)
    if table2 is None:
        print(f"# no OSVOS results under {output_dir}: table 2 not written (run with --osvos or --osvos-configs)",
              file=sys.stderr)
    else:
        written += write_table(output_dir, "table2", table2)
    written += write_table(output_dir, "runs", build_runs_table(results))
    written += write_table(output_dir, "timing", build_timing_table(results))
    stages = build_stages_table(output_dir)
    if stages is not None:
        written += write_table(output_dir, "stages", stages)
    plot = plot_jf_vs_time(results, os.path.join(output_dir, "jf_vs_time.png"))
    if plot is None:
        print(f"# no config timed alone yet under {output_dir}: jf_vs_time.png not written (run the ablation again, "
              "without --tables-only, to run its timing stages)", file=sys.stderr)
    else:
        written.append(plot)
    return written
