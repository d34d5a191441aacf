"""DAVIS protocols on small generated DAVIS folders, the CSV tables, the DAVISEvaluator and the CLI."""
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest
import torch
from detectron2.data import MetadataCatalog
from detectron2.structures import Instances
from PIL import Image

from slowfast_vos.config import add_slowfast_vos_config
from helpers import REPO, write_davis

from slowfast_vos.evaluation import DAVISEvaluator
from vos_eval.cli import main as cli_main
from vos_eval.davis_format import DAVISFormatError, DAVISLayout
from vos_eval.metrics import f_measure, jaccard
from vos_eval.official import official_available
from vos_eval.protocols import evaluate_davis

H, W = 24, 32


def _png(path, labels, mode="P"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="L")
    if mode == "P":
        image = image.convert("P")
        image.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0, 200, 200, 0] + [7] * (256 * 3 - 12))
    elif mode == "RGB":
        image = image.convert("RGB")
    image.save(path)


def _box(t, y, x, size=6, h=H, w=W):
    m = np.zeros((h, w), dtype=bool)
    m[y + t : y + t + size, x + t : x + t + size] = True
    return m


def _video(num_frames=6, h=H, w=W):
    """Two moving squares: object 1 top-left, object 2 bottom-right."""
    out = np.zeros((num_frames, h, w), dtype=np.uint8)
    for t in range(num_frames):
        out[t][_box(t, 1, 1, h=h, w=w)] = 1
        out[t][_box(-t, h - 8, w - 8, h=h, w=w)] = 2
    return out


def _write_sequence(folder, labels, frames=None, mode="P"):
    for t, lab in enumerate(labels):
        if frames is None or t in frames:
            _png(os.path.join(folder, f"{t:05d}.png"), lab, mode)


@pytest.fixture
def gt():
    return {"bear": _video(6), "car": _video(5)[:, ::-1].copy()}


def test_semi_supervised_perfect_and_first_last_excluded(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt)
    results = tmp_path / "res"
    for name, labels in gt.items():
        # Only the scored frames are needed; wrong first/last frames would not count anyway.
        _write_sequence(str(results / name), labels, frames=range(1, len(labels) - 1))
    out = evaluate_davis(root, str(results), "semi-supervised")
    assert out.global_metrics["J&F-Mean"] == 1.0
    assert out.global_metrics["J-Decay"] == 0.0
    assert len(out.per_frame["bear_1"][0]) == 4 and len(out.per_frame["car_2"][0]) == 3
    assert [row[0] for row in out.per_sequence] == ["bear_1", "bear_2", "car_1", "car_2"]
    assert out["global"] is out.global_metrics


def test_semi_supervised_values_and_missing_ids(tmp_path, gt):
    root = write_davis(tmp_path / "davis", {"bear": gt["bear"]})
    pred = np.roll(gt["bear"], 1, axis=2)
    pred[pred == 2] = 0  # object 2 never predicted -> scored as an empty mask
    _write_sequence(str(tmp_path / "res" / "bear"), pred)
    out = evaluate_davis(root, str(tmp_path / "res"), "semi-supervised")
    j1, f1 = out.per_frame["bear_1"]
    np.testing.assert_array_equal(j1, jaccard(gt["bear"][1:-1] == 1, pred[1:-1] == 1))
    np.testing.assert_array_equal(f1, f_measure(gt["bear"][1:-1] == 1, pred[1:-1] == 1))
    np.testing.assert_array_equal(out.per_frame["bear_2"][0], np.zeros(4))
    assert out.global_metrics["J-Mean"] == pytest.approx(np.mean(j1) / 2)


def test_semi_supervised_rejects_extra_ids(tmp_path, gt):
    root = write_davis(tmp_path / "davis", {"bear": gt["bear"]})
    pred = gt["bear"].copy()
    pred[3, 0, 0] = 3
    _write_sequence(str(tmp_path / "res" / "bear"), pred)
    with pytest.raises(DAVISFormatError, match=r"00003.png holds id 3.*2 objects"):
        evaluate_davis(root, str(tmp_path / "res"), "semi-supervised")


def test_unsupervised_hungarian_picks_best_ids(tmp_path, gt):
    root = write_davis(tmp_path / "davis", {"bear": gt["bear"]}, annotations="Annotations_unsupervised")
    labels = gt["bear"]
    pred = np.zeros_like(labels)
    pred[labels == 1] = 5
    pred[labels == 2] = 3
    pred[:, 10:13, 12:15] = 1  # a spurious proposal
    _write_sequence(str(tmp_path / "res" / "bear"), pred)
    out = evaluate_davis(root, str(tmp_path / "res"), "unsupervised")
    assert len(out.per_frame["bear_1"][0]) == 6  # unsupervised scores every frame
    assert out.global_metrics["J&F-Mean"] == 1.0
    assert [row[0] for row in out.per_sequence] == ["bear_1", "bear_2"]
    assert out.matched_ids == {"bear_1": 5, "bear_2": 3}


def test_unsupervised_unmatched_object_and_too_many_ids(tmp_path, gt):
    root = write_davis(tmp_path / "davis", {"bear": gt["bear"]})
    pred = np.where(gt["bear"] == 2, 1, 0)
    _write_sequence(str(tmp_path / "res" / "bear"), pred)
    out = evaluate_davis(root, str(tmp_path / "res"), "unsupervised")
    per_object = dict((n, (j, f)) for n, j, f in out.per_sequence)
    assert per_object["bear_2"] == (1.0, 1.0)  # GT object 2 matched to id 1
    assert per_object["bear_1"] == (0.0, 0.0)  # GT object 1 left with an empty proposal
    pred = gt["bear"].copy()
    pred[2, 0, 0] = 21
    _write_sequence(str(tmp_path / "res" / "bear"), pred)
    with pytest.raises(DAVISFormatError, match="at most 20 ids"):
        evaluate_davis(root, str(tmp_path / "res"), "unsupervised")


def test_davis2016_layout_binary_union(tmp_path, gt):
    root = write_davis(tmp_path / "davis2016", gt, year="2016")
    for name, labels in gt.items():
        _write_sequence(str(tmp_path / "res" / name), labels)  # two ids: their union is the prediction
    out = evaluate_davis(root, str(tmp_path / "res"), "davis2016")
    assert [row[0] for row in out.per_sequence] == ["bear_1", "car_1"]
    assert out.global_metrics["J&F-Mean"] == 1.0
    assert len(out.per_frame["bear_1"][0]) == 4


def test_davis2016_task_on_2017_layout_excludes_void(tmp_path, gt):
    labels = gt["bear"].copy()
    labels[:, :, 20:] = np.where(labels[:, :, 20:] > 0, 255, labels[:, :, 20:])  # object 2 partly void
    root = write_davis(tmp_path / "davis", {"bear": labels})
    pred = (gt["bear"] > 0).astype(np.uint8)  # predicts the void part too
    _write_sequence(str(tmp_path / "res" / "bear"), pred)
    out = evaluate_davis(root, str(tmp_path / "res"), "davis2016")
    assert out.global_metrics["J&F-Mean"] == 1.0  # void pixels neither reward nor punish
    background = evaluate_davis(root, str(tmp_path / "res"), "davis2016", void_mode="background")
    assert background.global_metrics["J-Mean"] < 1.0


def test_csv_tables_exact_format(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt)
    for name, labels in gt.items():
        _write_sequence(str(tmp_path / "res" / name), np.roll(labels, 1, axis=1))
    out = evaluate_davis(root, str(tmp_path / "res"), "semi-supervised", output_dir=str(tmp_path / "tables"))
    with open(tmp_path / "tables" / "global_results-val.csv") as f:
        lines = f.read().split("\n")
    assert lines[0] == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert lines[1] == ",".join(f"{out.global_metrics[c]:.3f}" for c in lines[0].split(","))
    assert lines[2:] == [""]
    with open(tmp_path / "tables" / "per-sequence_results-val.csv") as f:
        rows = f.read().splitlines()
    assert rows[0] == "Sequence,J-Mean,F-Mean"
    assert rows[1] == f"bear_1,{out.per_sequence[0][1]:.3f},{out.per_sequence[0][2]:.3f}"
    assert len(rows) == 5
    assert not [n for n in os.listdir(tmp_path / "tables") if ".tmp" in n]


def test_parallel_workers_give_identical_results(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt)
    rng = np.random.default_rng(0)
    for name, labels in gt.items():
        noisy = np.where(rng.random(labels.shape) > 0.9, 0, labels)
        _write_sequence(str(tmp_path / "res" / name), noisy)
    serial = evaluate_davis(root, str(tmp_path / "res"), "semi-supervised", workers=0)
    parallel = evaluate_davis(root, str(tmp_path / "res"), "semi-supervised", workers=2)
    assert serial.global_metrics == parallel.global_metrics
    assert serial.per_sequence == parallel.per_sequence


def test_bad_inputs_raise_clear_errors(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt)
    res = tmp_path / "res"
    _write_sequence(str(res / "bear"), gt["bear"])
    # car missing entirely: its scored frames are listed.
    with pytest.raises(DAVISFormatError, match=r"3 result frames are missing:\n  .*car/00001.png"):
        evaluate_davis(root, str(res), "semi-supervised")
    _write_sequence(str(res / "car"), gt["car"])
    _png(str(res / "car" / "00002.png"), np.zeros((H + 1, W)))
    with pytest.raises(DAVISFormatError, match=r"car/00002.png is 32x25 \(WxH\), expected 32x24"):
        evaluate_davis(root, str(res), "semi-supervised")
    _png(str(res / "car" / "00002.png"), gt["car"][2], mode="RGB")
    with pytest.raises(DAVISFormatError, match=r"car/00002.png: mask PNG has mode 'RGB'.*indexed"):
        evaluate_davis(root, str(res), "semi-supervised")
    with pytest.raises(DAVISFormatError, match="no sequence list for set 'test'"):
        evaluate_davis(root, str(res), "semi-supervised", split="test")
    with pytest.raises(DAVISFormatError, match="annotation folder of sequence 'zebra'"):
        evaluate_davis(root, str(res), "semi-supervised", sequences=["zebra"], year="2017")
    with pytest.raises(DAVISFormatError, match="results folder"):
        evaluate_davis(root, str(tmp_path / "nowhere"), "semi-supervised")
    with pytest.raises(DAVISFormatError, match="task must be one of"):
        evaluate_davis(root, str(res), "interactive")


def test_missing_frames_list_is_capped(tmp_path):
    root = write_davis(tmp_path / "davis", {"long": np.ones((30, H, W), dtype=np.uint8)})
    os.makedirs(tmp_path / "res")
    with pytest.raises(DAVISFormatError) as err:
        evaluate_davis(root, str(tmp_path / "res"), "semi-supervised")
    assert "28 result frames are missing" in str(err.value) and "... and 18 more" in str(err.value)


def test_cli_exit_codes(tmp_path, gt, capsys):
    root = write_davis(tmp_path / "davis", gt)
    for name, labels in gt.items():
        _write_sequence(str(tmp_path / "res" / name), labels)
    argv = ["--davis-root", root, "--results", str(tmp_path / "res"), "--task", "semi-supervised", "--workers", "1"]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    assert "J&F-Mean" in printed and "bear_2" in printed
    assert (tmp_path / "res" / "global_results-val.csv").exists()
    assert cli_main(argv[:-4] + ["--task", "semi-supervised", "--set", "train"]) == 1
    assert "error: no sequence list for set 'train'" in capsys.readouterr().err


def test_cli_usage_errors_and_missing_official_backend(tmp_path, gt, capsys):
    root = write_davis(tmp_path / "davis", gt)
    base = ["--davis-root", root, "--results", str(tmp_path)]
    assert cli_main(base + ["--task", "interactive"]) == 1
    assert "invalid choice" in capsys.readouterr().err
    if not official_available():
        assert cli_main(base + ["--task", "semi-supervised", "--backend", "official"]) == 1
        assert "needs davis2017-evaluation" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_as_module_process(tmp_path, gt):
    root = write_davis(tmp_path / "davis", {"bear": gt["bear"]})
    cmd = [sys.executable, "-m", "vos_eval", "--davis-root", root, "--task", "unsupervised"]
    bad = subprocess.run(cmd + ["--results", str(tmp_path / "none")], capture_output=True, text=True)
    assert bad.returncode == 1 and "results folder" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.skipif(not official_available(), reason="davis2017-evaluation is not installed")
def test_parity_with_official_toolkit(tmp_path, gt):
    from vos_eval.official import evaluate_official

    root = write_davis(tmp_path / "davis", gt)  # with the JPEG frames the official toolkit lists
    for name, labels in gt.items():
        _write_sequence(str(tmp_path / "res" / name), np.roll(labels, 2, axis=2))
    ours = evaluate_davis(root, str(tmp_path / "res"), "semi-supervised", output_dir=str(tmp_path / "a"))
    official = evaluate_official(root, str(tmp_path / "res"), "semi-supervised", output_dir=str(tmp_path / "b"))
    for key, value in ours.global_metrics.items():
        assert value == pytest.approx(official.global_metrics[key], abs=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# DAVISEvaluator
# ---------------------------------------------------------------------------------------------------------------


def _register(root, sequences, task, year="2017"):
    name = f"davis_eval_test_{uuid.uuid4().hex[:8]}"
    MetadataCatalog.get(name).set(
        layout=DAVISLayout(root, year, "val"),
        davis_root=root,
        year=year,
        split="val",
        resolution="480p",
        annotation_dir=os.path.join(root, "Annotations", "480p"),
        sequences=list(sequences),
        task=task,
    )
    return name


def _instances(labels, ids, scores, float_masks=False):
    inst = Instances((H, W))
    masks = torch.from_numpy(np.stack([labels == i for i in ids]) if ids else np.zeros((0, H, W), bool))
    inst.pred_masks = masks.float() * 0.8 if float_masks else masks
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    return inst


def _run(evaluator, gt, order=lambda t: [1, 2], float_masks=False, extra=None):
    evaluator.reset()
    for seq, labels in gt.items():
        for t, lab in enumerate(labels):
            ids = order(t)
            inst = _instances(lab, ids, [0.9] * len(ids), float_masks)
            if extra is not None:
                inst = Instances.cat([inst, extra(t)])
            inp = {"sequence": seq, "frame_name": f"{t:05d}", "height": H, "width": W, "frame_index": t}
            evaluator.process([inp], [{"instances": inst}])
    return evaluator.evaluate()


def _evaluator(name, tmp_path, task=None, workers=0):
    return DAVISEvaluator(
        name, str(tmp_path / "out"), task=task, score_thresh=0.5, mask_thresh=0.5, max_objects=20, match_iou=0.1,
        workers=workers,
    )


def test_evaluator_unsupervised_stable_ids_end_to_end(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt)
    name = _register(root, gt, "unsupervised")
    evaluator = _evaluator(name, tmp_path)
    # Instance order flips every frame; a low-score instance is dropped.
    low = lambda t: _instances(np.ones((H, W), np.uint8), [1], [0.2])  # noqa: E731
    out = _run(evaluator, gt, order=lambda t: [1, 2] if t % 2 else [2, 1], extra=low)
    assert set(out) == {"davis", "tracking"}
    assert out["davis"]["J&F-Mean"] == pytest.approx(1.0)
    assert out["tracking"]["objects"] == 4 and out["tracking"]["frames_lost"] == 0
    assert out["tracking"]["id_switches"] == 0
    first = np.asarray(Image.open(tmp_path / "out" / "davis_results" / "bear" / "00000.png"))
    for t in range(1, 6):
        frame = np.asarray(Image.open(tmp_path / "out" / "davis_results" / "bear" / f"{t:05d}.png"))
        assert frame[gt["bear"][t] == 1][0] == first[gt["bear"][0] == 1][0]
        assert frame[gt["bear"][t] == 2][0] == first[gt["bear"][0] == 2][0]
    assert Image.open(tmp_path / "out" / "davis_results" / "bear" / "00000.png").mode == "P"
    assert (tmp_path / "out" / "global_results-val.csv").exists()


def test_evaluator_semi_supervised_takes_annotation_ids(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt)
    name = _register(root, gt, "unsupervised")
    evaluator = _evaluator(name, tmp_path, task="semi-supervised")
    # The model sees object 2 first; ids still follow the first annotation, so the score is perfect.
    out = _run(evaluator, gt, order=lambda t: [2, 1], float_masks=True)
    assert out["davis"]["J-Mean"] == pytest.approx(1.0) and out["davis"]["F-Mean"] == pytest.approx(1.0)


def test_evaluator_davis2016_union_and_overlap_priority(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt)
    name = _register(root, gt, "davis2016")
    out = _run(_evaluator(name, tmp_path), gt)
    assert out["davis"]["J&F-Mean"] == pytest.approx(1.0)
    written = np.asarray(Image.open(tmp_path / "out" / "davis_results" / "car" / "00001.png"))
    np.testing.assert_array_equal(written, (gt["car"][1] > 0).astype(np.uint8))


def test_evaluator_semi_supervised_on_davis2016_writes_the_union(tmp_path, gt):
    root = write_davis(tmp_path / "davis", gt, year="2016")
    name = _register(root, gt, "davis2016", year="2016")
    evaluator = _evaluator(name, tmp_path, task="semi-supervised")
    # Two instances each cover one part of the single 2016 object; tracked ids would keep only one of them.
    out = _run(evaluator, gt, order=lambda t: [2, 1], float_masks=True)
    assert out["davis"]["J&F-Mean"] == pytest.approx(1.0)
    written = np.asarray(Image.open(tmp_path / "out" / "davis_results" / "bear" / "00002.png"))
    assert set(np.unique(written)) == {0, 1}
    assert np.array_equal(written == 1, gt["bear"][2] > 0)


def test_tracker_limits_ids_and_follows_overlap():
    from slowfast_vos.evaluation import InstanceTracker

    tracker = InstanceTracker(max_ids=2, match_iou=0.1)
    a, b, c = _box(0, 1, 1), _box(0, 12, 20), _box(0, 2, 20)
    assert tracker.assign(np.stack([a, b, c]), np.array([0.9, 0.8, 0.7])) == [1, 2, None]  # no third id
    # Next frame: both objects moved by a pixel and arrive in the other order; ids follow the masks.
    assert tracker.assign(np.stack([_box(1, 12, 20), _box(1, 1, 1)]), np.array([0.9, 0.9])) == [2, 1]
    # A mask overlapping nothing known gets no id once all ids are taken.
    assert tracker.assign(np.stack([c]), np.array([0.99])) == [None]


def test_evaluator_overlaps_go_to_higher_score(tmp_path):
    from slowfast_vos.evaluation.tracking import instances_to_labels

    a, b = _box(0, 2, 2), _box(0, 4, 4)
    labels = instances_to_labels(np.stack([a, b]), np.array([0.6, 0.9]), [1, 2], H, W)
    assert labels[5, 5] == 2 and labels[2, 2] == 1
    labels = instances_to_labels(np.stack([a, b]), np.array([0.95, 0.9]), [1, 2], H, W)
    assert labels[5, 5] == 1


def test_evaluator_missing_frames_and_split_sequences(tmp_path, gt, monkeypatch):
    root = write_davis(tmp_path / "davis", gt)
    name = _register(root, gt, "unsupervised")
    evaluator = _evaluator(name, tmp_path)
    evaluator.reset()
    inp = {"sequence": "bear", "frame_name": "00000", "height": H, "width": W}
    evaluator.process([inp], [{"instances": _instances(gt["bear"][0], [1], [0.9])}])
    with pytest.raises(DAVISFormatError, match="frames of .* were not processed"):
        evaluator.evaluate()

    # Two ranks that both wrote frames of "bear": their ids cannot be trusted.
    from detectron2.utils import comm

    monkeypatch.setattr(comm, "get_world_size", lambda: 2)
    monkeypatch.setattr(comm, "synchronize", lambda: None)
    monkeypatch.setattr(comm, "is_main_process", lambda: True)
    monkeypatch.setattr(comm, "gather", lambda data, dst=0: [data, {"bear": ["00001"]}])
    with pytest.raises(DAVISFormatError, match="processed by several ranks"):
        evaluator.evaluate()
    monkeypatch.setattr(comm, "is_main_process", lambda: False)
    monkeypatch.setattr(comm, "gather", lambda data, dst=0: [])
    assert evaluator.evaluate() == {}


def test_evaluator_from_config(tmp_path, gt):
    from detectron2.config import get_cfg

    root = write_davis(tmp_path / "davis", gt)
    name = _register(root, gt, "unsupervised")
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.OUTPUT_DIR = str(tmp_path / "run")
    cfg.TEST.DAVIS.TASK = ""
    cfg.TEST.VOS.SCORE_THRESH = 0.95
    evaluator = DAVISEvaluator.from_config(cfg, name)
    assert evaluator.results_dir == os.path.join(str(tmp_path / "run"), "inference", name, "davis_results")
    out = _run(evaluator, gt)  # every instance (score 0.9) is below SCORE_THRESH: empty results
    assert out["davis"]["J-Mean"] == 0.0
    cfg.TEST.DAVIS.TASK = "bogus"
    with pytest.raises(ValueError, match="TEST.DAVIS.TASK"):
        DAVISEvaluator.from_config(cfg, name)


def test_evaluator_reports_clean_and_degraded_from_frame_tags(tmp_path, gt):
    from vos_eval.frame_tags import write_frame_tags

    root = write_davis(tmp_path / "davis", gt)
    name = _register(root, gt, "davis2016")
    tags = {seq: {f"{t:05d}": {"degraded": "blur" if t == 2 else None, "occluded": []} for t in range(len(labels))}
            for seq, labels in gt.items()}
    write_frame_tags(str(tmp_path / "tags.json"), tags)
    MetadataCatalog.get(name).set(frame_tags=str(tmp_path / "tags.json"))
    # Frame 2 of every sequence predicted empty: only the degraded subset loses.
    empty = lambda t: [] if t == 2 else [1, 2]  # noqa: E731
    out = _run(_evaluator(name, tmp_path), gt, order=empty)
    assert set(out) == {"davis", "davis_clean", "davis_degraded", "tracking"}
    assert out["davis_clean"]["J&F-Mean"] == pytest.approx(1.0)
    assert out["davis_degraded"]["J&F-Mean"] == pytest.approx(0.0)
    assert out["davis_degraded"]["frames"] == 2
    assert 0 < out["davis"]["J&F-Mean"] < 1


def _written(tmp_path, out, seq, t):
    return np.asarray(Image.open(tmp_path / out / "davis_results" / seq / f"{t:05d}.png"))


def test_semi_supervised_davis2016_writes_the_unsupervised_union_and_the_given_first_frame(tmp_path, gt):
    """The paper's Table 2 rule: after OSVOS, every frame but the given one is the union of the kept detections,
    exactly what the unsupervised DAVIS 2016 rule writes for the same detections (no tracking, no gate on the last
    mask); the given frame's result is its given mask."""
    root = write_davis(tmp_path / "davis", gt, year="2016")
    name = _register(root, gt, "davis2016", year="2016")
    far = np.zeros((H, W), dtype=np.uint8)
    far[-4:, :4] = 1

    def detections(t, labels):
        # Frame 0: the model misses the object and finds a false object; later: part of the object (0.9), a false
        # detection (0.3, kept by the 0.05 threshold) and one below the threshold (0.01, dropped).
        if t == 0:
            return _instances(far, [1], [0.9])
        return Instances.cat([_instances(labels, [1], [0.9]), _instances(far, [1], [0.3]),
                              _instances(np.ones((H, W), np.uint8), [1], [0.01])])

    for task, out in (("semi-supervised", "semi"), ("davis2016", "unsup")):
        evaluator = DAVISEvaluator(name, str(tmp_path / out), task=task, score_thresh=0.05, mask_thresh=0.5,
                                   max_objects=20, match_iou=0.1)
        for seq, labels in gt.items():
            for t, lab in enumerate(labels):
                inp = {"sequence": seq, "frame_name": f"{t:05d}", "height": H, "width": W, "frame_index": t}
                evaluator.process([inp], [{"instances": detections(t, lab)}])
    for seq, labels in gt.items():
        np.testing.assert_array_equal(_written(tmp_path, "semi", seq, 0), (labels[0] > 0).astype(np.uint8))
        np.testing.assert_array_equal(_written(tmp_path, "unsup", seq, 0), far)
        for t in range(1, len(labels)):
            semi, unsup = _written(tmp_path, "semi", seq, t), _written(tmp_path, "unsup", seq, t)
            np.testing.assert_array_equal(semi, unsup)
            np.testing.assert_array_equal(semi, ((labels[t] == 1) | (far == 1)).astype(np.uint8))


def test_semi_supervised_multi_object_first_frame_is_the_given_id_map(tmp_path, gt):
    """On a multi-object set the given frame's result is the annotation's id map, whatever the model found there;
    the tracks start from it."""
    root = write_davis(tmp_path / "davis", gt)
    name = _register(root, gt, "unsupervised")
    evaluator = _evaluator(name, tmp_path, task="semi-supervised")
    # Frame 0: the model sees only object 2; later frames both. Ids still follow the annotation.
    out = _run(evaluator, gt, order=lambda t: [2] if t == 0 else [2, 1])
    for seq, labels in gt.items():
        np.testing.assert_array_equal(_written(tmp_path, "out", seq, 0), labels[0])
        np.testing.assert_array_equal(_written(tmp_path, "out", seq, 2), labels[2])
    assert out["davis"]["J&F-Mean"] == pytest.approx(1.0)


def test_quickstart_osvos_uses_the_reference_detection_rule():
    """The quickstart OSVOS configs (Table 2) keep every detection the ROI heads return (>= 0.05), as the
    reference's OSVOS output does, not the unsupervised quickstart's 0.8 gate."""
    from detectron2.config import get_cfg

    from slowfast_vos.engine.defaults import load_cfg

    repo = str(REPO)
    for name in ("osvos_slowfast_1-1.yaml", "osvos_slowfast_3-7.yaml", "osvos_no_temporal.yaml"):
        cfg = load_cfg(os.path.join(repo, "configs", "quickstart", name))
        reference = get_cfg().MODEL.ROI_HEADS.SCORE_THRESH_TEST
        assert cfg.TEST.VOS.SCORE_THRESH == cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == reference
        assert cfg.TEST.DAVIS.TASK == "semi-supervised"
    unsupervised = load_cfg(os.path.join(repo, "configs", "quickstart", "slowfast_1-1.yaml"))
    assert unsupervised.TEST.VOS.SCORE_THRESH == 0.8
