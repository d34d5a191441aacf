"""tools/compare_benchmarks.py: two benchmark runs' ratios side by side, and whether they agree within a tolerance."""
import json
from pathlib import Path

import pytest

from experiments.benchmark_compare import agreement, read_run, report


def write(path, ratios):
    data = {"1-1": {"config": "1-1", "infer_ratio": 1.0, "infer_cpu_ratio": 1.0, "train_ratio": 1.0}}
    for name, (i, c, t) in ratios.items():
        data[name] = {"config": name.split("@")[0], "infer_ratio": i, "infer_cpu_ratio": c, "train_ratio": t}
    path.write_text(json.dumps(data))
    return str(path)


def test_runs_within_the_tolerance_agree_and_one_ratio_beyond_it_does_not(tmp_path):
    a = read_run(write(tmp_path / "a.json", {"7-7": (2.0, 2.0, 4.0), "7-7@bf16": (1.0, 1.0, 2.0)})).ratios
    b = read_run(write(tmp_path / "b.json", {"7-7": (2.08, 1.96, 4.1), "7-7@bf16": (1.0, 1.0, 2.0)})).ratios
    rows = agreement(a, b)
    assert len(rows) == 6 and ("7-7", "infer_ratio", 2.0, 2.08, pytest.approx(0.04)) in rows
    table, ok = report(rows, 0.05)
    assert ok and "4.0%" in table
    c = read_run(write(tmp_path / "c.json", {"7-7": (2.0, 2.0, 4.6), "7-7@bf16": (1.0, 1.0, 2.0)})).ratios
    table, ok = report(agreement(a, c), 0.05)
    assert not ok and "15.0% | no" in table


def test_a_file_without_round_ratios_is_refused_naming_it(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"1-1": {"config": "1-1", "infer_ms_per_frame": 100.0}}))
    with pytest.raises(ValueError, match="old.json: config '1-1' has no"):
        read_run(str(path))


def test_the_runs_machine_load_is_read_where_recorded(tmp_path):
    old = write(tmp_path / "old.json", {"7-7": (2.0, 2.0, 4.0)})
    assert read_run(old).other_cpu_share is None
    path = tmp_path / "new.json"
    data = json.loads(Path(old).read_text())
    for entry in data.values():
        entry["run_other_cpu_share"] = 0.031
    path.write_text(json.dumps(data))
    assert read_run(str(path)).other_cpu_share == 0.031
