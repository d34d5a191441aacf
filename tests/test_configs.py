"""The paper-scale configs follow the reference recipe (reference-architecture.md): input size, detections, schedule."""
from pathlib import Path

import pytest
from detectron2.config import get_cfg

from slowfast_vos import add_slowfast_vos_config
from helpers import REPO

CONFIGS = ("1-1", "3-3", "7-7", "1-7", "3-7")
DAVIS2017_TRAIN_FRAMES = 4209


def _load(path: Path):
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.merge_from_file(str(path))
    return cfg


@pytest.mark.parametrize("config", CONFIGS)
def test_parent_configs_follow_the_reference_recipe(config):
    cfg = _load(REPO / "configs" / f"slowfast_{config}.yaml")
    m, n = map(int, config.split("-"))
    assert (cfg.MODEL.SLOWFAST.SLOW_FRAMES, cfg.MODEL.SLOWFAST.FAST_FRAMES) == (m, n)
    # 854x480 DAVIS frames become 1333x750, in training and at test time.
    assert tuple(cfg.INPUT.MIN_SIZE_TRAIN) == (800,) and cfg.INPUT.MAX_SIZE_TRAIN == 1333
    assert cfg.INPUT.MIN_SIZE_TEST == 800 and cfg.INPUT.MAX_SIZE_TEST == 1333
    # Up to 10 detections scoring >= 0.05, all of them in the DAVIS 2016 foreground.
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == pytest.approx(0.05)
    assert cfg.TEST.DETECTIONS_PER_IMAGE == 10
    assert cfg.TEST.VOS.SCORE_THRESH <= cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
    assert cfg.TEST.DAVIS.TASK == "davis2016" and cfg.TEST.VOS.MASK_THRESH == pytest.approx(0.5)
    # Steps on the mean loss of 2 neighbouring frames of one video at lr 0.002 (= the reference's lr 0.001 on their
    # sum), 20 epochs of DAVIS 2017 train, constant lr, momentum 0.9, weight decay 1e-4, no warm-up.
    assert cfg.SOLVER.IMS_PER_BATCH == 2 and cfg.DATALOADER.NEIGHBOR_TARGETS == 2
    assert cfg.SOLVER.BASE_LR == pytest.approx(0.002)
    assert cfg.SOLVER.MAX_ITER * cfg.SOLVER.IMS_PER_BATCH == 20 * DAVIS2017_TRAIN_FRAMES
    assert cfg.SOLVER.STEPS == () and cfg.SOLVER.WARMUP_ITERS == 0
    assert cfg.SOLVER.MOMENTUM == pytest.approx(0.9) and cfg.SOLVER.WEIGHT_DECAY == pytest.approx(1e-4)
    assert cfg.MODEL.FREEZE.BACKBONE and cfg.MODEL.FREEZE.PROPOSAL_GENERATOR and not cfg.MODEL.FREEZE.SLOWFAST
    # The reference module, unchanged.
    assert cfg.MODEL.SLOWFAST.BORDER == "zeros" and cfg.MODEL.SLOWFAST.NORM_STATISTICS == "shared"
    assert list(cfg.MODEL.SLOWFAST.SLOW_CHANNELS) == [192, 192, 224]


@pytest.mark.parametrize("config", CONFIGS)
def test_osvos_configs_follow_the_reference_recipe(config):
    cfg = _load(REPO / "configs" / "osvos" / f"slowfast_{config}.yaml")
    assert cfg.MODEL.WEIGHTS == f"./output/slowfast_{config}/model_final.pth"
    assert cfg.INPUT.MIN_SIZE_TEST == 800 and cfg.INPUT.MAX_SIZE_TEST == 1333
    assert tuple(cfg.INPUT.MIN_SIZE_TRAIN) == (800,)
    assert cfg.TEST.VOS.SCORE_THRESH <= cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
    assert cfg.OSVOS.ITERS == 2000 and cfg.SOLVER.BASE_LR == pytest.approx(0.001)
    assert cfg.SOLVER.IMS_PER_BATCH == 1 and cfg.DATALOADER.NEIGHBOR_TARGETS == 1
    assert cfg.MODEL.FREEZE.SLOWFAST and not cfg.MODEL.FREEZE.BACKBONE
    assert cfg.INPUT.ROTATION_ANGLE == pytest.approx(30.0)
    assert cfg.INPUT.RANDOM_SCALE == pytest.approx(0.4 if config == "1-1" else 0.25)
