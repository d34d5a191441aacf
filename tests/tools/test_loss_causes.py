"""tools/loss_causes.py: each lost frame of an object put in one kind (missed, merged with another object, below the
score threshold, wrong id) from the recorded instances, and the table and counts of a recorded run."""
import json

import numpy as np
import torch
from detectron2.structures import Instances
from helpers import load_tool

from slowfast_vos.evaluation.recorded import InstanceRecorder
from vos_eval.id_png import write_id_png

loss_causes = load_tool("loss_causes")


def ground_truth():
    """Two objects side by side on an 8x12 frame: 1 on the left, 2 on the right."""
    gt = np.zeros((8, 12), dtype=np.uint8)
    gt[2:6, 1:5] = 1
    gt[2:6, 7:11] = 2
    return gt


def test_each_kind_of_loss():
    gt = ground_truth()
    one, two = gt == 1, gt == 2
    cause = loss_causes.cause
    assert cause(gt, 1, np.zeros((0, 8, 12), bool), np.zeros(0), 0.8) == "missed"
    assert cause(gt, 1, two[None], np.array([0.9]), 0.8) == "missed"  # an instance, but not on object 1
    assert cause(gt, 1, (one | two)[None], np.array([0.99]), 0.8) == "merged"  # one mask over both objects
    assert cause(gt, 1, one[None], np.array([0.5]), 0.8) == "below threshold"
    assert cause(gt, 1, one[None], np.array([0.9]), 0.8) == "wrong id"


def test_a_recorded_run_is_counted_by_kind(tmp_path):
    gt = ground_truth()
    one, two = gt == 1, gt == 2
    frames = [("00000", [one, two], [0.9, 0.9]),      # the given frame: never counted
              ("00001", [one | two], [0.95]),          # merged: both objects lost if written as one id
              ("00002", [one], [0.4]),                 # object 1 below the threshold, object 2 missed
              ("00003", [one, two], [0.9, 0.9])]       # found; written right below
    results = {"00000": gt, "00001": np.where(one | two, 1, 0).astype(np.uint8), "00002": np.zeros_like(gt),
               "00003": gt}
    recorder = InstanceRecorder(str(tmp_path / "instances"), mask_thresh=0.5)
    for name, masks, scores in frames:
        recorder.add("seq", name, Instances(gt.shape, pred_masks=torch.as_tensor(np.stack(masks)),
                                            scores=torch.as_tensor(scores)))
        for folder, ids in (("annotations", gt), ("results", results[name])):
            (tmp_path / folder / "seq").mkdir(parents=True, exist_ok=True)
            write_id_png(str(tmp_path / folder / "seq" / f"{name}.png"), ids)
    recorder.flush()
    out = tmp_path / "causes.json"
    assert loss_causes.main(["--instances", str(tmp_path / "instances"), "--results", str(tmp_path / "results"),
                             "--annotations", str(tmp_path / "annotations"), "--score-thresh", "0.8",
                             "--json", str(out)]) == 0
    # Frame 1: object 1 written right (id 1 covers it), object 2 lost inside the merged mask; frame 2: both lost.
    assert json.loads(out.read_text()) == {"missed": 1, "merged": 1, "below threshold": 1, "wrong id": 0,
                                           "lost_until_end": {"objects": 0, "found_alone_later": 0}}


def _record_run(tmp_path, frames, results, gt):
    recorder = InstanceRecorder(str(tmp_path / "instances"), mask_thresh=0.5)
    for name, masks, scores in frames:
        stacked = np.stack(masks) if masks else np.zeros((0, *gt.shape), bool)
        recorder.add("seq", name, Instances(gt.shape, pred_masks=torch.as_tensor(stacked),
                                            scores=torch.as_tensor(np.asarray(scores, dtype=np.float32))))
        for folder, ids in (("annotations", gt), ("results", results[name])):
            (tmp_path / folder / "seq").mkdir(parents=True, exist_ok=True)
            write_id_png(str(tmp_path / folder / "seq" / f"{name}.png"), ids)
    recorder.flush()


def test_objects_lost_until_the_end_are_split_by_whether_the_detector_found_them_alone_later(tmp_path):
    """Both objects are lost from frame 2 to the end; object 1's own instance (0.9) is there on frame 2 but written
    with no id (ids could have recovered it), object 2 is never detected again (only the detector could)."""
    gt = ground_truth()
    one, two = gt == 1, gt == 2
    empty = np.zeros_like(gt)
    frames = [("00000", [one, two], [0.9, 0.9]), ("00001", [one, two], [0.9, 0.9]), ("00002", [one], [0.9]),
              ("00003", [], [])]
    _record_run(tmp_path, frames, {"00000": gt, "00001": gt, "00002": empty, "00003": empty}, gt)
    out = tmp_path / "causes.json"
    assert loss_causes.main(["--instances", str(tmp_path / "instances"), "--results", str(tmp_path / "results"),
                             "--annotations", str(tmp_path / "annotations"), "--score-thresh", "0.8",
                             "--json", str(out)]) == 0
    assert json.loads(out.read_text())["lost_until_end"] == {"objects": 2, "found_alone_later": 1}
    # The same instance below the score threshold does not count as found.
    assert loss_causes.main(["--instances", str(tmp_path / "instances"), "--results", str(tmp_path / "results"),
                             "--annotations", str(tmp_path / "annotations"), "--score-thresh", "0.95",
                             "--json", str(out)]) == 0
    assert json.loads(out.read_text())["lost_until_end"] == {"objects": 2, "found_alone_later": 0}


def test_only_losses_never_recovered_count_as_lost_until_the_end():
    f = loss_causes.lost_until_end
    assert f([0.9, 0.0, 0.8], [True] * 3, [True] * 3) is None  # recovered on the last frame
    assert f([0.9, 0.0, 0.3], [True] * 3, [False] * 3) is False  # J 0.3 is not a recovery
    # Lost where the object is shown, then hidden to the end: still lost until the end; a match while hidden is not
    # a frame showing it.
    assert f([0.9, 0.0, 1.0], [True, True, False], [False, False, True]) is False


def test_benchmark_frames_leave_out_the_last_frame_as_results_json_does(tmp_path):
    """Object 2 is missed only on the video's last frame, which the semi-supervised benchmark does not score: counted
    as lost until the end over every frame after the first, not with --benchmark-frames."""
    gt = ground_truth()
    one, two = gt == 1, gt == 2
    frames = [(f"0000{t}", [one, two], [0.9, 0.9]) for t in range(3)] + [("00003", [one], [0.9])]
    results = {f"0000{t}": gt for t in range(3)}
    results["00003"] = np.where(one, 1, 0).astype(np.uint8)
    _record_run(tmp_path, frames, results, gt)
    out = tmp_path / "causes.json"
    args = ["--instances", str(tmp_path / "instances"), "--results", str(tmp_path / "results"),
            "--annotations", str(tmp_path / "annotations"), "--score-thresh", "0.8", "--json", str(out)]
    assert loss_causes.main(args) == 0
    counted = json.loads(out.read_text())
    assert counted["missed"] == 1 and counted["lost_until_end"] == {"objects": 1, "found_alone_later": 0}
    assert loss_causes.main(args + ["--benchmark-frames"]) == 0
    counted = json.loads(out.read_text())
    assert counted["missed"] == 0 and counted["lost_until_end"] == {"objects": 0, "found_alone_later": 0}
