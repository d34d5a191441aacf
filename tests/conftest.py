"""Shared test set-up: keep torch to the machine's cores, make results repeatable, and the fixtures many modules
share: a DAVIS folder, a YouTube-VOS folder (each read-only, with a copy a test may damage) and the tiny model."""
import os
import shutil
from pathlib import Path

import pytest
import torch
from detectron2.config import CfgNode
from helpers import DAVIS_SET, YTVOS_SET
from tiny import tiny_cfg

from slowfast_vos.data.synthetic import generate_synthetic_davis, generate_synthetic_ytvos

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def davis_root(tmp_path_factory) -> Path:
    """A synthetic DAVIS folder (2017 layout, 2016 view under 2016/; DAVIS_SET) that tests only read."""
    root = tmp_path_factory.mktemp("davis") / "DAVIS-synthetic"
    generate_synthetic_davis(str(root), progress=None, **DAVIS_SET)
    return root


@pytest.fixture
def davis_copy(davis_root, tmp_path) -> Path:
    """A private copy of davis_root that a test may damage."""
    return Path(shutil.copytree(davis_root, tmp_path / "DAVIS"))


@pytest.fixture(scope="session")
def ytvos_root(tmp_path_factory) -> Path:
    """A synthetic YouTube-VOS folder (train, valid, both _all_frames; YTVOS_SET) that tests only read."""
    root = tmp_path_factory.mktemp("ytvos") / "YouTube-VOS-synthetic"
    generate_synthetic_ytvos(str(root), progress=None, **YTVOS_SET)
    return root


@pytest.fixture
def ytvos_copy(ytvos_root, tmp_path) -> Path:
    """A private copy of ytvos_root that a test may damage."""
    return Path(shutil.copytree(ytvos_root, tmp_path / "YouTube-VOS"))


@pytest.fixture
def tiny_model_cfg() -> CfgNode:
    """A fresh config of the tiny SlowFast R-CNN (tests/tiny.py), 1-3 window, CPU, random weights."""
    return tiny_cfg()
