"""Messy input to the scoring gets one clear error naming the file or id, or a warning where it is legal but
suspicious: a DAVIS 2016 task on a 2017 layout, binary 0/255 results on a multi-object set, a 16-bit id PNG, a
resolution that is not DAVIS's."""
import logging

import numpy as np
import pytest
from helpers import FRAME_H as H
from helpers import FRAME_W as W
from helpers import write_davis, write_results
from PIL import Image

from vos_eval.cli import main as cli_main
from vos_eval.davis_format import DAVISFormatError, read_id_png
from vos_eval.protocols import evaluate_davis


def test_davis2016_task_on_a_davis2017_layout_warns(tmp_path, caplog):
    root = write_davis(tmp_path / "DAVIS", ["bear"])
    results = write_results(tmp_path / "results", ["bear"])
    with caplog.at_level(logging.WARNING):
        evaluate_davis(root, results, "davis2016", write_csvs=False)
    assert "task 'davis2016' on the DAVIS 2017 layout" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        evaluate_davis(root, results, "semi-supervised", write_csvs=False)
    assert "davis2016" not in caplog.text and "binary" not in caplog.text


def test_binary_0_255_results_on_a_multi_object_set_warn(tmp_path, caplog):
    root = write_davis(tmp_path / "DAVIS", ["bear", "cows"])
    results = tmp_path / "results"
    for seq in ("bear", "cows"):
        for t in range(5):
            binary = np.zeros((H, W), np.uint8)
            binary[2:10, 2 + t:10 + t] = 255
            (results / seq).mkdir(parents=True, exist_ok=True)
            Image.fromarray(binary, mode="L").save(results / seq / f"{t:05d}.png")
    with caplog.at_level(logging.WARNING):
        evaluate_davis(root, str(results), "semi-supervised", write_csvs=False)
    assert "2 sequences with several objects have binary 0/255 results" in caplog.text
    assert f"bear (2 objects, {results / 'bear' / '00001.png'})" in caplog.text


def test_16_bit_mask_with_id_257_names_the_id(tmp_path):
    ids = np.zeros((H, W), np.uint16)
    ids[:4, :4] = 257
    path = tmp_path / "00000.png"
    Image.fromarray(ids).save(path)
    with pytest.raises(DAVISFormatError, match=rf"{path}: I;16 PNG holds id 257; DAVIS ids are 0"):
        read_id_png(str(path))


def test_cli_resolution_that_is_not_a_davis_resolution_is_one_line(tmp_path, capsys):
    assert cli_main(["--davis-root", str(tmp_path), "--results", str(tmp_path), "--task", "davis2016",
                     "--resolution", "480"]) == 1
    err = capsys.readouterr().err
    assert "argument --resolution: invalid choice: '480'" in err and "Traceback" not in err
