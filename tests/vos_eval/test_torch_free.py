"""The torch-free part of the project runs without torch or Detectron2: reading results.json, scoring a frame subset,
comparing two methods (and writing the report), and comparing two seeded runs with tools/compare_runs.py load
neither, in a fresh interpreter that could import them (the same environment does import torch when asked)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, write_davis, write_results, write_seeded_run

from vos_eval.frame_tags import FRAME_TAGS_FILE, write_frame_tags

pytestmark = pytest.mark.slow  # each test starts an interpreter

# Printed last by every snippet: the heavy packages the interpreter holds.
LOADED = ("print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
          "('torch', 'detectron2', 'slowfast_vos'))))\n")


def _run(code: str, *args: str) -> list:
    """Run ``code`` in a fresh interpreter with this checkout and tools/ first on its path; its output lines."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tools")]))
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()


def test_the_check_sees_torch_when_something_imports_it():
    """The snippets' check is live: an interpreter set up the same way lists torch once it is imported."""
    assert "torch" in json.loads(_run("import json, sys, torch\n" + LOADED)[-1])


def test_results_subsets_and_a_comparison_report_load_no_torch(tmp_path):
    """import vos_eval, read a results.json, score clean/degraded frames and compare two methods (report included)."""
    davis = write_davis(tmp_path / "DAVIS", ["a", "b"], year="2016", frames=6)
    write_frame_tags(os.path.join(davis, FRAME_TAGS_FILE), {
        seq: {f"{t:05d}": {"degraded": "noise" if t % 2 else None, "occluded": [0.0]} for t in range(6)}
        for seq in ("a", "b")})
    good = write_results(tmp_path / "good", ["a", "b"], frames=6, ids=lambda t: (np.eye(24, 32) > 0).astype(np.uint8))
    bad = write_results(tmp_path / "bad", ["a", "b"], frames=6, ids=lambda t: np.zeros((24, 32), np.uint8))
    write_seeded_run(tmp_path / "run", {"1-1": [(0.8, 0.85, 0.6)]})
    code = (
        "import json, sys\n"
        "import vos_eval\n"
        "from vos_eval.davis_format import DAVISLayout\n"
        "from vos_eval.frame_tags import load_frame_tags\n"
        "from vos_eval.reporting import compare_methods, write_comparison_report\n"
        "from vos_eval.results_file import EvaluationResults\n"
        "from vos_eval.subsets import subset_metrics\n"
        "davis, good, bad, results_json, report = sys.argv[1:]\n"
        "read = EvaluationResults.read(results_json)\n"
        "tags = davis + '/frame_tags.json'\n"
        "comparison = compare_methods(DAVISLayout.find(davis, 'val'), [good, bad], ['good', 'bad'], frame_tags=tags)\n"
        "subsets = subset_metrics(comparison.methods[0].results, load_frame_tags(tags))\n"
        "write_comparison_report(davis, [good, bad], ['good', 'bad'], report)\n"
        "print(json.dumps([read.subsets['clean']['J&F-Mean'], sorted(subsets), comparison.methods[1].kinds['clean']"
        "['J&F-Mean']]))\n" + LOADED
    )
    out = _run(code, davis, good, bad, str(tmp_path / "run" / "seed1" / "1-1" / "results.json"),
               str(tmp_path / "report"))
    clean, subsets, bad_clean = json.loads(out[-2])
    assert clean == 0.85 and subsets == ["clean", "degraded"] and bad_clean < 0.5
    assert (tmp_path / "report" / "index.html").is_file()
    assert json.loads(out[-1]) == []


def test_compare_runs_and_the_ablation_tables_load_no_torch(tmp_path):
    """tools/compare_runs.py's main (over experiments.ablation.compare, tables and verdict) on two seeded runs."""
    write_seeded_run(tmp_path / "fp32", {"1-1": [(0.80, 0.84, 0.60), (0.82, 0.86, 0.62)]})
    write_seeded_run(tmp_path / "bf16", {"1-1": [(0.81, 0.85, 0.61), (0.83, 0.85, 0.63)]})
    code = (
        "import importlib.util, json, sys\n"
        "import experiments.ablation.tables, experiments.ablation.verdict\n"
        "spec = importlib.util.spec_from_file_location('compare_runs', 'tools/compare_runs.py')\n"
        "tool = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(tool)\n"
        "assert tool.main(sys.argv[1:]) == 0\n" + LOADED
    )
    out = _run(code, f"fp32={tmp_path / 'fp32'}", f"bf16={tmp_path / 'bf16'}", "--output", str(tmp_path / "out"))
    rows = json.loads((tmp_path / "out" / "comparison.json").read_text())["rows"]
    assert list(rows) == ["1-1"]
    assert json.loads(out[-1]) == []


def test_no_module_of_vos_eval_loads_torch_detectron2_or_slowfast_vos():
    """The layering: every vos_eval module (but __main__, which runs the command line) imported in one interpreter
    leaves it free of the model packages."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import vos_eval\n"
        "names = [i.name for i in pkgutil.walk_packages(vos_eval.__path__, 'vos_eval.')\n"
        "         if i.name != 'vos_eval.__main__']\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n" + LOADED
    )
    out = _run(code)
    assert int(out[-2]) >= 25  # every module was imported (the package holds more than 25)
    assert json.loads(out[-1]) == []
