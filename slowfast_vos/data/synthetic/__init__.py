"""The synthetic DAVIS and YouTube-VOS sets: one renderer (render.py) and a writer per dataset layout (davis.py,
ytvos.py), each generating its set deterministically and atomically."""
from ..datasets.builtin import synthetic_davis_root
from .davis import ensure_synthetic_davis, generate_synthetic_davis
from .render import render_scene, render_sequence
from .ytvos import ensure_synthetic_ytvos, generate_synthetic_ytvos

__all__ = ["ensure_dataset_available", "ensure_synthetic_davis", "ensure_synthetic_ytvos", "generate_synthetic_davis",
           "generate_synthetic_ytvos", "render_scene", "render_sequence"]


def ensure_dataset_available(dataset_name: str) -> None:
    """Generate the built-in synthetic set (DAVIS or YouTube-VOS) if a ``synthetic_*`` dataset is asked for and is
    missing.

    Real DAVIS and YouTube-VOS cannot be generated; their loaders name the missing folder or file when used.
    """
    if dataset_name.startswith("synthetic_davis"):
        ensure_synthetic_davis(synthetic_davis_root())
    elif dataset_name.startswith("synthetic_ytvos"):
        ensure_synthetic_ytvos()
