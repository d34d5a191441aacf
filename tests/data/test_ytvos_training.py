"""Training on YouTube-VOS: sparse-annotation windows (INPUT.YTVOS_WINDOW_FRAMES), mixed training sets
with per-set sampling weights (DATASETS.TRAIN_WEIGHTS) for K = 1 and K > 1, the checks and the mixed quickstart."""
import collections
import itertools
import logging
import math
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import transforms as T
from PIL import Image
from tiny import TINY_TRAIN_OPTS, tiny_cfg

from helpers import REPO, load_tool, make_frame_records, synthetic_env
from slowfast_vos import add_slowfast_vos_config
from slowfast_vos.data import ClipDatasetMapper, load_davis
from slowfast_vos.data.clip_mapper import window_frames
from slowfast_vos.data.samplers import (
    NeighborGroupSampler,
    WeightedDatasetSampler,
    dataset_weights,
    load_train_datasets,
)
from slowfast_vos.engine.trainer import VOSTrainer, check_datasets

MIXED_CONFIG = REPO / "configs" / "quickstart" / "ytvos_mixed_slowfast_3-7.yaml"
def _load_ytvos(root: Path, split: str = "train"):
    from slowfast_vos.data.datasets.ytvos import load_ytvos

    return load_ytvos(str(root), "2019", split)


@pytest.fixture(scope="module")
def ytvos_records(ytvos_root):
    records = _load_ytvos(ytvos_root)
    assert all(r["all_frames"] is not None for r in records), "the synthetic set has train_all_frames"
    return records


@pytest.fixture(scope="module")
def ytvos_records_without_all_frames(ytvos_root, tmp_path_factory):
    """The same set with its train_all_frames folder removed: records with all_frames = None."""
    copy = tmp_path_factory.mktemp("ytvos_sparse") / "YouTube-VOS-synthetic"
    shutil.copytree(ytvos_root, copy)
    shutil.rmtree(copy / "train_all_frames")
    records = _load_ytvos(copy)
    assert records and all(r["all_frames"] is None for r in records)
    return records


@pytest.fixture(scope="module")
def davis_records(davis_root):
    return load_davis(str(davis_root), "2017", "train", use_cache=False)


def _mapper(mode, augmentations=(), num_frames=5, is_train=True):
    return ClipDatasetMapper(is_train, augmentations=list(augmentations), image_format="RGB", num_frames=num_frames,
                             frame_cache_size=32, ytvos_window_frames=mode)


def _raw(path):
    return np.asarray(Image.open(path).convert("RGB"))


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def _middle_record(records, margin):
    """A record of the first video with ``margin`` annotated frames on both sides."""
    video = records[0]["sequence"]
    mine = [r for r in records if r["sequence"] == video]
    assert len(mine) > 2 * margin, "the synthetic video is long enough for the windows tested"
    return mine[len(mine) // 2]


# ------------------------------------------------------------------------------------------------------------------
# Config keys
# ------------------------------------------------------------------------------------------------------------------
def test_config_defaults_and_the_mapper_reads_the_window_key():
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    assert cfg.INPUT.YTVOS_WINDOW_FRAMES == "annotated"
    assert list(cfg.DATASETS.TRAIN_WEIGHTS) == []
    assert ClipDatasetMapper(cfg, is_train=True).window_mode == "annotated"
    cfg.INPUT.YTVOS_WINDOW_FRAMES = "auto"
    assert ClipDatasetMapper(cfg, is_train=True).window_mode == "auto"
    cfg.INPUT.YTVOS_WINDOW_FRAMES = "every"
    with pytest.raises(ValueError, match="INPUT.YTVOS_WINDOW_FRAMES"):
        ClipDatasetMapper(cfg, is_train=True)
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.merge_from_list(["DATASETS.TRAIN_WEIGHTS", "[0.7, 0.3]"])
    assert list(cfg.DATASETS.TRAIN_WEIGHTS) == [0.7, 0.3]
    mixed = get_cfg()
    add_slowfast_vos_config(mixed)
    mixed.merge_from_file(str(MIXED_CONFIG))
    assert tuple(mixed.DATASETS.TRAIN) == ("synthetic_ytvos_train", "synthetic_davis2017_train")
    assert len(mixed.DATASETS.TRAIN_WEIGHTS) == 2 and tuple(mixed.DATASETS.TEST) == ("synthetic_davis2016_val",)
    assert mixed.INPUT.YTVOS_WINDOW_FRAMES == "auto"
    assert (mixed.MODEL.SLOWFAST.SLOW_FRAMES, mixed.MODEL.SLOWFAST.FAST_FRAMES) == (3, 7)


# ------------------------------------------------------------------------------------------------------------------
# Windows
# ------------------------------------------------------------------------------------------------------------------
def test_annotated_windows_take_the_annotated_frames(ytvos_records):
    record = _middle_record(ytvos_records, 2)
    out = _mapper("annotated")(record)
    i = record["frame_index"]
    for frame, key, path in zip(out["clip"], out["clip_keys"], record["sequence_frames"][i - 2:i + 3]):
        np.testing.assert_array_equal(frame.permute(1, 2, 0).numpy(), _raw(path))
        assert key[0] == path
    assert out["clip_keys"][2][0] == record["file_name"]
    numbers = [int(_stem(k[0])) for k in out["clip_keys"]]
    assert np.diff(numbers).tolist() == [5, 5, 5, 5]  # every 5th frame of the 30 fps video


def test_all_frames_windows_take_consecutive_frames_and_keep_the_annotated_target(ytvos_records):
    record = _middle_record(ytvos_records, 1)
    out = _mapper("all_frames")(record)
    a = record["all_frames_index"]
    assert _stem(record["all_frames"][a]) == record["frame_name"]
    annotated = {_stem(p): p for p in record["sequence_frames"]}
    for frame, key, path in zip(out["clip"], out["clip_keys"], record["all_frames"][a - 2:a + 3]):
        expected = annotated.get(_stem(path), path)  # an annotated frame is read from its own JPEG
        assert key[0] == expected
        np.testing.assert_array_equal(frame.permute(1, 2, 0).numpy(), _raw(expected))
    numbers = [int(_stem(k[0])) for k in out["clip_keys"]]
    assert np.diff(numbers).tolist() == [1, 1, 1, 1]  # the video's own frame rate
    assert out["clip_keys"][2][0] == record["file_name"] and "_all_frames" not in record["file_name"]
    assert sum("_all_frames" in k[0] for k in out["clip_keys"]) == 4  # the 4 neighbours are not annotated frames
    # The target, its masks and its record fields are those of the annotated frame in either mode.
    sparse = _mapper("annotated")(record)
    assert torch.equal(out["image"], sparse["image"]) and out["clip_keys"][2] == sparse["clip_keys"][2]
    torch.testing.assert_close(out["instances"].gt_masks.tensor, sparse["instances"].gt_masks.tensor)
    assert len(out["instances"]) == len(record["annotations"]) > 0
    assert out["frame_index"] == record["frame_index"] and out["file_name"] == record["file_name"]
    # Auto takes the all frames when the record has them.
    assert _mapper("auto")(record)["clip_keys"] == out["clip_keys"]


def test_video_borders_are_none_in_both_modes(ytvos_records):
    first = ytvos_records[0]
    assert first["frame_index"] == 0 and first["all_frames_index"] == 0
    for mode in ("annotated", "all_frames"):
        out = _mapper(mode)(first)
        assert out["clip"][:2] == [None, None] and out["clip_keys"][:2] == [None, None]
        assert all(k is not None for k in out["clip_keys"][2:])


def test_davis_records_give_the_same_windows_in_every_mode(davis_records):
    record = davis_records[3]
    assert "all_frames" not in record
    reference = _mapper("annotated", [T.RandomFlip(prob=1.0)])(record)
    for mode in ("all_frames", "auto"):
        mapper = _mapper(mode, [T.RandomFlip(prob=1.0)])
        out = mapper(record)
        assert out["clip_keys"] == reference["clip_keys"]
        assert all(torch.equal(x, y) for x, y in zip(out["clip"], reference["clip"]))
        assert mapper.window_sources == {"sequence": 1}
    frames, index, source = window_frames(record, "all_frames")
    assert frames is record["sequence_frames"] and index == record["frame_index"] and source == "sequence"


def test_auto_falls_back_to_annotated_frames_counts_and_logs_it(ytvos_records, ytvos_records_without_all_frames,
                                                                  caplog):
    sparse = _middle_record(ytvos_records_without_all_frames, 2)
    full = _middle_record(ytvos_records, 2)
    mapper = _mapper("auto")
    with caplog.at_level(logging.INFO, logger="slowfast_vos.data.clip_mapper"):
        out = mapper(sparse)
        mapper(full)
        mapper(sparse)
    i = sparse["frame_index"]
    assert [k[0] for k in out["clip_keys"]] == sparse["sequence_frames"][i - 2:i + 3]
    assert mapper.window_sources == {"annotated": 2, "all_frames": 1}
    fallbacks = [r.getMessage() for r in caplog.records if "no all-frames folder" in r.getMessage()]
    assert len(fallbacks) == 1 and sparse["sequence"] in fallbacks[0]  # logged once, not per target
    assert "1 of 1 YouTube-VOS targets so far from annotated frames" in fallbacks[0]
    with pytest.raises(ValueError, match="INPUT.YTVOS_WINDOW_FRAMES is 'all_frames'"):
        _mapper("all_frames")(sparse)


def test_the_choice_is_logged_once_per_mapper(caplog):
    with caplog.at_level(logging.INFO, logger="slowfast_vos.data.clip_mapper"):
        _mapper("auto")
    messages = [r.getMessage() for r in caplog.records if "windows from" in r.getMessage()]
    assert len(messages) == 1 and "INPUT.YTVOS_WINDOW_FRAMES='auto'" in messages[0]


def test_equal_keys_mean_identical_tensors_across_modes_and_groups(ytvos_records):
    deterministic = [T.ResizeShortestEdge(96, 1000)]
    seen = {}
    video = [r for r in ytvos_records if r["sequence"] == ytvos_records[0]["sequence"]]
    outputs = []
    for mode in ("annotated", "all_frames"):
        mapper = _mapper(mode, deterministic, num_frames=7, is_train=False)
        outputs += [mapper(r) for r in video[:4]] + mapper.map_group(video[1:4])
    for out in outputs:
        for key, tensor in zip(out["clip_keys"], out["clip"]):
            if key is None:
                assert tensor is None
                continue
            if key in seen:
                assert torch.equal(seen[key], tensor)
            seen[key] = tensor
    paths = [key[0] for key in seen]
    assert len(set(paths)) == len(paths)  # one augmentation: one key per distinct frame file
    assert any("_all_frames" in p for p in paths) and any("_all_frames" not in p for p in paths)
    random_mapper = _mapper("all_frames", [T.RandomRotation([-30, 30], expand=False)])
    a, b = random_mapper(video[2]), random_mapper(video[2])
    assert all(x != y for x, y in zip(a["clip_keys"], b["clip_keys"]) if x is not None)


@pytest.mark.parametrize("mode", ["annotated", "all_frames"])
def test_map_group_of_neighbouring_annotated_targets(ytvos_records, mode):
    n = 7
    video = [r for r in ytvos_records if r["sequence"] == ytvos_records[0]["sequence"]]
    group = video[2:5]
    assert [r["frame_index"] for r in group] == [2, 3, 4]
    mapper = _mapper(mode, [T.RandomFlip(prob=0.5), T.RandomRotation([-30, 30], expand=False)], num_frames=n)
    np.random.seed(5)
    outs = mapper.map_group(group)
    step = 1 if mode == "annotated" else group[1]["all_frames_index"] - group[0]["all_frames_index"]
    assert step == (1 if mode == "annotated" else 5)
    for left, right in zip(outs, outs[1:]):
        shared = n - step  # windows of neighbouring annotated targets overlap by n - spacing frames
        assert shared > 0
        for j in range(shared):
            assert left["clip"][step + j] is right["clip"][j]
            assert left["clip_keys"][step + j] == right["clip_keys"][j]
        if mode == "all_frames":
            assert right["clip_keys"][shared][0] not in {k[0] for k in left["clip_keys"] if k}
    assert len({key[1] for out in outs for key in out["clip_keys"] if key}) == 1  # one augmentation draw
    # The same draw on the middle record alone gives the same window.
    np.random.seed(5)
    single = _mapper(mode, [T.RandomFlip(prob=0.5), T.RandomRotation([-30, 30], expand=False)], num_frames=n)(
        group[0])
    assert single["clip_keys"] == outs[0]["clip_keys"]
    assert all(torch.equal(x, y) for x, y in zip(single["clip"], outs[0]["clip"]) if x is not None)
    assert mapper.window_sources == {"annotated" if mode == "annotated" else "all_frames": 3}


def test_neighbour_groups_are_consecutive_annotated_frames_of_a_video(ytvos_records):
    sampler = NeighborGroupSampler(ytvos_records, 3, seed=0, rank=0, world_size=1)
    videos = collections.Counter()
    for group in itertools.islice(iter(sampler), 300):
        recs = [ytvos_records[i] for i in group]
        assert len({r["sequence"] for r in recs}) == 1
        assert [r["frame_index"] for r in recs] == list(range(recs[0]["frame_index"], recs[0]["frame_index"] + 3))
        names = [int(r["frame_name"]) for r in recs]
        assert np.diff(names).tolist() == [5, 5]  # consecutive annotated frames, 5 frames apart at 30 fps
        videos[recs[0]["sequence"]] += 1
    assert len(videos) == len({r["sequence"] for r in ytvos_records})


# ------------------------------------------------------------------------------------------------------------------
# Per-dataset sampling weights
# ------------------------------------------------------------------------------------------------------------------
H, W = 32, 48


def make_records(root, lengths, keep=None):
    """Frame records of random H x W JPEGs (helpers.make_frame_records)."""
    return make_frame_records(root, lengths, (H, W), keep)


def _register(records):
    name = f"test_ytvos_training_{uuid.uuid4().hex}"
    DatasetCatalog.register(name, lambda: records)
    MetadataCatalog.get(name).set(thing_classes=["object"])
    return name


@pytest.fixture
def two_sets(tmp_path):
    """A small set (2 sequences, 10 frames) and a large one (3 sequences, 90 frames) registered under new names."""
    small = make_records(tmp_path / "small", {"s0": 4, "s1": 6})
    large = make_records(tmp_path / "large", {"l0": 20, "l1": 30, "l2": 40})
    names = [_register(small), _register(large)]
    yield names, small, large
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


# Share tolerance: a share p measured over N independent draws has standard deviation sqrt(p (1 - p) / N), 0.0046
# for p = 0.7 and N = 10,000; 0.02 is more than 4 standard deviations (a chance failure below 1e-4 for an unseeded
# stream; the streams here are seeded, so the result is fixed). The weights are chosen far from the size-proportional
# shares (0.1 / 0.9), so ignoring them fails by ~60 standard deviations.
DRAWS, TOLERANCE = 10_000, 0.02


def test_weighted_sampler_k1_matches_the_weights_and_is_uniform_inside_a_set():
    sizes, weights = [10, 90], [0.7, 0.3]
    draws = list(itertools.islice(iter(WeightedDatasetSampler(sizes, weights, seed=0, rank=0, world_size=1)),
                                  DRAWS))
    assert all(0 <= i < 100 for i in draws)
    share = sum(i < 10 for i in draws) / DRAWS
    assert abs(share - 0.7) < TOLERANCE
    counts = collections.Counter(draws)
    # Inside each set, uniform: Pearson's chi-square against the uniform counts, below its mean + 5 standard
    # deviations (df + 5 sqrt(2 df)); a sampler that favoured some records (e.g. by index) fails it.
    for lo, hi, weight in ((0, 10, 0.7), (10, 100, 0.3)):
        expected = DRAWS * weight / (hi - lo)
        chi2 = sum((counts[i] - expected) ** 2 / expected for i in range(lo, hi))
        df = hi - lo - 1
        assert chi2 < df + 5 * math.sqrt(2 * df)
    zero = list(itertools.islice(iter(WeightedDatasetSampler([10, 90], [0.0, 1.0], seed=0, rank=0, world_size=1)),
                                 2000))
    assert min(zero) >= 10  # a set of weight 0 is never drawn


def test_weighted_sampler_ranks_take_disjoint_strides_of_one_stream():
    def stream(rank, world, count, seed=4):
        return list(itertools.islice(iter(WeightedDatasetSampler([10, 90], [0.5, 0.5], seed=seed, rank=rank,
                                                                 world_size=world)), count))

    common = stream(0, 1, 3000)
    ranks = [stream(r, 3, 1000) for r in range(3)]
    for r in range(3):
        assert ranks[r] == common[r::3]  # rank r holds positions r, r + 3, ...: disjoint parts, together all of it
    assert ranks[0] != ranks[1] and stream(0, 1, 3000, seed=5) != common
    for r in range(3):
        assert abs(sum(i < 10 for i in ranks[r]) / 1000 - 0.5) < 0.06  # each rank still sees the weights (4.7 sd)


def test_neighbour_groups_k2_match_the_weights_sequences_by_frames_inside_a_set(tmp_path):
    records = make_records(tmp_path, {"s0": 4, "s1": 6, "l0": 20, "l1": 30, "l2": 40})
    sampler = NeighborGroupSampler(records, 2, seed=0, rank=0, world_size=1, dataset_sizes=[10, 90],
                                   dataset_weights=[0.7, 0.3], dataset_names=["small", "large"])
    assert sampler.dataset_shares == pytest.approx([0.7, 0.3])
    groups = list(itertools.islice(iter(sampler), DRAWS))
    firsts = collections.Counter(records[g[0]]["sequence"] for g in groups)
    for g in groups:
        recs = [records[i] for i in g]
        assert len({r["sequence"] for r in recs}) == 1 and recs[1]["frame_index"] == recs[0]["frame_index"] + 1
    assert abs((firsts["s0"] + firsts["s1"]) / DRAWS - 0.7) < TOLERANCE
    # Inside a set, a sequence in proportion to its frames: s1 is 6/10 of the small set's 0.7, l2 4/9 of 0.3.
    assert abs(firsts["s1"] / DRAWS - 0.7 * 0.6) < TOLERANCE and abs(firsts["l2"] / DRAWS - 0.3 * 4 / 9) < TOLERANCE
    # Ranks: disjoint strides of the one seeded stream.
    kwargs = dict(dataset_sizes=[10, 90], dataset_weights=[0.7, 0.3])
    rank0 = list(itertools.islice(iter(NeighborGroupSampler(records, 2, seed=0, rank=0, world_size=2, **kwargs)), 500))
    rank1 = list(itertools.islice(iter(NeighborGroupSampler(records, 2, seed=0, rank=1, world_size=2, **kwargs)), 500))
    assert rank0 == groups[0:1000:2] and rank1 == groups[1:1000:2]


def test_neighbour_groups_without_weights_are_todays_stream_and_sets_may_share_sequence_names(tmp_path):
    records = make_records(tmp_path / "a", {"x": 10, "y": 20}) + make_records(tmp_path / "b", {"z": 30})
    plain = list(itertools.islice(iter(NeighborGroupSampler(records, 3, seed=1, rank=0, world_size=1)), 200))
    split = list(itertools.islice(iter(NeighborGroupSampler(records, 3, seed=1, rank=0, world_size=1,
                                                            dataset_sizes=[30, 30])), 200))
    assert plain == split  # size-proportional, as before the weights existed
    # Two sets holding a sequence of the same name (e.g. DAVIS 2016 and 2017 train): told apart, never mixed.
    same = make_records(tmp_path / "c", {"x": 10}) + make_records(tmp_path / "d", {"x": 10})
    with pytest.raises(ValueError, match="same frame_index"):
        NeighborGroupSampler(same, 2, seed=0, rank=0, world_size=1)
    sampler = NeighborGroupSampler(same, 2, seed=0, rank=0, world_size=1, dataset_sizes=[10, 10],
                                   dataset_weights=[0.25, 0.75])
    groups = list(itertools.islice(iter(sampler), 4000))
    assert all((g[0] < 10) == (g[1] < 10) for g in groups)
    assert abs(sum(g[0] < 10 for g in groups) / 4000 - 0.25) < 0.03  # sd 0.0068: 4.4 sd


def test_weight_errors_name_the_key(two_sets):
    names, _, _ = two_sets
    assert dataset_weights([], names) is None
    assert dataset_weights([3, 1], names) == pytest.approx([0.75, 0.25])
    for weights, match in (([0.5], "1 weight.*2 DATASETS.TRAIN set"), ([0.5, 0.3, 0.2], "3 weight"),
                           ([0.5, -0.1], "negative"), ([0, 0], "sum to 0"), ([0.5, float("nan")], "finite"),
                           ([0.5, "a"], "finite")):
        with pytest.raises(ValueError, match=f"DATASETS.TRAIN_WEIGHTS.*{match}"):
            dataset_weights(weights, names)
    cfg = tiny_cfg(1, 1)
    cfg.DATASETS.TRAIN, cfg.DATASETS.TEST = tuple(names), ()
    cfg.DATASETS.TRAIN_WEIGHTS = [1.0]
    with pytest.raises(ValueError, match="DATASETS.TRAIN_WEIGHTS has 1 weight"):
        check_datasets(cfg)  # before any training
    with pytest.raises(ValueError, match="DATASETS.TRAIN_WEIGHTS has 1 weight"):
        VOSTrainer.build_train_loader(cfg)
    cfg.DATASETS.TRAIN_WEIGHTS = [1.0, 1.0]
    check_datasets(cfg)
    cfg.DATALOADER.SAMPLER_TRAIN = "RepeatFactorTrainingSampler"
    with pytest.raises(ValueError, match="DATASETS.TRAIN_WEIGHTS.*DATALOADER.SAMPLER_TRAIN"):
        VOSTrainer.build_train_loader(cfg)
    # A set with weight but no sequence long enough for a group of K.
    cfg.DATALOADER.SAMPLER_TRAIN, cfg.DATALOADER.NEIGHBOR_TARGETS, cfg.SOLVER.IMS_PER_BATCH = "TrainingSampler", 8, 8
    with pytest.raises(ValueError, match=f"DATASETS.TRAIN_WEIGHTS gives '{names[0]}' .* none of its sequences"):
        VOSTrainer.build_train_loader(cfg)


def test_load_train_datasets_keeps_the_boundaries(two_sets):
    names, small, large = two_sets
    cfg = tiny_cfg(1, 1)
    cfg.DATASETS.TRAIN = tuple(names)
    datasets = load_train_datasets(cfg)
    assert datasets.sizes == [10, 90] and datasets.offsets == [0, 10] and datasets.weights is None
    assert [r["image_id"] for r in datasets.dicts] == [r["image_id"] for r in small + large]
    assert datasets.dataset_of(9) == 0 and datasets.dataset_of(10) == 1


def _loader_share(cfg, batches, small_names=("s0", "s1")):
    loader = iter(VOSTrainer.build_train_loader(cfg))
    seqs = [x["sequence"] for _ in range(batches) for x in next(loader)]
    return sum(s in small_names for s in seqs) / len(seqs), len(seqs)


@pytest.mark.parametrize("k", [1, 2])
def test_trainer_loaders_draw_with_the_weights(two_sets, k, caplog):
    names, _, _ = two_sets
    cfg = tiny_cfg(1, 1)
    cfg.DATASETS.TRAIN, cfg.DATASETS.TEST = tuple(names), ()
    cfg.DATALOADER.NUM_WORKERS, cfg.DATALOADER.NEIGHBOR_TARGETS, cfg.SOLVER.IMS_PER_BATCH = 0, k, 8
    cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN = (32,), 48
    cfg.DATASETS.TRAIN_WEIGHTS = [0.8, 0.2]
    np.random.seed(0)  # the samplers' shared seed (comm.shared_random_seed) comes from numpy: fixed streams
    with caplog.at_level(logging.INFO, logger="slowfast_vos.data.samplers"):
        share, targets = _loader_share(cfg, 40)
    # 320 targets (160 groups of 2 for k = 2): sd 0.022 (0.032) at p = 0.8; 0.12 is > 3.7 sd, while the
    # size-proportional share (0.1) is 0.7 away.
    assert targets == 320 and abs(share - 0.8) < 0.12
    logged = [r.getMessage() for r in caplog.records if "Training sets" in r.getMessage()]
    assert len(logged) == 1 and f"{names[0]} (10 frames" in logged[0] and "0.800" in logged[0]
    cfg.DATASETS.TRAIN_WEIGHTS = []
    share, _ = _loader_share(cfg, 40)
    assert abs(share - 0.1) < 0.08  # no weights: every frame equally likely, shares by size


# ------------------------------------------------------------------------------------------------------------------
# Dataset checks, the quickstart and a few-iteration training on the mixed config
# ------------------------------------------------------------------------------------------------------------------
def test_check_datasets_accepts_youtube_vos_training_and_only_scorable_test_sets():
    cfg = tiny_cfg(1, 1)
    cfg.DATASETS.TRAIN = ("synthetic_ytvos_train", "synthetic_davis2017_train")
    cfg.DATASETS.TEST = ("synthetic_davis2016_val",)
    check_datasets(cfg)
    assert MetadataCatalog.get("synthetic_ytvos_valid").dataset_format == "youtube-vos"
    cfg.DATASETS.TEST = ("synthetic_ytvos_valid",)
    with pytest.raises(ValueError, match="DATASETS.TEST: 'synthetic_ytvos_valid' is a YouTube-VOS 'valid' split"):
        check_datasets(cfg)  # training: its periodic evaluation could not score valid
    check_datasets(cfg, train=False)  # --eval-only / OSVOS: valid is segmented and zipped for the server
    cfg.DATASETS.TEST = ("synthetic_ytvos_train_holdout",)  # ground truth on every frame: scorable locally
    check_datasets(cfg)
    cfg.DATASETS.TEST = ("no_such_set",)
    with pytest.raises(ValueError, match="DATASETS.TEST: 'no_such_set' is not a registered.*ytvos"):
        check_datasets(cfg)


def test_quickstart_generates_the_sets_the_config_names():
    quickstart = load_tool("quickstart")
    assert quickstart.config_datasets(str(MIXED_CONFIG), []) == [
        "synthetic_ytvos_train", "synthetic_davis2017_train", "synthetic_davis2016_val"]
    assert quickstart.config_datasets(str(MIXED_CONFIG), ["DATASETS.TEST", "()"])[-1] == "synthetic_davis2017_train"


@pytest.mark.slow
def test_train_net_runs_the_mixed_config(ytvos_root, tmp_path_factory, tmp_path):
    env = synthetic_env(tmp_path_factory, train_sequences=2, val_sequences=1, frames=6)
    shutil.copytree(ytvos_root, Path(env["DETECTRON2_DATASETS"]) / "YouTube-VOS-synthetic")
    out = tmp_path / "mixed"
    opts = [*TINY_TRAIN_OPTS, "DATALOADER.NEIGHBOR_TARGETS", "2", "SOLVER.WARMUP_ITERS", "0", "SOLVER.MAX_ITER", "2",
            "TEST.EVAL_PERIOD", "0", "OUTPUT_DIR", str(out)]
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", str(MIXED_CONFIG), *opts]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"train_net failed:\n{log[-6000:]}"
    assert (out / "model_final.pth").is_file() and (out / "results.json").is_file()
    assert "YouTube-VOS windows from all frames (all_frames) where a record has them" in log
    share_line = next(line for line in log.splitlines() if "Training sets, share" in line)
    assert "synthetic_ytvos_train" in share_line and "synthetic_davis2017_train" in share_line
    assert share_line.count("0.500") == 2
