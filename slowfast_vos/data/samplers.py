"""Training batches of K neighbouring target frames of one video (DATALOADER.NEIGHBOR_TARGETS).

The K targets of a group are consecutive frames of one sequence mapped with ONE augmentation draw
(``ClipDatasetMapper.map_group``), so their n-frame windows overlap and share frame tensors and clip keys: the model
runs the (frozen) backbone once per distinct frame, K + n - 1 passes instead of K x n, and the SlowFast module
computes each shared time step once. Videos and positions stay random: a group's sequence is drawn with probability
proportional to its number of frames and its start uniformly among the positions where K consecutive frames exist.
For YouTube-VOS, records are the annotated frames and ``frame_index`` counts them, so a group is K consecutive
ANNOTATED frames (5 frames apart at 30 fps); with all-frames windows (INPUT.YTVOS_WINDOW_FRAMES) their windows
overlap less.

Several training sets (DATASETS.TRAIN) can be mixed with DATASETS.TRAIN_WEIGHTS: a weight is the probability that a
group (K > 1, :class:`NeighborGroupSampler`) or a target (K = 1, :class:`WeightedDatasetSampler`) comes from that
set; inside a set, sampling is as without weights. :func:`load_train_datasets` loads each set separately and keeps
where each one's records are in the concatenation.
"""
from __future__ import annotations

import itertools
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence

import torch
from detectron2.data import get_detection_dataset_dicts
from detectron2.data.build import build_batch_data_loader
from detectron2.data.common import DatasetFromList
from detectron2.data.detection_utils import check_metadata_consistency
from detectron2.utils import comm
from torch.utils.data import Dataset, Sampler

__all__ = [
    "NeighborGroupDataset",
    "NeighborGroupSampler",
    "TrainDatasets",
    "WeightedDatasetSampler",
    "build_neighbor_train_loader",
    "dataset_weights",
    "flatten_groups",
    "load_train_datasets",
    "log_dataset_shares",
]

logger = logging.getLogger(__name__)


def dataset_weights(weights: Sequence[float], names: Sequence[str]) -> Optional[List[float]]:
    """DATASETS.TRAIN_WEIGHTS checked against DATASETS.TRAIN and normalised to sum 1; None when empty."""
    weights = list(weights)
    if not weights:
        return None
    if len(weights) != len(names):
        raise ValueError(f"DATASETS.TRAIN_WEIGHTS has {len(weights)} weight(s) {weights} for {len(names)} "
                         f"DATASETS.TRAIN set(s) {list(names)}: give one weight per set (or none)")
    checked = []
    for name, weight in zip(names, weights):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise ValueError(f"DATASETS.TRAIN_WEIGHTS: the weight of {name!r} must be a finite number, got {weight!r}")
        if weight < 0:
            raise ValueError(f"DATASETS.TRAIN_WEIGHTS: the weight of {name!r} is negative ({weight})")
        checked.append(float(weight))
    total = sum(checked)
    if total <= 0:
        raise ValueError(f"DATASETS.TRAIN_WEIGHTS {weights} sum to 0: at least one set needs a positive weight")
    return [w / total for w in checked]


def log_dataset_shares(what: str, names: Sequence[str], sizes: Sequence[int], shares: Sequence[float]) -> None:
    """Log each training set's size (``what``: its unit) and the share of the samples drawn from it."""
    rows = ", ".join(f"{name} ({size} {what}): {share:.3f}" for name, size, share in zip(names, sizes, shares))
    logger.info(f"Training sets, share of the sampled {'groups' if what != 'frames' else 'targets'}: {rows}")


@dataclass
class TrainDatasets:
    """The DATASETS.TRAIN records concatenated in order: set i is ``dicts[offsets[i]:offsets[i] + sizes[i]]``."""

    dicts: List[Dict[str, Any]]
    names: List[str]
    sizes: List[int]
    weights: Optional[List[float]]  # normalised DATASETS.TRAIN_WEIGHTS, None when empty

    @property
    def offsets(self) -> List[int]:
        return [0] + list(itertools.accumulate(self.sizes))[:-1]

    def dataset_of(self, index: int) -> int:
        """Which set the concatenated record ``index`` belongs to."""
        for i, (offset, size) in enumerate(zip(self.offsets, self.sizes)):
            if offset <= index < offset + size:
                return i
        raise IndexError(index)


def load_train_datasets(cfg) -> TrainDatasets:
    """Each DATASETS.TRAIN set loaded alone with Detectron2's get_detection_dataset_dicts (filtered as its train
    loader filters), concatenated in order; the weights checked (errors name DATASETS.TRAIN_WEIGHTS)."""
    names = list(cfg.DATASETS.TRAIN)
    if not names:
        raise ValueError("DATASETS.TRAIN is empty: name at least one training set")
    weights = dataset_weights(cfg.DATASETS.TRAIN_WEIGHTS, names)
    per_set = [get_detection_dataset_dicts([name], filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)
               for name in names]
    if len(names) > 1:
        try:  # what get_detection_dataset_dicts checks when it loads several sets together
            check_metadata_consistency("thing_classes", names)
        except AttributeError:
            pass
    return TrainDatasets([r for dicts in per_set for r in dicts], names, [len(d) for d in per_set], weights)


class WeightedDatasetSampler(Sampler):
    """Infinite stream of indices into concatenated sets: a set drawn with its weight, then one of its records
    uniformly. Seeding and rank striding as Detectron2's TrainingSampler: one seed shared by all ranks
    (``comm.shared_random_seed()`` when None), rank r keeps draws r, r + world_size, ... of the common stream."""

    def __init__(
        self,
        sizes: Sequence[int],
        weights: Sequence[float],
        seed: Optional[int] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
    ):
        """``sizes``: records per set, in concatenation order; ``weights``: one per set (normalised here)."""
        if len(sizes) != len(weights):
            raise ValueError(f"{len(weights)} weights for {len(sizes)} sets")
        if any(size < 1 for size in sizes):
            raise ValueError(f"every training set needs a record, got sizes {list(sizes)}")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
        self._sizes = torch.tensor(list(sizes), dtype=torch.float64)
        self._offsets = torch.tensor([0] + list(itertools.accumulate(sizes))[:-1], dtype=torch.int64)
        self._weights = torch.tensor([float(w) for w in weights], dtype=torch.float64)
        self._seed = int(comm.shared_random_seed() if seed is None else seed)
        self._rank = comm.get_rank() if rank is None else rank
        self._world_size = comm.get_world_size() if world_size is None else world_size

    def __iter__(self) -> Iterator[int]:
        yield from itertools.islice(self._infinite_indices(), self._rank, None, self._world_size)

    def _infinite_indices(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self._seed)
        while True:
            sets = torch.multinomial(self._weights, 1024, replacement=True, generator=g)
            within = (torch.rand(1024, generator=g, dtype=torch.float64) * self._sizes[sets]).long()
            yield from (self._offsets[sets] + within).tolist()


class NeighborGroupSampler(Sampler):
    """Infinite stream of groups of K dataset indices: K consecutive frames of one randomly drawn sequence.

    Seeding follows Detectron2's TrainingSampler: one seed shared by all ranks (``comm.shared_random_seed()`` when
    None), and rank r keeps groups r, r + world_size, ... of the common stream, so ranks get different groups.

    With ``dataset_sizes`` (records per set, the records being the sets concatenated in that order) and
    ``dataset_weights``, a group comes from set i with probability weight i, and inside the set as without weights.
    Sequences are told apart per set, so two sets may hold a sequence of the same name.
    """

    def __init__(
        self,
        dataset_dicts: Sequence[Dict[str, Any]],
        group_size: int,
        seed: Optional[int] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        dataset_sizes: Optional[Sequence[int]] = None,
        dataset_weights: Optional[Sequence[float]] = None,
        dataset_names: Optional[Sequence[str]] = None,
    ):
        """``dataset_dicts`` are frame records (``sequence``, ``frame_index``); ``group_size`` is K."""
        if not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < 1:
            raise ValueError(f"DATALOADER.NEIGHBOR_TARGETS must be a positive int, got {group_size!r}.")
        self.group_size = group_size
        sizes = [len(dataset_dicts)] if dataset_sizes is None else list(dataset_sizes)
        if sum(sizes) != len(dataset_dicts):
            raise ValueError(f"dataset_sizes {sizes} do not add up to the {len(dataset_dicts)} records")
        if dataset_weights is not None and len(dataset_weights) != len(sizes):
            raise ValueError(f"{len(dataset_weights)} dataset weights for {len(sizes)} sets")
        names = list(dataset_names) if dataset_names is not None else [f"set {i}" for i in range(len(sizes))]
        set_of = [i for i, size in enumerate(sizes) for _ in range(size)]
        sequences: "OrderedDict[tuple, List[tuple]]" = OrderedDict()
        for idx, record in enumerate(dataset_dicts):
            sequences.setdefault((set_of[idx], record["sequence"]), []).append((record["frame_index"], idx))
        # For each usable sequence: its records in video order and the positions starting K consecutive frames.
        self._records: List[List[int]] = []
        self._starts: List[List[int]] = []
        weights = []
        sequence_sets = []
        for (set_index, name), frames in sequences.items():
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
            sequence_sets.append(set_index)
        if not weights:
            raise ValueError(f"No training sequence has DATALOADER.NEIGHBOR_TARGETS = {group_size} consecutive "
                             f"frames with records.")
        frames_per_set = [sum(w for w, i in zip(weights, sequence_sets) if i == s) for s in range(len(sizes))]
        if dataset_weights is not None:
            for s, (name, weight) in enumerate(zip(names, dataset_weights)):
                if weight > 0 and frames_per_set[s] == 0:
                    raise ValueError(f"DATASETS.TRAIN_WEIGHTS gives {name!r} weight {weight} but none of its "
                                     f"sequences has DATALOADER.NEIGHBOR_TARGETS = {group_size} consecutive frames")
            total = float(sum(dataset_weights))
            # P(sequence) = P(its set) * its share of the set's frames in usable sequences.
            weights = [dataset_weights[s] / total * w / frames_per_set[s] if frames_per_set[s] else 0.0
                       for w, s in zip(weights, sequence_sets)]
        self._weights = torch.tensor(weights, dtype=torch.float64)
        set_mass = [float(self._weights[[i for i, s2 in enumerate(sequence_sets) if s2 == s]].sum())
                    for s in range(len(sizes))]
        self.dataset_shares = [m / sum(set_mass) for m in set_mass]
        if len(sizes) > 1:
            usable = [int(f) for f in frames_per_set]
            log_dataset_shares("frames in usable sequences", names, usable, self.dataset_shares)
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


def build_neighbor_train_loader(
    cfg,
    mapper,
    dataset_dicts: Optional[Sequence[Dict[str, Any]]] = None,
    datasets: Optional[TrainDatasets] = None,
):
    """Infinite loader of SOLVER.IMS_PER_BATCH targets (per all ranks) made of groups of DATALOADER.NEIGHBOR_TARGETS.

    ``datasets`` (default: :func:`load_train_datasets`, i.e. DATASETS.TRAIN as Detectron2's train loader filters
    them, with DATASETS.TRAIN_WEIGHTS) say which records come from which set; explicit ``dataset_dicts`` are one set.
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
    if dataset_dicts is not None:
        dataset_dicts = list(dataset_dicts)
        sampler = NeighborGroupSampler(dataset_dicts, k)
    else:
        datasets = datasets if datasets is not None else load_train_datasets(cfg)
        dataset_dicts = datasets.dicts
        sampler = NeighborGroupSampler(dataset_dicts, k, dataset_sizes=datasets.sizes,
                                       dataset_weights=datasets.weights, dataset_names=datasets.names)
    logger.info(f"Training batches: {groups} group(s) of {k} neighbouring targets per iteration over all ranks")
    return build_batch_data_loader(
        NeighborGroupDataset(dataset_dicts, mapper),
        sampler,
        groups,
        aspect_ratio_grouping=False,  # a group is one sequence (one size); groups pad together like any batch
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        collate_fn=flatten_groups,
    )
