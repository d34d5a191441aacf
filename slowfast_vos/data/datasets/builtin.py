"""Register the built-in DAVIS splits and the synthetic DAVIS set under $DETECTRON2_DATASETS (lazily: nothing read).

Roots: DAVIS 2017 at $DAVIS2017_ROOT or $DETECTRON2_DATASETS/DAVIS; DAVIS 2016 at $DAVIS2016_ROOT, else
$DETECTRON2_DATASETS/DAVIS2016 if that folder exists, else $DETECTRON2_DATASETS/DAVIS; the synthetic set at
$DETECTRON2_DATASETS/DAVIS-synthetic (its DAVIS 2016 view in the 2016/ sub-folder; both views carry the set's
frame_tags.json as metadata ``frame_tags``).

YouTube-VOS: 2018 at $YTVOS2018_ROOT or $DETECTRON2_DATASETS/youtube-vos-2018, 2019 at $YTVOS2019_ROOT or
$DETECTRON2_DATASETS/youtube-vos-2019 (ytvos{2018,2019}_{train,valid,train_holdout,train_minus_holdout}); the
synthetic YouTube-VOS set at $DETECTRON2_DATASETS/YouTube-VOS-synthetic (synthetic_ytvos_*).
"""
from __future__ import annotations

import os

from vos_eval.frame_tags import FRAME_TAGS_FILE

from .davis import register_davis
from .ytvos import register_ytvos

__all__ = ["datasets_root", "register_all_davis", "register_all_ytvos", "synthetic_davis_root",
           "synthetic_ytvos_root", "ytvos_root"]

_RESOLUTION_SUFFIX = {"480p": "", "Full-Resolution": "_fullres"}
_ANNOTATION_SUFFIX = {"Annotations": "", "Annotations_unsupervised": "_unsupervised"}


def datasets_root() -> str:
    """$DETECTRON2_DATASETS, defaulting to ./datasets as in Detectron2."""
    return os.path.expanduser(os.getenv("DETECTRON2_DATASETS", "datasets"))


def synthetic_davis_root(root: str | None = None) -> str:
    """Folder of the synthetic DAVIS set: <datasets root>/DAVIS-synthetic."""
    return os.path.join(root if root is not None else datasets_root(), "DAVIS-synthetic")


def synthetic_ytvos_root(root: str | None = None) -> str:
    """Folder of the synthetic YouTube-VOS set: <datasets root>/YouTube-VOS-synthetic."""
    return os.path.join(root if root is not None else datasets_root(), "YouTube-VOS-synthetic")


def ytvos_root(year: str, root: str | None = None) -> str:
    """Root of a YouTube-VOS release: $YTVOS<year>_ROOT, else <datasets root>/youtube-vos-<year>."""
    env = os.getenv(f"YTVOS{year}_ROOT")
    if env:
        return os.path.expanduser(env)
    return os.path.join(root if root is not None else datasets_root(), f"youtube-vos-{year}")


def _davis2016_root(root: str) -> str:
    env = os.getenv("DAVIS2016_ROOT")
    if env:
        return os.path.expanduser(env)
    separate = os.path.join(root, "DAVIS2016")
    return separate if os.path.isdir(separate) else os.path.join(root, "DAVIS")


def register_all_davis(root: str) -> None:
    """Register davis2016_*, davis2017_* and synthetic_davis201{6,7}_* for a datasets root."""
    root2016 = _davis2016_root(root)
    root2017 = os.path.expanduser(os.getenv("DAVIS2017_ROOT") or os.path.join(root, "DAVIS"))
    for resolution, res_suffix in _RESOLUTION_SUFFIX.items():
        for split in ("train", "val"):
            register_davis(f"davis2016_{split}{res_suffix}", root2016, "2016", split, resolution)
        for annotation_folder, ann_suffix in _ANNOTATION_SUFFIX.items():
            for split in ("train", "val", "trainval"):
                register_davis(
                    f"davis2017_{split}{ann_suffix}{res_suffix}", root2017, "2017", split, resolution, annotation_folder
                )
    synthetic = synthetic_davis_root(root)
    tags = os.path.join(synthetic, FRAME_TAGS_FILE)
    for split in ("train", "val"):
        register_davis(f"synthetic_davis2017_{split}", synthetic, "2017", split, task="unsupervised", frame_tags=tags)
        register_davis(f"synthetic_davis2016_{split}", os.path.join(synthetic, "2016"), "2016", split, frame_tags=tags)


# Registered name suffix -> (split folder, subset).
_YTVOS_SETS = {
    "train": ("train", None),
    "valid": ("valid", None),
    "train_holdout": ("train", "holdout"),
    "train_minus_holdout": ("train", "minus_holdout"),
}


def register_all_ytvos(root: str) -> None:
    """Register ytvos{2018,2019}_* and synthetic_ytvos_* for a datasets root (nothing is read)."""
    for year in ("2018", "2019"):
        release = ytvos_root(year, root)
        for suffix, (split, subset) in _YTVOS_SETS.items():
            register_ytvos(f"ytvos{year}_{suffix}", release, year, split, subset)
    synthetic = synthetic_ytvos_root(root)
    for suffix, (split, subset) in _YTVOS_SETS.items():
        register_ytvos(f"synthetic_ytvos_{suffix}", synthetic, "2019", split, subset)


register_all_davis(datasets_root())
register_all_ytvos(datasets_root())
