"""The DatasetEvaluators of DAVIS and YouTube-VOS sets (result PNGs, tracking, scoring through ``vos_eval``) and the
results.json schema."""
from .build import VIDEO_EVALUATORS, build_video_evaluator
from .davis_evaluator import DAVISEvaluator
from .results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from .segmenter import VideoSegmenter
from .tracking import InstanceTracker, ReIDTracker
from .video_evaluator import VideoMaskEvaluator
from .ytvos_evaluator import YTVOSEvaluator

__all__ = ["DAVISEvaluator", "EvaluationResults", "InstanceTracker", "ReIDTracker", "RESULTS_FILE",
           "ResultsFileError", "VIDEO_EVALUATORS", "VideoMaskEvaluator", "VideoSegmenter", "YTVOSEvaluator",
           "build_video_evaluator"]
