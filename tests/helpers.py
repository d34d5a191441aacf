"""Helpers shared by the tests: loading a tools/ script by path, and a tiny synthetic DAVIS for CLI runs."""
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Dict, List

from slowfast_vos.data import generate_synthetic_davis

REPO = Path(__file__).resolve().parents[1]

# Shrinks a quickstart config to seconds per run: tiny images, few proposals, no worker processes.
TINY_TRAIN_OPTS: List[str] = [
    "INPUT.MIN_SIZE_TRAIN", "(48,)", "INPUT.MAX_SIZE_TRAIN", "64", "INPUT.MIN_SIZE_TEST", "48",
    "INPUT.MAX_SIZE_TEST", "64", "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "100", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "20",
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "100", "MODEL.RPN.POST_NMS_TOPK_TEST", "20",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16", "SOLVER.IMS_PER_BATCH", "2", "TEST.DAVIS.WORKERS", "0",
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
