"""VideoSegmenter: a model's per-frame instances -> one video's id maps, the same way everywhere (the DAVIS and
YouTube-VOS evaluators, OSVOS, which writes through them, and tools/demo.py).

Instances are kept by TEST.VOS.SCORE_THRESH and binarised at TEST.VOS.MASK_THRESH; on a single-object protocol
(DAVIS 2016) a frame's result is the union of the kept instances; otherwise ids come from the tracker TEST.VOS.TRACKER
chooses ("reid": ReIDTracker, re-acquires lost objects; "iou": the earlier mask-IoU rule), or, when the model names
each instance's object (``instances.object_ids``: OSVOS.IDENTITY "classes"), from the model; masks given by a
semi-supervised protocol are painted over the instances. A video's state is one tracker (a few numbers and one
mask per object), so memory does not grow with the video's length.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from .tracking import (InstanceTracker, ReIDTracker, appearance, check_assignment, check_hold_frames,
                       check_overlap_rule, check_size_memory, label_frame)

__all__ = ["TRACKERS", "VideoSegmenter", "frame_image"]

TRACKERS = {"iou": InstanceTracker, "reid": ReIDTracker}


def frame_image(inp: Mapping[str, Any], height: int, width: int) -> Optional[np.ndarray]:
    """The (height, width, 3) BGR uint8 frame of a model input, for appearance: its file decoded as tools/demo.py
    decodes frames (so both see the same pixels), else its ``image`` tensor (CHW at the test size) resized back to
    the frame's size; None when the input has neither."""
    import cv2

    path = inp.get("file_name")
    if path:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is not None and image.shape[:2] == (height, width):
            return image
    image = inp.get("image")
    if image is None:
        return None
    array = image.permute(1, 2, 0).cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.shape[:2] != (height, width):
        array = cv2.resize(np.ascontiguousarray(array), (width, height), interpolation=cv2.INTER_NEAREST)
        array = array.reshape(height, width, -1)
    return np.clip(array, 0, 255).astype(np.uint8)


class VideoSegmenter:
    """Turns each frame's ``Instances`` into an id map, one video at a time (see the module docstring)."""

    def __init__(self, *, score_thresh: float, mask_thresh: float, max_objects: int, match_iou: float,
                 tracker: str = "reid", appearance_gate: float = 0.6, single_object: bool = False,
                 continue_score_thresh: Optional[float] = None, overlap: str = "nested", size_memory: int = 5,
                 assignment: str = "joint", hold_frames: int = 1):
        """
        Args:
            score_thresh: instances with a lower score are dropped.
            mask_thresh: mask probability at or above which a pixel belongs to an instance.
            max_objects: most object ids per video (multi-object protocols).
            match_iou: least mask IoU to continue an id from its last mask.
            tracker: "reid" or "iou" (TRACKERS).
            appearance_gate: least appearance similarity for ReIDTracker to re-acquire a lost object.
            single_object: every frame is the union of its instances as object 1 (DAVIS 2016).
            continue_score_thresh: on multi-object protocols, instances scoring at least this but below score_thresh
                are kept too, only to continue an object they overlap (never a new id or a re-identification);
                None, a negative value or one >= score_thresh: none.
            overlap: who gets a pixel several objects' instances claim: "score" (the higher-scoring instance) or
                "previous" (the object whose mask on the frame before covered it) or "nested" (the score, but an
                instance mostly inside a much larger one of another object is painted over it);
                tracking.instances_to_labels.
            size_memory: ReIDTracker's size reference for re-acquiring a lost object, the median area of its last
                this many observed masks (1: the last mask's, the earlier rule).
            assignment: ReIDTracker's assignment, "joint" or "continue-first" (tracking.ASSIGNMENTS).
            hold_frames: with "reid", an object missed on a frame but seen at most this many frames before is written
                where its last mask, moved by its last motion, falls on pixels no instance took (0: never).
        """
        if tracker not in TRACKERS:
            raise ValueError(f"TEST.VOS.TRACKER must be one of {sorted(TRACKERS)}, got {tracker!r}")
        self.overlap = check_overlap_rule(overlap)
        self.size_memory = check_size_memory(size_memory)
        self.assignment = check_assignment(assignment)
        self.hold_frames = check_hold_frames(hold_frames)
        self.score_thresh = score_thresh
        self.mask_thresh = mask_thresh
        self.max_objects = max_objects
        self.match_iou = match_iou
        self.tracker = tracker
        self.appearance_gate = appearance_gate
        self.single_object = single_object
        # None when it keeps nothing more than score_thresh does (a negative config value means off).
        self.continue_score_thresh = (continue_score_thresh if continue_score_thresh is not None
                                      and 0 <= continue_score_thresh < score_thresh else None)

    @property
    def uses_appearance(self) -> bool:
        """Whether :meth:`segment` uses the frame's pixels."""
        return self.tracker == "reid" and not self.single_object

    def image_of(self, inp: Mapping[str, Any], height: int, width: int) -> Optional[np.ndarray]:
        """The frame of a model input for :meth:`segment` (:func:`frame_image`), decoded only when it is used."""
        return frame_image(inp, height, width) if self.uses_appearance else None

    @staticmethod
    def config_kwargs(cfg) -> Dict[str, Any]:
        """The constructor's TEST.VOS settings."""
        d = cfg.TEST.VOS
        return {"score_thresh": d.SCORE_THRESH, "mask_thresh": d.MASK_THRESH, "max_objects": d.MAX_OBJECTS,
                "match_iou": d.MATCH_IOU, "tracker": d.TRACKER, "appearance_gate": d.REID_APPEARANCE_GATE,
                "continue_score_thresh": d.CONTINUE_SCORE_THRESH, "overlap": d.OVERLAP,
                "size_memory": d.REID_SIZE_MEMORY, "assignment": d.REID_ASSIGNMENT,
                "hold_frames": d.REID_HOLD_FRAMES}

    @classmethod
    def from_config(cls, cfg, single_object: bool = False) -> "VideoSegmenter":
        return cls(single_object=single_object, **cls.config_kwargs(cfg))

    def new_video(self, given: Optional[Mapping[int, np.ndarray]] = None, allow_new: bool = True,
                  image: Optional[np.ndarray] = None) -> InstanceTracker:
        """The state of a new video: its tracker, opened with the objects ``given`` on its first frame (id ->
        mask; ``image``: that frame, for appearance)."""
        if self.tracker == "iou":
            return InstanceTracker(self.max_objects, self.match_iou, dict(given or {}), allow_new)
        features = appearance(image, np.stack(list(given.values()))) if given else None
        return ReIDTracker(self.max_objects, self.match_iou, dict(sorted((given or {}).items())), allow_new,
                           appearance_gate=self.appearance_gate, initial_features=features,
                           size_memory=self.size_memory, assignment=self.assignment)

    def kept_instances(self, instances, height: int, width: int, where: str, lowest: Optional[float] = None
                       ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """Binary masks (N, H, W), scores (N,) and, when the model names them (``object_ids``, OSVOS.IDENTITY
        "classes"), object ids (N,) of the instances kept by score_thresh (``lowest``: by this lower threshold)
        that cover a pixel."""
        instances = instances.to("cpu")
        scores = instances.scores.numpy().astype(np.float64) if instances.has("scores") else np.ones(len(instances))
        object_ids = instances.object_ids.numpy() if instances.has("object_ids") else None
        keep = scores >= (self.score_thresh if lowest is None else lowest)
        if not instances.has("pred_masks"):
            if len(instances):
                raise ValueError(f"{where}: the model's instances have no pred_masks")
            return np.zeros((0, height, width), dtype=bool), scores[keep], None
        masks = instances.pred_masks
        if masks.ndim != 3 or tuple(masks.shape[1:]) != (height, width):
            raise ValueError(
                f"{where}: pred_masks of shape {tuple(masks.shape)}, expected (N, {height}, {width}) at the frame's "
                "size"
            )
        masks = masks.numpy() if masks.dtype == torch.bool else (masks >= self.mask_thresh).numpy()
        keep &= masks.any(axis=(1, 2))
        return masks[keep], scores[keep], None if object_ids is None else object_ids[keep]

    def segment(self, video: InstanceTracker, instances, height: int, width: int, where: str,
                given: Optional[Mapping[int, np.ndarray]] = None, image: Optional[np.ndarray] = None) -> np.ndarray:
        """One frame's (height, width) uint8 id map from its instances; ``given``: masks a protocol gives on this
        frame (id -> mask), painted over the instances (on a single-object protocol the frame is their union)."""
        if self.single_object:
            if given:
                return np.any(np.stack([np.asarray(m, dtype=bool) for m in given.values()]), axis=0).astype(np.uint8)
            masks = self.kept_instances(instances, height, width, where)[0]
            return masks.any(axis=0).astype(np.uint8) if len(masks) else np.zeros((height, width), np.uint8)
        low = self.continue_score_thresh
        masks, scores, object_ids = self.kept_instances(instances, height, width, where, low)
        weak = None if low is None else scores < self.score_thresh
        return label_frame(video, masks, scores, height, width, given, image, object_ids, weak, self.overlap,
                           self.hold_frames)
