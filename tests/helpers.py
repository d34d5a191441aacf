"""Helpers shared by the tests: loading a tools/ script by path, a tiny synthetic DAVIS for CLI runs, and frame
records of random JPEGs for the samplers and the mapper."""
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Dict, List

import cv2
import numpy as np
import pycocotools.mask as mask_util
from detectron2.structures import BoxMode

from slowfast_vos.data import generate_synthetic_davis

REPO = Path(__file__).resolve().parents[1]

# Shrinks a quickstart config to seconds per run: tiny images, few proposals, no worker processes.
TINY_TRAIN_OPTS: List[str] = [
    "INPUT.MIN_SIZE_TRAIN", "(48,)", "INPUT.MAX_SIZE_TRAIN", "64", "INPUT.MIN_SIZE_TEST", "48",
    "INPUT.MAX_SIZE_TEST", "64", "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "100", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "20",
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "100", "MODEL.RPN.POST_NMS_TOPK_TEST", "20",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16", "SOLVER.IMS_PER_BATCH", "2", "TEST.VOS.WORKERS", "0",
]


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
