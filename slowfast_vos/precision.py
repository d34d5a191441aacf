"""Reduced-precision arithmetic: the one place that turns TEST.PRECISION / SOLVER.AMP.PRECISION into autocast.

``fp32`` (the default) runs no autocast at all, so results are bit-identical to a model that never heard of this
module. ``bf16`` (CPU or a GPU that supports it) and ``fp16`` (CUDA only) run the model under ``torch.autocast``:
convolutions and matrix products (backbone, FPN, SlowFast module, RPN and ROI-head layers) compute in the reduced
type. These numerically sensitive steps stay in fp32 whatever the precision:

- box decoding of proposals and detections: Detectron2's ``Box2BoxTransform`` casts the deltas to fp32;
- ROI pooling: ``SlowFastRCNN`` hands fp32 feature maps to the ROI heads, because Detectron2's ``ROIAlign`` casts
  the boxes to the features' type, and bf16 box coordinates are 4 pixels coarse beyond 512 (8 beyond 1024);
- scores and mask probabilities: ``SlowFastRCNN`` casts them to fp32 before the masks are pasted into the frame
  (``paste_masks_in_image`` samples the mask with a grid of the mask's type) and before callers see them;
- BatchNorm statistics: running mean and variance stay fp32 buffers, and the SlowFast module computes the batch
  statistics of training-mode BatchNorm from fp32 values.

Loss functions run in fp32 through autocast's own policy (cross entropy, BCE with logits, smooth L1 on fp32 targets).

``SLOWFAST_VOS_HIDE_BF16=1`` in the environment makes this module treat the CPU as one without bf16 instructions
(AVX2-only, like most laptops): "auto" resolves to fp32 and an explicit bf16 warns, so a machine with bf16 can run
what most users' machines run (the CI's second test pass does).
"""
from __future__ import annotations

import contextlib
import os
import platform
import warnings
from typing import ContextManager, Optional, Union

import torch

__all__ = [
    "AUTO", "HIDE_BF16_ENV", "PRECISIONS", "amp_dtype", "autocast", "autocast_dtype", "bf16_hidden", "check_precision",
    "cpu_has_native_bf16", "cpu_summary", "inference_precision", "resolve_auto", "resolve_precision",
]

# Values of TEST.PRECISION (and, except fp32, of SOLVER.AMP.PRECISION).
PRECISIONS = ("fp32", "bf16", "fp16")
# "auto": bf16 on a CPU that computes bf16 in hardware, fp32 anywhere else (a CPU without bf16 instructions, where
# bf16 is many times slower, or a GPU). The CPU-scale quickstart recipe uses it (docs/results/precision-recipe/).
AUTO = "auto"
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Set to a non-empty value other than "0", the CPU counts as one without bf16 instructions (see the module docstring).
HIDE_BF16_ENV = "SLOWFAST_VOS_HIDE_BF16"


def bf16_hidden() -> bool:
    """Whether HIDE_BF16_ENV asks to treat this CPU as one without bf16 instructions."""
    return os.environ.get(HIDE_BF16_ENV, "") not in ("", "0")


def _hardware_bf16() -> bool:
    """oneDNN's check: AVX-512 or AMX class CPUs compute bf16 in hardware."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else True


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 convolutions and matrix products in hardware (oneDNN's check: AVX-512 or AMX
    class CPUs), unless HIDE_BF16_ENV hides it. Without it PyTorch runs reference kernels, many times slower than
    fp32."""
    return not bf16_hidden() and _hardware_bf16()


def cpu_summary() -> str:
    """The machine's CPU kind in one line, for records that show a time: architecture, PyTorch's CPU capability and
    whether bf16 runs in hardware, e.g. "x86_64, AVX512, bf16 instructions: yes" ("no", or "hidden by
    SLOWFAST_VOS_HIDE_BF16" where the variable hides them)."""
    if bf16_hidden():
        bf16 = f"hidden by {HIDE_BF16_ENV}" if _hardware_bf16() else "no"
    else:
        bf16 = "yes" if _hardware_bf16() else "no"
    return f"{platform.machine() or 'unknown'}, {torch.backends.cpu.get_cpu_capability()}, bf16 instructions: {bf16}"


def resolve_auto(device: Union[str, torch.device]) -> str:
    """What "auto" means on ``device``: "bf16" on a CPU with native bf16, else "fp32"."""
    if torch.device(device).type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def resolve_precision(cfg) -> bool:
    """Replace "auto" in ``cfg.TEST.PRECISION`` and ``cfg.SOLVER.AMP.PRECISION`` (the latter only matters with
    SOLVER.AMP.ENABLED) by what it means on ``cfg.MODEL.DEVICE`` (resolve_auto); a resolved fp32 training turns
    SOLVER.AMP.ENABLED off. ``cfg`` must be mutable. The run's config.yaml then records the precision that ran.
    Returns whether anything was replaced."""
    replaced = False
    if cfg.TEST.PRECISION == AUTO:
        cfg.TEST.PRECISION = resolve_auto(cfg.MODEL.DEVICE)
        replaced = True
    if cfg.SOLVER.AMP.PRECISION == AUTO:
        precision = resolve_auto(cfg.MODEL.DEVICE)
        if precision == "fp32":
            cfg.SOLVER.AMP.ENABLED = False
            cfg.SOLVER.AMP.PRECISION = "fp32"  # what runs; only read (and refused) with SOLVER.AMP.ENABLED on
        else:
            cfg.SOLVER.AMP.PRECISION = precision
        replaced = True
    return replaced


def autocast_dtype(
    precision: str, device: Union[str, torch.device], key: str = "TEST.PRECISION"
) -> Optional[torch.dtype]:
    """The autocast dtype of ``precision`` on ``device`` (None for fp32); a ValueError naming ``key`` if the
    device cannot run it (fp16 needs CUDA; bf16 needs a CPU or a GPU with bf16 support). "auto" is resolve_auto's
    choice for ``device``."""
    if precision == AUTO:
        precision = resolve_auto(device)
    if precision not in PRECISIONS:
        raise ValueError(f"{key} must be one of {(*PRECISIONS, AUTO)}, got {precision!r}.")
    if precision == "fp32":
        return None
    device_type = torch.device(device).type
    if device_type == "cuda":
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"{key} 'bf16': this GPU does not support bfloat16; use 'fp16' or 'fp32'.")
        return _DTYPES[precision]
    if device_type == "cpu":
        if precision == "fp16":
            raise ValueError(f"{key} 'fp16' needs a CUDA device (MODEL.DEVICE is {str(device)!r}); "
                             f"use 'bf16' or 'fp32' on CPU.")
        if not cpu_has_native_bf16():
            hidden = f"; {HIDE_BF16_ENV} hides them" if bf16_hidden() else ""
            warnings.warn(f"{key} 'bf16': this CPU has no bf16 instructions (PyTorch CPU capability "
                          f"{torch.backends.cpu.get_cpu_capability()}{hidden}), so bf16 runs PyTorch's reference "
                          f"kernels, much slower than fp32; 'fp32' is faster here.", RuntimeWarning, stacklevel=2)
        return torch.bfloat16
    raise ValueError(f"{key} {precision!r} is not supported on device {str(device)!r}; use 'fp32'.")


def autocast(
    precision: str, device: Union[str, torch.device], key: str = "TEST.PRECISION"
) -> ContextManager:
    """``torch.autocast`` in ``precision`` on ``device``'s type; a no-op context for fp32."""
    dtype = autocast_dtype(precision, device, key)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def inference_precision(cfg) -> ContextManager:
    """The autocast context of ``cfg.TEST.PRECISION`` on ``cfg.MODEL.DEVICE``, for running the model in eval mode."""
    return autocast(cfg.TEST.PRECISION, cfg.MODEL.DEVICE)


def amp_dtype(cfg) -> Optional[torch.dtype]:
    """The training autocast dtype SOLVER.AMP.* asks for on MODEL.DEVICE (None when SOLVER.AMP.ENABLED is off)."""
    if not cfg.SOLVER.AMP.ENABLED:
        return None
    precision = cfg.SOLVER.AMP.PRECISION
    if precision not in ("fp16", "bf16", AUTO):
        raise ValueError(f"SOLVER.AMP.PRECISION must be 'fp16', 'bf16' or 'auto' when SOLVER.AMP.ENABLED, got "
                         f"{precision!r}.")
    return autocast_dtype(precision, cfg.MODEL.DEVICE, key="SOLVER.AMP.PRECISION")  # "auto" may mean fp32: None


def check_precision(cfg) -> None:
    """Fail early on a TEST.PRECISION or SOLVER.AMP.PRECISION that MODEL.DEVICE cannot run (errors name the key)."""
    autocast_dtype(cfg.TEST.PRECISION, cfg.MODEL.DEVICE)
    amp_dtype(cfg)
