"""ClipDatasetMapper: one augmentation for a whole clip, border frames, keys, map_group sharing, frame cache."""
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks
from PIL import Image

from slowfast_vos import add_slowfast_vos_config
from slowfast_vos.data import clip_mapper as clip_mapper_module
from slowfast_vos.data import load_davis
from slowfast_vos.data.clip_mapper import ClipDatasetMapper, RandomScale, iter_sequences
from vos_eval.davis_format import DAVISFormatError


@pytest.fixture(scope="module")
def records(davis_root):
    """Records of the 2 train sequences (6 frames at 64x48) of the shared DAVIS folder."""
    return load_davis(str(davis_root), "2017", "train", use_cache=False)


def _mapper(augmentations, num_frames=5, is_train=True, cache=16, fmt="RGB"):
    return ClipDatasetMapper(is_train, augmentations=augmentations, image_format=fmt, num_frames=num_frames,
                             frame_cache_size=cache)


def _raw(path):
    return np.asarray(Image.open(path).convert("RGB"))


def _ids(record):
    return np.asarray(Image.open(record["mask_file"]))


def _as_hwc(t):
    return t.permute(1, 2, 0).numpy()


def test_from_config_builds_the_paper_augmentations():
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.MODEL.MASK_ON = True
    mapper = ClipDatasetMapper(cfg, is_train=True)
    kinds = [type(a) for a in mapper.augmentations.augs]
    assert kinds == [T.ResizeShortestEdge, T.RandomFlip, T.RandomRotation, RandomScale]
    assert mapper.augmentations.augs[2].angle == [-30.0, 30.0]
    assert (mapper.augmentations.augs[3].min_scale, mapper.augmentations.augs[3].max_scale) == (0.75, 1.25)
    assert mapper.num_frames == 7 and mapper.frame_cache.capacity == 64 and mapper.image_format == "BGR"
    assert [type(a) for a in ClipDatasetMapper(cfg, is_train=False).augmentations.augs] == [T.ResizeShortestEdge]
    cfg.INPUT.ROTATION_ANGLE, cfg.INPUT.RANDOM_SCALE, cfg.INPUT.RANDOM_FLIP = 0.0, 0.0, "none"
    assert [type(a) for a in ClipDatasetMapper(cfg, is_train=True).augmentations.augs] == [T.ResizeShortestEdge]
    cfg.INPUT.RANDOM_SCALE = 1.5
    with pytest.raises(ValueError, match="INPUT.RANDOM_SCALE"):
        ClipDatasetMapper(cfg, is_train=True)
    cfg.INPUT.RANDOM_SCALE = 0.0
    cfg.MODEL.SLOWFAST.FAST_FRAMES = 4
    with pytest.raises(ValueError, match="FAST_FRAMES"):
        ClipDatasetMapper(cfg, is_train=True)


def test_forced_flip_applies_to_every_frame_and_the_masks(records):
    mapper = _mapper([T.RandomFlip(prob=1.0)])
    record = records[2]
    out = mapper(record)
    assert out["image"] is out["clip"][2]
    for j, frame in zip(range(0, 5), out["clip"]):
        np.testing.assert_array_equal(_as_hwc(frame), _raw(record["sequence_frames"][j])[:, ::-1])
    ids = _ids(record)[:, ::-1]
    inst = out["instances"]
    expected_ids = [a["object_id"] for a in record["annotations"]]
    assert len(inst) == len(expected_ids) > 0
    for k, object_id in enumerate(expected_ids):
        np.testing.assert_array_equal(inst.gt_masks.tensor[k].numpy(), ids == object_id)
    torch.testing.assert_close(inst.gt_boxes.tensor, inst.gt_masks.get_bounding_boxes().tensor)
    assert inst.gt_classes.tolist() == [0] * len(expected_ids)
    for key in ("height", "width", "sequence", "frame_name", "frame_index", "file_name", "image_id"):
        assert out[key] == record[key]


def test_rotation_and_scale_match_frames_transformed_individually(records):
    augs = [T.RandomRotation([-30, 30], expand=False), RandomScale(0.75, 1.25)]
    mapper = _mapper(augs)
    record = records[3]
    np.random.seed(7)
    out = mapper(record)
    np.random.seed(7)
    transforms = T.AugmentationList(augs)(T.AugInput(_raw(record["file_name"])))
    assert transforms.transforms[0].angle != 0
    for j, frame in zip(range(1, 6), out["clip"]):
        raw = _raw(record["sequence_frames"][j])
        individually = transforms.apply_image(raw)
        np.testing.assert_array_equal(_as_hwc(frame), individually)
        assert individually.shape != raw.shape or not np.array_equal(individually, raw)
    ids = transforms.apply_segmentation(_ids(record))
    kept = [a["object_id"] for a in record["annotations"] if (ids == a["object_id"]).any()]
    assert len(out["instances"]) == len(kept)
    for k, object_id in enumerate(kept):
        np.testing.assert_array_equal(out["instances"].gt_masks.tensor[k].numpy(), ids == object_id)


def test_border_frames_are_none_with_none_keys(records):
    mapper = _mapper([], num_frames=5)
    first, middle, last = records[0], records[2], records[5]
    out = mapper(first)
    assert out["clip"][:2] == [None, None] and out["clip_keys"][:2] == [None, None]
    assert all(c is not None for c in out["clip"][2:]) and all(k is not None for k in out["clip_keys"][2:])
    out = mapper(last)
    assert out["clip"][3:] == [None, None] and out["clip_keys"][3:] == [None, None]
    out = mapper(middle)
    assert None not in out["clip_keys"] and len(set(out["clip_keys"])) == 5
    assert records[6]["sequence"] != records[5]["sequence"]
    assert mapper(records[6])["clip"][:2] == [None, None]  # windows never reach into another sequence


def test_equal_keys_iff_identical_tensors(records):
    deterministic = _mapper([T.ResizeShortestEdge(96, 1000)], is_train=False)
    a, b = deterministic(records[2]), deterministic(records[3])
    assert "instances" not in a
    assert a["image"].shape == (3, 96, 128)
    for j in range(1, 5):  # frames 1..4 are in both windows
        assert a["clip_keys"][j] == b["clip_keys"][j - 1]
        assert torch.equal(a["clip"][j], b["clip"][j - 1])
    random_mapper = _mapper([T.RandomRotation([-30, 30], expand=False)])
    c, d = random_mapper(records[2]), random_mapper(records[2])
    for x, y, kx, ky in zip(c["clip"], d["clip"], c["clip_keys"], d["clip_keys"]):
        assert kx != ky and not torch.equal(x, y)
    flip = _mapper([T.RandomFlip(prob=1.0)])
    e, f = flip(records[2]), flip(records[2])
    assert e["clip_keys"] == f["clip_keys"] and all(torch.equal(x, y) for x, y in zip(e["clip"], f["clip"]))
    assert e["clip_keys"] != deterministic(records[2])["clip_keys"]


def test_map_group_shares_one_draw_tensors_and_keys(records):
    augs = [T.RandomFlip(prob=0.5), T.RandomRotation([-30, 30], expand=False)]
    mapper = _mapper(augs)
    group = records[1:4]
    np.random.seed(3)
    outs = mapper.map_group(group)
    for left, right in zip(outs, outs[1:]):
        for j in range(1, 5):
            assert left["clip"][j] is right["clip"][j - 1]
            assert left["clip_keys"][j] == right["clip_keys"][j - 1]
    assert len({key[1] for out in outs for key in out["clip_keys"] if key}) == 1
    np.random.seed(3)
    single = _mapper(augs)(records[2])  # the same draw on one record gives the same tensors and keys
    assert single["clip_keys"] == outs[1]["clip_keys"]
    assert all(torch.equal(x, y) for x, y in zip(single["clip"][1:], outs[1]["clip"][1:]))
    torch.testing.assert_close(single["instances"].gt_masks.tensor, outs[1]["instances"].gt_masks.tensor)
    with pytest.raises(ValueError, match="one sequence"):
        mapper.map_group([records[5], records[6]])


def test_frame_cache_avoids_decoding_shared_frames(records, monkeypatch):
    reads = []
    real = utils.read_image
    monkeypatch.setattr(
        clip_mapper_module.utils, "read_image", lambda p, format=None: reads.append(p) or real(p, format)
    )
    mapper = _mapper([], cache=8)
    mapper(records[2])
    assert len(reads) == 5
    mapper(records[3])
    assert len(reads) == 6 and len(set(reads)) == 6
    small = _mapper([], cache=2)
    small(records[2])
    assert len(small.frame_cache) == 2


def test_vanished_objects_dropped_and_boxes_from_masks(records):
    record = dict(records[2])
    h, w = record["height"], record["width"]
    corner = np.zeros((h, w), np.uint8, order="F")
    corner[h - 4 :, w - 4 :] = 1
    rle = mask_util.encode(corner)
    extra = {"bbox": [w - 4.0, h - 4.0, float(w), float(h)], "bbox_mode": record["annotations"][0]["bbox_mode"],
             "segmentation": rle, "category_id": 0, "iscrowd": 0, "object_id": 9}
    record["annotations"] = record["annotations"] + [extra]
    crop = _mapper([T.CropTransform(0, 0, w // 2, h // 2)])
    inst = crop(record)["instances"]
    full = _ids(record)[: h // 2, : w // 2]
    visible = [a["object_id"] for a in records[2]["annotations"] if (full == a["object_id"]).any()]
    assert len(inst) == len(visible)
    for k, object_id in enumerate(visible):
        np.testing.assert_array_equal(inst.gt_masks.tensor[k].numpy(), full == object_id)
    torch.testing.assert_close(inst.gt_boxes.tensor, BitMasks(inst.gt_masks.tensor).get_bounding_boxes().tensor)
    no_masks = ClipDatasetMapper(True, augmentations=[], image_format="RGB", num_frames=3, mask_on=False)
    inst = no_masks(records[2])["instances"]
    assert not inst.has("gt_masks") and len(inst) == len(records[2]["annotations"])
    empty = dict(records[2], annotations=[])
    inst = _mapper([])(empty)["instances"]
    assert len(inst) == 0 and inst.gt_masks.tensor.shape == (0, h, w)


def test_unreadable_frame_names_the_file(records, tmp_path):
    bad = tmp_path / "00000.jpg"
    data = open(records[0]["sequence_frames"][1], "rb").read()
    bad.write_bytes(data[: len(data) // 3])
    frames = list(records[0]["sequence_frames"])
    frames[1] = str(bad)
    record = dict(records[0], sequence_frames=frames)
    with pytest.raises(DAVISFormatError, match=str(bad)):
        _mapper([])(record)


def test_frame_input_and_iter_sequences(records):
    mapper = _mapper([T.ResizeShortestEdge(96, 1000)], is_train=False)
    shuffled = [records[i] for i in (7, 3, 0, 11, 5, 6, 1, 2, 4, 8, 9, 10)]
    groups = list(iter_sequences(shuffled))
    assert [name for name, _ in groups] == ["syn-train-01", "syn-train-00"]
    for _, recs in groups:
        assert [r["frame_index"] for r in recs] == list(range(6))
    single = mapper.frame_input(records[4])
    assert single["frame_name"] == "00004" and "clip" not in single
    assert torch.equal(single["image"], mapper(records[4])["image"])
