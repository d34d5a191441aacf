"""The SlowFast VOS trainer: Detectron2's DefaultTrainer with clip data, video-ordered DAVIS evaluation,
best-checkpointing on J&F and checkpoints that survive interruptions."""
from __future__ import annotations

import logging
import os
import weakref
from collections import OrderedDict
from typing import Any, Dict, List, Optional

import torch

from detectron2.data import DatasetCatalog, MetadataCatalog, build_detection_train_loader
from detectron2.engine import DefaultTrainer, SimpleTrainer, TrainerBase, create_ddp_model, hooks
from detectron2.evaluation import DatasetEvaluator, print_csv_format
from detectron2.evaluation.testing import flatten_results_dict
from detectron2.modeling import build_model
from detectron2.utils import comm
from detectron2.utils.events import CommonMetricPrinter, JSONWriter, TensorboardXWriter
from detectron2.utils.logger import setup_logger

from vos_eval.davis_format import TASKS
from vos_eval.run_folder import RunFolder
from vos_eval.ytvos import YTVOS_TASKS

from ..data import ClipDatasetMapper
from ..data.build import build_video_test_loader
from ..data.datasets import dataset_benchmark
from ..data.datasets.ytvos import INFERENCE_FRAMES
from ..data.samplers import (
    WeightedDatasetSampler,
    build_neighbor_train_loader,
    dataset_weights,
    load_train_datasets,
    log_dataset_shares,
)
from ..evaluation import build_video_evaluator
from vos_eval.results_file import BENCHMARKS, EvaluationResults
from ..modeling import parameter_counts
from ..utils import write_json_atomic
from vos_eval.output_folder import open_nofollow, real_folder, real_folder_under, refuse_symlink
from .amp import build_training_loop
from .checkpoint import VOSCheckpointer
from .fresh_results import PRODUCED_BY_FILE
from .inference import inference_on_videos

__all__ = ["VOSTrainer", "best_metric_name", "check_datasets"]

logger = logging.getLogger(__name__)


class NoFollowJSONWriter(JSONWriter):
    """Detectron2's JSONWriter (one line of scalars per iteration, appended to ``json_file``) with the file opened
    without following a symbolic link (SymlinkError naming it), so a planted ``metrics.json`` link cannot make
    training append elsewhere."""

    def __init__(self, json_file: str, window_size: int = 20):
        self._file_handle = open_nofollow(json_file, "a")
        self._window_size = window_size
        self._last_write = -1


def best_metric_name(cfg) -> str:
    """The storage key EvalHook gives J&F-Mean of the first test set: ``<benchmark>/J&F-Mean`` (the set's
    evaluator_type: davis, ytvos), prefixed with the set's name when there are several sets."""
    key = f"{MetadataCatalog.get(cfg.DATASETS.TEST[0]).evaluator_type}/J&F-Mean"
    return key if len(cfg.DATASETS.TEST) == 1 else f"{cfg.DATASETS.TEST[0]}/{key}"


def check_datasets(cfg, train: bool = True) -> None:
    """Fail at once, naming the config key, when DATASETS.TRAIN / DATASETS.TEST name an unregistered set,
    DATASETS.TRAIN_WEIGHTS does not fit DATASETS.TRAIN, a test set cannot be scored here, or TEST.DAVIS.TASK is
    unknown, instead of after hours of training.

    Training sets may be DAVIS or YouTube-VOS sets. A test set must be a DAVIS set or a YouTube-VOS set. While
    training (``train=True``: periodic evaluation picks the best checkpoint), a YouTube-VOS test set must have local
    ground truth on every frame (a train split, e.g. ``ytvos2019_train_holdout``); YouTube-VOS valid has masks only
    where objects first appear and is scored by the challenge server, so only ``--eval-only`` and OSVOS
    (``train=False``) take it: they write its results and the submission zip."""
    registered = set(DatasetCatalog.list())
    keys = (("DATASETS.TRAIN", cfg.DATASETS.TRAIN),) if train else ()
    for key, names in keys + (("DATASETS.TEST", cfg.DATASETS.TEST),):
        for name in names:
            if name not in registered:
                known = sorted(n for n in registered if "davis" in n or "ytvos" in n)
                raise ValueError(f"{key}: {name!r} is not a registered dataset "
                                 f"(DAVIS and YouTube-VOS sets: {', '.join(known)})")
    if train:
        dataset_weights(cfg.DATASETS.TRAIN_WEIGHTS, cfg.DATASETS.TRAIN)
    if cfg.TEST.DAVIS.TASK not in ("",) + TASKS:
        raise ValueError(f"TEST.DAVIS.TASK must be one of {TASKS} or '' (the test set's own), "
                         f"got {cfg.TEST.DAVIS.TASK!r}")
    if cfg.TEST.YTVOS.INFERENCE_FRAMES not in INFERENCE_FRAMES:
        raise ValueError(f"TEST.YTVOS.INFERENCE_FRAMES must be one of {INFERENCE_FRAMES}, "
                         f"got {cfg.TEST.YTVOS.INFERENCE_FRAMES!r}")
    if cfg.TEST.YTVOS.TASK not in ("",) + YTVOS_TASKS:
        raise ValueError(f"TEST.YTVOS.TASK must be one of {YTVOS_TASKS} or '' (the test set's own), "
                         f"got {cfg.TEST.YTVOS.TASK!r}")
    for name in cfg.DATASETS.TEST:
        try:
            benchmark = dataset_benchmark(name)
        except ValueError as e:
            raise ValueError(f"DATASETS.TEST: {e}") from None
        layout = MetadataCatalog.get(name).layout
        if train and not benchmark.scorable(layout):
            raise ValueError(
                f"DATASETS.TEST: {name!r} is a {benchmark.title} {layout.split!r} split, which has no local "
                f"ground truth beyond first appearances, so it cannot score the periodic evaluation of a "
                f"training run; test on a DAVIS set or a YouTube-VOS train split (e.g. the _train_holdout sets), "
                f"and segment {name!r} afterwards with --eval-only (it writes the submission zip)"
            )


class VOSTrainer(DefaultTrainer):
    """DefaultTrainer for SlowFastRCNN: clip mapper for training, sliding-window DAVIS evaluation.

    ``__init__`` builds the same parts in the same order as DefaultTrainer's, but through two methods that
    DefaultTrainer hard-codes and subclasses may override: ``build_ddp_model`` (DDP for CPU models too) and
    ``build_training_loop`` (the SOLVER.AMP.PRECISION loop, bf16 included); the checkpointer is a VOSCheckpointer."""

    def __init__(self, cfg):
        check_datasets(cfg)
        TrainerBase.__init__(self)  # DefaultTrainer.__init__ is replaced, not extended (see the class docstring)
        if not logging.getLogger("detectron2").isEnabledFor(logging.INFO):  # setup_logger was not called
            setup_logger()
        cfg = self.auto_scale_workers(cfg, comm.get_world_size())
        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        model = self.build_ddp_model(cfg, model)
        self._trainer = self.build_training_loop(cfg, model, data_loader, optimizer)
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = VOSCheckpointer(model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        if comm.is_main_process():
            self.checkpointer.remove_partial_saves()  # a killed save's temporary .pth (this run holds the folder)
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    def run_step(self):
        """One step; a NaN or infinite loss (Detectron2's FloatingPointError) stops training naming the iteration,
        and no checkpoint is saved from then on (the final save of ``after_train`` included)."""
        try:
            super().run_step()
        except FloatingPointError as e:
            self.checkpointer.diverged_at = self.iter
            raise FloatingPointError(
                f"training diverged at iteration {self.iter}: the loss is NaN or infinite ({e}); no checkpoint is "
                "saved from this iteration on (the last one saved, if any, is from before it). Lower SOLVER.BASE_LR "
                "or check the training data"
            ) from e

    def build_writers(self):
        """Detectron2's writers (console, metrics.json, TensorBoard), metrics.json opened without following a
        symbolic link."""
        output_dir = real_folder(self.cfg.OUTPUT_DIR)
        return [CommonMetricPrinter(self.max_iter),
                NoFollowJSONWriter(os.path.join(output_dir, "metrics.json")),
                TensorboardXWriter(output_dir)]

    @classmethod
    def build_ddp_model(cls, cfg, model: torch.nn.Module) -> torch.nn.Module:
        """The model wrapped in DistributedDataParallel when there are several processes. DefaultTrainer passes
        device_ids=[local rank], which DDP refuses for a CPU module, so CPU training (gloo) passes none."""
        on_cpu = not cfg.MODEL.DEVICE.startswith("cuda")
        return create_ddp_model(model, broadcast_buffers=False, **({"device_ids": None} if on_cpu else {}))

    @classmethod
    def build_training_loop(cls, cfg, model: torch.nn.Module, data_loader, optimizer) -> SimpleTrainer:
        """The loop that runs one step: fp32, fp16 (AMPTrainer) or bf16 autocast, as SOLVER.AMP.* asks
        (slowfast_vos.engine.amp.build_training_loop)."""
        return build_training_loop(cfg, model, data_loader, optimizer)

    @classmethod
    def build_model(cls, cfg):
        model = build_model(cfg)
        logger.info(
            "Parameters: {total:,} total, {trainable:,} trainable, {slowfast:,} in the SlowFast module".format(
                **parameter_counts(model)
            )
        )
        return model

    @classmethod
    def build_train_loader(cls, cfg):
        """Clip batches; with DATALOADER.NEIGHBOR_TARGETS = K > 1, groups of K neighbouring targets of one video.

        The DATASETS.TRAIN sets are loaded one by one (slowfast_vos.data.samplers.load_train_datasets); with
        DATASETS.TRAIN_WEIGHTS each target (K = 1) or group (K > 1) comes from a set with its weight."""
        mapper = ClipDatasetMapper(cfg, is_train=True)
        datasets = load_train_datasets(cfg)
        if cfg.DATALOADER.NEIGHBOR_TARGETS > 1:
            return build_neighbor_train_loader(cfg, mapper, datasets=datasets)
        if datasets.weights is None:  # Detectron2's sampler (DATALOADER.SAMPLER_TRAIN) over the concatenation
            if len(datasets.names) > 1:
                total = sum(datasets.sizes)
                log_dataset_shares("frames", datasets.names, datasets.sizes, [n / total for n in datasets.sizes])
            return build_detection_train_loader(cfg, mapper=mapper, dataset=datasets.dicts)
        if cfg.DATALOADER.SAMPLER_TRAIN != "TrainingSampler":
            raise ValueError(f"DATASETS.TRAIN_WEIGHTS samples by set and cannot be combined with "
                             f"DATALOADER.SAMPLER_TRAIN = {cfg.DATALOADER.SAMPLER_TRAIN!r}: use 'TrainingSampler' "
                             f"or leave DATASETS.TRAIN_WEIGHTS empty")
        log_dataset_shares("frames", datasets.names, datasets.sizes, datasets.weights)
        sampler = WeightedDatasetSampler(datasets.sizes, datasets.weights)
        return build_detection_train_loader(cfg, mapper=mapper, dataset=datasets.dicts, sampler=sampler)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name: str):
        """Whole sequences in video order (this process's share), one frame input per batch."""
        return build_video_test_loader(cfg, dataset_name)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name: str, output_dir: Optional[str] = None) -> DatasetEvaluator:
        """The set's evaluator by its metadata ``evaluator_type`` (evaluation.build_video_evaluator)."""
        return build_video_evaluator(cfg, dataset_name, output_dir=output_dir)

    @classmethod
    def test(cls, cfg, model, evaluators: Optional[List[DatasetEvaluator]] = None):
        """DefaultTrainer.test with ``inference_on_videos`` in place of ``inference_on_dataset``; each set's results
        (with parameter counts) also go to ``inference/<set>/results.json``, the first set's to OUTPUT_DIR, and
        ``inference/<set>/produced_by.json`` says that this model (not earlier --eval-only weights) produced them."""
        if isinstance(evaluators, DatasetEvaluator):
            evaluators = [evaluators]
        if evaluators is not None and len(evaluators) != len(cfg.DATASETS.TEST):
            raise ValueError(f"{len(evaluators)} evaluators given for {len(cfg.DATASETS.TEST)} DATASETS.TEST sets")
        results: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
        for idx, dataset_name in enumerate(cfg.DATASETS.TEST):
            evaluator = evaluators[idx] if evaluators is not None else cls.build_evaluator(cfg, dataset_name)
            run = RunFolder(cfg.OUTPUT_DIR)
            folder = real_folder_under(cfg.OUTPUT_DIR, run.evaluation_dir(dataset_name))  # no link where results go
            results_dir = getattr(evaluator, "results_dir", None)
            if results_dir and os.path.abspath(results_dir).startswith(os.path.abspath(cfg.OUTPUT_DIR) + os.sep):
                real_folder_under(cfg.OUTPUT_DIR, results_dir)
            results_i = inference_on_videos(model, cls.build_test_loader(cfg, dataset_name), evaluator,
                                            precision=cfg.TEST.PRECISION)
            results[dataset_name] = results_i
            if comm.is_main_process():
                write_json_atomic(refuse_symlink(os.path.join(folder, PRODUCED_BY_FILE)),
                                  {"weights": "", "weights_sha256": None,
                                   "model": f"the model in memory of the run writing {cfg.OUTPUT_DIR} (training's "
                                            "periodic or final evaluation)"})
                if not any(b in results_i for b in BENCHMARKS):  # no local ground truth (YouTube-VOS valid)
                    logger.info(f"{dataset_name}: results written, nothing to score here"
                                + (f"; submission: {results_i['submission']}" if "submission" in results_i else ""))
                    continue
                logger.info(f"Evaluation results for {dataset_name} in csv format:")
                # J&F keys carry '-' which print_csv_format hides in nested form; flattened they all print.
                print_csv_format(flatten_results_dict({k: v for k, v in results_i.items() if k != "submission"}))
                record = EvaluationResults.from_evaluation(dataset_name, results_i, parameter_counts(model))
                record.write(RunFolder(folder).results_json)
                if idx == 0:
                    record.write(run.results_json)
        if len(results) == 1:
            return list(results.values())[0]
        return results

    def build_hooks(self):
        """Upstream's hooks (saving through the VOSCheckpointer), plus a BestCheckpointer on J&F after EvalHook."""
        ret = super().build_hooks()
        if comm.is_main_process() and self.cfg.TEST.EVAL_PERIOD > 0 and len(self.cfg.DATASETS.TEST):
            eval_pos = next(i for i, h in enumerate(ret) if isinstance(h, hooks.EvalHook))
            best = hooks.BestCheckpointer(
                self.cfg.TEST.EVAL_PERIOD, self.checkpointer, best_metric_name(self.cfg), mode="max"
            )
            ret.insert(eval_pos + 1, best)
        return ret
