"""slowfast_vos: SlowFast temporal context for Mask R-CNN video object segmentation, as a Detectron2 extension.

Importing the package registers its meta-architecture, DAVIS datasets and evaluator in Detectron2's registries.
"""
from . import data, evaluation, modeling  # noqa: F401  (imported for their registrations)
from .config import add_slowfast_vos_config

__all__ = ["add_slowfast_vos_config"]
__version__ = "0.1.0"
