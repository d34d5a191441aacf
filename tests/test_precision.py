"""Reduced precision (slowfast_vos/precision.py): the config keys, autocast where the model runs, the fp32 parts,
bf16 mixed-precision training on CPU, and "auto" on CPUs with and without bf16 instructions (simulated, or hidden by
SLOWFAST_VOS_HIDE_BF16), whose fp32 path trains and evaluates the quickstart."""
import numpy as np
import pytest
import torch
from detectron2.engine import SimpleTrainer
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer
from detectron2.utils.events import EventStorage
from tiny import QUICKSTART_CONFIG, QUICKSTART_PRETRAIN_CONFIG, quickstart_cfg, tiny_cfg

from slowfast_vos.data import ClipDatasetMapper, generate_synthetic_davis, load_davis, register_davis
from slowfast_vos.data.build import build_video_test_loader
from slowfast_vos.engine.amp import AutocastTrainer, build_training_loop
from slowfast_vos.engine.inference import inference_on_videos
from slowfast_vos.engine.trainer import VOSTrainer
from slowfast_vos.evaluation import DAVISEvaluator
from vos_eval.results_file import EvaluationResults
from slowfast_vos.modeling import VideoPredictor
from slowfast_vos import precision as precision_module
from slowfast_vos.engine import load_cfg
from slowfast_vos.precision import amp_dtype, autocast, autocast_dtype, check_precision, resolve_auto, resolve_precision

FRAMES = 4


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("precision") / "DAVIS-synthetic"
    return generate_synthetic_davis(str(root), train_sequences=1, val_sequences=1, frames=FRAMES, height=64,
                                    width=96, progress=None)


def record_precision(model) -> dict:
    """Forward hooks noting, per call: the autocast dtype of the backbone pass (None: off), the SlowFast module's
    output dtype and the feature dtypes the ROI heads pool from."""
    seen = {"autocast": [], "slowfast": [], "pooled": [], "fused": []}

    def backbone_hook(module, args):
        enabled = torch.is_autocast_enabled("cpu")
        seen["autocast"].append(torch.get_autocast_dtype("cpu") if enabled else None)

    model.backbone.register_forward_pre_hook(backbone_hook)
    model.slowfast.register_forward_hook(lambda m, args, out: seen["slowfast"].append(out.dtype))
    model.slowfast.register_forward_hook(lambda m, args, out: seen["fused"].append(out.detach().float()))
    for pooler in (model.roi_heads.box_pooler, model.roi_heads.mask_pooler):
        pooler.register_forward_pre_hook(lambda m, args: seen["pooled"].extend(x.dtype for x in args[0]))
    return seen


def test_keys_default_to_fp32_and_unsupported_precisions_name_the_key(tiny_model_cfg):
    cfg = tiny_model_cfg
    assert cfg.TEST.PRECISION == "fp32" and not cfg.SOLVER.AMP.ENABLED and cfg.SOLVER.AMP.PRECISION == "fp16"
    check_precision(cfg)
    assert autocast_dtype("fp32", "cpu") is None and autocast_dtype("bf16", "cpu") is torch.bfloat16
    with pytest.raises(ValueError, match=r"TEST\.PRECISION must be one of .* got 'fp8'"):
        autocast_dtype("fp8", "cpu")
    cfg.TEST.PRECISION = "fp16"
    with pytest.raises(ValueError, match=r"TEST\.PRECISION 'fp16' needs a CUDA device \(MODEL\.DEVICE is 'cpu'\)"):
        VideoPredictor(cfg)
    cfg.TEST.PRECISION = "bf16"
    cfg.SOLVER.AMP.ENABLED = True  # with the default SOLVER.AMP.PRECISION, fp16
    with pytest.raises(ValueError, match=r"SOLVER\.AMP\.PRECISION 'fp16' needs a CUDA device"):
        check_precision(cfg)
    cfg.SOLVER.AMP.PRECISION = "fp32"
    with pytest.raises(ValueError, match=r"SOLVER\.AMP\.PRECISION must be 'fp16', 'bf16' or 'auto'"):
        build_training_loop(cfg, build_model(cfg), iter([]), None)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_on_a_cpu_with_bf16_instructions(monkeypatch, native):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: native)
    cfg = tiny_cfg(1, 3)
    cfg.TEST.PRECISION, cfg.SOLVER.AMP.ENABLED, cfg.SOLVER.AMP.PRECISION = "auto", True, "auto"
    assert autocast_dtype("auto", "cpu") is (torch.bfloat16 if native else None)
    assert (amp_dtype(cfg) is torch.bfloat16) == native
    assert resolve_precision(cfg)
    expected = "bf16" if native else "fp32"
    assert cfg.TEST.PRECISION == expected and cfg.SOLVER.AMP.ENABLED == native
    assert cfg.SOLVER.AMP.PRECISION == expected  # config.yaml records what trains
    assert not resolve_precision(cfg)  # nothing left to resolve
    check_precision(cfg)


def test_auto_precision_is_fp32_on_a_gpu_and_load_cfg_records_what_runs(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: True)
    assert resolve_auto("cuda") == "fp32" and resolve_auto("cpu") == "bf16"
    quickstart = load_cfg(QUICKSTART_CONFIG, ["MODEL.DEVICE", "cuda"])  # resolved, not run: no GPU needed
    assert quickstart.TEST.PRECISION == "fp32" and not quickstart.SOLVER.AMP.ENABLED
    quickstart = load_cfg(QUICKSTART_CONFIG)
    assert (quickstart.TEST.PRECISION, quickstart.SOLVER.AMP.ENABLED, quickstart.SOLVER.AMP.PRECISION) == (
        "bf16", True, "bf16")
    # The single-frame pre-training follows the same rule; it clips gradients (bf16 from scratch diverged without).
    pretrain = load_cfg(QUICKSTART_PRETRAIN_CONFIG)
    assert (pretrain.SOLVER.AMP.ENABLED, pretrain.SOLVER.AMP.PRECISION) == (True, "bf16")
    assert pretrain.SOLVER.CLIP_GRADIENTS.ENABLED


@pytest.mark.parametrize("native", [True, False])
def test_pretraining_loop_clips_each_parameters_gradient_norm_in_both_precisions_of_auto(monkeypatch, native):
    """The quickstart pre-training's loop, bf16 (a CPU with bf16 instructions, simulated) or fp32 (one without), steps
    the optimizer the config builds, so SOLVER.CLIP_GRADIENTS bounds every update: with momentum's first step an SGD
    update is lr x gradient, here a gradient of norm 1000 clipped to norm 1."""
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: native)
    cfg = load_cfg(QUICKSTART_PRETRAIN_CONFIG)
    cfg.defrost()
    cfg.SOLVER.WEIGHT_DECAY = 0.0
    cfg.SOLVER.BASE_LR = 0.1

    class Big(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(4))

        def forward(self, batch):
            return {"loss": (self.weight * torch.full((4,), 500.0)).sum()}  # gradient 500 per entry: norm 1000

    model = Big()
    loop = build_training_loop(cfg, model, iter([[{}]]), build_optimizer(cfg, model))
    assert type(loop) is (AutocastTrainer if native else SimpleTrainer)
    loop.iter = 0
    with EventStorage(0):
        loop.run_step()
    update = model.weight.detach()
    assert torch.allclose(update.norm(), torch.tensor(0.1), rtol=1e-3), update  # lr x norm 1, not lr x 1000


def test_video_predictor_runs_in_test_precision_with_fp32_roi_pooling_and_outputs():
    video = [np.random.default_rng(i).integers(0, 256, (64, 96, 3), dtype=np.uint8) for i in range(5)]
    outputs, seen = {}, {}
    for precision in ("fp32", "bf16"):
        cfg = tiny_cfg(1, 3)
        cfg.TEST.PRECISION = precision
        torch.manual_seed(0)
        predictor = VideoPredictor(cfg)
        seen[precision] = record_precision(predictor.model)
        outputs[precision] = list(predictor(video))
        # Autocast is on only while the model computes, not in the caller's code between frames.
        assert not torch.is_autocast_enabled("cpu")
    assert seen["fp32"]["autocast"] == [None] * 5 and set(seen["fp32"]["slowfast"]) == {torch.float32}
    assert seen["bf16"]["autocast"] == [torch.bfloat16] * 5 and set(seen["bf16"]["slowfast"]) == {torch.bfloat16}
    assert set(seen["bf16"]["pooled"]) == {torch.float32}  # ROIAlign gets fp32 features and boxes
    # The same function, rounded: the fused features of every level and frame within a few percent of fp32.
    for fp32, bf16 in zip(seen["fp32"]["fused"], seen["bf16"]["fused"]):
        assert ((bf16 - fp32).norm() / fp32.norm()).item() < 0.05
    assert len(outputs["bf16"]) == len(video)
    for bf16 in outputs["bf16"]:
        assert bf16.scores.dtype == torch.float32 and bf16.pred_masks.dtype == torch.bool
        assert bf16.pred_masks.shape[1:] == (64, 96) and len(bf16) > 0


def test_video_evaluation_in_bf16_feeds_the_davis_evaluator(tiny_model_cfg, synthetic_root, tmp_path):
    register_davis("precision_test_davis2016_val", f"{synthetic_root}/2016", "2016", "val", use_cache=False)
    cfg = tiny_model_cfg
    cfg.TEST.VOS.WORKERS = 0
    records = load_davis(f"{synthetic_root}/2016", "2016", "val", use_cache=False)
    model = build_model(cfg)
    seen = record_precision(model)
    evaluator = DAVISEvaluator.from_config(cfg, "precision_test_davis2016_val", output_dir=str(tmp_path),
                                           distributed=False)
    loader = build_video_test_loader(records, mapper=ClipDatasetMapper(cfg, is_train=False).frame_input)
    results = inference_on_videos(model, loader, evaluator, precision="bf16")
    assert seen["autocast"] == [torch.bfloat16] * len(records) == [torch.bfloat16] * FRAMES
    assert set(seen["pooled"]) == {torch.float32}
    assert 0.0 <= results["davis"]["J&F-Mean"] <= 1.0 and results["timing"]["frames"] == FRAMES
    assert len(list(tmp_path.rglob("*.png"))) == FRAMES


@pytest.mark.slow
def test_bf16_training_on_cpu_autocasts_the_forward_and_keeps_fp32_weights_and_bn_statistics(tiny_model_cfg,
                                                                                              synthetic_root):
    cfg = tiny_model_cfg
    cfg.SOLVER.AMP.ENABLED = True
    cfg.SOLVER.AMP.PRECISION = "bf16"
    cfg.SOLVER.BASE_LR = 0.01
    records = load_davis(synthetic_root, "2017", "train", use_cache=False)
    # Two neighbouring targets of one video in one augmentation draw: their windows share frames, so the
    # SlowFast module's training BatchNorm weighs shared steps (its counted-statistics path).
    batch = ClipDatasetMapper(cfg, is_train=True).map_group(records[1:3])
    model = build_model(cfg)
    seen = record_precision(model)
    bn = model.slowfast.fast[0][1]
    mean_before = bn.running_mean.clone()
    weights_before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def batches():
        while True:
            yield batch

    trainer = build_training_loop(cfg, model, batches(), build_optimizer(cfg, model))
    assert type(trainer) is AutocastTrainer
    trainer.train(0, 3)
    losses = trainer.storage.history("total_loss").values()
    assert len(losses) == 3 and all(np.isfinite(v) for v, _ in losses)
    assert seen["autocast"] == [torch.bfloat16] * 3
    # Training-mode BatchNorm (the module's last layers) normalises with fp32 statistics, so its output is fp32.
    assert set(seen["slowfast"]) == {torch.float32} and set(seen["pooled"]) == {torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(not torch.equal(p.detach(), weights_before[n]) for n, p in model.named_parameters() if p.requires_grad)
    assert bn.running_mean.dtype == torch.float32 and torch.isfinite(bn.running_mean).all()
    assert not torch.equal(bn.running_mean, mean_before)

    cfg.SOLVER.AMP.ENABLED = False
    assert type(build_training_loop(cfg, model, batches(), build_optimizer(cfg, model))) is SimpleTrainer


def test_autocast_is_a_no_op_for_fp32():
    with autocast("fp32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    with autocast("bf16", torch.device("cpu")):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") is torch.bfloat16


def test_bf16_on_a_cpu_without_bf16_instructions_warns_that_fp32_is_faster(monkeypatch):
    import warnings

    from slowfast_vos import precision

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    with pytest.warns(RuntimeWarning, match=r"TEST\.PRECISION 'bf16': this CPU has no bf16 instructions"):
        assert autocast_dtype("bf16", "cpu") is torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert autocast_dtype("bf16", "cpu") is torch.bfloat16


@pytest.mark.parametrize("hidden", ["1", "0"])
def test_hide_bf16_variable_makes_a_cpu_with_bf16_resolve_auto_as_one_without(monkeypatch, hidden):
    """SLOWFAST_VOS_HIDE_BF16=1 (CI's second pass) turns a CPU with bf16 instructions into an AVX2-only one for the
    precision rules: "auto" gives fp32 and the quickstart trains without autocast; "0" leaves the hardware's answer."""
    monkeypatch.setattr(precision_module, "_hardware_bf16", lambda: True)
    monkeypatch.setenv(precision_module.HIDE_BF16_ENV, hidden)
    visible = hidden == "0"
    assert precision_module.cpu_has_native_bf16() is visible
    assert resolve_auto("cpu") == ("bf16" if visible else "fp32")
    quickstart = load_cfg(QUICKSTART_CONFIG)
    expected = ("bf16", True) if visible else ("fp32", False)
    assert (quickstart.TEST.PRECISION, quickstart.SOLVER.AMP.ENABLED) == expected
    summary = precision_module.cpu_summary()
    assert summary.endswith("bf16 instructions: " + ("yes" if visible else "hidden by SLOWFAST_VOS_HIDE_BF16"))
    monkeypatch.setattr(precision_module, "_hardware_bf16", lambda: False)
    assert precision_module.cpu_summary().endswith("bf16 instructions: no") and resolve_auto("cpu") == "fp32"


@pytest.mark.slow
def test_auto_on_a_cpu_without_bf16_pretrains_with_clipping_fine_tunes_and_evaluates_in_fp32(monkeypatch, davis_sets,
                                                                                               tmp_path):
    """What `make demo` runs on an AVX2-only CPU (simulated), shrunk: the quickstart's single-frame pre-training in
    fp32 with every parameter's gradient clipped to norm 1 (SOLVER.CLIP_GRADIENTS), then the 3-7 fine-tune from its
    weights, evaluated on the validation set; no autocast anywhere, finite losses."""
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: False)
    clipped = []
    clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameter, max_norm, *args, **kwargs):
        norm = clip(parameter, max_norm, *args, **kwargs)
        after = parameter.grad.norm().item() if parameter.grad is not None else 0.0
        clipped.append((norm.item(), after, max_norm))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    pretrain = quickstart_cfg(QUICKSTART_PRETRAIN_CONFIG, davis_sets, tmp_path / "pretrain")
    pretrain.DATASETS.TEST = ()  # as the config: a single-frame model, not evaluated on videos
    assert (pretrain.SOLVER.AMP.ENABLED, pretrain.SOLVER.AMP.PRECISION, pretrain.TEST.PRECISION) == (
        False, "fp32", "fp32")
    trainer = VOSTrainer(pretrain)
    assert type(trainer._trainer) is SimpleTrainer
    trainer.train()
    losses = [v for v, _ in trainer.storage.history("total_loss").values()]
    assert len(losses) == pretrain.SOLVER.MAX_ITER and all(np.isfinite(losses))
    trained = sum(p.requires_grad for p in trainer.model.parameters())
    assert len(clipped) == trained * pretrain.SOLVER.MAX_ITER  # every parameter, every step
    assert all(max_norm == 1.0 and after <= 1.0 + 1e-4 for _, after, max_norm in clipped)
    assert any(norm > 1.0 for norm, _, _ in clipped)  # some gradient was larger, and clipped

    fine_tune = quickstart_cfg(QUICKSTART_CONFIG, davis_sets, tmp_path / "3-7", "MODEL.WEIGHTS",
                               str(tmp_path / "pretrain" / "model_final.pth"))
    assert (fine_tune.SOLVER.AMP.ENABLED, fine_tune.TEST.PRECISION) == (False, "fp32")
    trainer = VOSTrainer(fine_tune)
    trainer.resume_or_load(resume=False)
    seen = record_precision(trainer.model)
    trainer.train()  # evaluates DATASETS.TEST after the last iteration
    losses = [v for v, _ in trainer.storage.history("total_loss").values()]
    assert len(losses) == fine_tune.SOLVER.MAX_ITER and all(np.isfinite(losses))
    assert len(seen["autocast"]) > fine_tune.SOLVER.MAX_ITER and set(seen["autocast"]) == {None}
    assert set(seen["slowfast"]) == {torch.float32}
    results = EvaluationResults.read(str(tmp_path / "3-7" / "results.json"))
    assert 0.0 <= results.davis["J&F-Mean"] <= 1.0
