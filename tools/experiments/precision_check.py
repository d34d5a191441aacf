"""J&F of one trained model evaluated in several inference precisions (TEST.PRECISION), compared with fp32.

For each precision it runs ``tools/train_net.py --eval-only`` (the project's own evaluation path) into
``<output-dir>/<precision>``, then compares every precision with fp32: the J&F table and its difference, the
largest per-sequence J&F difference, and how far the written masks agree (the foreground IoU of every result PNG
with its fp32 counterpart, and the share of frames whose masks are identical). It writes ``precision_check.json``
and ``precision_check.md`` (atomically) to the output folder and prints the table.

    python tools/precision_check.py --config-file configs/quickstart/slowfast_3-7.yaml \
        --weights output/quickstart/slowfast_3-7/model_final.pth --output-dir output/precision-check

A precision whose folder already holds results of the same weights and overrides is not evaluated again
(``--force`` redoes it): each evaluation is a stage of the experiments' runner (experiments.stages), and its
record (``<output-dir>/<precision>/precision_check_run.json``) keeps the inputs it was run with. Evaluation time per
precision comes from each run's results.json (``timing``). tools/precision_check.py is the command line.
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from vos_eval.davis_format import MASK_EXT, VOID_ID, natural_sorted, read_id_png
from vos_eval.run_folder import DAVIS_RESULTS, RunFolder, read_per_sequence
from vos_eval.scoring import GLOBAL_COLUMNS
from vos_eval.results_file import RESULTS_FILE, EvaluationResults
from slowfast_vos.precision import PRECISIONS, cpu_summary
from vos_eval.io import atomic_write, write_json_atomic
from vos_eval.tables import markdown_table
from vos_eval.provenance import portable_command, portable_path

from .stages import REPO, StageError, StageRecord, run_logged, utc_now

# The stage record of each precision's evaluation (experiments.stages.StageRecord), in its folder.
PROVENANCE_FILE = "precision_check_run.json"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config-file", required=True, help="the model's config (its DATASETS.TEST is scored)")
    p.add_argument("--weights", required=True, help="trained weights (MODEL.WEIGHTS)")
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=PRECISIONS,
                   help="precisions to evaluate; fp32 (the reference) is always evaluated")
    p.add_argument("--output-dir", required=True, help="one sub-folder per precision, plus the comparison")
    p.add_argument("--force", action="store_true", help="evaluate again even where results are there")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides KEY VALUE ... (last)")
    args = p.parse_args(argv)
    if not os.path.isfile(args.weights):
        p.error(f"--weights: {args.weights} is not a file")
    if len(args.opts) % 2:
        p.error("--opts takes KEY VALUE pairs")
    if any(key == "TEST.PRECISION" for key in args.opts[::2]):
        p.error("--opts: TEST.PRECISION is set per run by --precisions")
    args.precisions = ["fp32"] + [x for x in dict.fromkeys(args.precisions) if x != "fp32"]
    return args


def _inputs(args: argparse.Namespace, precision: str) -> Dict[str, Any]:
    """What an evaluation's results depend on: the config, the weights' sha256, the overrides and the precision."""
    from slowfast_vos.engine.checkpoint import weights_digest

    return {"config_file": portable_path(os.path.abspath(args.config_file)),
            "weights_sha256": weights_digest(args.weights), "opts": list(args.opts), "precision": precision}


def _done_with(out: str, inputs: Dict[str, Any]) -> bool:
    """Whether ``out`` holds results whose stage record was run with ``inputs``; a record of another form (an older
    tool's) is reported and counts as not done."""
    try:
        record = StageRecord.read(os.path.join(out, PROVENANCE_FILE))
    except StageError as e:
        print(f"[precision_check] evaluating again: {e}", flush=True)
        return False
    return record is not None and record.inputs == inputs and os.path.isfile(os.path.join(out, RESULTS_FILE))


def evaluate(args: argparse.Namespace, precision: str) -> str:
    """Run the --eval-only evaluation in ``precision`` (unless done with the same inputs); its output folder."""
    out = os.path.join(args.output_dir, precision)
    inputs = _inputs(args, precision)
    record_file = os.path.join(out, PROVENANCE_FILE)
    if not args.force and _done_with(out, inputs):
        print(f"[precision_check] {precision}: results of these weights already in {out}", flush=True)
        return out
    if os.path.lexists(record_file):
        os.remove(record_file)
    cmd = [sys.executable, os.path.join(REPO, "tools", "train_net.py"), "--config-file", args.config_file,
           "--eval-only", "MODEL.WEIGHTS", args.weights, "OUTPUT_DIR", out, *args.opts, "TEST.PRECISION", precision]
    log_path = os.path.join(out, "run.log")
    print(f"[precision_check] {precision}: evaluating (log: {log_path})", flush=True)
    started, start = utc_now(), time.monotonic()
    code = run_logged(cmd, log_path, echo=False, cwd=REPO)
    if code != 0:
        sys.exit(f"precision_check: the {precision} evaluation failed (exit {code}); see {log_path}")
    StageRecord(f"{precision} evaluation", portable_command(cmd, out), started, round(time.monotonic() - start, 3),
                True, 1, "eval", inputs).write(record_file)
    return out


def _per_sequence(folder: str) -> Dict[str, float]:
    """Object -> J&F-Mean from the one per-sequence table in ``folder`` (J-Mean and F-Mean averaged; NaN where the
    table leaves them empty), read by vos_eval.run_folder, whose errors name the table."""
    tables = sorted(glob.glob(RunFolder(glob.escape(folder)).per_sequence_csv("*")))
    if len(tables) != 1:
        pattern = os.path.basename(RunFolder(folder).per_sequence_csv("<set>"))
        raise SystemExit(f"precision_check: expected one {pattern} in {folder}, found {tables}")
    return {name: (j + f) / 2 for name, j, f in read_per_sequence(tables[0])}


def _sequence_delta(a: float, b: float) -> float:
    """|a - b| of two per-object J&F values; 0 when both are NaN (neither run scored the object), infinite when
    only one is (one run scored an object the other did not)."""
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b)


def _results_folder(run_dir: str, dataset: str) -> str:
    return RunFolder(run_dir).evaluation_dir(dataset)


def mask_agreement(reference_dir: str, other_dir: str) -> Dict[str, float]:
    """Foreground IoU of every result PNG of ``other_dir`` with ``reference_dir`` (mean and minimum over frames),
    the share of frames whose id maps are identical, and the number of frames compared."""
    ious: List[float] = []
    identical = 0
    for sequence in natural_sorted(os.listdir(reference_dir)):
        ref_seq = os.path.join(reference_dir, sequence)
        if not os.path.isdir(ref_seq):
            continue
        for name in natural_sorted(n for n in os.listdir(ref_seq) if n.endswith(MASK_EXT)):
            other_path = os.path.join(other_dir, sequence, name)
            if not os.path.isfile(other_path):
                raise SystemExit(f"precision_check: {other_path} is missing (it exists in {reference_dir})")
            ref, other = read_id_png(os.path.join(ref_seq, name)), read_id_png(other_path)
            identical += int((ref == other).all())
            a, b = (ref > 0) & (ref != VOID_ID), (other > 0) & (other != VOID_ID)
            union = (a | b).sum()
            ious.append(1.0 if union == 0 else float((a & b).sum()) / float(union))
    if not ious:
        raise SystemExit(f"precision_check: no result PNGs under {reference_dir}")
    return {"frames": len(ious), "mean_iou": sum(ious) / len(ious), "min_iou": min(ious),
            "identical_frames": identical / len(ious)}


def compare(args: argparse.Namespace, runs: Dict[str, str]) -> Dict[str, Any]:
    """The comparison of every precision with fp32 (the JSON written as precision_check.json)."""
    results = {p: EvaluationResults.read(os.path.join(d, RESULTS_FILE)) for p, d in runs.items()}
    dataset = results["fp32"].dataset
    reference_folder = _results_folder(runs["fp32"], dataset)
    reference_seq = _per_sequence(reference_folder)
    # Paths relative to the repository or the output folder, never the machine's (vos_eval.provenance).
    report: Dict[str, Any] = {"config_file": portable_path(os.path.abspath(args.config_file), args.output_dir),
                              "weights": portable_path(args.weights, args.output_dir), "dataset": dataset,
                              "opts": list(args.opts), "machine": cpu_summary(),
                              "datasets_root": portable_path(os.environ.get("DETECTRON2_DATASETS", "datasets"),
                                                             args.output_dir),
                              "precisions": {}}
    for precision, res in results.items():
        entry: Dict[str, Any] = {"davis": res.davis, "timing": res.timing}
        if res.subsets:
            entry["subsets"] = res.subsets
        if precision != "fp32":
            folder = _results_folder(runs[precision], dataset)
            per_seq = _per_sequence(folder)
            entry["delta_vs_fp32"] = {k: res.davis[k] - results["fp32"].davis[k] for k in GLOBAL_COLUMNS}
            entry["max_sequence_abs_delta_jf"] = max(_sequence_delta(per_seq[s], reference_seq[s])
                                                     for s in reference_seq)
            entry["masks"] = mask_agreement(os.path.join(reference_folder, DAVIS_RESULTS),
                                            os.path.join(folder, DAVIS_RESULTS))
        report["precisions"][precision] = entry
    return report


def markdown(report: Dict[str, Any]) -> str:
    rows = []
    for precision, entry in report["precisions"].items():
        d, timing = entry["davis"], entry.get("timing") or {}
        delta = entry.get("delta_vs_fp32", {}).get("J&F-Mean")
        masks = entry.get("masks")
        rows.append([
            precision,
            f"{d['J&F-Mean']:.4f}",
            f"{d['J-Mean']:.4f}",
            f"{d['F-Mean']:.4f}",
            "-" if delta is None else f"{delta:+.4f}",
            "-" if delta is None else f"{entry['max_sequence_abs_delta_jf']:.4f}",
            "-" if masks is None else f"{masks['mean_iou']:.4f} / {masks['min_iou']:.4f}",
            "-" if masks is None else f"{100 * masks['identical_frames']:.1f} %",
            f"{timing.get('eval_time_s', float('nan')):.1f}",
        ])
    headers = ["precision", "J&F-Mean", "J-Mean", "F-Mean", "ΔJ&F vs fp32", "largest ΔJ&F of a sequence (abs)",
               "mask IoU with fp32 (mean / min)", "identical frames", "eval time s"]
    return (f"J&F of `{report['weights']}` ({report['config_file']}) on {report['dataset']} "
            f"(DETECTRON2_DATASETS={report['datasets_root']}), per inference precision (tools/precision_check.py)"
            "\n\n" + markdown_table(headers, rows) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    runs = {precision: evaluate(args, precision) for precision in args.precisions}
    report = compare(args, runs)
    write_json_atomic(os.path.join(args.output_dir, "precision_check.json"), report)
    text = markdown(report)
    atomic_write(os.path.join(args.output_dir, "precision_check.md"),
                 lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    print(text)
    return 0
