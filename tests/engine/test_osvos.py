"""tools/osvos_net.py: per-sequence first-frame fine-tuning, results, resuming and splitting over processes."""
import json
import subprocess
import sys

import pytest
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.modeling import build_model

from helpers import REPO, synthetic_env
from tiny import TINY_TRAIN_OPTS
from slowfast_vos import add_slowfast_vos_config

CONFIG = str(REPO / "configs" / "quickstart" / "osvos_slowfast_3-7.yaml")
FRAMES = 5
TINY_OPTS = [*TINY_TRAIN_OPTS, "OSVOS.ITERS", "2", "OSVOS.LOG_PERIOD", "1"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    environ = synthetic_env(tmp_path_factory, train_sequences=1, val_sequences=2, frames=FRAMES)
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.merge_from_file(CONFIG)
    cfg.MODEL.WEIGHTS = ""
    parent = tmp_path_factory.mktemp("parent")
    DetectionCheckpointer(build_model(cfg), save_dir=str(parent)).save("parent")
    return environ, str(parent / "parent.pth")


def osvos(env, weights, out, *args):
    cmd = [sys.executable, str(REPO / "tools" / "osvos_net.py"), "--config-file", CONFIG, *args, *TINY_OPTS,
           "MODEL.WEIGHTS", weights, "OUTPUT_DIR", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"osvos_net failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


def test_osvos_finetunes_each_sequence_scores_and_resumes(setup, tmp_path):
    env, weights = setup
    out = tmp_path / "osvos"
    log = osvos(env, weights, out)
    done = sorted(p.stem for p in (out / "sequences_done").glob("*.json"))
    assert len(done) == 2
    for seq in done:
        assert len(list((out / "davis_results" / seq).glob("*.png"))) == FRAMES
        summary = json.loads((out / "sequences_done" / f"{seq}.json").read_text())
        assert summary["frames"] == FRAMES and summary["finetune_s"] > 0
        assert f"OSVOS [{seq}] iter 2/2" in log
    results = json.loads((out / "results.json").read_text())
    assert results["sequences"] == 2 and 0.0 <= results["davis"]["J&F-Mean"] <= 1.0
    assert "copypaste: davis/J&F-Mean=" in log
    # The generated set has frame tags: the OSVOS score is split by frame kind too, as unsupervised evaluation's is.
    clean = results["davis_clean"]
    assert 0 < clean["frames"] <= 2 * (FRAMES - 2) and 0.0 <= clean["J&F-Mean"] <= 1.0

    # Run again: nothing is redone. Remove one marker: only that sequence runs again.
    stamp = {p: p.stat().st_mtime_ns for p in (out / "davis_results").rglob("*.png")}
    log = osvos(env, weights, out)
    assert "2 already done, 0 to run" in log and "iter 2/2" not in log
    (out / "sequences_done" / f"{done[0]}.json").unlink()
    log = osvos(env, weights, out)
    assert "1 already done, 1 to run" in log
    assert f"OSVOS [{done[0]}] iter 2/2" in log and f"OSVOS [{done[1]}] iter" not in log
    for png, mtime in stamp.items():
        assert (png.stat().st_mtime_ns == mtime) == (png.parent.name != done[0])


def test_osvos_shards_and_worker_processes_cover_all_sequences(setup, tmp_path):
    env, weights = setup
    out = tmp_path / "sharded"
    log = osvos(env, weights, out, "--shard", "0/2")
    assert "1 sequences not done yet" in log and not (out / "results.json").exists()
    osvos(env, weights, out, "--shard", "1/2")
    assert (out / "results.json").is_file()

    parallel = tmp_path / "parallel"
    osvos(env, weights, parallel, "--workers", "2")
    assert len(list((parallel / "sequences_done").glob("*.json"))) == 2
    assert json.loads((parallel / "results.json").read_text())["sequences"] == 2


def test_osvos_in_bf16_finetunes_and_segments_every_sequence(setup, tmp_path):
    env, weights = setup
    out = tmp_path / "bf16"
    log = osvos(env, weights, out, "SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.PRECISION", "bf16",
                "TEST.PRECISION", "bf16")
    assert log.count("Mixed-precision training: bf16 autocast on cpu") == 2  # one fine-tuning per sequence
    for summary in (out / "sequences_done").glob("*.json"):
        assert len(list((out / "davis_results" / summary.stem).glob("*.png"))) == FRAMES
    results = json.loads((out / "results.json").read_text())
    assert results["sequences"] == 2 and 0.0 <= results["davis"]["J&F-Mean"] <= 1.0


def test_osvos_freezes_only_the_slowfast_module_by_default():
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.merge_from_file(str(REPO / "configs" / "osvos" / "slowfast_3-7.yaml"))
    assert cfg.MODEL.FREEZE.SLOWFAST and not cfg.MODEL.FREEZE.BACKBONE
    assert not cfg.MODEL.FREEZE.PROPOSAL_GENERATOR and not cfg.MODEL.FREEZE.ROI_HEADS
    assert cfg.OSVOS.ITERS == 2000 and cfg.SOLVER.BASE_LR == pytest.approx(0.001)
    assert cfg.INPUT.ROTATION_ANGLE == 30.0 and cfg.TEST.DAVIS.TASK == "semi-supervised"
