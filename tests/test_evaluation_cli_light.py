"""`python -m vos_eval` runs without torch or Detectron2, by structure: vos_eval never imports them or slowfast_vos;
`import slowfast_vos` registers, however the interpreter was started."""
import ast
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, write_davis, write_results

HEAVY = ("torch", "detectron2", "torchvision", "fvcore", "slowfast_vos")


def imported_modules(stderr: str) -> set:
    """Module names of `python -X importtime` output."""
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", stderr, re.M)}


@pytest.mark.slow
def test_scoring_process_imports_neither_torch_nor_detectron2(tmp_path):
    rng = np.random.default_rng(0)
    labels = {seq: (rng.random((4, 24, 32)) > 0.5).astype(np.uint8) for seq in ("a", "b")}
    write_davis(tmp_path / "DAVIS", labels)
    write_results(tmp_path / "results", labels)
    cmd = [sys.executable, "-X", "importtime", "-m", "vos_eval", "--davis-root",
           str(tmp_path / "DAVIS"), "--results", str(tmp_path / "results"), "--task", "unsupervised", "--workers", "1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "J&F-Mean" in proc.stdout and (tmp_path / "results" / "global_results-val.csv").is_file()
    modules = imported_modules(proc.stderr)
    assert {"vos_eval", "vos_eval.cli", "vos_eval.protocols", "numpy"} <= modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, heavy


def test_vos_eval_modules_import_neither_slowfast_vos_nor_torch():
    offenders = []
    for path in sorted((REPO / "vos_eval").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in HEAVY]
    assert not offenders, offenders


@pytest.mark.slow
def test_importing_slowfast_vos_registers_under_python_dash_m(tmp_path):
    # `python -m pkg` imports slowfast_vos on the way to pkg.__main__: the package must register there too.
    pkg = tmp_path / "probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import slowfast_vos\nfrom detectron2.data import DatasetCatalog\n"
        "from detectron2.modeling import META_ARCH_REGISTRY\n"
        "print('davis2016_val' in DatasetCatalog.list(), 'SlowFastRCNN' in META_ARCH_REGISTRY)\n"
    )
    env_path = f"{tmp_path}:{REPO}"
    proc = subprocess.run([sys.executable, "-m", "probe"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": env_path})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["True", "True"]


def test_lazy_exports_resolve_to_their_submodules():
    from slowfast_vos import data
    from slowfast_vos.data.clip_mapper import ClipDatasetMapper

    assert data.ClipDatasetMapper is ClipDatasetMapper
    assert "ClipDatasetMapper" in dir(data) and set(data.__all__) <= set(dir(data))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        data.nope
