"""DAVIS and YouTube-VOS dataset loading and registration (importing this registers the built-in splits)."""
from . import builtin  # noqa: F401  (registers the built-in splits)
from .builtin import (
    datasets_root,
    register_all_davis,
    register_all_ytvos,
    synthetic_davis_root,
    synthetic_ytvos_root,
    ytvos_root,
)
from .benchmark import dataset_benchmark
from .davis import load_davis, register_davis
from .ytvos import load_ytvos, register_ytvos

__all__ = [
    "dataset_benchmark",
    "datasets_root",
    "load_davis",
    "load_ytvos",
    "register_all_davis",
    "register_all_ytvos",
    "register_davis",
    "register_ytvos",
    "synthetic_davis_root",
    "synthetic_ytvos_root",
    "ytvos_root",
]
