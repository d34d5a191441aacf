"""Semi-supervised OSVOS: per sequence, fine-tune the parent model on the annotated first frame, then segment it.

Each sequence starts again from the parent weights (``MODEL.WEIGHTS``). Finished sequences leave a marker file
written after their last result PNG, so an interrupted run resumes where it stopped; sequences can be split across
processes (``num_workers``) or across separate invocations (``shard``).
"""
from __future__ import annotations

import copy
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import HookBase, hooks
from detectron2.evaluation.evaluator import inference_context
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer
from detectron2.utils.env import seed_all_rng

from ..data import ClipDatasetMapper
from ..evaluation import DAVISEvaluator, evaluate_davis
from ..precision import inference_precision
from ..utils import write_json_atomic
from ..utils.console import quiet_third_party_noise
from .amp import build_training_loop
from .inference import group_by_sequence, predict_sequence

logger = logging.getLogger(__name__)


class _LossLogger(HookBase):
    """Logs the fine-tuning loss of one sequence every ``period`` iterations."""

    def __init__(self, sequence: str, period: int):
        self.sequence = sequence
        self.period = max(1, period)

    def after_step(self):
        step = self.trainer.iter + 1
        if step % self.period == 0 or step == self.trainer.max_iter:
            loss = self.trainer.storage.history("total_loss").latest()
            logger.info(f"OSVOS [{self.sequence}] iter {step}/{self.trainer.max_iter}: total_loss={loss:.4f}")


def first_frame_batches(mapper: ClipDatasetMapper, record: Dict[str, Any], batch_size: int) -> Iterator[List[dict]]:
    """An endless stream of batches of the first frame, each copy drawn with its own random augmentation."""
    while True:
        yield [mapper(copy.deepcopy(record)) for _ in range(batch_size)]


def finetune_on_first_frame(cfg: CfgNode, model: torch.nn.Module, record: Dict[str, Any]) -> None:
    """Train ``model`` on one annotated frame for ``OSVOS.ITERS`` iterations (trainable parts per MODEL.FREEZE)."""
    if not record.get("annotations"):
        raise ValueError(
            f"OSVOS needs an annotated first frame, but sequence {record['sequence']} frame "
            f"{record.get('frame_name')} has no object in {record.get('mask_file')}"
        )
    optimizer = build_optimizer(cfg, model)
    stream = first_frame_batches(ClipDatasetMapper(cfg, is_train=True), record, cfg.SOLVER.IMS_PER_BATCH)
    trainer = build_training_loop(cfg, model, stream, optimizer)
    trainer.register_hooks([hooks.IterationTimer(), _LossLogger(record["sequence"], cfg.OSVOS.LOG_PERIOD)])
    trainer.train(0, cfg.OSVOS.ITERS)


class OSVOSRunner:
    """Runs OSVOS over the sequences of ``cfg.DATASETS.TEST[0]`` into ``output_dir``.

    Layout: ``davis_results/<seq>/<frame>.png`` (result masks), ``sequences_done/<seq>.json`` (markers),
    ``global_results-<set>.csv``, ``per-sequence_results-<set>.csv`` and ``results.json`` once all are done.
    """

    def __init__(self, cfg: CfgNode, output_dir: str):
        if len(cfg.DATASETS.TEST) != 1:
            raise ValueError(f"OSVOS runs on one set; DATASETS.TEST has {list(cfg.DATASETS.TEST)}")
        self.cfg = cfg
        self.dataset_name = cfg.DATASETS.TEST[0]
        self.output_dir = output_dir
        self.done_dir = os.path.join(output_dir, "sequences_done")

    def sequences(self) -> "Dict[str, List[Dict[str, Any]]]":
        return group_by_sequence(DatasetCatalog.get(self.dataset_name))

    def is_done(self, sequence: str) -> bool:
        return os.path.isfile(os.path.join(self.done_dir, f"{sequence}.json"))

    def run_sequence(self, sequence: str, records: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """Fine-tune a fresh copy of the parent on the first frame and write the sequence's result masks."""
        cfg = self.cfg
        model = build_model(cfg)
        DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
        start = time.perf_counter()
        model.train()
        finetune_on_first_frame(cfg, model, records[0])
        finetune_s = time.perf_counter() - start
        evaluator = DAVISEvaluator.from_config(cfg, self.dataset_name, output_dir=self.output_dir, distributed=False)
        start = time.perf_counter()
        with ExitStack() as stack:
            stack.enter_context(inference_context(model))
            stack.enter_context(torch.no_grad())
            stack.enter_context(inference_precision(cfg))
            for frame, output in predict_sequence(
                model, records, cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, cfg.INPUT.FORMAT
            ):
                evaluator.process([frame], [output])
        summary = {
            "sequence": sequence,
            "frames": len(records),
            "finetune_s": finetune_s,
            "segment_s": time.perf_counter() - start,
        }
        write_json_atomic(os.path.join(self.done_dir, f"{sequence}.json"), summary)
        logger.info(f"OSVOS [{sequence}] done: {summary}")
        return summary

    def run(self, shard: Tuple[int, int] = (0, 1), num_workers: int = 1) -> Optional[Dict[str, Any]]:
        """Process this shard's unfinished sequences; score the set once every sequence is done."""
        index, count = shard
        sequences = self.sequences()
        names = list(sequences)[index::count]
        pending = [s for s in names if not self.is_done(s)]
        logger.info(
            f"OSVOS on {self.dataset_name}: {len(names)} sequences in shard {index}/{count}, "
            f"{len(names) - len(pending)} already done, {len(pending)} to run"
        )
        if num_workers > 1 and len(pending) > 1:
            workers = min(num_workers, len(pending))
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                jobs = [pool.submit(_run_worker, self.cfg, self.output_dir, pending[i::workers], workers)
                        for i in range(workers)]
                for job in jobs:
                    job.result()
        else:
            for i, name in enumerate(pending):
                logger.info(f"OSVOS sequence {i + 1}/{len(pending)}: {name}")
                self._seed(name)
                self.run_sequence(name, sequences[name])
        missing = [s for s in sequences if not self.is_done(s)]
        if missing:
            logger.info(f"OSVOS: {len(missing)} sequences not done yet (other shards?): {missing}")
            return None
        return self.score(len(sequences))

    def _seed(self, sequence: str) -> None:
        if self.cfg.SEED >= 0:
            seed_all_rng(self.cfg.SEED + sum(map(ord, sequence)))

    def score(self, num_sequences: int) -> Dict[str, Any]:
        """J&F of all written results with the configured protocol; writes the CSVs and results.json."""
        meta = MetadataCatalog.get(self.dataset_name)
        results = evaluate_davis(
            meta.davis_root,
            os.path.join(self.output_dir, "davis_results"),
            task=self.cfg.TEST.DAVIS.TASK,
            split=meta.split,
            year=meta.year,
            resolution=meta.resolution,
            workers=self.cfg.TEST.DAVIS.WORKERS,
            output_dir=self.output_dir,
        )
        payload = {"dataset": self.dataset_name, "davis": results["global"], "sequences": num_sequences}
        write_json_atomic(os.path.join(self.output_dir, "results.json"), payload)
        return payload


def _run_worker(cfg: CfgNode, output_dir: str, sequences: List[str], workers: int) -> None:
    """Worker process: its share of sequences, with the machine's cores split between the workers."""
    import slowfast_vos  # noqa: F401  (registrations in the fresh process)

    quiet_third_party_noise()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    runner = OSVOSRunner(cfg, output_dir)
    all_sequences = runner.sequences()
    for name in sequences:
        runner._seed(name)
        runner.run_sequence(name, all_sequences[name])
