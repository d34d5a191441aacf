"""Load YouTube-VOS 2018 / 2019 splits as Detectron2 dataset dicts (one per frame) and register them lazily.

Records follow the DAVIS records (docs/interfaces.md) plus ``all_frames`` / ``all_frames_index`` (the video's
30 fps frames, when the set has its ``<split>_all_frames`` folder), the meta.json ``category`` of every annotation,
and, on valid-style sets (valid, test and the held-out part of train), ``first_appearance``: object id -> the frame
where its mask is first given. Masks are decoded once and cached like DAVIS's (``mask_cache.py``: JSON in a private
folder, keyed by the masks' paths, modification times and sizes); JPEGs are never decoded (only the header of each
video's first frame is read, for its size). The format itself is in ``..ytvos_format``.
"""
from __future__ import annotations

import functools
import logging
import os
from typing import Any, Iterable

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.catalog import Metadata

from vos_eval.benchmarks import YOUTUBE_VOS
from vos_eval.davis_format import MASK_EXT
from vos_eval.ytvos_format import (
    YTVOSFormatError,
    YTVOSLayout,
    check_mask_ids,
    first_appearances,
    read_mask,
    select_videos,
    split_frames,
)

from ...utils import join_under
from .mask_cache import MaskEntry, cached_mask_entries, frame_size, instance_annotation, objects_of
from .mask_cache import default_cache_dir as shared_cache_dir

__all__ = ["DATASET_FORMAT", "INFERENCE_FRAMES", "YEARS", "default_cache_dir", "inference_records", "load_ytvos",
           "register_ytvos"]

logger = logging.getLogger(__name__)

YEARS = ("2018", "2019")
# The ``dataset_format`` metadata of every registered YouTube-VOS set (and its mask cache key).
DATASET_FORMAT = "youtube-vos"
# Bump when the cached per-mask content changes meaning.
_CACHE_VERSION = 1


def default_cache_dir() -> str | None:
    """Where decoded YouTube-VOS masks are cached: $SLOWFAST_VOS_CACHE/ytvos, else ~/.cache/slowfast_vos/ytvos,
    else a per-user folder in the temp dir (private folders only; None: no cache)."""
    return shared_cache_dir("ytvos")



def _decode_mask_entry(path: str) -> MaskEntry:
    ids = read_mask(path)
    return ids.shape[0], ids.shape[1], objects_of(ids)


def _mask_entries(mask_paths: list[str], cache_dir: str | None) -> dict[str, MaskEntry]:
    return cached_mask_entries(mask_paths, _decode_mask_entry, cache_dir, key_extra={"format": DATASET_FORMAT},
                               file_prefix="ytvos", version=_CACHE_VERSION, label="YouTube-VOS",
                               stat_error=YTVOSFormatError)


def _valid_style(split: str, subset: Any) -> bool:
    """Whether records carry first_appearance: every split but train, and train's held-out videos."""
    return split != "train" or subset == "holdout"


# TEST.YTVOS.INFERENCE_FRAMES choices (config.py documents them).
INFERENCE_FRAMES = ("annotated", "all_frames", "auto")


def inference_records(records: Iterable[dict[str, Any]], mode: str = "annotated") -> list[dict[str, Any]]:
    """The frames a YouTube-VOS set is segmented on, as records in video order (``TEST.YTVOS.INFERENCE_FRAMES``).

    "annotated": the records themselves (the 6 fps frames). "all_frames" (or "auto" for the videos that have them):
    every frame of each video's ``all_frames`` list, ``frame_index`` counting 30 fps frames; an annotated frame keeps
    its own record (its JPEG, mask and annotations), the others get a record without a mask, named after their
    file (``frame_name``), so the evaluator's given masks and written frames, keyed by frame name, are unchanged.
    """
    if mode not in INFERENCE_FRAMES:
        raise ValueError(f"TEST.YTVOS.INFERENCE_FRAMES must be one of {INFERENCE_FRAMES}, got {mode!r}")
    records = list(records)
    if mode == "annotated":
        return records
    videos: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        videos.setdefault(record["sequence"], []).append(record)
    out: list[dict[str, Any]] = []
    for video, video_records in videos.items():
        all_frames = video_records[0].get("all_frames")
        if all_frames is None:
            if mode == "all_frames":
                raise YTVOSFormatError(
                    f"TEST.YTVOS.INFERENCE_FRAMES is 'all_frames' but video {video!r} has no all-frames folder "
                    f"(record field all_frames is None, {video_records[0]['file_name']}); use 'auto' or 'annotated'"
                )
            out.extend(sorted(video_records, key=lambda r: r["frame_index"]))
            continue
        annotated = {r["frame_name"]: r for r in video_records}
        first = video_records[0]
        for index, path in enumerate(all_frames):
            name = os.path.splitext(os.path.basename(path))[0]
            record = dict(annotated[name]) if name in annotated else {
                "file_name": path, "height": first["height"], "width": first["width"],
                "image_id": f"{video}/{name}", "sequence": video, "frame_name": name, "mask_file": None,
                "annotations": [], "sequence_frames": first["sequence_frames"], "all_frames": all_frames,
            }
            record["frame_index"] = index
            record["all_frames_index"] = index
            out.append(record)
    return out


def load_ytvos(
    root: str,
    year: str,
    split: str,
    subset: str | Iterable[str] | None = None,
    *,
    require_masks: bool | None = None,
    cache_dir: str | None = None,
    use_cache: bool = True,
) -> list[dict[str, Any]]:
    """Read a YouTube-VOS split into one record per JPEG of ``<split>/JPEGImages`` (format: module docstring).

    subset: None (every video of meta.json), "holdout" / "minus_holdout" (ytvos_format.holdout_videos) or video
    ids. require_masks: every JPEG must have a mask (default: for split "train"); otherwise frames without one get
    ``mask_file=None`` and no annotations. cache_dir: where decoded masks are cached (default:
    :func:`default_cache_dir`); use_cache=False decodes every mask and writes no cache.
    """
    if year not in YEARS:
        raise ValueError(f"YouTube-VOS year must be one of {YEARS}, got {year!r}")
    layout = YTVOSLayout(os.path.abspath(root), split)
    layout.check_root()
    if require_masks is None:
        require_masks = split == "train"
    cache_dir = (cache_dir or default_cache_dir()) if use_cache else None
    meta = layout.meta()
    if not meta:
        raise YTVOSFormatError(f"{layout.meta_file} lists no videos: there is nothing to load, segment or submit")
    videos = select_videos(layout.videos(), subset, layout.meta_file)
    all_frames_dir = layout.all_frames_dir

    # (video, frame paths, frame names, mask path or None per frame, all-frames paths or None, index per frame)
    plans = []
    mask_paths: list[str] = []
    for video in videos:
        frames, annotated = split_frames(layout, video)
        frame_dir = join_under(layout.image_dir, video)
        mask_dir = join_under(layout.annotation_dir, video)
        annotated_set = set(annotated)
        names = [os.path.splitext(f)[0] for f in frames]
        masks: list[str | None] = []
        for name, stem in zip(frames, names):
            if stem in annotated_set:
                masks.append(join_under(mask_dir, stem + MASK_EXT))
            elif require_masks:
                raise YTVOSFormatError(
                    f"frame {join_under(frame_dir, name)} of video {video!r} has no mask ({stem}{MASK_EXT} under "
                    f"{mask_dir}); a training split needs a mask for every frame"
                )
            else:
                masks.append(None)
        all_paths = all_index = None
        if all_frames_dir is not None:
            all_names = layout.all_frame_files(video)
            all_dir = join_under(all_frames_dir, video)
            position = {n: i for i, n in enumerate(all_names)}
            all_index = []
            for name in frames:
                if name not in position:
                    raise YTVOSFormatError(
                        f"frame {join_under(frame_dir, name)} of video {video!r} is not in the all-frames folder: "
                        f"{join_under(all_dir, name)} is missing"
                    )
                all_index.append(position[name])
            all_paths = [join_under(all_dir, n) for n in all_names]
        plans.append((video, [join_under(frame_dir, f) for f in frames], names, masks, all_paths, all_index))
        mask_paths.extend(m for m in masks if m is not None)
    entries = _mask_entries(mask_paths, cache_dir)

    valid_style = _valid_style(split, subset)
    records: list[dict[str, Any]] = []
    for video, frame_paths, names, masks, all_paths, all_index in plans:
        objects_meta = meta[video]
        height, width = frame_size(frame_paths[0], YTVOSFormatError, "YouTube-VOS frame")
        annotated: list[tuple[str, list[int]]] = []  # (frame, its mask's object ids), in video order
        video_records = []
        for index, (frame, name, mask) in enumerate(zip(frame_paths, names, masks)):
            annos: list[dict[str, Any]] = []
            if mask is not None:
                mask_height, mask_width, objects = entries[mask]
                if (mask_height, mask_width) != (height, width):
                    raise YTVOSFormatError(
                        f"mask {mask} is {mask_width}x{mask_height} but frame {frame_paths[0]} of video {video!r} "
                        f"is {width}x{height} (width x height): masks and frames must match"
                    )
                check_mask_ids(mask, [o[0] for o in objects], video, objects_meta, layout.meta_file)
                annotated.append((name, [o[0] for o in objects]))
                for object_id, counts, box in objects:
                    anno = instance_annotation(object_id, counts, box, height, width)
                    anno["category"] = objects_meta[object_id]["category"]
                    annos.append(anno)
            video_records.append(
                {
                    "file_name": frame,
                    "height": height,
                    "width": width,
                    "image_id": f"{video}/{name}",
                    "sequence": video,
                    "frame_name": name,
                    "frame_index": index,
                    "sequence_frames": frame_paths,
                    "mask_file": mask,
                    "annotations": annos,
                    "all_frames": all_paths,
                    "all_frames_index": all_index[index] if all_index is not None else None,
                }
            )
        if valid_style:
            first_appearance = first_appearances(annotated)
            never = sorted(set(objects_meta) - set(first_appearance))
            if never:
                logger.warning("YouTube-VOS video %r: objects %s of %s have no mask in %s", video, never,
                               layout.meta_file, join_under(layout.annotation_dir, video))
            for record in video_records:
                record["first_appearance"] = first_appearance  # one dict per video, like sequence_frames
        records.extend(video_records)
    logger.info("Loaded %d frames of %d YouTube-VOS %s %s%s videos from %s", len(records), len(plans), year, split,
                f" ({subset})" if isinstance(subset, str) else "", layout.root)
    return records


class _YTVOSMetadata(Metadata):
    """Metadata whose ``sequences`` (from meta.json) and ``all_frames_dir`` are found on first access, so
    registration reads nothing."""

    def __getattr__(self, key: str) -> Any:
        if key in ("sequences", "all_frames_dir") and "layout" in self.__dict__:
            layout = self.__dict__["layout"]
            if key == "sequences":
                value = select_videos(layout.videos(), self.__dict__.get("subset"), layout.meta_file)
            else:
                value = layout.all_frames_dir
            self.__dict__[key] = value
            return value
        return super().__getattr__(key)


def register_ytvos(
    name: str,
    root: str,
    year: str,
    split: str,
    subset: str | Iterable[str] | None = None,
    *,
    require_masks: bool | None = None,
    task: str | None = None,
    cache_dir: str | None = None,
    use_cache: bool = True,
) -> None:
    """Register a YouTube-VOS split (or a subset of its videos) under ``name`` without reading anything yet.

    Metadata: ``thing_classes=["object"]``, ``evaluator_type="ytvos"``, ``dataset_format="youtube-vos"``,
    ``ytvos_root``, ``year``, ``split``, ``subset``, ``image_dir``, ``annotation_dir``, ``meta_file``, ``layout``
    (a YTVOSLayout), ``task`` (default "semi-supervised"), and, on first access, ``all_frames_dir`` (None when the
    set has no all-frames folder) and ``sequences`` (the subset's video ids, sorted).
    """
    if year not in YEARS:
        raise ValueError(f"YouTube-VOS year must be one of {YEARS}, got {year!r}")
    if subset is not None and not isinstance(subset, str):
        subset = tuple(subset)
    layout = YTVOSLayout(os.path.abspath(root), split)
    task = YOUTUBE_VOS.check_task(task or YOUTUBE_VOS.default_task(layout), f"task of {name}")
    DatasetCatalog.register(
        name,
        functools.partial(load_ytvos, root, year, split, subset, require_masks=require_masks, cache_dir=cache_dir,
                          use_cache=use_cache),
    )
    metadata = _YTVOSMetadata(name=name)
    MetadataCatalog[name] = metadata
    metadata.set(
        thing_classes=["object"],
        evaluator_type=YOUTUBE_VOS.key,
        dataset_format=DATASET_FORMAT,
        layout=layout,
        ytvos_root=layout.root,
        year=year,
        split=split,
        subset=subset,
        image_dir=layout.image_dir,
        annotation_dir=layout.annotation_dir,
        meta_file=layout.meta_file,
        task=task,
    )
