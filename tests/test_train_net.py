"""tools/train_net.py end to end on a tiny synthetic DAVIS: train, --eval-only, --resume and a 2-process run."""
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import REPO, synthetic_env
from tiny import TINY_TRAIN_OPTS

CONFIG = str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml")
VAL_FRAMES = 6

TINY_OPTS = [*TINY_TRAIN_OPTS, "DATALOADER.NEIGHBOR_TARGETS", "2", "SOLVER.WARMUP_ITERS", "0",
             "DATALOADER.NUM_WORKERS", "0", "TEST.EVAL_PERIOD", "0"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return synthetic_env(tmp_path_factory, train_sequences=2, val_sequences=1, frames=VAL_FRAMES)


def train_net(env, *args, timeout=600):
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", CONFIG, *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"train_net failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


def read_metrics(output_dir: Path):
    return [json.loads(line) for line in (output_dir / "metrics.json").read_text().splitlines() if line.strip()]


def test_train_saves_final_model_and_evaluates_then_eval_only_prints_davis_table(env, tmp_path):
    out = tmp_path / "train"
    log = train_net(env, *TINY_OPTS, "SOLVER.MAX_ITER", "3", "OUTPUT_DIR", str(out))
    assert (out / "model_final.pth").is_file()
    assert "Parameters:" in log and "trainable" in log
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"] == "synthetic_davis2016_val"
    assert 0.0 <= results["davis"]["J&F-Mean"] <= 1.0
    assert results["timing"]["frames"] == VAL_FRAMES and results["timing"]["frames_per_s"] > 0
    assert results["params"]["slowfast"] > 0 and results["params"]["total"] > results["params"]["slowfast"]
    # Evaluation metrics and timing reach the event storage (metrics.json / TensorBoard).
    last = read_metrics(out)[-1]
    assert "davis/J&F-Mean" in last and "timing/frames_per_s" in last
    assert (out / "global_results-val.csv").is_file() or any(out.rglob("global_results-val.csv"))

    evaluated = tmp_path / "eval"
    log = train_net(env, "--eval-only", *TINY_OPTS, "MODEL.WEIGHTS", str(out / "model_final.pth"),
                    "OUTPUT_DIR", str(evaluated))
    assert "copypaste: davis/J&F-Mean=" in log
    again = json.loads((evaluated / "results.json").read_text())
    # The same weights on the same frames give the same masks and scores.
    assert again["davis"] == results["davis"]
    pngs = list((evaluated / "inference" / "synthetic_davis2016_val" / "davis_results").rglob("*.png"))
    assert len(pngs) == VAL_FRAMES


def test_bf16_mixed_precision_training_and_bf16_evaluation(env, tmp_path):
    out = tmp_path / "bf16"
    log = train_net(env, *TINY_OPTS, "SOLVER.MAX_ITER", "3", "SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.PRECISION",
                    "bf16", "TEST.PRECISION", "bf16", "OUTPUT_DIR", str(out))
    assert "Mixed-precision training: bf16 autocast on cpu" in log
    losses = [m["total_loss"] for m in read_metrics(out) if "total_loss" in m]
    assert losses and all(0 < loss < 1e3 for loss in losses)  # metrics.json: the median of the last iterations
    weights = torch.load(out / "model_final.pth", map_location="cpu", weights_only=False)["model"]
    assert {v.dtype for v in weights.values() if v.is_floating_point()} == {torch.float32}
    results = json.loads((out / "results.json").read_text())
    assert 0.0 <= results["davis"]["J&F-Mean"] <= 1.0 and results["timing"]["frames"] == VAL_FRAMES

    # fp16 needs CUDA: the run stops at start-up, naming the key.
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", CONFIG, "--eval-only", *TINY_OPTS,
           "TEST.PRECISION", "fp16", "OUTPUT_DIR", str(tmp_path / "fp16")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "TEST.PRECISION 'fp16' needs a CUDA device" in proc.stderr
    assert not (tmp_path / "fp16" / "results.json").exists()


def test_resume_after_interruption_continues_from_last_checkpoint(env, tmp_path):
    out = tmp_path / "resume"
    opts = [*TINY_OPTS, "SOLVER.MAX_ITER", "40", "SOLVER.CHECKPOINT_PERIOD", "2", "OUTPUT_DIR", str(out)]
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", CONFIG, *opts]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        # last_checkpoint is tagged after a checkpoint file is complete.
        while not (out / "last_checkpoint").is_file() or (out / "last_checkpoint").read_text() == "model_0000001.pth":
            assert proc.poll() is None, "training ended before its second checkpoint"
            assert time.time() < deadline, "no checkpoint written in time"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last = (out / "last_checkpoint").read_text().strip()
    saved_iter = int(last.split("_")[1].split(".")[0])
    assert saved_iter >= 3 and not (out / "model_final.pth").exists()

    log = train_net(env, "--resume", *TINY_OPTS, "SOLVER.MAX_ITER", str(saved_iter + 3),
                    "SOLVER.CHECKPOINT_PERIOD", "2", "OUTPUT_DIR", str(out))
    assert f"Starting training from iteration {saved_iter + 1}" in log
    assert "Loading trainer from" in log and "Loading scheduler from state_dict" in log
    trainer_state = torch.load(out / "model_final.pth", map_location="cpu", weights_only=False)["trainer"]
    assert trainer_state["iteration"] == saved_iter + 2
    # The LR scheduler continued counting from the checkpoint instead of restarting at 0.
    assert trainer_state["hooks"]["LRScheduler"]["last_epoch"] == saved_iter + 3
    assert trainer_state["_trainer"]["optimizer"]["state"], "optimizer momentum buffers are carried on"
    iterations = [m["iteration"] for m in read_metrics(out) if "total_loss" in m]
    # The resumed run writes only iterations after the checkpoint: nothing repeated, nothing skipped.
    assert iterations[-1] == saved_iter + 2


def test_two_processes_train_and_only_rank0_writes_checkpoints(env, tmp_path):
    out = tmp_path / "ddp"
    train_net(env, "--num-gpus", "2", *TINY_OPTS, "SOLVER.IMS_PER_BATCH", "4", "SOLVER.MAX_ITER", "4",
              "OUTPUT_DIR", str(out), timeout=900)
    rank1_log = (out / "log.txt.rank1").read_text()
    rank0_log = (out / "log.txt").read_text()
    assert "Rank of current process: 0. World size: 2" in rank0_log
    assert "Rank of current process: 1. World size: 2" in rank1_log
    for log in (rank0_log, rank1_log):
        assert "Starting training from iteration 0" in log
        # IterationTimer leaves out 2 warm-up iterations: both ranks ran all 4 steps of the DDP loop.
        assert "Overall training speed: 2 iterations" in log
    assert "Saving checkpoint" in rank0_log and "Saving checkpoint" not in rank1_log
    assert sorted(p.name for p in out.glob("*.pth")) == ["model_final.pth"]


def test_run_ablation_trains_two_configs_and_writes_tables_from_their_results(env, tmp_path):
    out = tmp_path / "ablation"
    cmd = [sys.executable, str(REPO / "tools" / "run_ablation.py"),
           "--config-dir", str(REPO / "configs" / "quickstart"), "--configs", "1-1", "3-3", "--output-dir", str(out),
           "--", *TINY_OPTS, "SOLVER.MAX_ITER", "2"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = {c: json.loads((out / "seed1" / c / "results.json").read_text()) for c in ("1-1", "3-3")}
    with open(out / "table1.csv", encoding="utf-8") as f:
        by_config = {row["Config"]: row for row in csv.DictReader(f)}
    assert set(by_config) == {"1-1", "3-3"}
    # Parameter counts and their difference come from the two real runs: the 3-3 module is the bigger one.
    assert int(by_config["1-1"]["Parameters"]) == results["1-1"]["params"]["total"]
    assert int(by_config["3-3"]["Parameters"]) == results["3-3"]["params"]["total"]
    assert int(by_config["3-3"]["Δ params vs 1-1"]) == (
        results["3-3"]["params"]["total"] - results["1-1"]["params"]["total"]) > 0
    # The time column is the timing stage's (each config's inference alone), not the fine-tune's own evaluation.
    timed = json.loads((out / "timing" / "3-3" / "results.json").read_text())["timing"]["eval_time_s"]
    assert float(by_config["3-3"]["Eval time (s)"]) == timed
    assert (out / "table1.md").is_file() and (out / "jf_vs_time.png").stat().st_size > 0
