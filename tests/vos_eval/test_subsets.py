"""vos_eval.subsets: one rule for J&F on a frame subset (per object, then over objects), so results.json's
davis_clean / davis_degraded, the comparison's frame kinds and tools/frame_breakdown.py report the same numbers."""
import os

import cv2
import numpy as np
import pytest
from helpers import load_tool

from slowfast_vos.data import generate_synthetic_davis
from vos_eval.davis_format import DAVISLayout, read_id_png, write_id_png
from vos_eval.frame_tags import BORDER_FRAMES, FRAME_TAGS_FILE, OCCLUDED_FRACTION, SUBSETS, load_frame_tags
from vos_eval.protocols import evaluate_davis
from vos_eval.reporting import compare_methods
from vos_eval.results_file import EvaluationResults
from vos_eval.subsets import frame_kind_metrics, subset_metrics


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A tiny synthetic DAVIS (3 val sequences of 10 frames) and a results folder whose error differs per sequence
    and per frame: sequence i's masks are shifted by 2 * i + 1 pixels on every frame whose index is a multiple of
    i + 2, eroded elsewhere."""
    base = tmp_path_factory.mktemp("subsets")
    root = generate_synthetic_davis(str(base / "DAVIS-synthetic"), seed=5, train_sequences=1, val_sequences=3,
                                    frames=10, height=48, width=64, progress=None)
    layout = DAVISLayout(os.path.join(root, "2016"), "2016", "val")
    results = base / "results"
    for i, sequence in enumerate(layout.sequences()):
        for frame in layout.annotation_frames(sequence):
            gt = read_id_png(os.path.join(layout.annotation_dir, sequence, frame + ".png"), layout.year)
            gt[gt == 255] = 0
            mask = np.roll(gt, 2 * i + 1, axis=1) if int(frame) % (i + 2) == 0 else cv2.erode(gt, np.ones((3, 3)))
            write_id_png(str(results / sequence / f"{frame}.png"), mask)
    tags = load_frame_tags(os.path.join(root, FRAME_TAGS_FILE))
    with_tables = base / "tables"
    scores = evaluate_davis(layout.root, str(results), "davis2016", year="2016", output_dir=str(with_tables))
    return {"root": root, "layout": layout, "results": str(results), "tags": tags, "scores": scores, "base": base}


def _pooled_clean(scores, tags) -> float:
    """The rule frame_breakdown used to apply: J and F of every clean frame pooled over all objects."""
    pooled = [(j, f) for name, (sequence, frames) in scores.frames.items()
              for frame, j, f in zip(frames, *scores.per_frame[name]) if tags[sequence][frame]["degraded"] is None]
    return float(np.nanmean(np.array(pooled)))


def test_frame_breakdown_reports_the_clean_and_degraded_jf_of_results_json(scored):
    """What the evaluators write (subset_metrics into results.json) and what tools/frame_breakdown.py prints for the
    same results folder are the same numbers, on a set where pooling frames would give another one."""
    scores, tags = scored["scores"], scored["tags"]
    path = str(scored["base"] / "results.json")
    EvaluationResults.from_evaluation("synthetic_davis2016_val", {
        "davis": scores.global_metrics, **{f"davis_{k}": v for k, v in subset_metrics(scores, tags).items()},
    }).write(path)
    written = EvaluationResults.read(path).subsets
    assert set(written) == set(SUBSETS)
    table, _ = load_tool("frame_breakdown").breakdown(os.path.join(scored["root"], "2016"), scored["results"], tags,
                                                      BORDER_FRAMES, OCCLUDED_FRACTION)
    for subset in SUBSETS:
        assert table[subset] == (written[subset]["J&F-Mean"], written[subset]["frames"])
    assert abs(_pooled_clean(scores, tags) - written["clean"]["J&F-Mean"]) > 1e-6  # the set tells the rules apart


def test_every_frame_kind_follows_the_subset_rule(scored):
    """frame_kind_metrics: clean and degraded equal subset_metrics; "all" is the overall J&F of the global row."""
    scores, tags = scored["scores"], scored["tags"]
    kinds = frame_kind_metrics(scores, tags)
    subsets = subset_metrics(scores, tags)
    for subset in SUBSETS:
        assert kinds[subset] == subsets[subset]
    assert kinds["all"]["J&F-Mean"] == pytest.approx(scores.global_metrics["J&F-Mean"], abs=1e-12)
    assert kinds["border"]["frames"] + kinds["inner"]["frames"] == kinds["all"]["frames"]


def test_the_comparison_scores_frame_kinds_by_the_subset_rule(scored):
    comparison = compare_methods(scored["layout"], [scored["results"]], ["a"],
                                 frame_tags=os.path.join(scored["root"], FRAME_TAGS_FILE))
    expected = frame_kind_metrics(scored["scores"], scored["tags"])
    assert comparison.methods[0].kinds == {kind: v for kind, v in expected.items() if kind != "all"}


def test_a_scored_frame_without_tags_is_an_error_naming_it(scored):
    tags = {s: dict(frames) for s, frames in scored["tags"].items()}
    sequence = scored["layout"].sequences()[0]
    frame = sorted(tags[sequence])[3]
    del tags[sequence][frame]
    with pytest.raises(ValueError, match=f"{sequence}/{frame}"):
        frame_kind_metrics(scored["scores"], tags)
