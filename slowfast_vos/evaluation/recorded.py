"""Recorded detections: every frame's instances, saved once by an evaluation (TEST.VOS.SAVE_INSTANCES), and a
stand-in model that replays them, so the rules that turn detections into result masks (TEST.VOS.TRACKER, the score
threshold, the re-identification gate, ...) can be compared on exactly the same detections in seconds and without
the model (tools/replay_tracking.py).

Layout: ``<evaluation folder>/instances/<sequence>.npz`` (one per video, written atomically when the video ends) and
``meta.json`` (format version; the mask threshold used when the model's masks were probabilities, else None). Each
``.npz`` holds ``frames`` (names, video order), ``counts`` (instances per frame), ``scores``, ``masks`` (all
instances' binary masks, bit-packed) with ``shape`` (instances, H, W), and ``object_ids`` when the model names each
instance's object (OSVOS.IDENTITY "classes").
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import numpy as np
import torch
from detectron2.structures import Instances

from vos_eval.io import atomic_write, join_under, write_json_atomic
from vos_eval.output_folder import real_folder

__all__ = ["FORMAT_VERSION", "INSTANCES_DIR", "InstanceRecorder", "RecordedInstancesError", "ReplayModel",
           "load_recorded_video", "read_recording_meta"]

INSTANCES_DIR = "instances"
FORMAT_VERSION = 1
META_FILE = "meta.json"

Frame = Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]  # masks (N, H, W) bool, scores (N,), object ids (N,)


class RecordedInstancesError(ValueError):
    """A recording that is missing, incomplete or not made with the settings a replay asks for."""


class InstanceRecorder:
    """Saves one video at a time: frames are added in video order; the video is written when the next one starts and
    on :meth:`flush`. ``mask_thresh`` binarises masks given as probabilities (and is recorded in ``meta.json``)."""

    def __init__(self, folder: str, mask_thresh: float):
        self.folder = folder
        self.mask_thresh = mask_thresh
        self._sequence: Optional[str] = None
        self._frames: List[Tuple[str, Frame]] = []
        self._probabilities: Optional[bool] = None

    def add(self, sequence: str, frame: str, instances: Instances) -> None:
        if sequence != self._sequence:
            self.flush()
            self._sequence = sequence
        instances = instances.to("cpu")
        n = len(instances)
        height, width = instances.image_size
        if instances.has("pred_masks"):
            masks = instances.pred_masks
            if masks.dtype != torch.bool:
                self._probabilities = True
                masks = masks >= self.mask_thresh
            elif self._probabilities is None:
                self._probabilities = False
            masks = masks.numpy().astype(bool)
        elif n:
            raise RecordedInstancesError(f"{sequence}/{frame}: the model's instances have no pred_masks to record")
        else:
            masks = np.zeros((0, height, width), dtype=bool)
        scores = instances.scores.numpy().astype(np.float32) if instances.has("scores") else np.ones(n, np.float32)
        object_ids = instances.object_ids.numpy().astype(np.int64) if instances.has("object_ids") else None
        self._frames.append((frame, (masks, scores, object_ids)))

    def flush(self) -> None:
        """Write the current video (if any) and the folder's meta.json."""
        if self._sequence is None or not self._frames:
            self._sequence, self._frames = None, []
            return
        real_folder(self.folder)  # never through a planted link
        names = [name for name, _ in self._frames]
        masks = np.concatenate([f[0] for _, f in self._frames])
        arrays: Dict[str, Any] = {
            "frames": np.array(names), "counts": np.array([len(f[1]) for _, f in self._frames], dtype=np.int64),
            "scores": np.concatenate([f[1] for _, f in self._frames]), "masks": np.packbits(masks.reshape(-1)),
            "shape": np.array(masks.shape, dtype=np.int64)}
        ids = [f[2] for _, f in self._frames]
        if any(i is not None for i in ids):
            arrays["object_ids"] = np.concatenate([np.full(len(f[1]), -1) if i is None else i
                                                   for (_, f), i in zip(self._frames, ids)])
        path = join_under(self.folder, f"{self._sequence}.npz")
        atomic_write(path, lambda tmp: _save_npz(tmp, arrays))
        write_json_atomic(os.path.join(self.folder, META_FILE),
                          {"version": FORMAT_VERSION,
                           "mask_thresh": self.mask_thresh if self._probabilities else None})
        self._sequence, self._frames = None, []


def _save_npz(path: str, arrays: Mapping[str, Any]) -> None:
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def read_recording_meta(folder: str) -> Dict[str, Any]:
    """The recording's meta.json; an error naming the folder when there is none or its version is not known."""
    path = os.path.join(folder, META_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise RecordedInstancesError(f"{folder} holds no recorded instances ({META_FILE} missing): record them with "
                                     "an evaluation run with TEST.VOS.SAVE_INSTANCES True") from None
    if meta.get("version") != FORMAT_VERSION:
        raise RecordedInstancesError(f"{path}: recording format {meta.get('version')!r}, this code reads "
                                     f"{FORMAT_VERSION}")
    return meta


def load_recorded_video(folder: str, sequence: str) -> Dict[str, Frame]:
    """Frame name -> (masks (N, H, W) bool, scores (N,), object ids (N,) or None) of one recorded video, in video
    order; an error names a missing or inconsistent file."""
    path = os.path.join(folder, f"{sequence}.npz")
    if not os.path.isfile(path):
        raise RecordedInstancesError(f"no recorded instances of sequence {sequence!r}: {path} is missing (was it in "
                                     "the recorded evaluation's set?)")
    with np.load(path, allow_pickle=False) as data:
        names, counts, scores = [str(n) for n in data["frames"]], data["counts"], data["scores"]
        shape = tuple(int(v) for v in data["shape"])
        masks = np.unpackbits(data["masks"], count=int(np.prod(shape))).astype(bool).reshape(shape)
        object_ids = data["object_ids"] if "object_ids" in data.files else None
    if len(names) != len(counts) or counts.sum() != len(scores) or len(scores) != shape[0]:
        raise RecordedInstancesError(f"{path}: frames, counts, scores and masks do not agree")
    starts = np.concatenate([[0], np.cumsum(counts)])
    return {name: (masks[a:b], scores[a:b], None if object_ids is None else object_ids[a:b])
            for name, a, b in zip(names, starts[:-1], starts[1:])}


class ReplayModel(torch.nn.Module):
    """Stands in for a model in ``inference_on_videos``: ``inference_video`` yields each frame's recorded instances
    from ``folder`` (an error names a missing video or frame, or a frame of another size)."""

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder
        self.meta = read_recording_meta(folder)
        self._video: Tuple[Optional[str], Dict[str, Frame]] = (None, {})

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def frame(self, sequence: str, frame: str) -> Frame:
        if self._video[0] != sequence:
            self._video = (sequence, load_recorded_video(self.folder, sequence))
        recorded = self._video[1].get(frame)
        if recorded is None:
            raise RecordedInstancesError(f"{os.path.join(self.folder, sequence + '.npz')} has no frame {frame!r}")
        return recorded

    def inference_video(self, frames: Iterable[Dict[str, Any]]) -> Iterator[Dict[str, Instances]]:
        for inp in frames:
            masks, scores, object_ids = self.frame(inp["sequence"], inp["frame_name"])
            height, width = int(inp["height"]), int(inp["width"])
            if masks.shape[1:] != (height, width):
                raise RecordedInstancesError(
                    f"{inp['sequence']}/{inp['frame_name']}: recorded at {masks.shape[2]}x{masks.shape[1]}, the frame "
                    f"is {width}x{height} (WxH)")
            instances = Instances((height, width), pred_masks=torch.from_numpy(masks.copy()),
                                  scores=torch.from_numpy(scores.copy()))
            if object_ids is not None:
                instances.object_ids = torch.from_numpy(object_ids.copy())
            yield {"instances": instances}
