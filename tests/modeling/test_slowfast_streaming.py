"""Exact speed-ups of the SlowFast module: shared / streamed time steps equal the dense Conv3d reference."""
import copy

import pytest
import torch
from detectron2.modeling import build_model
from tiny import TINY_H as H
from tiny import TINY_W as W
from tiny import make_video, tiny_cfg, window_input
from torch import nn

from slowfast_vos.modeling import SlowFastModule, step_sharing

CONFIGS = [(1, 1), (3, 3), (7, 7), (1, 7), (3, 7), (1, 3)]
C, FH, FW = 12, 5, 6


def small_module(m: int, n: int) -> SlowFastModule:
    """A narrow m-n module with non-trivial BN statistics and affine parameters."""
    torch.manual_seed(0)
    module = SlowFastModule(in_channels=C, slow_frames=m, fast_frames=n, slow_channels=[6, 6, 8],
                            fast_channels=[3, 3, 4], fusion_channels=4)
    with torch.no_grad():
        for bn in module.modules():
            if isinstance(bn, nn.BatchNorm3d):
                bn.running_mean.normal_()
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.normal_()
                bn.bias.normal_()
    return module


def windows_for(targets, n, length):
    """Window slots (frame index, None outside the video) of the given targets."""
    half = n // 2
    return [[j if 0 <= j < length else None for j in range(t - half, t + half + 1)] for t in targets]


def dense(frames, windows):
    """(B, C, n, H, W) reference input with zero frames for None slots."""
    zeros = torch.zeros_like(frames[0])
    return torch.stack([torch.stack([zeros if s is None else frames[s] for s in w], dim=1) for w in windows])


def count_steps(monkeypatch):
    """Record the number of distinct steps each layer call computes."""
    calls = []
    original = step_sharing.layer_step

    def counting(layer, x, counts):
        calls.append(x.shape[0])
        return original(layer, x, counts)

    monkeypatch.setattr(step_sharing, "layer_step", counting)
    return calls


@pytest.mark.parametrize("m,n", CONFIGS)
def test_shared_steps_equal_dense_windows_in_eval(m, n):
    module = small_module(m, n).eval()
    frames = [torch.randn(C, FH, FW) for _ in range(9)]
    # Borders at both ends, overlapping neighbours, and a duplicated target.
    windows = windows_for([0, 1, 2, 4, 4, 8], n, len(frames))
    with torch.no_grad():
        torch.testing.assert_close(module(frames, windows), module(dense(frames, windows)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("m,n", CONFIGS)
def test_streaming_cache_computes_one_step_per_layer_per_frame(m, n, monkeypatch):
    module = small_module(m, n).eval()
    length = n + 6
    frames = {i: torch.randn(C, FH, FW) for i in range(length)}
    windows = windows_for(range(length), n, length)
    calls = count_steps(monkeypatch)
    cache = {}
    with torch.no_grad():
        streamed = []
        for w in windows:
            calls.clear()
            streamed.append(module(frames, [w], cache))
            steady = all(s is not None for s in w) and w[0] > 0
            if steady:  # the previous window shared all but the newest step of each layer
                assert calls == [1] * 8
            assert len(cache) <= sum(stage.length for stage in module._stages)  # one window's steps, no growth
        expected = module(dense([frames[i] for i in range(length)], windows))
    torch.testing.assert_close(torch.cat(streamed), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("m,n", [(3, 7), (7, 7), (1, 3)])
def test_shared_training_matches_dense_outputs_gradients_and_bn_statistics(m, n):
    shared, reference = small_module(m, n).train(), small_module(m, n).train()
    frames = [torch.randn(C, FH, FW) for _ in range(8)]
    windows = windows_for([0, 2, 3, 4, 4, 7], n, len(frames))
    inputs_a = [f.clone().requires_grad_() for f in frames]
    inputs_b = [f.clone().requires_grad_() for f in frames]
    out_a = shared(inputs_a, windows)
    out_b = reference(dense(inputs_b, windows))
    torch.testing.assert_close(out_a, out_b, rtol=1e-4, atol=1e-4)
    weights = torch.randn_like(out_a)
    (out_a * weights).sum().backward()
    (out_b * weights).sum().backward()
    for a, b in zip(inputs_a, inputs_b):
        if b.grad is None:
            assert a.grad is None or torch.count_nonzero(a.grad) == 0
        else:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-4)
    # Conv biases right before training-mode BN get ~0 gradient: compare on the scale of all the gradients.
    scale = max(p.grad.abs().max().item() for p in reference.parameters())
    for (name, a), (_, b) in zip(shared.named_parameters(), reference.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-5 * scale, msg=name)
    for (name, a), (_, b) in zip(shared.named_buffers(), reference.named_buffers()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_cache_is_rejected_in_training_mode():
    module = small_module(1, 3).train()
    with pytest.raises(ValueError, match="eval mode"):
        module([torch.randn(C, FH, FW)], [[None, 0, None]], cache={})


def _with_dense_module(model):
    """A copy of ``model`` whose SlowFast module evaluates every window densely with Conv3d (the reference)."""
    reference = copy.deepcopy(model)
    module = reference.slowfast

    def forward(frames, windows=None, cache=None, level=None):
        with module._statistics(level):
            return module._forward_dense(dense(frames, windows))

    module.forward = forward
    return reference


@pytest.mark.slow
@pytest.mark.parametrize("m,n,border,stats", [(3, 7, "zeros", "shared"), (7, 7, "replicate", "shared"),
                                              (3, 7, "zeros", "per_level")])
def test_video_inference_matches_dense_reference(m, n, border, stats):
    cfg = tiny_cfg(m, n)
    cfg.MODEL.SLOWFAST.BORDER = border
    cfg.MODEL.SLOWFAST.NORM_STATISTICS = stats
    model = build_model(cfg).eval()
    for i, level in enumerate(model.slowfast.level_statistics.values()):  # distinct statistics per level
        for name, buffer in level.named_buffers():
            if name.startswith(("mean", "var")):
                buffer.uniform_(0.5 + i, 1.0 + i)
    reference = _with_dense_module(model)
    video = make_video(n + 2)
    with torch.no_grad():
        outputs = list(model.inference_video({"image": f, "height": H, "width": W} for f in video))
        expected = [reference([window_input(video, t, n)])[0]["instances"] for t in range(len(video))]
    assert len(outputs) == len(expected) == len(video)
    for out, exp in zip(outputs, expected):
        assert len(out["instances"]) == len(exp) > 0
        torch.testing.assert_close(out["instances"].scores, exp.scores, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(out["instances"].pred_boxes.tensor, exp.pred_boxes.tensor, rtol=1e-4, atol=1e-3)


def test_levels_no_roi_head_reads_are_not_fused():
    cfg = tiny_cfg(3, 7)
    assert "p6" in cfg.MODEL.SLOWFAST.IN_FEATURES and "p6" not in cfg.MODEL.ROI_HEADS.IN_FEATURES
    model = build_model(cfg).eval()
    assert model.fused_features == ["p2", "p3", "p4", "p5"]
    everything = copy.deepcopy(model)
    everything.fused_features = list(model.in_features)
    calls = []
    model.slowfast.register_forward_pre_hook(lambda m, a: calls.append(1))
    video = make_video(7)
    with torch.no_grad():
        (out,) = model([window_input(video, 3, 7)])
        (ref,) = everything([window_input(video, 3, 7)])
    assert len(calls) == 4  # once per fused level
    torch.testing.assert_close(out["instances"].scores, ref["instances"].scores)

    cfg.MODEL.ROI_HEADS.IN_FEATURES = ["p2", "p3"]
    assert build_model(cfg).fused_features == ["p2", "p3"]  # read from the built heads, not a fixed list
