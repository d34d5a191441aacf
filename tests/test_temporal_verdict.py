"""tools/temporal_verdict.py: issue 19's net-win criteria over a seeded ablation run's results files."""
import json

import pytest
from helpers import load_tool, write_seeded_run

from slowfast_vos.ablation.verdict import collect, verdicts
from slowfast_vos.evaluation.results_file import EvaluationResults
from vos_eval.scoring import GLOBAL_COLUMNS


@pytest.fixture(scope="module")
def tool():
    return load_tool("temporal_verdict")


BASE = {"control": [(0.80, 0.85, 0.55), (0.81, 0.86, 0.56), (0.79, 0.84, 0.54)],
        "1-1": [(0.80, 0.85, 0.56), (0.80, 0.85, 0.56), (0.80, 0.85, 0.56)]}


def test_a_row_ahead_everywhere_wins_and_each_criterion_is_reported(tool, tmp_path, capsys):
    wins = [(0.84, 0.852, 0.66), (0.85, 0.853, 0.67), (0.83, 0.851, 0.65)]
    write_seeded_run(tmp_path, {**BASE, "3-7+residual": wins})
    out = tmp_path / "verdict"
    assert tool.main([str(tmp_path), "--output", str(out)]) == 0
    result = json.loads((out / "verdict.json").read_text())["verdicts"]["3-7+residual"]
    assert result["wins"] and all(result["checks"].values())
    assert result["overall"]["control"]["margin"] == pytest.approx(0.04)
    assert result["overall"]["control"]["std"] == pytest.approx(0.01)
    assert result["degraded_gain"]["1-1"] == pytest.approx(0.10)
    assert "| 3-7+residual |" in (out / "verdict.md").read_text() and "**yes**" in capsys.readouterr().out


@pytest.mark.parametrize("row,failed", [
    ([(0.805, 0.85, 0.66), (0.815, 0.85, 0.67), (0.795, 0.85, 0.65)], "overall ahead of both by one std"),
    ([(0.84, 0.83, 0.66), (0.85, 0.83, 0.67), (0.83, 0.83, 0.65)], "clean within 0.01 of the better baseline"),
    ([(0.84, 0.852, 0.58), (0.85, 0.853, 0.59), (0.83, 0.851, 0.57)], "degraded ahead of both by 0.05"),
])
def test_a_row_that_misses_one_criterion_does_not_win(tool, tmp_path, row, failed):
    write_seeded_run(tmp_path, {**BASE, "3-7": row})
    table = collect(str(tmp_path))
    result = verdicts(table, 0.01, 0.05)["3-7"]
    assert not result["wins"] and not result["checks"][failed]
    assert sum(not ok for ok in result["checks"].values()) == 1


def test_missing_baseline_and_untagged_sets_are_named(tool, tmp_path):
    write_seeded_run(tmp_path / "a", {"1-1": BASE["1-1"], "3-7": BASE["1-1"]})
    with pytest.raises(SystemExit, match="baseline row.*control"):
        tool.main([str(tmp_path / "a")])
    path = tmp_path / "b" / "seed1" / "1-1" / "results.json"
    path.parent.mkdir(parents=True)
    EvaluationResults("davis2016_val", {k: 0.5 for k in GLOBAL_COLUMNS}).write(str(path))
    with pytest.raises(SystemExit, match="frame_tags.json"):
        tool.main([str(tmp_path / "b")])
