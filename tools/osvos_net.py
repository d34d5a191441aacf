#!/usr/bin/env python
"""Semi-supervised (OSVOS-style) VOS: fine-tune the parent model on each sequence's first frame, then segment it.

    python tools/osvos_net.py --config-file configs/osvos/slowfast_3-7.yaml \\
        MODEL.WEIGHTS output/slowfast_3-7/model_final.pth OUTPUT_DIR output/slowfast_3-7/osvos

Resumable: finished sequences are skipped when run again, if the same weights and settings produced them (else
it stops, unless ``--force`` redoes them). ``--workers N`` splits the sequences over N processes on this machine;
``--shard i/N`` runs the i-th of N shards (e.g. one per GPU or machine); the set is scored with the semi-supervised
protocol once every sequence is done. Empty MODEL.WEIGHTS is an error unless ``--allow-random-weights``.

On a YouTube-VOS set (DATASETS.TEST ("ytvos2019_valid",) or a _train_holdout set) each video is fine-tuned on the
masks given at each object's first appearance (the runner picks this from the set's metadata); valid ends with the
checked submission zip, a held-out train split with its J&F.
"""
import argparse
import hashlib
import json
import sys
from typing import Tuple

from slowfast_vos.utils.console import quiet_third_party_noise

quiet_third_party_noise()  # before Detectron2's imports, which print torch's deprecation notices

from detectron2.evaluation import print_csv_format
from detectron2.evaluation.testing import flatten_results_dict

from slowfast_vos.data import ensure_dataset_available
from slowfast_vos.engine import check_datasets, default_vos_setup, load_cfg
from slowfast_vos.engine.osvos import OSVOSRunner, run_provenance
from vos_eval.results_file import BENCHMARKS
from slowfast_vos.precision import check_precision
from vos_eval.locks import hold_output_folder


def parse_shard(text: str) -> Tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard expects i/N like 0/4, got {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= i < N")
    return index, count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True, metavar="FILE")
    parser.add_argument("--workers", type=int, default=1, help="processes on this machine (default 1)")
    parser.add_argument("--shard", type=parse_shard, default=(0, 1), help="run shard i of N (default 0/1)")
    parser.add_argument("--force", action="store_true",
                        help="redo finished sequences that other weights or settings produced")
    parser.add_argument("--allow-random-weights", action="store_true",
                        help="fine-tune from a randomly initialised model when MODEL.WEIGHTS is empty")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE pairs")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_cfg(args.config_file, args.opts)
    check_precision(cfg)
    index, count = args.shard
    if count == 1:
        hold_output_folder(cfg.OUTPUT_DIR)
    else:  # the shards of one run (same weights, settings and N) share OUTPUT_DIR on purpose; nothing else may
        run = hashlib.sha256(json.dumps(run_provenance(cfg), sort_keys=True).encode()).hexdigest()[:16]
        hold_output_folder(cfg.OUTPUT_DIR, run=(f"osvos-{run}-of-{count}", f"shard-{index}"))
    check_datasets(cfg, train=False)
    for name in cfg.DATASETS.TEST:
        ensure_dataset_available(name)
    runner = OSVOSRunner(cfg, cfg.OUTPUT_DIR, allow_random_weights=args.allow_random_weights)
    runner.check_done(force=args.force)  # before default_setup rewrites OUTPUT_DIR/config.yaml
    default_vos_setup(cfg, args)
    results = runner.run(shard=args.shard, num_workers=args.workers, force=args.force)
    scored = [b for b in BENCHMARKS if results is not None and b in results]
    if scored:
        print_csv_format(flatten_results_dict({scored[0]: results[scored[0]]}))
    elif results is not None and results.get("submission"):
        print(f"submission: {results['submission']}")
    return 0


if __name__ == "__main__":
    quiet_third_party_noise()
    sys.exit(main())
