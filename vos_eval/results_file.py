"""The ``results.json`` schema, defined once: written by the trainer's evaluation and OSVOS, read by the tools.

Version 2 (this one) keys the J&F table by the benchmark it belongs to (``"davis"`` or ``"ytvos"``, the set's
``evaluator_type``)::

    {"version": 2,
     "dataset": "davis2016_val",
     "davis": {"J&F-Mean": ..., "J-Mean": ..., "J-Recall": ..., "J-Decay": ..., "F-Mean": ..., "F-Recall": ...,
               "F-Decay": ...},                                       # the benchmark's [0, 1] scale
     "davis_<subset>": {"J&F-Mean": ..., "J-Mean": ..., "F-Mean": ..., "frames": ...},  # sets with frame tags
     "timing": {"eval_time_s": ..., "frames": ..., "frames_per_s": ...},   # train_net evaluations
     "params": {"total": ..., "trainable": ..., "slowfast": ...},           # train_net evaluations
     "tracking": {"objects": ..., "frames_lost": ..., "losses": ..., ...},  # vos_eval.tracking_metrics
     "sequences": 30}                                                      # OSVOS: sequences scored

"tracking" (losses, recoveries, reappearances, id switches; TRACKING_KEYS) is an optional part added within
version 2: files without it are read as before.

Version 1 (files without "version") held every set's table under "davis", YouTube-VOS sets' too; such files are
read as DAVIS results.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence

from .benchmarks import BENCHMARKS as ALL_BENCHMARKS
from .benchmarks import DAVIS2017
from .io import write_json_atomic
from .run_folder import RESULTS_FILE
from .scoring import GLOBAL_COLUMNS
from .tracking_metrics import TRACKING_KEYS

__all__ = ["BENCHMARKS", "RESULTS_FILE", "RESULTS_VERSION", "EvaluationResults", "ResultsFileError", "subset_key"]

RESULTS_VERSION = 2
# The benchmark families a J&F table can belong to (vos_eval.benchmarks keys: the key it is written under; the
# logged metrics' prefix).
BENCHMARKS = tuple(dict.fromkeys(b.key for b in ALL_BENCHMARKS.values()))
SUBSET_KEYS = ("J&F-Mean", "J-Mean", "F-Mean")
# The keys of each optional part; the first one must be there when the part is, the others are checked if present.
TIMING_KEYS = ("eval_time_s", "frames", "frames_per_s")
PARAMS_KEYS = ("total", "trainable", "slowfast")


def subset_key(benchmark: str, subset: str) -> str:
    """The key of a frame subset's scores (e.g. "davis_clean"), in the evaluator's results and in the file."""
    return f"{benchmark}_{subset}"


class ResultsFileError(ValueError):
    """A results.json that is missing, unreadable or not of the schema; the message names the file and key."""


def _value(data: Mapping[str, Any], dotted: str, path: str, integer: bool = False) -> float:
    """The number at a dotted key, or a ResultsFileError naming the file and key."""
    value: Any = data
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            raise ResultsFileError(f"{path}: missing key {dotted!r}")
        value = value[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ResultsFileError(f"{path}: {dotted!r} should be {'an integer' if integer else 'a number'}, got {value!r}")
    return value


@dataclass
class EvaluationResults:
    """One evaluation's results.json: the set, its J&F table and the benchmark it belongs to, J&F on frame subsets
    (sets with frame tags) and, depending on who wrote it, timing, parameter counts (train_net) or the number of
    sequences (OSVOS)."""

    dataset: str
    metrics: Dict[str, float]
    benchmark: str = "davis"
    timing: Optional[Dict[str, float]] = None
    params: Optional[Dict[str, int]] = None
    sequences: Optional[int] = None
    subsets: Dict[str, Dict[str, float]] = field(default_factory=dict)
    tracking: Optional[Dict[str, float]] = None

    def __post_init__(self):
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {self.benchmark!r}")

    @property
    def davis(self) -> Dict[str, float]:
        """The J&F table of a DAVIS set (a ResultsFileError for another benchmark's results)."""
        if self.benchmark != DAVIS2017.key:
            raise ResultsFileError(f"results of {self.dataset} are {self.benchmark} results, not DAVIS results")
        return self.metrics

    @classmethod
    def from_evaluation(
        cls, dataset: str, results: Mapping[str, Any], params: Optional[Dict[str, int]] = None
    ) -> "EvaluationResults":
        """From what ``inference_on_videos`` returns for a video evaluator (<benchmark>, <benchmark>_<subset>,
        timing)."""
        benchmark = _benchmark_of(results, f"the results of {dataset}")
        prefix = subset_key(benchmark, "")
        subsets = {k[len(prefix):]: dict(v) for k, v in results.items() if k.startswith(prefix)}
        return cls(dataset, dict(results[benchmark]), benchmark, results.get("timing"), params, subsets=subsets,
                   tracking=results.get("tracking"))

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object (entries that are None left out)."""
        payload: Dict[str, Any] = {"version": RESULTS_VERSION, "dataset": self.dataset,
                                   self.benchmark: {k: self.metrics[k] for k in GLOBAL_COLUMNS}}
        payload.update({subset_key(self.benchmark, name): scores for name, scores in self.subsets.items()})
        for key in ("timing", "params", "sequences", "tracking"):
            if getattr(self, key) is not None:
                payload[key] = getattr(self, key)
        return payload

    def write(self, path: str) -> None:
        """Write the file atomically."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def read(cls, path: str, require: Sequence[str] = ()) -> "EvaluationResults":
        """Read and check a results.json of any version; ``require`` names the optional parts that must be there
        ("timing", "params", "sequences")."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError as e:
            raise ResultsFileError(f"results file not found: {path}") from e
        except (OSError, ValueError) as e:
            raise ResultsFileError(f"cannot read results file {path}: {e}") from e
        if not isinstance(data, dict):
            raise ResultsFileError(f"{path}: expected a JSON object, got {type(data).__name__}")
        version = data.get("version", 1)
        if version not in (1, RESULTS_VERSION):
            raise ResultsFileError(f"{path}: results schema version {version!r}; this release reads 1 and "
                                   f"{RESULTS_VERSION}")
        benchmark = "davis" if version == 1 else _benchmark_of(data, path)
        metrics = {key: _value(data, f"{benchmark}.{key}", path) for key in GLOBAL_COLUMNS}
        parts: Dict[str, Any] = {}
        for part, keys, integer in (("timing", TIMING_KEYS, False), ("params", PARAMS_KEYS, True),
                                    ("tracking", TRACKING_KEYS, False)):
            if part in require or part in data:
                present = [k for k in keys[1:] if isinstance(data.get(part), Mapping) and k in data[part]]
                parts[part] = {k: _value(data, f"{part}.{k}", path, integer) for k in (keys[0], *present)}
        if "sequences" in require or "sequences" in data:
            parts["sequences"] = _value(data, "sequences", path, integer=True)
        prefix = subset_key(benchmark, "")
        subsets = {}
        for key in (k for k in data if k.startswith(prefix)):
            subsets[key[len(prefix):]] = {k: _value(data, f"{key}.{k}", path) for k in SUBSET_KEYS}
            if isinstance(data[key], Mapping) and "frames" in data[key]:  # the subset's scored frames (optional)
                subsets[key[len(prefix):]]["frames"] = _value(data, f"{key}.frames", path, integer=True)
        return cls(str(data.get("dataset", "?")), metrics, benchmark, subsets=subsets, **parts)


def _benchmark_of(results: Mapping[str, Any], where: str) -> str:
    """The one benchmark key (BENCHMARKS) a results mapping holds its J&F table under."""
    found = [b for b in BENCHMARKS if b in results]
    if len(found) != 1:
        raise ResultsFileError(f"{where}: expected the J&F table under one of the keys {BENCHMARKS}, found "
                               f"{found or 'none'}")
    return found[0]
