"""Video-ordered inference: Detectron2's ``inference_on_dataset`` for a temporal model.

Each sequence runs through ``SlowFastRCNN.inference_video`` once, so every frame's backbone runs exactly once and
its outputs reach the evaluator in video order. The data comes from ``build_video_test_loader`` (whole sequences
per process, in order); the evaluator gathers the processes' results.
"""
from __future__ import annotations

import datetime
import itertools
import logging
import time
from collections import deque
from contextlib import ExitStack
from typing import Any, Dict, Iterable, Iterator, Tuple

import torch
from detectron2.evaluation import DatasetEvaluator
from detectron2.evaluation.evaluator import inference_context
from detectron2.utils import comm
from detectron2.utils.logger import log_every_n_seconds
from torch.nn.parallel import DistributedDataParallel

from ..precision import autocast

__all__ = ["inference_on_videos", "predict_video"]

logger = logging.getLogger(__name__)


def predict_video(model: torch.nn.Module, frames: Iterable[Dict[str, Any]]) -> Iterator[Tuple[dict, dict]]:
    """(frame input, model output) pairs of one video's frame inputs, in order, via ``model.inference_video``.

    The caller provides eval mode and ``torch.no_grad()``.
    """
    pending: deque = deque()

    def feed() -> Iterator[Dict[str, Any]]:
        for frame in frames:
            pending.append(frame)
            yield frame

    for output in model.inference_video(feed()):
        yield pending.popleft(), output
    if pending:
        raise RuntimeError(f"inference_video returned fewer outputs than frames for sequence "
                           f"{pending[0].get('sequence')!r}")


def inference_on_videos(
    model: torch.nn.Module, data_loader: Iterable[list], evaluator: DatasetEvaluator, precision: str = "fp32"
) -> Dict[str, Any]:
    """Run ``model.inference_video`` over every sequence of ``data_loader``; return the evaluator's results.

    ``data_loader`` yields lists of frame inputs (``build_video_test_loader``): consecutive frames of one sequence
    form one video. The results get a ``timing`` entry (eval_time_s, frames, frames_per_s), measured over all
    processes' frames from the first frame to the last one, so it includes decoding and the evaluator's work.
    ``precision`` (TEST.PRECISION) sets the model's arithmetic (slowfast_vos.precision).
    """
    if isinstance(model, DistributedDataParallel):
        model = model.module
    evaluator.reset()
    logger.info(f"Video inference on {len(data_loader)} frames in this process")
    done, sequences = 0, 0
    frames = (frame for batch in data_loader for frame in batch)
    comm.synchronize()
    start = time.perf_counter()
    with ExitStack() as stack:
        stack.enter_context(inference_context(model))
        stack.enter_context(torch.no_grad())
        stack.enter_context(autocast(precision, model.device))
        for sequence, video in itertools.groupby(frames, key=lambda frame: frame["sequence"]):
            for frame, output in predict_video(model, video):
                evaluator.process([frame], [output])
                done += 1
            sequences += 1
            log_every_n_seconds(
                logging.INFO,
                f"Video inference: {sequences} sequences ({sequence} last), {done} frames done, "
                f"{done / max(time.perf_counter() - start, 1e-9):.2f} frames/s",
                n=5,
            )
    comm.synchronize()
    elapsed = time.perf_counter() - start
    total_frames = sum(comm.all_gather(done)) if comm.get_world_size() > 1 else done
    logger.info(
        f"Video inference done: {total_frames} frames in {datetime.timedelta(seconds=int(elapsed))} "
        f"({total_frames / max(elapsed, 1e-9):.2f} frames/s over all processes)"
    )
    results = evaluator.evaluate()
    if results is None:
        results = {}
    if comm.is_main_process():
        results = dict(results)
        results["timing"] = {
            "eval_time_s": elapsed,
            "frames": total_frames,
            "frames_per_s": total_frames / max(elapsed, 1e-9),
        }
    return results
