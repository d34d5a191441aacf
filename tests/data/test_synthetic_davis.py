"""Synthetic DAVIS generator: determinism, layout in both DAVIS formats, content, atomic writes, CLI, speed."""
import colorsys
import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import DAVIS_SET, REPO
from PIL import Image

from slowfast_vos.data import ensure_synthetic_davis, generate_synthetic_davis
from slowfast_vos.data.synthetic import davis as synthetic_module
from slowfast_vos.data.synthetic import render
from vos_eval.davis_format import davis_palette

DATASETS_DIR = REPO / "datasets"
# The shared davis_root fixture's generator arguments without its seed.
TINY = {**{k: v for k, v in DAVIS_SET.items() if k != "seed"}, "progress": None}
SEED = DAVIS_SET["seed"]


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_identical_bytes_other_seed_differs(davis_root, tmp_path):
    again = Path(generate_synthetic_davis(str(tmp_path / "again"), seed=SEED, **TINY))
    assert _digests(again) == _digests(davis_root)
    other = Path(generate_synthetic_davis(str(tmp_path / "other"), seed=SEED + 1, **TINY))
    assert _digests(other).keys() == _digests(davis_root).keys()
    assert _digests(other) != _digests(davis_root)


def test_layout_2017_and_2016(davis_root):
    assert (davis_root / "ImageSets" / "2017" / "train.txt").read_text().split() == ["syn-train-00", "syn-train-01"]
    assert (davis_root / "ImageSets" / "2017" / "val.txt").read_text().split() == ["syn-val-00", "syn-val-01"]
    lines = (davis_root / "2016" / "ImageSets" / "480p" / "val.txt").read_text().splitlines()
    assert lines == [f"/JPEGImages/480p/{seq}/{t:05d}.jpg /Annotations/480p/{seq}/{t:05d}.png"
                     for seq in ("syn-val-00", "syn-val-01") for t in range(6)]
    for seq in ("syn-train-00", "syn-train-01", "syn-val-00", "syn-val-01"):
        for t in range(6):
            jpg = davis_root / "JPEGImages" / "480p" / seq / f"{t:05d}.jpg"
            assert Image.open(jpg).size == (64, 48)
            assert (davis_root / "2016" / "JPEGImages" / "480p" / seq / f"{t:05d}.jpg").read_bytes() == jpg.read_bytes()
            png = Image.open(davis_root / "Annotations" / "480p" / seq / f"{t:05d}.png")
            assert png.mode == "P"
            assert np.array_equal(np.array(png.getpalette()[:768], np.uint8).reshape(256, 3), davis_palette())
            ids = np.asarray(png)
            binary = Image.open(davis_root / "2016" / "Annotations" / "480p" / seq / f"{t:05d}.png")
            assert binary.mode == "L"
            binary = np.asarray(binary)
            assert set(np.unique(binary)) <= {0, 255}
            np.testing.assert_array_equal(binary == 255, ids != 0)  # void only ever covers object pixels


def test_objects_void_and_degradations():
    rng = np.random.default_rng(0)
    frames, ids, binaries, tags = render.render_sequence(rng, 24, 108, 192)
    assert len(frames) == len(ids) == len(binaries) == len(tags) == 24
    present = sorted(set(np.unique(np.stack(ids)).tolist()) - {0, 255})
    assert 1 <= len(present) <= 3
    void = sum(int((m == 255).sum()) for m in ids)
    objects = sum(int((m > 0).sum()) for m in binaries)
    assert 0 < void < 0.05 * objects
    for object_id in present:  # smooth motion: the centroid moves, but little from one frame to the next
        centres = [np.argwhere(m == object_id).mean(axis=0) for m in ids if (m == object_id).sum() > 50]
        steps = [np.linalg.norm(b - a) for a, b in zip(centres, centres[1:])]
        assert np.linalg.norm(centres[-1] - centres[0]) > 3 and max(steps) < 20
    saturation = np.array([[colorsys.rgb_to_hsv(*(p / 255.0))[1] for p in row] for row in frames[0][::4, ::4]])
    fg = binaries[0][::4, ::4] > 0
    assert saturation[fg].mean() > saturation[~fg].mean() + 0.3  # objects stand out on clean frames
    for seed in range(20):
        degraded = render._degraded_frames(np.random.default_rng(seed), 30)
        assert 0 not in degraded and all(t + 1 not in degraded for t in degraded)
    assert any(render._degraded_frames(np.random.default_rng(seed), 30) for seed in range(5))


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing(path, ids, year=None):
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(synthetic_module, "write_id_png", failing)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic_davis(str(tmp_path / "DAVIS-synthetic"), **TINY)
    assert list(tmp_path.iterdir()) == []


def test_ensure_generates_once_and_refuses_foreign_folders(tmp_path, monkeypatch):
    root = tmp_path / "DAVIS-synthetic"
    assert ensure_synthetic_davis(str(root), seed=1, **TINY) == str(root)
    assert (root / synthetic_module.MARKER_FILE).is_file()
    monkeypatch.setattr(synthetic_module, "generate_synthetic_davis", lambda *a, **k: pytest.fail("regenerated"))
    assert ensure_synthetic_davis(str(root)) == str(root)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="foreign"):
        ensure_synthetic_davis(str(foreign))


def test_cli_flags_and_overwrite(tmp_path, capsys):
    import importlib.util

    script = DATASETS_DIR / "prepare_synthetic_davis.py"
    spec = importlib.util.spec_from_file_location("prepare_synthetic_davis", script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / "set"
    argv = ["--output", str(out), "--seed", "3", "--train-sequences", "1", "--val-sequences", "2", "--frames", "4",
            "--height", "40", "--width", "72"]
    cli.main(argv)
    assert "[3/3] syn-val-01: 4 frames" in capsys.readouterr().out
    sequences = sorted(p.name for p in (out / "JPEGImages" / "480p").iterdir())
    assert sequences == ["syn-train-00", "syn-val-00", "syn-val-01"]
    assert Image.open(out / "JPEGImages" / "480p" / "syn-val-01" / "00003.jpg").size == (72, 40)
    with pytest.raises(FileExistsError, match=str(out)):
        cli.main(argv)
    cli.main(["--output", str(out), "--train-sequences", "1", "--val-sequences", "1", "--frames", "2", "--overwrite"])
    assert sorted(p.name for p in (out / "JPEGImages" / "480p").iterdir()) == ["syn-train-00", "syn-val-00"]
    assert sorted(p.name for p in (out / "JPEGImages" / "480p" / "syn-val-00").iterdir()) == ["00000.jpg", "00001.jpg"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_default_size_generation_time(tmp_path):
    start = time.perf_counter()
    root = Path(generate_synthetic_davis(str(tmp_path / "DAVIS-synthetic"), progress=None))
    elapsed = time.perf_counter() - start
    sequences = list((root / "JPEGImages" / "480p").iterdir())
    frames = sum(len(os.listdir(s)) for s in sequences)
    print(f"default synthetic DAVIS: {len(sequences)} sequences, {frames} frames in {elapsed:.2f} s")
    assert len(sequences) == 12 and 12 * 20 <= frames <= 12 * 30
    assert Image.open(next(sequences[0].iterdir())).size == (192, 108)
    assert elapsed < 120
