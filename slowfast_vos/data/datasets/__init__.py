"""DAVIS dataset loading and registration (importing this registers the built-in splits)."""
from . import builtin  # noqa: F401  (registers the built-in splits)
from .builtin import datasets_root, register_all_davis, synthetic_davis_root
from .davis import load_davis, register_davis

__all__ = [
    "datasets_root",
    "load_davis",
    "register_all_davis",
    "register_davis",
    "synthetic_davis_root",
]
