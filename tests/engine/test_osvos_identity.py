"""OSVOS.IDENTITY "classes": one class per given object, grown from the parent's one class, and an object is its
class's best instance on every frame (slowfast_vos/engine/osvos_identity.py, tracking.label_frame)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from PIL import Image

from helpers import REPO, synthetic_env
from tiny import TINY_TRAIN_OPTS, make_video, tiny_cfg, window_input

from slowfast_vos.engine.osvos_identity import (
    ObjectIdentityModel,
    given_object_ids,
    object_class_model,
    relabel_by_object,
)
from slowfast_vos.evaluation.tracking import InstanceTracker, ReIDTracker, best_instance_per_object, label_frame

H, W = 20, 30


def box(y0, x0, y1, x1):
    m = np.zeros((H, W), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def test_each_object_class_starts_as_the_parents_object_class():
    cfg = tiny_cfg()
    parent = build_model(cfg)
    model = object_class_model(cfg, parent, 3)
    p, m = parent.state_dict(), model.state_dict()
    for suffix in ("weight", "bias"):
        cls = m[f"roi_heads.box_predictor.cls_score.{suffix}"]
        assert cls.shape[0] == 4  # 3 objects + background
        for k in range(3):
            assert torch.equal(cls[k], p[f"roi_heads.box_predictor.cls_score.{suffix}"][0])
        assert torch.equal(cls[3], p[f"roi_heads.box_predictor.cls_score.{suffix}"][1])
        mask = m[f"roi_heads.mask_head.predictor.{suffix}"]
        assert mask.shape[0] == 3 and all(torch.equal(mask[k], p[f"roi_heads.mask_head.predictor.{suffix}"][0])
                                          for k in range(3))
    boxes = m["roi_heads.box_predictor.bbox_pred.weight"]
    assert boxes.shape[0] == 12 and torch.equal(boxes[8:12], p["roi_heads.box_predictor.bbox_pred.weight"])
    # Everything that is not class-specific is the parent's, unchanged.
    same = [k for k in p if p[k].shape == m[k].shape]
    assert len(same) > 100 and all(torch.equal(p[k], m[k]) for k in same)


def test_a_parent_with_several_classes_is_refused_naming_the_key():
    cfg = tiny_cfg()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
    with pytest.raises(ValueError, match="MODEL.ROI_HEADS.NUM_CLASSES"):
        object_class_model(cfg, build_model(cfg), 3)


def test_given_records_are_relabelled_one_class_per_object_in_id_order():
    records = [{"file_name": "a.jpg", "annotations": [{"object_id": 5, "category_id": 0},
                                                      {"object_id": 2, "category_id": 0}]},
               {"file_name": "b.jpg", "annotations": [{"object_id": 9, "category_id": 0}]}]
    ids = given_object_ids(records)
    assert ids == [2, 5, 9]
    relabelled = relabel_by_object(records, ids)
    assert [[a["category_id"] for a in r["annotations"]] for r in relabelled] == [[1, 0], [2]]
    assert records[0]["annotations"][0]["category_id"] == 0  # the originals are left alone
    with pytest.raises(ValueError, match="object 9 of b.jpg"):
        relabel_by_object(records, [2, 5])


def test_video_outputs_name_each_instances_object_from_its_class():
    cfg = tiny_cfg()
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0
    model = ObjectIdentityModel(object_class_model(cfg, build_model(cfg), 2), [3, 7]).eval()
    video = make_video(3)
    with torch.no_grad():
        outputs = list(model.inference_video(window_input(video, t, 1) for t in range(3)))
    instances = [o["instances"] for o in outputs]
    assert sum(len(i) for i in instances) > 0
    for inst in instances:
        expected = torch.tensor([3, 7])[inst.pred_classes]
        assert torch.equal(inst.object_ids, expected)


def test_the_best_instance_of_each_given_object_keeps_its_id():
    ids = best_instance_per_object(np.array([1, 2, 1, 3]), np.array([0.4, 0.9, 0.8, 0.99]), known={1, 2})
    assert ids == [None, 2, 1, None]  # object 1's best is instance 2; object 3 was never given


@pytest.mark.parametrize("tracker_cls", [InstanceTracker, ReIDTracker])
def test_an_object_named_by_the_model_is_found_anywhere_after_frames_without_it(tracker_cls):
    first = {1: box(0, 0, 5, 5), 2: box(10, 20, 15, 25)}
    tracker = tracker_cls(10, 0.1, dict(first), False)
    empty = np.zeros((0, H, W), dtype=bool)
    for _ in range(4):  # object 1 missed for 4 frames
        label_frame(tracker, empty, np.zeros(0), H, W, object_ids=np.zeros(0, dtype=np.int64))
    # It reappears far from its last mask; a second, weaker instance of the same object is not painted.
    masks = np.stack([box(14, 0, 20, 6), box(0, 24, 3, 30), box(10, 20, 15, 25)])
    labels = label_frame(tracker, masks, np.array([0.9, 0.3, 0.8]), H, W, object_ids=np.array([1, 1, 2]))
    assert (labels[14:20, 0:6] == 1).all() and (labels[0:3, 24:30] == 0).all() and (labels[10:15, 20:25] == 2).all()


def test_given_masks_are_painted_over_the_models_instances():
    tracker = InstanceTracker(10, 0.1, {}, False)
    given = {1: box(0, 0, 6, 6)}
    labels = label_frame(tracker, np.stack([box(2, 2, 8, 8)]), np.array([0.9]), H, W, given=given,
                         object_ids=np.array([1]))
    assert (labels == 1).sum() == 36 and (labels[0:6, 0:6] == 1).all()


@pytest.mark.slow
def test_osvos_with_object_classes_writes_only_given_ids_and_records_the_setting(tmp_path_factory):
    env = synthetic_env(tmp_path_factory, train_sequences=1, val_sequences=2, frames=4)
    config = str(REPO / "configs" / "quickstart" / "osvos_slowfast_1-1.yaml")
    cfg = tiny_cfg()
    cfg.merge_from_file(config)
    cfg.MODEL.WEIGHTS = ""
    parent = tmp_path_factory.mktemp("parent")
    DetectionCheckpointer(build_model(cfg), save_dir=str(parent)).save("parent")
    out = tmp_path_factory.mktemp("osvos")
    cmd = [sys.executable, str(REPO / "tools" / "osvos_net.py"), "--config-file", config, *TINY_TRAIN_OPTS,
           "OSVOS.ITERS", "2", "OSVOS.IDENTITY", "classes", "TEST.VOS.SCORE_THRESH", "0.0",
           "DATASETS.TEST", "('synthetic_davis2017_val',)", "TEST.DAVIS.TASK", "semi-supervised",
           "MODEL.WEIGHTS", str(parent / "parent.pth"), "OUTPUT_DIR", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stderr.count("one class per given object: ids [") + proc.stdout.count(
        "one class per given object: ids [") == 2  # both videos fine-tuned a model with one class per object
    gt_root = next(p for p in Path(env["DETECTRON2_DATASETS"]).rglob("Annotations") if p.is_dir())
    checked = 0
    for seq_dir in sorted((out / "davis_results").iterdir()):
        first = sorted(seq_dir.glob("*.png"))[0]
        gt_first = np.array(Image.open(next(gt_root.rglob(f"{seq_dir.name}/{first.name}"))))
        given = set(np.unique(gt_first)) - {0, 255}
        assert len(given) >= 1
        for png in sorted(seq_dir.glob("*.png")):
            assert set(np.unique(np.array(Image.open(png)))) <= given | {0}
            checked += 1
        marker = json.loads((out / "sequences_done" / f"{seq_dir.name}.json").read_text())
        assert marker["produced_by"]["config"]["OSVOS.IDENTITY"] == "classes"
    assert checked == 8
