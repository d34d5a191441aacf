"""SlowFast R-CNN: Mask R-CNN whose ROI heads see SlowFast-fused features of a window of frames."""
from __future__ import annotations

import contextlib
from collections import deque
from typing import Deque, Dict, Hashable, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import ImageList, Instances
from detectron2.utils.events import get_event_storage
from torch import nn

from .slowfast import SlowFastModule, StepCache, feature_channels

__all__ = ["FUSIONS", "SlowFastRCNN"]

# The parts MODEL.FREEZE can freeze, in the order data flows through them.
PARTS = ("backbone", "proposal_generator", "slowfast", "roi_heads")
# Frozen parts kept wholly in eval mode (fixed BN statistics; a frozen RPN computes no losses). Frozen ROI heads keep
# the model's mode because their training branch computes the losses that train the parts before them; only their
# BatchNorms are kept in eval.
_EVAL_WHEN_FROZEN = ("backbone", "proposal_generator", "slowfast")
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
BORDERS = ("zeros", "replicate")
# MODEL.SLOWFAST.FUSION: how the module's output enters the target's features (config.py says what each means).
FUSIONS = ("replace", "residual", "none")

# A window: for each of its n positions, the index of that frame among the encoded frames, or None (outside video).
Window = List[Optional[int]]
# Attributes through which Detectron2's ROI heads name the features they read.
_ROI_FEATURE_ATTRS = ("in_features", "box_in_features", "mask_in_features", "keypoint_in_features")


class _UnkeyedFrame(NamedTuple):
    """Batch key of a frame given without a clip key: the tensor object itself (identity, not value)."""

    tensor_id: int


class _EncodedBatch(NamedTuple):
    """Target frames after the backbone, with the per-frame IN_FEATURES maps their windows index."""

    images: ImageList
    features: Dict[str, torch.Tensor]
    frame_features: Dict[str, "Sequence[torch.Tensor] | Mapping[int, torch.Tensor]"]
    windows: List[Window]


class _EncodedFrame(NamedTuple):
    """One video frame after the backbone, as kept in inference_video's sliding buffer."""

    index: int
    image: ImageList
    features: Dict[str, torch.Tensor]
    height: int
    width: int


def fill_border(window: Window) -> Window:
    """Replace each outside-video slot by the nearest inside-video frame ("replicate" border)."""
    inside = [i for i, slot in enumerate(window) if slot is not None]
    return [
        slot if slot is not None else window[min(inside, key=lambda i: abs(i - j))] for j, slot in enumerate(window)
    ]


def _roi_head_features(roi_heads: nn.Module) -> Optional[set]:
    """Names of the features the built ROI heads read (None if they do not say: then fuse every level)."""
    named = [getattr(roi_heads, attr, None) for attr in _ROI_FEATURE_ATTRS]
    named = [names for names in named if names is not None]
    return set().union(*named) if named else None


def _results_to_fp32(results: List[Instances]) -> None:
    """Cast reduced-precision scores and mask probabilities (autocast) to fp32 in place, before the mask paste."""
    for result in results:
        for field in ("scores", "pred_masks"):
            if result.has(field) and result.get(field).is_floating_point():
                result.set(field, result.get(field).float())


@META_ARCH_REGISTRY.register()
class SlowFastRCNN(GeneralizedRCNN):
    """GeneralizedRCNN plus one shared SlowFast module fusing each target frame's window at the IN_FEATURES levels.

    The RPN runs on the target frame's own features; the ROI heads run on the fused ones. Attribute names follow
    GeneralizedRCNN so its checkpoints load with only ``slowfast.*`` missing. ``fusion`` "none" builds no module
    (``slowfast`` is None): the same model, data path and training with the heads on the FPN features, the
    single-frame control of the temporal module.
    """

    @configurable
    def __init__(
        self,
        *,
        slowfast: Optional[SlowFastModule],
        in_features: Sequence[str],
        border: str = "zeros",
        frozen: Sequence[str] = (),
        fusion: str = "replace",
        **kwargs,
    ):
        """``kwargs`` are GeneralizedRCNN's; ``frozen`` names parts of PARTS that get no gradient updates."""
        super().__init__(**kwargs)
        if self.proposal_generator is None:
            raise ValueError("SlowFastRCNN needs a proposal generator (MODEL.PROPOSAL_GENERATOR.NAME, e.g. 'RPN').")
        if border not in BORDERS:
            raise ValueError(f"MODEL.SLOWFAST.BORDER must be one of {BORDERS}, got {border!r}.")
        if fusion not in FUSIONS:
            raise ValueError(f"MODEL.SLOWFAST.FUSION must be one of {FUSIONS}, got {fusion!r}.")
        if (slowfast is None) != (fusion == "none"):
            raise ValueError(f"MODEL.SLOWFAST.FUSION {fusion!r} " + (
                "builds no SlowFast module, but one was given." if slowfast is not None
                else "needs a SlowFast module."))
        unknown = [p for p in frozen if p not in PARTS]
        if unknown:
            raise ValueError(f"Unknown parts to freeze {unknown}; MODEL.FREEZE covers {PARTS}.")
        if slowfast is not None:
            width = feature_channels(in_features, self.backbone.output_shape())
            if width != slowfast.in_channels:
                raise ValueError(f"MODEL.SLOWFAST.IN_FEATURES have {width} channels but the SlowFast module takes "
                                 f"{slowfast.in_channels}.")
        if fusion == "residual":
            slowfast.zero_init_output()
        self.slowfast = slowfast
        self.fusion = fusion
        self.in_features = list(in_features)
        # Levels whose fused features something reads: fusing a level no ROI head pools from (p6 in the reference,
        # where the RPN uses the target's own features) would be wasted work. Without a module nothing is fused.
        read = _roi_head_features(self.roi_heads)
        self.fused_features = [
            f for f in self.in_features if slowfast is not None and (read is None or f in read)
        ]
        self.border = border
        # A part that does not exist (no module with fusion "none") has nothing to freeze.
        self.frozen = tuple(p for p in PARTS if p in frozen and getattr(self, p) is not None)
        for name in self.frozen:
            for param in getattr(self, name).parameters():
                param.requires_grad_(False)
        # A frozen part runs without autograd unless a trainable part before it needs gradients through it. The RPN
        # never passes gradients on: its proposals are detached and, frozen (eval), it computes no losses.
        upstream = {
            "backbone": (),
            "proposal_generator": (),
            "slowfast": ("backbone",),
            "roi_heads": ("backbone", "slowfast"),
        }
        self._no_grad_parts = frozenset(
            name for name in self.frozen if all(before in self.frozen for before in upstream[name])
        )
        self.train(self.training)

    @classmethod
    def from_config(cls, cfg) -> dict:
        """GeneralizedRCNN's arguments plus the SlowFast module and the MODEL.SLOWFAST / MODEL.FREEZE settings."""
        ret = super().from_config(cfg)
        freeze, sf = cfg.MODEL.FREEZE, cfg.MODEL.SLOWFAST
        if sf.FUSION == "none":
            if (sf.SLOW_FRAMES, sf.FAST_FRAMES) != (1, 1):
                raise ValueError(f"MODEL.SLOWFAST.FUSION 'none' (no temporal module) needs MODEL.SLOWFAST.SLOW_FRAMES "
                                 f"and FAST_FRAMES 1, got {sf.SLOW_FRAMES} and {sf.FAST_FRAMES}: without a module "
                                 f"neighbouring frames would be loaded and never used.")
            slowfast = None
        else:
            slowfast = SlowFastModule(cfg, ret["backbone"].output_shape())
        ret.update(
            slowfast=slowfast,
            in_features=list(sf.IN_FEATURES),
            border=sf.BORDER,
            frozen=[name for name in PARTS if freeze[name.upper()]],
            fusion=sf.FUSION,
        )
        return ret

    @property
    def window_size(self) -> int:
        """n: the number of frames in a window (MODEL.SLOWFAST.FAST_FRAMES; 1 without a module)."""
        return 1 if self.slowfast is None else self.slowfast.fast_frames

    def train(self, mode: bool = True) -> "SlowFastRCNN":
        """Switch mode, keeping frozen parts (or, for ROI heads, their BatchNorms) in eval so their stats stay put."""
        super().train(mode)
        for name in self.frozen:
            part = getattr(self, name)
            if name in _EVAL_WHEN_FROZEN:
                part.eval()
            else:
                for module in part.modules():
                    if isinstance(module, _BATCH_NORMS):
                        module.eval()
        return self

    def _grad_mode(self, part: str) -> contextlib.AbstractContextManager:
        """torch.no_grad() for frozen parts that need no autograd, else a no-op context."""
        return torch.no_grad() if part in self._no_grad_parts else contextlib.nullcontext()

    def forward(self, batched_inputs: List[dict]):
        """Training: dict of losses. Inference: ``[{"instances": Instances}]`` at each input's (height, width)."""
        if not self.training:
            return self.inference(batched_inputs)
        batch = self._encode_batch(batched_inputs)
        gt_instances = None
        if "instances" in batched_inputs[0]:
            gt_instances = [x["instances"].to(self.device) for x in batched_inputs]
        proposals, _, losses = self._detect(batch, gt_instances)
        if self.vis_period > 0:
            storage = get_event_storage()
            if storage.iter % self.vis_period == 0:
                self.visualize_training(batched_inputs, proposals)
        return losses

    def inference(self, batched_inputs: List[dict], do_postprocess: bool = True):
        """Detect in each input's target frame; with ``do_postprocess`` rescale to the inputs' (height, width)."""
        assert not self.training
        batch = self._encode_batch(batched_inputs)
        _, results, _ = self._detect(batch, None)
        if not do_postprocess:
            return results
        return GeneralizedRCNN._postprocess(results, batched_inputs, batch.images.image_sizes)

    def inference_video(self, frame_inputs: Iterable[dict]) -> Iterator[dict]:
        """Yield ``{"instances": Instances}`` per frame of a video, in order, one backbone pass per frame.

        ``frame_inputs`` are dicts with ``image`` (uint8 (3, H, W), all frames one size) and optionally ``height``,
        ``width``. Only the last n frames' features are kept, so memory does not grow with the video. A frame's
        output needs the n // 2 frames after it, so outputs lag inputs by n // 2 and the tail comes at the end.
        """
        assert not self.training, "inference_video needs the model in eval mode"
        half = self.window_size // 2
        buffer: Deque[_EncodedFrame] = deque(maxlen=self.window_size)
        # The SlowFast module's per-level time steps, streamed: each frame adds one new step per layer.
        caches: Dict[str, StepCache] = {name: {} for name in self.fused_features}
        num_frames = 0
        for frame in frame_inputs:
            buffer.append(self._encode_video_frame(frame, num_frames, buffer))
            num_frames += 1
            if num_frames > half:
                yield self._detect_buffered(buffer, num_frames - 1 - half, None, caches)
        for target in range(max(0, num_frames - half), num_frames):
            yield self._detect_buffered(buffer, target, num_frames, caches)

    def _preprocess(self, frames: Sequence[torch.Tensor]) -> ImageList:
        """Normalize and pad frames into one batch, as GeneralizedRCNN.preprocess_image does for images."""
        frames = [(self._move_to_current_device(f) - self.pixel_mean) / self.pixel_std for f in frames]
        return ImageList.from_tensors(
            frames, self.backbone.size_divisibility, padding_constraints=self.backbone.padding_constraints
        )

    def _backbone_features(self, images: ImageList) -> Dict[str, torch.Tensor]:
        """Backbone features of a batch of frames."""
        with self._grad_mode("backbone"):
            return self.backbone(images.tensor)

    def _encode_batch(self, batched_inputs: List[dict]) -> _EncodedBatch:
        """Run the backbone once per distinct frame (by clip key) of all windows of a batch.

        An input without ``clip`` is a window of only its own ``image``, the other frames outside the video.
        """
        n, centre = self.window_size, self.window_size // 2
        index_of: Dict[Hashable, int] = {}
        frames: List[torch.Tensor] = []
        windows: List[Window] = []
        for x in batched_inputs:
            if "clip" in x:
                clip = list(x["clip"])
                keys = list(x.get("clip_keys") or [None] * len(clip))
                name = x.get("image_id", x.get("file_name", "?"))
                if len(clip) != n or len(keys) != n:
                    raise ValueError(f"Input {name}: clip has {len(clip)} frames and clip_keys {len(keys)} keys; "
                                     f"MODEL.SLOWFAST.FAST_FRAMES is {n}.")
                if clip[centre] is None:
                    raise ValueError(f"Input {name}: the target frame (clip[{centre}]) is missing.")
            else:
                clip, keys = [None] * n, [None] * n
                clip[centre] = x["image"]
            window: Window = []
            for frame, key in zip(clip, keys):
                if frame is None:
                    window.append(None)
                    continue
                key = _UnkeyedFrame(id(frame)) if key is None else key
                if key not in index_of:
                    index_of[key] = len(frames)
                    frames.append(frame)
                window.append(index_of[key])
            windows.append(window)
        images = self._preprocess(frames)
        features = self._backbone_features(images)
        targets = [w[centre] for w in windows]
        return _EncodedBatch(
            images=ImageList(images.tensor[targets], [images.image_sizes[i] for i in targets]),
            features={k: v[targets] for k, v in features.items()},
            frame_features={k: features[k].unbind(0) for k in self.fused_features},
            windows=windows,
        )

    def _detect(
        self,
        batch: _EncodedBatch,
        gt_instances: Optional[List[Instances]],
        caches: Optional[Dict[str, StepCache]] = None,
    ) -> Tuple[List[Instances], List[Instances], Dict[str, torch.Tensor]]:
        """RPN on the targets' own features, SlowFast fusion at the levels the ROI heads read, ROI heads on them.

        The module computes each distinct time step of the batch's windows once (overlapping windows share steps);
        ``caches`` (per level, inference_video) carry steps over to the next call. Returns (proposals, ROI-head
        results, losses).
        """
        with self._grad_mode("proposal_generator"):
            proposals, proposal_losses = self.proposal_generator(batch.images, batch.features, gt_instances)
        fused = dict(batch.features)
        windows = [fill_border(w) for w in batch.windows] if self.border == "replicate" else batch.windows
        with self._grad_mode("slowfast"):
            for name in self.fused_features:
                cache = caches[name] if caches is not None else None
                output = self.slowfast(batch.frame_features[name], windows, cache, level=name)
                fused[name] = batch.features[name] + output if self.fusion == "residual" else output
        # fp32 under autocast too (slowfast_vos/precision.py): ROIAlign casts the boxes to the features' type.
        fused = {name: features.float() for name, features in fused.items()}
        with self._grad_mode("roi_heads"):
            results, detector_losses = self.roi_heads(batch.images, fused, proposals, gt_instances)
        if not self.training:
            _results_to_fp32(results)
        losses = dict(detector_losses)
        losses.update(proposal_losses)
        return proposals, results, losses

    def _encode_video_frame(self, frame: dict, index: int, buffer: Deque[_EncodedFrame]) -> _EncodedFrame:
        """Backbone pass for one video frame; all frames of a video must share one size."""
        with torch.no_grad():
            image = self._preprocess([frame["image"]])
            if buffer and buffer[-1].image.tensor.shape != image.tensor.shape:
                raise ValueError(f"inference_video: frame {index} has size {tuple(image.image_sizes[0])}, unlike "
                                 f"the previous frames {tuple(buffer[-1].image.image_sizes[0])}; a video's frames "
                                 f"must share one size.")
            features = self._backbone_features(image)
        height, width = image.image_sizes[0]
        return _EncodedFrame(index, image, features, frame.get("height", height), frame.get("width", width))

    def _detect_buffered(
        self,
        buffer: Deque[_EncodedFrame],
        target: int,
        video_length: Optional[int],
        caches: Dict[str, StepCache],
    ) -> dict:
        """Detect in buffered frame ``target``; frames beyond ``video_length`` (None: not known yet) are outside.

        Window slots are absolute frame indices, so the module's cached steps keep their keys from frame to frame.
        """
        half = self.window_size // 2
        window: Window = []
        for j in range(target - half, target + half + 1):
            outside = j < 0 or (video_length is not None and j >= video_length)
            window.append(None if outside else j)
        frame = buffer[target - buffer[0].index]
        batch = _EncodedBatch(
            images=frame.image,
            features=frame.features,
            frame_features={k: {f.index: f.features[k][0] for f in buffer} for k in self.fused_features},
            windows=[window],
        )
        with torch.no_grad():
            _, (result,), _ = self._detect(batch, None, caches)
        return {"instances": detector_postprocess(result, frame.height, frame.width)}
