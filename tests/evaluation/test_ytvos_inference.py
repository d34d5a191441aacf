"""YouTube-VOS inference, submission and local scoring (evaluation/ytvos_evaluator.py, vos_eval.ytvos,
vos_eval.submission, tools/ytvos_submission.py) on a tiny set from the synthetic YouTube-VOS generator: objects that
appear late, the written folder, the checker, the zip, held-out scoring, OSVOS and an --eval-only run of
tools/train_net.py."""
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.structures import Instances
from PIL import Image

from helpers import REPO, YTVOS_SET, load_tool
from tiny import TINY_TRAIN_OPTS

from slowfast_vos.data import generate_synthetic_davis, register_davis
from slowfast_vos.data.datasets.ytvos import register_ytvos
from slowfast_vos.evaluation import YTVOSEvaluator
from vos_eval.davis_format import read_id_png, write_id_png
from vos_eval.submission import YTVOSSubmissionError, check_submission, write_submission_zip
from vos_eval.ytvos import evaluate_ytvos, required_frames, scored_objects
from vos_eval.ytvos_format import YTVOSLayout

H, W = YTVOS_SET["height"], YTVOS_SET["width"]


@pytest.fixture(scope="module")
def root(ytvos_root, tmp_path_factory):
    """A $DETECTRON2_DATASETS folder holding the shared synthetic YouTube-VOS (a link to conftest's ytvos_root)."""
    datasets = tmp_path_factory.mktemp("datasets")
    (datasets / "YouTube-VOS-synthetic").symlink_to(ytvos_root, target_is_directory=True)
    return datasets


def _register(ytvos_root, split, subset=None, task=None):
    name = f"test_ytvos_{split}_{uuid.uuid4().hex[:8]}"
    register_ytvos(name, ytvos_root, "2019", split, subset, task=task, use_cache=False)
    return name


def _run(name, out, predict, **kwargs):
    """Feed every record of a registered set, in video order, with predict(record) -> (masks, scores) to a
    YTVOSEvaluator; return it and evaluate()'s results."""
    options = dict(score_thresh=0.0, mask_thresh=0.5, max_objects=20, match_iou=0.1, distributed=False)
    options.update(kwargs)
    evaluator = YTVOSEvaluator(name, str(out), **options)
    evaluator.reset()
    for record in DatasetCatalog.get(name):
        masks, scores = predict(record)
        instances = Instances((record["height"], record["width"]))
        instances.pred_masks = torch.as_tensor(np.asarray(masks, dtype=bool).reshape(-1, record["height"],
                                                                                     record["width"]))
        instances.scores = torch.as_tensor(np.asarray(scores, dtype=np.float32))
        inputs = {k: record[k] for k in ("sequence", "frame_name", "height", "width")}
        evaluator.process([inputs], [{"instances": instances}])
    return evaluator, evaluator.evaluate()


def _gt(layout, video, frame):
    return read_id_png(os.path.join(layout.annotation_dir, video, frame + ".png"), "2017")


def _late_objects(layout):
    """(video, object, first-appearance frame) of the objects that do not appear on a video's first frame."""
    out = []
    for video, objects in layout.meta().items():
        first_frame = required_frames(objects)[0]
        out += [(video, obj, frame) for obj, frame in layout.first_appearances(video).items() if frame != first_frame]
    return out


def test_late_objects_get_their_given_mask_on_their_first_frame_and_never_appear_before(ytvos_root, tmp_path):
    layout = YTVOSLayout(ytvos_root, "valid")
    late = _late_objects(layout)
    assert late, "the synthetic valid split should have an object entering after frame 0"
    given = {video: {} for video in layout.videos()}
    for video in layout.videos():
        for obj, frame in layout.first_appearances(video).items():
            given[video][obj] = (frame, _gt(layout, video, frame) == obj)

    def ghosts(record):
        """A full-frame instance and, before each object's first appearance, an instance where it will be."""
        objects = given[record["sequence"]]
        masks = [np.ones((H, W), bool)] + [m for f, m in objects.values() if record["frame_name"] < f]
        return np.stack(masks), np.linspace(0.9, 0.5, len(masks))

    name = _register(ytvos_root, "valid")
    evaluator, results = _run(name, tmp_path / "out", ghosts)
    assert results == {}  # valid: nothing to score here
    checked = 0
    for video, objects in given.items():
        for frame in required_frames(layout.meta()[video]):
            labels = read_id_png(str(tmp_path / "out" / "Annotations" / video / f"{frame}.png"))
            assert set(np.unique(labels)) <= {0, *layout.meta()[video]}
            for obj, (first, mask) in objects.items():
                if frame < first:
                    assert obj not in labels, f"{video}/{frame}: object {obj} written before its first frame {first}"
                elif frame == first:
                    np.testing.assert_array_equal(labels == obj, mask)
                    checked += 1
    assert checked == sum(len(o) for o in given.values())


def test_tracking_continues_earlier_objects_across_a_late_objects_given_frame(ytvos_root, tmp_path):
    """Each object predicted as its first-appearance mask on every frame from its appearance on (so mask IoU can
    follow it), and as a ghost before it: earlier objects keep their ids through a late object's given frame, the
    given mask wins there, ghosts get no id, and a higher score wins an overlap."""
    layout = YTVOSLayout(ytvos_root, "train")
    assert _late_objects(layout)
    first = {v: layout.first_appearances(v) for v in layout.videos()}
    static = {v: {o: _gt(layout, v, f) == o for o, f in first[v].items()} for v in layout.videos()}
    score = {o: 0.9 - 0.1 * o for o in range(1, 6)}  # lower ids win overlaps

    def predict(record):
        video, frame = record["sequence"], record["frame_name"]
        objs = sorted(first[video])
        ghosts = [static[video][o] for o in objs if frame < first[video][o]]
        masks = [static[video][o] for o in objs if frame >= first[video][o]] + ghosts
        scores = [score[o] for o in objs if frame >= first[video][o]] + [0.95] * len(ghosts)
        return np.stack(masks), np.array(scores)

    name = _register(ytvos_root, "train", task="semi-supervised")
    _run(name, tmp_path / "out", predict)
    checked = 0
    for video in layout.videos():
        for frame in required_frames(layout.meta()[video]):
            expected = np.zeros((H, W), np.uint8)
            earlier = [o for o in first[video] if first[video][o] < frame]
            for o in sorted(earlier, key=lambda o: score[o]):
                expected[static[video][o]] = o
            for o in sorted(o for o in first[video] if first[video][o] == frame):
                expected[static[video][o]] = o
                checked += bool(earlier)
            out = read_id_png(str(tmp_path / "out" / "Annotations" / video / f"{frame}.png"))
            np.testing.assert_array_equal(out, expected, err_msg=f"{video}/{frame}")
    assert checked > 0, "no late object entered while an earlier one was tracked"


@pytest.fixture(scope="module")
def valid_results(ytvos_root, tmp_path_factory):
    """A complete valid results folder written by the evaluator (no predictions: the given masks only)."""
    out = tmp_path_factory.mktemp("valid")
    name = _register(ytvos_root, "valid")
    evaluator, _ = _run(name, out, lambda r: (np.zeros((0, H, W), bool), np.zeros(0)))
    return Path(evaluator.results_dir), out


def test_written_folder_is_exactly_the_meta_json_frames_and_the_evaluator_zips_it(ytvos_root, valid_results):
    results, out = valid_results
    layout = YTVOSLayout(ytvos_root, "valid")
    meta = layout.meta()
    assert sorted(os.listdir(results)) == sorted(meta)
    for video, objects in meta.items():
        assert sorted(os.listdir(results / video)) == [f"{f}.png" for f in required_frames(objects)]
        # The synthetic valid lists frames from the first appearance on; JPEGImages has every 6 fps frame.
        assert len(required_frames(objects)) <= len(layout.frame_files(video))
    with zipfile.ZipFile(out / "submission.zip") as zf:
        expected = [f"Annotations/{v}/{f}.png" for v in meta for f in required_frames(meta[v])]
        assert sorted(zf.namelist()) == sorted(expected)


def _copy(results, tmp_path):
    target = tmp_path / "results"
    shutil.copytree(results, target)
    return target


def test_checker_lists_missing_frames_wrong_sizes_bad_ids_and_unreadable_pngs(ytvos_root, valid_results, tmp_path):
    layout = YTVOSLayout(ytvos_root, "valid")
    meta = layout.meta()
    assert check_submission(str(valid_results[0]), layout).ok
    results = _copy(valid_results[0], tmp_path)
    frames = [(v, f) for v in sorted(meta) for f in required_frames(meta[v])]
    removed = frames[:5]
    for video, frame in removed:
        (results / video / f"{frame}.png").unlink()
    (video, frame), (video2, frame2), (video3, frame3) = frames[5], frames[6], frames[7]
    write_id_png(str(results / video / f"{frame}.png"), np.full((H, W), 9, np.uint8))  # an id no object has
    write_id_png(str(results / video2 / f"{frame2}.png"), np.zeros((H + 1, W), np.uint8))  # the wrong size
    Image.new("RGB", (W, H)).save(results / video3 / f"{frame3}.png")  # a colour image, not ids
    late_video, late_obj, late_frame = _late_objects(layout)[0]
    before = [f for f in required_frames(meta[late_video]) if f < late_frame
              and (late_video, f) not in removed + frames[5:8]]
    if before:  # an object painted before its first appearance
        write_id_png(str(results / late_video / f"{before[0]}.png"), np.full((H, W), late_obj, np.uint8))

    report = check_submission(str(results), layout)
    assert not report.ok
    assert report.missing == [f"{v}/{f}" for v, f in removed]
    assert [item.split(" ")[0] for item in report.bad_ids] == (
        [f"{video}/{frame}"] + ([f"{late_video}/{before[0]}"] if before else []))
    assert report.wrong_size[0].startswith(f"{video2}/{frame2} ({W}x{H + 1}, the frame is {W}x{H})")
    assert report.unreadable[0].startswith(f"{video3}/{frame3} (mode 'RGB'")
    summary = report.summary(max_listed=3)
    assert "5 missing frames" in summary and "... and 2 more" in summary
    assert all(f"{v}/{f}" in summary for v, f in removed[:3]) and f"{removed[3][0]}/{removed[3][1]}" not in summary
    with pytest.raises(YTVOSSubmissionError, match="5 missing frames"):
        write_submission_zip(str(results), layout, str(tmp_path / "s.zip"))
    assert not (tmp_path / "s.zip").exists()

    tool = load_tool("ytvos_submission")
    meta_file = os.path.join(ytvos_root, "valid", "meta.json")
    assert tool.main(["--results", str(results), "--meta", meta_file, "--check-only"]) == tool.EXIT_INVALID
    assert tool.main(["--results", str(valid_results[0].parent), "--meta", meta_file, "--check-only"]) == tool.EXIT_OK
    assert tool.main(["--results", str(results), "--meta", str(tmp_path / "valid" / "meta.json"),
                      "--check-only"]) == tool.EXIT_USAGE
    assert tool.main(["--results", str(results), "--meta", meta_file]) == tool.EXIT_USAGE  # no --output


def test_first_appearance_is_one_rule_for_loader_evaluator_and_submission_check(ytvos_root, valid_results, tmp_path):
    # A meta.json that lists a late object on a frame before its mask is given: the object still first appears where
    # its mask is, for the loader's records, the layout (given masks, scoring) and the submission check alike.
    root = tmp_path / "yt"
    shutil.copytree(os.path.join(ytvos_root, "valid"), root / "valid")
    video, obj, first = _late_objects(YTVOSLayout(ytvos_root, "valid"))[0]
    meta_file = root / "valid" / "meta.json"
    meta = json.loads(meta_file.read_text())
    frames = meta["videos"][video]["objects"][str(obj)]["frames"]
    earlier = required_frames(YTVOSLayout(ytvos_root, "valid").meta()[video])[0]
    meta["videos"][video]["objects"][str(obj)]["frames"] = [earlier] + [f for f in frames if f != earlier]
    meta_file.write_text(json.dumps(meta))
    layout = YTVOSLayout(str(root), "valid")
    assert layout.first_appearances(video)[obj] == first != earlier
    records = DatasetCatalog.get(_register(str(root), "valid"))
    for record in records:
        assert record["first_appearance"] == layout.first_appearances(record["sequence"])
    results = _copy(valid_results[0], tmp_path)
    write_id_png(str(results / video / f"{earlier}.png"), np.full((H, W), obj, np.uint8))
    report = check_submission(str(results), layout)
    assert [item.split(" ")[0] for item in report.bad_ids] == [f"{video}/{earlier}"]


def test_submission_zip_has_annotations_at_its_root_readable_pngs_and_is_atomic(ytvos_root, valid_results, tmp_path,
                                                                               monkeypatch, capsys):
    layout = YTVOSLayout(ytvos_root, "valid")
    meta = layout.meta()
    results = str(valid_results[0])
    tool = load_tool("ytvos_submission")
    output = tmp_path / "submission.zip"
    assert tool.main(["--results", results, "--meta", os.path.join(ytvos_root, "valid", "meta.json"),
                      "--output", str(output)]) == tool.EXIT_OK
    expected = [f"Annotations/{v}/{f}.png" for v in sorted(meta) for f in required_frames(meta[v])]
    with zipfile.ZipFile(output) as zf:
        assert zf.namelist() == expected
        for name in expected:
            with zf.open(name) as f:
                image = Image.open(f)
                image.load()
            assert image.mode == "P"
            np.testing.assert_array_equal(np.asarray(image), read_id_png(os.path.join(results, *name.split("/")[1:])))
    before = output.read_bytes()

    # A failure half-way through leaves the previous zip as it was, and no temporary file.
    calls = {"n": 0}
    real_write = zipfile.ZipFile.write

    def failing_write(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        write_submission_zip(results, layout, str(output))
    assert output.read_bytes() == before
    fresh = tmp_path / "fresh" / "submission.zip"
    calls["n"] = 0
    assert tool.main(["--results", results, "--meta", os.path.join(ytvos_root, "valid", "meta.json"),
                      "--output", str(fresh)]) == tool.EXIT_WRITE
    assert "No space left" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["fresh", "submission.zip"] and os.listdir(fresh.parent) == []


def _gt_results(layout, folder):
    """A results folder that is the ground truth on every listed frame."""
    for video, objects in layout.meta().items():
        for frame in required_frames(objects):
            write_id_png(os.path.join(folder, video, f"{frame}.png"), _gt(layout, video, frame))
    return folder


def test_holdout_scoring_perfect_is_one_and_a_known_error_gives_the_hand_computed_value(ytvos_root, tmp_path):
    layout = YTVOSLayout(ytvos_root, "train")
    results = _gt_results(layout, str(tmp_path / "perfect"))
    perfect = evaluate_ytvos(layout, results, "semi-supervised", output_dir=str(tmp_path))
    assert perfect.global_metrics == {"J&F-Mean": 1.0, "J-Mean": 1.0, "J-Recall": 1.0, "J-Decay": 0.0,
                                      "F-Mean": 1.0, "F-Recall": 1.0, "F-Decay": 0.0}
    assert (tmp_path / "global_results-train.csv").is_file()
    objects = [(v, o, fs) for v in layout.videos() for o, fs in scored_objects(layout, v) if fs]
    assert len(perfect.per_sequence) == len(objects)
    # Each object is scored on its listed frames strictly after its first appearance.
    for video, obj, frames in objects:
        first = layout.first_appearances(video)[obj]
        assert perfect.frames[f"{video}_{obj}"] == (video, frames) and first not in frames
        assert frames == [f for f in required_frames(layout.meta()[video]) if f > first]

    # Wrong only on the first-appearance frames (where the mask is given): not scored, still perfect.
    for video in layout.videos():
        for obj, frame in layout.first_appearances(video).items():
            path = os.path.join(results, video, f"{frame}.png")
            labels = read_id_png(path)
            labels[labels == obj] = 0
            write_id_png(path, labels)
    assert evaluate_ytvos(layout, results, "semi-supervised", write_csvs=False).global_metrics["J&F-Mean"] == 1.0

    # One object missing on one of its n scored frames, where the ground truth has it: that frame's J = F = 0, so
    # its J-Mean = F-Mean = (n - 1) / n, and the set's mean over K objects is 1 - 1 / (n K).
    results = _gt_results(layout, str(tmp_path / "wrong"))
    video, obj, frames = next((v, o, fs) for v, o, fs in objects
                              if any((_gt(layout, v, f) == o).any() for f in fs))
    frame = next(f for f in frames if (_gt(layout, video, f) == obj).any())
    path = os.path.join(results, video, f"{frame}.png")
    labels = read_id_png(path)
    labels[labels == obj] = 0
    write_id_png(path, labels)
    n, k = len(frames), len(objects)
    wrong = evaluate_ytvos(layout, results, "semi-supervised", write_csvs=False)
    assert wrong.global_metrics["J-Mean"] == pytest.approx(1 - 1 / (n * k))
    assert wrong.global_metrics["F-Mean"] == pytest.approx(1 - 1 / (n * k))
    assert wrong.global_metrics["J&F-Mean"] == pytest.approx(1 - 1 / (n * k))
    row = next(r for r in wrong.per_sequence if r[0] == f"{video}_{obj}")
    assert row[1] == pytest.approx((n - 1) / n)


def test_unsupervised_scoring_matches_ids_and_semi_supervised_refuses_unknown_ids(ytvos_root, tmp_path):
    layout = YTVOSLayout(ytvos_root, "train")
    results = _gt_results(layout, str(tmp_path / "shifted"))
    for video, objects in layout.meta().items():  # every id k written as k + 1: right masks, other ids
        for frame in required_frames(objects):
            path = os.path.join(results, video, f"{frame}.png")
            labels = read_id_png(path)
            write_id_png(path, np.where(labels > 0, labels + 1, 0).astype(np.uint8))
    assert evaluate_ytvos(layout, results, "unsupervised", write_csvs=False).global_metrics["J&F-Mean"] == 1.0
    with pytest.raises(ValueError, match="holds ids"):
        evaluate_ytvos(layout, results, "semi-supervised", write_csvs=False)
    video = layout.videos()[0]
    os.remove(os.path.join(results, video, f"{required_frames(layout.meta()[video])[-1]}.png"))
    with pytest.raises(ValueError, match="1 result frames are missing"):
        evaluate_ytvos(layout, results, "unsupervised", write_csvs=False)


@pytest.mark.slow
def test_train_net_eval_only_scores_the_synthetic_holdout(root, ytvos_root, tmp_path):
    layout = YTVOSLayout(ytvos_root, "train")
    out = tmp_path / "eval"
    env = dict(os.environ, DETECTRON2_DATASETS=str(root), OMP_NUM_THREADS="1",
               SLOWFAST_VOS_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file",
           str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml"), "--eval-only", "--allow-random-weights",
           *TINY_TRAIN_OPTS, "DATALOADER.NUM_WORKERS", "0", "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu",
           "DATASETS.TEST", '("synthetic_ytvos_train_holdout",)', "OUTPUT_DIR", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"train_net failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    assert "copypaste: ytvos/J&F-Mean=" in proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"] == "synthetic_ytvos_train_holdout"
    assert 0.0 <= results["ytvos"]["J&F-Mean"] <= 1.0 and results["timing"]["frames"] > 0
    from vos_eval.ytvos_format import holdout_videos

    held = holdout_videos(layout.videos())
    written = out / "inference" / "synthetic_ytvos_train_holdout" / "Annotations"
    assert sorted(os.listdir(written)) == sorted(held)
    for video in held:
        assert sorted(os.listdir(written / video)) == [f"{f}.png" for f in required_frames(layout.meta()[video])]
    assert (out / "inference" / "synthetic_ytvos_train_holdout" / "global_results-train_holdout.csv").is_file()


@pytest.mark.slow
def test_train_net_eval_only_and_osvos_net_write_the_valid_submission(root, ytvos_root, tmp_path):
    """The two command-line tools on YouTube-VOS valid: every meta.json frame written, a zip, no scores."""
    meta = YTVOSLayout(ytvos_root, "valid").meta()
    expected = sum(len(required_frames(o)) for o in meta.values())
    env = dict(os.environ, DETECTRON2_DATASETS=str(root), OMP_NUM_THREADS="1",
               SLOWFAST_VOS_CACHE=str(tmp_path / "cache"))
    common = ["--config-file", str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml"), "--allow-random-weights",
              *TINY_TRAIN_OPTS, "DATALOADER.NUM_WORKERS", "0", "MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu",
              "DATASETS.TEST", '("synthetic_ytvos_valid",)']
    runs = {
        "eval": [str(REPO / "tools" / "train_net.py"), "--eval-only", *common],
        "osvos": [str(REPO / "tools" / "osvos_net.py"), *common, "OSVOS.ITERS", "1"],
    }
    for name, cmd in runs.items():
        out = tmp_path / name
        proc = subprocess.run([sys.executable, *cmd, "OUTPUT_DIR", str(out)], env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        zips = list(out.rglob("submission.zip"))
        assert len(zips) == 1, (name, zips)
        with zipfile.ZipFile(zips[0]) as zf:
            names = zf.namelist()
        assert len(names) == expected and all(n.startswith("Annotations/") for n in names)
        assert not (out / "results.json").exists()  # valid has nothing to score locally
    assert "submission: " in proc.stdout  # osvos_net names the zip


@pytest.mark.slow
def test_osvos_finetunes_on_given_masks_then_zips_valid_and_scores_the_holdout(tiny_model_cfg, ytvos_root, tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from slowfast_vos.engine.osvos import OSVOSRunner

    cfg = tiny_model_cfg
    DetectionCheckpointer(build_model(cfg), save_dir=str(tmp_path)).save("parent")
    cfg.MODEL.WEIGHTS = str(tmp_path / "parent.pth")
    cfg.OSVOS.ITERS, cfg.OSVOS.LOG_PERIOD, cfg.SOLVER.IMS_PER_BATCH = 1, 1, 2
    cfg.DATALOADER.NUM_WORKERS, cfg.TEST.VOS.WORKERS = 0, 0
    valid = _register(ytvos_root, "valid")
    cfg.DATASETS.TEST = (valid,)
    result = OSVOSRunner(cfg, str(tmp_path / "valid")).run()
    meta = YTVOSLayout(ytvos_root, "valid").meta()
    with zipfile.ZipFile(result["submission"]) as zf:
        assert len(zf.namelist()) == sum(len(required_frames(o)) for o in meta.values())
    assert sorted(p.stem for p in (tmp_path / "valid" / "sequences_done").glob("*.json")) == sorted(meta)

    holdout = _register(ytvos_root, "train", "holdout")
    cfg.DATASETS.TEST = (holdout,)
    result = OSVOSRunner(cfg, str(tmp_path / "holdout")).run()
    assert 0.0 <= result["ytvos"]["J&F-Mean"] <= 1.0 and result["sequences"] >= 1
    assert (tmp_path / "holdout" / "results.json").is_file()


def test_osvos_picks_the_given_masks_of_the_sets_benchmark(ytvos_root, tmp_path):
    from tiny import tiny_cfg

    from vos_eval.benchmarks import DAVIS2017, YOUTUBE_VOS

    from slowfast_vos.engine.osvos import OSVOSRunner, given_records

    cfg = tiny_cfg(1, 3)
    cfg.DATASETS.TEST = (_register(ytvos_root, "valid"),)
    runner = OSVOSRunner(cfg, str(tmp_path / "valid"), allow_random_weights=True)
    assert runner.benchmark is YOUTUBE_VOS
    layout = YTVOSLayout(ytvos_root, "valid")
    video, obj, frame = _late_objects(layout)[0]
    given = given_records(runner.benchmark, runner.evaluator.layout, video, runner.sequences()[video])
    first = layout.first_appearances(video)
    assert [r["frame_name"] for r in given] == sorted(set(first.values()))
    for record in given:  # each given frame holds the objects that first appear on it, no other
        assert {a["object_id"] for a in record["annotations"]} == {o for o, f in first.items()
                                                                    if f == record["frame_name"]}
    cfg.TEST.YTVOS.TASK = "unsupervised"
    with pytest.raises(ValueError, match="OSVOS is semi-supervised"):
        OSVOSRunner(cfg, str(tmp_path / "unsupervised"), allow_random_weights=True)
    davis = tmp_path / "DAVIS"
    generate_synthetic_davis(str(davis), train_sequences=1, val_sequences=1, frames=3, height=H, width=W,
                             progress=None)
    name = f"test_davis_{uuid.uuid4().hex[:8]}"
    register_davis(name, str(davis), "2017", "val", use_cache=False)
    cfg.DATASETS.TEST, cfg.TEST.DAVIS.TASK = (name,), "semi-supervised"
    runner = OSVOSRunner(cfg, str(tmp_path / "davis"), allow_random_weights=True)
    sequence, records = next(iter(runner.sequences().items()))
    assert runner.benchmark is DAVIS2017
    assert given_records(runner.benchmark, runner.evaluator.layout, sequence, records) == records[:1]


def test_inference_records_stream_every_30fps_frame_and_keep_the_annotated_records(ytvos_root):
    from slowfast_vos.data.datasets.ytvos import inference_records

    records = DatasetCatalog.get(_register(ytvos_root, "valid"))
    assert inference_records(records, "annotated") == records
    frames = inference_records(records, "all_frames")
    assert inference_records(records, "auto") == frames
    layout = YTVOSLayout(ytvos_root, "valid")
    by_name = {(r["sequence"], r["frame_name"]): r for r in records}
    for video in layout.videos():
        mine = [r for r in frames if r["sequence"] == video]
        all_files = layout.all_frame_files(video)
        assert [r["frame_index"] for r in mine] == list(range(len(all_files)))  # 30 fps, in order
        assert [r["frame_name"] for r in mine] == [os.path.splitext(f)[0] for f in all_files]
        for r in mine:
            annotated = by_name.get((video, r["frame_name"]))
            if annotated is not None:  # an annotated frame keeps its own JPEG, mask and given objects
                assert r["file_name"] == annotated["file_name"] and r["mask_file"] == annotated["mask_file"]
                assert r["annotations"] == annotated["annotations"]
            else:
                assert "_all_frames" in r["file_name"] and r["mask_file"] is None and r["annotations"] == []
    assert len(frames) > 4 * len(records)
    no_folder = [dict(r, all_frames=None) for r in records]
    assert inference_records(no_folder, "auto") == no_folder
    with pytest.raises(ValueError, match=f"video '{records[0]['sequence']}' has no all-frames folder"):
        inference_records(no_folder, "all_frames")
    with pytest.raises(ValueError, match="TEST.YTVOS.INFERENCE_FRAMES must be one of"):
        inference_records(records, "every_frame")


def test_all_frames_inference_writes_the_same_frames_with_the_given_masks(tiny_model_cfg, ytvos_root, tmp_path):
    """Segmenting every 30 fps frame: the loader streams them in order, the evaluator still writes exactly the
    meta.json frames, and each given mask is written on its first-appearance frame."""
    from slowfast_vos.data.build import build_video_test_loader

    name = _register(ytvos_root, "valid")
    cfg = tiny_model_cfg
    cfg.TEST.YTVOS.INFERENCE_FRAMES, cfg.DATALOADER.NUM_WORKERS = "all_frames", 0
    layout = YTVOSLayout(ytvos_root, "valid")
    seen = [(batch[0]["sequence"], batch[0]["file_name"]) for batch in build_video_test_loader(cfg, name)]
    for video in layout.videos():
        assert [os.path.basename(f) for v, f in seen if v == video] == layout.all_frame_files(video)
    from slowfast_vos.data.datasets.ytvos import inference_records

    frames = inference_records(DatasetCatalog.get(name), "all_frames")
    evaluator = YTVOSEvaluator(name, str(tmp_path / "out"), score_thresh=0.0, mask_thresh=0.5, max_objects=20,
                               match_iou=0.1, distributed=False)
    evaluator.reset()
    for record in frames:
        instances = Instances((record["height"], record["width"]))
        instances.pred_masks = torch.ones((1, record["height"], record["width"]), dtype=torch.bool)
        instances.scores = torch.tensor([0.9])
        inputs = {k: record[k] for k in ("sequence", "frame_name", "height", "width")}
        evaluator.process([inputs], [{"instances": instances}])
    assert evaluator.evaluate() == {}
    for video in layout.videos():
        written = sorted(os.listdir(tmp_path / "out" / "Annotations" / video))
        assert written == [f"{f}.png" for f in required_frames(layout.meta()[video])]
        for obj, frame in layout.first_appearances(video).items():
            labels = read_id_png(str(tmp_path / "out" / "Annotations" / video / f"{frame}.png"))
            np.testing.assert_array_equal(labels == obj, _gt(layout, video, frame) == obj)
