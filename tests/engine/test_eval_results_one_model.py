"""--eval-only results belong to one model: an interrupted evaluation leaves the previous results whole (no mix of
two models' PNGs, no old tables beside new ones) and the next run replaces them only once it is complete."""
import json
import os

import pytest
from detectron2.config import get_cfg

from slowfast_vos.engine.checkpoint import weights_digest
from slowfast_vos.engine.fresh_results import PRODUCED_BY_FILE, STAGING_DIR, evaluate_replacing_results

SET = "some_val_set"


def _cfg(output_dir):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(output_dir)
    cfg.DATASETS.TEST = (SET,)
    cfg.freeze()
    return cfg


def _evaluation(model_name, frames_before_kill=None):
    """A stand-in for VOSTrainer.test writing ``model_name``'s PNGs, tables and results.json under OUTPUT_DIR."""
    def test(cfg, model):
        results = f"{cfg.OUTPUT_DIR}/inference/{SET}"
        for i in range(3):
            if i == frames_before_kill:
                raise KeyboardInterrupt  # killed half-way
            png = f"{results}/davis_results/seq/{i:05d}.png"
            os.makedirs(os.path.dirname(png), exist_ok=True)
            open(png, "w").write(model_name)
        open(f"{results}/global_results-val.csv", "w").write(model_name)
        for path in (f"{results}/results.json", f"{cfg.OUTPUT_DIR}/results.json"):
            open(path, "w").write(json.dumps({"model": model_name}))
        return {"davis": {"J&F-Mean": 0.5}, "submission": f"{results}/submission.zip"}
    return test


def _contents(out):
    """Every result file's text, but the weights record."""
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != PRODUCED_BY_FILE}


def test_interrupted_eval_only_keeps_the_previous_models_results_whole(tmp_path):
    out = tmp_path / "output"
    evaluate_replacing_results(_cfg(out), None, _evaluation("old"), "")
    before = _contents(out)
    assert set(before.values()) == {"old", json.dumps({"model": "old"})} and len(before) == 6
    with pytest.raises(KeyboardInterrupt):
        evaluate_replacing_results(_cfg(out), None, _evaluation("new", frames_before_kill=2), "")
    after = {k: v for k, v in _contents(out).items() if not k.startswith(STAGING_DIR)}
    assert after == before


def test_complete_eval_only_replaces_all_previous_results_and_removes_leftovers(tmp_path):
    out = tmp_path / "output"
    evaluate_replacing_results(_cfg(out), None, _evaluation("old"), "")
    with pytest.raises(KeyboardInterrupt):
        evaluate_replacing_results(_cfg(out), None, _evaluation("killed", frames_before_kill=1), "")
    weights = tmp_path / "new.pth"
    weights.write_bytes(b"new weights")
    results = evaluate_replacing_results(_cfg(out), None, _evaluation("new"), str(weights))
    contents = _contents(out)
    assert set(contents.values()) == {"new", json.dumps({"model": "new"})} and len(contents) == 6
    assert not (out / STAGING_DIR).exists()
    produced_by = json.loads((out / "inference" / SET / PRODUCED_BY_FILE).read_text())
    # The weights named relative to the output folder, not by this machine's absolute path.
    assert produced_by == {"weights": "../new.pth", "weights_sha256": weights_digest(str(weights))}
    assert results["submission"] == f"{out}/inference/{SET}/submission.zip"
