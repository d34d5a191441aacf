"""The SlowFast temporal module: fuses a window of per-frame FPN feature maps into the target frame's features."""
from __future__ import annotations

import contextlib
from typing import Dict, Hashable, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch
from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from torch import nn

from .step_sharing import Slot, StepCache, build_stages, execute_plan, plan_steps

__all__ = ["NORM_STATISTICS", "SlowFastModule", "StepCache", "temporal_kernels"]

# MODEL.SLOWFAST.NORM_STATISTICS: "shared" (the reference: the one module's BatchNorms keep one set of running
# statistics for every FPN level) or "per_level" (opt-in: the same weights, one set of running statistics per level).
NORM_STATISTICS = ("shared", "per_level")


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


class _RunningStatistics(nn.Module):
    """One set of running statistics (mean, var, batch count) for each BatchNorm of the module."""

    def __init__(self, norms: Sequence[nn.BatchNorm3d]):
        super().__init__()
        for i, bn in enumerate(norms):
            self.register_buffer(f"mean{i}", torch.zeros_like(bn.running_mean))
            self.register_buffer(f"var{i}", torch.ones_like(bn.running_var))
            self.register_buffer(f"count{i}", torch.zeros_like(bn.num_batches_tracked))

    def of(self, i: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return getattr(self, f"mean{i}"), getattr(self, f"var{i}"), getattr(self, f"count{i}")


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
        norm_statistics: str = "shared",
        levels: Sequence[str] = (),
    ):
        """Build the two pathways and the two lateral connections; arguments mirror ``MODEL.SLOWFAST.*``.

        ``norm_statistics`` "per_level" keeps one set of BatchNorm running statistics for each of ``levels`` (the
        FPN levels the module is applied to; forward then needs ``level``).
        """
        super().__init__()
        if norm_statistics not in NORM_STATISTICS:
            raise ValueError(f"MODEL.SLOWFAST.NORM_STATISTICS must be one of {NORM_STATISTICS}, got "
                             f"{norm_statistics!r}.")
        if norm_statistics == "per_level" and not levels:
            raise ValueError("MODEL.SLOWFAST.NORM_STATISTICS 'per_level' needs the levels "
                             "(MODEL.SLOWFAST.IN_FEATURES).")
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
        self.norm_statistics = norm_statistics
        norms = [layer[1] for layers in (self.fast, self.slow, self.fusion) for layer in layers]
        self._norms = norms
        # Per-level running statistics swapped into the BatchNorms for each call (their own stay unused).
        self.level_statistics = nn.ModuleDict(
            {level: _RunningStatistics(norms) for level in levels} if norm_statistics == "per_level" else {}
        )
        # The layers as per-time-step stages, for the step-sharing forward (step_sharing.py).
        self._stages = build_stages(self.fast, self.slow, self.fusion, slow_lengths, fast_lengths,
                                    (fast_frames - slow_frames) // 2)

    def zero_init_output(self) -> None:
        """Zero the scale (and shift) of each pathway's last BatchNorm: the module then outputs exactly zero.

        Used by the residual fusion so that, before training, target features + module output = target features
        (the zero-initialised residual branch of Goyal et al. and of SlowFast-style lateral connections).
        """
        for pathway in (self.slow, self.fast):
            norm = pathway[-1][1]
            nn.init.zeros_(norm.weight)
            nn.init.zeros_(norm.bias)

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
            "norm_statistics": sf.NORM_STATISTICS,
            "levels": list(sf.IN_FEATURES),
        }

    def forward(
        self,
        window: "torch.Tensor | Mapping[Hashable, torch.Tensor] | Sequence[torch.Tensor]",
        windows: Optional[Sequence[Sequence[Slot]]] = None,
        cache: Optional[StepCache] = None,
        level: Optional[str] = None,
    ) -> torch.Tensor:
        """Fuse windows of frame features into ``(B, C, H, W)`` target features.

        Dense (the reference): ``window`` is a ``(B, C, n, H, W)`` tensor. Shared: ``window`` maps frame keys to
        ``(C, H, W)`` maps and ``windows`` gives each target's n slots (a key, or None for an all-zero frame);
        every layer output is then computed once per distinct input span, so overlapping windows (neighbouring
        targets of a batch, consecutive frames of a video) share their steps. ``cache`` (eval mode only) carries
        the steps of one call to the next and is left holding exactly this call's steps. ``level`` names the FPN
        level of the features: with per-level statistics its own BatchNorm statistics are used (and updated).
        """
        with self._statistics(level):
            if windows is not None:
                return self._forward_shared(window, windows, cache)
            return self._forward_dense(window)

    @contextlib.contextmanager
    def _statistics(self, level: Optional[str]) -> Iterator[None]:
        """Point the BatchNorms at ``level``'s running statistics for one call (per-level statistics only)."""
        if not self.level_statistics:
            yield
            return
        if level not in self.level_statistics:
            raise ValueError(f"SlowFastModule has per-level statistics for {list(self.level_statistics)}, got "
                             f"level {level!r}.")
        stats = self.level_statistics[level]
        own = [(bn.running_mean, bn.running_var, bn.num_batches_tracked) for bn in self._norms]
        try:
            for i, bn in enumerate(self._norms):
                bn.running_mean, bn.running_var, bn.num_batches_tracked = stats.of(i)
            yield
        finally:
            for bn, (mean, var, count) in zip(self._norms, own):
                bn.running_mean, bn.running_var, bn.num_batches_tracked = mean, var, count

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
        plans, outputs = plan_steps(self._stages, windows, cache)
        return execute_plan(plans, outputs, frames, torch.zeros_like(sample), cache)


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
