"""`python -m slowfast_vos.evaluation` runs without torch or Detectron2; `import slowfast_vos` still registers."""
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import slowfast_vos
from helpers import REPO

HEAVY = ("torch", "detectron2", "torchvision", "fvcore")


def imported_modules(stderr: str) -> set:
    """Module names of `python -X importtime` output."""
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", stderr, re.M)}


def write_png(path, labels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8), mode="P").save(path)


def test_scoring_process_imports_neither_torch_nor_detectron2(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "DAVIS" / "ImageSets" / "2017").mkdir(parents=True)
    (tmp_path / "DAVIS" / "ImageSets" / "2017" / "val.txt").write_text("a\nb\n")
    for seq in ("a", "b"):
        for t in range(4):
            labels = (rng.random((24, 32)) > 0.5).astype(np.uint8)
            write_png(tmp_path / "DAVIS" / "Annotations" / "480p" / seq / f"{t:05d}.png", labels)
            write_png(tmp_path / "results" / seq / f"{t:05d}.png", labels)
    cmd = [sys.executable, "-X", "importtime", "-m", "slowfast_vos.evaluation", "--davis-root",
           str(tmp_path / "DAVIS"), "--results", str(tmp_path / "results"), "--task", "unsupervised", "--workers", "1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "J&F-Mean" in proc.stdout and (tmp_path / "results" / "global_results-val.csv").is_file()
    modules = imported_modules(proc.stderr)
    assert {"slowfast_vos", "slowfast_vos.evaluation.cli", "slowfast_vos.evaluation.protocols", "numpy"} <= modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, heavy


@pytest.mark.parametrize("argv, module", [
    (["python", "-m", "slowfast_vos.evaluation", "--task", "x"], "slowfast_vos.evaluation"),
    (["python", "-X", "importtime", "-u", "-m", "slowfast_vos.evaluation"], "slowfast_vos.evaluation"),
    (["python", "-mslowfast_vos.evaluation"], "slowfast_vos.evaluation"),
    (["python", "-W", "ignore", "-m", "pytest", "-m", "slowfast_vos.evaluation"], "pytest"),
    (["python", "script.py", "-m", "slowfast_vos.evaluation"], None),
    (["python", "-c", "import x", "-m", "slowfast_vos.evaluation"], None),
])
def test_main_module_is_read_from_the_interpreter_options_only(argv, module):
    assert slowfast_vos._main_module_argument(argv) == module


def test_lazy_exports_resolve_to_their_submodules():
    from slowfast_vos import data, evaluation
    from slowfast_vos.data.clip_mapper import ClipDatasetMapper
    from slowfast_vos.evaluation.protocols import evaluate_davis

    assert data.ClipDatasetMapper is ClipDatasetMapper and evaluation.evaluate_davis is evaluate_davis
    assert "ClipDatasetMapper" in dir(data) and set(evaluation.__all__) <= set(dir(evaluation))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        evaluation.nope
