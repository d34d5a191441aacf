"""Shared test set-up: keep torch to the machine's cores, make results repeatable, and the fixtures many modules
share: a DAVIS folder (also registered), a YouTube-VOS folder (each read-only, with a copy a test may damage) and the
tiny model (as a config and as a config file)."""
import os
import shutil
import uuid
from pathlib import Path
from typing import Dict, Iterator

import pytest
import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from helpers import DAVIS_SET, YTVOS_SET
from tiny import tiny_cfg

from slowfast_vos.data import register_davis
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


@pytest.fixture(scope="session")
def davis_sets(davis_root) -> Iterator[Dict[str, str]]:
    """davis_root's train and val (semi-supervised) splits registered under fresh names: {"train": ..., "val": ...}."""
    suffix = uuid.uuid4().hex[:6]
    names = {"train": f"shared_davis_train_{suffix}", "val": f"shared_davis_val_{suffix}"}
    register_davis(names["train"], str(davis_root), "2017", "train", use_cache=False)
    register_davis(names["val"], str(davis_root), "2017", "val", task="semi-supervised", use_cache=False)
    yield names
    for name in names.values():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


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


@pytest.fixture(scope="session")
def tiny_config_file(tmp_path_factory) -> str:
    """The same tiny model's config as a YAML file, for tools' --config-file (MODEL.WEIGHTS is empty)."""
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(tiny_cfg().dump())
    return str(path)
