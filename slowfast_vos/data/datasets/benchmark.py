"""The benchmark of a registered set: what every code path that differs between DAVIS and YouTube-VOS asks."""
from __future__ import annotations

from detectron2.data import DatasetCatalog, MetadataCatalog

from vos_eval.benchmarks import Benchmark, UnknownBenchmarkError, benchmark_for

__all__ = ["dataset_benchmark"]


def dataset_benchmark(dataset_name: str) -> Benchmark:
    """The benchmark (vos_eval.benchmarks) of a registered set, from its metadata ``layout``; a ValueError naming the
    set when it is not registered or is not a DAVIS or YouTube-VOS set."""
    if dataset_name not in DatasetCatalog.list():
        raise ValueError(f"dataset {dataset_name!r} is not registered")
    try:
        return benchmark_for(MetadataCatalog.get(dataset_name).get("layout"))
    except UnknownBenchmarkError:
        raise ValueError(f"dataset {dataset_name!r} is not a DAVIS or YouTube-VOS set (its metadata has no layout "
                         "of a known benchmark)") from None
