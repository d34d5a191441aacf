"""Per-frame tags of a video set (what happened to each frame) and the frame subsets scored from them.

A tags file is JSON: ``{"format": "slowfast_vos-frame-tags/1", "sequences": {<sequence>: {<frame name>: {...}}}}``
with, per frame, ``degraded`` (the degradation applied, e.g. "noise", "blur", "contrast", or null for a clean
frame) and ``occluded`` (per object 1..K, the fraction of its full shape hidden). The synthetic DAVIS generator
writes one (``frame_tags.json`` at the set's root); real DAVIS has none, and its evaluation has no subsets.
Standard library and the DAVIS format module only, so the evaluation command line can read tags without torch.
"""
from __future__ import annotations

import json
import os
from typing import Callable, Dict, List, Mapping

from .davis_format import natural_sorted

__all__ = ["BORDER_FRAMES", "FRAME_KINDS", "FRAME_TAGS_FILE", "FRAME_TAGS_FORMAT", "OCCLUDED_FRACTION", "SUBSETS",
           "FrameTagsError", "frame_kinds", "load_frame_tags", "subset_frames", "write_frame_tags"]

FRAME_TAGS_FILE = "frame_tags.json"
FRAME_TAGS_FORMAT = "slowfast_vos-frame-tags/1"

FrameTags = Dict[str, Dict[str, dict]]  # sequence -> frame name -> tags

# The subsets reported beside the overall J&F: a frame is in a subset when its predicate holds.
SUBSETS: Dict[str, Callable[[Mapping], bool]] = {
    "clean": lambda tags: tags["degraded"] is None,
    "degraded": lambda tags: tags["degraded"] is not None,
}

# Every kind of frame the analysis tools tell apart: the SUBSETS, the video border (the first and last BORDER_FRAMES
# frames, whose temporal window reaches outside the video) and the rest (inner), and frames where some object is
# more than OCCLUDED_FRACTION hidden.
FRAME_KINDS = ("all", *SUBSETS, "border", "inner", "occluded")
BORDER_FRAMES = 3
OCCLUDED_FRACTION = 0.3


class FrameTagsError(ValueError):
    """A tags file is unreadable or malformed; the message names the file and the entry."""


def write_frame_tags(path: str, tags: FrameTags) -> None:
    """Write a tags file (the caller writes it into a folder that is renamed into place, or atomically)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"format": FRAME_TAGS_FORMAT, "sequences": tags}, f, indent=1, sort_keys=True)
        f.write("\n")


def load_frame_tags(path: str) -> FrameTags:
    """Read and check a tags file; FrameTagsError naming the file (and sequence/frame) when it is not one."""
    if not os.path.isfile(path):
        raise FrameTagsError(f"frame tags file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FrameTagsError(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(data, dict) or data.get("format") != FRAME_TAGS_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise FrameTagsError(f"{path}: expected format {FRAME_TAGS_FORMAT!r}, found {found!r}")
    sequences = data.get("sequences")
    if not isinstance(sequences, dict):
        raise FrameTagsError(f"{path}: 'sequences' must map sequence names to frames")
    for sequence, frames in sequences.items():
        if not isinstance(frames, dict):
            raise FrameTagsError(f"{path}: sequence {sequence!r} must map frame names to tags")
        for frame, tags in frames.items():
            if not isinstance(tags, dict) or "degraded" not in tags:
                raise FrameTagsError(f"{path}: {sequence}/{frame} has no 'degraded' tag")
    return sequences


def subset_frames(tags: FrameTags, sequence: str, subset: str) -> set:
    """Names of the frames of ``sequence`` in ``subset`` (a SUBSETS key); empty for a sequence without tags."""
    predicate = SUBSETS[subset]
    return {frame for frame, frame_tags in tags.get(sequence, {}).items() if predicate(frame_tags)}


def frame_kinds(
    tags: FrameTags, sequence: str, frame: str, border: int = BORDER_FRAMES, occluded: float = OCCLUDED_FRACTION
) -> List[str]:
    """The FRAME_KINDS one tagged frame belongs to; its position in the video is its place among the sequence's
    tagged frames (natural order)."""
    tag = tags[sequence][frame]
    names = natural_sorted(tags[sequence])
    index = names.index(frame)
    kinds = ["all"] + [name for name, keep in SUBSETS.items() if keep(tag)]
    kinds.append("border" if index < border or index >= len(names) - border else "inner")
    if max(tag.get("occluded") or [0.0]) > occluded:
        kinds.append("occluded")
    return kinds
