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
Every step is a real command of the project, run as a subprocess by the experiments' stage runner
(experiments.stages; ``--resume``: an interrupted quickstart continues where it stopped); their logs are under the
output folder. The recipe (pre-training config, fine-tune overrides) is the ablation's quickstart preset
(experiments.ablation.plan.quickstart_recipe), so ``make demo`` and ``run_ablation.py --preset quickstart`` train
alike. tools/quickstart.py is the command line.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

from vos_eval.run_folder import DAVIS_RESULTS, RunFolder

from .ablation.plan import pretrain_dir, quickstart_recipe
from .machine_load import OtherLoad, describe_share
from .stages import REPO, run_logged

QUICKSTART_CONFIGS = Path(REPO) / "configs" / "quickstart"
# The lines of a step's log echoed to the console: training progress, the J&F tables, inference, errors.
ECHOED = ("eta:", "copypaste", "Video inference", "ERROR")


def _progress(line: str) -> Optional[str]:
    """A log line as the console shows it (indented under its command), or None for a line not ECHOED."""
    return f"  {line}" if any(mark in line for mark in ECHOED) else None


def shown(path) -> str:
    """A path as the console shows it: relative to the repository when inside it (as the README's commands are
    written), otherwise as given."""
    path = str(path)
    inside = os.path.isabs(path) and os.path.commonpath([path, str(REPO)]) == str(REPO)
    return os.path.relpath(path, REPO) if inside else path


def run(cmd: List[str], log_path: Path) -> None:
    """Run a command, echoing its progress lines and keeping a log; stop the quickstart if it fails."""
    words = ["python" if arg == sys.executable else shown(arg) for arg in cmd]
    print(f"\n$ {' '.join(words)}\n  (log: {shown(log_path)})", flush=True)
    code = run_logged(cmd, str(log_path), echo=_progress, cwd=REPO)
    if code != 0:
        sys.exit(f"quickstart: command failed (exit {code}); see {log_path}")


def config_datasets(config_file: str, opts: List[str]) -> List[str]:
    """DATASETS.TRAIN and DATASETS.TEST of a config file with its overrides, in order, without repeats."""
    from slowfast_vos.engine import load_cfg

    cfg = load_cfg(config_file, opts)
    return list(dict.fromkeys([*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST]))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the quickstart's five steps and print the J&F table."""
    recipe = quickstart_recipe(str(QUICKSTART_CONFIGS))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=str(QUICKSTART_CONFIGS / "slowfast_3-7.yaml"))
    parser.add_argument("--pretrain-config", default=recipe.pretrain_config)
    parser.add_argument("--output-dir", default=str(Path(REPO) / "output" / "quickstart"))
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="extra config overrides for train_net")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    start, load = time.perf_counter(), OtherLoad()

    from slowfast_vos.utils.console import quiet_third_party_noise

    quiet_third_party_noise()  # before Detectron2's imports, which print torch's deprecation notices
    from detectron2.data import MetadataCatalog

    from slowfast_vos.data import ensure_dataset_available, ensure_synthetic_davis
    from vos_eval.results_file import RESULTS_FILE, EvaluationResults, ResultsFileError
    from vos_eval.tables import markdown_table
    from vos_eval.visualization import visualize_results
    from vos_eval.scoring import GLOBAL_COLUMNS

    def read_results(output_dir: Path) -> EvaluationResults:
        try:
            return EvaluationResults.read(str(output_dir / RESULTS_FILE), require=("timing",))
        except ResultsFileError as e:
            sys.exit(f"quickstart: {e}; see the logs in {output_dir}")

    print("[quickstart] 1/5 synthetic DAVIS", flush=True)
    root = ensure_synthetic_davis()
    print(f"  at {shown(root)}", flush=True)
    for dataset in config_datasets(args.config_file, args.opts):
        if dataset.startswith("synthetic_") and not dataset.startswith("synthetic_davis"):
            print(f"  {dataset}", flush=True)
            ensure_dataset_available(dataset)  # generates a missing built-in synthetic set (e.g. YouTube-VOS)

    train_net = [sys.executable, str(Path(REPO) / "tools" / "train_net.py")]
    pretrained = Path(pretrain_dir(str(out)))
    print("[quickstart] 2/5 single-frame Mask R-CNN (stand-in for the model-zoo weights)", flush=True)
    run(train_net + ["--config-file", args.pretrain_config, "--resume", "OUTPUT_DIR", str(pretrained)],
        pretrained / "run.log")

    slowfast = train_net + ["--config-file", args.config_file]
    name = Path(args.config_file).stem  # e.g. slowfast_3-7: the trained model's output folder
    untrained_dir = out / "untrained"
    print(f"[quickstart] 3/5 scoring the untrained {name} model (random weights)", flush=True)
    run(slowfast + ["--eval-only", "--allow-random-weights", "MODEL.WEIGHTS", "", "OUTPUT_DIR", str(untrained_dir),
                    *args.opts], untrained_dir / "run.log")

    trained_dir = out / name
    print(f"[quickstart] 4/5 {name}: backbone and RPN frozen, SlowFast module and heads trained", flush=True)
    finetune = ["MODEL.WEIGHTS", str(pretrained / "model_final.pth"), *recipe.finetune_opts]
    run(slowfast + ["--resume", *finetune, "OUTPUT_DIR", str(trained_dir), *args.opts], trained_dir / "run.log")

    untrained, trained = read_results(untrained_dir), read_results(trained_dir)
    print("[quickstart] 5/5 visualisations", flush=True)
    results_root = Path(RunFolder(str(trained_dir)).evaluation_dir(trained.dataset), DAVIS_RESULTS)
    vis_dir = trained_dir / "visualizations"
    for paths in visualize_results(MetadataCatalog.get(trained.dataset).layout, str(results_root), str(vis_dir)):
        print(f"  {shown(paths['video'])}", flush=True)

    rows = [[model] + [f"{res.davis[m]:.3f}" for m in GLOBAL_COLUMNS]
            for model, res in (("untrained (random weights)", untrained), ("trained", trained))]
    print(f"\nJ&F on {trained.dataset} (DAVIS 2016 protocol):")
    print(markdown_table(["model", *GLOBAL_COLUMNS], rows))
    timing = trained.timing
    print(f"\nEvaluation: {timing.get('frames', 0):.0f} frames at {timing.get('frames_per_s', 0):.1f} frames/s")
    print(f"Visualisations: {shown(vis_dir)}")
    print(f"Quickstart wall time: {time.perf_counter() - start:.0f} s; {describe_share(load.share())}")
    return 0

