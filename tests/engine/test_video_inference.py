"""The test-time path: build_video_test_loader (whole sequences per process, video order, one loader for all
sequences) and inference_on_videos (Detectron2's inference_on_dataset for inference_video)."""
import os

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.modeling import build_model
from detectron2.utils import comm
from tiny import tiny_cfg

from slowfast_vos.data import ClipDatasetMapper, generate_synthetic_davis, load_davis, register_davis
from slowfast_vos.data.build import build_video_test_loader
from slowfast_vos.engine import inference_on_videos

FRAMES = 4


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Three val sequences of 4 frames at 64x96 (the tiny model's test size), shuffled as a loader may list them."""
    root = tmp_path_factory.mktemp("video") / "DAVIS-synthetic"
    generate_synthetic_davis(str(root), seed=4, train_sequences=0, val_sequences=3, frames=FRAMES, height=64,
                             width=96, progress=None)
    loaded = load_davis(str(root), "2017", "val", use_cache=False)
    return [loaded[i] for i in (5, 0, 9, 1, 2, 11, 3, 4, 6, 7, 8, 10)], str(root)


def _mapper(is_train=False):
    return ClipDatasetMapper(is_train, augmentations=[], image_format="BGR", num_frames=3, frame_cache_size=0)


class _WithPid:
    """A frame mapper that also records which process decoded the frame."""

    def __init__(self, mapper):
        self.mapper = mapper

    def __call__(self, record):
        return dict(self.mapper.frame_input(record), pid=os.getpid())


def test_each_process_gets_whole_sequences_in_video_order(records, monkeypatch):
    dataset, _ = records
    seen = {}
    for rank in (0, 1):
        monkeypatch.setattr(comm, "get_rank", lambda rank=rank: rank)
        monkeypatch.setattr(comm, "get_world_size", lambda: 2)
        loader = build_video_test_loader(dataset, mapper=_mapper().frame_input)
        frames = [frame for batch in loader for frame in batch]
        assert all(len(batch) == 1 for batch in loader)
        seen[rank] = [(f["sequence"], f["frame_index"]) for f in frames]
    # Sequences in first-seen order (syn-val-01, syn-val-00, syn-val-02), split by sequence, not by frame.
    assert seen[0] == [("syn-val-01", t) for t in range(FRAMES)] + [("syn-val-02", t) for t in range(FRAMES)]
    assert seen[1] == [("syn-val-00", t) for t in range(FRAMES)]
    monkeypatch.setattr(comm, "get_rank", lambda: 3)
    monkeypatch.setattr(comm, "get_world_size", lambda: 4)
    assert len(build_video_test_loader(dataset, mapper=_mapper().frame_input)) == 0  # more processes than videos


def test_one_worker_process_serves_every_sequence(records):
    dataset, _ = records
    loader = build_video_test_loader(dataset, mapper=_WithPid(_mapper()), num_workers=1)
    pids = {frame["pid"] for batch in loader for frame in batch}
    assert len(pids) == 1 and os.getpid() not in pids


def test_from_config_uses_the_test_resize_and_workers(records, tmp_path):
    _, root = records
    name = "video_inference_test_val"
    register_davis(name, root, "2017", "val", use_cache=False)
    try:
        cfg = tiny_cfg(1, 3)
        cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = 32, 48
        cfg.DATALOADER.NUM_WORKERS = 0
        loader = build_video_test_loader(cfg, name)
        (first,) = next(iter(loader))
        assert tuple(first["image"].shape) == (3, 32, 48) and (first["height"], first["width"]) == (64, 96)
        assert len(loader) == 3 * FRAMES
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


class _Recorder(DatasetEvaluator):
    def reset(self):
        self.seen = []

    def process(self, inputs, outputs):
        self.seen += [(i["sequence"], i["frame_index"], o["instances"]) for i, o in zip(inputs, outputs)]

    def evaluate(self):
        return {"frames": len(self.seen)}


def test_inference_on_videos_runs_each_sequence_through_inference_video(tiny_model_cfg, records):
    dataset, _ = records
    model = build_model(tiny_model_cfg)
    evaluator = _Recorder()
    results = inference_on_videos(model, build_video_test_loader(dataset, mapper=_mapper().frame_input), evaluator)
    assert results["frames"] == 3 * FRAMES and results["timing"]["frames"] == 3 * FRAMES
    assert [(s, t) for s, t, _ in evaluator.seen] == [(s, t) for s in ("syn-val-01", "syn-val-00", "syn-val-02")
                                                      for t in range(FRAMES)]
    assert model.training  # inference_context restores the mode
    model.eval()
    frames = [_mapper().frame_input(r) for r in sorted(dataset, key=lambda r: r["frame_index"])
              if r["sequence"] == "syn-val-00"]
    with torch.no_grad():
        expected = [o["instances"] for o in model.inference_video(frames)]
    got = [inst for s, _, inst in evaluator.seen if s == "syn-val-00"]
    assert len(got) == len(expected) == FRAMES
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.scores, b.scores)
