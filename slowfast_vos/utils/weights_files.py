"""Reading weights files without running code from them: Detectron2's checkpointer with ``.pkl`` files unpickled
by the restricted unpickler (slowfast_vos/utils/safe_pickle.py), ``.pth`` files read weights-only, and one clear
error naming the file when it is a folder or not a weights file at all."""
from __future__ import annotations

import logging
import os
import pickle
import zipfile
from typing import Any, Dict

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.utils.file_io import PathManager

from .safe_pickle import UntrustedFileError, restricted_load

__all__ = ["SafeCheckpointer", "UNREADABLE", "WeightsError"]

logger = logging.getLogger(__name__)

# What reading a damaged or foreign file raises (truncated zip, truncated pickle, bad bytes, a text file).
UNREADABLE = (EOFError, RuntimeError, OSError, ValueError, IndexError, pickle.UnpicklingError, zipfile.BadZipFile)


class WeightsError(ValueError):
    """MODEL.WEIGHTS is empty, unreadable, or does not fit the model, where trained weights are needed."""


class SafeCheckpointer(DetectionCheckpointer):
    """DetectionCheckpointer that never runs code from a weights file: ``.pkl`` through the restricted unpickler
    (model-zoo contents only), ``.pth`` through ``torch.load(weights_only=True)``; a folder or a file that is not
    a checkpoint is a :class:`WeightsError` naming it, a pickle naming code an :class:`UntrustedFileError`."""

    def load(self, path: str, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        """DetectionCheckpointer.load, refusing a folder by name (upstream says "not found")."""
        if path and os.path.isdir(path):
            raise WeightsError(f"weights {path} is a folder; name a checkpoint file (.pth, or a Detectron2 .pkl)")
        return super().load(path, *args, **kwargs)

    def _load_file(self, filename: str) -> Dict[str, Any]:
        """Read ``filename`` safely; anything unreadable becomes a WeightsError naming it."""
        try:
            if filename.endswith(".pkl"):
                return self._load_pkl(filename)
            return super()._load_file(filename)
        except UntrustedFileError:
            raise
        except UNREADABLE as e:
            if isinstance(e, WeightsError):
                raise
            raise WeightsError(f"weights {filename} cannot be read as a checkpoint (a .pth written by torch.save or "
                               f"a Detectron2 .pkl): {type(e).__name__}: {e}") from e

    def _torch_load(self, f: str) -> Any:
        """torch.load that rebuilds tensors and containers only, whatever torch's default."""
        return torch.load(f, map_location=torch.device("cpu"), weights_only=True)

    def _load_pkl(self, filename: str) -> Dict[str, Any]:
        """A Detectron2 model-zoo .pkl as is; a Caffe2 / Detectron1 one as its blobs with name-matching heuristics
        (what DetectionCheckpointer makes of them), but unpickled by the restricted unpickler."""
        with PathManager.open(filename, "rb") as f:
            data = restricted_load(f, filename)
        if not isinstance(data, dict):
            raise WeightsError(
                f"weights {filename}: a .pkl weights file holds a dict, this one a {type(data).__name__}"
            )
        if "model" in data and "__author__" in data:
            logger.info(f"Reading a file from '{data['__author__']}'")
            return data
        blobs = data.get("blobs", data)  # detection models have "blobs", ImageNet models do not
        model = {k: v for k, v in blobs.items() if not k.endswith("_momentum")}
        return {"model": model, "__author__": "Caffe2", "matching_heuristics": True}
