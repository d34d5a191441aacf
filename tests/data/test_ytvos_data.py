"""YouTube-VOS data: registration and lazy metadata, records of train and valid, the mask cache, the held-out split,
the synthetic YouTube-VOS generator, and bad input (each error names the file or video)."""
import hashlib
import importlib.util
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from helpers import REPO, YTVOS_SET
from PIL import Image

from slowfast_vos.data import dataset_benchmark, ensure_dataset_available
from vos_eval.benchmarks import DAVIS2017, YOUTUBE_VOS
from slowfast_vos.data.synthetic import ytvos as generator
from slowfast_vos.data.datasets import builtin, load_ytvos, register_ytvos
from slowfast_vos.data.datasets import ytvos as ytvos_module
from vos_eval.davis_format import davis_palette
from vos_eval.ytvos_format import (
    YTVOSFormatError,
    YTVOSLayout,
    holdout_videos,
    select_videos,
    video_hash_fraction,
)

DATASETS_DIR = REPO / "datasets"
# The shared ytvos_root fixture's generator arguments without its seed: FRAMES 30 fps frames, every FRAME_STEP-th
# one a 6 fps frame (SPARSE).
TINY = {**{k: v for k, v in YTVOS_SET.items() if k != "seed"}, "progress": None}
FRAMES = YTVOS_SET["frames"]
SPARSE = [f"{t:05d}" for t in range(0, FRAMES, generator.FRAME_STEP)]
RECORD_KEYS = {
    "file_name", "height", "width", "image_id", "sequence", "frame_name", "frame_index", "sequence_frames",
    "mask_file", "annotations", "all_frames", "all_frames_index",
}
YTVOS_NAMES = [f"ytvos{year}_{suffix}" for year in ("2018", "2019")
               for suffix in ("train", "valid", "train_holdout", "train_minus_holdout")] + [
    f"synthetic_ytvos_{suffix}" for suffix in ("train", "valid", "train_holdout", "train_minus_holdout")]


def _digests(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _load(root, split="train", subset=None, cache=None, **kwargs):
    return load_ytvos(str(root), "2019", split, subset, cache_dir=str(cache) if cache else None,
                      use_cache=cache is not None, **kwargs)


def _meta(root, split):
    return json.loads((Path(root) / split / "meta.json").read_text())


def _write_meta(root, split, data):
    (Path(root) / split / "meta.json").write_text(json.dumps(data))


def _ids(path) -> np.ndarray:
    return np.asarray(Image.open(path))


# Registration and metadata -----------------------------------------------------------------------------------------
def test_builtin_names_roots_and_metadata(monkeypatch, tmp_path):
    names = set(DatasetCatalog.list())
    assert set(YTVOS_NAMES) <= names
    valid = MetadataCatalog.get("ytvos2019_valid")
    assert valid.thing_classes == ["object"] and valid.evaluator_type == "ytvos"
    assert (valid.dataset_format, valid.year, valid.split, valid.task) == (
        "youtube-vos", "2019", "valid", "semi-supervised")
    assert isinstance(valid.layout, YTVOSLayout)
    assert valid.image_dir == os.path.join(valid.ytvos_root, "valid", "JPEGImages")
    assert valid.annotation_dir == os.path.join(valid.ytvos_root, "valid", "Annotations")
    assert valid.meta_file == os.path.join(valid.ytvos_root, "valid", "meta.json")
    holdout = MetadataCatalog.get("ytvos2018_train_holdout")
    assert (holdout.year, holdout.split, holdout.subset, holdout.task) == ("2018", "train", "holdout",
                                                                         "semi-supervised")
    assert MetadataCatalog.get("ytvos2018_train_minus_holdout").subset == "minus_holdout"
    assert MetadataCatalog.get("synthetic_ytvos_valid").ytvos_root.endswith("YouTube-VOS-synthetic")
    assert all(dataset_benchmark(name) is YOUTUBE_VOS for name in YTVOS_NAMES)
    assert dataset_benchmark("synthetic_davis2017_val") is DAVIS2017 and dataset_benchmark("davis2017_val") is DAVIS2017
    with pytest.raises(ValueError, match="'no_such_set' is not registered"):
        dataset_benchmark("no_such_set")
    # roots: $YTVOS<year>_ROOT, else $DETECTRON2_DATASETS/youtube-vos-<year>
    monkeypatch.delenv("YTVOS2018_ROOT", raising=False)
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    assert builtin.ytvos_root("2018") == str(tmp_path / "youtube-vos-2018")
    assert builtin.synthetic_ytvos_root() == str(tmp_path / "YouTube-VOS-synthetic")
    monkeypatch.setenv("YTVOS2019_ROOT", str(tmp_path / "mine"))
    assert builtin.ytvos_root("2019") == str(tmp_path / "mine")


def test_register_is_lazy_and_metadata_sequences(ytvos_root, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ytvos_module, "read_mask", lambda *a: calls.append(a))
    real_meta = YTVOSLayout.meta
    monkeypatch.setattr(YTVOSLayout, "meta", lambda self: calls.append("meta") or real_meta(self))
    names = ("test_yt_missing", "test_yt_valid", "test_yt_holdout", "test_yt_minus")
    register_ytvos(names[0], str(tmp_path / "nowhere"), "2019", "train", use_cache=False)
    register_ytvos(names[1], str(ytvos_root), "2019", "valid", use_cache=False)
    register_ytvos(names[2], str(ytvos_root), "2019", "train", "holdout", use_cache=False)
    register_ytvos(names[3], str(ytvos_root), "2019", "train", "minus_holdout", use_cache=False)
    try:
        assert calls == []  # registration reads nothing
        meta = MetadataCatalog.get(names[1])
        assert meta.sequences == ["syn-valid-00", "syn-valid-01"]
        assert meta.all_frames_dir == str(ytvos_root / "valid_all_frames" / "JPEGImages")
        assert calls == ["meta"]  # sequences come from meta.json, not from the masks
        held, rest = MetadataCatalog.get(names[2]).sequences, MetadataCatalog.get(names[3]).sequences
        assert sorted(held + rest) == ["syn-train-00", "syn-train-01", "syn-train-02"] and held
        assert not set(held) & set(rest)
        with pytest.raises(FileNotFoundError, match="nowhere"):
            DatasetCatalog.get(names[0])
    finally:
        for name in names:
            DatasetCatalog.remove(name)
            MetadataCatalog.remove(name)


# Records ------------------------------------------------------------------------------------------------------------
def test_train_records(ytvos_root, tmp_path):
    records = _load(ytvos_root, "train", cache=tmp_path)
    meta = _meta(ytvos_root, "train")["videos"]
    assert [r["sequence"] for r in records] == [v for v in sorted(meta) for _ in SPARSE]
    by_video = {}
    for r in records:
        assert set(r) == RECORD_KEYS  # no first_appearance on train
        by_video.setdefault(r["sequence"], []).append(r)
    for video, recs in by_video.items():
        assert [r["frame_name"] for r in recs] == SPARSE
        assert [r["frame_index"] for r in recs] == list(range(len(SPARSE)))
        assert all(r["sequence_frames"] is recs[0]["sequence_frames"] for r in recs)
        assert all(r["all_frames"] is recs[0]["all_frames"] for r in recs)
        assert [os.path.basename(p) for p in recs[0]["all_frames"]] == [f"{t:05d}.jpg" for t in range(FRAMES)]
        for r in recs:
            assert r["file_name"] == str(ytvos_root / "train" / "JPEGImages" / video / f"{r['frame_name']}.jpg")
            assert r["sequence_frames"][r["frame_index"]] == r["file_name"]
            assert r["all_frames_index"] == int(r["frame_name"])
            assert Path(r["all_frames"][r["all_frames_index"]]).read_bytes() == Path(r["file_name"]).read_bytes()
            assert r["image_id"] == f"{video}/{r['frame_name']}" and (r["height"], r["width"]) == (48, 64)
            assert r["mask_file"] == str(ytvos_root / "train" / "Annotations" / video / f"{r['frame_name']}.png")
            ids = _ids(r["mask_file"])
            assert [a["object_id"] for a in r["annotations"]] == sorted(set(np.unique(ids).tolist()) - {0})
            for a in r["annotations"]:
                assert a["category_id"] == 0 and a["iscrowd"] == 0 and a["bbox_mode"] == BoxMode.XYXY_ABS
                assert a["category"] == meta[video]["objects"][str(a["object_id"])]["category"]
                assert a["category"] in generator.CATEGORIES.values()
                m = mask_util.decode(a["segmentation"]).astype(bool)
                np.testing.assert_array_equal(m, ids == a["object_id"])
                ys, xs = np.nonzero(m)
                assert a["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_valid_records_first_appearance(ytvos_root, tmp_path):
    records = _load(ytvos_root, "valid", cache=tmp_path)
    meta = _meta(ytvos_root, "valid")["videos"]
    assert sorted({r["sequence"] for r in records}) == ["syn-valid-00", "syn-valid-01"]
    late = 0
    for r in records:
        assert set(r) == RECORD_KEYS | {"first_appearance"}
        first = r["first_appearance"]
        assert first == {int(k): o["frames"][0] for k, o in meta[r["sequence"]]["objects"].items()}
        new = sorted(k for k, frame in first.items() if frame == r["frame_name"])
        late += sum(frame != "00000" for frame in first.values()) if r["frame_index"] == 0 else 0
        if new:
            assert r["mask_file"] and [a["object_id"] for a in r["annotations"]] == new
            assert all(a["category"] == meta[r["sequence"]]["objects"][str(a["object_id"])]["category"]
                       for a in r["annotations"])
        else:
            assert r["mask_file"] is None and r["annotations"] == []
    assert late >= 1  # some object enters after the first frame


def test_holdout_records_carry_first_appearance(ytvos_root, tmp_path):
    held = _load(ytvos_root, "train", "holdout", cache=tmp_path)
    rest = _load(ytvos_root, "train", "minus_holdout", cache=tmp_path)
    everything = _load(ytvos_root, "train", cache=tmp_path)
    assert held and all("first_appearance" in r for r in held) and all("first_appearance" not in r for r in rest)
    assert sorted(r["image_id"] for r in held + rest) == sorted(r["image_id"] for r in everything)
    for r in held:  # full ground truth on every frame, plus where each object is first seen
        for a in r["annotations"]:
            assert r["first_appearance"][a["object_id"]] <= r["frame_name"]
    assert _load(ytvos_root, "train", ["syn-train-01"], cache=tmp_path)[0]["sequence"] == "syn-train-01"


def test_reads_one_jpeg_header_per_video(ytvos_root, monkeypatch):
    calls = []
    real = ytvos_module.frame_size
    monkeypatch.setattr(ytvos_module, "frame_size", lambda path, *a: calls.append(path) or real(path, *a))
    records = _load(ytvos_root, "train")
    assert sorted(calls) == sorted({r["sequence_frames"][0] for r in records}) and len(calls) == 3


def test_without_all_frames_folder(ytvos_copy, tmp_path):
    shutil.rmtree(ytvos_copy / "valid_all_frames")
    assert YTVOSLayout(str(ytvos_copy), "valid").all_frames_dir is None
    records = _load(ytvos_copy, "valid", cache=tmp_path)
    assert records and all(r["all_frames"] is None and r["all_frames_index"] is None for r in records)


# The mask cache -----------------------------------------------------------------------------------------------------
def test_mask_cache_second_load_reads_no_png(ytvos_copy, tmp_path, monkeypatch):
    reads = []
    real = ytvos_module.read_mask
    monkeypatch.setattr(ytvos_module, "read_mask", lambda path: reads.append(path) or real(path))
    first = _load(ytvos_copy, "train", cache=tmp_path / "cache")
    assert len(reads) == YTVOS_SET["train_videos"] * len(SPARSE)  # one read per train mask
    assert len(list((tmp_path / "cache").glob("ytvos-masks-*.json"))) == 1

    def fail(path):
        raise AssertionError(f"decoded {path} again")

    monkeypatch.setattr(ytvos_module, "read_mask", fail)
    second = _load(ytvos_copy, "train", cache=tmp_path / "cache")
    assert [r["annotations"] for r in second] == [r["annotations"] for r in first]
    # editing a mask invalidates the cache
    mask = ytvos_copy / "train" / "Annotations" / "syn-train-00" / "00005.png"
    ids = np.zeros((48, 64), np.uint8)
    ids[:4, :6] = 1
    image = Image.fromarray(ids)
    image.putpalette(davis_palette().tobytes())
    image.save(mask)
    monkeypatch.setattr(ytvos_module, "read_mask", real)
    (anno,) = _load(ytvos_copy, "train", cache=tmp_path / "cache")[1]["annotations"]
    assert anno["object_id"] == 1 and anno["bbox"] == [0.0, 0.0, 6.0, 4.0]


def test_default_cache_dir_from_environment(ytvos_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SLOWFAST_VOS_CACHE", str(tmp_path / "env-cache"))
    load_ytvos(str(ytvos_root), "2019", "valid")
    assert len(list((tmp_path / "env-cache" / "ytvos").glob("ytvos-masks-*.json"))) == 1


# The held-out split -------------------------------------------------------------------------------------------------
def test_holdout_split_is_deterministic_disjoint_and_covering():
    videos = [hashlib.md5(str(i).encode()).hexdigest()[:10] for i in range(2000)]
    held = holdout_videos(videos)
    assert held == [v for v in videos if int(hashlib.sha1(v.encode()).hexdigest(), 16) < 0.05 * 2 ** 160]
    assert held[:3] == ["cfcd208495", "1679091c5a", "e369853df7"]  # the same on every machine
    assert all(video_hash_fraction(v) < 0.05 for v in held)
    assert 0.03 * len(videos) < len(held) < 0.07 * len(videos)
    assert holdout_videos(list(reversed(videos))) == list(reversed(held))  # order of the input, same members
    assert holdout_videos(videos[:700]) == [v for v in held if v in set(videos[:700])]  # independent of the set
    rest = select_videos(videos, "minus_holdout", "meta")
    assert select_videos(videos, "holdout", "meta") == held
    assert not set(rest) & set(held) and sorted(rest + held) == sorted(videos)
    few = ["a", "b", "c"]
    assert len(holdout_videos(few)) == 1 and holdout_videos(few) == [min(few, key=video_hash_fraction)]
    assert holdout_videos([]) == []
    with pytest.raises(ValueError, match="subset"):
        select_videos(videos, "holdouts", "meta")


# The generator ------------------------------------------------------------------------------------------------------
def test_generator_same_seed_identical_bytes_other_seed_differs(ytvos_root, tmp_path):
    again = Path(generator.generate_synthetic_ytvos(str(tmp_path / "again"), seed=YTVOS_SET["seed"], **TINY))
    assert _digests(again) == _digests(ytvos_root)
    other = Path(generator.generate_synthetic_ytvos(str(tmp_path / "other"), seed=4, **TINY))
    assert _digests(other) != _digests(ytvos_root)


def test_generator_layout_late_objects_and_valid_masks(ytvos_root):
    assert (ytvos_root / generator.MARKER_FILE).is_file()
    for split, count in (("train", 3), ("valid", 2)):
        meta = _meta(ytvos_root, split)["videos"]
        assert sorted(meta) == [f"syn-{split}-{i:02d}" for i in range(count)]
        late = []
        for video, entry in meta.items():
            all_dir = ytvos_root / f"{split}_all_frames" / "JPEGImages" / video
            frame_dir = ytvos_root / split / "JPEGImages" / video
            assert sorted(p.name for p in all_dir.iterdir()) == [f"{t:05d}.jpg" for t in range(FRAMES)]
            assert sorted(p.stem for p in frame_dir.iterdir()) == SPARSE
            for name in SPARSE:
                assert (frame_dir / f"{name}.jpg").read_bytes() == (all_dir / f"{name}.jpg").read_bytes()
            assert Image.open(frame_dir / "00000.jpg").size == (64, 48)
            pngs = sorted(p.stem for p in (ytvos_root / split / "Annotations" / video).iterdir())
            first = {int(k): o["frames"][0] for k, o in entry["objects"].items()}
            late += [k for k, f in first.items() if f != "00000"]
            assert all(o["category"] in generator.CATEGORIES.values() for o in entry["objects"].values())
            if split == "train":
                assert pngs == SPARSE
                for k, o in entry["objects"].items():  # the frames where the object is visible
                    assert o["frames"] == [n for n in SPARSE
                                           if (_ids(ytvos_root / split / "Annotations" / video / f"{n}.png")
                                               == int(k)).any()]
            else:
                assert pngs == sorted(set(first.values()))  # masks only where objects first appear
                for name in pngs:
                    png = Image.open(ytvos_root / split / "Annotations" / video / f"{name}.png")
                    assert png.mode == "P"
                    present = set(np.unique(np.asarray(png)).tolist()) - {0}
                    assert present == {k for k, f in first.items() if f == name}  # only the new objects
                for o in entry["objects"].values():
                    assert o["frames"] == SPARSE[SPARSE.index(o["frames"][0]):]
        assert late, f"no object enters late in {split}"


def test_generator_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing(path, ids, year=None):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(generator, "write_id_png", failing)
    with pytest.raises(KeyboardInterrupt):
        generator.generate_synthetic_ytvos(str(tmp_path / "YouTube-VOS-synthetic"), **TINY)
    assert list(tmp_path.iterdir()) == []


def test_ensure_dataset_available_generates_synthetic_ytvos_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    real = generator.generate_synthetic_ytvos
    made = []
    monkeypatch.setattr(generator, "generate_synthetic_ytvos",
                        lambda root, **kw: made.append(root) or real(root, **TINY))
    ensure_dataset_available("synthetic_ytvos_train_holdout")
    assert made == [str(tmp_path / "YouTube-VOS-synthetic")]
    assert (tmp_path / "YouTube-VOS-synthetic" / generator.MARKER_FILE).is_file()
    ensure_dataset_available("synthetic_ytvos_valid")
    assert len(made) == 1
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="foreign"):
        generator.ensure_synthetic_ytvos(str(foreign))


def test_cli_youtube_vos_layout(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("prepare_synthetic_davis",
                                                  DATASETS_DIR / "prepare_synthetic_davis.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / "yt"
    argv = ["--layout", "youtube-vos", "--output", str(out), "--seed", "2", "--train-sequences", "1",
            "--val-sequences", "2", "--frames", "11", "--height", "40", "--width", "72"]
    cli.main(argv)
    assert "[3/3] valid/syn-valid-01: 11 frames" in capsys.readouterr().out
    assert sorted(_meta(out, "valid")["videos"]) == ["syn-valid-00", "syn-valid-01"]
    assert sorted(p.name for p in (out / "train" / "JPEGImages" / "syn-train-00").iterdir()) == [
        "00000.jpg", "00005.jpg", "00010.jpg"]
    assert Image.open(out / "valid_all_frames" / "JPEGImages" / "syn-valid-01" / "00010.jpg").size == (72, 40)
    with pytest.raises(FileExistsError, match=str(out)):
        cli.main(argv)
    assert cli.parse_args([]).layout == "davis"


def test_default_size_generation_time(tmp_path):
    start = time.perf_counter()
    root = Path(generator.generate_synthetic_ytvos(str(tmp_path / "YouTube-VOS-synthetic"), progress=None))
    elapsed = time.perf_counter() - start
    videos = sorted((root / "train_all_frames" / "JPEGImages").iterdir())
    print(f"default synthetic YouTube-VOS: {elapsed:.2f} s")
    assert len(videos) == 8 and len(list((root / "valid" / "JPEGImages").iterdir())) == 4
    assert all(36 <= len(os.listdir(v)) <= 51 for v in videos)
    assert Image.open(root / "train" / "JPEGImages" / "syn-train-00" / "00000.jpg").size == (192, 108)
    assert elapsed < 60


# Bad input ----------------------------------------------------------------------------------------------------------
def test_missing_root_and_meta(ytvos_copy, tmp_path):
    with pytest.raises(FileNotFoundError, match="not_there"):
        _load(tmp_path / "not_there")
    os.remove(ytvos_copy / "valid" / "meta.json")
    with pytest.raises(FileNotFoundError, match=r"valid.meta\.json"):
        _load(ytvos_copy, "valid")


@pytest.mark.parametrize("content, match", [
    ("{not json", r"meta\.json: not valid JSON"),
    ("[]", r'meta\.json: expected a JSON object with a "videos" key'),
    ('{"video": {}}', r'meta\.json: expected a JSON object with a "videos" key'),
    ('{"videos": []}', r'meta\.json: "videos" must be an object'),
    ('{"videos": {"abc": {"objects": []}}}', r"meta\.json: video 'abc'"),
    ('{"videos": {"abc": {"objects": {"x": {"frames": []}}}}}', r"meta\.json: video 'abc': object key 'x'"),
    ('{"videos": {"abc": {"objects": {"1": {"frames": "00000"}}}}}', r"video 'abc', object '1': \"frames\""),
    ('{"videos": {"abc": {"objects": {"1": {"category": 3, "frames": []}}}}}', r"object '1': \"category\""),
    ('{"videos": {"abc": {"objects": {"1": {"frames": ["../x"]}}}}}', r"frame name '\.\./x' is not a plain"),
    ('{"videos": {"../abc": {"objects": {}}}}', r"video name '\.\./abc' is not a plain name"),
    ('{"videos": {"a/b": {"objects": {}}}}', r"video name 'a/b' is not a plain name"),
])
def test_malformed_meta_names_file_and_key(ytvos_copy, content, match):
    (ytvos_copy / "train" / "meta.json").write_text(content)
    with pytest.raises(YTVOSFormatError, match=match):
        _load(ytvos_copy)


def test_listed_video_absent(ytvos_copy):
    meta = _meta(ytvos_copy, "train")
    meta["videos"]["ghost-video"] = {"objects": {}}
    _write_meta(ytvos_copy, "train", meta)
    with pytest.raises(YTVOSFormatError, match=r"ghost-video.*JPEGImages.ghost-video is missing"):
        _load(ytvos_copy)


def test_annotation_without_jpeg(ytvos_copy):
    folder = ytvos_copy / "valid" / "Annotations" / "syn-valid-00"
    shutil.copy(sorted(folder.iterdir())[0], folder / "00040.png")  # after the last frame
    with pytest.raises(YTVOSFormatError, match=r"syn-valid-00.00040\.png has no frame 00040\.jpg"):
        _load(ytvos_copy, "valid")


def test_train_jpeg_without_mask(ytvos_copy):
    os.remove(ytvos_copy / "train" / "Annotations" / "syn-train-01" / "00010.png")
    with pytest.raises(YTVOSFormatError, match=r"syn-train-01.00010\.jpg.*has no mask"):
        _load(ytvos_copy)


def test_mask_ids_not_in_meta(ytvos_copy, tmp_path):
    meta = _meta(ytvos_copy, "train")
    objects = meta["videos"]["syn-train-00"]["objects"]
    removed = max(objects, key=int)
    del objects[removed]
    _write_meta(ytvos_copy, "train", meta)
    with pytest.raises(YTVOSFormatError, match=rf"syn-train-00.000\d\d\.png holds object ids \[{removed}\]"):
        _load(ytvos_copy, cache=tmp_path)
    with pytest.raises(YTVOSFormatError, match=rf"\.png holds object ids \[{removed}\]"):
        _load(ytvos_copy, cache=tmp_path)  # also when the masks come from the cache


def test_all_frames_missing_frame_or_video(ytvos_copy):
    os.remove(ytvos_copy / "valid_all_frames" / "JPEGImages" / "syn-valid-01" / "00010.jpg")
    with pytest.raises(YTVOSFormatError, match=r"valid_all_frames.JPEGImages.syn-valid-01.00010\.jpg is missing"):
        _load(ytvos_copy, "valid")
    shutil.rmtree(ytvos_copy / "valid_all_frames" / "JPEGImages" / "syn-valid-01")
    with pytest.raises(YTVOSFormatError, match=r"syn-valid-01.*all-frames folder .*syn-valid-01 is missing"):
        _load(ytvos_copy, "valid")


def test_bad_masks_name_the_file(ytvos_copy):
    mask = ytvos_copy / "train" / "Annotations" / "syn-train-02" / "00005.png"
    Image.open(mask).resize((32, 24)).save(mask)
    with pytest.raises(YTVOSFormatError, match=r"00005\.png is 32x24"):
        _load(ytvos_copy)
    mask.write_bytes(b"not a png")
    with pytest.raises(YTVOSFormatError, match=r"syn-train-02.00005\.png"):
        _load(ytvos_copy)
