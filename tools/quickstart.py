#!/usr/bin/env python
"""The quickstart main job (``make demo``): synthetic DAVIS -> train SlowFast 3-7 on CPU -> J&F -> visualisations.

It follows the paper's recipe at CPU scale:
1. generates the built-in synthetic DAVIS under ``$DETECTRON2_DATASETS/DAVIS-synthetic`` if it is missing, and any
   other built-in synthetic set the config trains or tests on (e.g. the synthetic YouTube-VOS of
   ``configs/quickstart/ytvos_mixed_slowfast_3-7.yaml``);
2. trains a plain single-frame Mask R-CNN on the synthetic train frames
   (``configs/quickstart/pretrain_mask_rcnn.yaml``), the stand-in for the COCO model-zoo weights the paper starts
   from, which cannot be downloaded here;
3. scores the untrained SlowFast model (random weights, ``--allow-random-weights``) for reference;
4. fine-tunes ``--config-file`` (default ``configs/quickstart/slowfast_3-7.yaml``; its output folder is named after
   the file) from those weights with the backbone and RPN frozen, as the paper trains its parent model, and
   evaluates it on the synthetic DAVIS 2016 val set;
5. prints the J&F table of both and writes overlay GIFs and contact sheets of the trained model's masks.
Every step is a real command of the project, run as a subprocess (``--resume``: an interrupted quickstart continues
where it stopped); their logs are under the output folder.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[1]


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


def config_datasets(config_file: str, opts: List[str]) -> List[str]:
    """DATASETS.TRAIN and DATASETS.TEST of a config file with its overrides, in order, without repeats."""
    from slowfast_vos.engine import load_cfg

    cfg = load_cfg(config_file, opts)
    return list(dict.fromkeys([*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml"))
    parser.add_argument("--pretrain-config", default=str(REPO / "configs" / "quickstart" / "pretrain_mask_rcnn.yaml"))
    parser.add_argument("--output-dir", default=str(REPO / "output" / "quickstart"))
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="extra config overrides for train_net")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    start = time.perf_counter()

    from slowfast_vos.utils.console import quiet_third_party_noise

    quiet_third_party_noise()  # before Detectron2's imports, which print torch's deprecation notices
    from detectron2.data import MetadataCatalog

    from slowfast_vos.data import ensure_dataset_available, ensure_synthetic_davis
    from slowfast_vos.evaluation.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
    from slowfast_vos.utils import markdown_table
    from slowfast_vos.visualization import visualize_results
    from vos_eval.scoring import GLOBAL_COLUMNS

    def read_results(output_dir: Path) -> EvaluationResults:
        try:
            return EvaluationResults.read(str(output_dir / RESULTS_FILE), require=("timing",))
        except ResultsFileError as e:
            sys.exit(f"quickstart: {e}; see the logs in {output_dir}")

    print("[quickstart] 1/5 synthetic DAVIS", flush=True)
    root = ensure_synthetic_davis()
    print(f"  at {root}", flush=True)
    for dataset in config_datasets(args.config_file, args.opts):
        if dataset.startswith("synthetic_") and not dataset.startswith("synthetic_davis"):
            print(f"  {dataset}", flush=True)
            ensure_dataset_available(dataset)  # generates a missing built-in synthetic set (e.g. YouTube-VOS)

    train_net = [sys.executable, str(REPO / "tools" / "train_net.py")]
    pretrain_dir = out / "pretrain"
    print("[quickstart] 2/5 single-frame Mask R-CNN (stand-in for the model-zoo weights)", flush=True)
    run(train_net + ["--config-file", args.pretrain_config, "--resume", "OUTPUT_DIR", str(pretrain_dir)],
        pretrain_dir / "run.log")

    slowfast = train_net + ["--config-file", args.config_file]
    name = Path(args.config_file).stem  # e.g. slowfast_3-7: the trained model's output folder
    untrained_dir = out / "untrained"
    print(f"[quickstart] 3/5 scoring the untrained {name} model (random weights)", flush=True)
    run(slowfast + ["--eval-only", "--allow-random-weights", "MODEL.WEIGHTS", "", "OUTPUT_DIR", str(untrained_dir),
                    *args.opts], untrained_dir / "run.log")

    trained_dir = out / name
    print(f"[quickstart] 4/5 {name}: backbone and RPN frozen, SlowFast module and heads trained", flush=True)
    finetune = ["MODEL.WEIGHTS", str(pretrain_dir / "model_final.pth"), "MODEL.FREEZE.BACKBONE", "True",
                "MODEL.FREEZE.PROPOSAL_GENERATOR", "True"]
    run(slowfast + ["--resume", *finetune, "OUTPUT_DIR", str(trained_dir), *args.opts], trained_dir / "run.log")

    untrained, trained = read_results(untrained_dir), read_results(trained_dir)
    print("[quickstart] 5/5 visualisations", flush=True)
    results_root = trained_dir / "inference" / trained.dataset / "davis_results"
    vis_dir = trained_dir / "visualizations"
    for paths in visualize_results(MetadataCatalog.get(trained.dataset).layout, str(results_root), str(vis_dir)):
        print(f"  {paths['video']}", flush=True)

    rows = [[model] + [f"{res.davis[m]:.3f}" for m in GLOBAL_COLUMNS]
            for model, res in (("untrained (random weights)", untrained), ("trained", trained))]
    print(f"\nJ&F on {trained.dataset} (DAVIS 2016 protocol):")
    print(markdown_table(["model", *GLOBAL_COLUMNS], rows))
    timing = trained.timing
    print(f"\nEvaluation: {timing.get('frames', 0):.0f} frames at {timing.get('frames_per_s', 0):.1f} frames/s")
    print(f"Visualisations: {vis_dir}")
    print(f"Quickstart wall time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
