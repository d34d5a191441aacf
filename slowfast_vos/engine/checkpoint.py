"""Checkpoints that survive interruptions and weights that must fit: Detectron2's checkpointer with atomic saves,
a resume that falls back to the newest readable checkpoint, and a strict load for evaluation and OSVOS."""
from __future__ import annotations

import glob
import hashlib
import logging
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from detectron2.utils.file_io import PathManager
from torch import nn

from ..utils import UnsafePathError, atomic_write, join_under
from vos_eval.output_folder import real_folder, refuse_symlink
from ..utils.weights_files import UNREADABLE, SafeCheckpointer, WeightsError

__all__ = ["VOSCheckpointer", "WeightsError", "load_trained_weights", "non_finite_keys", "require_weights",
           "weights_digest"]

logger = logging.getLogger(__name__)

# Parameters a checkpoint of a plain (single-frame) Mask R-CNN lacks: the SlowFast module's.
SLOWFAST_PREFIX = "slowfast."
# BatchNorm's step counter: no weight, and absent from FrozenBatchNorm (e.g. OSVOS freezing a BN-trained backbone).
_COUNTER_SUFFIX = ".num_batches_tracked"
# The temporary file of an atomic checkpoint / last_checkpoint save (atomic_write: ".<name>.<random><ext>") that a
# run killed while saving leaves behind.
_PARTIAL_SAVE = re.compile(r"^\.(model_[\w-]+\.pth|last_checkpoint)\.[\w-]+(\.pth)?$")


def non_finite_keys(state: Dict[str, Any]) -> List[str]:
    """The names of the floating-point tensors / arrays / numbers of ``state`` that hold a NaN or an infinity."""
    bad = []
    for key, value in state.items():
        if torch.is_tensor(value):
            finite = not value.is_floating_point() or bool(torch.isfinite(value).all())
        elif isinstance(value, float):
            finite = math.isfinite(value)
        elif hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f":  # a numpy array (.pkl)
            import numpy as np
            finite = bool(np.isfinite(value).all())
        else:
            continue
        if not finite:
            bad.append(key)
    return bad


class VOSCheckpointer(SafeCheckpointer):
    """A checkpointer that reads weights without running code from them (slowfast_vos/utils/weights_files.py),
    writes its files atomically (a temporary file renamed into place, so a crash or a full disk never leaves a
    truncated ``model_*.pth``) and whose ``resume`` falls back, with a warning, to the
    newest checkpoint it can read. With ``strict=True`` loading fails on keys that do not fit the model, except the
    SlowFast module's missing from a single-frame Mask R-CNN checkpoint."""

    def __init__(self, model: nn.Module, save_dir: str = "", *, strict: bool = False, **checkpointables: Any):
        super().__init__(model, save_dir, **checkpointables)
        self.strict = strict
        self._loading: Optional[str] = None  # the file load() reads, for the errors of _load_model
        self._resuming = False  # loading a checkpoint to resume from: every key must fit the model
        # The iteration at which training diverged (a NaN / infinite loss): nothing is saved from then on.
        self.diverged_at: Optional[int] = None

    def remove_partial_saves(self) -> List[str]:
        """Remove the temporary files of saves that a killed run left in save_dir (call it while holding the
        folder: no live run is saving); returns their paths."""
        removed = []
        if self.save_dir and os.path.isdir(self.save_dir):
            for name in sorted(os.listdir(self.save_dir)):
                path = os.path.join(self.save_dir, name)
                if _PARTIAL_SAVE.match(name) and not os.path.islink(path) and os.path.isfile(path):
                    os.remove(path)
                    removed.append(path)
        if removed:
            logger.info(f"removed what killed checkpoint saves left: {removed}")
        return removed

    def save(self, name: str, **kwargs: Any) -> None:
        """Dump model, checkpointables and ``kwargs`` to ``<save_dir>/<name>.pth`` atomically, then tag it last.

        Never a checkpoint of a diverged run: after a NaN / infinite loss (``diverged_at``) nothing is saved, and
        weights holding a NaN or an infinity are a FloatingPointError naming them. A save_dir entry that is a
        symbolic link is a SymlinkError naming it."""
        if not self.save_dir or not self.save_to_disk:
            return
        if self.diverged_at is not None:
            self.logger.error(f"not saving {name}.pth: training diverged at iteration {self.diverged_at}")
            return
        state = self.model.state_dict()
        bad = non_finite_keys(state)
        if bad:
            raise FloatingPointError(f"not saving {name}.pth: the model's weights hold NaN or infinite values "
                                     f"({bad[:5]}); training diverged (lower SOLVER.BASE_LR?)")
        data = {"model": state}
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = refuse_symlink(os.path.join(real_folder(self.save_dir), basename))
        self.logger.info(f"Saving checkpoint to {save_file}")
        atomic_write(save_file, lambda tmp: torch.save(data, tmp))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        """Write ``last_checkpoint`` atomically (never through a symbolic link: SymlinkError naming it)."""
        atomic_write(refuse_symlink(os.path.join(real_folder(self.save_dir), "last_checkpoint")),
                     lambda tmp: Path(tmp).write_text(last_filename_basename))

    def get_checkpoint_file(self) -> str:
        """The checkpoint ``last_checkpoint`` names, which must be a plain ``.pth`` file name inside save_dir (what
        :meth:`tag_last_checkpoint` writes): anything else (a path elsewhere, a .pkl) is a ValueError naming it."""
        tag = os.path.join(self.save_dir, "last_checkpoint")
        path = super().get_checkpoint_file()
        if not path:
            return path
        name = os.path.relpath(path, self.save_dir)
        try:
            join_under(self.save_dir, name)
        except UnsafePathError:
            name = ""
        if not name.endswith(".pth"):
            raise ValueError(f"{tag} names {Path(tag).read_text().strip()!r}; it must name a .pth checkpoint file of "
                             f"this folder (what training writes there). Fix or delete {tag} to resume.")
        return path

    def load(self, path: str, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        """SafeCheckpointer.load, remembering ``path`` for the errors of :meth:`_load_model`."""
        self._loading = path
        try:
            return super().load(path, *args, **kwargs)
        finally:
            self._loading = None

    def _resume_candidates(self) -> List[str]:
        """The tagged last checkpoint, then the other periodic / final checkpoints, newest first."""
        tagged = [self.get_checkpoint_file()] if self.has_checkpoint() else []
        tagged = [p for p in tagged if os.path.isfile(p)]
        others = [p for p in glob.glob(os.path.join(self.save_dir, "model_*.pth"))
                  if os.path.basename(p) != "model_best.pth" and p not in tagged]
        return tagged + sorted(others, key=os.path.getmtime, reverse=True)

    def resume_or_load(self, path: str, *, resume: bool = True) -> Dict[str, Any]:
        """Resume from the newest readable checkpoint of save_dir (with ``resume``), else load ``path``'s model."""
        candidates = self._resume_candidates() if resume else []
        if candidates:
            reasons = []
            for candidate in candidates:
                self._resuming = True
                try:
                    checkpoint = self.load(candidate)
                except UNREADABLE as e:
                    self._parsed_url_during_load = None  # DetectionCheckpointer.load leaves it set when it fails
                    logger.warning(f"Cannot resume from {candidate} ({type(e).__name__}: {e}); trying the previous "
                                   "checkpoint")
                    reasons.append(f"{candidate}: {type(e).__name__}: {e}")
                    continue
                finally:
                    self._resuming = False
                if candidate != (self.get_checkpoint_file() if self.has_checkpoint() else None):
                    self.tag_last_checkpoint(os.path.basename(candidate))
                return checkpoint
            raise RuntimeError(f"--resume: none of the checkpoints in {self.save_dir} can be read:\n  "
                               + "\n  ".join(reasons))
        return self.load(path, checkpointables=[])

    def _load_model(self, checkpoint: Dict[str, Any]):
        """Load the model's weights; a checkpoint holding NaN or infinite weights (a diverged run's) is a
        WeightsError naming them; when strict, fail on keys that do not fit (SlowFast keys may be missing)."""
        bad = non_finite_keys(checkpoint.get("model", {}))
        if bad:
            raise WeightsError(f"weights {self._loading or 'checkpoint'} hold NaN or infinite values ({bad[:5]}): "
                               "the run that saved them diverged; use an earlier checkpoint")
        incompatible = super()._load_model(checkpoint)
        if self._resuming and incompatible is not None:
            problems = [k for k in (*incompatible.missing_keys, *incompatible.unexpected_keys,
                                    *(k for k, *_ in incompatible.incorrect_shapes)) if not k.endswith(_COUNTER_SUFFIX)]
            if problems:
                raise WeightsError(f"checkpoint {self._loading} does not fit this run's model (keys missing, "
                                   f"unexpected or of another shape: {problems[:8]}): it was saved by a run of another "
                                   "configuration; --resume continues the run of this OUTPUT_DIR's config only")
        if self.strict and incompatible is not None:
            missing = [k for k in incompatible.missing_keys
                       if not k.startswith(SLOWFAST_PREFIX) and not k.endswith(_COUNTER_SUFFIX)]
            unexpected = [k for k in incompatible.unexpected_keys if not k.endswith(_COUNTER_SUFFIX)]
            problems = [f"missing from the checkpoint: {missing[:8]}" if missing else "",
                        f"unexpected in the checkpoint: {unexpected[:8]}" if unexpected else "",
                        f"of another shape: {[k for k, *_ in incompatible.incorrect_shapes][:8]}"
                        if incompatible.incorrect_shapes else ""]
            problems = [p for p in problems if p]
            if problems:
                raise WeightsError(
                    f"MODEL.WEIGHTS do not fit MODEL.META_ARCHITECTURE {type(self.model).__name__}: keys "
                    + "; keys ".join(problems) + ". These are weights of another architecture or configuration."
                )
        return incompatible


def require_weights(weights: str, *, allow_random: bool = False, what: str) -> bool:
    """Whether there are weights to load for ``what`` (e.g. "evaluation"); empty MODEL.WEIGHTS is an error unless
    ``allow_random`` (the command-line flag --allow-random-weights), since a typo'd or forgotten MODEL.WEIGHTS would
    otherwise score a randomly initialised model without anyone noticing."""
    if weights:
        return True
    if not allow_random:
        raise WeightsError(
            f"MODEL.WEIGHTS is empty, so {what} would use a randomly initialised model; set MODEL.WEIGHTS to "
            "trained weights, or pass --allow-random-weights to do it on purpose (e.g. a random baseline)"
        )
    logger.warning(f"MODEL.WEIGHTS is empty: {what} uses a randomly initialised model (--allow-random-weights)")
    return False


def load_trained_weights(model: nn.Module, weights: str, *, allow_random: bool = False, what: str) -> None:
    """Load ``weights`` (MODEL.WEIGHTS) strictly into ``model`` for ``what``; see :func:`require_weights`."""
    if require_weights(weights, allow_random=allow_random, what=what):
        VOSCheckpointer(model, strict=True).load(weights, checkpointables=[])


def weights_digest(weights: str) -> Optional[str]:
    """sha256 of a local weights file (None for empty weights), to record which weights produced results."""
    if not weights:
        return None
    digest = hashlib.sha256()
    with open(PathManager.get_local_path(weights), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
