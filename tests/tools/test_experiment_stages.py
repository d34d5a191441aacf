"""The experiments' one stage runner and one stage record (tools/experiments/stages.py): a stage's output goes to
its log and, filtered, to the console; its record keeps the inputs its results depend on, and reads back."""
import json
import os
import sys

import pytest

from experiments.stages import StageError, StageRecord, run_logged
from vos_eval.output_folder import SymlinkError

SCRIPT = "import os, sys; print('step 1'); print('eta: 0:01'); print(os.getcwd()); sys.exit(int(sys.argv[1]))"


@pytest.mark.slow
def test_run_logged_keeps_everything_in_the_log_and_echoes_what_the_filter_returns(tmp_path, capsys):
    log = tmp_path / "stage" / "run.log"
    code = run_logged([sys.executable, "-c", SCRIPT, "3"], str(log),
                      echo=lambda line: f"  {line}" if "eta:" in line else None, cwd=str(tmp_path))
    assert code == 3
    lines = log.read_text().splitlines()
    assert lines[0].startswith("$ ") and lines[0].endswith(" 3") and lines[1:] == ["step 1", "eta: 0:01",
                                                                                   str(tmp_path)]
    assert capsys.readouterr().out == "  eta: 0:01\n"
    assert run_logged([sys.executable, "-c", SCRIPT, "0"], str(log), echo=False) == 0
    assert capsys.readouterr().out == "" and log.read_text().splitlines()[-1] == os.getcwd()  # log rewritten


def test_run_logged_never_writes_a_log_through_a_link(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    (tmp_path / "run.log").symlink_to(target)
    with pytest.raises(SymlinkError):
        run_logged([sys.executable, "-c", "pass"], str(tmp_path / "run.log"))
    assert target.read_text() == "keep"


def test_stage_record_keeps_its_inputs_and_writes_none_when_it_has_none(tmp_path):
    with_inputs = StageRecord("bf16 evaluation", ["python", "tools/train_net.py"], "2026-12-07T05:00:00Z", 12.5,
                              True, 1, "eval", {"weights_sha256": "ab", "precision": "bf16"})
    with_inputs.write(str(tmp_path / "a.json"))
    assert StageRecord.read(str(tmp_path / "a.json")) == with_inputs
    plain = StageRecord("1-1 train seed 1", ["python", "tools/train_net.py"], "2026-12-07T05:00:00Z", 3.0, False, 2,
                        "train")
    plain.write(str(tmp_path / "b.json"))
    assert set(json.loads((tmp_path / "b.json").read_text())) == {
        "stage", "command", "started", "wall_s", "ran_alone", "jobs", "kind"}  # ablation_stage.json's keys
    assert StageRecord.read(str(tmp_path / "b.json")).inputs is None
    assert StageRecord.read(str(tmp_path / "missing.json")) is None
    (tmp_path / "c.json").write_text(json.dumps({"config_file": "c.yaml", "precision": "bf16"}))
    with pytest.raises(StageError, match=r"c\.json"):
        StageRecord.read(str(tmp_path / "c.json"))
