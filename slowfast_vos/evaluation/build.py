"""The video evaluator of a registered set, chosen by the benchmark of its metadata ``layout``."""
from __future__ import annotations

from typing import Dict, Optional, Type

from detectron2.data import MetadataCatalog

from vos_eval.benchmarks import UnknownBenchmarkError, benchmark_for

from .davis_evaluator import DAVISEvaluator
from .video_evaluator import VideoMaskEvaluator
from .ytvos_evaluator import YTVOSEvaluator

__all__ = ["VIDEO_EVALUATORS", "build_video_evaluator"]

# The benchmark family's key (vos_eval.benchmarks: Benchmark.key, the sets' evaluator_type) -> its evaluator.
VIDEO_EVALUATORS: Dict[str, Type[VideoMaskEvaluator]] = {e.BENCHMARK: e for e in (DAVISEvaluator, YTVOSEvaluator)}


def build_video_evaluator(
    cfg, dataset_name: str, output_dir: Optional[str] = None, *, distributed: bool = True, write_only: bool = False
) -> VideoMaskEvaluator:
    """``from_config`` of the evaluator of the set's benchmark (vos_eval.benchmarks.benchmark_for its metadata
    ``layout``): DAVISEvaluator on a DAVIS set, YTVOSEvaluator on a YouTube-VOS one."""
    try:
        benchmark = benchmark_for(MetadataCatalog.get(dataset_name).get("layout"))
    except UnknownBenchmarkError:
        raise ValueError(f"dataset {dataset_name!r} has no DAVIS or YouTube-VOS layout in its metadata; video "
                         f"evaluators exist for {sorted(VIDEO_EVALUATORS)}") from None
    return VIDEO_EVALUATORS[benchmark.key].from_config(cfg, dataset_name, output_dir=output_dir,
                                                       distributed=distributed, write_only=write_only)
