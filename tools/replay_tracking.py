#!/usr/bin/env python
"""Replay recorded detections through other result rules, without the model.

An evaluation run with ``TEST.VOS.SAVE_INSTANCES True`` saves every frame's instances (scores and binary masks) under
``<OUTPUT_DIR>/inference/<set>/instances``. This tool feeds them, frame by frame in video order, to the set's
evaluator built from ``--config-file`` and the overrides, so the result masks follow that config's TEST.VOS rules
(TRACKER, SCORE_THRESH, REID_APPEARANCE_GATE, MAX_OBJECTS, MATCH_IOU) and the task (TEST.DAVIS.TASK, TEST.YTVOS.TASK);
the PNGs, CSV tables and results.json are written as ``--eval-only`` writes them (without timing or parameter counts:
no model ran). Two rules compared this way saw exactly the same detections.

    python tools/train_net.py --config-file configs/quickstart/no_temporal.yaml --eval-only \\
        MODEL.WEIGHTS output/control/model_final.pth DATASETS.TEST "('synthetic_davis2017_val',)" \\
        TEST.DAVIS.TASK semi-supervised TEST.VOS.SAVE_INSTANCES True OUTPUT_DIR output/control-reid
    python tools/replay_tracking.py --config-file configs/quickstart/no_temporal.yaml \\
        --instances output/control-reid/inference/synthetic_davis2017_val/instances \\
        DATASETS.TEST "('synthetic_davis2017_val',)" TEST.DAVIS.TASK semi-supervised TEST.VOS.TRACKER iou \\
        OUTPUT_DIR output/control-iou
"""
import argparse
import logging
import os
import sys

from slowfast_vos.utils.console import quiet_third_party_noise
from vos_eval.io import write_json_atomic
from vos_eval.locks import hold_output_folder
from vos_eval.output_folder import real_folder_under
from vos_eval.provenance import portable_path
from vos_eval.results_file import BENCHMARKS, EvaluationResults
from vos_eval.run_folder import RunFolder

REPLAYED_FROM = "replayed_from.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True, help="the config whose TEST rules the replay follows")
    parser.add_argument("--instances", required=True, help="a recorded instances folder (TEST.VOS.SAVE_INSTANCES)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE ...")
    args = parser.parse_args(argv)

    quiet_third_party_noise()  # before Detectron2's imports, which print torch's deprecation notices
    from detectron2.data import DatasetCatalog
    from detectron2.utils.logger import setup_logger

    from slowfast_vos.data import ensure_dataset_available
    from slowfast_vos.data.build import build_video_test_loader, frames_to_segment
    from slowfast_vos.engine import VOSTrainer, load_cfg
    from slowfast_vos.engine.inference import inference_on_videos
    from slowfast_vos.evaluation.recorded import RecordedInstancesError, ReplayModel

    cfg = load_cfg(args.config_file, [*args.opts, "TEST.VOS.SAVE_INSTANCES", "False"])
    if len(cfg.DATASETS.TEST) != 1:
        sys.exit(f"replay_tracking: DATASETS.TEST names {len(cfg.DATASETS.TEST)} sets; a recording is of one")
    dataset = cfg.DATASETS.TEST[0]
    try:
        model = ReplayModel(args.instances)
    except RecordedInstancesError as e:
        sys.exit(f"replay_tracking: {e}")
    recorded_thresh = model.meta.get("mask_thresh")
    if recorded_thresh is not None and recorded_thresh != cfg.TEST.VOS.MASK_THRESH:
        sys.exit(f"replay_tracking: the masks in {args.instances} were binarised at {recorded_thresh}; "
                 f"TEST.VOS.MASK_THRESH {cfg.TEST.VOS.MASK_THRESH} cannot be replayed from them")
    if os.path.realpath(args.instances).startswith(os.path.realpath(cfg.OUTPUT_DIR) + os.sep):
        sys.exit(f"replay_tracking: OUTPUT_DIR {cfg.OUTPUT_DIR} holds the recording; replay into another folder")
    hold_output_folder(cfg.OUTPUT_DIR)
    setup_logger(name="slowfast_vos")
    logging.getLogger("slowfast_vos").setLevel(logging.INFO)
    ensure_dataset_available(dataset)
    run = RunFolder(cfg.OUTPUT_DIR)
    folder = real_folder_under(cfg.OUTPUT_DIR, run.evaluation_dir(dataset))  # no link where results go
    evaluator = VOSTrainer.build_evaluator(cfg, dataset)
    # The records themselves as the inputs: nothing to decode (appearance reads each frame's file).
    records = frames_to_segment(cfg, dataset, DatasetCatalog.get(dataset))
    loader = build_video_test_loader(records, mapper=dict, num_workers=0)
    try:
        results = inference_on_videos(model, loader, evaluator)
    except RecordedInstancesError as e:
        sys.exit(f"replay_tracking: {e}")
    results.pop("timing", None)  # the replay's own speed, not a model's
    if not any(key in results for key in BENCHMARKS):  # no local ground truth (YouTube-VOS valid)
        print(f"{dataset}: results written to {evaluator.results_dir}, nothing to score here")
        return 0
    record = EvaluationResults.from_evaluation(dataset, results)
    record.write(RunFolder(folder).results_json)
    record.write(run.results_json)
    write_json_atomic(os.path.join(folder, REPLAYED_FROM),
                      {"instances": portable_path(os.path.abspath(args.instances), cfg.OUTPUT_DIR),
                       "config_file": portable_path(os.path.abspath(args.config_file), cfg.OUTPUT_DIR),
                       "opts": [portable_path(o, cfg.OUTPUT_DIR) for o in args.opts]})
    metrics = record.metrics
    print(f"{dataset} ({evaluator.task}, TEST.VOS.TRACKER {cfg.TEST.VOS.TRACKER}): J&F-Mean {metrics['J&F-Mean']:.3f}, "
          f"J-Mean {metrics['J-Mean']:.3f}, F-Mean {metrics['F-Mean']:.3f}; results in {run.results_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
