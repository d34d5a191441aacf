"""Messy input gets one clear error naming the file, key or id, or a warning where it is legal but suspicious."""
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from detectron2.config import get_cfg
from PIL import Image

from slowfast_vos import add_slowfast_vos_config
from slowfast_vos.config import check_training_config
from slowfast_vos.data import ClipDatasetMapper, load_davis
from slowfast_vos.data.build import build_video_test_loader
from slowfast_vos.data.datasets import load_ytvos
from slowfast_vos.data.synthetic import DatasetsRootError, ensure_dataset_available
from slowfast_vos.engine.osvos import OSVOSRunner
from vos_eval.davis_format import DAVISFormatError
from vos_eval.submission import check_submission
from vos_eval.ytvos_format import YTVOSFormatError, YTVOSLayout

from helpers import FRAME_H as H
from helpers import FRAME_W as W
from helpers import write_davis
from tiny import QUICKSTART_OSVOS_CONFIG as OSVOS_CONFIG
from tiny import quickstart_cfg


# Test-time frames ------------------------------------------------------------------------------------------------
def test_val_frame_of_another_size_at_test_time_names_the_file(tmp_path):
    root = Path(write_davis(tmp_path / "DAVIS", ["bear"]))
    frame = root / "JPEGImages" / "480p" / "bear" / "00002.jpg"
    Image.fromarray(np.zeros((H * 2, W * 2, 3), np.uint8)).save(frame)
    records = load_davis(str(root), "2017", "val", use_cache=False)
    mapper = ClipDatasetMapper(False, augmentations=[], image_format="BGR", num_frames=3, frame_cache_size=0)
    with pytest.raises(DAVISFormatError, match=rf"frame {frame} is {W * 2}x{H * 2} but the frames of sequence "
                                               rf"'bear' are {W}x{H}"):
        list(build_video_test_loader(records, mapper=mapper.frame_input))


# YouTube-VOS -----------------------------------------------------------------------------------------------------
def test_youtube_vos_meta_json_without_videos_is_refused(ytvos_copy):
    meta = ytvos_copy / "valid" / "meta.json"
    meta.write_text(json.dumps({"videos": {}}))
    with pytest.raises(YTVOSFormatError, match=rf"{meta} lists no videos"):
        load_ytvos(str(ytvos_copy), "2019", "valid", use_cache=False)
    with pytest.raises(YTVOSFormatError, match=rf"no videos to check: {meta} lists none"):
        check_submission(str(ytvos_copy / "results"), YTVOSLayout(str(ytvos_copy), "valid"))


def test_frame_listed_in_meta_json_but_missing_is_found_before_inference(ytvos_copy):
    layout = YTVOSLayout(str(ytvos_copy), "valid")
    video = layout.videos()[0]
    listed = next(iter(layout.meta()[video].values()))["frames"][-1]
    jpeg = ytvos_copy / "valid" / "JPEGImages" / video / f"{listed}.jpg"
    jpeg.unlink()
    with pytest.raises(YTVOSFormatError, match=rf"meta.json lists frame '{listed}' of video '{video}' \(object \d+\), "
                                               rf"but {jpeg} is missing"):
        load_ytvos(str(ytvos_copy), "2019", "valid", use_cache=False)


# Runs and tools --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_osvos_redoes_a_sequence_whose_results_were_deleted(davis_sets, tmp_path):
    out = tmp_path / "osvos"
    cfg = quickstart_cfg(OSVOS_CONFIG, davis_sets, out, "MODEL.WEIGHTS", "", "OSVOS.ITERS", "1")
    runner = OSVOSRunner(cfg, str(out), allow_random_weights=True)
    first = runner.run()
    assert first is not None and 0.0 <= first["davis"]["J&F-Mean"] <= 1.0
    sequences = list(runner.sequences())
    assert all(runner.is_done(seq) for seq in sequences)
    shutil.rmtree(out / "davis_results" / sequences[0])
    assert not runner.is_done(sequences[0]) and runner.is_done(sequences[1])
    again = OSVOSRunner(cfg, str(out), allow_random_weights=True).run()
    assert again is not None and len(os.listdir(out / "davis_results" / sequences[0])) > 0


@pytest.mark.parametrize("key, value", [("SOLVER.MAX_ITER", -5), ("SOLVER.IMS_PER_BATCH", 0),
                                        ("SOLVER.CHECKPOINT_PERIOD", 0)])
def test_training_schedule_that_cannot_run_names_the_key(key, value):
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    cfg.merge_from_list([key, str(value)])
    with pytest.raises(ValueError, match=rf"{key} must be a positive integer, got {value}"):
        check_training_config(cfg)


def test_datasets_root_that_is_a_file_is_named(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "datasets.txt"
    not_a_folder.write_text("")
    monkeypatch.setenv("DETECTRON2_DATASETS", str(not_a_folder))
    with pytest.raises(DatasetsRootError, match=rf"DETECTRON2_DATASETS={not_a_folder} is not a folder"):
        ensure_dataset_available("synthetic_davis2017_train")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_datasets_root_is_named(tmp_path, monkeypatch):
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("DETECTRON2_DATASETS", str(read_only))
    try:
        with pytest.raises(DatasetsRootError, match=rf"DETECTRON2_DATASETS={read_only} cannot be written"):
            ensure_dataset_available("synthetic_davis2017_train")
    finally:
        read_only.chmod(stat.S_IRWXU)
