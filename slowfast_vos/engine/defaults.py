"""The start of every tool's run, as detectron2.engine.defaults has it for Detectron2's: the config from a file and
KEY VALUE overrides, and the logging / OUTPUT_DIR set-up of a run that writes results."""
from __future__ import annotations

import argparse
from typing import Sequence

from detectron2.config import CfgNode, get_cfg
from detectron2.engine import default_setup
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from ..config import add_slowfast_vos_config, merge_config_file
from ..precision import resolve_precision

__all__ = ["default_vos_setup", "load_cfg"]


def load_cfg(config_file: str, opts: Sequence[str] = (), freeze: bool = True) -> CfgNode:
    """Detectron2's defaults with slowfast_vos's keys, then ``config_file`` (safe YAML only: merge_config_file), then
    the KEY VALUE pairs ``opts``, with TEST.PRECISION / SOLVER.AMP.PRECISION "auto" resolved for MODEL.DEVICE
    (slowfast_vos.precision.resolve_precision); frozen unless ``freeze=False`` (for a tool that sets keys of its own
    first)."""
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    merge_config_file(cfg, config_file)
    cfg.merge_from_list(list(opts))
    resolve_precision(cfg)
    if freeze:
        cfg.freeze()
    return cfg


def default_vos_setup(cfg: CfgNode, args: argparse.Namespace) -> None:
    """Detectron2's default_setup (OUTPUT_DIR, its config.yaml and log, environment info, seed; ``args`` names the
    config_file and, optionally, eval_only) plus this package's logger writing to the same folder."""
    default_setup(cfg, args)
    setup_logger(output=cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="slowfast_vos")
