"""The synthetic DAVIS and YouTube-VOS sets: one renderer (render.py) and a writer per dataset layout (davis.py,
ytvos.py), each generating its set deterministically and atomically."""
import os

from ..datasets.builtin import datasets_root, synthetic_davis_root
from .davis import ensure_synthetic_davis, generate_synthetic_davis
from .render import render_scene, render_sequence
from .ytvos import ensure_synthetic_ytvos, generate_synthetic_ytvos

__all__ = ["DatasetsRootError", "ensure_dataset_available", "ensure_synthetic_davis", "ensure_synthetic_ytvos",
           "generate_synthetic_davis", "generate_synthetic_ytvos", "render_scene", "render_sequence"]


class DatasetsRootError(OSError):
    """$DETECTRON2_DATASETS cannot hold a generated set (a file, or a folder this user cannot write)."""


def ensure_dataset_available(dataset_name: str) -> None:
    """Generate the built-in synthetic set (DAVIS or YouTube-VOS) if a ``synthetic_*`` dataset is asked for and is
    missing.

    Real DAVIS and YouTube-VOS cannot be generated; their loaders name the missing folder or file when used.
    """
    try:
        if dataset_name.startswith("synthetic_davis"):
            ensure_synthetic_davis(synthetic_davis_root())
        elif dataset_name.startswith("synthetic_ytvos"):
            ensure_synthetic_ytvos()
    except OSError as e:
        root = datasets_root()
        if os.path.exists(root) and not os.path.isdir(root):
            reason = "is not a folder"
        elif os.path.isdir(root) and not os.access(root, os.W_OK):
            reason = f"cannot be written ({e})"
        else:
            raise
        raise DatasetsRootError(f"cannot generate {dataset_name}: DETECTRON2_DATASETS={root} {reason}; point "
                                "DETECTRON2_DATASETS at a writable folder") from e
