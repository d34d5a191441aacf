"""The video evaluator of a registered set, chosen by its metadata ``evaluator_type`` (the set's benchmark)."""
from __future__ import annotations

from typing import Dict, Optional, Type

from detectron2.data import MetadataCatalog

from .davis_evaluator import DAVISEvaluator
from .video_evaluator import VideoMaskEvaluator
from .ytvos_evaluator import YTVOSEvaluator

__all__ = ["VIDEO_EVALUATORS", "build_video_evaluator"]

# evaluator_type (the benchmark) -> its evaluator.
VIDEO_EVALUATORS: Dict[str, Type[VideoMaskEvaluator]] = {e.BENCHMARK: e for e in (DAVISEvaluator, YTVOSEvaluator)}


def build_video_evaluator(
    cfg, dataset_name: str, output_dir: Optional[str] = None, *, distributed: bool = True, write_only: bool = False
) -> VideoMaskEvaluator:
    """``from_config`` of the set's evaluator: YTVOSEvaluator for evaluator_type "ytvos", DAVISEvaluator for "davis"
    (and for a set registered without an evaluator_type)."""
    benchmark = MetadataCatalog.get(dataset_name).get("evaluator_type", DAVISEvaluator.BENCHMARK)
    if benchmark not in VIDEO_EVALUATORS:
        raise ValueError(f"dataset {dataset_name!r} has evaluator_type {benchmark!r}; video evaluators exist for "
                         f"{sorted(VIDEO_EVALUATORS)}")
    return VIDEO_EVALUATORS[benchmark].from_config(cfg, dataset_name, output_dir=output_dir, distributed=distributed,
                                                   write_only=write_only)
