#!/usr/bin/env python
"""Train or evaluate a SlowFast VOS model, Detectron2 style.

    python tools/train_net.py --config-file configs/slowfast_3-7.yaml
    python tools/train_net.py --config-file configs/slowfast_3-7.yaml --eval-only MODEL.WEIGHTS model.pth
    python tools/train_net.py --config-file configs/slowfast_3-7.yaml --num-gpus 8

--eval-only needs trained weights that fit the model: empty MODEL.WEIGHTS is an error unless
--allow-random-weights (scoring a random model on purpose, e.g. as a reference).
"""
from slowfast_vos.utils.console import quiet_third_party_noise

quiet_third_party_noise()  # before Detectron2's imports, which print torch's deprecation notices

from detectron2.engine import default_argument_parser, launch
from detectron2.utils import comm

from slowfast_vos.config import check_training_config
from slowfast_vos.data import ensure_dataset_available
from slowfast_vos.engine import (
    VOSCheckpointer,
    VOSTrainer,
    check_datasets,
    default_vos_setup,
    load_cfg,
    load_trained_weights,
)
from slowfast_vos.engine.defaults import save_run_config
from slowfast_vos.engine.fresh_results import evaluate_replacing_results
from slowfast_vos.precision import check_precision
from vos_eval.locks import hold_output_folder


def setup(args):
    """The run's frozen config (its values checked, and for MODEL.DEVICE's precisions), OUTPUT_DIR (held by rank 0:
    a second run into it stops here) and logging set up; config.yaml is written later (see main)."""
    cfg = load_cfg(args.config_file, args.opts)
    check_precision(cfg)
    if comm.is_main_process():
        hold_output_folder(cfg.OUTPUT_DIR)
    default_vos_setup(cfg, args, save_config=False)
    return cfg


def main(args):
    quiet_third_party_noise()  # here: every process of a multi-process launch runs main
    cfg = setup(args)
    check_datasets(cfg, train=not args.eval_only)
    if not args.eval_only:
        check_training_config(cfg)
    if comm.is_main_process():
        for name in (*cfg.DATASETS.TRAIN, *cfg.DATASETS.TEST):
            ensure_dataset_available(name)
    comm.synchronize()
    if args.eval_only:
        model = VOSTrainer.build_model(cfg)
        weights = cfg.MODEL.WEIGHTS
        last = VOSCheckpointer(model, save_dir=cfg.OUTPUT_DIR)
        if args.resume and last.has_checkpoint():
            weights = last.get_checkpoint_file()
        load_trained_weights(model, weights, allow_random=args.allow_random_weights, what="--eval-only")
        results = evaluate_replacing_results(cfg, model, VOSTrainer.test, weights)  # old results kept until done
        if comm.is_main_process():
            save_run_config(cfg)  # only now: a killed or failed evaluation leaves the config of the results there
        return results
    trainer = VOSTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)  # --resume with another config's checkpoint fails here
    if comm.is_main_process():
        save_run_config(cfg)
    return trainer.train()


def build_parser():
    """Detectron2's standard options plus --allow-random-weights."""
    parser = default_argument_parser()
    parser.add_argument("--allow-random-weights", action="store_true",
                        help="with --eval-only and empty MODEL.WEIGHTS, score a randomly initialised model")
    return parser


if __name__ == "__main__":
    args = build_parser().parse_args()
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
