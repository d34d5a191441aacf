"""Evaluation results of one model at a time: --eval-only writes into a fresh hidden folder and replaces the
previous results only once every test set is done, so an interrupted run never leaves one model's PNGs mixed with
another's, nor the tables of old weights beside a config naming new ones."""
from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Callable

from detectron2.utils import comm
from torch import nn

from vos_eval.run_folder import RunFolder

from ..utils import write_json_atomic
from vos_eval.output_folder import real_folder, real_folder_under, refuse_symlink
from vos_eval.provenance import portable_path
from .checkpoint import weights_digest

__all__ = ["PRODUCED_BY_FILE", "STAGING_DIR", "evaluate_replacing_results"]

logger = logging.getLogger(__name__)

# Hidden folder of OUTPUT_DIR that an evaluation writes into until it is complete (a killed run's is removed).
STAGING_DIR = ".eval-staging"
# Written into each evaluation folder (RunFolder.evaluation_dir: inference/<set>/): the weights (path and sha256)
# that produced its results, since OUTPUT_DIR/config.yaml names the weights of the latest run, finished or not.
PRODUCED_BY_FILE = "produced_by.json"


def _replace(src: str, dst: str, trash: str) -> None:
    """Move ``src`` to ``dst``, the previous ``dst`` (if any) into ``trash`` first."""
    if os.path.lexists(dst):
        os.makedirs(trash, exist_ok=True)
        os.replace(dst, os.path.join(trash, os.path.basename(dst)))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.replace(src, dst)


def _relocate(results: Any, staging: str, output_dir: str) -> Any:
    """``results`` with paths under ``staging`` (e.g. a submission zip) pointing to where they were moved."""
    if isinstance(results, dict):
        return type(results)((k, _relocate(v, staging, output_dir)) for k, v in results.items())
    if isinstance(results, str) and results.startswith(staging + os.sep):
        return os.path.join(output_dir, os.path.relpath(results, staging))
    return results


def evaluate_replacing_results(cfg, model: nn.Module, test: Callable[[Any, nn.Module], Any], weights: str) -> Any:
    """``test(cfg, model)`` (e.g. VOSTrainer.test) with OUTPUT_DIR a fresh staging folder; once it returns, each
    test set's evaluation folder (RunFolder.evaluation_dir, ``inference/<set>``; with ``weights`` recorded in its
    PRODUCED_BY_FILE) and ``results.json`` replace OUTPUT_DIR's (a results.json of earlier weights is removed when
    this run scores nothing). Every rank calls it; rank 0 moves the files."""
    output_dir = os.path.abspath(cfg.OUTPUT_DIR)
    staging = os.path.join(output_dir, STAGING_DIR)
    run, staged_run = RunFolder(output_dir), RunFolder(staging)
    if comm.is_main_process():
        for path in (staging, run.inference_dir, run.results_json,
                     *(run.evaluation_dir(name) for name in cfg.DATASETS.TEST)):
            refuse_symlink(path)  # SymlinkError naming it: results are never moved through a link
        shutil.rmtree(staging, ignore_errors=True)  # an interrupted evaluation's
        real_folder(output_dir, STAGING_DIR)
    comm.synchronize()
    staged = cfg.clone()
    staged.defrost()
    staged.OUTPUT_DIR = staging
    staged.freeze()
    results = test(staged, model)
    if comm.is_main_process():
        trash = os.path.join(staging, ".replaced")
        for name in cfg.DATASETS.TEST:
            produced = staged_run.evaluation_dir(name)
            if os.path.isdir(produced):
                write_json_atomic(os.path.join(produced, PRODUCED_BY_FILE),  # the path as a reader elsewhere can use it
                                  {"weights": portable_path(weights, output_dir),
                                   "weights_sha256": weights_digest(weights)})
                real_folder_under(output_dir, run.inference_dir)
                _replace(produced, run.evaluation_dir(name), trash)
        if os.path.isfile(staged_run.results_json):
            os.replace(staged_run.results_json, run.results_json)
        elif os.path.isfile(run.results_json):
            logger.info(f"removing {run.results_json}: earlier weights' scores")
            os.remove(run.results_json)
        shutil.rmtree(staging, ignore_errors=True)
    comm.synchronize()
    return _relocate(results, staging, output_dir)
