"""The start of every tool's run, as detectron2.engine.defaults has it for Detectron2's: the config from a file and
KEY VALUE overrides, and the logging / OUTPUT_DIR set-up of a run that writes results."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Dict, Sequence, Tuple

import torch
from detectron2.config import CfgNode, get_cfg
from detectron2.utils import comm
from detectron2.utils.collect_env import collect_env_info
from detectron2.utils.env import seed_all_rng
from detectron2.utils.logger import setup_logger
from vos_eval.run_folder import INFERENCE, RESULTS_FILE, RESULTS_SUBDIRS, RunFolder

from ..config import add_slowfast_vos_config, check_config_values, merge_config_file
from ..evaluation.segmenter import VideoSegmenter
from ..precision import resolve_precision
from ..utils import atomic_write
from vos_eval.output_folder import check_output_entries, open_nofollow, real_folder

__all__ = ["OUTPUT_ENTRIES", "add_file_log", "default_vos_setup", "load_cfg", "save_run_config"]

# What runs write directly in an OUTPUT_DIR (shell patterns): none of these may be a symbolic link there. The run
# folder's own names (evaluations, results folders and file, CSV tables) come from its owner, vos_eval.run_folder.
_TABLES = RunFolder("")
OUTPUT_ENTRIES = ("config.yaml", "log.txt*", "metrics.json", "last_checkpoint", "model_*.pth", ".model_*.pth*",
                  INFERENCE, RESULTS_FILE, ".eval-staging", "events.out.tfevents.*", *RESULTS_SUBDIRS,
                  "sequences_done", _TABLES.global_csv("*"), _TABLES.per_sequence_csv("*"), "submission.zip",
                  ".slowfast_vos.lock*", "produced_by.json")
# The loggers whose records go to OUTPUT_DIR/log.txt (Detectron2's, fvcore's, this package's).
_LOGGERS = ("fvcore", "detectron2", "slowfast_vos")
# (logger name, log file) -> the handler added, so that a second set-up adds none.
_FILE_HANDLERS: Dict[Tuple[str, str], logging.Handler] = {}


def load_cfg(config_file: str, opts: Sequence[str] = (), freeze: bool = True) -> CfgNode:
    """Detectron2's defaults with slowfast_vos's keys, then ``config_file`` (safe YAML only: merge_config_file), then
    the KEY VALUE pairs ``opts``, with TEST.PRECISION / SOLVER.AMP.PRECISION "auto" resolved for MODEL.DEVICE
    (slowfast_vos.precision.resolve_precision), and the values checked (config.check_config_values, and the TEST.VOS
    settings by the segmenter they describe, so that a bad one stops a training before it starts, not at its first
    evaluation: an error names the key and value); frozen unless ``freeze=False`` (for a tool that sets keys of its
    own first)."""
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    merge_config_file(cfg, config_file)
    cfg.merge_from_list(list(opts))
    resolve_precision(cfg)
    check_config_values(cfg)
    VideoSegmenter.from_config(cfg)
    if freeze:
        cfg.freeze()
    return cfg


def add_file_log(output_dir: str, rank: int = 0, names: Sequence[str] = _LOGGERS) -> str:
    """Send the loggers ``names`` to ``output_dir/log.txt`` (``log.txt.rank<N>`` on rank N > 0), as Detectron2's
    setup_logger does, but opened without following a symbolic link (SymlinkError naming it); returns the file."""
    path = os.path.join(output_dir, "log.txt" if rank == 0 else f"log.txt.rank{rank}")
    stream = None
    for name in names:
        if (name, path) in _FILE_HANDLERS:
            continue
        if stream is None:
            stream = next((h.stream for (_, p), h in _FILE_HANDLERS.items() if p == path), None) \
                or open_nofollow(path, "a")
        handler = logging.StreamHandler(stream)
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(name)s %(levelname)s: %(message)s",
                                               datefmt="%m/%d %H:%M:%S"))
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        _FILE_HANDLERS[(name, path)] = handler
    return path


def save_run_config(cfg: CfgNode) -> str:
    """Write the run's config to OUTPUT_DIR/config.yaml atomically (replacing a link, never writing through it);
    returns the path. Runs call it once their inputs are checked (e.g. after --resume loaded its checkpoint, or once
    --eval-only's results replaced the previous ones), so config.yaml never names weights whose results are not
    there."""
    path = os.path.join(real_folder(cfg.OUTPUT_DIR), "config.yaml")
    atomic_write(path, lambda tmp: Path(tmp).write_text(cfg.dump()))
    logging.getLogger("detectron2").info(f"Full config saved to {path}")
    return path


def default_vos_setup(cfg: CfgNode, args: argparse.Namespace, save_config: bool = True) -> None:
    """What Detectron2's default_setup does (OUTPUT_DIR, its config.yaml and log, environment info, seed, cuDNN
    benchmark; ``args`` names the config_file and, optionally, eval_only), with this package's logger writing to the
    same log, and no write through a symbolic link: an OUTPUT_DIR that is a link, or an entry of it that a run
    writes (OUTPUT_ENTRIES) that is one, is a SymlinkError naming it before anything is written; the log is opened
    with O_NOFOLLOW and config.yaml written atomically (``save_config=False``: not here; the caller calls
    :func:`save_run_config` once its run is under way)."""
    output_dir = cfg.OUTPUT_DIR
    rank = comm.get_rank()
    if output_dir:
        check_output_entries(output_dir, OUTPUT_ENTRIES)
        real_folder(output_dir)
    for name in _LOGGERS:
        setup_logger(distributed_rank=rank, name=name)
    if output_dir:
        add_file_log(output_dir, rank)
    logger = logging.getLogger("detectron2")
    logger.info(f"Rank of current process: {rank}. World size: {comm.get_world_size()}")
    logger.info("Environment info:\n" + collect_env_info())
    logger.info(f"Command line arguments: {args}")
    logger.info(f"Running with full config:\n{cfg.dump()}")
    if comm.is_main_process() and output_dir and save_config:
        save_run_config(cfg)
    seed_all_rng(None if cfg.SEED < 0 else cfg.SEED + rank)
    if not getattr(args, "eval_only", False):
        torch.backends.cudnn.benchmark = cfg.CUDNN_BENCHMARK
