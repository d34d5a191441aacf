"""VideoMaskEvaluator: what every video-mask evaluator shares (DAVIS and YouTube-VOS): id PNGs of whole videos,
instance filtering by score and mask thresholds, tracking settings from ``TEST.VOS``, and gathering every rank's
written frames before the main process checks and scores them.

Frames must arrive in video order within a video (``inference_on_videos`` guarantees it).
"""
from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from vos_eval.benchmarks import Benchmark, UnknownBenchmarkError, benchmark_for
from vos_eval.io import join_under
from vos_eval.run_folder import RunFolder

from .recorded import INSTANCES_DIR, InstanceRecorder
from .segmenter import VideoSegmenter

__all__ = ["VideoMaskEvaluator", "threshold_kwargs"]

logger = logging.getLogger(__name__)


def threshold_kwargs(cfg) -> Dict[str, Any]:
    """The TEST.VOS keys every video evaluator takes (its segmenter's settings, scoring processes)."""
    return {**VideoSegmenter.config_kwargs(cfg), "workers": cfg.TEST.VOS.WORKERS,
            "save_instances": cfg.TEST.VOS.SAVE_INSTANCES}


class VideoMaskEvaluator(DatasetEvaluator):
    """What the DAVIS and YouTube-VOS evaluators share: the set's benchmark (:mod:`vos_eval.benchmarks`, from the
    metadata's ``layout``: its task, given masks, results folder and scoring), id PNGs of whole videos written under
    ``<output_dir>/<benchmark's results folder>``, instances kept by score and mask thresholds, tracking settings,
    and the gathering of every rank's written frames before the main process checks and scores them.

    Subclasses set ``BENCHMARK`` (the benchmark family's key: the key of their J&F table in ``evaluate()``'s results
    and results.json, the prefix of the logged metrics, the sets' ``evaluator_type``) and ``TASK_KEY`` (the config
    key of the task) and define ``process`` (which calls ``_record`` for every frame), ``reset`` (which must set
    ``self._written``: video -> written frames, and call ``_reset_recording``),
    ``_check_complete(per_rank)`` and ``_results()`` (what ``evaluate`` returns once every frame is there).
    """

    BENCHMARK: str
    TASK_KEY: str

    def __init__(
        self,
        dataset_name: str,
        output_dir: str,
        *,
        task: Optional[str] = None,
        workers: int = 0,
        distributed: bool = True,
        write_only: bool = False,
        save_instances: bool = False,
        **segmenter_settings: Any,
    ):
        """
        Args:
            dataset_name: a registered set (its metadata is ``self._meta``; its ``layout`` gives the benchmark).
            output_dir: the results go to ``<output_dir>/<the benchmark's results folder>``, tables to output_dir.
            task: the protocol (one of the benchmark's tasks); None: the metadata's task.
            workers: processes scoring sequences (<= 1: in this process).
            distributed: gather the written frames from all ranks and score on the main process.
            write_only: only write the result PNGs (``evaluate()`` returns {}), e.g. for one sequence of a set whose
                sequences are segmented by separate runs (OSVOS); the set is scored later.
            save_instances: also save every frame's instances under ``<output_dir>/instances`` (.recorded), for
                tools/replay_tracking.py.
            segmenter_settings: the VideoSegmenter's keyword arguments (``VideoSegmenter.config_kwargs(cfg)`` gives
                them from a config): how instances become each frame's ids; see there for the list.
        """
        if not output_dir:
            raise ValueError(f"{type(self).__name__} needs an output_dir for its result PNGs")
        self._dataset_name = dataset_name
        self._meta = MetadataCatalog.get(dataset_name)
        layout = getattr(self._meta, "layout", None)
        try:
            self._benchmark: Benchmark = benchmark_for(layout)
        except UnknownBenchmarkError:
            raise ValueError(f"metadata of dataset {dataset_name!r} has no benchmark 'layout' (a DAVISLayout or "
                             "YTVOSLayout): not a registered DAVIS or YouTube-VOS set") from None
        if self._benchmark.key != self.BENCHMARK or not hasattr(self._meta, "sequences"):
            raise ValueError(f"metadata of dataset {dataset_name!r} lacks 'sequences' or is a "
                             f"{self._benchmark.title} set, not one for {type(self).__name__}")
        self._layout = layout
        self._task = self._benchmark.check_task(task or getattr(self._meta, "task", None),
                                                f"{self.TASK_KEY} or metadata 'task' of {dataset_name}")
        self._output_dir = output_dir
        self._results_dir = RunFolder(output_dir).results_dir(self._benchmark.results_subdir)
        self._segmenter = VideoSegmenter(**segmenter_settings)
        self._workers = workers
        self._distributed = distributed
        self._write_only = write_only
        self._save_instances = save_instances
        self._recorder: Optional[InstanceRecorder] = None

    @classmethod
    def config_kwargs(cls, cfg) -> Dict[str, Any]:
        """The subclass's own settings from its config node (e.g. ``task``), besides the shared TEST.VOS ones."""
        return {}

    @classmethod
    def from_config(
        cls, cfg, dataset_name: str, output_dir: Optional[str] = None, *, distributed: bool = True,
        write_only: bool = False,
    ) -> "VideoMaskEvaluator":
        """Build from ``cfg.TEST.VOS`` (threshold_kwargs) and the subclass's :meth:`config_kwargs` (output_dir
        default: the run folder's evaluation folder of the set, ``<OUTPUT_DIR>/inference/<dataset_name>``)."""
        return cls(
            dataset_name,
            output_dir or RunFolder(cfg.OUTPUT_DIR).evaluation_dir(dataset_name),
            distributed=distributed,
            write_only=write_only,
            **cls.config_kwargs(cfg),
            **threshold_kwargs(cfg),
        )

    @property
    def results_dir(self) -> str:
        """Folder of the written ``<sequence>/<frame>.png`` results."""
        return self._results_dir

    @property
    def benchmark(self) -> Benchmark:
        """The set's benchmark (vos_eval.benchmarks): its given masks, result frames, scoring."""
        return self._benchmark

    @property
    def layout(self):
        """The set's layout (metadata ``layout``)."""
        return self._layout

    @property
    def scorable(self) -> bool:
        """Whether the set has the annotations to score its results here (else a subclass's ``finish_submission()``
        checks and packs them for a benchmark server)."""
        return self._benchmark.scorable(self._layout)

    def given_masks(self, sequence: str, height: int, width: int) -> Dict[str, Dict[int, Any]]:
        """Semi-supervised: frame -> {object id: mask} of the masks the benchmark gives for the sequence (read once;
        {} under the other protocols); a given mask of another size than the frames is an error naming its file."""
        if self._task != "semi-supervised":
            return {}
        if sequence not in self._given:
            given = self._benchmark.given_masks(self._layout, sequence)
            for frame, masks in given.items():
                for mask in masks.values():
                    if mask.shape != (height, width):
                        path = self._benchmark.annotation_path(self._layout, sequence, frame)
                        raise self._benchmark.error(f"{path} is {mask.shape[::-1]}, the frames are "
                                                    f"{(width, height)} (WxH)")
            self._given[sequence] = given
        return self._given[sequence]

    def score(self):
        """Score every sequence's results in ``results_dir`` with the benchmark; write the CSVs to output_dir."""
        return self._benchmark.evaluate(self._layout, self._results_dir, self._task,
                                        sequences=list(self._meta.sequences), workers=self._workers,
                                        output_dir=self._output_dir, split=self._table_label())

    def _table_label(self) -> Optional[str]:
        """The tables' set name (None: the layout's split)."""
        return None

    @property
    def task(self) -> str:
        """The protocol results are written and scored for."""
        return self._task

    def subset_scores(self, results) -> Dict[str, Dict[str, float]]:
        """J&F on the set's tagged frame subsets (e.g. clean, degraded) of scored ``results``; {} for a benchmark
        or set without frame tags."""
        return {}

    @property
    def segmenter(self) -> VideoSegmenter:
        """What turns each frame's instances into its id map (the demo uses the same class)."""
        return self._segmenter

    def _gather(self) -> Optional[List[Dict[str, List[str]]]]:
        """Every rank's written frames (per sequence) on the main process; None elsewhere."""
        if not self._distributed or comm.get_world_size() == 1:
            return [dict(self._written)]
        comm.synchronize()
        gathered = comm.gather(dict(self._written), dst=0)
        return gathered if comm.is_main_process() else None


    @staticmethod
    def _merge_ranks(per_rank: List[Dict[str, List[str]]]) -> Tuple[Dict[str, List[int]], Dict[str, set]]:
        """From the gathered ``{video: written frames}`` of every rank: the ranks that wrote each video, and each
        video's written frames."""
        owners: Dict[str, List[int]] = defaultdict(list)
        written: Dict[str, set] = defaultdict(set)
        for rank, frames in enumerate(per_rank):
            for video, names in frames.items():
                owners[video].append(rank)
                written[video].update(names)
        return owners, written

    def _reset_recording(self) -> None:
        """A new recording (subclasses' ``reset`` calls it): the frames of an unfinished video are dropped."""
        self._recorder = (InstanceRecorder(join_under(self._output_dir, INSTANCES_DIR), self._segmenter.mask_thresh)
                          if self._save_instances else None)

    def _record(self, inp, out) -> None:
        """Save a frame's instances when ``save_instances`` (call it for every processed frame, in video order)."""
        if self._recorder is not None:
            self._recorder.add(inp["sequence"], inp["frame_name"], out["instances"])

    def evaluate(self):
        if self._recorder is not None:
            self._recorder.flush()
        if self._write_only:
            return {}
        per_rank = self._gather()
        if per_rank is None:
            return {}
        if not any(itertools.chain.from_iterable(r.values() for r in per_rank)):
            logger.warning(f"{type(self).__name__} on {self._dataset_name} received no frames")
            return {}
        self._check_complete(per_rank)
        return self._results()
