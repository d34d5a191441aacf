"""Warnings for evaluation inputs that are legal but probably not what was meant: the DAVIS 2016 protocol on a
DAVIS 2017 layout (every object merged into one foreground), and binary 0/255 results on a multi-object set under a
per-object protocol (read as one object, so every other object scores 0)."""
from __future__ import annotations

import logging
import os
from typing import Sequence, Tuple

import numpy as np
from PIL import Image

from ..data.davis_format import VOID_ID, DAVISLayout, read_id_png

__all__ = ["warn_suspicious_inputs"]

logger = logging.getLogger(__name__)

# Sequences named in a warning before it only counts the rest.
_MAX_NAMED = 5


def _is_binary_255(path: str) -> bool:
    """Whether the PNG at ``path`` holds only the values 0 and 255, with some 255 (a binary mask, not ids)."""
    with Image.open(path) as image:
        values = np.unique(np.asarray(image))
    return bool(values.size) and set(values.tolist()) <= {0, VOID_ID} and VOID_ID in values


def warn_suspicious_inputs(task: str, layout: DAVISLayout, samples: Sequence[Tuple[str, str, str]]) -> None:
    """Log a warning for the suspicious cases of the module docstring. ``samples``: per sequence (name, its first
    annotation PNG, its first scored result PNG)."""
    if layout.year != "2017":
        return
    if task == "davis2016":
        logger.warning(f"task 'davis2016' on the DAVIS 2017 layout {layout.root}: every object of a sequence is merged "
                       "into one foreground (the DAVIS 2016 protocol); per-object scores need 'semi-supervised' or "
                       "'unsupervised'")
        return
    binary = []
    for sequence, annotation, result in samples:
        objects = np.setdiff1d(np.unique(read_id_png(annotation, layout.year)), (0, VOID_ID))
        if len(objects) > 1 and os.path.isfile(result) and _is_binary_255(result):
            binary.append(f"{sequence} ({len(objects)} objects, {result})")
    if binary:
        logger.warning(f"{len(binary)} sequences with several objects have binary 0/255 results, read as one object "
                       f"so the {task} protocol scores every other object 0: {'; '.join(binary[:_MAX_NAMED])}"
                       + (f"; and {len(binary) - _MAX_NAMED} more" if len(binary) > _MAX_NAMED else "")
                       + ". Save results as indexed PNGs of object ids 1..K")
