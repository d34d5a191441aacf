"""Reading weights files without running code from them, whatever their extension and torch's version or
environment: ``.pkl`` files are unpickled by the restricted unpickler (slowfast_vos/utils/safe_pickle.py), every
other file (``.pth``, pycls ``.pyth``, anything else) by ``torch.load(weights_only=True)`` passed explicitly (so
neither torch's default nor TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD can turn it off), and one clear error naming the file
when it is a folder or not a weights file at all."""
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

__all__ = ["SafeCheckpointer", "UNREADABLE", "WeightsError", "load_weights_file", "torch_load_weights_only"]

logger = logging.getLogger(__name__)

# What reading a damaged or foreign file raises (truncated zip, truncated pickle, bad bytes, a text file).
UNREADABLE = (EOFError, RuntimeError, OSError, ValueError, IndexError, pickle.UnpicklingError, zipfile.BadZipFile)


class WeightsError(ValueError):
    """MODEL.WEIGHTS is empty, unreadable, or does not fit the model, where trained weights are needed."""


def torch_load_weights_only(path: str) -> Any:
    """``torch.load`` of a local file rebuilding tensors and containers only: weights_only=True is passed
    explicitly, which TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD cannot override (it only changes an unset argument)."""
    return torch.load(path, map_location=torch.device("cpu"), weights_only=True)


def load_weights_file(path: str) -> Any:
    """The one way this package reads a weights file: a ``.pkl`` through the restricted unpickler, anything else
    through :func:`torch_load_weights_only`."""
    if path.endswith(".pkl"):
        with PathManager.open(path, "rb") as f:
            return restricted_load(f, path)
    return torch_load_weights_only(path)


def _check_state(filename: str, checkpoint: Any) -> Dict[str, Any]:
    """``checkpoint`` if its "model" is a dict of names to tensors, arrays or numbers; WeightsError naming the file
    otherwise (odd contents would fail later with a bare TypeError)."""
    model = checkpoint.get("model") if isinstance(checkpoint, dict) else None
    if not isinstance(model, dict):
        raise WeightsError(f"weights {filename}: holds no dict of weights (a {type(model).__name__})")
    for key, value in model.items():
        if not isinstance(key, str) or not (torch.is_tensor(value) or isinstance(value, (int, float))
                                            or type(value).__module__ == "numpy"):
            raise WeightsError(f"weights {filename}: entry {str(key)[:80]!r} is a {type(value).__name__}, not a "
                               "tensor, array or number")
    return checkpoint


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
                return _check_state(filename, self._load_pkl(filename))
            if filename.endswith(".pyth"):
                return _check_state(filename, self._load_pyth(filename))
            return _check_state(filename, super()._load_file(filename))  # through _torch_load (weights-only)
        except UntrustedFileError:
            raise
        except UNREADABLE as e:
            if isinstance(e, WeightsError):
                raise
            raise WeightsError(f"weights {filename} cannot be read as a checkpoint (a .pth written by torch.save or "
                               f"a Detectron2 .pkl): {type(e).__name__}: {e}") from e

    def _torch_load(self, f: str) -> Any:
        """torch.load that rebuilds tensors and containers only, whatever torch's default."""
        return torch_load_weights_only(f)

    def _load_pyth(self, filename: str) -> Dict[str, Any]:
        """A pycls ``.pyth`` checkpoint (its "model_state") as DetectionCheckpointer reads it, but weights-only."""
        data = torch_load_weights_only(filename)
        if not isinstance(data, dict) or not isinstance(data.get("model_state"), dict):
            raise WeightsError(f"weights {filename}: a .pyth (pycls) checkpoint holds a dict with 'model_state'")
        model = {k: v for k, v in data["model_state"].items() if not str(k).endswith("num_batches_tracked")}
        return {"model": model, "__author__": "pycls", "matching_heuristics": True}

    def _load_pkl(self, filename: str) -> Dict[str, Any]:
        """A Detectron2 model-zoo .pkl as is; a Caffe2 / Detectron1 one as its blobs with name-matching heuristics
        (what DetectionCheckpointer makes of them), but unpickled by the restricted unpickler."""
        data = load_weights_file(filename)
        if not isinstance(data, dict):
            raise WeightsError(
                f"weights {filename}: a .pkl weights file holds a dict, this one a {type(data).__name__}"
            )
        if "model" in data and "__author__" in data:
            logger.info(f"Reading a file from '{data['__author__']}'")
            return data
        blobs = data.get("blobs", data)  # detection models have "blobs", ImageNet models do not
        if not isinstance(blobs, dict):
            raise WeightsError(f"weights {filename}: 'blobs' is a {type(blobs).__name__}, not a dict of arrays")
        model = {k: v for k, v in blobs.items() if not k.endswith("_momentum")}
        return {"model": model, "__author__": "Caffe2", "matching_heuristics": True}
