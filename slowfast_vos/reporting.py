"""Comparison reports on a registered set: the Detectron2 layer over the torch-free :mod:`vos_eval.reporting`.

A registered DAVIS or YouTube-VOS set (e.g. ``synthetic_davis2016_val``, ``ytvos2019_train_holdout``) is known only
through Detectron2's catalogs; this module reads its layout, task, sequences and frame tags there and hands them to
:func:`vos_eval.reporting.write_comparison_report`, which does the scoring and the writing.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

from vos_eval.benchmarks import UnknownBenchmarkError, benchmark_for
from vos_eval.errors import VOSFormatError
from vos_eval.reporting import AUTO, ComparisonError, Layout
from vos_eval.reporting import write_comparison_report as write_report

__all__ = ["registered_set", "write_comparison_report"]


def registered_set(name: str) -> Tuple[Layout, Optional[str], List[str], Optional[str]]:
    """(layout, task, sequences, frame tags file or None) of a registered DAVIS or YouTube-VOS set, e.g.
    ``synthetic_davis2016_val`` or ``ytvos2019_train_holdout``."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    if name not in DatasetCatalog.list():
        raise ComparisonError(f"dataset {name!r} is not registered")
    meta = MetadataCatalog.get(name)
    layout = getattr(meta, "layout", None)
    try:
        benchmark_for(layout)
    except UnknownBenchmarkError:
        raise ComparisonError(f"dataset {name!r} is not a DAVIS or YouTube-VOS set (its metadata has no layout)"
                              ) from None
    try:
        sequences = list(meta.sequences)
    except (VOSFormatError, OSError, ValueError) as e:
        raise ComparisonError(f"dataset {name!r}: {e}") from e
    return layout, getattr(meta, "task", None), sequences, getattr(meta, "frame_tags", None)


def write_comparison_report(
    davis_root: Optional[str],
    results_dirs: Sequence[str],
    names: Sequence[str],
    output: str,
    *,
    dataset: Optional[str] = None,
    task: Optional[str] = None,
    sequences: Optional[Sequence[str]] = None,
    frame_tags: Optional[str] = AUTO,
    **options,
) -> str:
    """:func:`vos_eval.reporting.write_comparison_report`, where with ``davis_root`` None the set is the registered
    set ``dataset`` (its task, sequences and frame tags are the defaults); ``options`` are passed on. Returns the
    path of index.html."""
    if davis_root is None and dataset is not None:
        layout, registered_task, registered_sequences, registered_tags = registered_set(dataset)
        task, sequences = task or registered_task, sequences or registered_sequences
        if frame_tags == AUTO:
            frame_tags = registered_tags if registered_tags and os.path.isfile(registered_tags) else None
        options["layout"] = layout
    return write_report(davis_root, results_dirs, names, output, dataset=dataset, task=task, sequences=sequences,
                        frame_tags=frame_tags, **options)
