"""results.json: the J&F table is keyed by its benchmark (davis, ytvos), files of schema version 1 still read, and
the best-checkpoint metric follows the first test set's benchmark."""
import json

import pytest
from detectron2.config import get_cfg

from slowfast_vos.config import add_slowfast_vos_config
from slowfast_vos.engine.trainer import best_metric_name
from vos_eval.results_file import RESULTS_VERSION, EvaluationResults, ResultsFileError
from vos_eval.scoring import GLOBAL_COLUMNS


def _table(value: float) -> dict:
    return {k: value for k in GLOBAL_COLUMNS}


def test_version_1_file_without_version_reads_as_davis_results(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"dataset": "davis2016_val", "davis": _table(0.5), "davis_clean": {
        "J&F-Mean": 0.6, "J-Mean": 0.6, "F-Mean": 0.6}, "sequences": 3}))
    read = EvaluationResults.read(str(path), require=("sequences",))
    assert read.benchmark == "davis" and read.davis["J&F-Mean"] == 0.5 and read.sequences == 3
    assert read.subsets == {"clean": {"J&F-Mean": 0.6, "J-Mean": 0.6, "F-Mean": 0.6}}


def test_ytvos_results_are_written_under_ytvos_with_the_schema_version(tmp_path):
    record = EvaluationResults.from_evaluation("ytvos2019_train_holdout", {"ytvos": _table(0.7),
                                                                           "timing": {"eval_time_s": 1.0}})
    path = tmp_path / "results.json"
    record.write(str(path))
    data = json.loads(path.read_text())
    assert data["version"] == RESULTS_VERSION and "davis" not in data and data["ytvos"]["J&F-Mean"] == 0.7
    read = EvaluationResults.read(str(path), require=("timing",))
    assert read.benchmark == "ytvos" and read.metrics == _table(0.7)
    with pytest.raises(ResultsFileError, match="are ytvos results, not DAVIS results"):
        read.davis


@pytest.mark.parametrize("content, message", [
    ({"version": 3, "davis": _table(0.1)}, "schema version 3"),
    ({"version": 2, "davis": _table(0.1), "ytvos": _table(0.1)}, r"found \['davis', 'ytvos'\]"),
    ({"version": 2, "dataset": "x"}, "found none"),
])
def test_unreadable_versions_and_tables_are_named(tmp_path, content, message):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ResultsFileError, match=message):
        EvaluationResults.read(str(path))


@pytest.mark.parametrize("test_sets, key", [
    (("davis2016_val",), "davis/J&F-Mean"),
    (("synthetic_ytvos_train_holdout",), "ytvos/J&F-Mean"),
    (("synthetic_ytvos_train_holdout", "davis2016_val"), "synthetic_ytvos_train_holdout/ytvos/J&F-Mean"),
])
def test_best_metric_name_follows_the_first_test_sets_benchmark(test_sets, key):
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.DATASETS.TEST = test_sets
    assert best_metric_name(cfg) == key
