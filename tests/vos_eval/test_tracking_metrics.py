"""vos_eval.tracking_metrics: losses, recoveries, reappearances and id switches per object, and their summary in
the scored results (results.json's "tracking")."""
import numpy as np
import pytest
from helpers import write_davis

from vos_eval.protocols import evaluate_davis
from vos_eval.scoring import on_another_object
from vos_eval.tracking_metrics import object_tracking

T = True
F = False


def test_a_loss_is_a_run_of_lost_frames_recovered_at_the_first_good_frame():
    j = np.array([0.9, 0.05, 0.0, 0.3, 0.8, 0.9, 0.02, 0.0])
    out = object_tracking(j, np.ones(8, bool))
    assert out["losses"] == 2 and out["frames_lost"] == 4 and out["lost_frames"] == [1, 2, 6, 7]
    # The first loss (frames 1-2) recovers at frame 4 (J 0.3 at frame 3 is not yet a recovery); the second never.
    assert out["losses_recovered"] == 1 and out["frames_to_recover"] == [3]
    assert out["lost_until_end"]


def test_frames_without_the_object_neither_count_as_lost_nor_end_a_loss():
    # Frames 2-3: the object is out of view (J is 0 or 1 there by convention; neither counts).
    j = np.array([0.9, 0.0, 0.0, 1.0, 0.0, 0.7])
    present = np.array([T, T, F, F, T, T])
    out = object_tracking(j, present)
    assert out["frames_lost"] == 2 and out["losses"] == 1 and out["frames_to_recover"] == [4]
    assert out["reappearances"] == 1 and out["reappearances_reacquired"] == 1 and not out["lost_until_end"]
    never = object_tracking(np.array([0.9, 0.9, 0.0, 0.0]), np.array([T, F, T, T]))
    assert never["reappearances"] == 1 and never["reappearances_reacquired"] == 0 and never["lost_until_end"]


def test_id_switches_count_entries_into_another_objects_mask():
    on_other = np.array([F, T, T, F, T])
    assert object_tracking(np.ones(5), np.ones(5, bool), on_other)["id_switches"] == 2
    assert object_tracking(np.ones(5), np.ones(5, bool))["id_switches"] == 0


def test_on_another_object_needs_more_than_half_of_the_result_on_one_other_object():
    gt = np.zeros((3, 4, 4), np.uint8)
    gt[:, :2] = 1
    gt[:, 2:] = 2
    pred = np.zeros_like(gt)
    pred[0, :2] = 5          # on its own object
    pred[1, 2:] = 5          # wholly on object 2
    pred[2, 1:3] = 5         # half on each: not "mostly" on the other
    assert on_another_object(gt, pred, 1, 5).tolist() == [False, True, False]


def test_scored_results_carry_the_tracking_summary(tmp_path):
    """An object whose result is empty from frame 2 on is lost until the end; the other object switches onto the
    first one's mask at frame 3."""
    t_frames = 6
    gt = np.zeros((t_frames, 16, 16), np.uint8)
    gt[:, 2:6, 2:6] = 1
    gt[:, 9:13, 9:13] = 2
    root = write_davis(tmp_path / "davis", {"seq": gt})
    pred = gt.copy()
    pred[2:][pred[2:] == 1] = 0
    pred[3][gt[3] == 2] = 0
    pred[3][gt[3] == 1] = 2
    results = tmp_path / "res" / "seq"
    results.mkdir(parents=True)
    from vos_eval.davis_format import write_id_png

    for t in range(t_frames):
        write_id_png(str(results / f"{t:05d}.png"), pred[t])
    scored = evaluate_davis(root, str(tmp_path / "res"), "semi-supervised")
    summary = scored.tracking()
    assert summary["objects"] == 2 and summary["objects_lost_until_end"] == 1
    # Object 1: scored frames 1-4, lost on 2, 3 (its id is absent; at 3 object 2's id covers its pixels) and 4.
    assert summary["frames_lost"] == 3 + 1  # and object 2 is lost on frame 3, where its id moved away
    assert summary["id_switches"] == 1
    assert summary["losses_recovered"] == 1 and summary["mean_frames_to_recover"] == pytest.approx(1.0)


def test_tracking_table_lists_every_results_file_with_its_measures(tmp_path, capsys):
    from helpers import load_tool

    from vos_eval.results_file import EvaluationResults
    from vos_eval.scoring import GLOBAL_COLUMNS

    tool = load_tool("tracking_table")
    metrics = {k: 0.5 for k in GLOBAL_COLUMNS}
    tracked = {"objects": 4, "frames_lost": 7, "losses": 3, "losses_recovered": 2, "objects_lost_until_end": 1,
               "mean_frames_to_recover": 1.5, "reappearances": 2, "reappearances_reacquired": 1, "id_switches": 0}
    (tmp_path / "a" / "reid").mkdir(parents=True)
    (tmp_path / "a" / "iou").mkdir(parents=True)
    EvaluationResults("set_val", metrics, tracking=tracked).write(str(tmp_path / "a" / "reid" / "results.json"))
    EvaluationResults("set_val", metrics).write(str(tmp_path / "a" / "iou" / "results.json"))
    assert tool.main([str(tmp_path / "a"), "--output", str(tmp_path / "t.md")]) == 0
    text = (tmp_path / "t.md").read_text()
    assert "| reid | set_val | 0.500 | 0.500 | 4 | 7 | 2/3 | 1 | 1/2 | 0 |" in text
    assert "| iou | set_val | 0.500 | 0.500 | n/a |" in text and text == capsys.readouterr().out
    with pytest.raises(SystemExit, match="no results.json"):
        tool.main([str(tmp_path / "empty")])
