"""Recorded detections (TEST.VOS.SAVE_INSTANCES, slowfast_vos/evaluation/recorded.py) and tools/replay_tracking.py:
a replay with the recording's own rules writes exactly what the live evaluation wrote; other rules run on the same
detections; a missing or mismatched recording is an error naming it."""
import json
import os

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog
from detectron2.structures import Instances
from helpers import load_tool
from PIL import Image

from slowfast_vos.evaluation.recorded import InstanceRecorder, RecordedInstancesError, ReplayModel


def instances(masks, scores, object_ids=None):
    inst = Instances(masks.shape[1:], pred_masks=torch.as_tensor(masks), scores=torch.as_tensor(scores))
    if object_ids is not None:
        inst.object_ids = torch.as_tensor(object_ids)
    return inst


def test_a_recorded_video_replays_frame_by_frame(tmp_path):
    rng = np.random.default_rng(0)
    frames = {f"{t:05d}": (rng.random((n, 6, 8)) > 0.5, rng.random(n).astype(np.float32))
              for t, n in enumerate((2, 0, 3))}
    recorder = InstanceRecorder(str(tmp_path / "rec"), mask_thresh=0.5)
    for name, (masks, scores) in frames.items():
        recorder.add("seq-a", name, instances(masks, scores))
    recorder.add("seq-b", "00000", instances(frames["00000"][0], frames["00000"][1], object_ids=[3, 4]))
    recorder.flush()
    assert sorted(os.listdir(tmp_path / "rec")) == ["meta.json", "seq-a.npz", "seq-b.npz"]
    # Binary masks from the model: no threshold was applied, so any TEST.VOS.MASK_THRESH may replay them.
    assert json.loads((tmp_path / "rec" / "meta.json").read_text())["mask_thresh"] is None
    model = ReplayModel(str(tmp_path / "rec"))
    inputs = [{"sequence": "seq-a", "frame_name": name, "height": 6, "width": 8} for name in frames]
    for inp, out in zip(inputs, model.inference_video(iter(inputs))):
        masks, scores = frames[inp["frame_name"]]
        np.testing.assert_array_equal(out["instances"].pred_masks.numpy(), masks)
        np.testing.assert_array_equal(out["instances"].scores.numpy(), scores)
        assert not out["instances"].has("object_ids")
    out = next(model.inference_video(iter([{"sequence": "seq-b", "frame_name": "00000", "height": 6, "width": 8}])))
    assert out["instances"].object_ids.tolist() == [3, 4]


def test_probability_masks_are_recorded_binarised_with_their_threshold(tmp_path):
    recorder = InstanceRecorder(str(tmp_path / "rec"), mask_thresh=0.3)
    recorder.add("s", "0", instances(np.array([[[0.2, 0.4], [0.9, 0.0]]], dtype=np.float32), [0.9]))
    recorder.flush()
    model = ReplayModel(str(tmp_path / "rec"))
    assert model.meta["mask_thresh"] == 0.3
    out = next(model.inference_video(iter([{"sequence": "s", "frame_name": "0", "height": 2, "width": 2}])))
    assert out["instances"].pred_masks.tolist() == [[[False, True], [True, False]]]


def test_missing_recording_video_frame_or_size_is_an_error_naming_it(tmp_path):
    with pytest.raises(RecordedInstancesError, match="meta.json missing"):
        ReplayModel(str(tmp_path / "nothing"))
    recorder = InstanceRecorder(str(tmp_path / "rec"), mask_thresh=0.5)
    recorder.add("s", "0", instances(np.zeros((1, 4, 4), bool), [0.5]))
    recorder.flush()
    model = ReplayModel(str(tmp_path / "rec"))
    with pytest.raises(RecordedInstancesError, match="other.npz is missing"):
        list(model.inference_video(iter([{"sequence": "other", "frame_name": "0", "height": 4, "width": 4}])))
    with pytest.raises(RecordedInstancesError, match="has no frame '7'"):
        list(model.inference_video(iter([{"sequence": "s", "frame_name": "7", "height": 4, "width": 4}])))
    with pytest.raises(RecordedInstancesError, match="recorded at 4x4, the frame is 8x4"):
        list(model.inference_video(iter([{"sequence": "s", "frame_name": "0", "height": 4, "width": 8}])))


@pytest.fixture(scope="module")
def recorded(davis_sets, tmp_path_factory):
    """A live semi-supervised evaluation (tiny random model, every detection kept, several objects) that recorded its
    instances: (config file, its OUTPUT_DIR, the evaluation folder, the recorded J&F)."""
    from detectron2.modeling import build_model
    from tiny import tiny_cfg

    from slowfast_vos.engine import VOSTrainer

    tmp = tmp_path_factory.mktemp("replay")
    cfg = tiny_cfg()
    cfg.merge_from_list(["TEST.VOS.SCORE_THRESH", "0.0", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
                         "TEST.VOS.WORKERS", "0"])
    config_file = tmp / "tiny.yaml"
    config_file.write_text(cfg.dump())
    cfg.merge_from_list(["DATASETS.TEST", f"('{davis_sets['val']}',)", "TEST.DAVIS.TASK", "semi-supervised",
                         "TEST.VOS.SAVE_INSTANCES", "True", "OUTPUT_DIR", str(tmp / "live")])
    torch.manual_seed(0)
    results = VOSTrainer.test(cfg, build_model(cfg).eval())
    folder = tmp / "live" / "inference" / davis_sets["val"]
    return str(config_file), folder, results["davis"]["J&F-Mean"]


def replay(config_file, instances, output_dir, davis_sets, *opts):
    return load_tool("replay_tracking").main([
        "--config-file", config_file, "--instances", str(instances), "DATASETS.TEST", f"('{davis_sets['val']}',)",
        "TEST.DAVIS.TASK", "semi-supervised", "OUTPUT_DIR", str(output_dir), *opts])


@pytest.mark.slow
def test_replay_with_the_recorded_rules_writes_what_the_live_evaluation_wrote(recorded, davis_sets, tmp_path):
    config_file, live, live_jf = recorded
    sequences = {r["sequence"] for r in DatasetCatalog.get(davis_sets["val"])}
    assert sorted(os.listdir(live / "instances")) == sorted([f"{s}.npz" for s in sequences] + ["meta.json"])
    assert replay(config_file, live / "instances", tmp_path / "replay", davis_sets) == 0
    replayed = tmp_path / "replay" / "inference" / davis_sets["val"]
    ids = set()
    for seq in sequences:
        names = sorted(os.listdir(live / "davis_results" / seq))
        assert names == sorted(os.listdir(replayed / "davis_results" / seq))
        for name in names:
            a = np.asarray(Image.open(live / "davis_results" / seq / name))
            np.testing.assert_array_equal(a, np.asarray(Image.open(replayed / "davis_results" / seq / name)))
            ids.update(np.unique(a).tolist())
    assert len(ids) > 2  # several objects were written, so the comparison compared ids
    saved = json.loads((replayed / "results.json").read_text())
    assert saved["davis"]["J&F-Mean"] == pytest.approx(live_jf)
    assert "timing" not in saved and "params" not in saved  # no model ran
    provenance = json.loads((replayed / "replayed_from.json").read_text())
    assert provenance["opts"][-1] == "."  # paths as the run folder sees them, not the machine's
    assert str(tmp_path) not in json.dumps(provenance)


@pytest.mark.slow
def test_replay_runs_another_tracker_on_the_same_detections(recorded, davis_sets, tmp_path):
    config_file, live, _ = recorded
    assert replay(config_file, live / "instances", tmp_path / "iou", davis_sets, "TEST.VOS.TRACKER", "iou") == 0
    saved = json.loads((tmp_path / "iou" / "inference" / davis_sets["val"] / "results.json").read_text())
    assert 0.0 <= saved["davis"]["J&F-Mean"] <= 1.0 and "tracking" in saved


@pytest.mark.slow
def test_replay_refuses_its_recordings_folder_and_a_missing_recording(recorded, davis_sets, tmp_path):
    config_file, live, _ = recorded
    with pytest.raises(SystemExit, match="holds the recording"):
        replay(config_file, live / "instances", live.parent.parent, davis_sets)
    with pytest.raises(SystemExit, match="holds no recorded instances"):
        replay(config_file, tmp_path / "none", tmp_path / "out", davis_sets)
