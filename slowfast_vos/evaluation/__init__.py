"""DAVIS J&F metrics, the DAVIS and YouTube-VOS DatasetEvaluators and a command-line evaluator
(``python -m slowfast_vos.evaluation``).

Names are imported on first use (PEP 562): the command-line evaluator scores PNG folders with numpy, OpenCV and
SciPy, and its process never imports torch or Detectron2 (only ``DAVISEvaluator`` and its helpers need them).
"""
from ..utils.lazy import lazy_exports

# Public name -> submodule that defines it.
_EXPORTS = {
    "DAVISEvaluator": ".davis_evaluator",
    "InstanceTracker": ".davis_evaluator",
    "boundary_radius": ".metrics",
    "db_statistics": ".metrics",
    "decay_bin_indices": ".metrics",
    "dilate": ".metrics",
    "disk": ".metrics",
    "f_measure": ".metrics",
    "jaccard": ".metrics",
    "pairwise_jf": ".metrics",
    "seg2bmap": ".metrics",
    "evaluate_official": ".official",
    "official_available": ".official",
    "GLOBAL_COLUMNS": ".protocols",
    "SEQUENCE_COLUMNS": ".protocols",
    "TASKS": ".protocols",
    "DAVISEvaluationError": ".protocols",
    "DAVISResults": ".protocols",
    "evaluate_davis": ".protocols",
    "YTVOSEvaluator": ".ytvos",
    "check_submission": ".ytvos",
    "evaluate_ytvos": ".ytvos",
    "write_submission_zip": ".ytvos",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
