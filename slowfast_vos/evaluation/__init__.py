"""The DatasetEvaluators of DAVIS and YouTube-VOS sets (result PNGs, tracking, scoring through ``vos_eval``) and the
results.json schema."""
from .davis_evaluator import DAVISEvaluator, InstanceTracker
from .results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
from .ytvos import YTVOSEvaluator

__all__ = ["DAVISEvaluator", "EvaluationResults", "InstanceTracker", "RESULTS_FILE", "ResultsFileError",
           "YTVOSEvaluator"]
