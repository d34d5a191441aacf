"""vos_eval.benchmarks: each benchmark's tasks, given masks, written and scored frames, results folder and scoring,
found from a layout or a name; an unknown benchmark, task or layout is an error naming it."""
import json

import numpy as np
import pytest
from helpers import two_objects, write_davis, write_results

from vos_eval.benchmarks import (
    BENCHMARKS,
    DAVIS2016,
    DAVIS2017,
    YOUTUBE_VOS,
    UnknownBenchmarkError,
    benchmark_for,
    get_benchmark,
)
from vos_eval.davis_format import DAVISLayout
from vos_eval.id_png import write_id_png
from vos_eval.run_folder import DAVIS_RESULTS, YTVOS_RESULTS
from vos_eval.ytvos_format import YTVOSLayout

FRAMES = 5


def _davis(tmp_path, year):
    labels = {"seq": np.stack([two_objects(t) if year == "2017" else (two_objects(t) > 0).astype(np.uint8)
                               for t in range(FRAMES)])}
    write_davis(tmp_path / f"DAVIS{year}", labels, year=year)
    return DAVISLayout(str(tmp_path / f"DAVIS{year}"), year, "val"), labels


def _ytvos(tmp_path):
    """A train split of one video: object 1 on every frame, object 2 entering on the third (frames 00000..00020)."""
    root = tmp_path / "ytvos"
    frames = [f"{5 * t:05d}" for t in range(FRAMES)]
    ids = []
    for t, frame in enumerate(frames):
        mask = np.zeros((24, 32), np.uint8)
        mask[2:10, 2 + t:10 + t] = 1
        if t >= 2:
            mask[14:22, 20:28] = 2
        ids.append(mask)
        (root / "train" / "JPEGImages" / "vid").mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(root / "train" / "JPEGImages" / "vid" / f"{frame}.jpg")
        write_id_png(str(root / "train" / "Annotations" / "vid" / f"{frame}.png"), mask)
    meta = {"videos": {"vid": {"objects": {"1": {"category": "a", "frames": frames},
                                           "2": {"category": "b", "frames": frames[2:]}}}}}
    (root / "train" / "meta.json").write_text(json.dumps(meta))
    return YTVOSLayout(str(root), "train"), frames, np.stack(ids)


def test_each_layout_finds_its_benchmark_and_names_find_them_too(tmp_path):
    davis16, _ = _davis(tmp_path, "2016")
    davis17, _ = _davis(tmp_path, "2017")
    ytvos, _, _ = _ytvos(tmp_path)
    assert benchmark_for(davis16) is DAVIS2016 and benchmark_for(davis17) is DAVIS2017
    assert benchmark_for(ytvos) is YOUTUBE_VOS
    assert [get_benchmark(name) for name in ("davis2016", "davis2017", "ytvos")] == list(BENCHMARKS.values())
    # The family key is the sets' evaluator_type and the results.json key.
    assert (DAVIS2016.key, DAVIS2017.key, YOUTUBE_VOS.key) == ("davis", "davis", "ytvos")
    assert (DAVIS2017.results_subdir, YOUTUBE_VOS.results_subdir) == (DAVIS_RESULTS, YTVOS_RESULTS)
    assert DAVIS2016.describe(davis16) == "DAVIS 2016 val" and YOUTUBE_VOS.describe(ytvos) == "YouTube-VOS train"


def test_unknown_benchmark_task_or_layout_is_an_error_naming_it():
    with pytest.raises(UnknownBenchmarkError, match="unknown benchmark 'kitti'; known: davis2016, davis2017, ytvos"):
        get_benchmark("kitti")
    with pytest.raises(UnknownBenchmarkError, match=r"TEST.YTVOS.TASK: YouTube-VOS task must be one of .* 'davis2016'"):
        YOUTUBE_VOS.check_task("davis2016", "TEST.YTVOS.TASK")
    with pytest.raises(UnknownBenchmarkError, match="'interactive'"):
        DAVIS2017.check_task("interactive")
    with pytest.raises(UnknownBenchmarkError, match="not the layout of a known benchmark"):
        benchmark_for("/data/some/folder")
    with pytest.raises(UnknownBenchmarkError, match="OSVOS is semi-supervised; TEST.YTVOS.TASK is 'unsupervised'"):
        YOUTUBE_VOS.check_adaptation("unsupervised", "TEST.YTVOS.TASK")
    assert DAVIS2016.check_adaptation("davis2016") == "davis2016"


def test_davis_gives_the_first_frame_writes_and_scores_all_but_first_and_last(tmp_path):
    layout, labels = _davis(tmp_path, "2017")
    frames = layout.annotation_frames("seq")
    assert DAVIS2017.given_objects(layout, "seq") == {frames[0]: None}
    given = DAVIS2017.given_masks(layout, "seq")
    assert list(given) == [frames[0]] and sorted(given[frames[0]]) == [1, 2]
    assert np.array_equal(given[frames[0]][2], labels["seq"][0] == 2)
    assert DAVIS2017.result_frames(layout, "seq", "semi-supervised") == frames[1:-1]
    assert DAVIS2017.scored_frames(layout, "seq", "unsupervised") == frames
    assert DAVIS2017.default_task(layout) == "semi-supervised" and DAVIS2017.task_needed
    # DAVIS 2016: one object, read binary (any non-zero pixel), the binary protocol by default.
    layout16, labels16 = _davis(tmp_path, "2016")
    (mask,) = DAVIS2016.given_masks(layout16, "seq").values()
    assert list(mask) == [1] and np.array_equal(mask[1], labels16["seq"][0] > 0)
    assert DAVIS2016.default_task(layout16) == "davis2016" and DAVIS2016.single_object


def test_ytvos_gives_each_object_at_its_first_appearance_and_writes_every_listed_frame(tmp_path):
    layout, frames, ids = _ytvos(tmp_path)
    assert YOUTUBE_VOS.given_objects(layout, "vid") == {frames[0]: (1,), frames[2]: (2,)}
    given = YOUTUBE_VOS.given_masks(layout, "vid")
    assert sorted(given[frames[2]]) == [2]  # object 1 is on that frame too, but not given there
    assert np.array_equal(given[frames[2]][2], ids[2] == 2)
    assert YOUTUBE_VOS.result_frames(layout, "vid", "semi-supervised") == frames
    assert YOUTUBE_VOS.scored_frames(layout, "vid", "semi-supervised") == frames[1:]
    assert YOUTUBE_VOS.scorable(layout) and not YOUTUBE_VOS.scorable(YTVOSLayout(layout.root, "valid"))
    assert YOUTUBE_VOS.sequences(layout) == ["vid"]


def test_evaluate_has_one_signature_for_every_benchmark(tmp_path):
    davis, labels = _davis(tmp_path, "2017")
    write_results(tmp_path / "davis_res", labels)
    ytvos, frames, ids = _ytvos(tmp_path)
    for t, frame in enumerate(frames):
        write_id_png(str(tmp_path / "yt_res" / "vid" / f"{frame}.png"), ids[t])
    for layout, results in ((davis, tmp_path / "davis_res"), (ytvos, tmp_path / "yt_res")):
        scored = benchmark_for(layout).evaluate(layout, str(results), "semi-supervised", write_csvs=False,
                                                split="label")
        assert scored.global_metrics["J&F-Mean"] == pytest.approx(1.0) and scored.split == "label"
    # A wrong result scores below 1 the same way on both.
    write_id_png(str(tmp_path / "yt_res" / "vid" / f"{frames[3]}.png"), np.zeros_like(ids[3]))
    assert YOUTUBE_VOS.evaluate(ytvos, str(tmp_path / "yt_res"), write_csvs=False).global_metrics["J-Mean"] < 1.0
