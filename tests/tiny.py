"""A tiny SlowFast R-CNN config (R18-FPN, 64 channels, few proposals) that builds and runs on CPU in seconds."""
from __future__ import annotations

from detectron2 import model_zoo
from detectron2.config import CfgNode, get_cfg

from slowfast_vos import add_slowfast_vos_config

# Slow/fast widths summing to the tiny FPN width (64), like 224 + 32 = 256 in the paper's module.
TINY_FPN_CHANNELS = 64
TINY_SLOW_CHANNELS = [24, 24, 48]
TINY_FAST_CHANNELS = [8, 8, 16]


def tiny_cfg(slow_frames: int = 1, fast_frames: int = 3) -> CfgNode:
    """Mask R-CNN R18-FPN SlowFastRCNN config for an m-n window, sized for 64x96 images, random weights, CPU."""
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.merge_from_file(model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"))
    cfg.MODEL.META_ARCHITECTURE = "SlowFastRCNN"
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.FPN.OUT_CHANNELS = TINY_FPN_CHANNELS
    cfg.MODEL.RPN.PRE_NMS_TOPK_TRAIN = 100
    cfg.MODEL.RPN.POST_NMS_TOPK_TRAIN = 20
    cfg.MODEL.RPN.PRE_NMS_TOPK_TEST = 100
    cfg.MODEL.RPN.POST_NMS_TOPK_TEST = 20
    cfg.MODEL.RPN.BATCH_SIZE_PER_IMAGE = 32
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 1
    cfg.MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE = 16
    cfg.MODEL.ROI_BOX_HEAD.FC_DIM = 64
    cfg.MODEL.ROI_MASK_HEAD.CONV_DIM = 16
    cfg.MODEL.SLOWFAST.SLOW_FRAMES = slow_frames
    cfg.MODEL.SLOWFAST.FAST_FRAMES = fast_frames
    cfg.MODEL.SLOWFAST.SLOW_CHANNELS = list(TINY_SLOW_CHANNELS)
    cfg.MODEL.SLOWFAST.FAST_CHANNELS = list(TINY_FAST_CHANNELS)
    cfg.MODEL.SLOWFAST.FUSION_CHANNELS = 8
    cfg.INPUT.MIN_SIZE_TRAIN = (64,)
    cfg.INPUT.MAX_SIZE_TRAIN = 96
    cfg.INPUT.MIN_SIZE_TEST = 64
    cfg.INPUT.MAX_SIZE_TEST = 96
    cfg.TEST.DETECTIONS_PER_IMAGE = 10
    return cfg
