"""vos_eval.run_folder: one owner of a run folder's names; its CSV tables read back what was written."""
import math

import pytest

from vos_eval.errors import VOSFormatError, VOSNotFoundError
from vos_eval.run_folder import (
    DAVIS_RESULTS,
    GLOBAL_COLUMNS,
    YTVOS_RESULTS,
    RunFolder,
    read_global,
    read_per_sequence,
    write_tables,
)


def test_paths_of_a_run_folder(tmp_path):
    run = RunFolder(str(tmp_path))
    assert run.inference_dir == str(tmp_path / "inference")
    assert run.evaluation_dir("davis2017_val") == str(tmp_path / "inference" / "davis2017_val")
    assert run.results_dir(DAVIS_RESULTS) == str(tmp_path / "davis_results")
    assert run.results_json == str(tmp_path / "results.json")
    assert run.per_sequence_csv("val") == str(tmp_path / "per-sequence_results-val.csv")
    with pytest.raises(ValueError, match="'../x'"):
        run.evaluation_dir("../x")
    with pytest.raises(ValueError, match="results folder must be one of"):
        run.results_dir("elsewhere")


def test_tables_round_trip_through_their_reader(tmp_path):
    metrics = {c: i / 10 for i, c in enumerate(GLOBAL_COLUMNS)}
    rows = [("bear_1", 0.8125, 0.5), ("car_2", float("nan"), 0.25)]
    global_path, seq_path = write_tables(str(tmp_path), "val", metrics, rows)
    assert (global_path, seq_path) == (RunFolder(str(tmp_path)).global_csv("val"),
                                       RunFolder(str(tmp_path)).per_sequence_csv("val"))
    back = read_per_sequence(seq_path)
    assert [r[0] for r in back] == ["bear_1", "car_2"] and back[0][1:] == (0.812, 0.5)  # 3 decimals, as written
    assert math.isnan(back[1][1])
    assert read_global(global_path) == pytest.approx(metrics)


def test_a_bad_table_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(VOSNotFoundError, match="per-sequence_results-val.csv"):
        read_per_sequence(str(tmp_path / "per-sequence_results-val.csv"))
    bad = tmp_path / "per-sequence_results-val.csv"
    bad.write_text("Sequence,J-Mean,F-Mean\nbear_1,0.5,high\n")
    with pytest.raises(VOSFormatError, match=r"per-sequence_results-val.csv:2: 'high' is not a number"):
        read_per_sequence(str(bad))
    bad.write_text("name,J\n")
    with pytest.raises(VOSFormatError, match="expected the header Sequence,J-Mean,F-Mean"):
        read_per_sequence(str(bad))


def test_find_results_dir_of_an_osvos_folder_a_training_run_and_a_plain_folder(tmp_path):
    (tmp_path / "osvos" / DAVIS_RESULTS).mkdir(parents=True)
    assert RunFolder(str(tmp_path / "osvos")).find_results_dir() == str(tmp_path / "osvos" / DAVIS_RESULTS)
    train = RunFolder(str(tmp_path / "train"))
    for name, sub in (("a", DAVIS_RESULTS), ("b", YTVOS_RESULTS)):
        (tmp_path / "train" / "inference" / name / sub).mkdir(parents=True)
    assert train.find_results_dir("b") == str(tmp_path / "train" / "inference" / "b" / YTVOS_RESULTS)
    with pytest.raises(VOSNotFoundError, match="holds results of 2 datasets"):
        train.find_results_dir()
    with pytest.raises(VOSNotFoundError, match="no results of dataset 'c'"):
        train.find_results_dir("c")
    (tmp_path / "plain").mkdir()
    assert RunFolder(str(tmp_path / "plain")).find_results_dir() == str(tmp_path / "plain")
