"""A small synthetic DAVIS set, generated deterministically, on which temporal context matters.

Each sequence shows 1-3 textured, saturated objects moving smoothly (translation, rotation, scale) over a panning,
low-saturation textured background, occluding each other and passing behind a background-coloured bar; some
frames are degraded (strong noise, blur or dropped contrast) so that they are ambiguous alone while their
neighbours are clean. Layout (read by the ordinary DAVIS loader)::

    <root>/JPEGImages/480p/<seq>/00000.jpg       frames
    <root>/Annotations/480p/<seq>/00000.png      DAVIS 2017 indexed masks: 0 bg, 1..K objects, 255 void
    <root>/ImageSets/2017/{train,val}.txt         sequence names
    <root>/2016/JPEGImages/480p/<seq>/*.jpg       hard links to the frames above (copies where links fail)
    <root>/2016/Annotations/480p/<seq>/*.png      DAVIS 2016 binary masks: 255 = union of all objects
    <root>/2016/ImageSets/480p/{train,val}.txt    '/JPEGImages/480p/<seq>/00000.jpg /Annotations/480p/<seq>/00000.png'
    <root>/frame_tags.json                        per frame: degradation applied (or null), occluded fraction per
                                                  object (format: vos_eval/frame_tags.py)
    <root>/synthetic_davis.json                   generation parameters; written last, marks a complete set

Void pixels (a few short runs on object borders) exist only in the 2017 masks; the 2016 masks are exact.
"""
from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np
from PIL import Image

from vos_eval.folder_builds import build_atomically, ensure_generated, link_or_copy
from ..datasets.builtin import synthetic_davis_root
from vos_eval.davis_format import write_id_png
from vos_eval.frame_tags import FRAME_TAGS_FILE, write_frame_tags
from .render import check_set_arguments, render_sequence, write_marker

__all__ = ["MARKER_FILE", "ensure_synthetic_davis", "generate_synthetic_davis"]

MARKER_FILE = "synthetic_davis.json"
# Bump when the generated content changes for a given seed. 2: frame_tags.json added (images and masks unchanged).
GENERATOR_VERSION = 2


def _write_set(
    out: str,
    seed: int,
    train_sequences: int,
    val_sequences: int,
    frames: int | None,
    height: int,
    width: int,
    progress: Callable[[str], None] | None,
) -> None:
    """Write every file of the set into the (fresh) folder ``out``; the marker file last."""
    splits = {"train": train_sequences, "val": val_sequences}
    total = train_sequences + val_sequences
    done = 0
    frame_tags: dict[str, dict[str, dict]] = {}
    for split_code, (split, count) in enumerate(splits.items()):
        names = []
        lines_2016 = []
        for index in range(count):
            rng = np.random.default_rng(np.random.SeedSequence([seed, split_code, index]))
            num_frames = frames if frames is not None else int(rng.integers(20, 31))
            name = f"syn-{split}-{index:02d}"
            images, ids_2017, masks_2016, tags = render_sequence(rng, num_frames, height, width)
            frame_tags[name] = {f"{t:05d}": tag for t, tag in enumerate(tags)}
            dirs = {
                key: os.path.join(out, *prefix, folder, "480p", name)
                for key, prefix, folder in (
                    ("jpg", (), "JPEGImages"),
                    ("png", (), "Annotations"),
                    ("jpg16", ("2016",), "JPEGImages"),
                    ("png16", ("2016",), "Annotations"),
                )
            }
            for folder in dirs.values():
                os.makedirs(folder)
            for t, (image, ids, binary) in enumerate(zip(images, ids_2017, masks_2016)):
                stem = f"{t:05d}"
                jpg = os.path.join(dirs["jpg"], stem + ".jpg")
                Image.fromarray(image).save(jpg, format="JPEG", quality=92)
                link_or_copy(jpg, os.path.join(dirs["jpg16"], stem + ".jpg"))
                write_id_png(os.path.join(dirs["png"], stem + ".png"), ids)
                write_id_png(os.path.join(dirs["png16"], stem + ".png"), binary, year="2016")
                lines_2016.append(f"/JPEGImages/480p/{name}/{stem}.jpg /Annotations/480p/{name}/{stem}.png")
            names.append(name)
            done += 1
            if progress is not None:
                progress(f"[{done}/{total}] {name}: {num_frames} frames")
        for folder, file_lines in (
            (os.path.join(out, "ImageSets", "2017"), names),
            (os.path.join(out, "2016", "ImageSets", "480p"), lines_2016),
        ):
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{split}.txt"), "w", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in file_lines))
    write_frame_tags(os.path.join(out, FRAME_TAGS_FILE), frame_tags)
    params = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "train_sequences": train_sequences,
        "val_sequences": val_sequences,
        "frames": frames,
        "height": height,
        "width": width,
    }
    write_marker(out, MARKER_FILE, params)


def generate_synthetic_davis(
    output: str | None = None,
    seed: int = 0,
    train_sequences: int = 8,
    val_sequences: int = 4,
    frames: int | None = None,
    height: int = 108,
    width: int = 192,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = print,
) -> str:
    """Generate the set into ``output`` (default $DETECTRON2_DATASETS/DAVIS-synthetic) atomically; returns it.

    frames: frames per sequence (default: 20-30, drawn per sequence). Everything is built in a temporary sibling
    folder and renamed into place, so an interrupted run never leaves a partial set.
    """
    check_set_arguments({"train": train_sequences, "val": val_sequences}, "sequence", frames, height, width)
    output = os.path.abspath(output or synthetic_davis_root())
    start = time.perf_counter()
    build_atomically(output, overwrite,
                     lambda tmp: _write_set(tmp, seed, train_sequences, val_sequences, frames, height, width, progress))
    if progress is not None:
        progress(f"Synthetic DAVIS written to {output} in {time.perf_counter() - start:.1f} s")
    return output



def ensure_synthetic_davis(root: str | None = None, **kwargs) -> str:
    """Return the synthetic set's folder, generating it first (with ``kwargs``) only if it is not there yet."""
    root = os.path.abspath(root or synthetic_davis_root())
    return ensure_generated(root, MARKER_FILE, "synthetic DAVIS",
                            lambda folder: generate_synthetic_davis(folder, **kwargs))

