"""tools/demo.py on bad input: a video that ends early is an error with no output, --fps and --output are checked,
empty weights are refused unless asked for, and what killed runs left is removed by the next run."""
import os

import cv2
import numpy as np
import pytest

from helpers import load_tool

from vos_eval.folder_builds import build_lock_file
from vos_eval.locks import folder_lock

FRAMES = 12


@pytest.fixture(scope="module")
def demo():
    return load_tool("demo")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """An .mp4 of FRAMES noisy 96x64 frames."""
    path = tmp_path_factory.mktemp("video") / "in.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 64))
    for t in range(FRAMES):
        writer.write(np.random.default_rng(t).integers(0, 255, (64, 96, 3), dtype=np.uint8))
    writer.release()
    return path


def run(demo, config_file, *args) -> int:
    return demo.main(["--config-file", config_file, "--allow-random-weights", *args])


def test_demo_on_a_corrupt_video_exits_1_and_keeps_no_output(demo, tiny_config_file, video, tmp_path, capsys):
    data = bytearray(video.read_bytes())
    data[len(data) // 4: len(data) // 2] = bytes(len(data) // 2 - len(data) // 4)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(data))
    out = tmp_path / "out"
    assert run(demo, tiny_config_file, "--video-input", str(corrupt), "--output", str(out / "o.mp4"),
               "--save-masks", str(out / "masks")) == 1
    err = capsys.readouterr().err
    assert f"--video-input {corrupt}: read " in err and f"of its {FRAMES} frames" in err
    assert os.listdir(out) == []


@pytest.mark.parametrize("fps", ["inf", "nan", "0", "0.5", "1000", "-3"])
def test_demo_fps_must_be_a_finite_rate_in_range(demo, tiny_config_file, tmp_path, capsys, fps):
    with pytest.raises(SystemExit) as exit_info:
        run(demo, tiny_config_file, "--input", str(tmp_path), "--output", str(tmp_path / "o.mp4"), "--fps", fps)
    assert exit_info.value.code == 2
    assert f"--fps must be a frame rate in [1, 240], got {float(fps)}" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["x.avi", "x.gif", "x.MKV"])
def test_demo_output_other_than_mp4_or_folder_is_refused(demo, tiny_config_file, video, tmp_path, capsys, name):
    with pytest.raises(SystemExit):
        run(demo, tiny_config_file, "--video-input", str(video), "--output", str(tmp_path / name))
    assert f"--output {tmp_path / name}: write an .mp4 video or a folder" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_demo_output_and_save_masks_in_one_folder_is_refused(demo, tiny_config_file, video, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run(demo, tiny_config_file, "--video-input", str(video), "--output", str(tmp_path / "o"),
            "--save-masks", str(tmp_path / "o") + "/")
    assert "--output and --save-masks are the same folder" in capsys.readouterr().err


def test_demo_with_empty_weights_is_refused_unless_allowed(demo, tiny_config_file, video, tmp_path, capsys):
    assert demo.main(["--config-file", tiny_config_file, "--video-input", str(video),
                      "--output", str(tmp_path / "o")]) == 1
    assert "MODEL.WEIGHTS is empty, so the demo would use a randomly initialised model" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_demo_removes_partial_outputs_that_killed_runs_left(demo, tiny_config_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".o.mp4.tmp-killed").mkdir()  # a killed run's half-built video (no live run holds o.mp4's lock)
    (out / ".o.mp4.tmp-killed" / "o.mp4").write_bytes(b"half a video")
    (out / ".masks.tmp-killed").mkdir()
    frames = tmp_path / "frames"
    frames.mkdir()
    for t in range(2):
        cv2.imwrite(str(frames / f"{t:05d}.jpg"), np.full((64, 96, 3), 60 * t, np.uint8))
    assert run(demo, tiny_config_file, "--input", str(frames), "--output", str(out / "o.mp4"),
               "--save-masks", str(out / "masks")) == 0
    assert sorted(os.listdir(out)) == ["masks", "o.mp4"]
    assert len(os.listdir(out / "masks")) == 2


def test_demo_into_an_output_a_live_run_writes_is_refused(demo, tiny_config_file, tmp_path, capsys):
    """A second demo into an output another live run is building stops with the reason, leaving that run's work."""
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "00000.jpg"), np.full((64, 96, 3), 60, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    (out / ".o.mp4.tmp-live").mkdir()  # the live run's half-built video
    with folder_lock(str(out / "o.mp4"), build_lock_file(str(out / "o.mp4"))):  # held as that run holds it
        assert run(demo, tiny_config_file, "--input", str(frames), "--output", str(out / "o.mp4")) == 1
        assert f"{out / 'o.mp4'} is in use by another run (pid {os.getpid()}" in capsys.readouterr().err
        assert ".o.mp4.tmp-live" in os.listdir(out) and "o.mp4" not in os.listdir(out)
