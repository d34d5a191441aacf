"""tools/precision_check.py (logic: tools/experiments/precision_check.py): the comparison of one model's evaluations in
several precisions with fp32."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from helpers import REPO, load_tool, synthetic_env
from tiny import TINY_TRAIN_OPTS

from experiments import precision_check
from experiments.stages import StageRecord
from vos_eval.results_file import EvaluationResults
from vos_eval.davis_format import write_id_png
from vos_eval.run_folder import DAVIS_RESULTS, RunFolder, write_tables
from vos_eval.scoring import GLOBAL_COLUMNS

tool = load_tool("precision_check")


def _run_folder(root, precision, jf, sequences, masks):
    """A fake --eval-only output folder: results.json, the CSV tables and result PNGs."""
    run = RunFolder(str(root / precision))
    folder = run.evaluation_dir("toy_val")
    davis = {k: jf for k in GLOBAL_COLUMNS}
    EvaluationResults("toy_val", davis, timing={"eval_time_s": 2.0, "frames": 4, "frames_per_s": 2.0}).write(
        run.results_json)
    os.makedirs(folder, exist_ok=True)
    write_tables(folder, "val", davis, [(name, j, f) for name, (j, f) in sequences.items()])
    for (sequence, frame), ids in masks.items():
        write_id_png(os.path.join(folder, DAVIS_RESULTS, sequence, f"{frame}.png"), ids)
    return run.output_dir


def _masks(second_frame):
    a = np.zeros((4, 4), np.uint8)
    a[:2, :2] = 1  # 4 pixels
    return {("s1", "00000"): a, ("s1", "00001"): second_frame}


def test_mask_agreement_counts_iou_and_identical_frames(tmp_path):
    ref = np.zeros((4, 4), np.uint8)
    ref[:2, :2] = 1
    other = np.zeros((4, 4), np.uint8)
    other[:2, :3] = 1  # 6 pixels, 4 shared: IoU 4/6
    fp32 = _run_folder(tmp_path, "fp32", 0.8, {"s1": (0.8, 0.8)}, _masks(ref))
    bf16 = _run_folder(tmp_path, "bf16", 0.8, {"s1": (0.8, 0.8)}, _masks(other))
    res = tool.mask_agreement(os.path.join(fp32, "inference", "toy_val", "davis_results"),
                              os.path.join(bf16, "inference", "toy_val", "davis_results"))
    assert res["frames"] == 2
    assert res["identical_frames"] == pytest.approx(0.5)
    assert res["mean_iou"] == pytest.approx((1 + 4 / 6) / 2)
    assert res["min_iou"] == pytest.approx(4 / 6)


def test_mask_agreement_names_a_missing_frame(tmp_path):
    fp32 = _run_folder(tmp_path, "fp32", 0.8, {"s1": (0.8, 0.8)}, _masks(np.zeros((4, 4), np.uint8)))
    bf16 = _run_folder(tmp_path, "bf16", 0.8, {"s1": (0.8, 0.8)}, {})
    with pytest.raises(SystemExit, match="00000.png is missing"):
        tool.mask_agreement(os.path.join(fp32, "inference", "toy_val", "davis_results"),
                            os.path.join(bf16, "inference", "toy_val", "davis_results"))


def test_compare_reports_deltas_against_fp32(tmp_path):
    """The largest per-object J&F difference leaves out an object neither run scored (empty cells), and counts one
    that only one run scored as an infinite difference."""
    same = _masks(np.zeros((4, 4), np.uint8))
    nan = float("nan")
    runs = {
        "fp32": _run_folder(tmp_path, "fp32", 0.80, {"s1": (0.8, 0.8), "s2": (0.6, 0.7), "s3": (nan, nan)}, same),
        "bf16": _run_folder(tmp_path, "bf16", 0.79, {"s1": (0.8, 0.8), "s2": (0.6, 0.66), "s3": (nan, nan)}, same),
    }
    args = tool.parse_args(["--config-file", "c.yaml", "--weights", __file__, "--output-dir", str(tmp_path)])
    report = tool.compare(args, runs)
    bf16 = report["precisions"]["bf16"]
    assert report["dataset"] == "toy_val"
    assert bf16["delta_vs_fp32"]["J&F-Mean"] == pytest.approx(-0.01)
    assert bf16["max_sequence_abs_delta_jf"] == pytest.approx(0.02)  # s2: (0.7 - 0.66) / 2
    assert bf16["masks"]["identical_frames"] == 1.0
    assert "delta_vs_fp32" not in report["precisions"]["fp32"]
    text = tool.markdown(report)
    assert "-0.0100" in text and "0.0200" in text
    runs["bf16"] = _run_folder(tmp_path, "bf16", 0.79, {"s1": (0.8, 0.8), "s2": (0.6, 0.7), "s3": (0.5, 0.5)}, same)
    assert tool.compare(args, runs)["precisions"]["bf16"]["max_sequence_abs_delta_jf"] == float("inf")


def test_evaluate_skips_only_results_of_the_same_weights(tmp_path, monkeypatch):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"first")
    args = tool.parse_args(["--config-file", "c.yaml", "--weights", str(weights), "--output-dir", str(tmp_path),
                            "--precisions", "bf16"])
    assert args.precisions == ["fp32", "bf16"]
    calls = []

    def fake_run(cmd, log_file, echo=True, cwd=None):
        calls.append(cmd)
        out = cmd[cmd.index("OUTPUT_DIR") + 1]
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({}, f)
        return 0

    monkeypatch.setattr(precision_check, "run_logged", fake_run)
    tool.evaluate(args, "bf16")
    assert calls[-1][-2:] == ["TEST.PRECISION", "bf16"]
    tool.evaluate(args, "bf16")
    assert len(calls) == 1  # same weights and settings: not evaluated again
    weights.write_bytes(b"other weights")
    tool.evaluate(args, "bf16")
    assert len(calls) == 2  # other weights: evaluated again
    record = StageRecord.read(str(tmp_path / "bf16" / "precision_check_run.json"))
    assert record.kind == "eval" and record.inputs["precision"] == "bf16" and record.command[0] == "python"
    (tmp_path / "bf16" / "precision_check_run.json").write_text(json.dumps(
        {"config_file": "c.yaml", "weights_sha256": record.inputs["weights_sha256"], "opts": [], "precision": "bf16"}))
    tool.evaluate(args, "bf16")
    assert len(calls) == 3  # an older tool's marker (not a stage record): evaluated again


def test_opts_cannot_set_the_precision(tmp_path):
    with pytest.raises(SystemExit):
        tool.parse_args(["--config-file", "c.yaml", "--weights", __file__, "--output-dir", str(tmp_path),
                         "--opts", "TEST.PRECISION", "fp32"])


@pytest.mark.slow
def test_precision_check_end_to_end_on_a_tiny_model(tmp_path_factory, tmp_path):
    """Two real --eval-only runs (fp32, bf16) of one saved model on a tiny synthetic set, then the comparison."""
    env = synthetic_env(tmp_path_factory, train_sequences=1, val_sequences=1, frames=5)
    config = str(REPO / "configs" / "quickstart" / "slowfast_1-1.yaml")
    weights = tmp_path / "model.pth"
    save = (
        "import sys, torch\n"
        "from detectron2.config import get_cfg\nfrom detectron2.modeling import build_model\n"
        "from slowfast_vos import add_slowfast_vos_config\n"
        "cfg = get_cfg(); add_slowfast_vos_config(cfg); cfg.merge_from_file(sys.argv[1])\n"
        "torch.manual_seed(0); torch.save({'model': build_model(cfg).state_dict()}, sys.argv[2])\n"
    )
    subprocess.run([sys.executable, "-c", save, config, str(weights)], check=True, env=env, cwd=REPO)
    out = tmp_path / "check"
    opts = TINY_TRAIN_OPTS + ["TEST.VOS.SCORE_THRESH", "0.0"]
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "precision_check.py"), "--config-file", config, "--weights",
         str(weights), "--output-dir", str(out), "--opts", *opts],
        env=env, cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "precision_check.json").read_text())
    assert set(report["precisions"]) == {"fp32", "bf16"}
    assert report["precisions"]["bf16"]["masks"]["frames"] == 5
    for precision in ("fp32", "bf16"):
        # default_setup saves the run's config: the evaluation ran in that precision
        saved = yaml.safe_load((out / precision / "config.yaml").read_text())
        assert saved["TEST"]["PRECISION"] == precision
    assert (out / "precision_check.md").read_text().count("| bf16") == 1
    # Portable provenance: paths relative to the repository or the output folder, and the machine that timed it.
    assert report["weights"] == "../model.pth" and "bf16 instructions: " in report["machine"]
    for written in ("precision_check.json", "precision_check.md"):
        text = (out / written).read_text()
        assert str(tmp_path) not in text and str(REPO) not in text, written
