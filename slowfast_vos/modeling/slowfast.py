"""The SlowFast temporal module: fuses a window of per-frame FPN feature maps into the target frame's features."""
from __future__ import annotations

from typing import Dict, Hashable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from torch import nn

__all__ = ["SlowFastModule", "StepCache", "temporal_kernels"]

# A window slot: the key of a frame in the ``frames`` mapping, or None for an all-zero frame (outside the video).
Slot = Optional[Hashable]
# Layer outputs of one call kept for the next (inference_video): node key -> (C, H, W) tensor.
StepCache = Dict[Hashable, torch.Tensor]


def temporal_kernels(num_frames: int) -> Tuple[int, int, int]:
    """Temporal kernel sizes of a pathway's three valid convolutions that take ``num_frames`` frames down to one."""
    if num_frames < 1:
        raise ValueError(f"A pathway needs at least one frame, got {num_frames}.")
    d, rest = divmod(num_frames, 3)
    if rest == 0:
        return (d, d + 1, d + 1)
    if rest == 1:
        return (d + 1, d + 1, d + 1)
    return (d + 1, d + 1, d + 2)


def _temporal_lengths(num_frames: int) -> List[int]:
    """Temporal length after each of a pathway's three layers (valid convolution: T - k + 1)."""
    lengths, length = [], num_frames
    for k in temporal_kernels(num_frames):
        length = length - k + 1
        lengths.append(length)
    return lengths


def _conv_bn(in_channels: int, out_channels: int, kernel_t: int, relu: bool) -> nn.Sequential:
    """One pathway layer: Conv3d (k_t, 3, 3) with spatial padding only, BatchNorm3d, and optionally ReLU."""
    layers: List[nn.Module] = [
        nn.Conv3d(in_channels, out_channels, kernel_size=(kernel_t, 3, 3), padding=(0, 1, 1)),
        nn.BatchNorm3d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _fusion(in_channels: int, out_channels: int, kernel_t: int) -> nn.Sequential:
    """Fast -> slow lateral connection: a bias-free (k_f, 1, 1) Conv3d that matches the slow temporal length."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=(kernel_t, 1, 1), bias=False),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
    )


class _Stage(NamedTuple):
    """One layer of the module seen per time step: which earlier outputs each of its k taps concatenates.

    Output p of a window reads, for tap j, index p + j + offset of every source (channels concatenated in source
    order, as the dense forward's torch.cat). ``hull`` = (first window position, number of positions) of the
    frames output 0 depends on; output p depends on the same span shifted by p, so equal frames over that span
    mean an equal output (valid temporal convolutions are shift-equivariant, eval-mode BN is per-step affine).
    """

    name: str
    layer: nn.Sequential
    sources: Tuple[Tuple[str, int], ...]
    kernel: int
    length: int
    hull: Tuple[int, int]


_FRAMES = "frame"


def _hull_union(spans: Sequence[Tuple[int, int]]) -> Tuple[int, int]:
    """The smallest (start, length) interval covering all (start, length) spans."""
    start = min(a for a, _ in spans)
    return start, max(a + n for a, n in spans) - start


def _fused_conv_weights(conv: nn.Conv3d, bn: nn.BatchNorm3d) -> Tuple[torch.Tensor, torch.Tensor]:
    """Conv3d + eval-mode BatchNorm3d as one conv2d over the k taps stacked on channels (tap-major)."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return _tap_major(conv.weight) * scale[:, None, None, None], shift


def _tap_major(weight: torch.Tensor) -> torch.Tensor:
    """(Cout, Cin, k, kh, kw) Conv3d weight -> (Cout, k * Cin, kh, kw) conv2d weight over tap-stacked inputs."""
    c_out, c_in, k, kh, kw = weight.shape
    return weight.transpose(1, 2).reshape(c_out, k * c_in, kh, kw)


def _batch_norm_counted(y: torch.Tensor, counts: List[int], bn: nn.BatchNorm3d) -> torch.Tensor:
    """Batch-statistics BatchNorm of distinct steps ``y`` (N, C, H, W) where step i stands for counts[i] steps.

    Equal to BatchNorm3d over the dense (B, C, T, H, W) windows in which shared steps are repeated, running
    statistics included, so sharing steps between overlapping windows leaves training unchanged. Statistics are
    computed in fp32 under autocast (slowfast_vos/precision.py).
    """
    y = y.float()
    factor = 0.0
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    update = bn.training and bn.running_mean is not None
    if all(c == 1 for c in counts):
        return F.batch_norm(y, bn.running_mean if update else None, bn.running_var if update else None,
                            bn.weight, bn.bias, training=True, momentum=factor, eps=bn.eps)
    weights = torch.tensor(counts, dtype=y.dtype, device=y.device)[:, None]
    n = float(sum(counts) * y.shape[2] * y.shape[3])
    mean = (y.sum((2, 3)) * weights).sum(0) / n
    centred = y - mean[None, :, None, None]
    var = (centred.square().sum((2, 3)) * weights).sum(0) / n
    out = centred * torch.rsqrt(var + bn.eps)[None, :, None, None]
    if bn.weight is not None:
        out = out * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
    if update:
        with torch.no_grad():
            bn.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
            bn.running_var.mul_(1 - factor).add_(var * (n / max(n - 1, 1.0)), alpha=factor)
    return out


def _check_channels(name: str, key: str, channels: Sequence[int]) -> List[int]:
    """Validate a list of three positive layer widths."""
    channels = list(channels)
    if len(channels) != 3 or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels):
        raise ValueError(f"{key} ({name}) must be three positive ints (one per layer), got {channels}.")
    return channels


class SlowFastModule(nn.Module):
    """Two-pathway 3D-conv module (slow: m centre frames, wide; fast: all n frames, thin) collapsing time to one.

    Input: ``(B, C, n, H, W)`` features of the n-frame window centred on the target frame. Output: ``(B, C, H, W)``
    with ``C = slow_channels[-1] + fast_channels[-1]`` channels, which must equal the input width so that
    the standard (pretrained) ROI heads fit the fused features unchanged.
    """

    @configurable
    def __init__(
        self,
        *,
        in_channels: int,
        slow_frames: int,
        fast_frames: int,
        slow_channels: Sequence[int] = (192, 192, 224),
        fast_channels: Sequence[int] = (32, 32, 32),
        fusion_channels: int = 64,
    ):
        """Build the two pathways and the two lateral connections; arguments mirror ``MODEL.SLOWFAST.*``."""
        super().__init__()
        for key, name, value in (
            ("MODEL.SLOWFAST.SLOW_FRAMES", "slow_frames", slow_frames),
            ("MODEL.SLOWFAST.FAST_FRAMES", "fast_frames", fast_frames),
        ):
            if not isinstance(value, int) or value < 1 or value % 2 == 0:
                raise ValueError(f"{key} ({name}) must be a positive odd int (a window centred on the target), "
                                 f"got {value!r}.")
        if slow_frames > fast_frames:
            raise ValueError(f"MODEL.SLOWFAST.SLOW_FRAMES ({slow_frames}) must not exceed "
                             f"MODEL.SLOWFAST.FAST_FRAMES ({fast_frames}): the slow frames are the centre of the "
                             f"fast window.")
        slow_channels = _check_channels("slow_channels", "MODEL.SLOWFAST.SLOW_CHANNELS", slow_channels)
        fast_channels = _check_channels("fast_channels", "MODEL.SLOWFAST.FAST_CHANNELS", fast_channels)
        if not isinstance(fusion_channels, int) or fusion_channels < 1:
            raise ValueError(f"MODEL.SLOWFAST.FUSION_CHANNELS (fusion_channels) must be a positive int, "
                             f"got {fusion_channels!r}.")
        if slow_channels[-1] + fast_channels[-1] != in_channels:
            raise ValueError(
                f"MODEL.SLOWFAST.SLOW_CHANNELS[-1] + MODEL.SLOWFAST.FAST_CHANNELS[-1] = "
                f"{slow_channels[-1]} + {fast_channels[-1]} must equal the backbone width "
                f"(MODEL.FPN.OUT_CHANNELS = {in_channels}) so the ROI heads fit the fused features."
            )
        slow_lengths, fast_lengths = _temporal_lengths(slow_frames), _temporal_lengths(fast_frames)
        fusion_kernels = [f - s + 1 for f, s in zip(fast_lengths[:2], slow_lengths[:2])]
        if min(fusion_kernels) < 1:
            raise ValueError(f"MODEL.SLOWFAST.SLOW_FRAMES={slow_frames}, FAST_FRAMES={fast_frames}: the fast "
                             f"pathway becomes shorter than the slow one, so they cannot be fused.")

        self.in_channels = in_channels
        self.slow_frames = slow_frames
        self.fast_frames = fast_frames
        self.slow_kernels = temporal_kernels(slow_frames)
        self.fast_kernels = temporal_kernels(fast_frames)
        self.fusion_kernels = tuple(fusion_kernels)

        fast_in = [in_channels] + fast_channels[:2]
        self.fast = nn.ModuleList(
            _conv_bn(fast_in[i], fast_channels[i], self.fast_kernels[i], relu=i < 2) for i in range(3)
        )
        slow_in = [in_channels] + [c + fusion_channels for c in slow_channels[:2]]
        self.slow = nn.ModuleList(
            _conv_bn(slow_in[i], slow_channels[i], self.slow_kernels[i], relu=i < 2) for i in range(3)
        )
        self.fusion = nn.ModuleList(
            _fusion(fast_channels[i], fusion_channels, self.fusion_kernels[i]) for i in range(2)
        )
        self._stages = self._plan(slow_lengths, fast_lengths)
        self._hulls = {stage.name: stage.hull for stage in self._stages}

    def _plan(self, slow_lengths: List[int], fast_lengths: List[int]) -> List[_Stage]:
        """The layers in data-flow order as per-step stages, with the window span each output depends on."""
        start = (self.fast_frames - self.slow_frames) // 2
        hulls: Dict[str, Tuple[int, int]] = {_FRAMES: (0, 1)}
        stages: List[_Stage] = []

        def add(name: str, layer: nn.Sequential, sources: Tuple[Tuple[str, int], ...], length: int) -> None:
            kernel = layer[0].kernel_size[0]
            spans = [(hulls[src][0] + off + j, hulls[src][1]) for src, off in sources for j in range(kernel)]
            hull = _hull_union(spans)
            hulls[name] = hull
            stages.append(_Stage(name, layer, sources, kernel, length, hull))

        for i in range(3):
            add(f"fast{i}", self.fast[i], ((f"fast{i - 1}" if i else _FRAMES, 0),), fast_lengths[i])
            slow_sources = ((_FRAMES, start),) if i == 0 else ((f"slow{i - 1}", 0), (f"fusion{i - 1}", 0))
            add(f"slow{i}", self.slow[i], slow_sources, slow_lengths[i])
            if i < 2:
                add(f"fusion{i}", self.fusion[i], ((f"fast{i}", 0),), slow_lengths[i])
        return stages

    @classmethod
    def from_config(cls, cfg, input_shape: Optional[Dict[str, ShapeSpec]] = None) -> dict:
        """Read ``MODEL.SLOWFAST.*``; the width is that of the backbone's IN_FEATURES (or MODEL.FPN.OUT_CHANNELS)."""
        sf = cfg.MODEL.SLOWFAST
        if input_shape is None:
            in_channels = cfg.MODEL.FPN.OUT_CHANNELS
        else:
            in_channels = feature_channels(sf.IN_FEATURES, input_shape)
        return {
            "in_channels": in_channels,
            "slow_frames": sf.SLOW_FRAMES,
            "fast_frames": sf.FAST_FRAMES,
            "slow_channels": list(sf.SLOW_CHANNELS),
            "fast_channels": list(sf.FAST_CHANNELS),
            "fusion_channels": sf.FUSION_CHANNELS,
        }

    def forward(
        self,
        window: "torch.Tensor | Mapping[Hashable, torch.Tensor] | Sequence[torch.Tensor]",
        windows: Optional[Sequence[Sequence[Slot]]] = None,
        cache: Optional[StepCache] = None,
    ) -> torch.Tensor:
        """Fuse windows of frame features into ``(B, C, H, W)`` target features.

        Dense (the reference): ``window`` is a ``(B, C, n, H, W)`` tensor. Shared: ``window`` maps frame keys to
        ``(C, H, W)`` maps and ``windows`` gives each target's n slots (a key, or None for an all-zero frame);
        every layer output is then computed once per distinct input span, so overlapping windows (neighbouring
        targets of a batch, consecutive frames of a video) share their steps. ``cache`` (eval mode only) carries
        the steps of one call to the next and is left holding exactly this call's steps.
        """
        if windows is not None:
            return self._forward_shared(window, windows, cache)
        return self._forward_dense(window)

    def _forward_dense(self, window: torch.Tensor) -> torch.Tensor:
        """Fuse ``(B, C, n, H, W)`` window features into ``(B, C, H, W)`` target features with Conv3d."""
        if window.dim() != 5 or window.shape[2] != self.fast_frames or window.shape[1] != self.in_channels:
            raise ValueError(f"SlowFastModule expects (B, {self.in_channels}, {self.fast_frames}, H, W) window "
                             f"features, got {tuple(window.shape)}.")
        start = (self.fast_frames - self.slow_frames) // 2
        slow = window[:, :, start:start + self.slow_frames]
        fast = window
        for i in range(3):
            fast = self.fast[i](fast)
            slow = self.slow[i](slow)
            if i < 2:
                slow = torch.cat([slow, self.fusion[i](fast)], dim=1)
        return torch.cat([slow, fast], dim=1).squeeze(2)

    def _forward_shared(
        self,
        frames: "Mapping[Hashable, torch.Tensor] | Sequence[torch.Tensor]",
        windows: Sequence[Sequence[Slot]],
        cache: Optional[StepCache],
    ) -> torch.Tensor:
        """Per-step evaluation of the module over the distinct steps of all windows (see ``forward``)."""
        if cache is not None and self.training:
            raise ValueError("SlowFastModule: a step cache is only valid in eval mode (training-mode BatchNorm "
                             "normalises with the statistics of the whole call).")
        windows = [list(w) for w in windows]
        if not windows or any(len(w) != self.fast_frames for w in windows):
            raise ValueError(f"SlowFastModule expects windows of {self.fast_frames} slots, got "
                             f"{[len(w) for w in windows]}.")
        slots = [slot for w in windows for slot in w if slot is not None]
        if not slots:
            raise ValueError("SlowFastModule: every window is empty (all slots None).")
        sample = frames[slots[0]]
        if sample.dim() != 3 or sample.shape[0] != self.in_channels:
            raise ValueError(f"SlowFastModule expects ({self.in_channels}, H, W) frame features, got "
                             f"{tuple(sample.shape)}.")
        zeros = torch.zeros_like(sample)
        values: Dict[Hashable, torch.Tensor] = {}

        def node(source: str, w: List[Slot], index: int) -> Hashable:
            """Key of ``source``'s output ``index`` in window ``w``: the source and the frame slots it depends on."""
            if source == _FRAMES:
                return (_FRAMES, w[index])
            start, length = self._hulls[source]
            return (source, tuple(w[start + index:start + index + length]))

        def value(key: Hashable) -> torch.Tensor:
            if key[0] == _FRAMES:
                return zeros if key[1] is None else frames[key[1]]
            return values[key]

        for stage in self._stages:
            plan: Dict[Hashable, List] = {}
            for w in windows:
                for p in range(stage.length):
                    key = node(stage.name, w, p)
                    if key in plan:
                        plan[key][0] += 1
                    elif cache is not None and key in cache:
                        values[key] = cache[key]
                        plan[key] = [1, None]
                    else:
                        inputs = [node(src, w, p + j + off) for j in range(stage.kernel) for src, off in stage.sources]
                        plan[key] = [1, inputs]
            new = [key for key, (_, inputs) in plan.items() if inputs is not None]
            if not new:
                continue
            pieces = [value(k) for key in new for k in plan[key][1]]
            out = self._step(stage.layer, _stack_steps(pieces, len(new)), [plan[key][0] for key in new])
            values.update(zip(new, out.unbind(0)))
        last_fast, last_slow = self._stages[-2].name, self._stages[-1].name
        fused = torch.stack(
            [torch.cat([values[node(last_slow, w, 0)], values[node(last_fast, w, 0)]]) for w in windows]
        )
        if cache is not None:
            cache.clear()
            cache.update(values)
        return fused

    @staticmethod
    def _step(layer: nn.Sequential, x: torch.Tensor, counts: List[int]) -> torch.Tensor:
        """One layer (Conv3d, BatchNorm3d[, ReLU]) on N distinct steps given as tap-stacked (N, k*C, H, W) inputs."""
        conv, bn = layer[0], layer[1]
        padding = conv.padding[1:]
        if not bn.training and bn.running_mean is not None:
            weight, bias = _fused_conv_weights(conv, bn)
            y = F.conv2d(x, weight, bias, padding=padding)
        else:
            y = _batch_norm_counted(F.conv2d(x, _tap_major(conv.weight), conv.bias, padding=padding), counts, bn)
        return F.relu(y) if len(layer) > 2 else y


def _stack_steps(pieces: Sequence[torch.Tensor], num_steps: int) -> torch.Tensor:
    """(num_steps, k*C, H, W) input from per-step, per-tap (C_i, H, W) pieces, step-major then tap-major."""
    if len(pieces) == 1:
        return pieces[0].unsqueeze(0)
    height, width = pieces[0].shape[-2:]
    return torch.cat([p.reshape(-1) for p in pieces]).view(num_steps, -1, height, width)


def feature_channels(in_features: Sequence[str], input_shape: Dict[str, ShapeSpec]) -> int:
    """The common channel count of the backbone features the module fuses; errors name MODEL.SLOWFAST.IN_FEATURES."""
    in_features = list(in_features)
    if not in_features:
        raise ValueError("MODEL.SLOWFAST.IN_FEATURES must name at least one backbone feature.")
    missing = [f for f in in_features if f not in input_shape]
    if missing:
        raise ValueError(f"MODEL.SLOWFAST.IN_FEATURES {missing} are not backbone outputs "
                         f"(available: {sorted(input_shape)}).")
    widths = {input_shape[f].channels for f in in_features}
    if len(widths) != 1:
        raise ValueError(f"MODEL.SLOWFAST.IN_FEATURES {in_features} have different widths {sorted(widths)}; "
                         f"one shared module needs one width.")
    return widths.pop()
