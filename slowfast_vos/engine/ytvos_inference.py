"""YouTube-VOS inference: segment a set through the project's test path, and OSVOS on the given masks.

:func:`segment_ytvos` runs a model over a YouTube-VOS set exactly as ``tools/train_net.py --eval-only`` runs DAVIS
(``build_video_test_loader`` + ``inference_on_videos`` with TEST.PRECISION) into a :class:`YTVOSEvaluator`: a train
split (e.g. the held-out videos) is scored; valid is written, checked and zipped for the evaluation server.

:class:`YTVOSOSVOSRunner` is :class:`OSVOSRunner` (resumable, markers with provenance, shards) for YouTube-VOS: each
video starts from the parent weights, is fine-tuned on the masks the protocol gives (each object's mask on its
first-appearance frame; on a frame where several objects are given, those objects only), then segmented.
"""
from __future__ import annotations

import copy
import logging
import os
import random
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from detectron2.config import CfgNode
from detectron2.data import MetadataCatalog
from detectron2.engine import hooks
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer

from ..data import ClipDatasetMapper
from ..data.build import build_video_test_loader
from ..data.datasets.ytvos import inference_records
from ..evaluation.results_file import RESULTS_FILE, EvaluationResults
from ..evaluation import YTVOSEvaluator
from ..utils import write_json_atomic
from .amp import build_training_loop
from .checkpoint import load_trained_weights, require_weights
from .inference import inference_on_videos
from .osvos import OSVOSRunner, _LossLogger, run_provenance

__all__ = ["YTVOSOSVOSRunner", "finetune_on_given_masks", "given_records", "segment_ytvos"]

logger = logging.getLogger(__name__)


def segment_ytvos(cfg: CfgNode, model: torch.nn.Module, dataset_name: str,
                  output_dir: Optional[str] = None) -> Dict[str, Any]:
    """Segment a YouTube-VOS set with ``model`` (the test path of ``--eval-only``); return the evaluator's results
    (``davis``: the J&F table on a train split; nothing on valid) with ``timing``, and ``submission`` (the zip's
    path) where one was written. Scores also go to ``<output_dir>/results.json`` (schema: results_file.py)."""
    evaluator = YTVOSEvaluator.from_config(cfg, dataset_name, output_dir=output_dir)
    results = inference_on_videos(model, build_video_test_loader(cfg, dataset_name), evaluator,
                                  precision=cfg.TEST.PRECISION)
    out_dir = os.path.dirname(evaluator.results_dir)
    if YTVOSEvaluator.BENCHMARK in results:
        EvaluationResults.from_evaluation(dataset_name, results).write(os.path.join(out_dir, RESULTS_FILE))
    if evaluator.submission_path is not None:
        results["submission"] = evaluator.submission_path
    return results


def given_records(records: Sequence[Dict[str, Any]], given: Dict[int, str]) -> List[Dict[str, Any]]:
    """The records of the frames where masks are given (``given``: object id -> first-appearance frame), each with
    only the annotations of the objects given on it (a train frame also annotates objects that appeared earlier)."""
    by_frame: Dict[str, List[int]] = {}
    for obj, frame in given.items():
        by_frame.setdefault(frame, []).append(obj)
    out = []
    for record in records:
        objects = set(by_frame.get(record["frame_name"], ()))
        if objects:
            copy_ = dict(record)
            copy_["annotations"] = [a for a in record.get("annotations", []) if a.get("object_id") in objects]
            if copy_["annotations"]:
                out.append(copy_)
    return out


def _given_batches(mapper: ClipDatasetMapper, records: Sequence[Dict[str, Any]], batch_size: int,
                   rng: random.Random) -> Iterator[List[dict]]:
    """An endless stream of batches of the given frames (drawn uniformly), each copy with its own augmentation."""
    while True:
        yield [mapper(copy.deepcopy(rng.choice(records))) for _ in range(batch_size)]


def finetune_on_given_masks(cfg: CfgNode, model: torch.nn.Module, records: Sequence[Dict[str, Any]],
                            video: str) -> None:
    """Train ``model`` for ``OSVOS.ITERS`` iterations on a video's given-mask records (:func:`given_records`)."""
    if not records:
        raise ValueError(f"OSVOS needs given masks, but video {video!r} has no frame with a given object")
    optimizer = build_optimizer(cfg, model)
    rng = random.Random(cfg.SEED if cfg.SEED >= 0 else None)
    stream = _given_batches(ClipDatasetMapper(cfg, is_train=True), records, cfg.SOLVER.IMS_PER_BATCH, rng)
    trainer = build_training_loop(cfg, model, stream, optimizer)
    trainer.register_hooks([hooks.IterationTimer(), _LossLogger(video, cfg.OSVOS.LOG_PERIOD)])
    trainer.train(0, cfg.OSVOS.ITERS)


class YTVOSOSVOSRunner(OSVOSRunner):
    """OSVOS over the videos of ``cfg.DATASETS.TEST[0]``, a YouTube-VOS set, into ``output_dir``.

    Layout: ``Annotations/<video>/<frame>.png``, ``sequences_done/<video>.json`` (markers), and once all videos are
    done the CSVs and ``results.json`` (a train split, scored) or ``submission.zip`` (valid). Resuming, the provenance
    check and shards are OSVOSRunner's; videos run in this process (``num_workers`` > 1 is not supported here).
    """

    def __init__(self, cfg: CfgNode, output_dir: str, *, allow_random_weights: bool = False):
        if len(cfg.DATASETS.TEST) != 1:
            raise ValueError(f"OSVOS runs on one set; DATASETS.TEST has {list(cfg.DATASETS.TEST)}")
        self.cfg = cfg
        self.dataset_name = cfg.DATASETS.TEST[0]
        if MetadataCatalog.get(self.dataset_name).get("evaluator_type") != "ytvos":
            raise ValueError(f"DATASETS.TEST: {self.dataset_name!r} is not a YouTube-VOS set")
        self.output_dir = output_dir
        self.done_dir = os.path.join(output_dir, "sequences_done")
        self.allow_random_weights = allow_random_weights
        require_weights(cfg.MODEL.WEIGHTS, allow_random=allow_random_weights, what="OSVOS fine-tuning")
        self.evaluator = YTVOSEvaluator.from_config(cfg, self.dataset_name, output_dir=output_dir, distributed=False)
        if self.evaluator.task != "semi-supervised":
            raise ValueError(f"OSVOS is semi-supervised; TEST.YTVOS.TASK is {self.evaluator.task!r}")
        self.provenance = run_provenance(cfg)

    def run_sequence(self, sequence: str, records: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """Fine-tune a fresh copy of the parent on the video's given masks and write its result masks."""
        cfg = self.cfg
        model = build_model(cfg)
        load_trained_weights(model, cfg.MODEL.WEIGHTS, allow_random=self.allow_random_weights,
                             what="OSVOS fine-tuning")
        given = given_records(records, self.evaluator.layout.first_appearances(sequence))
        start = time.perf_counter()
        model.train()
        finetune_on_given_masks(cfg, model, given, sequence)
        finetune_s = time.perf_counter() - start
        writer = YTVOSEvaluator.from_config(cfg, self.dataset_name, output_dir=self.output_dir, distributed=False,
                                            write_only=True)
        mapper = ClipDatasetMapper(cfg, is_train=False, frame_cache_size=0).frame_input
        frames = inference_records(records, cfg.TEST.YTVOS.INFERENCE_FRAMES)
        timing = inference_on_videos(model, build_video_test_loader(frames, mapper=mapper), writer,
                                     precision=cfg.TEST.PRECISION)["timing"]
        summary = {"sequence": sequence, "frames": len(records), "given_frames": len(given),
                   "finetune_s": finetune_s, "segment_s": timing["eval_time_s"], "produced_by": self.provenance}
        write_json_atomic(self._marker(sequence), summary)
        logger.info(f"OSVOS [{sequence}] done in {finetune_s:.1f} + {timing['eval_time_s']:.1f} s")
        return summary

    def run(self, shard: Tuple[int, int] = (0, 1), num_workers: int = 1,
            force: bool = False) -> Optional[Dict[str, Any]]:
        if num_workers > 1:
            raise ValueError("YouTube-VOS OSVOS runs its videos in one process; use --shard i/N for parallel runs")
        return super().run(shard=shard, num_workers=1, force=force)

    def score(self, num_sequences: int) -> Dict[str, Any]:
        """A train split: J&F of all results, CSVs and results.json. Valid: the checked submission zip."""
        if not self.evaluator.scorable:
            return {"submission": self.evaluator.finish_submission(), "sequences": num_sequences}
        return super().score(num_sequences)
