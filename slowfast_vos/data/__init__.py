"""DAVIS datasets, the clip dataset mapper and the synthetic DAVIS generator."""
from .clip_mapper import ClipDatasetMapper, build_clip_augmentation, iter_sequences
from .datasets import (
    DAVISFormatError,
    davis_palette,
    load_davis,
    read_davis_mask,
    read_sequence_list,
    register_davis,
    synthetic_davis_root,
)
from .synthetic import ensure_dataset_available, ensure_synthetic_davis, generate_synthetic_davis

__all__ = [
    "ClipDatasetMapper",
    "build_clip_augmentation",
    "iter_sequences",
    "DAVISFormatError",
    "davis_palette",
    "ensure_dataset_available",
    "ensure_synthetic_davis",
    "generate_synthetic_davis",
    "load_davis",
    "read_davis_mask",
    "read_sequence_list",
    "register_davis",
    "synthetic_davis_root",
]
