"""Map DAVIS / YouTube-VOS frame records to SlowFast model inputs: the target frame, its n-frame window and its
instances.

Every frame of a clip gets the same randomly drawn augmentation (decided once per sample, or once per group of
neighbouring samples in :meth:`ClipDatasetMapper.map_group`), so the temporal module sees a consistent window.

A DAVIS window is the target's neighbours in ``sequence_frames`` (every frame of the video). YouTube-VOS annotates
every 5th frame of a 30 fps video, so its targets are annotated frames and INPUT.YTVOS_WINDOW_FRAMES picks where the
neighbours come from: the annotated frames (``sequence_frames``, spacing 5) or the all-frames folder (``all_frames``,
spacing 1; the positions of annotated frames use the annotated JPEG, so the target itself is always ``file_name``).
"""
from __future__ import annotations

import copy
import hashlib
import logging
import os
import uuid
from collections import Counter, OrderedDict
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.structures import BitMasks, Instances
from fvcore.transforms.transform import NoOpTransform
from PIL import Image

from .davis_format import DAVISFormatError

__all__ = [
    "ClipDatasetMapper",
    "RandomScale",
    "WINDOW_FRAMES",
    "build_clip_augmentation",
    "clip_window",
    "iter_sequences",
    "transform_signature",
    "window_frames",
]

logger = logging.getLogger(__name__)


class RandomScale(T.Augmentation):
    """Resize by one factor drawn uniformly from [min_scale, max_scale], keeping the aspect ratio."""

    def __init__(self, min_scale: float, max_scale: float, interp: int = Image.BILINEAR):
        super().__init__()
        if not 0 < min_scale <= max_scale:
            raise ValueError(f"RandomScale needs 0 < min_scale <= max_scale, got [{min_scale}, {max_scale}]")
        self._init(locals())

    def get_transform(self, image: np.ndarray) -> T.Transform:
        height, width = image.shape[:2]
        scale = np.random.uniform(self.min_scale, self.max_scale)
        new_h, new_w = max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))
        if (new_h, new_w) == (height, width):
            return NoOpTransform()
        return T.ResizeTransform(height, width, new_h, new_w, self.interp)


def build_clip_augmentation(cfg, is_train: bool) -> list[T.Augmentation]:
    """Resize shortest edge, then (training) flip, rotation within +-INPUT.ROTATION_ANGLE and scale 1+-RANDOM_SCALE."""
    if is_train:
        min_size, max_size = cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN
        style = cfg.INPUT.MIN_SIZE_TRAIN_SAMPLING
    else:
        min_size, max_size, style = cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, "choice"
    augmentations: list[T.Augmentation] = [T.ResizeShortestEdge(min_size, max_size, style)]
    if not is_train:
        return augmentations
    flip = cfg.INPUT.RANDOM_FLIP
    if flip not in ("none", "horizontal", "vertical"):
        raise ValueError(f"cfg.INPUT.RANDOM_FLIP must be 'none', 'horizontal' or 'vertical', got {flip!r}")
    if flip != "none":
        augmentations.append(T.RandomFlip(horizontal=flip == "horizontal", vertical=flip == "vertical"))
    angle = float(cfg.INPUT.ROTATION_ANGLE)
    if angle < 0:
        raise ValueError(f"cfg.INPUT.ROTATION_ANGLE must be >= 0, got {angle}")
    if angle > 0:
        augmentations.append(T.RandomRotation([-angle, angle], expand=False, sample_style="range"))
    scale = float(cfg.INPUT.RANDOM_SCALE)
    if not 0 <= scale < 1:
        raise ValueError(f"cfg.INPUT.RANDOM_SCALE must be in [0, 1), got {scale}")
    if scale > 0:
        augmentations.append(RandomScale(1.0 - scale, 1.0 + scale))
    return augmentations


def _freeze(value: Any) -> Any:
    """A hashable, deterministic rendering of a transform attribute (unknown objects get a unique token)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    return ("opaque", uuid.uuid4().hex)


def transform_signature(transforms: T.TransformList) -> str:
    """A digest of a transform list's parameters: equal digests mean the same output for the same input frame."""
    frozen = tuple((type(t).__qualname__, _freeze(vars(t))) for t in transforms.transforms)
    return hashlib.sha1(repr(frozen).encode("utf-8")).hexdigest()


def clip_window(frame_index: int, num_frames: int) -> list[int]:
    """Frame indices of the n-frame window centred on ``frame_index`` (may fall outside the video)."""
    half = num_frames // 2
    return list(range(frame_index - half, frame_index + half + 1))


# INPUT.YTVOS_WINDOW_FRAMES choices (config.py documents them).
WINDOW_FRAMES = ("annotated", "all_frames", "auto")
# Where a window's frames came from: every frame of a DAVIS video, a YouTube-VOS video's annotated frames, or its
# all-frames folder.
_SOURCES = ("sequence", "annotated", "all_frames")


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def window_frames(record: dict, mode: str = "annotated") -> tuple[list[str], int, str]:
    """The frame paths a record's window indexes, the record's position in them, and their source.

    DAVIS records (no ``all_frames`` field) give ``(sequence_frames, frame_index, "sequence")`` in every mode.
    YouTube-VOS records give their annotated frames (``"annotated"``) or, in mode "all_frames" (or "auto" when the
    record has them), the all-frames list with each annotated frame's own JPEG at its position (``"all_frames"``).
    """
    if mode not in WINDOW_FRAMES:
        raise ValueError(f"INPUT.YTVOS_WINDOW_FRAMES must be one of {WINDOW_FRAMES}, got {mode!r}")
    if "all_frames" not in record:
        return record["sequence_frames"], record["frame_index"], "sequence"
    all_frames, index = record["all_frames"], record.get("all_frames_index")
    if mode == "annotated" or (mode == "auto" and all_frames is None):
        return record["sequence_frames"], record["frame_index"], "annotated"
    if all_frames is None or index is None:
        raise ValueError(
            f"INPUT.YTVOS_WINDOW_FRAMES is 'all_frames' but {record.get('image_id', record['file_name'])} has no "
            f"all-frames folder (record field all_frames is None); use 'auto' or 'annotated', or add the "
            f"<split>_all_frames folder"
        )
    if not 0 <= index < len(all_frames) or _stem(all_frames[index]) != _stem(record["file_name"]):
        raise DAVISFormatError(
            f"{record['file_name']}: all_frames_index {index} does not point at the same frame name in all_frames"
        )
    annotated = {_stem(p): p for p in record["sequence_frames"]}
    return [annotated.get(_stem(p), p) for p in all_frames], index, "all_frames"


def iter_sequences(dataset_dicts: Iterable[dict]) -> Iterator[tuple[str, list[dict]]]:
    """Group frame records by sequence (first-seen order), each group sorted by frame_index: video order."""
    groups: OrderedDict[str, list[dict]] = OrderedDict()
    for record in dataset_dicts:
        groups.setdefault(record["sequence"], []).append(record)
    for sequence, records in groups.items():
        yield sequence, sorted(records, key=lambda r: r["frame_index"])


class _FrameCache:
    """A bounded LRU of decoded frames (per data-loader worker, as each worker holds its own mapper copy)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._frames: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, path: str, image_format: str) -> np.ndarray:
        frame = self._frames.get(path)
        if frame is not None:
            self._frames.move_to_end(path)
            return frame
        try:
            frame = utils.read_image(path, format=image_format)
        except (OSError, SyntaxError, ValueError) as e:
            raise DAVISFormatError(f"cannot read frame {path}: {e}") from e
        if self.capacity > 0:
            self._frames[path] = frame
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)
        return frame

    def __len__(self) -> int:
        return len(self._frames)


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 array -> (C, H, W) tensor owning its memory (cached frames must never be aliased)."""
    return torch.from_numpy(np.array(image.transpose(2, 0, 1), order="C", copy=True))


_COPIED_KEYS = ("height", "width", "sequence", "frame_name", "frame_index", "file_name", "image_id")


class ClipDatasetMapper:
    """Turn a frame record into the model input of docs/interfaces.md: augmented target, its clip and instances."""

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        augmentations: list[T.Augmentation | T.Transform],
        image_format: str,
        num_frames: int,
        mask_on: bool = True,
        frame_cache_size: int = 64,
        ytvos_window_frames: str = "annotated",
    ):
        """
        Args:
            is_train: produce ``instances`` (and use the random augmentations given).
            augmentations: applied with one draw to every frame of a clip and to the target's masks.
            image_format: Detectron2 image format of the output tensors (e.g. "BGR").
            num_frames: clip length n (odd): the fast pathway's window.
            mask_on: keep ``gt_masks`` in the instances (boxes always come from the transformed masks).
            frame_cache_size: decoded frames kept in the LRU cache (0 disables it).
            ytvos_window_frames: where a YouTube-VOS target's window takes its neighbours: "annotated"
                (sequence_frames), "all_frames" (all_frames; error where a record has none) or "auto" (all_frames
                where the record has them, else sequence_frames). DAVIS records are unaffected.
        """
        if num_frames < 1 or num_frames % 2 == 0:
            raise ValueError(f"the clip length (MODEL.SLOWFAST.FAST_FRAMES) must be odd and >= 1, got {num_frames}")
        if frame_cache_size < 0:
            raise ValueError(f"the frame cache size (INPUT.FRAME_CACHE_SIZE) must be >= 0, got {frame_cache_size}")
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format
        self.num_frames = num_frames
        self.mask_on = mask_on
        if ytvos_window_frames not in WINDOW_FRAMES:
            raise ValueError(f"INPUT.YTVOS_WINDOW_FRAMES must be one of {WINDOW_FRAMES}, got {ytvos_window_frames!r}")
        self.frame_cache = _FrameCache(frame_cache_size)
        self.window_mode = ytvos_window_frames
        # Targets mapped per window source ("sequence": DAVIS, "annotated", "all_frames"), in this process.
        self.window_sources: Counter = Counter()
        self._fallbacks_logged = 0
        where = {
            "annotated": "annotated frames (sequence_frames)",
            "all_frames": "all frames (all_frames)",
            "auto": "all frames (all_frames) where a record has them, else annotated frames (sequence_frames)",
        }[ytvos_window_frames]
        # Test-time inference streams frames (frame_input) and keeps its own window: the choice is a training one.
        windows = f"; YouTube-VOS windows from {where} (INPUT.YTVOS_WINDOW_FRAMES={ytvos_window_frames!r})"
        logger.info(f"[ClipDatasetMapper] {'train' if is_train else 'test'}: {self.augmentations}, n={num_frames}"
                    f"{windows if is_train else ''}")

    @classmethod
    def from_config(cls, cfg, is_train: bool = True) -> dict[str, Any]:
        return {
            "is_train": is_train,
            "augmentations": build_clip_augmentation(cfg, is_train),
            "image_format": cfg.INPUT.FORMAT,
            "num_frames": cfg.MODEL.SLOWFAST.FAST_FRAMES,
            "mask_on": cfg.MODEL.MASK_ON,
            "frame_cache_size": cfg.INPUT.FRAME_CACHE_SIZE,
            "ytvos_window_frames": cfg.INPUT.YTVOS_WINDOW_FRAMES,
        }

    def __call__(self, dataset_dict: dict) -> dict:
        """Map one target record (one augmentation draw for its whole clip)."""
        return self.map_group([dataset_dict])[0]

    def map_group(self, dataset_dicts: list[dict]) -> list[dict]:
        """Map K records of one sequence with ONE augmentation draw; their clips share frame tensors and keys."""
        if not dataset_dicts:
            return []
        first = dataset_dicts[0]
        for record in dataset_dicts[1:]:
            if record["sequence"] != first["sequence"]:
                raise ValueError(
                    f"map_group needs records of one sequence, got {first['sequence']!r} and {record['sequence']!r}"
                )
        frames, first_index, source = window_frames(first, self.window_mode)
        positions = [first_index]
        for record in dataset_dicts[1:]:
            other_frames, index, other_source = window_frames(record, self.window_mode)
            if other_source != source or len(other_frames) != len(frames):
                raise ValueError(f"map_group: records of sequence {first['sequence']!r} have different window frames "
                                 f"({source} and {other_source})")
            positions.append(index)
        self._count_sources(first, source, len(dataset_dicts))
        target = self.frame_cache.get(frames[first_index], self.image_format)
        aug_input = T.AugInput(target)
        transforms = self.augmentations(aug_input)
        signature = transform_signature(transforms)

        needed = sorted({j for p in positions for j in clip_window(p, self.num_frames) if 0 <= j < len(frames)})
        tensors: dict[int, torch.Tensor] = {}
        for j in needed:
            if j == first_index:
                image = aug_input.image
            else:
                raw = self.frame_cache.get(frames[j], self.image_format)
                if raw.shape[:2] != target.shape[:2]:
                    raise DAVISFormatError(
                        f"frame {frames[j]} is {raw.shape[1]}x{raw.shape[0]} but {frames[first_index]} of "
                        f"the same sequence is {target.shape[1]}x{target.shape[0]}"
                    )
                image = transforms.apply_image(raw)
            tensors[j] = _to_tensor(image)

        outputs = []
        for record, position in zip(dataset_dicts, positions):
            window = clip_window(position, self.num_frames)
            clip = [tensors.get(j) for j in window]
            keys = [(frames[j], signature) if j in tensors else None for j in window]
            out = {key: record[key] for key in _COPIED_KEYS}
            out.update(image=clip[self.num_frames // 2], clip=clip, clip_keys=keys)
            if self.is_train:
                out["instances"] = self._instances(record, transforms, tuple(out["image"].shape[1:]))
            outputs.append(out)
        return outputs

    def _count_sources(self, record: dict, source: str, targets: int) -> None:
        """Count the targets per window source; in "auto", log the first fallback and then each 10x more."""
        self.window_sources[source] += targets
        if self.window_mode != "auto" or source != "annotated":
            return
        fell_back = self.window_sources["annotated"]
        if fell_back >= max(1, 10 * self._fallbacks_logged):
            self._fallbacks_logged = fell_back
            total = sum(self.window_sources[s] for s in ("annotated", "all_frames"))
            logger.info(
                f"[ClipDatasetMapper] INPUT.YTVOS_WINDOW_FRAMES='auto': {record['sequence']!r} has no all-frames "
                f"folder, its windows use the annotated frames; {fell_back} of {total} YouTube-VOS targets so far "
                f"from annotated frames, {self.window_sources['all_frames']} from all frames"
            )

    def _instances(self, record: dict, transforms: T.TransformList, image_size: tuple[int, int]) -> Instances:
        """The target's instances after the clip's transforms; boxes recomputed from masks, vanished objects dropped."""
        annos = []
        for obj in record.get("annotations", []):
            if obj.get("iscrowd", 0) == 0:
                anno = utils.transform_instance_annotations(copy.deepcopy(obj), transforms, image_size)
                anno["segmentation"] = np.array(anno["segmentation"], dtype=np.uint8)  # PIL resizes give read-only
                annos.append(anno)
        instances = utils.annotations_to_instances(annos, image_size, mask_format="bitmask")
        if not annos:
            instances.gt_masks = BitMasks(torch.zeros((0, *image_size), dtype=torch.bool))
        instances.gt_boxes = instances.gt_masks.get_bounding_boxes()
        instances = utils.filter_empty_instances(instances)
        if not self.mask_on:
            instances.remove("gt_masks")
        return instances

    def frame_input(self, dataset_dict: dict) -> dict:
        """One frame alone (``image`` + the record's fields), for video-order inference that keeps its own window."""
        image = self.frame_cache.get(dataset_dict["file_name"], self.image_format)
        if image.shape[:2] != (dataset_dict["height"], dataset_dict["width"]):  # results are written at the latter
            raise DAVISFormatError(
                f"frame {dataset_dict['file_name']} is {image.shape[1]}x{image.shape[0]} but the frames of sequence "
                f"{dataset_dict['sequence']!r} are {dataset_dict['width']}x{dataset_dict['height']}: a video's frames "
                "share one size"
            )
        aug_input = T.AugInput(image)
        self.augmentations(aug_input)
        out = {key: dataset_dict[key] for key in _COPIED_KEYS}
        out["image"] = _to_tensor(aug_input.image)
        return out
