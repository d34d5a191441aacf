"""K-neighbour training batches: consecutive frames of one sequence, shared keys, K + n - 1 backbone passes."""
import collections
import itertools
import uuid

import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model
from detectron2.utils.events import EventStorage
from helpers import make_frame_records
from tiny import tiny_cfg

from slowfast_vos.data import ClipDatasetMapper
from slowfast_vos.data.samplers import NeighborGroupSampler, build_neighbor_train_loader
from slowfast_vos.engine.trainer import VOSTrainer

H, W = 32, 48


def make_records(root, lengths, keep=None):
    """Frame records of random H x W JPEGs (helpers.make_frame_records)."""
    return make_frame_records(root, lengths, (H, W), keep)


def groups_of(sampler, count):
    return list(itertools.islice(iter(sampler), count))


def assert_consecutive_group(records, group, k):
    recs = [records[i] for i in group]
    assert len(recs) == k
    assert len({r["sequence"] for r in recs}) == 1
    assert [r["frame_index"] for r in recs] == list(range(recs[0]["frame_index"], recs[0]["frame_index"] + k))


def test_groups_are_consecutive_frames_of_one_sequence(tmp_path):
    # "short" is shorter than K; "gappy" lacks a record for frame 4, so no group may straddle it.
    records = make_records(tmp_path, {"long": 12, "short": 3, "gappy": 9}, keep={"gappy": [0, 1, 2, 3, 5, 6, 7, 8]})
    sampler = NeighborGroupSampler(records, 4, seed=1, rank=0, world_size=1)
    seen = collections.Counter()
    for group in groups_of(sampler, 300):
        assert_consecutive_group(records, group, 4)
        seen[records[group[0]]["sequence"]] += 1
    assert set(seen) == {"long", "gappy"}


def test_sequences_by_frame_count_and_uniform_starts(tmp_path):
    records = make_records(tmp_path, {"a": 12, "b": 6})
    sampler = NeighborGroupSampler(records, 3, seed=0, rank=0, world_size=1)
    groups = groups_of(sampler, 6000)
    starts = collections.Counter((records[g[0]]["sequence"], records[g[0]]["frame_index"]) for g in groups)
    share_a = sum(c for (seq, _), c in starts.items() if seq == "a") / len(groups)
    assert abs(share_a - 12 / 18) < 0.03  # a sequence is drawn in proportion to its frames
    a_starts = [starts[("a", i)] for i in range(10)]
    assert set(s for s, _ in starts) == {"a", "b"} and all(("a", i) not in starts for i in (10, 11))
    expected = 6000 * 12 / 18 / 10
    assert all(abs(c - expected) < 0.2 * expected for c in a_starts)  # a uniform start among the valid ones


def test_ranks_split_one_seeded_stream(tmp_path):
    records = make_records(tmp_path, {"a": 10, "b": 7})
    common = groups_of(NeighborGroupSampler(records, 2, seed=5, rank=0, world_size=1), 40)
    rank0 = groups_of(NeighborGroupSampler(records, 2, seed=5, rank=0, world_size=2), 20)
    rank1 = groups_of(NeighborGroupSampler(records, 2, seed=5, rank=1, world_size=2), 20)
    assert rank0 == common[0::2] and rank1 == common[1::2]
    assert common != groups_of(NeighborGroupSampler(records, 2, seed=6, rank=0, world_size=1), 40)


def test_bad_settings_name_the_keys(tiny_model_cfg, tmp_path):
    records = make_records(tmp_path, {"a": 3})
    cfg = tiny_model_cfg
    cfg.DATALOADER.NEIGHBOR_TARGETS, cfg.SOLVER.IMS_PER_BATCH = 3, 4
    with pytest.raises(ValueError, match=r"SOLVER.IMS_PER_BATCH \(4\).*DATALOADER.NEIGHBOR_TARGETS \(3\)"):
        build_neighbor_train_loader(cfg, ClipDatasetMapper(cfg, is_train=True), records)
    with pytest.raises(ValueError, match="DATALOADER.NEIGHBOR_TARGETS = 4 consecutive"):
        NeighborGroupSampler(records, 4, seed=0)


@pytest.mark.parametrize("workers", [0, 2])
def test_batch_shares_frames_and_runs_the_backbone_k_plus_n_minus_1_times(tmp_path, workers):
    k, n = 3, 7
    # Records only for frames 5..12 of a 20-frame video: every window lies inside the video.
    records = make_records(tmp_path, {"v": 20}, keep={"v": range(5, 13)})
    cfg = tiny_cfg(3, n)
    cfg.DATALOADER.NEIGHBOR_TARGETS, cfg.SOLVER.IMS_PER_BATCH, cfg.DATALOADER.NUM_WORKERS = k, 2 * k, workers
    loader = iter(build_neighbor_train_loader(cfg, ClipDatasetMapper(cfg, is_train=True), records))
    batches = [next(loader) for _ in range(3)]
    for batch in batches:
        assert len(batch) == 2 * k
        for group in (batch[:k], batch[k:]):
            indices = [x["frame_index"] for x in group]
            assert indices == list(range(indices[0], indices[0] + k))
            for a, b in zip(group, group[1:]):  # b's window is a's shifted by one frame: same keys, same tensors
                assert a["clip_keys"][1:] == b["clip_keys"][:-1]
                assert all(x is y for x, y in zip(a["clip"][1:], b["clip"][:-1]))
    assert len({tuple(x["frame_index"] for x in b) for b in batches}) > 1

    model = build_model(cfg).train()
    frames = []
    model.backbone.register_forward_pre_hook(lambda m, args: frames.append(args[0].shape[0]))
    group = batches[0][:k]
    with EventStorage():
        losses = model(group)
    assert frames == [k + n - 1]
    assert all(torch.isfinite(v) for v in losses.values())


def test_trainer_uses_neighbour_groups(tmp_path):
    name = f"test_samplers_{uuid.uuid4().hex}"
    records = make_records(tmp_path, {"a": 8, "b": 9})
    DatasetCatalog.register(name, lambda: records)
    try:
        cfg = tiny_cfg(1, 3)
        cfg.DATASETS.TRAIN = (name,)
        cfg.DATALOADER.NUM_WORKERS = 0
        cfg.DATALOADER.NEIGHBOR_TARGETS, cfg.SOLVER.IMS_PER_BATCH = 4, 4
        batch = next(iter(VOSTrainer.build_train_loader(cfg)))
        assert len({x["sequence"] for x in batch}) == 1
        indices = [x["frame_index"] for x in batch]
        assert indices == list(range(indices[0], indices[0] + 4))
        assert batch[0]["clip_keys"][2] == batch[1]["clip_keys"][1]
    finally:
        DatasetCatalog.remove(name)
