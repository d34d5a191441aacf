"""Load DAVIS 2016 / 2017 folders as Detectron2 dataset dicts (one per frame) and register them lazily.

Masks are decoded once: their per-object RLE, boxes and sizes are cached on disk (JSON, in a private folder) under a
key made of the masks' paths, modification times and sizes, so later loads only stat files. JPEG frames are never
decoded here. The DAVIS format itself (layout, lists, names, frame order, PNG policy) is in ``..davis_format``.
"""
from __future__ import annotations

import functools
import logging
import os
from collections import OrderedDict
from typing import Any

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.catalog import Metadata

from vos_eval.benchmarks import benchmark_for
from vos_eval.davis_format import (
    FRAME_EXT,
    MASK_EXT,
    DAVISFormatError,
    DAVISLayout,
    DAVISNotFoundError,
    read_id_png,
)

from .mask_cache import cached_mask_entries, frame_size, instance_annotation, objects_of
from .mask_cache import default_cache_dir as shared_cache_dir

__all__ = ["default_cache_dir", "load_davis", "register_davis"]

logger = logging.getLogger(__name__)

# Bump when the cached per-mask content changes meaning.
_CACHE_VERSION = 2


def default_cache_dir() -> str | None:
    """Where decoded-mask caches go: $SLOWFAST_VOS_CACHE/davis, else ~/.cache/slowfast_vos/davis, else a per-user
    folder in the temp dir; always a folder only this user can write to (None: no such folder, no cache)."""
    return shared_cache_dir("davis")


def _collect_frames(layout: DAVISLayout) -> OrderedDict[str, list[tuple[str, str | None]]]:
    """Sequence -> [(frame path, mask path or None)] in natural frame order, checking listed sequences exist."""
    result: OrderedDict[str, list[tuple[str, str | None]]] = OrderedDict()
    list_files = ", ".join(layout.imageset_files())
    if layout.year == "2016":
        for sequence, pairs in layout.listed_frames().items():
            frame_dir = os.path.dirname(pairs[0][0])
            present = set(os.listdir(frame_dir)) if os.path.isdir(frame_dir) else set()
            if not present:
                raise DAVISNotFoundError(f"sequence {sequence!r} is listed in {list_files} but {frame_dir} is missing")
            masks_present: dict[str, set[str]] = {}
            checked = []
            for frame, mask in pairs:
                if os.path.basename(frame) not in present:
                    raise DAVISNotFoundError(
                        f"frame {frame} of sequence {sequence!r} (listed in {list_files}) is missing"
                    )
                if mask is not None:
                    mask_dir = os.path.dirname(mask)
                    if mask_dir not in masks_present:
                        masks_present[mask_dir] = set(os.listdir(mask_dir)) if os.path.isdir(mask_dir) else set()
                    if os.path.basename(mask) not in masks_present[mask_dir]:
                        mask = None
                checked.append((frame, mask))
            result[sequence] = checked
        return result
    for sequence in layout.sequences():
        frames = layout.frame_files(sequence)
        frame_dir = os.path.join(layout.image_dir, sequence)
        if not frames:
            raise DAVISNotFoundError(
                f"sequence {sequence!r} is listed in {list_files} but {frame_dir} is missing or has no {FRAME_EXT}"
            )
        mask_dir = os.path.join(layout.annotation_dir, sequence)
        masks = set(os.listdir(mask_dir)) if os.path.isdir(mask_dir) else set()
        pairs = []
        for name in frames:
            stem = os.path.splitext(name)[0]
            mask = os.path.join(mask_dir, stem + MASK_EXT) if stem + MASK_EXT in masks else None
            pairs.append((os.path.join(frame_dir, name), mask))
        result[sequence] = pairs
    return result


def _decode_mask_entry(path: str, year: str) -> tuple[int, int, list[tuple[int, str, list[float]]]]:
    ids = read_id_png(path, year)
    return ids.shape[0], ids.shape[1], objects_of(ids)


def _mask_entries(
    mask_paths: list[str], year: str, cache_dir: str | None
) -> dict[str, tuple[int, int, list[tuple[int, str, list[float]]]]]:
    """Decoded entries (height, width, objects) per mask, from the on-disk cache when its key still matches."""
    return cached_mask_entries(mask_paths, lambda path: _decode_mask_entry(path, year), cache_dir,
                               key_extra={"year": year}, file_prefix=f"davis{year}", version=_CACHE_VERSION)


def _frame_size(path: str) -> tuple[int, int]:
    """(height, width) of a JPEG from its header only."""
    return frame_size(path, DAVISFormatError, "DAVIS frame")


def load_davis(
    root: str,
    year: str,
    split: str,
    resolution: str = "480p",
    annotations: str = "Annotations",
    require_masks: bool | None = None,
    cache_dir: str | None = None,
    use_cache: bool = True,
) -> list[dict[str, Any]]:
    """Read a DAVIS split into one record per frame (format: docs/interfaces.md).

    require_masks: every frame must have a mask (default: for 'train'/'trainval'); otherwise frames without one
    get ``mask_file=None`` and no annotations. cache_dir: where decoded masks are cached (default:
    :func:`default_cache_dir`); use_cache=False decodes every mask and writes no cache.
    """
    layout = DAVISLayout(root, year, split, resolution, annotations)
    layout.check_root(root)
    if require_masks is None:
        require_masks = split in ("train", "trainval")
    cache_dir = (cache_dir or default_cache_dir()) if use_cache else None
    sequences = _collect_frames(layout)

    mask_paths = []
    for sequence, pairs in sequences.items():
        for frame, mask in pairs:
            if mask is None and require_masks:
                stem = os.path.splitext(os.path.basename(frame))[0]
                raise DAVISNotFoundError(
                    f"frame {frame} of sequence {sequence!r} has no mask ({stem}.png under "
                    f"{layout.annotation_dir}); a training split needs a mask for every frame"
                )
            if mask is not None:
                mask_paths.append(mask)
    entries = _mask_entries(mask_paths, year, cache_dir)

    records: list[dict[str, Any]] = []
    for sequence, pairs in sequences.items():
        frame_paths = [frame for frame, _ in pairs]
        first_size = _frame_size(frame_paths[0])
        for index, (frame, mask) in enumerate(pairs):
            frame_name = os.path.splitext(os.path.basename(frame))[0]
            annos: list[dict[str, Any]] = []
            if mask is not None:
                height, width, objects = entries[mask]
                if (height, width) != first_size:
                    raise DAVISFormatError(
                        f"mask {mask} is {width}x{height} but frame {frame_paths[0]} of sequence {sequence!r} is "
                        f"{first_size[1]}x{first_size[0]} (width x height): masks and frames must match"
                    )
                for object_id, counts, box in objects:
                    annos.append(instance_annotation(object_id, counts, box, height, width))
            records.append(
                {
                    "file_name": frame,
                    "height": first_size[0],
                    "width": first_size[1],
                    "image_id": f"{sequence}/{frame_name}",
                    "sequence": sequence,
                    "frame_name": frame_name,
                    "frame_index": index,
                    "sequence_frames": frame_paths,
                    "mask_file": mask,
                    "annotations": annos,
                }
            )
    logger.info("Loaded %d frames of %d DAVIS %s %s sequences from %s", len(records), len(sequences), year, split, root)
    return records


class _DAVISMetadata(Metadata):
    """Metadata whose ``sequences`` are read from the layout's ImageSets list on first access (cheap registration)."""

    def __getattr__(self, key: str) -> Any:
        if key == "sequences" and "layout" in self.__dict__:
            sequences = list(self.__dict__["layout"].sequences())
            self.__dict__["sequences"] = sequences
            return sequences
        return super().__getattr__(key)


def register_davis(
    name: str,
    root: str,
    year: str,
    split: str,
    resolution: str = "480p",
    annotations: str = "Annotations",
    require_masks: bool | None = None,
    task: str | None = None,
    cache_dir: str | None = None,
    use_cache: bool = True,
    frame_tags: str | None = None,
) -> None:
    """Register a DAVIS split under ``name`` in DatasetCatalog / MetadataCatalog without reading anything yet.

    task: the default evaluation protocol (default: 'davis2016' for 2016, 'unsupervised' for
    Annotations_unsupervised, else 'semi-supervised'). frame_tags: a per-frame tags file
    (vos_eval/frame_tags.py), kept as metadata ``frame_tags``: the evaluator then also scores its subsets.
    The metadata's ``layout`` (a DAVISLayout) is what the evaluator and OSVOS are handed, so they never resolve the
    folders again.
    """
    layout = DAVISLayout(os.path.abspath(root), year, split, resolution, annotations)
    benchmark = benchmark_for(layout)
    task = benchmark.check_task(task or benchmark.default_task(layout), f"task of {name}")
    DatasetCatalog.register(
        name,
        functools.partial(
            load_davis,
            root,
            year,
            split,
            resolution=resolution,
            annotations=annotations,
            require_masks=require_masks,
            cache_dir=cache_dir,
            use_cache=use_cache,
        ),
    )
    metadata = _DAVISMetadata(name=name)
    MetadataCatalog[name] = metadata
    metadata.set(
        thing_classes=["object"],
        evaluator_type=benchmark.key,
        layout=layout,
        davis_root=layout.root,
        year=year,
        split=split,
        resolution=resolution,
        image_dir=layout.image_dir,
        annotation_dir=layout.annotation_dir,
        task=task,
    )
    if frame_tags is not None:
        metadata.set(frame_tags=os.path.abspath(frame_tags))
