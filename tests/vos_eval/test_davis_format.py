"""The one DAVIS format module: names, frame order, the id-PNG policy, the writer, the layout, and the loader, the
evaluator, OSVOS and the visualiser reading one annotation alike."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from slowfast_vos import add_slowfast_vos_config
from slowfast_vos.data import load_davis, register_davis
from slowfast_vos.evaluation import DAVISEvaluator
from vos_eval.davis_format import (
    DAVISFormatError,
    DAVISLayout,
    check_name,
    davis_palette,
    natural_sorted,
    read_id_png,
    write_id_png,
)
from vos_eval.protocols import evaluate_davis
from helpers import REPO, two_objects, write_davis, write_results

@pytest.mark.parametrize("name", ["", ".", "..", "../bear", "a/b", "a\\b", " bear", "bear\n", "be\x00ar"])
def test_check_name_refuses_names_that_are_not_plain(name):
    with pytest.raises(DAVISFormatError, match="list.txt:3: sequence name .* is not a plain name"):
        check_name(name, "sequence", "list.txt:3")


def test_natural_order_puts_numbers_in_value_order():
    assert natural_sorted(["frame10", "frame2", "frame1", "frame02b", "a"]) == [
        "a", "frame1", "frame2", "frame02b", "frame10"]
    assert natural_sorted(["00010", "00002", "00001"]) == ["00001", "00002", "00010"]


def test_writer_and_reader_round_trip_in_both_formats(tmp_path):
    ids = two_objects(0)
    ids[0, 0] = 255
    write_id_png(str(tmp_path / "a.png"), ids)
    image = Image.open(tmp_path / "a.png")
    assert image.mode == "P"
    assert np.array_equal(np.array(image.getpalette()[:768], np.uint8).reshape(256, 3), davis_palette())
    np.testing.assert_array_equal(read_id_png(str(tmp_path / "a.png"), "2017"), ids)
    write_id_png(str(tmp_path / "b.png"), ids, year="2016")
    assert Image.open(tmp_path / "b.png").mode == "L"
    assert set(np.unique(np.asarray(Image.open(tmp_path / "b.png")))) == {0, 255}
    np.testing.assert_array_equal(read_id_png(str(tmp_path / "b.png"), "2016"), (ids > 0).astype(np.uint8))
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # written through a temporary file


def test_id_png_policy_for_0_255_masks(tmp_path):
    """0/255 masks: object 1 for DAVIS 2016 and results (as the visualiser always read them); an error naming the
    file for DAVIS 2017, where 255 is void (formerly an error in the loader but object 1 in the visualiser)."""
    binary = np.where(two_objects(0) > 0, 255, 0).astype(np.uint8)
    for mode in ("L", "P"):
        path = str(tmp_path / f"{mode}.png")
        image = Image.fromarray(binary, mode="L")
        (image.convert("P") if mode == "P" else image).save(path)
        expected = (binary > 0).astype(np.uint8)
        np.testing.assert_array_equal(read_id_png(path, "2016"), expected)
        np.testing.assert_array_equal(read_id_png(path), expected)
        with pytest.raises(DAVISFormatError, match=f"{mode}.png holds only 0 and 255.*year='2016'"):
            read_id_png(path, "2017")


def test_rgb_annotations_in_the_palette_are_read_alike_by_loader_and_evaluator(tmp_path):
    """Formerly the loader converted RGB palette masks and the evaluator rejected them."""
    root = Path(write_davis(tmp_path / "davis", ["bear"]))
    for png in (root / "Annotations" / "480p" / "bear").iterdir():
        Image.open(png).convert("RGB").save(png)
    records = load_davis(str(root), "2017", "val", use_cache=False)
    assert [a["object_id"] for a in records[2]["annotations"]] == [1, 2]
    results = write_results(tmp_path / "res", ["bear"])
    assert evaluate_davis(str(root), results, "semi-supervised").global_metrics["J&F-Mean"] == 1.0
    result = Path(results) / "bear" / "00003.png"
    Image.open(result).convert("RGB").save(result)
    with pytest.raises(DAVISFormatError, match=r"00003\.png: mask PNG has mode 'RGB'"):
        evaluate_davis(str(root), results, "semi-supervised")  # a colour result is a visualisation, not ids


def test_davis2016_full_resolution_is_scored_in_its_1080p_folders(tmp_path):
    """DAVIS 2016 full resolution is looked for in 1080p/ (its layout), not in 2017's Full-Resolution/."""
    root = write_davis(tmp_path / "davis2016", ["bear"], year="2016", resolution="Full-Resolution")
    results = write_results(tmp_path / "res", ["bear"])
    out = evaluate_davis(root, results, "davis2016", resolution="Full-Resolution")
    assert out.global_metrics["J&F-Mean"] == 1.0
    layout = DAVISLayout.find(root, "val", resolution="Full-Resolution")
    assert layout.year == "2016" and layout.annotation_dir == os.path.join(root, "Annotations", "1080p")


def test_registered_fullres_set_is_scored_through_its_layout(tmp_path):
    root = write_davis(tmp_path / "davis2016", ["bear"], year="2016", resolution="Full-Resolution")
    name = f"fmt_fullres_{uuid.uuid4().hex[:6]}"
    register_davis(name, root, "2016", "val", resolution="Full-Resolution", use_cache=False)
    try:
        cfg = get_cfg()
        add_slowfast_vos_config(cfg)
        cfg.OUTPUT_DIR = str(tmp_path / "out")
        evaluator = DAVISEvaluator.from_config(cfg, name, distributed=False)
        write_results(Path(evaluator.results_dir), ["bear"])
        assert evaluator.score().global_metrics["J&F-Mean"] == 1.0
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_osvos_scoring_resolves_an_empty_task_to_the_sets_own(tmp_path):
    """OSVOSRunner.score resolves TEST.DAVIS.TASK '' to the set's own task before it evaluates."""
    from slowfast_vos.engine.osvos import OSVOSRunner

    root = write_davis(tmp_path / "davis", ["bear", "car"])
    name = f"fmt_osvos_{uuid.uuid4().hex[:6]}"
    register_davis(name, root, "2017", "val", use_cache=False)
    try:
        cfg = get_cfg()
        add_slowfast_vos_config(cfg)
        cfg.DATASETS.TEST = (name,)
        cfg.TEST.DAVIS.TASK = ""
        cfg.TEST.VOS.WORKERS = 0
        runner = OSVOSRunner(cfg, str(tmp_path / "osvos"), allow_random_weights=True)
        assert runner.evaluator.task == "semi-supervised"
        write_results(tmp_path / "osvos" / "davis_results", ["bear", "car"])
        payload = runner.score(2)
        assert payload["davis"]["J&F-Mean"] == 1.0 and payload["sequences"] == 2
        assert (tmp_path / "osvos" / "per-sequence_results-val.csv").read_text().count("\n") == 5  # 4 objects
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_layout_reads_2016_lists_and_refuses_lines_leaving_the_root(tmp_path):
    root = Path(write_davis(tmp_path / "d16", ["bear"], year="2016"))
    layout = DAVISLayout(str(root), "2016", "val")
    assert layout.sequences() == ("bear",)
    pairs = layout.listed_frames()["bear"]
    assert pairs[0] == (str(root / "JPEGImages" / "480p" / "bear" / "00000.jpg"),
                        str(root / "Annotations" / "480p" / "bear" / "00000.png"))
    with open(root / "ImageSets" / "480p" / "val.txt", "a") as f:
        f.write("/JPEGImages/480p/../00000.jpg /Annotations/480p/../00000.png\n")
    with pytest.raises(DAVISFormatError, match=r"val\.txt:6: .* name '\.\.' is not a plain name"):
        layout.sequences()


@pytest.mark.slow
def test_format_modules_import_no_torch_detectron2_opencv_or_scipy():
    """The formats are read with the standard library, numpy and Pillow only (loaders, scoring, tools)."""
    code = (
        "import sys, vos_eval.davis_format, vos_eval.ytvos_format\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'detectron2', 'cv2', 'scipy')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
