"""Id PNGs, defined once for every benchmark: an (H, W) map of object ids stored as a PNG, and its palette.

An id map holds 0 (background), 1..K (objects) and, in annotations that mark them, 255 (void). How a PNG is decoded
is the caller's explicit ``policy`` (:data:`POLICIES`), not a dataset name:

==========  ==========================================  ===============================================
policy      indexed (P), grey (L, 1, I) PNG              RGB(A) PNG
==========  ==========================================  ===============================================
"binary"    any non-zero pixel is object 1               any non-black pixel is object 1
            (single-object annotations: DAVIS 2016)
"void"      ids: 0 background, 1..K objects, 255 void;   palette colours -> their ids (a warning);
            a mask of only 0 and 255 is an error (it     other colours are an error
            would be all void: a binary mask)
            (multi-object annotations: DAVIS 2017,
            YouTube-VOS)
"result"    ids; a mask of only 0 and 255 is a binary    an error: a colour result is a visualisation,
            mask (255 -> object 1)                       not an id map
            (result PNGs, masks of no particular set)
==========  ==========================================  ===============================================

:func:`write_id_png` writes the inverse: indexed PNGs with :func:`palette`, or 0/255 grey PNGs (``binary=True``).
Errors are the caller's format error class and name the file. Imports only numpy and PIL.
"""
from __future__ import annotations

import functools
import logging
from typing import Type

import numpy as np
from PIL import Image

from .errors import VOSFormatError
from .io import atomic_write

__all__ = ["BINARY", "PNG_EXT", "POLICIES", "RESULT", "VOID", "VOID_ID", "palette", "read_id_png", "write_id_png"]

logger = logging.getLogger(__name__)

# Read any non-zero pixel as object 1 (single-object annotations).
BINARY = "binary"
# Read ids with 255 as void (multi-object annotations); a 0/255-only mask is an error.
VOID = "void"
# Read ids; a 0/255-only mask is a binary mask (result PNGs).
RESULT = "result"
POLICIES = (BINARY, VOID, RESULT)
# The id of void (unlabelled) annotation pixels.
VOID_ID = 255
PNG_EXT = ".png"


@functools.lru_cache(maxsize=1)
def palette() -> np.ndarray:
    """The (256, 3) uint8 palette of id PNGs (PASCAL VOC's colour map, which DAVIS and YouTube-VOS use: id 255 is
    the void colour)."""
    colours = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        value, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        colours[index] = (r, g, b)
    colours.setflags(write=False)
    return colours


def _rgb_to_ids(rgb: np.ndarray, path: str, error: Type[VOSFormatError]) -> np.ndarray:
    """Map an RGB mask drawn with the palette back to object ids; fail if a colour is not in the palette."""
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    colours_ = palette().astype(np.int32)
    lookup = {int(code): index for index, code in enumerate((colours_[:, 0] << 16) | (colours_[:, 1] << 8)
                                                             | colours_[:, 2])}
    colours, inverse = np.unique(codes, return_inverse=True)
    unknown = [int(c) for c in colours if int(c) not in lookup]
    if unknown:
        c = unknown[0]
        raise error(
            f"mask {path} is an RGB image with colours outside the DAVIS palette "
            f"(e.g. {(c >> 16, (c >> 8) & 255, c & 255)}); "
            "multi-object masks must be indexed (palette) PNGs: 0 background, 1..K objects, 255 void. "
            "Re-save it in mode 'P' with those ids."
        )
    ids = np.array([lookup[int(c)] for c in colours], dtype=np.uint8)
    return ids[inverse.reshape(codes.shape)]


def read_id_png(
    path: str, policy: str = RESULT, *, error: Type[VOSFormatError] = VOSFormatError, what: str = "mask",
    binary_hint: str = "save multi-object masks as indexed PNGs with ids 1..K",
) -> np.ndarray:
    """Decode an id PNG into an (H, W) uint8 id map under ``policy`` (:data:`POLICIES`, the module's table).

    ``error``: the format error raised (each naming ``path``); ``what`` names the PNG in a read error (e.g.
    "DAVIS mask"); ``binary_hint``: what to do about a 0/255 mask under the "void" policy.
    """
    if policy not in POLICIES:
        raise ValueError(f"id PNG policy must be one of {POLICIES}, got {policy!r}")
    try:
        with open(path, "rb") as f:
            image = Image.open(f)
            image.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise error(f"cannot read {what} {path}: {e}") from e
    mode = image.mode
    if mode in ("RGBA", "LA", "PA"):
        image = image.convert({"RGBA": "RGB", "LA": "L", "PA": "P"}[mode])
        mode = image.mode
    array = np.asarray(image)
    if policy == BINARY:
        if array.ndim == 3:
            array = array.any(axis=2)
        return (array != 0).astype(np.uint8)
    if mode == "RGB":
        if policy == RESULT:
            raise error(
                f"{path}: mask PNG has mode 'RGB' (3 channels); expected an indexed (palette, mode 'P') PNG of "
                "object ids: 0 background, 1..K objects, 255 void. Save masks with a palette (e.g. "
                "vos_eval.id_png.write_id_png), not as colour images."
            )
        logger.warning("Mask %s is RGB, not indexed; converting its palette colours to object ids.", path)
        return _rgb_to_ids(array, path, error)
    if mode.startswith("I") and not 0 <= array.min(initial=0) <= array.max(initial=0) <= 255:
        bad = sorted({int(v) for v in np.unique(array) if not 0 <= v <= 255})
        raise error(
            f"{path}: {mode} PNG holds id {bad[0]}" + (f" (and {len(bad) - 1} more outside 0..255)" if bad[1:] else "")
            + "; DAVIS ids are 0 (background), 1..254 (objects) and 255 (void): renumber the objects"
        )
    if mode not in ("P", "L", "1") and not mode.startswith("I"):
        raise error(f"{path}: mask PNG has mode {mode!r}; id masks are indexed (palette, mode 'P') or grey PNGs of ids")
    ids = array.astype(np.uint8)
    if ids.any() and np.isin(ids, (0, VOID_ID)).all():
        if policy == VOID:
            raise error(
                f"mask {path} holds only 0 and 255, a binary 0/255 mask: where 255 means void it would hold no "
                f"object. {binary_hint[:1].upper()}{binary_hint[1:]}."
            )
        ids = (ids != 0).astype(np.uint8)
    return ids


def write_id_png(path: str, ids: np.ndarray, binary: bool = False) -> None:
    """Write an (H, W) id map atomically: an indexed PNG with :func:`palette`, or with ``binary`` a grey PNG that is
    255 where any object is (single-object annotations, e.g. DAVIS 2016's)."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or (ids.size and (ids.min() < 0 or ids.max() > 255)):
        raise ValueError(f"{path}: an id map is (H, W) with ids in 0..255, got shape {ids.shape}")
    if binary:
        image = Image.fromarray(np.where(ids != 0, 255, 0).astype(np.uint8), mode="L")
    else:
        image = Image.fromarray(np.ascontiguousarray(ids, dtype=np.uint8), mode="P")
        image.putpalette(palette().tobytes())
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
