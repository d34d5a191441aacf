"""Several methods' results on one video set, scored by the project's evaluator and lined up per sequence and frame.

Each results folder is scored by the set's benchmark (:meth:`vos_eval.benchmarks.Benchmark.evaluate`: the numbers
of its CSV tables) on a DAVIS set or a YouTube-VOS set with every annotation (e.g. the held-out part of train).
On top of them this module derives what a side-by-side comparison needs: J&F per sequence and per frame (mean over
the objects scored there), J&F on every kind of frame of a tagged set (the one rule of :mod:`vos_eval.subsets`, so
clean and degraded are the numbers of results.json), and the frames where two methods differ most.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..benchmarks import Benchmark, UnknownBenchmarkError, benchmark_for
from ..davis_format import DAVISLayout, natural_sorted
from ..errors import VOSFormatError, VOSNotFoundError
from ..frame_tags import FRAME_KINDS, FrameTags, FrameTagsError, frame_kinds, load_frame_tags
from ..run_folder import RunFolder
from ..scoring import VOSResults
from ..subsets import frame_kind_metrics
from ..tracking_metrics import object_tracking
from ..ytvos_format import YTVOSLayout

__all__ = ["ComparisonError", "Comparison", "Layout", "MethodScores", "compare_methods", "describe_layout",
           "resolve_results_dir"]

# The sets a comparison scores on: DAVIS, or YouTube-VOS with every annotation (train, its held-out part).
Layout = Union[DAVISLayout, YTVOSLayout]


class ComparisonError(ValueError):
    """Results that cannot be compared (a folder missing sequences or frames, bad names); names the folder."""


def resolve_results_dir(path: str, dataset: Optional[str] = None) -> str:
    """The folder of ``<sequence>/<frame>.png`` that ``path`` stands for (:meth:`vos_eval.run_folder.RunFolder.
    find_results_dir`): a results folder itself, an OSVOS output folder or a training run's OUTPUT_DIR
    (``dataset`` picks one where it evaluated several)."""
    try:
        return RunFolder(path).find_results_dir(dataset)
    except VOSNotFoundError as e:
        raise ComparisonError(str(e)) from e


@dataclass
class MethodScores:
    """One method's scored results: the evaluator's tables and per-frame values, and J&F per frame kind."""

    name: str
    results_dir: str
    results: VOSResults
    kinds: Dict[str, Dict[str, float]] = field(default_factory=dict)

    @cached_property
    def sequence_scores(self) -> Dict[str, Tuple[float, float, float]]:
        """(J&F, J, F) of every sequence: the evaluator's per-object J-Mean and F-Mean averaged over its objects."""
        grouped: Dict[str, List[Tuple[float, float]]] = {}
        for name, j_mean, f_mean in self.results.per_sequence:
            grouped.setdefault(self.results.frames[name][0], []).append((j_mean, f_mean))
        out = {}
        for sequence, values in grouped.items():
            j, f = (float(np.mean(v)) for v in zip(*values))
            out[sequence] = ((j + f) / 2, j, f)
        return out

    @cached_property
    def lost_frames(self) -> Dict[str, set]:
        """Per sequence, the frames where the method has lost one of its objects (J < LOSS_J where the ground truth
        shows it; vos_eval.tracking_metrics)."""
        out: Dict[str, set] = {}
        for name, (sequence, frames) in self.results.frames.items():
            lost = object_tracking(self.results.per_frame[name][0], self.results.presence[name])["lost_frames"]
            out.setdefault(sequence, set()).update(frames[t] for t in lost)
        return out

    @cached_property
    def frame_scores(self) -> Dict[str, Dict[str, float]]:
        """J&F of every scored frame of every sequence: (J + F) / 2 averaged over the objects scored on it
        (YouTube-VOS objects are scored from their first appearance on, so they may cover different frames)."""
        grouped: Dict[str, Dict[str, List[float]]] = {}
        for name, (sequence, frames) in self.results.frames.items():
            j, f = self.results.per_frame[name]
            per_frame = grouped.setdefault(sequence, {})
            for frame, jj, ff in zip(frames, j, f):
                per_frame.setdefault(frame, []).append((float(jj) + float(ff)) / 2)
        return {sequence: {frame: float(np.nanmean(v)) for frame, v in per_frame.items()}
                for sequence, per_frame in grouped.items()}


@dataclass
class Comparison:
    """Methods scored on the same sequences and frames, with each scored frame's kinds (empty without tags)."""

    layout: Layout
    task: str
    methods: List[MethodScores]
    sequences: List[str]
    frames: Dict[str, List[str]]
    frame_kinds: Dict[str, Dict[str, List[str]]]
    tags_file: Optional[str] = None

    @property
    def kinds(self) -> List[str]:
        """The frame kinds scored on this set (FRAME_KINDS order, ``all`` left out; none without tags)."""
        return list(self.methods[0].kinds)

    @property
    def benchmark(self) -> Benchmark:
        """The set's benchmark (vos_eval.benchmarks)."""
        return benchmark_for(self.layout)

    def frame_jf(self, method: MethodScores, sequence: str) -> np.ndarray:
        """A method's J&F on each of ``frames[sequence]`` (NaN where it scores no object)."""
        scores = method.frame_scores[sequence]
        return np.array([scores.get(frame, np.nan) for frame in self.frames[sequence]], dtype=float)

    def difference(self) -> Dict[str, float]:
        """Per sequence, J&F of the second method minus J&F of the first (0 with a single method)."""
        scores = [m.sequence_scores for m in self.methods[:2]]
        if len(scores) < 2:
            return {s: 0.0 for s in self.sequences}
        return {s: scores[1][s][0] - scores[0][s][0] for s in self.sequences}

    def sequences_by_difference(self) -> List[str]:
        """The sequences from where the second method gains most over the first to where it loses most."""
        diff = self.difference()
        return sorted(self.sequences, key=lambda s: (-diff[s], s))

    def differing_frames(self, sequence: str, count: int) -> List[int]:
        """Indices (into ``frames[sequence]``, ascending) of the ``count`` frames where the first two methods'
        J&F differ most; frames where they agree are never picked."""
        if len(self.methods) < 2 or count <= 0:
            return []
        a, b = (self.frame_jf(m, sequence) for m in self.methods[:2])
        gap = np.nan_to_num(np.abs(b - a), nan=0.0)
        order = [int(i) for i in np.argsort(-gap, kind="stable") if gap[i] > 0]
        return sorted(order[:count])


def _tagged_kinds(tags: FrameTags, tags_file: str, frames: Dict[str, List[str]]) -> Dict[str, Dict[str, List[str]]]:
    """Every scored frame's kinds from the tags; a scored frame the file does not tag is an error naming both."""
    out: Dict[str, Dict[str, List[str]]] = {}
    for sequence, names in frames.items():
        for frame in names:
            if frame not in tags.get(sequence, {}):
                raise ComparisonError(f"frame tags file {tags_file} has no entry for {sequence}/{frame}")
        out[sequence] = {frame: frame_kinds(tags, sequence, frame) for frame in names}
    return out


def describe_layout(layout: Layout) -> str:
    """The set in words for a report header, e.g. "DAVIS 2016 val" or "YouTube-VOS train"."""
    return benchmark_for(layout).describe(layout)


def compare_methods(
    layout: Layout,
    results_dirs: Sequence[str],
    names: Sequence[str],
    task: Optional[str] = None,
    *,
    frame_tags: Optional[str] = None,
    sequences: Optional[Sequence[str]] = None,
    workers: int = 0,
    progress: bool = False,
) -> Comparison:
    """Score every results folder on one set with the project's evaluator and line the methods up.

    ``layout``: a DAVISLayout (e.g. ``DAVISLayout.find(root, split)``) or a YTVOSLayout of a split with every
    annotation. ``task`` defaults to ``davis2016`` on a DAVIS 2016 layout (its only protocol) and to
    ``semi-supervised`` on YouTube-VOS; it must be given on a DAVIS 2017 one. ``sequences``: default every sequence
    of the set. ``frame_tags``: a frame_tags.json whose kinds (clean, degraded, border, inner, occluded) are
    reported. A results folder that lacks sequences or frames is a ComparisonError naming the folder and the method.
    """
    if len(results_dirs) != len(names):
        raise ComparisonError(f"{len(results_dirs)} results folders but {len(names)} names")
    if not results_dirs:
        raise ComparisonError("no results folder to compare")
    if len(set(names)) != len(names):
        raise ComparisonError(f"method names must differ, got {list(names)}")
    try:
        benchmark = benchmark_for(layout)
    except UnknownBenchmarkError as e:
        raise ComparisonError(str(e)) from e
    if task is None and benchmark.task_needed:
        raise ComparisonError(f"{layout.root} is a {benchmark.title} layout: name the protocol (task, --task)")
    task = task or benchmark.default_task(layout)
    try:
        sequences = list(sequences or benchmark.sequences(layout))
        tags = load_frame_tags(frame_tags) if frame_tags else None
    except (VOSFormatError, FrameTagsError) as e:
        raise ComparisonError(str(e)) from e
    for name, folder in zip(names, results_dirs):
        if not os.path.isdir(folder):
            raise ComparisonError(f"results folder {folder} ({name}) not found")
        missing = [s for s in sequences if not os.path.isdir(os.path.join(folder, s))]
        if missing:
            raise ComparisonError(
                f"results folder {folder} ({name}) lacks {len(missing)} of the {len(sequences)} sequences of "
                f"{describe_layout(layout)} ({layout.root}): {missing[:10]}{' ...' if len(missing) > 10 else ''}"
            )
    methods = []
    for name, folder in zip(names, results_dirs):
        try:
            results = benchmark.evaluate(layout, folder, task, sequences=sequences, workers=workers,
                                         progress=progress, write_csvs=False)
        except VOSFormatError as e:
            raise ComparisonError(f"results folder {folder} ({name}): {e}") from e
        methods.append(MethodScores(name, folder, results))
    union: Dict[str, set] = {}
    for sequence, names_ in methods[0].results.frames.values():
        union.setdefault(sequence, set()).update(names_)
    frames = {sequence: natural_sorted(names_) for sequence, names_ in union.items()}
    kinds = _tagged_kinds(tags, frame_tags, frames) if tags is not None else {}
    for method in methods if tags is not None else ():
        # One rule for every kind (vos_eval.subsets): clean and degraded are the numbers results.json holds.
        scores = frame_kind_metrics(method.results, tags)
        method.kinds = {kind: scores[kind] for kind in FRAME_KINDS[1:] if kind in scores}
    return Comparison(layout, task, methods, [s for s in sequences if s in frames], frames, kinds, frame_tags)
