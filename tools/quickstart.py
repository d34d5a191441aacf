#!/usr/bin/env python
"""The quickstart main job (``make demo``): synthetic DAVIS -> train SlowFast 3-7 on CPU -> J&F -> visualisations.

1. generates the built-in synthetic DAVIS under ``$DETECTRON2_DATASETS/DAVIS-synthetic`` if it is missing;
2. scores the untrained model (random weights) for reference;
3. trains ``configs/quickstart/slowfast_3-7.yaml`` with ``tools/train_net.py`` (resumes if interrupted);
4. prints the J&F table of both and writes overlay GIFs and contact sheets of the trained model's masks.
Every step is a real command of the project, run as a subprocess; their logs are under the output folder.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
METRICS = ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]


def run(cmd: List[str], log_path: Path) -> None:
    """Run a command, echoing its output and keeping a log; stop the quickstart if it fails."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"\n$ {' '.join(cmd)}\n  (log: {log_path})", flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if "eta:" in line or "copypaste" in line or "Video inference" in line or "ERROR" in line:
                print("  " + line.rstrip(), flush=True)
        if proc.wait() != 0:
            sys.exit(f"quickstart: command failed (exit {proc.returncode}); see {log_path}")


def read_results(output_dir: Path) -> Dict:
    path = output_dir / "results.json"
    if not path.is_file():
        sys.exit(f"quickstart: {path} was not written; see the logs in {output_dir}")
    return json.loads(path.read_text())


def load_visualizer():
    spec = importlib.util.spec_from_file_location("visualize", REPO / "tools" / "visualize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml"))
    parser.add_argument("--output-dir", default=str(REPO / "output" / "quickstart" / "slowfast_3-7"))
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="extra config overrides for train_net")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    start = time.perf_counter()

    sys.path.insert(0, str(REPO))
    from slowfast_vos.data import ensure_synthetic_davis

    print("[quickstart] 1/4 synthetic DAVIS", flush=True)
    root = ensure_synthetic_davis()
    print(f"  at {root}", flush=True)

    train_net = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", args.config_file]
    print("[quickstart] 2/4 scoring the untrained model", flush=True)
    untrained_dir = out / "untrained"
    run(train_net + ["--eval-only", "MODEL.WEIGHTS", "", "OUTPUT_DIR", str(untrained_dir), *args.opts],
        untrained_dir / "log.txt")

    print("[quickstart] 3/4 training (resumes from the last checkpoint if interrupted)", flush=True)
    run(train_net + ["--resume", "OUTPUT_DIR", str(out), *args.opts], out / "train_log.txt")

    untrained, trained = read_results(untrained_dir), read_results(out)
    print("[quickstart] 4/4 visualisations", flush=True)
    results_root = out / "inference" / trained["dataset"] / "davis_results"
    visualize = load_visualizer()
    vis_dir = out / "visualizations"
    visualize.main(["--davis-root", str(root), "--results-root", str(results_root), "--output", str(vis_dir),
                    "--format", "gif"])

    rows = [("untrained (random weights)", untrained), ("trained", trained)]
    print(f"\nJ&F on {trained['dataset']} (DAVIS 2016 protocol):")
    print(f"| {'model':<27}| " + " | ".join(f"{m:>8}" for m in METRICS) + " |")
    print(f"|{'-' * 28}|" + "|".join("-" * 10 for _ in METRICS) + "|")
    for name, res in rows:
        print(f"| {name:<27}| " + " | ".join(f"{res['davis'][m]:8.3f}" for m in METRICS) + " |")
    timing = trained.get("timing", {})
    print(f"\nEvaluation: {timing.get('frames', 0):.0f} frames at {timing.get('frames_per_s', 0):.1f} frames/s")
    print(f"Visualisations: {vis_dir}")
    print(f"Quickstart wall time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
