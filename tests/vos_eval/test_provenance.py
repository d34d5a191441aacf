"""Portable provenance (vos_eval/provenance.py): records meant to be committed (ablation_runs.json, stage
records, the comparison report and compare_runs' tables, benchmark JSON) name paths relative to the repository or
the run's output folder, never the absolute paths of the machine that wrote them."""
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from helpers import REPO, load_tool, write_seeded_run

from experiments import ablation
from experiments.ablation import Stage
from slowfast_vos.data import generate_synthetic_davis
from vos_eval.provenance import portable_command, portable_path
from vos_eval.reporting import write_comparison_report


def machine_paths(tmp_path: Path):
    """The absolute paths of this machine a record could leak: the test's folders, the repository, the Python."""
    return [str(tmp_path), str(tmp_path.resolve()), str(REPO), sys.executable, sys.prefix]


def assert_no_machine_path(folder: Path, tmp_path: Path) -> int:
    """Every text file under ``folder`` is free of machine_paths; returns how many files were checked."""
    checked = 0
    for path in folder.rglob("*"):
        if path.suffix not in (".json", ".md", ".csv", ".html"):
            continue
        text = path.read_text(encoding="utf-8")
        for leaked in machine_paths(tmp_path):
            assert leaked not in text, f"{path} records the machine path {leaked}"
        checked += 1
    return checked


def test_paths_become_relative_to_the_repository_or_the_output_folder(tmp_path):
    out = tmp_path / "ablation"
    assert portable_path(str(REPO / "tools" / "train_net.py")) == "tools/train_net.py"
    assert portable_path(str(out), str(out)) == "."
    assert portable_path(str(out / "pretrain" / "model_final.pth"), str(out / "seed1" / "1-1")) == (
        "../../pretrain/model_final.pth")
    assert portable_path("/elsewhere/DAVIS", str(out)) == "<external>/DAVIS"  # sharing only the root: not climbed to
    assert portable_path("output/run", str(out)) == "output/run"  # relative already: as given
    command = [sys.executable, str(REPO / "tools" / "run_ablation.py"), f"--output-dir={out}", "SEED", "1"]
    assert portable_command(command, str(out)) == ["python", "tools/run_ablation.py", "--output-dir=.", "SEED", "1"]
    notes = "/opt/env/python-notes"  # an interpreter's name only, not any name starting with "python"
    assert portable_command(["/opt/env/bin/python3.11", notes]) == ["python", "<external>/python-notes"]


def test_ablation_records_hold_no_absolute_path_of_the_machine(tmp_path):
    out = tmp_path / "ablation"
    stage_dir = out / "seed1" / "1-1"
    weights = out / "pretrain" / "model_final.pth"
    code = f"import pathlib; pathlib.Path({str(stage_dir / 'results.json')!r}).write_text('{{}}')"
    command = [sys.executable, "-c", code, "MODEL.WEIGHTS", str(weights), "OUTPUT_DIR", str(stage_dir)]
    stage = Stage("1-1 train seed 1", "train", None, command, str(stage_dir), [], (), False)
    record = ablation.run_stages([stage], [0])[0]
    assert record.command[:2] == ["python", "-c"]
    assert record.command[3:] == ["MODEL.WEIGHTS", "../../pretrain/model_final.pth", "OUTPUT_DIR", "."]
    log = ablation.record_invocation(str(out), {
        "command": [sys.executable, str(REPO / "tools" / "run_ablation.py"), "--output-dir", str(out)],
        "started": "2026-12-07T00:00:00Z", "wall_s": 1.0, "jobs": 1, "stages_run": [stage.label], "stages_skipped": 0})
    entry = json.loads(Path(log).read_text())["invocations"][0]
    assert entry["command"] == "python tools/run_ablation.py --output-dir ."
    # The stage's code string names its results file; the record keeps that argument as it is (not a path).
    (stage_dir / "ablation_stage.json").write_text(json.dumps({**json.loads(
        (stage_dir / "ablation_stage.json").read_text()), "command": record.command[:2] + record.command[3:]}))
    assert assert_no_machine_path(out, tmp_path) == 3  # ablation_runs.json, the stage record, its results.json


def test_compare_runs_tables_name_the_runs_without_machine_paths(tmp_path):
    write_seeded_run(tmp_path / "fp32", {"1-1": [(0.8, 0.8, 0.6), (0.82, 0.84, 0.62)]})
    write_seeded_run(tmp_path / "bf16", {"1-1": [(0.81, 0.8, 0.6), (0.8, 0.83, 0.61)]})
    out = tmp_path / "report"
    assert load_tool("compare_runs").main(
        [f"fp32={tmp_path / 'fp32'}", f"bf16={tmp_path / 'bf16'}", "--output", str(out)]) == 0
    assert json.loads((out / "comparison.json").read_text())["runs"] == {"fp32": "../fp32", "bf16": "../bf16"}
    assert assert_no_machine_path(out, tmp_path) == 2


def test_comparison_report_names_results_and_data_relative_to_the_report(tmp_path):
    root = generate_synthetic_davis(str(tmp_path / "DAVIS-synthetic"), train_sequences=1, val_sequences=1, frames=4,
                                    height=48, width=64, progress=None)
    results = tmp_path / "results"
    shutil.copytree(os.path.join(root, "2016", "Annotations", "480p"), results)
    index = write_comparison_report(os.path.join(root, "2016"), [str(results), str(results)], ["a", "b"],
                                    str(tmp_path / "report"), frames_per_sequence=1)
    page = Path(index).read_text(encoding="utf-8")
    assert "<b>a</b>: ../results</li>" in page and "(../DAVIS-synthetic/2016)" in page
    assert assert_no_machine_path(tmp_path / "report", tmp_path) == 1


@pytest.mark.parametrize("inside", [True, False])
def test_a_path_outside_repository_and_output_keeps_only_its_name(tmp_path, inside):
    path = str(REPO / "docs" / "x.json") if inside else "/opt/data/DAVIS"
    shown = portable_path(path, str(tmp_path / "out"))
    assert not os.path.isabs(shown) and shown == ("docs/x.json" if inside else "<external>/DAVIS")


def test_committed_docs_name_no_machine_path():
    """Committed outputs under docs/ (logs, records, tables, reports) hold no checkout, home or temporary folder."""
    leaked = re.compile(r"(?<![\w.~-])/(?:work|root|tmp|home|Users)/")
    found = [f"{path.relative_to(REPO)}:{number}" for path in sorted((REPO / "docs").rglob("*")) if path.is_file()
             and path.suffix in (".md", ".json", ".csv", ".log", ".txt", ".html")
             for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if leaked.search(line)]
    assert not found, f"machine paths in {found[:10]}"
