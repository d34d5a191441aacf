"""tools/demo.py (pipeline: slowfast_vos/engine/video_demo.py) with a tiny random model: videos and frame folders
in, overlays and DAVIS masks out, clear errors and no output that looks complete after one."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import REPO, load_tool
from PIL import Image

from slowfast_vos.engine import video_demo
from vos_eval.protocols import evaluate_davis

HEIGHT, WIDTH, FPS = 64, 96, 12.5


@pytest.fixture(scope="module")
def demo():
    return load_tool("demo")


def moving_disc(t: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    frame = np.full((height, width, 3), (40, 80, 120), np.uint8)
    cv2.circle(frame, (15 + 9 * t, height // 2), 12, (250, 250, 250), -1)
    return frame


def write_video(path, frames, fps: float = FPS) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def read_video(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames, capture.get(cv2.CAP_PROP_FPS)
        frames.append(frame)


def run(demo, config_file, *args) -> int:
    return demo.main(["--config-file", config_file, "--confidence-threshold", "0", "--allow-random-weights", *args])


def only_entries(folder) -> list:
    """Everything left in a folder, hidden partial outputs included."""
    return sorted(os.listdir(folder))


def test_video_in_mp4_and_davis_masks_out_same_frames_and_fps(demo, tiny_config_file, tmp_path):
    write_video(tmp_path / "in.mp4", [moving_disc(t) for t in range(7)])
    out, masks = tmp_path / "out" / "overlay.mp4", tmp_path / "results" / "disc"
    assert run(demo, tiny_config_file, "--video-input", str(tmp_path / "in.mp4"), "--output", str(out),
               "--save-masks", str(masks)) == 0
    frames, fps = read_video(out)
    assert len(frames) == 7 and fps == pytest.approx(FPS) and frames[0].shape == (HEIGHT, WIDTH, 3)
    assert only_entries(tmp_path / "out") == ["overlay.mp4"]
    names = sorted(p.name for p in masks.iterdir())
    assert names == [f"{t:05d}.png" for t in range(7)]
    ids = set()
    for name in names:
        image = Image.open(masks / name)
        assert image.mode == "P" and image.size == (WIDTH, HEIGHT)
        ids |= set(np.unique(np.asarray(image)).tolist())
    assert ids - {0}  # a random model with threshold 0 finds objects: ids 1..
    # DAVIS-format results: the evaluation scores them (here against themselves as annotations: perfect).
    davis = tmp_path / "DAVIS"
    (davis / "ImageSets" / "2017").mkdir(parents=True)
    (davis / "ImageSets" / "2017" / "val.txt").write_text("disc\n")
    (davis / "Annotations" / "480p").mkdir(parents=True)
    os.symlink(masks, davis / "Annotations" / "480p" / "disc")
    scores = evaluate_davis(str(davis), str(tmp_path / "results"), "unsupervised", output_dir=str(tmp_path / "t"))
    assert scores.global_metrics["J&F-Mean"] == pytest.approx(1.0)


def test_folder_of_jpegs_in_natural_order_to_overlay_folder(demo, tiny_config_file, tmp_path):
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for t in range(11):  # frame2 before frame10: natural order, not string order
        cv2.imwrite(str(frames_dir / f"frame{t}.jpg"), moving_disc(t % 8))
    out = tmp_path / "overlays"
    assert run(demo, tiny_config_file, "--input", str(frames_dir / "*.jpg"), "--output", str(out),
               "--save-masks", str(tmp_path / "masks")) == 0
    assert sorted(os.listdir(out)) == sorted(f"frame{t}.jpg" for t in range(11))
    assert sorted(os.listdir(tmp_path / "masks")) == sorted(f"frame{t}.png" for t in range(11))
    assert video_demo.expand_inputs([str(frames_dir)]) == [str(frames_dir / f"frame{t}.jpg") for t in range(11)]
    # The same frames as a video: as many frames at --fps.
    assert run(demo, tiny_config_file, "--input", str(frames_dir), "--output", str(tmp_path / "v.mp4"),
               "--fps", "5") == 0
    frames, fps = read_video(tmp_path / "v.mp4")
    assert len(frames) == 11 and fps == pytest.approx(5)


def test_unreadable_or_empty_input_is_a_clear_error(demo, tiny_config_file, tmp_path, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"not a video" * 50)
    assert run(demo, tiny_config_file, "--video-input", str(tmp_path / "broken.mp4"),
               "--output", str(tmp_path / "o.mp4")) == 1
    assert f"cannot open --video-input {tmp_path / 'broken.mp4'}" in capsys.readouterr().err
    assert run(demo, tiny_config_file, "--input", str(tmp_path / "*.jpg"), "--output", str(tmp_path / "o.mp4")) == 1
    assert "matches no image files" in capsys.readouterr().err
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    assert run(demo, tiny_config_file, "--input", str(tmp_path / "bad.jpg"), "--output", str(tmp_path / "o.mp4")) == 1
    assert f"cannot read image {tmp_path / 'bad.jpg'}" in capsys.readouterr().err
    assert only_entries(tmp_path) == ["bad.jpg", "broken.mp4"]


def test_unwritable_output_or_missing_codec_is_a_clear_error(demo, tiny_config_file, tmp_path, capsys, monkeypatch):
    write_video(tmp_path / "in.mp4", [moving_disc(t) for t in range(3)])
    (tmp_path / "file").write_text("")
    output = str(tmp_path / "file" / "o.mp4")
    assert run(demo, tiny_config_file, "--video-input", str(tmp_path / "in.mp4"), "--output", output) == 1
    assert f"cannot write --output {tmp_path / 'file' / 'o.mp4'}" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert run(demo, tiny_config_file, "--video-input", str(tmp_path / "in.mp4"),
               "--save-masks", str(tmp_path / "full")) == 1
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    monkeypatch.setattr(video_demo, "FOURCC", "ZZZZ")  # an encoder no OpenCV build has
    assert run(demo, tiny_config_file, "--video-input", str(tmp_path / "in.mp4"), "--output", str(tmp_path / "o.mp4"),
               "--save-masks", str(tmp_path / "m")) == 1
    assert "no 'ZZZZ' video encoder (missing codec)" in capsys.readouterr().err
    assert only_entries(tmp_path) == ["file", "full", "in.mp4"]


def test_error_mid_video_leaves_no_output_that_looks_complete(demo, tiny_config_file, tmp_path, capsys):
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for t in range(4):
        cv2.imwrite(str(frames_dir / f"{t:05d}.jpg"), moving_disc(t))
    cv2.imwrite(str(frames_dir / "00004.jpg"), moving_disc(4, height=HEIGHT + 8))
    assert run(demo, tiny_config_file, "--input", str(frames_dir / "*.jpg"), "--output", str(tmp_path / "o.mp4"),
               "--save-masks", str(tmp_path / "masks")) == 1
    assert f"{frames_dir / '00004.jpg'} is 96x72, unlike the first frame" in capsys.readouterr().err
    assert only_entries(tmp_path) == ["frames"]


@pytest.mark.slow
def test_console_shows_progress_and_no_third_party_deprecation_noise(tiny_config_file, tmp_path):
    write_video(tmp_path / "in.mp4", [moving_disc(t) for t in range(4)])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "demo.py"), "--config-file", tiny_config_file, "--video-input",
         str(tmp_path / "in.mp4"), "--output", str(tmp_path / "o.mp4"), "--allow-random-weights"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4/4" in proc.stderr and "frame/s" in proc.stderr
    for noise in ("torch.jit.script", "torch.meshgrid", "is_fx_tracing", "Warning"):
        assert noise not in proc.stderr, proc.stderr[-3000:]


def test_demo_writes_the_same_id_masks_as_the_evaluator(demo, davis_root, davis_sets, tmp_path):
    """One segmenter for both: for the same weights and frames, the demo's --save-masks PNGs and the DAVIS
    evaluator's result PNGs (unsupervised ids, TEST.VOS thresholds and tracker) are identical."""
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.data import DatasetCatalog
    from detectron2.modeling import build_model
    from tiny import tiny_cfg

    from slowfast_vos.data import ClipDatasetMapper
    from slowfast_vos.data.build import build_video_test_loader
    from slowfast_vos.engine.inference import inference_on_videos
    from slowfast_vos.evaluation import DAVISEvaluator
    from slowfast_vos.evaluation.video_evaluator import threshold_kwargs

    cfg = tiny_cfg()
    # Random weights detect little above the usual thresholds; keep every detection so ids have work to do.
    cfg.merge_from_list(["TEST.VOS.SCORE_THRESH", "0.0", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"])
    model = build_model(cfg).eval()
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("weights")
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(cfg.dump())
    records = DatasetCatalog.get(davis_sets["val"])
    sequence = records[0]["sequence"]
    records = [r for r in records if r["sequence"] == sequence]

    # The demo has no given masks: compare the multi-object ids of the unsupervised protocol.
    evaluator = DAVISEvaluator(davis_sets["val"], str(tmp_path / "eval"), task="unsupervised", distributed=False,
                               write_only=True, **threshold_kwargs(cfg))
    loader = build_video_test_loader(records, mapper=ClipDatasetMapper(cfg, is_train=False).frame_input)
    inference_on_videos(model, loader, evaluator, precision=cfg.TEST.PRECISION)

    frames = os.path.dirname(records[0]["file_name"])
    assert demo.main(["--config-file", str(config_file), "--input", frames, "--save-masks", str(tmp_path / "demo"),
                      "--opts", "MODEL.WEIGHTS", str(tmp_path / "weights.pth")]) == 0
    written = sorted(os.listdir(tmp_path / "demo"))
    assert written == sorted(r["frame_name"] + ".png" for r in records)
    ids = set()
    for name in written:
        by_demo = np.asarray(Image.open(tmp_path / "demo" / name))
        by_eval = np.asarray(Image.open(tmp_path / "eval" / "davis_results" / sequence / name))
        np.testing.assert_array_equal(by_demo, by_eval)
        ids.update(np.unique(by_demo).tolist())
    assert len(ids) > 1  # some object was segmented, so the comparison compared ids
