"""DAVIS J&F metrics, the DAVIS DatasetEvaluator and a command-line evaluator (``python -m slowfast_vos.evaluation``)."""
from .davis_evaluator import DAVISEvaluator, InstanceTracker
from .metrics import (
    boundary_radius,
    db_statistics,
    decay_bin_indices,
    dilate,
    disk,
    f_measure,
    jaccard,
    pairwise_jf,
    seg2bmap,
)
from .official import evaluate_official, official_available
from .protocols import (
    GLOBAL_COLUMNS,
    SEQUENCE_COLUMNS,
    TASKS,
    DAVISEvaluationError,
    DAVISResults,
    evaluate_davis,
)

__all__ = [
    "DAVISEvaluationError",
    "DAVISEvaluator",
    "DAVISResults",
    "GLOBAL_COLUMNS",
    "InstanceTracker",
    "SEQUENCE_COLUMNS",
    "TASKS",
    "boundary_radius",
    "db_statistics",
    "decay_bin_indices",
    "dilate",
    "disk",
    "evaluate_davis",
    "evaluate_official",
    "f_measure",
    "jaccard",
    "official_available",
    "pairwise_jf",
    "seg2bmap",
]
