"""The training loop SOLVER.AMP.* asks for: fp32, fp16 with Detectron2's AMPTrainer, or bf16 autocast."""
from __future__ import annotations

import logging
import time

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer

from ..precision import amp_dtype

__all__ = ["AutocastTrainer", "build_training_loop"]

logger = logging.getLogger(__name__)


class AutocastTrainer(SimpleTrainer):
    """SimpleTrainer whose forward pass (model and losses) runs under ``torch.autocast``; backward and the optimizer
    step run outside it, as PyTorch recommends.

    For bf16, which needs no loss scaling (it has fp32's exponent range), on CPU or CUDA; Detectron2's AMPTrainer
    requires CUDA and scales the loss for fp16.
    """

    def __init__(self, model, data_loader, optimizer, device_type: str, dtype: torch.dtype):
        super().__init__(model, data_loader, optimizer)
        self.device_type = device_type
        self.dtype = dtype

    def run_step(self):
        assert self.model.training, "[AutocastTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start
        with torch.autocast(self.device_type, dtype=self.dtype):
            loss_dict = self.model(data)
            losses = sum(loss_dict.values())
        self.optimizer.zero_grad()
        losses.backward()
        self.after_backward()
        self._write_metrics(loss_dict, data_time)
        self.optimizer.step()


def build_training_loop(cfg, model, data_loader, optimizer) -> SimpleTrainer:
    """SimpleTrainer without SOLVER.AMP.ENABLED; with it, AMPTrainer for fp16 (CUDA) or AutocastTrainer for bf16.

    SOLVER.AMP.PRECISION is checked against MODEL.DEVICE: errors name the key (fp16 on CPU, bf16 on a GPU without it).
    """
    dtype = amp_dtype(cfg)
    if dtype is None:
        return SimpleTrainer(model, data_loader, optimizer)
    name = "fp16" if dtype == torch.float16 else "bf16"
    logger.info(f"Mixed-precision training: {name} autocast on {cfg.MODEL.DEVICE}"
                f"{' with loss scaling' if dtype == torch.float16 else ''}")
    if dtype == torch.float16:
        return AMPTrainer(model, data_loader, optimizer, precision=dtype)
    return AutocastTrainer(model, data_loader, optimizer, torch.device(cfg.MODEL.DEVICE).type, dtype)
