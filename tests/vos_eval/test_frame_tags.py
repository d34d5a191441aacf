"""Per-frame tags: written by the synthetic generator, read back, and used to score clean and degraded frames."""
import json

import numpy as np
import pytest
from helpers import load_tool, write_davis, write_results
from PIL import Image

from slowfast_vos.data import generate_synthetic_davis
from slowfast_vos.data.synthetic import render_sequence
from vos_eval.cli import main as cli_main
from vos_eval.frame_tags import (
    FRAME_KINDS,
    FRAME_TAGS_FILE,
    FRAME_TAGS_FORMAT,
    FrameTagsError,
    load_frame_tags,
    write_frame_tags,
)
from vos_eval.protocols import evaluate_davis
from vos_eval.subsets import subset_metrics


def test_clean_and_degraded_scores_on_a_hand_made_case(tmp_path):
    gt = np.zeros((6, 40, 40), dtype=bool)
    gt[:, 10:30, 10:30] = True  # 400 pixels
    pred = gt.copy()
    pred[2, 10:30, 20:30] = False  # half the object: J = 0.5
    pred[3, 10:30, 10:30] = False  # nothing: J = 0, F = 0
    write_davis(tmp_path / "davis", {"seq": gt}, year="2016")
    write_results(tmp_path / "res", {"seq": pred})
    tags = {"seq": {f"{t:05d}": {"degraded": "noise" if t in (2, 3) else None, "occluded": [0.0]} for t in range(6)}}
    tags_file = tmp_path / "tags.json"
    write_frame_tags(str(tags_file), tags)

    results = evaluate_davis(str(tmp_path / "davis"), str(tmp_path / "res"), "davis2016", year="2016")
    subsets = subset_metrics(results, load_frame_tags(str(tags_file)))
    # The protocol scores frames 1-4: clean = {1, 4} (perfect), degraded = {2, 3}.
    assert subsets["clean"]["frames"] == 2 and subsets["degraded"]["frames"] == 2
    assert subsets["clean"]["J-Mean"] == pytest.approx(1.0)
    assert subsets["clean"]["F-Mean"] == pytest.approx(1.0)
    assert subsets["degraded"]["J-Mean"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    f2 = results.per_frame["seq_1"][1][1]  # F of frame 2 (the second scored frame)
    assert 0 < f2 < 1
    assert subsets["degraded"]["F-Mean"] == pytest.approx(f2 / 2)
    assert subsets["degraded"]["J&F-Mean"] == pytest.approx((0.25 + f2 / 2) / 2)
    # The overall mean lies between the two subsets' means.
    assert subsets["degraded"]["J-Mean"] < results["global"]["J-Mean"] < subsets["clean"]["J-Mean"]


def test_tags_round_trip_from_generator_to_evaluator(tmp_path, capsys):
    root = tmp_path / "DAVIS-synthetic"
    generate_synthetic_davis(str(root), seed=3, train_sequences=1, val_sequences=2, frames=16, height=48, width=64,
                             progress=None)
    tags = load_frame_tags(str(root / FRAME_TAGS_FILE))
    assert sorted(tags) == ["syn-train-00", "syn-val-00", "syn-val-01"]
    # The file records exactly what the generator rendered for that sequence.
    rng = np.random.default_rng(np.random.SeedSequence([3, 1, 0]))
    _, ids, _, rendered = render_sequence(rng, 16, 48, 64)
    assert [tags["syn-val-00"][f"{t:05d}"] for t in range(16)] == rendered
    degraded = {(s, f) for s in ("syn-val-00", "syn-val-01") for f, t in tags[s].items() if t["degraded"]}
    assert degraded, "16-frame sequences of this seed have degraded frames"
    for tag in rendered:
        assert len(tag["occluded"]) == int(max(np.max(m[m != 255]) for m in ids))
        assert all(0.0 <= x <= 1.0 for x in tag["occluded"])

    # Results equal to the 2016 ground truth except empty on the degraded frames: the split must find them.
    davis2016 = root / "2016"
    results = tmp_path / "res"
    for sequence in ("syn-val-00", "syn-val-01"):
        masks = [np.asarray(Image.open(davis2016 / "Annotations" / "480p" / sequence / f"{t:05d}.png")) > 0
                 for t in range(16)]
        masks = [np.zeros_like(m) if (sequence, f"{t:05d}") in degraded else m for t, m in enumerate(masks)]
        write_results(results, {sequence: np.stack(masks)})
    assert cli_main(["--davis-root", str(davis2016), "--results", str(results), "--task", "davis2016",
                     "--workers", "1", "--frame-tags", str(root / FRAME_TAGS_FILE)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()[:1] in (["clean"], ["degraded"])}
    scored_degraded = sum(1 for s, f in degraded if f not in ("00000", "00015"))
    assert rows["clean"][1:] == [str(28 - scored_degraded), "1.000", "1.000", "1.000"]
    assert rows["degraded"][1:] == [str(scored_degraded), "0.000", "0.000", "0.000"]


def test_bad_tags_files_name_the_file(tmp_path):
    path = tmp_path / "tags.json"
    with pytest.raises(FrameTagsError, match="not found"):
        load_frame_tags(str(path))
    path.write_text("{not json")
    with pytest.raises(FrameTagsError, match="tags.json: not a readable JSON"):
        load_frame_tags(str(path))
    path.write_text(json.dumps({"format": "other", "sequences": {}}))
    with pytest.raises(FrameTagsError, match="expected format"):
        load_frame_tags(str(path))
    path.write_text(json.dumps({"format": FRAME_TAGS_FORMAT, "sequences": {"a": {"00000": {"occluded": []}}}}))
    with pytest.raises(FrameTagsError, match="a/00000 has no 'degraded' tag"):
        load_frame_tags(str(path))


def test_frame_breakdown_tool_splits_frames_by_kind(tmp_path, capsys):
    tool = load_tool("frame_breakdown")
    root = tmp_path / "DAVIS-synthetic"
    generate_synthetic_davis(str(root), seed=3, train_sequences=1, val_sequences=2, frames=16, height=48, width=64,
                             progress=None)
    tags = load_frame_tags(str(root / FRAME_TAGS_FILE))
    for variant, wrong in (("good", lambda s, t: False), ("bad", lambda s, t: tags[s][f"{t:05d}"]["degraded"])):
        for seed in ("s1", "s2"):
            results = tmp_path / "runs" / variant / seed / "davis_results"
            for sequence in ("syn-val-00", "syn-val-01"):
                masks = [np.asarray(Image.open(root / "2016" / "Annotations" / "480p" / sequence / f"{t:05d}.png")) > 0
                         for t in range(16)]
                write_results(results, {sequence: np.stack([np.zeros_like(m) if wrong(sequence, t) else m
                                                            for t, m in enumerate(masks)])})
    assert tool.main(["--davis-root", str(root), "--runs", str(tmp_path / "runs" / "*" / "s*" / "davis_results"),
                      "--group-by", "3", "--compare", "good", "bad"]) == 0
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in capsys.readouterr().out.splitlines() if line.startswith("| good") or line.startswith("| bad")}
    kinds = list(FRAME_KINDS)
    assert rows["good"][0] == "2" and rows["good"][1 + kinds.index("degraded")].startswith("1.000 ± 0.000")
    assert rows["bad"][1 + kinds.index("degraded")].startswith("0.000 ± 0.000")
    assert rows["bad"][1 + kinds.index("clean")].startswith("1.000 ± 0.000")
    # 2 sequences x 14 scored frames: border = first/last 3 frames of 16, of which frames 1, 2, 13, 14 are scored.
    assert rows["good"][1 + kinds.index("border")].endswith("(8)")
    assert rows["good"][1 + kinds.index("all")].endswith("(28)")
