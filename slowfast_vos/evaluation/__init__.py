"""The DatasetEvaluators of DAVIS and YouTube-VOS sets (result PNGs, tracking, scoring through ``vos_eval``); the
results.json schema they write is ``vos_eval.results_file``."""
from .build import VIDEO_EVALUATORS, build_video_evaluator
from .davis_evaluator import DAVISEvaluator
from .segmenter import VideoSegmenter
from .tracking import InstanceTracker, ReIDTracker
from .video_evaluator import VideoMaskEvaluator
from .ytvos_evaluator import YTVOSEvaluator

__all__ = ["DAVISEvaluator", "InstanceTracker", "ReIDTracker", "VIDEO_EVALUATORS", "VideoMaskEvaluator",
           "VideoSegmenter", "YTVOSEvaluator", "build_video_evaluator"]
