"""One object per benchmark family (DAVIS 2016, DAVIS 2017, YouTube-VOS): its rules in one place.

A :class:`Benchmark` owns its protocols (``tasks``, :meth:`~Benchmark.default_task`), the masks its semi-supervised
protocol gives (:meth:`~Benchmark.given_objects`, :meth:`~Benchmark.given_masks`; the one given-mask strategy that
the evaluators and OSVOS share), the frames whose results must be written and the frames scored, its results
folder, the id-PNG policy of its annotations, and one :meth:`~Benchmark.evaluate` (layout, results, task). Callers
find the benchmark of a set with :func:`benchmark_for` (its layout) or :func:`get_benchmark` (its name) and
dispatch through it: no one else tests a layout's type or a benchmark's name. Imports neither torch nor
Detectron2.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Type

import numpy as np

from . import id_png
from .davis_format import (
    MASK_EXT,
    TASKS,
    DAVISFormatError,
    DAVISLayout,
    annotation_policy,
    natural_sorted,
    read_id_png,
)
from .errors import VOSFormatError
from .io import join_under
from .protocols import evaluate_davis, scored_frames
from .run_folder import DAVIS_RESULTS, YTVOS_RESULTS
from .scoring import VOSResults
from .ytvos import YTVOS_TASKS, evaluate_ytvos, required_frames, scored_objects
from .ytvos_format import YTVOSFormatError, YTVOSLayout, read_mask

__all__ = ["BENCHMARKS", "DAVIS2016", "DAVIS2017", "YOUTUBE_VOS", "Benchmark", "UnknownBenchmarkError",
           "benchmark_for", "get_benchmark"]

# Frame -> the ids of the objects whose masks are given on it (None: every object its annotation holds).
GivenObjects = Dict[str, Optional[Tuple[int, ...]]]


class UnknownBenchmarkError(ValueError):
    """A benchmark name, task or layout that no benchmark owns; the message names it and the known ones."""


class Benchmark:
    """The rules of one benchmark family; subclasses fill in the class attributes and the layout-specific methods.

    Attributes:
        name: the lookup name ("davis2016", "davis2017", "ytvos").
        key: the family's key: the sets' metadata ``evaluator_type``, the results.json key of the J&F table and the
            prefix of the logged metrics ("davis", "ytvos").
        title: for reports ("DAVIS 2016").
        tasks: the protocols its sets are scored under.
        task_needed: a scorer must name the protocol (no task follows from the layout alone).
        adaptation_tasks: the protocols under which a method may adapt to the given masks (OSVOS): DAVIS's first
            frame is annotated under every protocol (the reference fine-tunes on it for its binary DAVIS 2016
            scores too); YouTube-VOS gives masks only under semi-supervised.
        results_subdir: the folder of result PNGs in a run folder (:mod:`.run_folder`).
        annotation_policy: the id-PNG policy of its annotations (:mod:`.id_png`).
        single_object: each video has one object; every result is the union of the kept instances.
        optional_all_frames: its sets may come with every 30 fps frame beside the annotated ones
            (TEST.YTVOS.INFERENCE_FRAMES picks which are segmented).
        error: its format error class.
    """

    name: str
    key: str
    title: str
    tasks: Tuple[str, ...]
    task_needed: bool = False
    adaptation_tasks: Tuple[str, ...]
    results_subdir: str
    annotation_policy: str
    single_object: bool = False
    optional_all_frames: bool = False
    error: Type[VOSFormatError] = VOSFormatError

    def __repr__(self) -> str:
        return f"<Benchmark {self.name}>"

    def owns(self, layout: object) -> bool:
        """Whether ``layout`` is a set of this benchmark."""
        raise NotImplementedError

    def check_task(self, task: Optional[str], where: str = "task") -> str:
        """``task`` if it is one of the benchmark's protocols, else an UnknownBenchmarkError naming it and ``where``
        (e.g. the config key it came from)."""
        if task not in self.tasks:
            raise UnknownBenchmarkError(f"{where}: {self.title} task must be one of {self.tasks}, got {task!r}")
        return task

    def check_adaptation(self, task: str, where: str = "task") -> str:
        """``task`` if a method may adapt to the given masks under it, else an UnknownBenchmarkError naming it."""
        if task not in self.adaptation_tasks:
            raise UnknownBenchmarkError(f"OSVOS is semi-supervised; {where} is {task!r} ({self.title} gives masks "
                                        f"to adapt to under {', '.join(self.adaptation_tasks)})")
        return task

    def default_task(self, layout) -> str:
        """The protocol a set of this benchmark is scored under when none is named."""
        raise NotImplementedError

    def describe(self, layout) -> str:
        """The set in words, e.g. "DAVIS 2016 val" or "YouTube-VOS train"."""
        return f"{self.title} {layout.split}"

    def sequences(self, layout) -> List[str]:
        """Every sequence (video) of the set, in the set's order."""
        raise NotImplementedError

    def scorable(self, layout) -> bool:
        """Whether the set has the annotations to score results locally (else they go to a benchmark server)."""
        return True

    def annotation_path(self, layout, sequence: str, frame: str) -> str:
        """The annotation PNG of a sequence's frame."""
        return join_under(layout.annotation_dir, sequence, frame + MASK_EXT)

    def read_annotation(self, layout, sequence: str, frame: str) -> np.ndarray:
        """A frame's annotation as an id map (annotation_policy), errors in the benchmark's class naming the file."""
        return id_png.read_id_png(self.annotation_path(layout, sequence, frame), self.annotation_policy,
                                  error=self.error, what=f"{self.title} mask")

    def given_objects(self, layout, sequence: str) -> GivenObjects:
        """Under the semi-supervised protocol: the frames whose annotation is given, and the objects given on each
        (None: every object that frame's annotation holds)."""
        raise NotImplementedError

    def given_masks(self, layout, sequence: str) -> Dict[str, Dict[int, np.ndarray]]:
        """Frame -> {object id: (H, W) bool mask} of the masks the semi-supervised protocol gives (void is never an
        object)."""
        out: Dict[str, Dict[int, np.ndarray]] = {}
        for frame, objects in self.given_objects(layout, sequence).items():
            ids = self.read_annotation(layout, sequence, frame)
            if objects is None:
                objects = tuple(int(i) for i in np.unique(ids) if i not in (0, id_png.VOID_ID))
            out[frame] = {obj: ids == obj for obj in objects}
        return out

    def result_frames(self, layout, sequence: str, task: str) -> List[str]:
        """The frames whose result PNG a complete results folder must hold, in video order."""
        raise NotImplementedError

    def scored_frames(self, layout, sequence: str, task: str) -> List[str]:
        """The frames some object is scored on, in video order."""
        raise NotImplementedError

    def evaluate(self, layout, results: str, task: Optional[str] = None, *, sequences: Optional[Sequence[str]] = None,
                 workers: int = 0, output_dir: Optional[str] = None, write_csvs: bool = True, progress: bool = False,
                 split: Optional[str] = None, **options) -> VOSResults:
        """Score the results folder ``results`` (``<sequence>/<frame>.png``) on the set under ``task`` (default:
        :meth:`default_task`); write the CSV tables to ``output_dir`` (default ``results``) unless ``write_csvs``
        is False. ``sequences``: default all; ``split``: the tables' set name (default the layout's split);
        ``options``: the benchmark's own (DAVIS: ``void_mode``, ``annotation_dir``, ``max_proposals``, ...)."""
        raise NotImplementedError


class _DAVIS(Benchmark):
    key = "davis"
    tasks = TASKS
    adaptation_tasks = TASKS
    results_subdir = DAVIS_RESULTS
    error = DAVISFormatError
    year: str

    def owns(self, layout: object) -> bool:
        return isinstance(layout, DAVISLayout) and layout.year == self.year

    def sequences(self, layout) -> List[str]:
        return list(layout.sequences())

    def read_annotation(self, layout, sequence: str, frame: str) -> np.ndarray:
        return read_id_png(self.annotation_path(layout, sequence, frame), layout.year)

    def given_objects(self, layout, sequence: str) -> GivenObjects:
        """The first annotated frame, with every object it holds."""
        return {layout.annotation_frames(sequence)[0]: None}

    def result_frames(self, layout, sequence: str, task: str) -> List[str]:
        return scored_frames(layout.annotation_frames(sequence), self.check_task(task))

    def scored_frames(self, layout, sequence: str, task: str) -> List[str]:
        return self.result_frames(layout, sequence, task)

    def evaluate(self, layout, results: str, task: Optional[str] = None, *, sequences: Optional[Sequence[str]] = None,
                 workers: int = 0, output_dir: Optional[str] = None, write_csvs: bool = True, progress: bool = False,
                 split: Optional[str] = None, **options) -> VOSResults:
        return evaluate_davis(layout.root, results, task or self.default_task(layout), layout=layout,
                              sequences=sequences, workers=workers, output_dir=output_dir, write_csvs=write_csvs,
                              progress=progress, label=split, **options)


class _DAVIS2016(_DAVIS):
    """DAVIS 2016: one object per video, binary annotations, scored under the binary protocol by default."""

    name = "davis2016"
    title = "DAVIS 2016"
    year = "2016"
    annotation_policy = id_png.BINARY
    single_object = True

    def default_task(self, layout) -> str:
        return "davis2016"


class _DAVIS2017(_DAVIS):
    """DAVIS 2017: several objects per video (ids, 255 void); semi-supervised, or unsupervised on its
    Annotations_unsupervised folder."""

    name = "davis2017"
    title = "DAVIS 2017"
    year = "2017"
    annotation_policy = annotation_policy("2017")
    task_needed = True

    def default_task(self, layout) -> str:
        return "unsupervised" if layout.annotations == "Annotations_unsupervised" else "semi-supervised"


class _YouTubeVOS(Benchmark):
    """YouTube-VOS (2018, 2019): each object's mask is given on its first-appearance frame; the listed frames are
    written; each object is scored after its first appearance (:mod:`.ytvos`); valid is scored by the server."""

    name = "ytvos"
    key = "ytvos"
    title = "YouTube-VOS"
    tasks = YTVOS_TASKS
    adaptation_tasks = ("semi-supervised",)
    results_subdir = YTVOS_RESULTS
    annotation_policy = id_png.VOID
    optional_all_frames = True
    error = YTVOSFormatError

    def owns(self, layout: object) -> bool:
        return isinstance(layout, YTVOSLayout)

    def default_task(self, layout) -> str:
        return "semi-supervised"

    def sequences(self, layout) -> List[str]:
        return natural_sorted(layout.meta())

    def scorable(self, layout) -> bool:
        """Only train (and its held-out part) has every annotation; valid and test have first appearances only."""
        return layout.split == "train"

    def read_annotation(self, layout, sequence: str, frame: str) -> np.ndarray:
        return read_mask(self.annotation_path(layout, sequence, frame))

    def given_objects(self, layout, sequence: str) -> GivenObjects:
        """Each object's first-appearance frame, with only the objects that first appear there."""
        out: Dict[str, List[int]] = {}
        for obj, frame in layout.first_appearances(sequence).items():
            out.setdefault(frame, []).append(obj)
        return {frame: tuple(objects) for frame, objects in out.items()}

    def result_frames(self, layout, sequence: str, task: str) -> List[str]:
        objects = layout.meta().get(sequence)
        if objects is None:
            raise YTVOSFormatError(f"video {sequence!r} is not in {layout.meta_file}")
        return required_frames(objects)

    def scored_frames(self, layout, sequence: str, task: str) -> List[str]:
        return natural_sorted({f for _, frames in scored_objects(layout, sequence) for f in frames})

    def evaluate(self, layout, results: str, task: Optional[str] = None, *, sequences: Optional[Sequence[str]] = None,
                 workers: int = 0, output_dir: Optional[str] = None, write_csvs: bool = True, progress: bool = False,
                 split: Optional[str] = None, **options) -> VOSResults:
        return evaluate_ytvos(layout, results, task or self.default_task(layout), sequences=sequences,
                              workers=workers, output_dir=output_dir, split=split, write_csvs=write_csvs,
                              progress=progress, **options)


DAVIS2016 = _DAVIS2016()
DAVIS2017 = _DAVIS2017()
YOUTUBE_VOS = _YouTubeVOS()
# name -> benchmark: the one registry of benchmark rules.
BENCHMARKS: Dict[str, Benchmark] = {b.name: b for b in (DAVIS2016, DAVIS2017, YOUTUBE_VOS)}


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; an UnknownBenchmarkError naming it and the known ones."""
    if name not in BENCHMARKS:
        raise UnknownBenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def benchmark_for(layout: object) -> Benchmark:
    """The benchmark whose set ``layout`` is (a DAVISLayout of either year, a YTVOSLayout); an
    UnknownBenchmarkError naming what it got otherwise."""
    for benchmark in BENCHMARKS.values():
        if benchmark.owns(layout):
            return benchmark
    raise UnknownBenchmarkError(f"{layout!r} is not the layout of a known benchmark ({', '.join(BENCHMARKS)})")

