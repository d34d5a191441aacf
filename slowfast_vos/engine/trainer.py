"""The SlowFast VOS trainer: Detectron2's DefaultTrainer with clip data, video-ordered DAVIS evaluation and
best-checkpointing on J&F."""
from __future__ import annotations

import logging
import os
import weakref
from collections import OrderedDict
from typing import Any, Dict, List, Optional

import torch
from detectron2.data import DatasetCatalog, build_detection_train_loader
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import DefaultTrainer, TrainerBase, create_ddp_model, hooks
from detectron2.evaluation import DatasetEvaluator, print_csv_format
from detectron2.evaluation.testing import flatten_results_dict
from detectron2.modeling import build_model
from detectron2.utils import comm
from torch.nn.parallel import DistributedDataParallel

from ..data import ClipDatasetMapper
from ..data.samplers import build_neighbor_train_loader
from ..evaluation import DAVISEvaluator
from ..modeling import count_parameters
from ..utils import write_json_atomic
from .amp import build_training_loop
from .inference import inference_on_videos

logger = logging.getLogger(__name__)


def best_metric_name(cfg) -> str:
    """The storage key EvalHook gives J&F-Mean of the first test set (prefixed when there are several sets)."""
    key = "davis/J&F-Mean"
    return key if len(cfg.DATASETS.TEST) == 1 else f"{cfg.DATASETS.TEST[0]}/{key}"


def parameter_counts(model: torch.nn.Module) -> Dict[str, int]:
    """Total, trainable and SlowFast-module parameter counts of a (possibly DDP-wrapped) model."""
    if isinstance(model, DistributedDataParallel):
        model = model.module
    slowfast = getattr(model, "slowfast", None)
    return {
        "total": count_parameters(model),
        "trainable": count_parameters(model, trainable_only=True),
        "slowfast": count_parameters(slowfast) if slowfast is not None else 0,
    }


class VOSTrainer(DefaultTrainer):
    """DefaultTrainer for SlowFastRCNN: clip mapper for training, sliding-window DAVIS evaluation."""

    def __init__(self, cfg):
        # DefaultTrainer.__init__ with one change: DDP over CPU processes (gloo) needs device_ids=None.
        TrainerBase.__init__(self)
        cfg = DefaultTrainer.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        device_ids = [comm.get_local_rank()] if cfg.MODEL.DEVICE.startswith("cuda") else None
        model = create_ddp_model(model, broadcast_buffers=False, device_ids=device_ids)
        self._trainer = build_training_loop(cfg, model, data_loader, optimizer)
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = DetectionCheckpointer(model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    @classmethod
    def build_model(cls, cfg):
        model = build_model(cfg)
        counts = parameter_counts(model)
        logger.info(
            "Parameters: {total:,} total, {trainable:,} trainable, {slowfast:,} in the SlowFast module".format(
                **counts
            )
        )
        return model

    @classmethod
    def build_train_loader(cls, cfg):
        """Clip batches; with DATALOADER.NEIGHBOR_TARGETS = K > 1, groups of K neighbouring targets of one video."""
        mapper = ClipDatasetMapper(cfg, is_train=True)
        if cfg.DATALOADER.NEIGHBOR_TARGETS > 1:
            return build_neighbor_train_loader(cfg, mapper)
        return build_detection_train_loader(cfg, mapper=mapper)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name: str, output_dir: Optional[str] = None) -> DatasetEvaluator:
        output_dir = output_dir or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return DAVISEvaluator.from_config(cfg, dataset_name, output_dir=output_dir)

    @classmethod
    def test(cls, cfg, model, evaluators: Optional[List[DatasetEvaluator]] = None):
        """Evaluate on every ``cfg.DATASETS.TEST`` set with video-ordered sliding-window inference."""
        if isinstance(evaluators, DatasetEvaluator):
            evaluators = [evaluators]
        if evaluators is not None and len(evaluators) != len(cfg.DATASETS.TEST):
            raise ValueError(f"{len(evaluators)} evaluators given for {len(cfg.DATASETS.TEST)} DATASETS.TEST sets")
        results: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
        for idx, dataset_name in enumerate(cfg.DATASETS.TEST):
            evaluator = evaluators[idx] if evaluators is not None else cls.build_evaluator(cfg, dataset_name)
            results_i = inference_on_videos(
                model,
                DatasetCatalog.get(dataset_name),
                evaluator,
                min_size=cfg.INPUT.MIN_SIZE_TEST,
                max_size=cfg.INPUT.MAX_SIZE_TEST,
                image_format=cfg.INPUT.FORMAT,
                num_workers=cfg.DATALOADER.NUM_WORKERS,
                precision=cfg.TEST.PRECISION,
            )
            results[dataset_name] = results_i
            if comm.is_main_process():
                logger.info(f"Evaluation results for {dataset_name} in csv format:")
                # J&F keys carry '-' which print_csv_format hides in nested form; flattened they all print.
                print_csv_format(flatten_results_dict(results_i))
                payload = {"dataset": dataset_name, **results_i, "params": parameter_counts(model)}
                write_json_atomic(os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name, "results.json"), payload)
                if idx == 0:
                    write_json_atomic(os.path.join(cfg.OUTPUT_DIR, "results.json"), payload)
        if len(results) == 1:
            return list(results.values())[0]
        return results

    def build_hooks(self):
        ret = super().build_hooks()
        if comm.is_main_process() and self.cfg.TEST.EVAL_PERIOD > 0 and len(self.cfg.DATASETS.TEST):
            eval_pos = next(i for i, h in enumerate(ret) if isinstance(h, hooks.EvalHook))
            best = hooks.BestCheckpointer(
                self.cfg.TEST.EVAL_PERIOD, self.checkpointer, best_metric_name(self.cfg), mode="max"
            )
            ret.insert(eval_pos + 1, best)
        return ret
