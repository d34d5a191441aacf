"""Training batches of K neighbouring target frames of one video (DATALOADER.NEIGHBOR_TARGETS).

The K targets of a group are consecutive frames of one sequence mapped with ONE augmentation draw
(``ClipDatasetMapper.map_group``), so their n-frame windows overlap and share frame tensors and clip keys: the model
runs the (frozen) backbone once per distinct frame, K + n - 1 passes instead of K x n, and the SlowFast module
computes each shared time step once. Videos and positions stay random: a group's sequence is drawn with probability
proportional to its number of frames and its start uniformly among the positions where K consecutive frames exist.
"""
from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Optional, Sequence

import torch
from detectron2.data import get_detection_dataset_dicts
from detectron2.data.build import build_batch_data_loader
from detectron2.data.common import DatasetFromList
from detectron2.utils import comm
from torch.utils.data import Dataset, Sampler

__all__ = ["NeighborGroupDataset", "NeighborGroupSampler", "build_neighbor_train_loader", "flatten_groups"]

logger = logging.getLogger(__name__)


class NeighborGroupSampler(Sampler):
    """Infinite stream of groups of K dataset indices: K consecutive frames of one randomly drawn sequence.

    Seeding follows Detectron2's TrainingSampler: one seed shared by all ranks (``comm.shared_random_seed()`` when
    None), and rank r keeps groups r, r + world_size, ... of the common stream, so ranks get different groups.
    """

    def __init__(
        self,
        dataset_dicts: Sequence[Dict[str, Any]],
        group_size: int,
        seed: Optional[int] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
    ):
        """``dataset_dicts`` are frame records (``sequence``, ``frame_index``); ``group_size`` is K."""
        if not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < 1:
            raise ValueError(f"DATALOADER.NEIGHBOR_TARGETS must be a positive int, got {group_size!r}.")
        self.group_size = group_size
        sequences: "OrderedDict[str, List[tuple]]" = OrderedDict()
        for idx, record in enumerate(dataset_dicts):
            sequences.setdefault(record["sequence"], []).append((record["frame_index"], idx))
        # For each usable sequence: its records in video order and the positions starting K consecutive frames.
        self._records: List[List[int]] = []
        self._starts: List[List[int]] = []
        weights = []
        for name, frames in sequences.items():
            frames.sort()
            indices = [f for f, _ in frames]
            if len(set(indices)) != len(indices):
                raise ValueError(f"Sequence {name!r} has several records with the same frame_index.")
            starts = [i for i in range(len(frames) - group_size + 1)
                      if indices[i + group_size - 1] - indices[i] == group_size - 1]
            if not starts:
                logger.warning(f"NeighborGroupSampler: sequence {name!r} has no {group_size} consecutive frames "
                               f"(DATALOADER.NEIGHBOR_TARGETS); it is never sampled.")
                continue
            self._records.append([idx for _, idx in frames])
            self._starts.append(starts)
            weights.append(float(len(frames)))
        if not weights:
            raise ValueError(f"No training sequence has DATALOADER.NEIGHBOR_TARGETS = {group_size} consecutive "
                             f"frames with records.")
        self._weights = torch.tensor(weights, dtype=torch.float64)
        self._seed = int(comm.shared_random_seed() if seed is None else seed)
        self._rank = comm.get_rank() if rank is None else rank
        self._world_size = comm.get_world_size() if world_size is None else world_size

    def __iter__(self) -> Iterator[List[int]]:
        yield from itertools.islice(self._infinite_groups(), self._rank, None, self._world_size)

    def _infinite_groups(self) -> Iterator[List[int]]:
        """The stream shared by all ranks: sequence ~ number of frames, then a uniform valid start."""
        g = torch.Generator()
        g.manual_seed(self._seed)
        num_starts = torch.tensor([len(s) for s in self._starts], dtype=torch.float64)
        while True:
            seqs = torch.multinomial(self._weights, 1024, replacement=True, generator=g)
            picks = (torch.rand(1024, generator=g, dtype=torch.float64) * num_starts[seqs]).long()
            for seq, pick in zip(seqs.tolist(), picks.tolist()):
                start = self._starts[seq][pick]
                yield self._records[seq][start:start + self.group_size]


class NeighborGroupDataset(Dataset):
    """Maps a group of dataset indices to its K model inputs with one augmentation draw (``mapper.map_group``)."""

    def __init__(self, dataset_dicts: Sequence[Dict[str, Any]], mapper):
        """``mapper`` is a ClipDatasetMapper (anything with ``map_group(records) -> list[dict]``)."""
        self._dicts = DatasetFromList(list(dataset_dicts), copy=False)
        self._mapper = mapper

    def __len__(self) -> int:
        return len(self._dicts)

    def __getitem__(self, group: Sequence[int]) -> List[dict]:
        return self._mapper.map_group([self._dicts[i] for i in group])


def flatten_groups(groups: List[List[dict]]) -> List[dict]:
    """Collate groups into one batch of model inputs (a group's K inputs stay adjacent)."""
    return [x for group in groups for x in group]


def build_neighbor_train_loader(cfg, mapper, dataset_dicts: Optional[Sequence[Dict[str, Any]]] = None):
    """Infinite loader of SOLVER.IMS_PER_BATCH targets (per all ranks) made of groups of DATALOADER.NEIGHBOR_TARGETS.

    ``dataset_dicts`` default to DATASETS.TRAIN as Detectron2's train loader loads them.
    """
    k, total = cfg.DATALOADER.NEIGHBOR_TARGETS, cfg.SOLVER.IMS_PER_BATCH
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"DATALOADER.NEIGHBOR_TARGETS must be a positive int, got {k!r}.")
    if total % k:
        raise ValueError(f"SOLVER.IMS_PER_BATCH ({total}) must be a multiple of DATALOADER.NEIGHBOR_TARGETS ({k}).")
    groups, world = total // k, comm.get_world_size()
    if groups % world:
        raise ValueError(f"SOLVER.IMS_PER_BATCH / DATALOADER.NEIGHBOR_TARGETS = {groups} groups per iteration "
                         f"cannot be split over {world} processes.")
    if dataset_dicts is None:
        dataset_dicts = get_detection_dataset_dicts(
            cfg.DATASETS.TRAIN, filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS
        )
    sampler = NeighborGroupSampler(dataset_dicts, k)
    logger.info(f"Training batches: {groups} group(s) of {k} neighbouring targets per iteration over all ranks")
    return build_batch_data_loader(
        NeighborGroupDataset(dataset_dicts, mapper),
        sampler,
        groups,
        aspect_ratio_grouping=False,  # a group is one sequence (one size); groups pad together like any batch
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        collate_fn=flatten_groups,
    )
