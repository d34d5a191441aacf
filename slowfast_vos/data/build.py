"""The test-time data path: frame inputs of whole sequences, in video order, for ``inference_on_videos``."""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional

import torch
from detectron2.config import configurable
from detectron2.data import DatasetCatalog, DatasetFromList, build_detection_test_loader
from detectron2.utils import comm

from .clip_mapper import ClipDatasetMapper, iter_sequences
from .datasets import dataset_benchmark
from .datasets.ytvos import inference_records

__all__ = ["build_video_test_loader", "frames_to_segment"]

logger = logging.getLogger(__name__)


def _video_test_loader_from_config(cfg, dataset_name: str, mapper: Optional[Callable] = None) -> Dict[str, Any]:
    """The set's records (a YouTube-VOS set's frames per TEST.YTVOS.INFERENCE_FRAMES), the test-time frame mapper
    (no frame cache: each frame is decoded once) and DATALOADER.NUM_WORKERS."""
    if mapper is None:
        mapper = ClipDatasetMapper(cfg, is_train=False, frame_cache_size=0).frame_input
    return {
        "dataset": frames_to_segment(cfg, dataset_name, DatasetCatalog.get(dataset_name)),
        "mapper": mapper,
        "num_workers": cfg.DATALOADER.NUM_WORKERS,
    }


def frames_to_segment(cfg, dataset_name: str, records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The records of the frames a set's videos are segmented on, in video order: the set's own, or, for a benchmark
    whose sets may come with every 30 fps frame (YouTube-VOS), those TEST.YTVOS.INFERENCE_FRAMES picks."""
    if not dataset_benchmark(dataset_name).optional_all_frames:
        return list(records)
    mode = cfg.TEST.YTVOS.INFERENCE_FRAMES
    records = inference_records(records, mode)
    logger.info(f"{dataset_name}: segmenting {len(records)} frames (TEST.YTVOS.INFERENCE_FRAMES {mode!r})")
    return records


@configurable(from_config=_video_test_loader_from_config)
def build_video_test_loader(
    dataset: List[Dict[str, Any]], *, mapper: Callable[[Dict[str, Any]], dict], num_workers: int = 0
) -> torch.utils.data.DataLoader:
    """A loader of this process's share of whole sequences, each in video order, one frame input per batch.

    Like Detectron2's ``build_detection_test_loader`` (and built on it), but a temporal model needs every frame of a
    sequence in order in one process, so sequences, not frames, are split between processes (rank r takes sequences
    r, r + world, ...). One loader serves all the sequences, so its worker processes start once per evaluation.
    Called as ``build_video_test_loader(cfg, dataset_name)`` or with explicit ``dataset`` records and ``mapper``
    (a record -> model input callable, default ``ClipDatasetMapper(cfg, False).frame_input``).
    """
    sequences = list(iter_sequences(dataset))
    records = [r for _, group in sequences[comm.get_rank()::comm.get_world_size()] for r in group]
    # A process may get no sequence (more processes than sequences); Detectron2 cannot serialize an empty list.
    mine = DatasetFromList(records, copy=False, serialize=bool(records))
    return build_detection_test_loader(
        mine, mapper=mapper, sampler=torch.utils.data.SequentialSampler(records), num_workers=num_workers
    )
