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
    assert json.loads(out.read_text()) == {"missed": 1, "merged": 1, "below threshold": 1, "wrong id": 0}
