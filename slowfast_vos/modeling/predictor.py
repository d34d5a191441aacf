"""VideoPredictor: Detectron2's DefaultPredictor for whole videos (one backbone pass per frame)."""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import transforms as T
from detectron2.modeling import build_model
from detectron2.structures import Instances

from ..precision import autocast_dtype, inference_precision
from ..utils.weights_files import SafeCheckpointer

__all__ = ["VideoPredictor"]


class VideoPredictor:
    """Build a SlowFastRCNN from ``cfg``, load ``cfg.MODEL.WEIGHTS``, and segment videos frame by frame.

    ``predictor(frames)`` takes an iterable of HxWx3 uint8 frames in BGR order (as cv2 reads them) and yields one
    CPU ``Instances`` per frame at the frame's original size; outputs lag inputs by n // 2 frames. The model runs
    in ``TEST.PRECISION`` (slowfast_vos/precision.py); the outputs are fp32.
    """

    def __init__(self, cfg: CfgNode):
        """Build the model in eval mode with the test-time resize and input format of ``cfg``."""
        self.cfg = cfg.clone()
        autocast_dtype(self.cfg.TEST.PRECISION, self.cfg.MODEL.DEVICE)  # a bad TEST.PRECISION fails here
        self.model = build_model(self.cfg)
        if not hasattr(self.model, "inference_video"):
            raise ValueError(f"MODEL.META_ARCHITECTURE {self.cfg.MODEL.META_ARCHITECTURE!r} has no inference_video; "
                             f"VideoPredictor needs 'SlowFastRCNN'.")
        self.model.eval()
        SafeCheckpointer(self.model).load(self.cfg.MODEL.WEIGHTS)
        self.aug = T.ResizeShortestEdge(
            [self.cfg.INPUT.MIN_SIZE_TEST, self.cfg.INPUT.MIN_SIZE_TEST], self.cfg.INPUT.MAX_SIZE_TEST
        )
        self.input_format = self.cfg.INPUT.FORMAT
        if self.input_format not in ("RGB", "BGR"):
            raise ValueError(f"INPUT.FORMAT must be 'RGB' or 'BGR' for VideoPredictor, got {self.input_format!r}.")

    def _frame_input(self, frame: np.ndarray, index: int) -> dict:
        """Model input dict for one BGR frame: colour order, test-time resize, (3, H, W) uint8 tensor."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"VideoPredictor: frame {index} must be an HxWx3 uint8 array, got shape "
                             f"{frame.shape} and dtype {frame.dtype}.")
        height, width = frame.shape[:2]
        if self.input_format == "RGB":
            frame = frame[:, :, ::-1]
        image = self.aug.get_transform(frame).apply_image(frame)
        image = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        return {"image": image, "height": height, "width": width}

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[Instances]:
        """Yield the predicted Instances (on CPU) of each frame of a video, in order."""
        inputs = (self._frame_input(frame, i) for i, frame in enumerate(frames))
        outputs = self.model.inference_video(inputs)
        while True:
            # Autocast only while the model computes: the caller's code between frames runs in its own precision.
            with inference_precision(self.cfg):
                output = next(outputs, None)
            if output is None:
                return
            yield output["instances"].to("cpu")
