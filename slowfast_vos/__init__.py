"""slowfast_vos: SlowFast temporal context for Mask R-CNN video object segmentation, as a Detectron2 extension.

Importing the package registers its meta-architecture, the DAVIS and YouTube-VOS datasets and their evaluators in
Detectron2's registries. Formats, measures and scoring without torch or Detectron2 are the separate package
``vos_eval`` (``python -m vos_eval`` scores a results folder), which this package builds on.
"""
import warnings

from .utils.console import ignore_third_party_warnings

__version__ = "0.1.0"
__all__ = ["add_slowfast_vos_config"]

with warnings.catch_warnings():
    ignore_third_party_warnings()  # what fvcore prints when Detectron2 is imported (the caller's filters return)
    from . import evaluation, modeling  # noqa: F401  (registers SlowFastRCNN)
    from .config import add_slowfast_vos_config
    from .data import datasets  # noqa: F401  (registers the built-in DAVIS and YouTube-VOS sets)
