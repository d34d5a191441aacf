"""tools/compare_runs.py: two seeded runs of one recipe (e.g. fp32 and bf16) agree when each row's J&F means differ
by less than one seed std, overall and on clean and degraded frames."""
import json

import pytest
from helpers import load_tool, write_seeded_run

from experiments.ablation.compare import compare_runs
from vos_eval.results_file import ResultsFileError

FP32 = {"1-1": [(0.80, 0.84, 0.60), (0.82, 0.86, 0.62), (0.78, 0.82, 0.58)],
        "3-7": [(0.79, 0.81, 0.70), (0.80, 0.82, 0.71), (0.78, 0.80, 0.69)]}


@pytest.fixture(scope="module")
def tool():
    return load_tool("compare_runs")


def shifted(rows, overall=0.0, clean=0.0, degraded=0.0):
    return {row: [(o + overall, c + clean, d + degraded) for o, c, d in seeds] for row, seeds in rows.items()}


def test_runs_within_the_seed_spread_agree_and_the_report_is_written(tool, tmp_path, capsys):
    write_seeded_run(tmp_path / "fp32", FP32)
    write_seeded_run(tmp_path / "bf16", shifted(FP32, overall=0.005, clean=-0.004, degraded=0.009))
    out = tmp_path / "report"
    assert tool.main([f"fp32={tmp_path / 'fp32'}", f"bf16={tmp_path / 'bf16'}", "--output", str(out)]) == 0
    rows = json.loads((out / "comparison.json").read_text())["rows"]
    assert list(rows) == ["1-1", "3-7"] and all(entry["agree"] for entry in rows.values())
    assert rows["1-1"]["overall"]["difference"] == pytest.approx(0.005)
    assert rows["1-1"]["overall"]["spread"] == pytest.approx(0.02)
    assert rows["3-7"]["degraded"]["bf16"]["mean"] == pytest.approx(0.709)
    assert "agrees with fp32 within one seed std" in (out / "comparison.md").read_text()
    assert "| 3-7 | degraded |" in capsys.readouterr().out


def test_a_shift_of_one_seed_std_on_one_measure_is_a_disagreement_named_in_the_summary(tool, tmp_path, capsys):
    write_seeded_run(tmp_path / "fp32", FP32)
    write_seeded_run(tmp_path / "bf16", shifted(FP32, degraded=-0.011))  # 3-7's std is 0.01, 1-1's 0.02
    result = compare_runs({"fp32": str(tmp_path / "fp32"), "bf16": str(tmp_path / "bf16")})
    assert result["1-1"]["agree"] and not result["3-7"]["agree"]
    assert result["3-7"]["overall"]["agree"] and not result["3-7"]["degraded"]["agree"]
    tool.main([f"fp32={tmp_path / 'fp32'}", f"bf16={tmp_path / 'bf16'}", "--rows", "3-7"])
    assert "differs from fp32 by one seed std or more on: 3-7 degraded." in capsys.readouterr().out


def test_a_missing_row_a_single_seed_and_a_bad_argument_are_named(tool, tmp_path):
    write_seeded_run(tmp_path / "a", FP32)
    write_seeded_run(tmp_path / "b", {"1-1": FP32["1-1"][:1]})
    runs = {"a": str(tmp_path / "a"), "b": str(tmp_path / "b")}
    with pytest.raises(ResultsFileError, match=r"\(b\) has no results for row '3-7'"):
        compare_runs(runs, ["3-7"])
    with pytest.raises(ResultsFileError, match=r"\(b\), row '1-1': 1 training seed\(s\)"):
        compare_runs(runs)
    with pytest.raises(SystemExit):
        tool.main(["a", f"b={tmp_path / 'b'}"])


def test_protocol_compares_the_rows_osvos_results_not_the_parents(tool, tmp_path):
    """--protocol osvos_davis2016 reads seed<s>/<row>/osvos_davis2016/results.json: parents that agree do not make
    OSVOS results that differ agree, and the report is named after the protocol."""
    for run, osvos_shift in (("long", 0.0), ("short", -0.03)):
        write_seeded_run(tmp_path / run, FP32)
        write_seeded_run(tmp_path / run, shifted(FP32, overall=osvos_shift), subfolder="osvos_davis2016")
    runs = {"long": str(tmp_path / "long"), "short": str(tmp_path / "short")}
    assert all(entry["agree"] for entry in compare_runs(runs).values())
    osvos = compare_runs(runs, protocol="osvos_davis2016")
    assert osvos["3-7"]["overall"]["difference"] == pytest.approx(-0.03) and not osvos["3-7"]["agree"]
    out = tmp_path / "report"
    tool.main([f"long={runs['long']}", f"short={runs['short']}", "--protocol", "osvos_davis2016", "--output", str(out)])
    assert json.loads((out / "comparison-osvos_davis2016.json").read_text())["protocol"] == "osvos_davis2016"
    assert (out / "comparison-osvos_davis2016.md").read_text().startswith("OSVOS J&F (osvos_davis2016/)")
    with pytest.raises(ResultsFileError, match="seed<s>/<row>/osvos/results.json"):
        compare_runs(runs, protocol="osvos")
