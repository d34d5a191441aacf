"""The SlowFast module: the reference parameter counts, shapes, temporal kernel schedule, pathways and validation."""
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from torch import nn

from slowfast_vos import add_slowfast_vos_config
from slowfast_vos.modeling import SlowFastModule, count_parameters
from slowfast_vos.modeling.slowfast import temporal_kernels

# reference-architecture.md: module parameter counts (conv weights + biases + BN affine) at the paper's widths.
REFERENCE_COUNTS = {
    (1, 1): 1_499_456,
    (3, 3): 2_476_352,
    (7, 7): 4_485_440,
    (1, 7): 1_696_064,
    (3, 7): 2_648_384,
}
# p2..p6 spatial sizes of a 64x96 input (strides 4, 8, 16, 32, 64).
FPN_SIZES_64x96 = {"p2": (16, 24), "p3": (8, 12), "p4": (4, 6), "p5": (2, 3), "p6": (1, 2)}


def paper_cfg(m: int, n: int):
    """Default (paper-width) config for an m-n module."""
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.MODEL.SLOWFAST.SLOW_FRAMES = m
    cfg.MODEL.SLOWFAST.FAST_FRAMES = n
    return cfg


@pytest.mark.parametrize("m,n", list(REFERENCE_COUNTS))
def test_reference_parameter_counts(m, n):
    module = SlowFastModule(paper_cfg(m, n))
    assert module.in_channels == 256
    assert count_parameters(module) == REFERENCE_COUNTS[(m, n)]
    assert count_parameters(module, trainable_only=True) == REFERENCE_COUNTS[(m, n)]
    module.fast.requires_grad_(False)
    fast = sum(p.numel() for p in module.fast.parameters())
    assert count_parameters(module, trainable_only=True) == REFERENCE_COUNTS[(m, n)] - fast


def test_paper_deltas_to_1_1():
    base = REFERENCE_COUNTS[(1, 1)]
    deltas = {cfg: count_parameters(SlowFastModule(paper_cfg(*cfg))) - base for cfg in REFERENCE_COUNTS}
    assert deltas == {(1, 1): 0, (3, 3): 976_896, (7, 7): 2_985_984, (1, 7): 196_608, (3, 7): 1_148_928}


@pytest.mark.parametrize("m,n", list(REFERENCE_COUNTS))
def test_output_shape_at_every_fpn_level(m, n):
    module = SlowFastModule(paper_cfg(m, n)).eval()
    with torch.no_grad():
        for level, (h, w) in FPN_SIZES_64x96.items():
            out = module(torch.randn(2, 256, n, h, w))
            assert out.shape == (2, 256, h, w), level
            assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "frames,kernels",
    [(1, (1, 1, 1)), (3, (1, 2, 2)), (5, (2, 2, 3)), (7, (3, 3, 3)), (9, (3, 4, 4)), (11, (4, 4, 5)),
     (13, (5, 5, 5)), (2, (1, 1, 2)), (4, (2, 2, 2)), (6, (2, 3, 3))],
)
def test_temporal_kernel_schedule(frames, kernels):
    assert temporal_kernels(frames) == kernels
    assert frames - sum(k - 1 for k in kernels) == 1  # valid convolutions collapse time to exactly one frame


def test_temporal_kernels_rejects_empty_pathway():
    with pytest.raises(ValueError, match="at least one frame"):
        temporal_kernels(0)


def _convs(seq: nn.Sequential):
    return [m for m in seq.modules() if isinstance(m, nn.Conv3d)]


@pytest.mark.parametrize("m,n,fusion", [(1, 1, (1, 1)), (3, 3, (1, 1)), (1, 7, (5, 3)), (3, 7, (3, 2))])
def test_layer_structure(m, n, fusion):
    module = SlowFastModule(paper_cfg(m, n))
    for pathway, frames, widths, inputs in (
        (module.slow, m, (192, 192, 224), (256, 256, 256)),
        (module.fast, n, (32, 32, 32), (256, 32, 32)),
    ):
        for i, layer in enumerate(pathway):
            conv, bn = layer[0], layer[1]
            assert isinstance(conv, nn.Conv3d) and isinstance(bn, nn.BatchNorm3d)
            assert conv.weight.shape == (widths[i], inputs[i], temporal_kernels(frames)[i], 3, 3)
            assert conv.padding == (0, 1, 1) and conv.bias is not None
            assert isinstance(layer[-1], nn.ReLU) == (i < 2)
    for i, lateral in enumerate(module.fusion):
        (conv,) = _convs(lateral)
        assert conv.weight.shape == (64, 32, fusion[i], 1, 1)
        assert conv.bias is None and conv.padding == (0, 0, 0)
        assert isinstance(lateral[1], nn.BatchNorm3d) and isinstance(lateral[2], nn.ReLU)


@pytest.mark.parametrize("m,n", [(1, 3), (3, 7), (1, 7)])
def test_slow_pathway_sees_only_the_centre_frames(m, n):
    """With the lateral connections silenced, the slow output channels depend only on the centre m frames."""
    module = SlowFastModule(in_channels=24, slow_frames=m, fast_frames=n, slow_channels=[8, 8, 16],
                            fast_channels=[4, 4, 8], fusion_channels=4).eval()
    with torch.no_grad():
        for lateral in module.fusion:
            lateral[0].weight.zero_()
        x = torch.randn(1, 24, n, 5, 6)
        perturbed = x.clone()
        start = (n - m) // 2
        perturbed[:, :, :start] += 1.0
        perturbed[:, :, start + m:] += 1.0
        a, b = module(x), module(perturbed)
        centre = x.clone()
        centre[:, :, start:start + m] += 1.0
        c = module(centre)
    assert torch.equal(a[:, :16], b[:, :16])
    assert not torch.allclose(a[:, 16:], b[:, 16:])  # the fast pathway does see the outer frames
    assert not torch.allclose(a[:, :16], c[:, :16])


def test_forward_rejects_wrong_window():
    module = SlowFastModule(paper_cfg(3, 7)).eval()
    with pytest.raises(ValueError, match="expects"):
        module(torch.randn(1, 256, 5, 4, 4))
    with pytest.raises(ValueError, match="expects"):
        module(torch.randn(1, 128, 7, 4, 4))


@pytest.mark.parametrize(
    "key,value,pattern",
    [
        ("SLOW_FRAMES", 2, "MODEL.SLOWFAST.SLOW_FRAMES"),
        ("SLOW_FRAMES", 0, "MODEL.SLOWFAST.SLOW_FRAMES"),
        ("FAST_FRAMES", 4, "MODEL.SLOWFAST.FAST_FRAMES"),
        ("FAST_FRAMES", -1, "MODEL.SLOWFAST.FAST_FRAMES"),
        ("SLOW_FRAMES", 9, "MODEL.SLOWFAST.SLOW_FRAMES .* must not exceed"),
        ("SLOW_CHANNELS", [192, 224], "MODEL.SLOWFAST.SLOW_CHANNELS"),
        ("SLOW_CHANNELS", [192, 0, 224], "MODEL.SLOWFAST.SLOW_CHANNELS"),
        ("FAST_CHANNELS", [32, 32, 32, 32], "MODEL.SLOWFAST.FAST_CHANNELS"),
        ("FUSION_CHANNELS", 0, "MODEL.SLOWFAST.FUSION_CHANNELS"),
        ("FAST_CHANNELS", [32, 32, 64], "MODEL.FPN.OUT_CHANNELS"),
    ],
)
def test_invalid_settings_name_the_key(key, value, pattern):
    cfg = paper_cfg(3, 7)
    cfg.MODEL.SLOWFAST[key] = value
    with pytest.raises(ValueError, match=pattern):
        SlowFastModule(cfg)


def test_width_and_in_features_come_from_the_backbone():
    cfg = paper_cfg(1, 3)
    shapes = {f"p{i}": ShapeSpec(channels=256, stride=2 ** i) for i in range(2, 7)}
    assert SlowFastModule(cfg, shapes).in_channels == 256
    cfg.MODEL.SLOWFAST.IN_FEATURES = ["p2", "p7"]
    with pytest.raises(ValueError, match=r"MODEL.SLOWFAST.IN_FEATURES \['p7'\]"):
        SlowFastModule(cfg, shapes)
    cfg.MODEL.SLOWFAST.IN_FEATURES = []
    with pytest.raises(ValueError, match="MODEL.SLOWFAST.IN_FEATURES"):
        SlowFastModule(cfg, shapes)
    cfg.MODEL.SLOWFAST.IN_FEATURES = ["p2", "p3"]
    shapes["p3"] = ShapeSpec(channels=128, stride=8)
    with pytest.raises(ValueError, match="MODEL.SLOWFAST.IN_FEATURES .* different widths"):
        SlowFastModule(cfg, shapes)


def _small_module(norm_statistics, levels=("p2", "p3")):
    return SlowFastModule(in_channels=16, slow_frames=3, fast_frames=7, slow_channels=[8, 8, 12],
                          fast_channels=[4, 4, 4], fusion_channels=4, norm_statistics=norm_statistics, levels=levels)


def test_per_level_statistics_are_kept_apart_and_used_at_test_time():
    torch.manual_seed(0)
    per_level = _small_module("per_level")
    shared = _small_module("shared")
    assert count_parameters(per_level) == count_parameters(shared)  # statistics are buffers, not parameters
    assert not any(k.startswith("level_statistics") for k in shared.state_dict())
    shared.load_state_dict({k: v for k, v in per_level.state_dict().items() if not k.startswith("level_")})
    inputs = {"p2": torch.randn(2, 16, 7, 6, 8) * 3 + 5, "p3": torch.randn(2, 16, 7, 6, 8) * 0.5 - 2}
    per_level.train()
    for _ in range(3):
        for level, x in inputs.items():
            per_level(x, level=level)
    first_bn = per_level.fast[0][1]
    assert torch.count_nonzero(first_bn.running_mean) == 0  # the BatchNorms' own statistics stay unused
    p2, p3 = per_level.level_statistics["p2"], per_level.level_statistics["p3"]
    assert int(p2.count0) == int(p3.count0) == 3
    assert not torch.allclose(p2.mean0, p3.mean0, atol=0.1)
    # At test time each level is normalised with its own statistics: equal to a shared module holding them.
    per_level.eval()
    shared.eval()
    for level, x in inputs.items():
        stats = per_level.level_statistics[level]
        for i, bn in enumerate(per_level._norms):
            target = shared._norms[i]
            mean, var, count = stats.of(i)
            target.running_mean.copy_(mean)
            target.running_var.copy_(var)
            target.num_batches_tracked.copy_(count)
        with torch.no_grad():
            torch.testing.assert_close(per_level(x, level=level), shared(x))
    with pytest.raises(ValueError, match="per-level statistics for \\['p2', 'p3'\\], got level 'p4'"):
        per_level(inputs["p2"], level="p4")
    with pytest.raises(ValueError, match="NORM_STATISTICS must be one of"):
        _small_module("per_batch")


def test_per_level_statistics_from_config_and_in_the_step_sharing_path():
    cfg = paper_cfg(3, 7)
    cfg.MODEL.SLOWFAST.NORM_STATISTICS = "per_level"
    module = SlowFastModule(cfg)
    assert sorted(module.level_statistics) == ["p2", "p3", "p4", "p5", "p6"]
    small = _small_module("per_level")
    frames = {k: torch.randn(16, 6, 8) for k in range(9)}
    windows = [[None, None, 0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7, 8]]
    dense = torch.stack([torch.stack([frames[k] if k is not None else torch.zeros(16, 6, 8) for k in w], 1)
                         for w in windows])
    small.train()
    out_shared = small(frames, windows, level="p3")
    mean_shared = small.level_statistics["p3"].mean0.clone()
    small.level_statistics["p3"].mean0.zero_()
    small.level_statistics["p3"].count0.zero_()
    out_dense = small(dense, level="p3")
    torch.testing.assert_close(out_shared, out_dense)
    torch.testing.assert_close(small.level_statistics["p3"].mean0, mean_shared)
    assert int(small.level_statistics["p2"].count0) == 0
