"""Semi-supervised OSVOS: per video, fine-tune the parent model on the masks the protocol gives, then segment it.

One runner for every benchmark; what differs is the set's benchmark (:mod:`vos_eval.benchmarks`, the one owner of
the given-mask strategy the evaluators use too): on DAVIS the annotated first frame is given; on YouTube-VOS each
object's mask is given on its first-appearance frame (objects may enter late; on a frame where several objects are
given, those objects only). The frames segmented are the test loader's (``data.build.frames_to_segment``). The
set's evaluator writes the results (into the benchmark's results folder) and scores them, or, for a split without
local annotations (YouTube-VOS valid), checks and zips the submission.

Each video starts again from the parent weights (``MODEL.WEIGHTS``). Finished sequences leave a marker file
written after their last result PNG, recording what produced them (the weights' checksum and the config keys that
change the masks), so an interrupted run resumes where it stopped and a run with other weights or settings cannot
mistake old results for its own. Sequences can be split across processes (``num_workers``, which end with their
parent) or across separate invocations (``shard``).
"""
from __future__ import annotations

import copy
import json
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import yaml
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog
from detectron2.engine import HookBase, hooks
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer
from detectron2.utils.env import seed_all_rng

from vos_eval.benchmarks import Benchmark
from vos_eval.davis_format import MASK_EXT
from vos_eval.run_folder import RunFolder

from ..data import ClipDatasetMapper, iter_sequences
from ..data.build import build_video_test_loader, frames_to_segment
from ..evaluation import build_video_evaluator
from vos_eval.results_file import EvaluationResults
from ..utils import join_under, write_json_atomic
from ..utils.console import quiet_third_party_noise
from vos_eval.output_folder import real_folder, real_folder_under, refuse_symlink
from .amp import build_training_loop
from .checkpoint import load_trained_weights, require_weights, weights_digest
from .inference import inference_on_videos
from .osvos_identity import IDENTITIES, per_object_classes
from .trainer import check_datasets

__all__ = ["LossLogger", "OSVOSRunner", "OSVOSResultsMismatch", "finetune_on_given_masks", "given_mask_batches",
           "given_records", "run_provenance"]

logger = logging.getLogger(__name__)

# Config keys that do not change the result masks (where files go, logging, parallelism), left out of a marker.
_RUNTIME_KEYS = ("OUTPUT_DIR", "MODEL.WEIGHTS", "MODEL.DEVICE", "OSVOS.LOG_PERIOD", "TEST.VOS.WORKERS",
                 "TEST.EVAL_PERIOD", "DATALOADER.NUM_WORKERS", "SOLVER.CHECKPOINT_PERIOD", "DATASETS.TRAIN",
                 "VIS_PERIOD", "CUDNN_BENCHMARK")


class OSVOSResultsMismatch(RuntimeError):
    """The output folder holds finished sequences produced by other weights or settings than this run's."""


class LossLogger(HookBase):
    """Logs the fine-tuning loss of one video every ``period`` iterations."""

    def __init__(self, sequence: str, period: int):
        self.sequence = sequence
        self.period = max(1, period)

    def after_step(self):
        step = self.trainer.iter + 1
        if step % self.period == 0 or step == self.trainer.max_iter:
            loss = self.trainer.storage.history("total_loss").latest()
            logger.info(f"OSVOS [{self.sequence}] iter {step}/{self.trainer.max_iter}: total_loss={loss:.4f}")


def given_mask_batches(mapper: ClipDatasetMapper, records: Sequence[Dict[str, Any]], batch_size: int,
                       rng: random.Random) -> Iterator[List[dict]]:
    """An endless stream of batches of the given-mask records (drawn uniformly), each copy with its own augmentation."""
    while True:
        yield [mapper(copy.deepcopy(rng.choice(records))) for _ in range(batch_size)]


def finetune_on_given_masks(cfg: CfgNode, model: torch.nn.Module, records: Sequence[Dict[str, Any]],
                            sequence: str) -> None:
    """Train ``model`` for ``OSVOS.ITERS`` iterations (trainable parts per MODEL.FREEZE) on a video's given-mask
    records (:func:`given_records`)."""
    if not records:
        raise ValueError(f"OSVOS needs given masks, but video {sequence!r} has no frame with a given object")
    optimizer = build_optimizer(cfg, model)
    rng = random.Random(cfg.SEED if cfg.SEED >= 0 else None)
    stream = given_mask_batches(ClipDatasetMapper(cfg, is_train=True), records, cfg.SOLVER.IMS_PER_BATCH, rng)
    trainer = build_training_loop(cfg, model, stream, optimizer)
    trainer.register_hooks([hooks.IterationTimer(), LossLogger(sequence, cfg.OSVOS.LOG_PERIOD)])
    trainer.train(0, cfg.OSVOS.ITERS)


def given_records(benchmark: Benchmark, layout, sequence: str, records: Sequence[Dict[str, Any]]
                  ) -> List[Dict[str, Any]]:
    """The records to fine-tune on: those of the frames the benchmark gives masks on
    (:meth:`vos_eval.benchmarks.Benchmark.given_objects`), each holding only the annotations of the objects given on
    its frame; a given frame whose record holds none of them is an error naming its mask file."""
    given = benchmark.given_objects(layout, sequence)
    out = []
    for record in records:
        if record["frame_name"] not in given:
            continue
        objects = given[record["frame_name"]]
        kept = dict(record)
        if objects is not None:
            kept["annotations"] = [a for a in record.get("annotations", []) if a.get("object_id") in objects]
        if not kept.get("annotations"):
            raise ValueError(
                f"OSVOS needs the given masks, but sequence {record['sequence']} frame {record['frame_name']} has "
                f"no given object in {record.get('mask_file')}"
            )
        out.append(kept)
    return out


def _flatten(tree: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Nested config dict -> {"A.B.C": value}."""
    flat: Dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_provenance(cfg: CfgNode) -> Dict[str, Any]:
    """What produces a sequence's masks: the parent weights (path and sha256) and every config key that matters."""
    config = {k: v for k, v in _flatten(yaml.safe_load(cfg.dump())).items() if not k.startswith(_RUNTIME_KEYS)}
    return json.loads(json.dumps({
        "weights": cfg.MODEL.WEIGHTS,
        "weights_sha256": weights_digest(cfg.MODEL.WEIGHTS),
        "config": config,
    }))


def _differences(recorded: Dict[str, Any], current: Dict[str, Any]) -> List[str]:
    """What differs between a marker's provenance and this run's, as short readable items."""
    if not isinstance(recorded, dict):
        return ["the marker records no provenance (written by an older version)"]
    out = []
    if recorded.get("weights_sha256") != current["weights_sha256"]:
        out.append(f"weights {recorded.get('weights')!r} (sha256 {str(recorded.get('weights_sha256'))[:12]}) vs "
                   f"{current['weights']!r} (sha256 {str(current['weights_sha256'])[:12]})")
    old, new = recorded.get("config") or {}, current["config"]
    out += [f"{k}: {old.get(k)!r} vs {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return out


class OSVOSRunner:
    """Runs OSVOS over the videos of ``cfg.DATASETS.TEST[0]`` (a DAVIS or YouTube-VOS set) into ``output_dir``.

    Layout (:class:`vos_eval.run_folder.RunFolder`): the benchmark's results folder of ``<seq>/<frame>.png``,
    ``sequences_done/<seq>.json`` (markers), and once all are done the two CSV tables and ``results.json``, or
    ``submission.zip`` for a split without local annotations. ``allow_random_weights``: empty MODEL.WEIGHTS
    fine-tunes a randomly initialised model instead of failing.
    """

    def __init__(self, cfg: CfgNode, output_dir: str, *, allow_random_weights: bool = False):
        if len(cfg.DATASETS.TEST) != 1:
            raise ValueError(f"OSVOS runs on one set; DATASETS.TEST has {list(cfg.DATASETS.TEST)}")
        check_datasets(cfg, train=False)
        if cfg.OSVOS.IDENTITY not in IDENTITIES:
            raise ValueError(f"OSVOS.IDENTITY must be one of {list(IDENTITIES)}, got {cfg.OSVOS.IDENTITY!r}")
        self.cfg = cfg
        self.dataset_name = cfg.DATASETS.TEST[0]
        self.output_dir = output_dir
        self.done_dir = os.path.join(output_dir, "sequences_done")
        self.allow_random_weights = allow_random_weights
        require_weights(cfg.MODEL.WEIGHTS, allow_random=allow_random_weights, what="OSVOS fine-tuning")
        # The whole set's evaluator: it knows the set's layout and protocol and scores all sequences at the end.
        self.evaluator = build_video_evaluator(cfg, self.dataset_name, output_dir=output_dir, distributed=False)
        self.benchmark = self.evaluator.benchmark
        self.benchmark.check_adaptation(self.evaluator.task, self.evaluator.TASK_KEY)
        self.provenance = run_provenance(cfg)

    def sequences(self) -> "OrderedDict[str, List[Dict[str, Any]]]":
        """The set's records grouped by video, in video order."""
        return OrderedDict(iter_sequences(DatasetCatalog.get(self.dataset_name)))

    def _marker(self, sequence: str) -> str:
        return join_under(self.done_dir, f"{sequence}.json")

    def _result_pngs(self, sequence: str) -> List[str]:
        """The names of the video's result PNGs now in the results folder."""
        results = join_under(self.evaluator.results_dir, sequence)
        if not os.path.isdir(results) or os.path.islink(results):
            return []
        return sorted(name for name in os.listdir(results) if name.endswith(MASK_EXT))

    def is_done(self, sequence: str) -> bool:
        """A finished video: its marker, and every result PNG the marker lists still there (a video with any of its
        results deleted is redone rather than failing the scoring; a marker of an older version, which lists none,
        needs at least one)."""
        marker = self._marker(sequence)
        if not os.path.isfile(marker) or os.path.islink(marker):
            return False
        try:
            with open(marker, encoding="utf-8") as f:
                written = json.load(f).get("results")
        except (OSError, ValueError, AttributeError):
            return False
        present = set(self._result_pngs(sequence))
        if isinstance(written, list) and written:
            return all(isinstance(name, str) and name in present for name in written)
        return bool(present)

    def prepare_folders(self) -> None:
        """Create, or check to be real folders inside the output folder, the results and marker folders: a
        symbolic link among them is a SymlinkError naming it (results are never written through a link)."""
        real_folder(self.output_dir)
        real_folder_under(self.output_dir, self.evaluator.results_dir)
        real_folder(self.output_dir, os.path.basename(self.done_dir))

    def check_done(self, force: bool = False) -> None:
        """Refuse (or, with ``force``, redo) finished sequences that other weights or settings produced."""
        if not os.path.isdir(self.done_dir):
            return
        stale = {}
        for name in sorted(os.listdir(self.done_dir)):
            path = os.path.join(self.done_dir, name)
            try:
                with open(path, encoding="utf-8") as f:
                    recorded = json.load(f).get("produced_by")
            except (OSError, ValueError, AttributeError):
                recorded = None
            differences = _differences(recorded, self.provenance)
            if differences:
                stale[path] = differences
        if not stale:
            return
        if not force:
            path, differences = next(iter(stale.items()))
            raise OSVOSResultsMismatch(
                f"{len(stale)} finished sequences in {self.done_dir} were produced by another run than this one "
                f"(e.g. {path}: {'; '.join(differences[:5])}); scoring them as this run's would be wrong. Use "
                "another OUTPUT_DIR, or --force to redo them with this run's weights and settings"
            )
        logger.warning(f"--force: redoing {len(stale)} sequences that another run produced")
        for path in stale:
            os.remove(path)

    def run_sequence(self, sequence: str, records: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """Fine-tune a fresh copy of the parent on the video's given masks and write its result masks (never through
        a symbolic link: the results, marker and the video's folders are checked first)."""
        cfg = self.cfg
        self.prepare_folders()
        refuse_symlink(join_under(self.evaluator.results_dir, sequence))  # if an earlier run made it: a real folder
        refuse_symlink(self._marker(sequence))
        model = build_model(cfg)
        load_trained_weights(model, cfg.MODEL.WEIGHTS, allow_random=self.allow_random_weights,
                             what="OSVOS fine-tuning")
        given = given_records(self.benchmark, self.evaluator.layout, sequence, records)
        if cfg.OSVOS.IDENTITY == "classes":
            model, given = per_object_classes(cfg, model, given)
            logger.info(f"OSVOS [{sequence}] one class per given object: ids {model.object_ids.tolist()}")
        start = time.perf_counter()
        model.train()
        finetune_on_given_masks(cfg, model, given, sequence)
        finetune_s = time.perf_counter() - start
        writer = build_video_evaluator(cfg, self.dataset_name, output_dir=self.output_dir, distributed=False,
                                       write_only=True)
        mapper = ClipDatasetMapper(cfg, is_train=False, frame_cache_size=0).frame_input
        frames = frames_to_segment(cfg, self.dataset_name, records)
        timing = inference_on_videos(model, build_video_test_loader(frames, mapper=mapper),
                                     writer, precision=cfg.TEST.PRECISION)["timing"]
        summary = {
            "sequence": sequence,
            "frames": len(records),
            "given_frames": len(given),
            "finetune_s": finetune_s,
            "segment_s": timing["eval_time_s"],
            "results": self._result_pngs(sequence),
            "produced_by": self.provenance,
        }
        write_json_atomic(self._marker(sequence), summary)
        logger.info(f"OSVOS [{sequence}] done in {finetune_s:.1f} + {timing['eval_time_s']:.1f} s")
        return summary

    def run(
        self, shard: Tuple[int, int] = (0, 1), num_workers: int = 1, force: bool = False
    ) -> Optional[Dict[str, Any]]:
        """Process this shard's unfinished sequences; score the set once every sequence is done."""
        self.prepare_folders()
        self.check_done(force)
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
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_exit_with_parent,
                                     initargs=(os.getpid(),)) as pool:
                jobs = [pool.submit(_run_worker, self.cfg, self.output_dir, pending[i::workers], workers,
                                    self.allow_random_weights) for i in range(workers)]
                for job in jobs:
                    job.result()
        else:
            for i, name in enumerate(pending):
                logger.info(f"OSVOS sequence {i + 1}/{len(pending)}: {name}")
                self.seed_sequence(name)
                self.run_sequence(name, sequences[name])
        missing = [s for s in sequences if not self.is_done(s)]
        if missing:
            logger.info(f"OSVOS: {len(missing)} sequences not done yet (other shards?): {missing}")
            return None
        return self.score(len(sequences))

    def seed_sequence(self, sequence: str) -> None:
        """Seed the RNGs for one video (SEED plus the video name's code points), so a video's result does not
        depend on which process or shard runs it; SEED < 0 leaves them as they are."""
        if self.cfg.SEED >= 0:
            seed_all_rng(self.cfg.SEED + sum(map(ord, sequence)))

    def score(self, num_sequences: int) -> Dict[str, Any]:
        """J&F of all written results with the configured protocol; writes the CSVs and results.json. A split
        without local annotations (YouTube-VOS valid): the checked submission zip instead."""
        if not self.evaluator.scorable:
            return {"submission": self.evaluator.finish_submission(), "sequences": num_sequences}
        results = self.evaluator.score()
        record = EvaluationResults(self.dataset_name, results.global_metrics, self.evaluator.BENCHMARK,
                                   sequences=num_sequences, subsets=self.evaluator.subset_scores(results),
                                   tracking=results.tracking())
        record.write(RunFolder(self.output_dir).results_json)
        return record.to_dict()


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: end the worker as soon as the OSVOS parent is gone (e.g. killed), so that no orphan
    keeps writing results that a resumed run is rewriting."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="osvos-parent-watch", daemon=True).start()


def _run_worker(cfg: CfgNode, output_dir: str, sequences: List[str], workers: int, allow_random: bool) -> None:
    """Worker process: its share of sequences, with the machine's cores split between the workers."""
    import slowfast_vos  # noqa: F401  (registrations in the fresh process)

    quiet_third_party_noise()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    runner = OSVOSRunner(cfg, output_dir, allow_random_weights=allow_random)
    all_sequences = runner.sequences()
    for name in sequences:
        runner.seed_sequence(name)
        runner.run_sequence(name, all_sequences[name])
