"""SlowFastRCNN: freezing, checkpoint compatibility, shared backbone passes, borders and streaming video inference."""
import math
import weakref

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.structures import Instances
from detectron2.utils.events import EventStorage
from tiny import TINY_H as H
from tiny import TINY_W as W
from tiny import make_video, tiny_cfg, window_input
from torch import nn

from slowfast_vos.modeling import SlowFastRCNN, count_parameters
from slowfast_vos.modeling.meta_arch import PARTS

def build(m: int = 1, n: int = 3, **overrides) -> SlowFastRCNN:
    """Tiny SlowFastRCNN with the given MODEL.* overrides ("FREEZE.BACKBONE": False, ...)."""
    cfg = tiny_cfg(m, n)
    for key, value in overrides.items():
        node = cfg.MODEL
        *path, leaf = key.split(".")
        for part in path:
            node = node[part]
        node[leaf] = value
    return build_model(cfg)


class CountImages:
    """Forward pre-hook counting backbone calls and the frames (batch entries) they process."""

    def __init__(self, module: nn.Module):
        self.calls, self.frames = 0, 0
        self.handle = module.register_forward_pre_hook(self)

    def __call__(self, module, args):
        self.calls += 1
        self.frames += args[0].shape[0]


def capture_windows(model: SlowFastRCNN) -> list:
    """Record every window the SlowFast module fuses, as dense (B, C, n, H, W) features (one per fused level)."""
    seen = []

    def record(module, args):
        frames, windows = args[0], args[1]
        zeros = torch.zeros_like(next(frames[s] for w in windows for s in w if s is not None))
        dense = [torch.stack([zeros if s is None else frames[s] for s in w], dim=1) for w in windows]
        seen.append(torch.stack(dense).detach().clone())

    model.slowfast.register_forward_pre_hook(record)
    return seen


def test_registered_and_built_from_config():
    model = build(3, 7)
    assert isinstance(model, SlowFastRCNN)
    assert model.window_size == 7 and model.slowfast.slow_frames == 3
    assert model.in_features == ["p2", "p3", "p4", "p5", "p6"]
    assert model.frozen == ("backbone", "proposal_generator")  # the paper's parent-model default
    assert count_parameters(model.slowfast) == count_parameters(model) - count_parameters(model.backbone) - \
        count_parameters(model.proposal_generator) - count_parameters(model.roi_heads)


@pytest.mark.parametrize(
    "overrides,pattern",
    [
        ({"SLOWFAST.BORDER": "reflect"}, "MODEL.SLOWFAST.BORDER"),
        ({"SLOWFAST.IN_FEATURES": ["p2", "res4"]}, "MODEL.SLOWFAST.IN_FEATURES"),
        ({"SLOWFAST.SLOW_CHANNELS": [24, 24, 64]}, "MODEL.FPN.OUT_CHANNELS"),
        ({"SLOWFAST.FAST_FRAMES": 4}, "MODEL.SLOWFAST.FAST_FRAMES"),
    ],
)
def test_invalid_model_settings_name_the_key(overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        build(1, 3, **overrides)


def _bn_stats(module: nn.Module) -> dict:
    return {k: v.clone() for k, v in module.state_dict().items() if "running_" in k}


FREEZE_COMBINATIONS = [
    ("backbone", "proposal_generator"),
    (),
    ("slowfast",),
    ("backbone", "slowfast"),
    ("roi_heads",),
    ("backbone", "proposal_generator", "roi_heads"),
]


@pytest.mark.slow
@pytest.mark.parametrize("frozen", FREEZE_COMBINATIONS)
def test_gradients_reach_exactly_the_unfrozen_parts(frozen):
    # BatchNorm in backbone and mask head, nothing frozen by Detectron2 itself, so each part has stats and grads.
    overrides = {f"FREEZE.{p.upper()}": p in frozen for p in PARTS}
    model = build(1, 3, **overrides, **{"BACKBONE.FREEZE_AT": 0, "RESNETS.NORM": "BN", "ROI_MASK_HEAD.NORM": "BN"})
    model.train()
    assert model.frozen == tuple(frozen)
    for part in ("backbone", "proposal_generator", "slowfast"):
        assert getattr(model, part).training == (part not in frozen)
    bns = [m for m in model.roi_heads.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(bn.training == ("roi_heads" not in frozen) for bn in bns)
    assert model.roi_heads.training  # its training branch computes the losses

    before = {p: _bn_stats(getattr(model, p)) for p in PARTS}
    video = make_video(4)
    with EventStorage():
        losses = model([window_input(video, t, 3, train=True) for t in (0, 2)])
    assert ("loss_rpn_cls" in losses) == ("proposal_generator" not in frozen)
    sum(losses.values()).backward()

    for part in PARTS:
        params = list(getattr(model, part).named_parameters())
        assert params
        for name, param in params:
            if part in frozen:
                assert not param.requires_grad and param.grad is None, f"{part}.{name}"
            else:
                assert param.requires_grad and param.grad is not None, f"{part}.{name}"
                assert torch.isfinite(param.grad).all()
        stats = _bn_stats(getattr(model, part))
        moved = any(not torch.equal(stats[k], before[part][k]) for k in stats)
        if part in frozen:
            assert not moved, part
        elif stats:
            assert moved, part


@pytest.mark.parametrize("frozen,no_grad", [
    (("backbone", "proposal_generator"), {"backbone", "proposal_generator"}),
    (("backbone", "slowfast"), {"backbone", "slowfast"}),
    (("backbone", "slowfast", "roi_heads"), {"backbone", "slowfast", "roi_heads"}),
    (("slowfast",), set()),  # a trainable backbone needs gradients through the frozen module
    (("roi_heads",), set()),  # the trainable SlowFast module needs gradients through the frozen heads
])
def test_frozen_parts_run_without_autograd(frozen, no_grad):
    model = build(1, 3, **{f"FREEZE.{p.upper()}": p in frozen for p in PARTS}).train()
    grad_enabled = {}
    for part in PARTS:
        getattr(model, part).register_forward_pre_hook(
            lambda m, a, part=part: grad_enabled.__setitem__(part, torch.is_grad_enabled())
        )
    with EventStorage():
        model([window_input(make_video(3), 1, 3, train=True)])
    assert {part for part, enabled in grad_enabled.items() if not enabled} == no_grad


def test_eval_then_train_keeps_frozen_parts_in_eval():
    model = build(1, 3, **{"FREEZE.SLOWFAST": True})
    model.eval()
    model.train()
    assert model.training and model.roi_heads.training
    assert not model.backbone.training and not model.proposal_generator.training and not model.slowfast.training


def test_plain_generalized_rcnn_checkpoint_loads_with_only_slowfast_missing(tmp_path):
    cfg = tiny_cfg(3, 7)
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 80  # a COCO model
    plain = build_model(cfg)
    DetectionCheckpointer(plain, save_dir=str(tmp_path)).save("coco")
    saved = plain.state_dict()

    model = build(3, 7)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    DetectionCheckpointer(model).load(str(tmp_path / "coco.pth"))
    loaded = model.state_dict()

    assert set(loaded) - set(saved) == {k for k in loaded if k.startswith("slowfast.")}
    assert set(saved) <= set(loaded)
    class_heads = ("roi_heads.box_predictor.cls_score.", "roi_heads.box_predictor.bbox_pred.",
                   "roi_heads.mask_head.predictor.")
    for key, value in loaded.items():
        if key.startswith("slowfast.") or key.startswith(class_heads):
            assert torch.equal(value, init[key]), f"{key} should keep its initialisation"
        else:
            assert torch.equal(value, saved[key]), f"{key} was not loaded"
    assert loaded["roi_heads.box_predictor.cls_score.weight"].shape[0] == 2


def test_backbone_runs_once_per_distinct_frame_in_a_batch():
    model = build(3, 7).eval()
    counter = CountImages(model.backbone)
    video, other = make_video(6), make_video(3)
    # Targets 1, 2, 3 of a 6-frame video share frames 0..5; a second video's frame 1 adds 3; a plain input adds 1.
    inputs = [window_input(video, t, 7) for t in (1, 2, 3)] + [window_input(other, 1, 7, name="w")]
    inputs.append({"image": make_video(1)[0], "height": H, "width": W})
    with torch.no_grad():
        outputs = model(inputs)
    assert (counter.calls, counter.frames) == (1, 6 + 3 + 1)
    assert len(outputs) == 5 and all(o["instances"].image_size == (H, W) for o in outputs)


def test_equal_keys_share_a_pass_but_distinct_keys_do_not():
    model = build(1, 3).eval()
    counter = CountImages(model.backbone)
    video = make_video(3)
    a, b = window_input(video, 1, 3, name="a"), window_input(video, 1, 3, name="b")
    with torch.no_grad():
        model([a, b])
    assert counter.frames == 6  # same pixels, different keys (e.g. different augmentations): not merged


def _single_frame_features(model, frame, level):
    images = model._preprocess([frame])
    with torch.no_grad():
        return model.backbone(images.tensor)[level][0]


@pytest.mark.parametrize("border", ["zeros", "replicate"])
def test_border_frames(border):
    model = build(1, 5, **{"SLOWFAST.BORDER": border}).eval()
    windows = capture_windows(model)
    video = make_video(3)
    with torch.no_grad():
        model([window_input(video, 0, 5)])  # window: -2, -1, 0, 1, 2
    assert len(windows) == len(model.fused_features)
    p2 = windows[0][0]  # (C, n, H, W) at p2
    frames = [_single_frame_features(model, f, "p2") for f in video]
    for j in range(3):
        torch.testing.assert_close(p2[:, 2 + j], frames[j], rtol=1e-3, atol=2e-3)  # batched vs single conv
    for j in (0, 1):
        if border == "zeros":
            assert torch.count_nonzero(p2[:, j]) == 0
        else:
            assert torch.equal(p2[:, j], p2[:, 2])

    windows.clear()
    with torch.no_grad():
        model([window_input(video, 2, 5)])  # window: 0, 1, 2, 3, 4
    p2 = windows[0][0]
    for j in (3, 4):
        if border == "zeros":
            assert torch.count_nonzero(p2[:, j]) == 0
        else:
            assert torch.equal(p2[:, j], p2[:, 2])


@pytest.mark.parametrize("border", ["zeros", "replicate"])
def test_plain_input_is_a_window_of_itself(border):
    model = build(1, 3, **{"SLOWFAST.BORDER": border}).eval()
    windows = capture_windows(model)
    frame = make_video(1)[0]
    with torch.no_grad():
        plain = model([{"image": frame, "height": H, "width": W}])
        clip = model([{"image": frame, "clip": [None, frame, None], "clip_keys": [None, "f", None]}])
    torch.testing.assert_close(windows[0], windows[len(model.fused_features)])
    torch.testing.assert_close(plain[0]["instances"].scores, clip[0]["instances"].scores)
    outer = windows[0][:, :, [0, 2]]
    if border == "zeros":
        assert torch.count_nonzero(outer) == 0
    else:
        assert torch.equal(outer[:, :, 0], windows[0][:, :, 1])


def test_malformed_clip_is_rejected_with_its_image_id():
    model = build(1, 3).eval()
    x = window_input(make_video(3), 1, 3, name="seq")
    x["clip"] = x["clip"][:2]
    with pytest.raises(ValueError, match="seq/00001.*FAST_FRAMES"):
        model([x])
    y = window_input(make_video(3), 1, 3, name="seq")
    y["clip"][1] = None
    with pytest.raises(ValueError, match="target frame"):
        model([y])


def _assert_same_instances(a: Instances, b: Instances):
    assert a.image_size == b.image_size and len(a) == len(b)
    torch.testing.assert_close(a.scores, b.scores, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a.pred_boxes.tensor, b.pred_boxes.tensor, rtol=1e-4, atol=1e-3)
    assert torch.equal(a.pred_classes, b.pred_classes)
    mismatch = (a.pred_masks != b.pred_masks).float().mean()
    assert mismatch < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("m,n,length,border", [(1, 1, 4, "zeros"), (1, 3, 5, "zeros"), (3, 7, 9, "zeros"),
                                               (3, 7, 9, "replicate"), (1, 7, 2, "zeros")])
def test_inference_video_matches_windowed_forward(m, n, length, border):
    model = build(m, n, **{"SLOWFAST.BORDER": border}).eval()
    video = make_video(length)
    with torch.no_grad():
        expected = [model([window_input(video, t, n)])[0]["instances"] for t in range(length)]
    counter = CountImages(model.backbone)
    outputs = list(model.inference_video({"image": f, "height": H, "width": W} for f in video))
    assert (counter.calls, counter.frames) == (length, length)
    assert len(outputs) == length
    for out, exp in zip(outputs, expected):
        assert len(out["instances"]) > 0
        _assert_same_instances(out["instances"], exp)


@pytest.mark.slow
def test_inference_video_streams_with_a_lag_of_half_a_window_and_bounded_memory():
    n, length = 5, 12
    model = build(1, n).eval()
    alive = []
    model.backbone.register_forward_hook(lambda m, a, out: alive.append(weakref.ref(out["p2"])))
    pulled = []

    def frames():
        for frame in make_video(length):
            pulled.append(1)
            yield {"image": frame}

    for t, out in enumerate(model.inference_video(frames())):
        assert len(pulled) == min(t + n // 2 + 1, length)
        assert sum(ref() is not None for ref in alive) <= n
        assert out["instances"].image_size == (H, W)  # no height/width given: the frame's own size
    assert t == length - 1


def test_inference_video_rejects_size_change():
    model = build(1, 3).eval()
    frames = make_video(2) + make_video(1, height=96, width=64)
    with pytest.raises(ValueError, match="frame 2"):
        list(model.inference_video({"image": f} for f in frames))


def test_cpu_training_step_and_inference():
    model = build(3, 7).train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    video = make_video(8)
    with EventStorage():
        losses = model([window_input(video, t, 7, train=True) for t in (0, 4)])
    assert set(losses) == {"loss_cls", "loss_box_reg", "loss_mask"}  # the RPN is frozen by default
    assert all(math.isfinite(v.item()) for v in losses.values())
    optimizer.zero_grad()
    sum(losses.values()).backward()
    optimizer.step()
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(name.startswith(("slowfast.", "roi_heads.")) for name in trainable)
    for name, param in model.named_parameters():
        changed = not torch.equal(param, before[name])
        if name not in trainable:
            assert not changed, name
        elif param.grad.abs().max() > 1e-6:  # conv biases right before a training-mode BatchNorm get ~0 gradient
            assert changed, name

    model.eval()
    x = window_input(video, 3, 7)
    x["height"], x["width"] = 2 * H, 2 * W  # the original resolution before resizing
    with torch.no_grad():
        (out,) = model([x])
    inst = out["instances"]
    assert inst.image_size == (2 * H, 2 * W) and inst.pred_masks.shape[1:] == (2 * H, 2 * W)
    assert 0 < len(inst) <= 10 and torch.equal(inst.pred_classes, torch.zeros_like(inst.pred_classes))
