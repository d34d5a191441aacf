"""DAVIS and YouTube-VOS datasets, the clip dataset mapper and the synthetic set generators.

The file formats they read are ``vos_eval.davis_format`` and ``vos_eval.ytvos_format``. Names are imported on first
use (PEP 562); ``import slowfast_vos`` registers the built-in datasets.
"""
from ..utils.lazy import lazy_exports

# Public name -> submodule that defines it.
_EXPORTS = {
    "ClipDatasetMapper": ".clip_mapper",
    "build_clip_augmentation": ".clip_mapper",
    "iter_sequences": ".clip_mapper",
    "load_davis": ".datasets",
    "register_davis": ".datasets",
    "synthetic_davis_root": ".datasets",
    "load_ytvos": ".datasets",
    "dataset_benchmark": ".datasets",
    "register_ytvos": ".datasets",
    "synthetic_ytvos_root": ".datasets",
    "ensure_dataset_available": ".synthetic",
    "ensure_synthetic_davis": ".synthetic",
    "generate_synthetic_davis": ".synthetic",
    "ensure_synthetic_ytvos": ".synthetic",
    "generate_synthetic_ytvos": ".synthetic",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
