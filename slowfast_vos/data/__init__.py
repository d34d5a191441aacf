"""DAVIS and YouTube-VOS datasets, the clip dataset mapper and the synthetic set generators.

Names are imported on first use (PEP 562), so importing one light submodule (e.g. the DAVIS format module) does
not pull in torch and Detectron2; ``import slowfast_vos`` registers the built-in datasets.
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
    "is_ytvos_dataset": ".datasets",
    "register_ytvos": ".datasets",
    "synthetic_ytvos_root": ".datasets",
    "YTVOSFormatError": ".ytvos_format",
    "YTVOSLayout": ".ytvos_format",
    "holdout_videos": ".ytvos_format",
    "DAVISFormatError": ".davis_format",
    "DAVISLayout": ".davis_format",
    "davis_palette": ".davis_format",
    "read_id_png": ".davis_format",
    "write_id_png": ".davis_format",
    "ensure_dataset_available": ".synthetic",
    "ensure_synthetic_davis": ".synthetic",
    "generate_synthetic_davis": ".synthetic",
    "ensure_synthetic_ytvos": ".synthetic",
    "generate_synthetic_ytvos": ".synthetic",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
