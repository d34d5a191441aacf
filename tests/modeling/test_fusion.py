"""MODEL.SLOWFAST.FUSION: the reference "replace", the opt-in "residual" (the identity before training) and "none"
(the single-frame control without a module)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage
from helpers import REPO, load_tool, synthetic_env
from tiny import TINY_H as H
from tiny import TINY_W as W
from tiny import TINY_TRAIN_OPTS, make_video, tiny_cfg, window_input

from experiments.ablation import config_variant
from slowfast_vos.modeling import count_parameters
from vos_eval.davis_format import read_id_png


def build(fusion: str, m: int = 3, n: int = 7, norm_statistics: str = "shared"):
    """Tiny SlowFastRCNN with the given fusion (backbone and RPN frozen, as config.py's defaults)."""
    cfg = tiny_cfg(m, n)
    cfg.MODEL.SLOWFAST.FUSION = fusion
    cfg.MODEL.SLOWFAST.NORM_STATISTICS = norm_statistics
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0  # random weights score low; keep detections to compare
    return build_model(cfg)


def control_with_weights_of(model):
    """The no-module control holding ``model``'s backbone, RPN and ROI-head weights."""
    control = build("none", 1, 1)
    result = control.load_state_dict(model.state_dict(), strict=False)
    assert not result.missing_keys
    assert result.unexpected_keys and all(k.startswith("slowfast.") for k in result.unexpected_keys)
    return control


def roi_head_inputs(model):
    """Record the feature maps the ROI heads receive on each call."""
    seen = []
    model.roi_heads.register_forward_pre_hook(lambda module, args: seen.append(
        {k: v.detach().clone() for k, v in args[1].items()}))
    return seen


def randomise_output_norms(model):
    """Give the module's last BatchNorms non-zero scale and shift, as training would."""
    for pathway in (model.slowfast.slow, model.slowfast.fast):
        norm = pathway[-1][1]
        with torch.no_grad():
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.2, 0.2)


def test_reference_default_is_replace_and_heads_read_the_module_output():
    cfg = tiny_cfg(3, 7)
    assert cfg.MODEL.SLOWFAST.FUSION == "replace"
    model = build_model(cfg).eval()
    # The reference's last BatchNorms keep PyTorch's initialisation (scale 1): nothing is zeroed.
    assert torch.equal(model.slowfast.slow[-1][1].weight, torch.ones_like(model.slowfast.slow[-1][1].weight))
    outputs = []
    model.slowfast.register_forward_hook(lambda module, args, out: outputs.append(out.detach().clone()))
    seen = roi_head_inputs(model)
    video = make_video(7)
    with torch.no_grad():
        model([window_input(video, 3, 7)])
    fused = [name for name in seen[0] if name in model.fused_features]
    assert fused and len(outputs) == len(fused)
    for name, out in zip(fused, outputs):
        torch.testing.assert_close(seen[0][name], out)


def test_residual_heads_read_target_features_plus_module_output():
    model = build("residual").eval()
    randomise_output_norms(model)
    outputs, targets = [], []
    model.slowfast.register_forward_hook(lambda module, args, out: outputs.append(out.detach().clone()))
    model.backbone.register_forward_hook(lambda module, args, out: targets.append(out))
    seen = roi_head_inputs(model)
    video = make_video(7)
    with torch.no_grad():
        model([window_input(video, 3, 7)])
    target = 3  # frames are encoded in window order; the target is the window's centre
    for name, out in zip(model.fused_features, outputs):
        assert out.abs().max() > 0
        torch.testing.assert_close(seen[0][name], targets[0][name][target:target + 1] + out)


@pytest.mark.parametrize("norm_statistics", ["shared", "per_level"])
def test_residual_fusion_equals_the_no_module_control_at_initialisation(norm_statistics):
    model = build("residual", norm_statistics=norm_statistics).eval()
    control = control_with_weights_of(model).eval()
    video = make_video(4)
    with torch.no_grad():
        ours = list(model.inference_video({"image": f, "height": H, "width": W} for f in video))
        theirs = list(control.inference_video({"image": f, "height": H, "width": W} for f in video))
        batch_ours = model([window_input(video, t, 7) for t in (0, 3)])
        batch_theirs = control([window_input(video, t, 1) for t in (0, 3)])
    for a, b in zip(ours + batch_ours, theirs + batch_theirs):
        a, b = a["instances"], b["instances"]
        assert len(a) == len(b) > 0
        torch.testing.assert_close(a.scores, b.scores, rtol=0, atol=1e-6)
        torch.testing.assert_close(a.pred_boxes.tensor, b.pred_boxes.tensor, rtol=0, atol=1e-4)
        assert torch.equal(a.pred_masks, b.pred_masks)


def test_residual_training_losses_equal_the_control_at_initialisation_and_train_the_output_norms():
    model = build("residual").train()
    control = control_with_weights_of(model).train()
    video = make_video(5)
    losses = []
    for net, n in ((model, 7), (control, 1)):
        torch.manual_seed(3)
        with EventStorage():
            losses.append(net([window_input(video, t, n, train=True) for t in (1, 2)]))
    assert losses[0].keys() == losses[1].keys()
    for key in losses[0]:
        torch.testing.assert_close(losses[0][key], losses[1][key], rtol=1e-5, atol=1e-6)
    sum(losses[0].values()).backward()
    last = model.slowfast.slow[-1][1]
    # The zero scale passes gradient to the last BatchNorm's affine parameters, so training moves off the identity.
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0
    assert last.bias.grad.abs().sum() > 0


def test_residual_adds_no_parameters_and_the_control_has_none_of_the_module():
    replace, residual, control = build("replace"), build("residual"), build("none", 1, 1)
    assert count_parameters(residual) == count_parameters(replace)
    assert control.slowfast is None and control.window_size == 1 and control.fused_features == []
    assert count_parameters(control) == count_parameters(replace) - count_parameters(replace.slowfast)


@pytest.mark.parametrize("fusion", ["replace", "residual"])
def test_streaming_equals_windowed_batches_with_either_fusion(fusion):
    """The shared-step streaming path and the per-window batch path give the heads the same fused features (up to
    float summation order), with the residual module moved off the identity as training would."""
    model = build(fusion, norm_statistics="per_level").eval()
    randomise_output_norms(model)
    seen = roi_head_inputs(model)
    video = make_video(9)
    with torch.no_grad():
        list(model.inference_video({"image": f, "height": H, "width": W} for f in video))
        streamed, seen[:] = list(seen), []
        for t in range(len(video)):
            model([window_input(video, t, 7)])
    assert len(streamed) == len(seen) == len(video)
    for a, b in zip(streamed, seen):
        for name in model.fused_features:
            torch.testing.assert_close(a[name], b[name], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("m,n", [(1, 3), (3, 3)])
def test_control_with_a_window_is_refused_naming_the_keys(m, n):
    with pytest.raises(ValueError, match="MODEL.SLOWFAST.FUSION 'none'.*SLOW_FRAMES"):
        build("none", m, n)


def test_unknown_fusion_is_refused_naming_the_key():
    with pytest.raises(ValueError, match="MODEL.SLOWFAST.FUSION must be one of"):
        build("add")


def test_control_ignores_a_frozen_module():
    cfg = tiny_cfg(1, 1)
    cfg.MODEL.SLOWFAST.FUSION = "none"
    cfg.MODEL.FREEZE.SLOWFAST = True  # the OSVOS configs freeze the module; the control has none to freeze
    model = build_model(cfg)
    assert "slowfast" not in model.frozen


def test_ablation_rows_name_their_config_files_and_overrides(tmp_path, capsys):
    abl = load_tool("run_ablation")
    assert config_variant("control") == ("no_temporal", ())
    assert config_variant("3-7+residual") == ("slowfast_3-7", ("MODEL.SLOWFAST.FUSION", "residual"))
    assert config_variant("1-7+residual-init1") == (
        "slowfast_1-7", ("MODEL.SLOWFAST.FUSION", "residual", "MODEL.SLOWFAST.RESIDUAL_INIT_SCALE", "1.0"))
    assert abl.main(["--preset", "quickstart", "--seeds", "1", "--configs", "control", "1-1", "3-7+residual",
                     "--osvos-configs", "3-7+residual", "--output-dir", str(tmp_path), "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    control, one, residual, osvos = lines[1:5]
    assert len(lines) == 8 and all("--eval-only" in line for line in lines[5:])  # then each row timed alone
    assert "quickstart/no_temporal.yaml" in control and "FUSION" not in control
    assert "quickstart/slowfast_1-1.yaml" in one and "FUSION" not in one
    assert "quickstart/slowfast_3-7.yaml --resume MODEL.SLOWFAST.FUSION residual" in residual
    assert "osvos_slowfast_3-7.yaml MODEL.SLOWFAST.FUSION residual" in osvos
    with pytest.raises(SystemExit):
        abl.parse_args(["--output-dir", str(tmp_path), "--configs", "3-7+sum"])


@pytest.mark.slow
def test_control_config_trains_and_evaluates_with_train_net(tmp_path_factory, tmp_path):
    env = synthetic_env(tmp_path_factory, train_sequences=2, val_sequences=1, frames=5)
    out = tmp_path / "control"
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file",
           str(REPO / "configs" / "quickstart" / "no_temporal.yaml"), *TINY_TRAIN_OPTS, "DATALOADER.NEIGHBOR_TARGETS",
           "2", "SOLVER.WARMUP_ITERS", "0", "TEST.EVAL_PERIOD", "0", "SOLVER.MAX_ITER", "2", "OUTPUT_DIR", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["params"]["slowfast"] == 0 and results["params"]["total"] > 0
    assert 0.0 <= results["davis"]["J&F-Mean"] <= 1.0 and results["timing"]["frames"] == 5
    weights = torch.load(out / "model_final.pth", map_location="cpu", weights_only=True)["model"]
    assert not any(key.startswith("slowfast.") for key in weights)

    # Table 2's control row: OSVOS of the control parent with its own OSVOS config on the paper's protocol (the
    # DAVIS 2016 view); the given frame's result is the given mask.
    osvos = tmp_path / "control-osvos"
    cmd = [sys.executable, str(REPO / "tools" / "osvos_net.py"), "--config-file",
           str(REPO / "configs" / "quickstart" / "osvos_no_temporal.yaml"), *TINY_TRAIN_OPTS, "OSVOS.ITERS", "2",
           "DATASETS.TEST", "('synthetic_davis2016_val',)", "MODEL.WEIGHTS", str(out / "model_final.pth"),
           "OUTPUT_DIR", str(osvos)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads((osvos / "results.json").read_text())["dataset"] == "synthetic_davis2016_val"
    first_frames = sorted((osvos / "davis_results").glob("*/00000.png"))
    assert first_frames
    for written in first_frames:
        given = next(Path(env["DETECTRON2_DATASETS"]).glob(f"**/2016/Annotations/*/{written.parent.name}/00000.png"))
        np.testing.assert_array_equal(read_id_png(str(written)), read_id_png(str(given), "2016"))


def test_study_preset_runs_the_controls_osvos_row_from_the_longer_pre_training(tmp_path, capsys):
    abl = load_tool("run_ablation")
    assert abl.main(["--preset", "study", "--seeds", "1", "--output-dir", str(tmp_path), "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    pretrain, osvos = lines[0], [line for line in lines if "osvos_net.py" in line]
    assert "pretrain_mask_rcnn.yaml --resume SOLVER.MAX_ITER 700" in pretrain
    assert "SOLVER.AMP.ENABLED False" in pretrain
    # Every study row gets Table 2, the control with its own OSVOS config.
    assert len(osvos) == 4 and "quickstart/osvos_no_temporal.yaml" in osvos[0]
    assert all("synthetic_davis2016_val" in line for line in osvos)


def test_residual_init_scale_sets_the_branch_strength_and_is_validated():
    cfg = tiny_cfg(3, 7)
    cfg.MODEL.SLOWFAST.FUSION = "residual"
    cfg.MODEL.SLOWFAST.RESIDUAL_INIT_SCALE = 1.0
    model = build_model(cfg)
    for pathway in (model.slowfast.slow, model.slowfast.fast):
        assert torch.equal(pathway[-1][1].weight, torch.ones_like(pathway[-1][1].weight))
        assert torch.equal(pathway[-1][1].bias, torch.zeros_like(pathway[-1][1].bias))
    cfg.MODEL.SLOWFAST.RESIDUAL_INIT_SCALE = -0.5
    with pytest.raises(ValueError, match="MODEL.SLOWFAST.RESIDUAL_INIT_SCALE"):
        build_model(cfg)
