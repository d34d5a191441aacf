"""DAVIS datasets, the clip dataset mapper and the synthetic DAVIS generator."""
from .clip_mapper import ClipDatasetMapper, build_clip_augmentation, iter_sequences
from .datasets import load_davis, register_davis, synthetic_davis_root
from .davis_format import DAVISFormatError, DAVISLayout, davis_palette, read_id_png, write_id_png
from .synthetic import ensure_dataset_available, ensure_synthetic_davis, generate_synthetic_davis

__all__ = [
    "ClipDatasetMapper",
    "build_clip_augmentation",
    "iter_sequences",
    "DAVISFormatError",
    "DAVISLayout",
    "davis_palette",
    "ensure_dataset_available",
    "ensure_synthetic_davis",
    "generate_synthetic_davis",
    "load_davis",
    "read_id_png",
    "register_davis",
    "synthetic_davis_root",
    "write_id_png",
]
