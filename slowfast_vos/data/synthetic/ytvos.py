"""A small synthetic YouTube-VOS set, generated deterministically with the synthetic DAVIS renderer.

Each video is rendered at "30 fps" (``render_scene`` of render.py: textured objects moving over a panning
background, a passing bar, degraded frames); every frame goes to ``<split>_all_frames``, every 5th frame to
``<split>/JPEGImages`` (the same bytes, hard-linked where possible), named by the 30 fps frame number as in the
release. Some objects enter late (after frame 0), in train and in valid. Layout (read by the YouTube-VOS loader)::

    <root>/train/JPEGImages/<video>/00000.jpg, 00005.jpg, ...   6 fps frames
    <root>/train/Annotations/<video>/00000.png, ...             a mask per train frame: 0 bg, 1..K objects
    <root>/train/meta.json                                      objects: category (the shape) and the frames
                                                                where each object is visible
    <root>/valid/JPEGImages/<video>/*.jpg                       6 fps frames
    <root>/valid/Annotations/<video>/<frame>.png                only where objects first appear, holding just
                                                                those objects
    <root>/valid/meta.json                                      objects: category and the frames from the first
                                                                appearance on
    <root>/{train,valid}_all_frames/JPEGImages/<video>/*.jpg    every 30 fps frame: 00000, 00001, ...
    <root>/synthetic_ytvos.json                                 generation parameters; written last, marks a
                                                                complete set

Video ids are ``syn-train-00``, ``syn-valid-00``, ... The masks have no void pixels (YouTube-VOS has none).
"""
from __future__ import annotations

import json
import os
import time
from typing import Callable

import numpy as np
from PIL import Image

from vos_eval.folder_builds import build_atomically, ensure_generated, link_or_copy
from vos_eval.io import join_under
from ..datasets.builtin import synthetic_ytvos_root
from vos_eval.davis_format import write_id_png
from .render import check_set_arguments, render_scene, write_marker

__all__ = ["CATEGORIES", "FRAME_STEP", "MARKER_FILE", "ensure_synthetic_ytvos", "generate_synthetic_ytvos"]

MARKER_FILE = "synthetic_ytvos.json"
# Bump when the generated content changes for a given seed.
GENERATOR_VERSION = 1
# Every FRAME_STEP-th 30 fps frame is a 6 fps frame of <split>/JPEGImages.
FRAME_STEP = 5
# meta.json category of each renderer shape.
CATEGORIES = {"ellipse": "ellipse", "rectangle": "rectangle", "triangle": "triangle", "star": "star",
              "blob": "blob"}
# Default 30 fps frame count per video, drawn in [low, high].
DEFAULT_FRAMES = (36, 51)
_SPLITS = ("train", "valid")


def _plan_video(rng: np.random.Generator, num_frames: int, force_late: bool) -> tuple[int, list[int]]:
    """(number of objects, first 30 fps frame of each): object 1 from frame 0; with ``force_late`` (or by chance)
    the later objects enter after the first 6 fps frame, within the first half of the video."""
    num_objects = int(rng.choice([1, 2, 3], p=[0.2, 0.45, 0.35]))
    late = force_late or rng.random() < 0.5
    if late and num_objects == 1:
        num_objects = 2
    enter = [0] * num_objects
    if late and num_frames > 2 * FRAME_STEP:
        for k in range(1, num_objects):
            enter[k] = int(rng.integers(1, max(2, num_frames // 2)))
    return num_objects, enter


def _write_video(out: str, split: str, video: str, images, ids_maps, shapes) -> dict:
    """Write one video's frames and masks; returns its meta.json entry."""
    all_dir = join_under(os.path.join(out, f"{split}_all_frames", "JPEGImages"), video)
    frame_dir = join_under(os.path.join(out, split, "JPEGImages"), video)
    mask_dir = join_under(os.path.join(out, split, "Annotations"), video)
    for folder in (all_dir, frame_dir, mask_dir):
        os.makedirs(folder)
    present: dict[int, list[str]] = {}
    sparse = []
    for t, image in enumerate(images):
        name = f"{t:05d}"
        jpg = os.path.join(all_dir, name + ".jpg")
        Image.fromarray(image).save(jpg, format="JPEG", quality=92)
        if t % FRAME_STEP:
            continue
        link_or_copy(jpg, os.path.join(frame_dir, name + ".jpg"))
        sparse.append((name, ids_maps[t]))
        for object_id in np.unique(ids_maps[t]).tolist():
            if object_id:
                present.setdefault(int(object_id), []).append(name)
    objects = {}
    if split == "train":
        for name, ids in sparse:
            write_id_png(os.path.join(mask_dir, name + ".png"), ids)
        for object_id in sorted(present):
            objects[str(object_id)] = {"category": CATEGORIES[shapes[object_id - 1]], "frames": present[object_id]}
        return {"objects": objects}
    first = {object_id: frames[0] for object_id, frames in present.items()}
    names = [name for name, _ in sparse]
    for name, ids in sparse:
        new = [object_id for object_id, frame in first.items() if frame == name]
        if new:
            write_id_png(os.path.join(mask_dir, name + ".png"), np.where(np.isin(ids, new), ids, 0).astype(np.uint8))
    for object_id in sorted(first):
        objects[str(object_id)] = {"category": CATEGORIES[shapes[object_id - 1]],
                                   "frames": names[names.index(first[object_id]):]}
    return {"objects": objects}


def _write_set(out: str, seed: int, counts: dict[str, int], frames: int | None, height: int, width: int,
               progress: Callable[[str], None] | None) -> None:
    """Write every file of the set into the (fresh) folder ``out``; the marker file last."""
    total = sum(counts.values())
    done = 0
    for split_code, split in enumerate(_SPLITS):
        videos = {}
        for index in range(counts[split]):
            rng = np.random.default_rng(np.random.SeedSequence([seed, 1000 + split_code, index]))
            num_frames = frames if frames is not None else int(rng.integers(DEFAULT_FRAMES[0], DEFAULT_FRAMES[1] + 1))
            num_objects, enter = _plan_video(rng, num_frames, force_late=index == 0)
            images, ids_maps, _, _, shapes = render_scene(rng, num_frames, height, width, num_objects=num_objects,
                                                          enter_frames=enter, void=False)
            video = f"syn-{split}-{index:02d}"
            videos[video] = _write_video(out, split, video, images, ids_maps, shapes)
            done += 1
            if progress is not None:
                progress(f"[{done}/{total}] {split}/{video}: {num_frames} frames, {len(videos[video]['objects'])} "
                         "objects")
        os.makedirs(os.path.join(out, split), exist_ok=True)
        with open(os.path.join(out, split, "meta.json"), "w", encoding="utf-8") as f:
            json.dump({"videos": videos}, f, indent=1, sort_keys=True)
            f.write("\n")
    params = {"generator_version": GENERATOR_VERSION, "seed": seed, "train_videos": counts["train"],
              "valid_videos": counts["valid"], "frames": frames, "height": height, "width": width}
    write_marker(out, MARKER_FILE, params)


def generate_synthetic_ytvos(
    root: str | None = None,
    seed: int = 0,
    train_videos: int = 8,
    valid_videos: int = 4,
    frames: int | None = None,
    height: int = 108,
    width: int = 192,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = print,
) -> str:
    """Generate the set into ``root`` (default $DETECTRON2_DATASETS/YouTube-VOS-synthetic) atomically; returns it.

    frames: 30 fps frames per video (default: 36-51, drawn per video; every 5th is a 6 fps frame). The same
    arguments always give byte-identical files. Everything is built in a hidden temporary sibling folder and renamed
    into place, so an interrupted run never leaves a partial set.
    """
    counts = {"train": train_videos, "valid": valid_videos}
    check_set_arguments(counts, "video", frames, height, width)
    root = os.path.abspath(root or synthetic_ytvos_root())
    start = time.perf_counter()
    build_atomically(root, overwrite, lambda tmp: _write_set(tmp, seed, counts, frames, height, width, progress))
    if progress is not None:
        progress(f"Synthetic YouTube-VOS written to {root} in {time.perf_counter() - start:.1f} s")
    return root


def ensure_synthetic_ytvos(root: str | None = None, **kwargs) -> str:
    """Return the synthetic YouTube-VOS folder, generating it first (with ``kwargs``) only if it is not there."""
    root = os.path.abspath(root or synthetic_ytvos_root())
    return ensure_generated(root, MARKER_FILE, "synthetic YouTube-VOS",
                            lambda folder: generate_synthetic_ytvos(folder, **kwargs))
