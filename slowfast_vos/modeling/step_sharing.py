"""Step sharing for the SlowFast module: every layer output computed once per distinct input span.

The module's valid temporal convolutions are shift-equivariant, so a layer's output at one time step depends only
on a fixed span of window frames. Overlapping windows (neighbouring targets of a batch, consecutive frames of a
video) therefore share steps. ``plan_steps`` decides, from frame keys alone, which steps each layer must compute;
``execute_plan`` computes them (eval: Conv3d + BatchNorm fused into one conv2d; training: BatchNorm statistics
weighted by how many dense windows each step stands for), so the result equals the dense Conv3d forward.
"""
from __future__ import annotations

from typing import Dict, Hashable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Slot", "StepCache", "Stage", "StagePlan", "build_stages", "plan_steps", "execute_plan", "layer_step"]

# A window slot: the key of a frame in the ``frames`` mapping, or None for an all-zero frame (outside the video).
Slot = Optional[Hashable]
# Layer outputs of one call kept for the next (inference_video): node key -> (C, H, W) tensor.
StepCache = Dict[Hashable, torch.Tensor]

# Source name of the input frames themselves.
FRAMES = "frame"


class Stage(NamedTuple):
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


class StagePlan(NamedTuple):
    """What one stage computes in a call: its new steps (node keys), their tap inputs and dense repeat counts."""

    stage: Stage
    new: List[Hashable]
    inputs: List[List[Hashable]]
    counts: List[int]
    reused: List[Hashable]


def _hull_union(spans: Sequence[Tuple[int, int]]) -> Tuple[int, int]:
    """The smallest (start, length) interval covering all (start, length) spans."""
    start = min(a for a, _ in spans)
    return start, max(a + n for a, n in spans) - start


def build_stages(
    fast: Sequence[nn.Sequential],
    slow: Sequence[nn.Sequential],
    fusion: Sequence[nn.Sequential],
    slow_lengths: Sequence[int],
    fast_lengths: Sequence[int],
    slow_start: int,
) -> List[Stage]:
    """The module's layers in data-flow order as per-step stages, with the window span each output depends on.

    ``slow_start`` is the window position of the slow pathway's first frame ((n - m) // 2).
    """
    hulls: Dict[str, Tuple[int, int]] = {FRAMES: (0, 1)}
    stages: List[Stage] = []

    def add(name: str, layer: nn.Sequential, sources: Tuple[Tuple[str, int], ...], length: int) -> None:
        kernel = layer[0].kernel_size[0]
        spans = [(hulls[src][0] + off + j, hulls[src][1]) for src, off in sources for j in range(kernel)]
        hulls[name] = _hull_union(spans)
        stages.append(Stage(name, layer, sources, kernel, length, hulls[name]))

    for i in range(3):
        add(f"fast{i}", fast[i], ((f"fast{i - 1}" if i else FRAMES, 0),), fast_lengths[i])
        slow_sources = ((FRAMES, slow_start),) if i == 0 else ((f"slow{i - 1}", 0), (f"fusion{i - 1}", 0))
        add(f"slow{i}", slow[i], slow_sources, slow_lengths[i])
        if i < 2:
            add(f"fusion{i}", fusion[i], ((f"fast{i}", 0),), slow_lengths[i])
    return stages


def _node(hulls: Mapping[str, Tuple[int, int]], source: str, window: Sequence[Slot], index: int) -> Hashable:
    """Key of ``source``'s output ``index`` in ``window``: the source and the frame slots it depends on."""
    if source == FRAMES:
        return (FRAMES, window[index])
    start, length = hulls[source]
    return (source, tuple(window[start + index:start + index + length]))


def plan_steps(
    stages: Sequence[Stage], windows: Sequence[Sequence[Slot]], cached: Optional[Mapping[Hashable, object]] = None
) -> Tuple[List[StagePlan], List[Tuple[Hashable, Hashable]]]:
    """Decide, from slot keys only, the distinct steps each stage computes for ``windows``.

    A step already in ``cached`` is reused instead of computed. Returns the per-stage plans and, per window, the
    keys of its final slow and fast outputs (the last two stages), whose channels make the fused features.
    """
    hulls = {stage.name: stage.hull for stage in stages}
    plans: List[StagePlan] = []
    for stage in stages:
        counts: Dict[Hashable, int] = {}
        inputs: Dict[Hashable, List[Hashable]] = {}
        reused: List[Hashable] = []
        for w in windows:
            for p in range(stage.length):
                key = _node(hulls, stage.name, w, p)
                if key in counts:
                    counts[key] += 1
                    continue
                counts[key] = 1
                if cached is not None and key in cached:
                    reused.append(key)
                else:
                    inputs[key] = [_node(hulls, src, w, p + j + off)
                                   for j in range(stage.kernel) for src, off in stage.sources]
        new = list(inputs)
        plans.append(StagePlan(stage, new, [inputs[k] for k in new], [counts[k] for k in new], reused))
    last_fast, last_slow = stages[-2].name, stages[-1].name
    outputs = [(_node(hulls, last_slow, w, 0), _node(hulls, last_fast, w, 0)) for w in windows]
    return plans, outputs


def execute_plan(
    plans: Sequence[StagePlan],
    outputs: Sequence[Tuple[Hashable, Hashable]],
    frames: "Mapping[Hashable, torch.Tensor] | Sequence[torch.Tensor]",
    zeros: torch.Tensor,
    cache: Optional[StepCache] = None,
) -> torch.Tensor:
    """Compute the planned steps and stack each window's fused ``(C, H, W)`` features into ``(B, C, H, W)``.

    ``zeros`` stands for None slots. ``cache`` supplies the reused steps and is left holding exactly this call's.
    """
    values: Dict[Hashable, torch.Tensor] = {}

    def value(key: Hashable) -> torch.Tensor:
        if key[0] == FRAMES:
            return zeros if key[1] is None else frames[key[1]]
        return values[key]

    for plan in plans:
        for key in plan.reused:
            values[key] = cache[key]
        if not plan.new:
            continue
        pieces = [value(k) for step_inputs in plan.inputs for k in step_inputs]
        out = layer_step(plan.stage.layer, _stack_steps(pieces, len(plan.new)), plan.counts)
        values.update(zip(plan.new, out.unbind(0)))
    fused = torch.stack([torch.cat([values[slow], values[fast]]) for slow, fast in outputs])
    if cache is not None:
        cache.clear()
        cache.update(values)
    return fused


def layer_step(layer: nn.Sequential, x: torch.Tensor, counts: List[int]) -> torch.Tensor:
    """One layer (Conv3d, BatchNorm3d[, ReLU]) on N distinct steps given as tap-stacked (N, k*C, H, W) inputs.

    ``counts[i]`` is how many dense window steps step i stands for (used by training-mode BatchNorm).
    """
    conv, bn = layer[0], layer[1]
    padding = conv.padding[1:]
    if not bn.training and bn.running_mean is not None:
        weight, bias = _fused_conv_weights(conv, bn)
        y = F.conv2d(x, weight, bias, padding=padding)
    else:
        y = _batch_norm_counted(F.conv2d(x, _tap_major(conv.weight), conv.bias, padding=padding), counts, bn)
    return F.relu(y) if len(layer) > 2 else y


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


def _stack_steps(pieces: Sequence[torch.Tensor], num_steps: int) -> torch.Tensor:
    """(num_steps, k*C, H, W) input from per-step, per-tap (C_i, H, W) pieces, step-major then tap-major."""
    if len(pieces) == 1:
        return pieces[0].unsqueeze(0)
    height, width = pieces[0].shape[-2:]
    return torch.cat([p.reshape(-1) for p in pieces]).view(num_steps, -1, height, width)
