"""Video-ordered inference: each sequence runs through the model's sliding window once, frames go to an evaluator.

Detectron2's ``inference_on_dataset`` feeds shuffled-free but independent images; temporal models need whole
sequences in order so that every frame's backbone runs exactly once (``SlowFastRCNN.inference_video``). Sequences
are split across processes under multi-process evaluation; the evaluator gathers the results.
"""
from __future__ import annotations

import datetime
import logging
import time
from collections import OrderedDict, deque
from contextlib import ExitStack
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import torch
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.evaluation import DatasetEvaluator
from detectron2.evaluation.evaluator import inference_context
from detectron2.utils import comm
from detectron2.utils.logger import log_every_n_seconds
from torch.nn.parallel import DistributedDataParallel

from ..precision import autocast

logger = logging.getLogger(__name__)


def group_by_sequence(dataset_dicts: Sequence[Dict[str, Any]]) -> "OrderedDict[str, List[Dict[str, Any]]]":
    """Records grouped per sequence, each group in frame order (sequences keep their first-seen order)."""
    groups: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()
    for record in dataset_dicts:
        groups.setdefault(record["sequence"], []).append(record)
    for records in groups.values():
        records.sort(key=lambda r: r["frame_index"])
    return groups


class TestFrameLoader(torch.utils.data.Dataset):
    """Decodes one frame of a record and applies the test-time resize: model input for ``inference_video``."""

    def __init__(self, records: Sequence[Dict[str, Any]], min_size: int, max_size: int, image_format: str):
        self.records = list(records)
        self.resize = T.ResizeShortestEdge(min_size, max_size)
        self.image_format = image_format

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        record = self.records[idx]
        image = utils.read_image(record["file_name"], format=self.image_format)
        utils.check_image_size(record, image)
        resized = self.resize.get_transform(image).apply_image(image)
        frame = {k: v for k, v in record.items() if k not in ("annotations", "sequence_frames")}
        frame["image"] = torch.as_tensor(resized.transpose(2, 0, 1).copy())
        return frame


def iterate_frames(loader_dataset: TestFrameLoader, num_workers: int) -> Iterator[Dict[str, Any]]:
    """The frames of one sequence in order, decoded by ``num_workers`` background processes when > 0."""
    if num_workers <= 0:
        for i in range(len(loader_dataset)):
            yield loader_dataset[i]
        return
    loader = torch.utils.data.DataLoader(
        loader_dataset, batch_size=1, shuffle=False, num_workers=num_workers, collate_fn=lambda batch: batch[0]
    )
    yield from loader


def predict_sequence(
    model: torch.nn.Module,
    records: Sequence[Dict[str, Any]],
    min_size: int,
    max_size: int,
    image_format: str,
    num_workers: int = 0,
) -> Iterator[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """(frame input, model output) pairs for one sequence's records in frame order, via ``inference_video``.

    The caller provides eval mode and ``torch.no_grad()``.
    """
    stream = iterate_frames(TestFrameLoader(records, min_size, max_size, image_format), num_workers)
    pending: deque = deque()

    def feed() -> Iterator[Dict[str, Any]]:
        for frame in stream:
            pending.append(frame)
            yield frame

    for output in model.inference_video(feed()):
        yield pending.popleft(), output
    if pending:
        sequence = records[0]["sequence"]
        raise RuntimeError(f"inference_video returned fewer outputs than frames for sequence {sequence}")


def inference_on_videos(
    model: torch.nn.Module,
    dataset_dicts: Sequence[Dict[str, Any]],
    evaluator: DatasetEvaluator,
    *,
    min_size: int,
    max_size: int,
    image_format: str,
    num_workers: int = 0,
    precision: str = "fp32",
) -> Dict[str, Any]:
    """Run ``model.inference_video`` over every sequence of this process's share; return the evaluator's results.

    ``precision`` (TEST.PRECISION) sets the model's arithmetic (slowfast_vos.precision).

    The results get a ``timing`` entry (eval_time_s, frames, frames_per_s), measured over all processes' frames
    from the first frame to the last one, so it includes decoding and the evaluator's per-frame work.
    """
    if isinstance(model, DistributedDataParallel):
        model = model.module
    sequences = list(group_by_sequence(dataset_dicts).items())
    rank, world = comm.get_rank(), comm.get_world_size()
    mine = sequences[rank::world]
    total_frames = sum(len(records) for _, records in sequences)
    logger.info(
        f"Video inference on {len(sequences)} sequences ({total_frames} frames); this process has {len(mine)}"
    )
    evaluator.reset()
    done = 0
    comm.synchronize()
    start = time.perf_counter()
    with ExitStack() as stack:
        stack.enter_context(inference_context(model))
        stack.enter_context(torch.no_grad())
        stack.enter_context(autocast(precision, model.device))
        for seq_idx, (sequence, records) in enumerate(mine):
            for frame, output in predict_sequence(model, records, min_size, max_size, image_format, num_workers):
                evaluator.process([frame], [output])
                done += 1
            log_every_n_seconds(
                logging.INFO,
                f"Video inference: sequence {seq_idx + 1}/{len(mine)} ({sequence}), {done} frames done, "
                f"{done / max(time.perf_counter() - start, 1e-9):.2f} frames/s",
                n=5,
            )
    comm.synchronize()
    elapsed = time.perf_counter() - start
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
