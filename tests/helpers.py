"""Helpers shared by the tests: the repository root, loading a tools/ script by path, hand-made DAVIS folders and
result folders, a tiny synthetic DAVIS for CLI runs, and frame records of random JPEGs for the samplers and the
mapper."""
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterable, List, Mapping, Union

import cv2
import numpy as np
import pycocotools.mask as mask_util
from detectron2.structures import BoxMode
from PIL import Image

from slowfast_vos.data import generate_synthetic_davis
from vos_eval.davis_format import write_id_png
from vos_eval.results_file import EvaluationResults
from vos_eval.scoring import GLOBAL_COLUMNS

REPO = Path(__file__).resolve().parents[1]
# The generator arguments of conftest's davis_root and ytvos_root: tests may rely on these counts and sizes.
DAVIS_SET = dict(seed=1, train_sequences=2, val_sequences=2, frames=6, height=48, width=64)
YTVOS_SET = dict(seed=3, train_videos=3, valid_videos=2, frames=36, height=48, width=64)
# Frame size of the hand-made DAVIS folders (write_davis with sequence names).
FRAME_H, FRAME_W = 24, 32


def two_objects(t: int) -> np.ndarray:
    """Frame t of a two-object video: object 1 moves right, object 2 sits bottom-right."""
    ids = np.zeros((FRAME_H, FRAME_W), np.uint8)
    ids[2:10, 2 + t:10 + t] = 1
    ids[14:22, 20:28] = 2
    return ids


Sequences = Union[Iterable[str], Mapping[str, np.ndarray]]


def _id_maps(sequences: Sequences, frames: int, ids: Callable[[int], np.ndarray]) -> Dict[str, np.ndarray]:
    """Each sequence's (T, H, W) id maps: given in a mapping, or ``ids(t)`` for t < frames for each name."""
    if isinstance(sequences, Mapping):
        return {name: np.asarray(labels) for name, labels in sequences.items()}
    return {name: np.stack([ids(t) for t in range(frames)]) for name in sequences}


def write_davis(root: Path, sequences: Sequences, year: str = "2017", split: str = "val", resolution: str = "480p",
                frames: int = 5, ids: Callable[[int], np.ndarray] = two_objects,
                annotations: str = "Annotations") -> str:
    """A real DAVIS folder (JPEG frames, id PNGs in the year's format, the split's ImageSets list) under ``root``.

    ``sequences``: names (each gets ``ids(t)`` for ``frames`` frames) or a mapping name -> (T, H, W) id maps;
    ``annotations``: the masks' folder (e.g. "Annotations_unsupervised")."""
    root = Path(root)
    res = "1080p" if (year, resolution) == ("2016", "Full-Resolution") else resolution
    lines = []
    names = []
    for seq, labels in _id_maps(sequences, frames, ids).items():
        names.append(seq)
        for folder in ("JPEGImages", annotations):
            (root / folder / res / seq).mkdir(parents=True, exist_ok=True)
        for t, frame_ids in enumerate(labels):
            grey = np.full((*frame_ids.shape, 3), 40 * t % 256, np.uint8)
            Image.fromarray(grey).save(root / "JPEGImages" / res / seq / f"{t:05d}.jpg")
            write_id_png(str(root / annotations / res / seq / f"{t:05d}.png"), frame_ids, year=year)
            lines.append(f"/JPEGImages/{res}/{seq}/{t:05d}.jpg /{annotations}/{res}/{seq}/{t:05d}.png")
    imagesets = root / "ImageSets" / ("2017" if year == "2017" else res)
    imagesets.mkdir(parents=True, exist_ok=True)
    (imagesets / f"{split}.txt").write_text("\n".join(lines if year == "2016" else names) + "\n")
    return str(root)


def write_results(results: Path, sequences: Sequences, frames: int = 5,
                  ids: Callable[[int], np.ndarray] = two_objects) -> str:
    """A results folder ``<results>/<sequence>/<frame>.png`` of id PNGs, given like write_davis's sequences."""
    for seq, labels in _id_maps(sequences, frames, ids).items():
        for t, frame_ids in enumerate(labels):
            write_id_png(str(Path(results) / seq / f"{t:05d}.png"), frame_ids)
    return str(results)


def write_seeded_run(root, rows: Mapping[str, List[tuple]], subfolder: str = "") -> None:
    """A seeded ablation run's results files (tools/run_ablation.py --preset layout): rows maps a row name to one
    (overall, clean, degraded) J&F triple per training seed 1, 2, ...; written as <root>/seed<s>/<row>/results.json
    (or, with ``subfolder``, an OSVOS protocol's folder, <root>/seed<s>/<row>/<subfolder>/results.json)."""
    for row, per_seed in rows.items():
        for seed, (overall, clean, degraded) in enumerate(per_seed, start=1):
            davis = {k: 0.5 for k in GLOBAL_COLUMNS}
            davis["J&F-Mean"] = overall
            subsets = {"clean": {"J&F-Mean": clean, "J-Mean": clean, "F-Mean": clean, "frames": 300},
                       "degraded": {"J&F-Mean": degraded, "J-Mean": degraded, "F-Mean": degraded, "frames": 60}}
            path = os.path.join(root, f"seed{seed}", row, subfolder, "results.json")  # "" adds no folder
            os.makedirs(os.path.dirname(path), exist_ok=True)
            EvaluationResults("synthetic_davis2016_val", davis, subsets=subsets).write(path)


def load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` (tools/ is not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_env(tmp_path_factory, train_sequences: int, val_sequences: int, frames: int) -> Dict[str, str]:
    """Generate a tiny synthetic DAVIS (48x64) and return an environment whose tools read it (one thread each)."""
    root = tmp_path_factory.mktemp("datasets")
    generate_synthetic_davis(
        str(root / "DAVIS-synthetic"), train_sequences=train_sequences, val_sequences=val_sequences, frames=frames,
        height=48, width=64, progress=None,
    )
    return dict(os.environ, DETECTRON2_DATASETS=str(root), OMP_NUM_THREADS="1",
                SLOWFAST_VOS_CACHE=str(tmp_path_factory.mktemp("cache")))


def make_frame_records(root, lengths, size, keep=None) -> List[dict]:
    """Frame records (docs/interfaces.md) of sequences ``{name: length}`` of random ``size`` = (H, W) JPEGs written
    under ``root``, each with one box-shaped object.

    ``keep`` maps a sequence to the frame indices that get a record (default: all); windows still see all frames.
    """
    height, width = size
    rng = np.random.default_rng(0)
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[8:24, 10:30] = 1
    rle = mask_util.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode("ascii")
    records = []
    for name, length in lengths.items():
        folder = Path(root) / name
        folder.mkdir(parents=True)
        paths = []
        for i in range(length):
            paths.append(str(folder / f"{i:05d}.jpg"))
            cv2.imwrite(paths[-1], rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        for i in (keep or {}).get(name, range(length)):
            records.append({
                "file_name": paths[i], "height": height, "width": width, "image_id": f"{name}/{i:05d}",
                "sequence": name, "frame_name": f"{i:05d}", "frame_index": i, "sequence_frames": paths,
                "mask_file": None,
                "annotations": [{"bbox": [10, 8, 30, 24], "bbox_mode": BoxMode.XYXY_ABS, "segmentation": rle,
                                 "category_id": 0, "iscrowd": 0, "object_id": 1}],
            })
    return records
