"""python -m vos_eval scores YouTube-VOS results through its benchmark object, as it does DAVIS results."""
import numpy as np
from test_benchmarks import _ytvos

from vos_eval.cli import main
from vos_eval.id_png import write_id_png
from vos_eval.run_folder import RunFolder, read_per_sequence


def test_cli_scores_a_youtube_vos_split_and_writes_its_tables(tmp_path, capsys):
    layout, frames, ids = _ytvos(tmp_path)
    for t, frame in enumerate(frames):
        write_id_png(str(tmp_path / "res" / "vid" / f"{frame}.png"), ids[t] if t != 3 else np.zeros_like(ids[t]))
    assert main(["--ytvos-root", layout.root, "--results", str(tmp_path / "res"), "--task", "semi-supervised",
                 "--workers", "1"]) == 0
    assert "J&F-Mean" in capsys.readouterr().out
    rows = dict((name, (j, f)) for name, j, f in read_per_sequence(RunFolder(str(tmp_path / "res")).per_sequence_csv(
        "train")))
    assert set(rows) == {"vid_1", "vid_2"} and rows["vid_1"][0] < 1.0  # object 1 lost on one frame


def test_cli_refuses_a_davis_task_or_option_on_youtube_vos(tmp_path, capsys):
    layout, _, _ = _ytvos(tmp_path)
    (tmp_path / "res").mkdir()
    assert main(["--ytvos-root", layout.root, "--results", str(tmp_path / "res"), "--task", "davis2016"]) == 1
    assert "YouTube-VOS task must be one of" in capsys.readouterr().err
    assert main(["--ytvos-root", layout.root, "--results", str(tmp_path / "res"), "--task", "semi-supervised",
                 "--void", "background"]) == 1
    assert "DAVIS options" in capsys.readouterr().err
