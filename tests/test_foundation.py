"""The foundation: detectron2 works here, and importing slowfast_vos registers the project's components."""
import subprocess
import sys

import pytest
import torch
from helpers import REPO



def test_detectron2_stock_mask_rcnn_forward_on_cpu():
    import detectron2.engine
    import detectron2.evaluation  # noqa: F401
    from detectron2 import model_zoo
    from detectron2.modeling import build_model

    cfg = model_zoo.get_config("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    model = build_model(cfg).eval()
    image = torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8)
    with torch.no_grad():
        (out,) = model([{"image": image, "height": 96, "width": 128}])
    inst = out["instances"]
    assert inst.image_size == (96, 128)
    assert inst.pred_masks.shape[1:] == (96, 128)
    assert len(inst) <= cfg.TEST.DETECTIONS_PER_IMAGE


def test_add_slowfast_vos_config_adds_keys_with_reference_defaults():
    from detectron2.config import get_cfg

    from slowfast_vos import add_slowfast_vos_config

    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    assert cfg.MODEL.SLOWFAST.SLOW_CHANNELS == [192, 192, 224]
    assert cfg.MODEL.SLOWFAST.FAST_CHANNELS == [32, 32, 32]
    assert cfg.MODEL.SLOWFAST.FUSION_CHANNELS == 64


@pytest.mark.slow
def test_train_net_help():
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "train_net.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    for flag in ("--config-file", "--eval-only", "--resume", "--num-gpus", "--num-machines", "--dist-url"):
        assert flag in proc.stdout


@pytest.mark.slow
def test_installer_leaves_importable_detectron2_alone():
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "install_detectron2.py")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "already importable" in proc.stdout
