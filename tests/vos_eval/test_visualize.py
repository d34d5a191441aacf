"""vos_eval.visualization and tools/visualize.py: exact overlay pixels, contact-sheet geometry, GIF/MP4 output
and bad-input errors."""
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import load_tool
from PIL import Image

from vos_eval import visualization
from vos_eval.davis_format import read_id_png

H, W = 32, 48
NUM_FRAMES = 5


@pytest.fixture(scope="module")
def vis():
    return visualization


@pytest.fixture(scope="module")
def cli():
    return load_tool("visualize")


def _indexed_png(path: Path, ids: np.ndarray, palette: np.ndarray) -> None:
    image = Image.fromarray(ids.astype(np.uint8), mode="P")
    image.putpalette(palette.reshape(-1).tolist())
    image.save(path)


def _make_sequence(root: Path, vis, name: str = "seq", with_gt: bool = True) -> dict:
    """A DAVIS-style sequence of NUM_FRAMES distinct HxW frames, two moving objects, and its GT."""
    frames, results, gt = (root / "JPEGImages" / "480p" / name, root / "results" / name,
                           root / "Annotations" / "480p" / name)
    for folder in (frames, results, gt):
        folder.mkdir(parents=True)
    palette = vis.davis_palette()
    rng = np.random.default_rng(0)
    for t in range(NUM_FRAMES):
        frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        frame[:, :, 0] = 40 * t
        cv2.imwrite(str(frames / f"{t:05d}.jpg"), frame)
        ids = np.zeros((H, W), np.uint8)
        ids[4 + t:14 + t, 3:15] = 1
        ids[18:28, 20 + 2 * t:34 + 2 * t] = 2
        _indexed_png(results / f"{t:05d}.png", ids, palette)
        if with_gt:
            gt_ids = np.zeros((H, W), np.uint8)
            gt_ids[5 + t:15 + t, 4:16] = 1
            gt_ids[0:2, :] = 255
            _indexed_png(gt / f"{t:05d}.png", gt_ids, palette)
    return {"frames": frames, "results": results, "gt": gt}


def test_davis_palette_is_the_standard_one(vis):
    palette = vis.davis_palette()
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    assert palette[:6].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128]]
    assert palette[255].tolist() == [224, 224, 192]
    assert len({tuple(c) for c in palette}) == 256


def test_overlay_colours_mask_pixels_and_leaves_the_rest_untouched(vis):
    palette = vis.davis_palette()
    frame = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[5:15, 6:18] = 1
    mask[20:30, 25:40] = 2
    mask[0:3, 40:48] = 255  # void: never drawn
    out = vis.overlay_masks(frame, mask, palette, alpha=0.25)

    assert out.shape == frame.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[mask == 0], frame[mask == 0])
    np.testing.assert_array_equal(out[mask == 255], frame[mask == 255])
    for object_id, (r0, r1, c0, c1) in ((1, (5, 15, 6, 18)), (2, (20, 30, 25, 40))):
        bgr = palette[object_id][::-1].astype(np.float64)
        interior = (slice(r0 + 1, r1 - 1), slice(c0 + 1, c1 - 1))
        expected = np.rint(0.75 * frame[interior].astype(np.float64) + 0.25 * bgr).astype(np.uint8)
        np.testing.assert_array_equal(out[interior], expected)
        border = np.zeros((H, W), bool)
        border[r0:r1, c0:c1] = True
        border[r0 + 1:r1 - 1, c0 + 1:c1 - 1] = False
        assert (out[border] == palette[object_id][::-1]).all()
    np.testing.assert_array_equal(frame, np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8))


def test_overlay_rejects_a_mask_of_another_size(vis):
    with pytest.raises(ValueError, match="differs"):
        vis.overlay_masks(np.zeros((H, W, 3), np.uint8), np.zeros((H, W + 1), np.uint8), vis.davis_palette())


def test_gt_contours_are_dashed_on_the_gt_boundary_only(vis):
    palette = vis.davis_palette()
    frame = np.full((H, W, 3), 77, np.uint8)
    gt = np.zeros((H, W), np.uint8)
    gt[8:20, 10:30] = 3
    gt[0:2, :] = 255
    out = vis.draw_gt_contours(frame, gt, palette)
    boundary = np.zeros((H, W), bool)
    boundary[8:20, 10:30] = True
    boundary[9:19, 11:29] = False
    np.testing.assert_array_equal(out[~boundary], frame[~boundary])
    drawn = out[boundary]
    colour = (drawn == palette[3][::-1]).all(axis=1)
    white = (drawn == 255).all(axis=1)
    assert (colour | white).all() and colour.any() and white.any()


def test_contact_sheet_is_a_grid_of_labelled_thumbnails(vis):
    images = [np.full((H, W, 3), 10 * k, np.uint8) for k in range(7)]
    labels = [f"{k:05d}" for k in range(7)]
    sheet = vis.make_contact_sheet(images, labels, columns=3, thumb_width=24)
    thumb_h, thumb_w = 16, 24
    assert sheet.shape == (3 * thumb_h, 3 * thumb_w, 3)
    assert not sheet[2 * thumb_h:, thumb_w:].any()  # the two unused cells of the last row
    cell = sheet[thumb_h:2 * thumb_h, 0:thumb_w]  # image 3, value 30, with its label written on it
    assert (cell == 30).mean() > 0.3 and (cell != 30).any()
    assert vis.make_contact_sheet(images[:2], labels[:2], columns=6).shape == (H, 2 * W, 3)


def test_sample_indices_are_even_and_include_both_ends(vis):
    assert vis.sample_indices(10, 4) == [0, 3, 6, 9]
    assert vis.sample_indices(3, 24) == [0, 1, 2]
    assert vis.sample_indices(50, 1) == [0]


def test_visualize_sequence_writes_gif_and_sheet(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    out = tmp_path / "vis"
    paths = vis.visualize_sequence(str(seq["frames"]), str(seq["results"]), str(out), gt_dir=str(seq["gt"]),
                                   fmt="gif", fps=5, sheet_columns=2, max_sheet_frames=3)
    assert paths == {"video": str(out / "seq.gif"), "sheet": str(out / "seq_sheet.png")}
    with Image.open(paths["video"]) as gif:
        assert gif.n_frames == NUM_FRAMES
        assert gif.size == (W, H)
        assert gif.info["duration"] == 200  # GIF stores centiseconds: 1000 ms / 5 fps
    sheet = cv2.imread(paths["sheet"])
    assert sheet.shape == (2 * H, 2 * W, 3)
    assert sorted(os.listdir(out)) == ["seq.gif", "seq_sheet.png"]  # no temporary files left behind


def test_mp4_has_every_frame(vis, tmp_path):
    if vis.mp4_backend() is None:
        pytest.skip("no MP4 writer (imageio-ffmpeg or OpenCV with FFmpeg) available")
    seq = _make_sequence(tmp_path, vis, with_gt=False)
    paths = vis.visualize_sequence(str(seq["frames"]), str(seq["results"]), str(tmp_path / "vis"), fmt="mp4")
    capture = cv2.VideoCapture(paths["video"])
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == NUM_FRAMES
    assert frames[0].shape == (H, W, 3)


def test_main_renders_every_sequence_of_a_results_root(vis, cli, tmp_path, capsys):
    _make_sequence(tmp_path, vis, "bear")
    _make_sequence(tmp_path / "other", vis, "car")
    (tmp_path / "JPEGImages" / "480p" / "car").symlink_to(tmp_path / "other" / "JPEGImages" / "480p" / "car")
    (tmp_path / "Annotations" / "480p" / "car").symlink_to(tmp_path / "other" / "Annotations" / "480p" / "car")
    (tmp_path / "results" / "car").symlink_to(tmp_path / "other" / "results" / "car")
    out = tmp_path / "vis"
    assert cli.main(["--davis-root", str(tmp_path), "--results-root", str(tmp_path / "results"), "--show-gt",
                     "--output", str(out), "--max-sheet-frames", "4", "--sheet-columns", "4"]) == 0
    assert sorted(os.listdir(out)) == ["bear.gif", "bear_sheet.png", "car.gif", "car_sheet.png"]
    assert str(out / "car_sheet.png") in capsys.readouterr().out
    assert cv2.imread(str(out / "bear_sheet.png")).shape == (H, 4 * W, 3)


def test_main_needs_one_input_form(cli, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["--output", str(tmp_path)])
    with pytest.raises(SystemExit):
        cli.main(["--frames", "a", "--results", "b", "--davis-root", "c", "--results-root", "d",
                  "--output", str(tmp_path)])


def test_grayscale_0_255_masks_read_as_object_1(vis, tmp_path):
    ids = np.zeros((H, W), np.uint8)
    ids[3:9, 4:10] = 255
    Image.fromarray(ids, mode="L").save(tmp_path / "m.png")
    mask = read_id_png(str(tmp_path / "m.png"))
    assert set(np.unique(mask).tolist()) == {0, 1}
    assert (mask == 1).sum() == 36


def _run(vis, seq, tmp_path, **kwargs):
    return vis.visualize_sequence(str(seq["frames"]), str(seq["results"]), str(tmp_path / "vis"), **kwargs)


def test_error_missing_frames_folder(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    seq["frames"] = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="frames folder not found: .*nowhere"):
        _run(vis, seq, tmp_path)


def test_error_missing_results_folder(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    seq["results"] = tmp_path / "no_results"
    with pytest.raises(FileNotFoundError, match="results folder not found: .*no_results"):
        _run(vis, seq, tmp_path)


def test_error_missing_gt_folder(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    with pytest.raises(FileNotFoundError, match="ground-truth folder not found: .*no_gt"):
        _run(vis, seq, tmp_path, gt_dir=str(tmp_path / "no_gt"))


def test_error_result_without_matching_frame(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    (seq["frames"] / "00003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"results/seq/00003\.png has no matching frame: .*00003\.jpg"):
        _run(vis, seq, tmp_path)


def test_error_result_size_mismatch(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    _indexed_png(seq["results"] / "00002.png", np.zeros((H - 2, W), np.uint8), vis.davis_palette())
    with pytest.raises(ValueError, match=r"size mismatch: result .*00002\.png is 48x30 but frame .*00002\.jpg"):
        _run(vis, seq, tmp_path)


def test_error_gt_size_mismatch(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    _indexed_png(seq["gt"] / "00001.png", np.zeros((H, W + 4), np.uint8), vis.davis_palette())
    with pytest.raises(ValueError, match=r"size mismatch: ground truth .*00001\.png is 52x32"):
        _run(vis, seq, tmp_path, gt_dir=str(seq["gt"]))


def test_error_colour_result_png(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    Image.fromarray(np.zeros((H, W, 3), np.uint8), mode="RGB").save(seq["results"] / "00004.png")
    with pytest.raises(ValueError, match=r"00004\.png: mask PNG has mode 'RGB' \(3 channels\); expected an indexed"):
        _run(vis, seq, tmp_path)
    assert not (tmp_path / "vis").exists()  # nothing written for a sequence that failed


def test_error_empty_results_folder(vis, tmp_path):
    seq = _make_sequence(tmp_path, vis)
    for png in seq["results"].iterdir():
        png.unlink()
    with pytest.raises(FileNotFoundError, match="no result PNGs in .*results/seq"):
        _run(vis, seq, tmp_path)
