"""tools/benchmark_evaluation.py on a tiny set: every evaluator timed as a whole process, numbers cross-checked."""
import json

import pytest

from helpers import load_tool


@pytest.mark.slow
def test_times_whole_processes_and_checks_agreement(tmp_path, capsys):
    tool = load_tool("benchmark_evaluation")
    out = tmp_path / "eval_bench.json"
    assert tool.main(["--sequences", "2", "--frames", "5", "--height", "48", "--width", "64", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    processes = report["processes"]
    names = list(processes)
    assert names[0] == "official toolkit (emulated), 1 process"
    assert "python -m vos_eval --workers 1" in names
    assert report["scored_frames"] == 2 * 3  # semi-supervised: first and last frames are not scored
    for name, entry in processes.items():
        assert entry["seconds"] > 0
        assert entry["speedup"] == processes[names[0]]["seconds"] / entry["seconds"]
    assert 0.0 <= report["metrics"]["J&F-Mean"] <= 1.0
    assert "| evaluator (whole process) | seconds |" in capsys.readouterr().out
