"""`python -m slowfast_vos.evaluation` runs without torch or Detectron2; `import slowfast_vos` still registers."""
import re
import subprocess
import sys

import numpy as np
import pytest

import slowfast_vos
from helpers import REPO, write_davis, write_results

HEAVY = ("torch", "detectron2", "torchvision", "fvcore")


def imported_modules(stderr: str) -> set:
    """Module names of `python -X importtime` output."""
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", stderr, re.M)}


@pytest.mark.slow
def test_scoring_process_imports_neither_torch_nor_detectron2(tmp_path):
    rng = np.random.default_rng(0)
    labels = {seq: (rng.random((4, 24, 32)) > 0.5).astype(np.uint8) for seq in ("a", "b")}
    write_davis(tmp_path / "DAVIS", labels)
    write_results(tmp_path / "results", labels)
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
