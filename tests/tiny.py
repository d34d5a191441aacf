"""The tiny test model, defined once: a SlowFast R-CNN (R18-FPN, 64 channels, few proposals) that builds and runs on
CPU in seconds, as config overrides (for tools' command lines) and as a config (for tests that build it here), and
its inputs (random videos, windows as docs/interfaces.md defines them, one ground-truth object)."""
from __future__ import annotations

from typing import Dict, List

import torch

from detectron2 import model_zoo
from detectron2.config import CfgNode, get_cfg
from detectron2.structures import BitMasks, Boxes, Instances
from helpers import REPO

from slowfast_vos.engine import load_cfg

from slowfast_vos import add_slowfast_vos_config

# Slow/fast widths summing to the tiny FPN width (64), like 224 + 32 = 256 in the paper's module.
TINY_FPN_CHANNELS = 64
TINY_SLOW_CHANNELS = [24, 24, 48]
TINY_FAST_CHANNELS = [8, 8, 16]

# Few proposals and ROI samples: what every tiny run shares.
TINY_PROPOSAL_OPTS: List[str] = [
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "100", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "20",
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "100", "MODEL.RPN.POST_NMS_TOPK_TEST", "20",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16",
]
# The tiny model as overrides of any SlowFast R-CNN config (the paper's or the quickstart's).
TINY_MODEL_OPTS: List[str] = [
    "MODEL.RESNETS.DEPTH", "18", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
    "MODEL.FPN.OUT_CHANNELS", str(TINY_FPN_CHANNELS),
    "MODEL.SLOWFAST.SLOW_CHANNELS", str(TINY_SLOW_CHANNELS),
    "MODEL.SLOWFAST.FAST_CHANNELS", str(TINY_FAST_CHANNELS), "MODEL.SLOWFAST.FUSION_CHANNELS", "8",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "64", "MODEL.ROI_MASK_HEAD.CONV_DIM", "16", "MODEL.RPN.BATCH_SIZE_PER_IMAGE", "32",
    *TINY_PROPOSAL_OPTS,
]
# Shrinks a quickstart run to seconds: tiny images, few proposals, no worker processes.
TINY_TRAIN_OPTS: List[str] = [
    "INPUT.MIN_SIZE_TRAIN", "(48,)", "INPUT.MAX_SIZE_TRAIN", "64", "INPUT.MIN_SIZE_TEST", "48",
    "INPUT.MAX_SIZE_TEST", "64", *TINY_PROPOSAL_OPTS, "SOLVER.IMS_PER_BATCH", "2", "TEST.VOS.WORKERS", "0",
]

# The quickstart configs that tiny training and OSVOS runs shrink with TINY_TRAIN_OPTS.
QUICKSTART_CONFIG = str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml")
QUICKSTART_OSVOS_CONFIG = str(REPO / "configs" / "quickstart" / "osvos_slowfast_3-7.yaml")
QUICKSTART_PRETRAIN_CONFIG = str(REPO / "configs" / "quickstart" / "pretrain_mask_rcnn.yaml")


def quickstart_cfg(config_file: str, sets: Dict[str, str], output_dir, *opts: str) -> CfgNode:
    """A quickstart config shrunk to a tiny run (TINY_TRAIN_OPTS, 2 iterations) on registered ``sets`` ({"train":
    name, "val": name}, e.g. conftest's davis_sets), writing to ``output_dir``; not frozen."""
    cfg = load_cfg(config_file, [*TINY_TRAIN_OPTS, "DATALOADER.NEIGHBOR_TARGETS", "2", "SOLVER.MAX_ITER", "2",
                                 "OUTPUT_DIR", str(output_dir), *opts], freeze=False)
    cfg.DATASETS.TRAIN = (sets["train"],)
    cfg.DATASETS.TEST = (sets["val"],)
    return cfg


def tiny_osvos_runner(sets: Dict[str, str], output_dir):
    """An OSVOSRunner of the quickstart OSVOS config over ``sets``' val split (1 iteration, random weights), its
    sequences' records and the first sequence's name."""
    from slowfast_vos.engine.osvos import OSVOSRunner

    cfg = quickstart_cfg(QUICKSTART_OSVOS_CONFIG, sets, output_dir, "OSVOS.ITERS", "1", "MODEL.WEIGHTS", "")
    cfg.freeze()
    runner = OSVOSRunner(cfg, str(output_dir), allow_random_weights=True)
    sequences = runner.sequences()
    return runner, sequences, next(iter(sequences))


def tiny_cfg(slow_frames: int = 1, fast_frames: int = 3) -> CfgNode:
    """Mask R-CNN R18-FPN SlowFastRCNN config for an m-n window, sized for 64x96 images, random weights, CPU."""
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.merge_from_file(model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"))
    cfg.merge_from_list([
        "MODEL.META_ARCHITECTURE", "SlowFastRCNN", "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "",
        "MODEL.ROI_HEADS.NUM_CLASSES", "1", *TINY_MODEL_OPTS,
        "MODEL.SLOWFAST.SLOW_FRAMES", str(slow_frames), "MODEL.SLOWFAST.FAST_FRAMES", str(fast_frames),
        "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "96", "INPUT.MIN_SIZE_TEST", "64",
        "INPUT.MAX_SIZE_TEST", "96", "TEST.DETECTIONS_PER_IMAGE", "10",
    ])
    return cfg


# The tiny model's test-time input size (INPUT.MIN_SIZE_TEST x INPUT.MAX_SIZE_TEST of tiny_cfg).
TINY_H, TINY_W = 64, 96


def make_video(length: int, height: int = TINY_H, width: int = TINY_W):
    """Random uint8 frames standing in for a decoded, augmented video."""
    return [torch.randint(0, 256, (3, height, width), dtype=torch.uint8) for _ in range(length)]


def gt_instances(height: int = TINY_H, width: int = TINY_W) -> Instances:
    """One ground-truth object, as the clip mapper produces for training."""
    inst = Instances((height, width))
    inst.gt_boxes = Boxes(torch.tensor([[10.0, 12.0, 60.0, 50.0]]))
    inst.gt_classes = torch.tensor([0])
    masks = torch.zeros(1, height, width, dtype=torch.bool)
    masks[0, 12:50, 10:60] = True
    inst.gt_masks = BitMasks(masks)
    return inst


def window_input(video, t: int, n: int, name: str = "v", train: bool = False) -> dict:
    """Model input for target frame t: the n-frame window per docs/interfaces.md (None outside the video)."""
    span = range(t - n // 2, t + n // 2 + 1)
    inside = [0 <= j < len(video) for j in span]
    x = {
        "image": video[t],
        "clip": [video[j] if ok else None for j, ok in zip(span, inside)],
        "clip_keys": [(name, j) if ok else None for j, ok in zip(span, inside)],
        "height": video[t].shape[1],
        "width": video[t].shape[2],
        "image_id": f"{name}/{t:05d}",
    }
    if train:
        x["instances"] = gt_instances(*video[t].shape[1:])
    return x
