"""DAVIS 2016/2017 loading and registration: record contents, object ids and void, the mask cache, bad input."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_util
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from PIL import Image

from helpers import REPO

from slowfast_vos.data import load_davis, register_davis
from slowfast_vos.data.datasets import davis as davis_module
from vos_eval.davis_format import DAVISFormatError, davis_palette

RECORD_KEYS = {
    "file_name", "height", "width", "image_id", "sequence", "frame_name", "frame_index", "sequence_frames",
    "mask_file", "annotations",
}


def _load(root, year="2017", split="train", tmp=None, **kwargs):
    return load_davis(str(root), year, split, cache_dir=str(tmp) if tmp else None, use_cache=tmp is not None, **kwargs)


def test_davis2017_records_object_ids_and_void(davis_root, tmp_path):
    records = _load(davis_root, tmp=tmp_path)
    assert len(records) == 12
    by_sequence = {}
    for r in records:
        assert set(r) == RECORD_KEYS
        by_sequence.setdefault(r["sequence"], []).append(r)
    assert list(by_sequence) == ["syn-train-00", "syn-train-01"]
    saw_void = False
    for sequence, recs in by_sequence.items():
        assert [r["frame_index"] for r in recs] == list(range(6))
        assert all(r["sequence_frames"] is recs[0]["sequence_frames"] for r in recs)
        for r in recs:
            assert r["sequence_frames"][r["frame_index"]] == r["file_name"]
            assert r["image_id"] == f"{sequence}/{r['frame_name']}"
            assert r["frame_name"] == f"{r['frame_index']:05d}"
            assert (r["height"], r["width"]) == (48, 64)
            ids = np.asarray(Image.open(r["mask_file"]))
            saw_void |= bool((ids == 255).any())
            expected = sorted(set(np.unique(ids).tolist()) - {0, 255})
            assert [a["object_id"] for a in r["annotations"]] == expected
            for a in r["annotations"]:
                assert a["category_id"] == 0 and a["iscrowd"] == 0 and a["bbox_mode"] == BoxMode.XYXY_ABS
                m = mask_util.decode(a["segmentation"]).astype(bool)
                np.testing.assert_array_equal(m, ids == a["object_id"])  # void pixels never join an object
                ys, xs = np.nonzero(m)
                assert a["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert saw_void, "the tiny set should contain some void pixels to test"


def test_davis2016_records_are_binary_union(davis_root, tmp_path):
    records = _load(davis_root / "2016", year="2016", split="val", tmp=tmp_path)
    assert len(records) == 12 and {r["sequence"] for r in records} == {"syn-val-00", "syn-val-01"}
    for r in records:
        assert set(r) == RECORD_KEYS
        binary = np.asarray(Image.open(r["mask_file"]))
        mask_2017 = davis_root / "Annotations" / "480p" / r["sequence"] / f"{r['frame_name']}.png"
        ids_2017 = np.asarray(Image.open(mask_2017))
        np.testing.assert_array_equal(binary != 0, ids_2017 != 0)
        (anno,) = r["annotations"]
        assert anno["object_id"] == 1
        np.testing.assert_array_equal(mask_util.decode(anno["segmentation"]).astype(bool), binary != 0)
        frame_2017 = davis_root / "JPEGImages" / "480p" / r["sequence"] / f"{r['frame_name']}.jpg"
        assert os.path.samefile(r["file_name"], frame_2017)


def test_2016_any_nonzero_pixel_is_the_object(davis_copy, tmp_path):
    mask_path = davis_copy / "2016" / "Annotations" / "480p" / "syn-train-00" / "00000.png"
    values = np.zeros((48, 64), np.uint8)
    values[2:5, 3:9] = 1
    values[10:12, 20:30] = 200
    Image.fromarray(values).save(mask_path)
    (first, *_) = _load(davis_copy / "2016", year="2016", split="train", tmp=tmp_path)
    (anno,) = first["annotations"]
    np.testing.assert_array_equal(mask_util.decode(anno["segmentation"]).astype(bool), values != 0)


def test_register_davis_is_lazy_and_sets_metadata(davis_root, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(davis_module, "read_id_png", lambda *a: calls.append(a))
    register_davis("test_lazy_missing", str(tmp_path / "nowhere"), "2017", "train", use_cache=False)
    register_davis("test_t17_val", str(davis_root), "2017", "val", use_cache=False)
    try:
        assert calls == []
        meta = MetadataCatalog.get("test_t17_val")
        assert meta.thing_classes == ["object"] and meta.evaluator_type == "davis"
        assert (meta.year, meta.split, meta.resolution, meta.task) == ("2017", "val", "480p", "semi-supervised")
        assert meta.image_dir == str(davis_root / "JPEGImages" / "480p")
        assert meta.annotation_dir == str(davis_root / "Annotations" / "480p")
        assert meta.sequences == ["syn-val-00", "syn-val-01"]
        assert calls == []  # metadata's sequence list reads the ImageSets file, not masks
        with pytest.raises(FileNotFoundError, match="nowhere"):
            DatasetCatalog.get("test_lazy_missing")
    finally:
        for name in ("test_lazy_missing", "test_t17_val"):
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)


def test_builtin_names_and_metadata():
    names = set(DatasetCatalog.list())
    for name in (
        "davis2016_train", "davis2016_val", "davis2016_val_fullres", "davis2017_train", "davis2017_val",
        "davis2017_trainval", "davis2017_val_unsupervised", "davis2017_train_fullres",
        "davis2017_trainval_unsupervised_fullres", "synthetic_davis2017_train", "synthetic_davis2017_val",
        "synthetic_davis2016_train", "synthetic_davis2016_val",
    ):
        assert name in names
    assert MetadataCatalog.get("davis2016_val").task == "davis2016"
    assert MetadataCatalog.get("davis2017_val").task == "semi-supervised"
    assert MetadataCatalog.get("davis2017_val_unsupervised").annotation_dir.endswith(
        os.path.join("Annotations_unsupervised", "480p"))
    assert MetadataCatalog.get("davis2017_val_unsupervised").task == "unsupervised"
    assert MetadataCatalog.get("davis2016_val_fullres").image_dir.endswith(os.path.join("JPEGImages", "1080p"))
    full_res = MetadataCatalog.get("davis2017_val_fullres")
    assert full_res.image_dir.endswith(os.path.join("JPEGImages", "Full-Resolution"))
    syn16 = MetadataCatalog.get("synthetic_davis2016_val")
    assert syn16.task == "davis2016" and syn16.davis_root.endswith(os.path.join("DAVIS-synthetic", "2016"))
    assert MetadataCatalog.get("synthetic_davis2017_train").task == "unsupervised"


@pytest.mark.slow
def test_roots_from_environment_and_import_reads_nothing(tmp_path):
    """Importing registers everything even where no dataset exists; the env vars pick the roots."""
    code = (
        "from detectron2.data import MetadataCatalog; import slowfast_vos.data; "
        "print(MetadataCatalog.get('davis2016_val').davis_root); "
        "print(MetadataCatalog.get('davis2017_val').davis_root); "
        "print(MetadataCatalog.get('synthetic_davis2017_val').davis_root)"
    )
    env = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path / "missing"), DAVIS2016_ROOT=str(tmp_path / "d16"),
               DAVIS2017_ROOT=str(tmp_path / "d17"))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(tmp_path / "d16"), str(tmp_path / "d17"),
                                  str(tmp_path / "missing" / "DAVIS-synthetic")]


def test_unsupervised_annotations_and_trainval(davis_copy, tmp_path):
    shutil.copytree(davis_copy / "Annotations", davis_copy / "Annotations_unsupervised")
    records = _load(davis_copy, split="val", tmp=tmp_path, annotations="Annotations_unsupervised")
    assert all("Annotations_unsupervised" in r["mask_file"] for r in records)
    trainval = _load(davis_copy, split="trainval", tmp=tmp_path)
    assert [r["sequence"] for r in trainval][::6] == ["syn-train-00", "syn-train-01", "syn-val-00", "syn-val-01"]


def test_mask_cache_second_load_reads_no_mask(davis_root, tmp_path, monkeypatch):
    reads = []
    real = davis_module.read_id_png
    monkeypatch.setattr(davis_module, "read_id_png", lambda path, year: reads.append(path) or real(path, year))
    first = _load(davis_root, tmp=tmp_path)
    assert len(reads) == 12 and len(list(tmp_path.glob("*.json"))) == 1
    reads.clear()
    second = _load(davis_root, tmp=tmp_path)
    assert reads == []
    assert [r["annotations"] for r in second] == [r["annotations"] for r in first]


def test_default_cache_dir_from_environment(davis_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SLOWFAST_VOS_CACHE", str(tmp_path / "env-cache"))
    load_davis(str(davis_root), "2017", "val")
    assert len(list((tmp_path / "env-cache" / "davis").glob("davis2017-masks-*.json"))) == 1


def test_mask_cache_invalidated_when_a_mask_changes(davis_copy, tmp_path, monkeypatch):
    _load(davis_copy, tmp=tmp_path / "cache")
    mask = davis_copy / "Annotations" / "480p" / "syn-train-00" / "00003.png"
    ids = np.asarray(Image.open(mask)).copy()
    ids[:] = 0
    ids[:5, :5] = 7
    image = Image.fromarray(ids)
    image.putpalette(davis_palette().tobytes())
    image.save(mask)
    records = _load(davis_copy, tmp=tmp_path / "cache")
    (anno,) = records[3]["annotations"]
    assert anno["object_id"] == 7 and anno["bbox"] == [0.0, 0.0, 5.0, 5.0]


def test_missing_root_and_imagesets(davis_copy, tmp_path):
    with pytest.raises(FileNotFoundError, match="not_there"):
        _load(tmp_path / "not_there")
    os.remove(davis_copy / "ImageSets" / "2017" / "val.txt")
    with pytest.raises(FileNotFoundError, match=r"ImageSets.*val\.txt"):
        _load(davis_copy, split="val")
    with pytest.raises(FileNotFoundError, match=r"ImageSets.*trainx\.txt"):
        _load(davis_copy / "2016", year="2016", split="trainx")


def test_listed_sequence_absent(davis_copy):
    with open(davis_copy / "ImageSets" / "2017" / "train.txt", "a") as f:
        f.write("ghost-sequence\n")
    with pytest.raises(FileNotFoundError, match=r"ghost-sequence.*train\.txt"):
        _load(davis_copy)
    with open(davis_copy / "2016" / "ImageSets" / "480p" / "val.txt", "a") as f:
        f.write("/JPEGImages/480p/syn-val-00/00099.jpg /Annotations/480p/syn-val-00/00099.png\n")
    with pytest.raises(FileNotFoundError, match="00099.jpg"):
        _load(davis_copy / "2016", year="2016", split="val")


def test_frames_without_masks(davis_copy, tmp_path):
    os.remove(davis_copy / "Annotations" / "480p" / "syn-train-01" / "00004.png")
    with pytest.raises(FileNotFoundError, match=r"syn-train-01.*00004\.jpg"):
        _load(davis_copy)
    shutil.rmtree(davis_copy / "Annotations" / "480p" / "syn-val-00")
    (davis_copy / "Annotations" / "480p" / "syn-val-00").mkdir()
    shutil.copy(davis_copy / "Annotations" / "480p" / "syn-train-00" / "00000.png",
                davis_copy / "Annotations" / "480p" / "syn-val-00" / "00000.png")
    records = [r for r in _load(davis_copy, split="val", tmp=tmp_path) if r["sequence"] == "syn-val-00"]
    assert records[0]["mask_file"] is not None and records[0]["annotations"]  # only the first frame annotated
    assert all(r["mask_file"] is None and r["annotations"] == [] for r in records[1:])
    assert all((r["height"], r["width"]) == (48, 64) for r in records)


def test_mask_frame_size_mismatch(davis_copy):
    mask = davis_copy / "Annotations" / "480p" / "syn-train-00" / "00002.png"
    Image.open(mask).resize((32, 24)).save(mask)
    with pytest.raises(DAVISFormatError, match=r"00002\.png.*32x24"):
        _load(davis_copy)


def test_truncated_and_unreadable_masks(davis_copy):
    mask = davis_copy / "Annotations" / "480p" / "syn-train-01" / "00001.png"
    data = mask.read_bytes()
    mask.write_bytes(data[: len(data) // 2])
    with pytest.raises(DAVISFormatError, match=r"syn-train-01.*00001\.png"):
        _load(davis_copy)
    mask.write_bytes(b"not a png at all")
    with pytest.raises(DAVISFormatError, match=r"00001\.png"):
        _load(davis_copy)


def test_rgb_masks_converted_when_in_palette_else_explained(davis_copy, tmp_path):
    reference = _load(davis_copy, tmp=tmp_path / "a")
    mask = davis_copy / "Annotations" / "480p" / "syn-train-00" / "00001.png"
    Image.open(mask).convert("RGB").save(mask)
    assert Image.open(mask).mode == "RGB"
    converted = _load(davis_copy, tmp=tmp_path / "b")
    assert converted[1]["annotations"] == reference[1]["annotations"]
    rgb = np.asarray(Image.open(mask)).copy()
    rgb[0, 0] = (1, 2, 3)
    Image.fromarray(rgb).save(mask)
    with pytest.raises(DAVISFormatError, match=r"00001\.png.*palette"):
        _load(davis_copy, tmp=tmp_path / "c")


def test_binary_mask_in_2017_set_is_explained(davis_copy):
    mask = davis_copy / "Annotations" / "480p" / "syn-train-00" / "00000.png"
    shutil.copy(davis_copy / "2016" / "Annotations" / "480p" / "syn-train-00" / "00000.png", mask)
    with pytest.raises(DAVISFormatError, match=r"00000\.png.*year='2016'"):
        _load(davis_copy)
