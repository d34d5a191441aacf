"""Identity from the detector for multi-object OSVOS (``OSVOS.IDENTITY: "classes"``).

The parent model detects one class ("object"). For a video with K given objects, OSVOS can instead fine-tune a
K-class copy of it, one class per given object, so that the fine-tuned detector itself names the object of each
instance; the segmenter then takes each object's highest-scoring instance of its class (no tracking, nothing to
lose between frames). The K-class copy starts from the parent: every object class starts as the parent's object
class (its classifier row, class-specific box regression and mask channel repeated), the background row is the
parent's, so before fine-tuning it scores exactly what the parent scores; the fine-tune on the given masks pulls the
classes apart.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Sequence, Tuple

import torch
from detectron2.config import CfgNode
from detectron2.modeling import build_model

__all__ = ["IDENTITIES", "ObjectIdentityModel", "given_object_ids", "object_class_model", "per_object_classes",
           "relabel_by_object"]

# OSVOS.IDENTITY values: "tracker" (ids from TEST.VOS.TRACKER) or "classes" (this module).
IDENTITIES = ("tracker", "classes")


def given_object_ids(records: Sequence[Dict[str, Any]]) -> List[int]:
    """The ids of the objects given in ``records``' annotations, ascending (object k -> class k)."""
    return sorted({int(a["object_id"]) for r in records for a in r.get("annotations", [])})


def relabel_by_object(records: Sequence[Dict[str, Any]], object_ids: Sequence[int]) -> List[Dict[str, Any]]:
    """Copies of ``records`` whose annotations' category is their object's class (its index in ``object_ids``)."""
    classes = {obj: k for k, obj in enumerate(object_ids)}
    out = []
    for record in records:
        record = dict(record)
        annotations = []
        for a in record.get("annotations", []):
            if int(a["object_id"]) not in classes:
                raise ValueError(f"object {a['object_id']} of {record.get('file_name')} is not a given object "
                                 f"{list(object_ids)}")
            annotations.append({**a, "category_id": classes[int(a["object_id"])]})
        record["annotations"] = annotations
        out.append(record)
    return out


def _expanded(name: str, value: torch.Tensor, shape: torch.Size, classes: int) -> torch.Tensor:
    """A one-class parameter ``value`` grown to ``shape`` for ``classes`` classes: the classifier's object row
    repeated before its background row, any other class-specific tensor repeated along its first dimension."""
    if name.endswith(("cls_score.weight", "cls_score.bias")) and value.shape[0] == 2 and shape[0] == classes + 1:
        return torch.cat([value[:1].expand(classes, *value.shape[1:]), value[1:]], dim=0)
    if value.shape[0] * classes == shape[0] and value.shape[1:] == shape[1:]:
        return value.repeat(classes, *([1] * (value.dim() - 1)))
    raise ValueError(f"cannot grow the parent's {name} of shape {tuple(value.shape)} to {tuple(shape)} for "
                     f"{classes} object classes (MODEL.ROI_HEADS.NUM_CLASSES must be 1 in the parent)")


def object_class_model(cfg: CfgNode, parent: torch.nn.Module, classes: int) -> torch.nn.Module:
    """A ``classes``-class model of ``cfg``'s architecture holding ``parent``'s (one-class) weights, each class
    initialised as the parent's object class."""
    if cfg.MODEL.ROI_HEADS.NUM_CLASSES != 1:
        raise ValueError(f"OSVOS.IDENTITY 'classes' needs a one-class parent, MODEL.ROI_HEADS.NUM_CLASSES is "
                         f"{cfg.MODEL.ROI_HEADS.NUM_CLASSES}")
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = classes
    model = build_model(cfg)
    target = model.state_dict()
    state = {}
    for name, value in parent.state_dict().items():
        if name not in target:
            raise ValueError(f"the {classes}-class model has no parameter {name}")
        shape = target[name].shape
        state[name] = value if value.shape == shape else _expanded(name, value, shape, classes)
    model.load_state_dict(state, strict=True)
    return model


class ObjectIdentityModel(torch.nn.Module):
    """A K-class fine-tuned model whose video outputs name each instance's object: ``instances.object_ids`` is
    ``object_ids[pred_classes]`` (the segmenter reads it instead of tracking). Training runs the wrapped model."""

    def __init__(self, model: torch.nn.Module, object_ids: Sequence[int]):
        super().__init__()
        self.model = model
        self.register_buffer("object_ids", torch.as_tensor(list(object_ids), dtype=torch.int64), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def forward(self, batched_inputs):
        return self.model(batched_inputs)

    def inference_video(self, frames) -> Iterator[dict]:
        for output in self.model.inference_video(frames):
            instances = output["instances"]
            instances.object_ids = self.object_ids.to(instances.pred_classes.device)[instances.pred_classes]
            yield output


def per_object_classes(cfg: CfgNode, parent: torch.nn.Module, given: Sequence[Dict[str, Any]]
                       ) -> Tuple[ObjectIdentityModel, List[Dict[str, Any]]]:
    """The K-class model (wrapped to name objects) and the given records relabelled one class per object."""
    object_ids = given_object_ids(given)
    if not object_ids:
        raise ValueError("OSVOS.IDENTITY 'classes' needs given objects, but the given records have none")
    model = object_class_model(cfg, parent, len(object_ids))
    model.train(parent.training)
    return ObjectIdentityModel(model, object_ids), relabel_by_object(given, object_ids)
