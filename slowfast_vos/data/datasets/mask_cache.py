"""The on-disk cache of decoded masks shared by the DAVIS and YouTube-VOS loaders.

A dataset's masks are decoded once into (height, width, objects) entries, objects being (object id, COCO RLE counts,
XYXY box) per id present; the entries are stored as JSON (never unpickled) in a private folder, under a key made of
the masks' paths, modification times and sizes (plus what the caller adds), so later loads only stat the masks.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pycocotools.mask as mask_util
from detectron2.structures import BoxMode
from PIL import Image

from vos_eval.davis_format import VOID_ID, DAVISFormatError

from ...utils import atomic_write

__all__ = ["MaskEntry", "cached_mask_entries", "default_cache_dir", "frame_size", "instance_annotation", "objects_of",
           "private_dir",
           "read_cache", "stat_key"]

logger = logging.getLogger(__name__)

# (height, width, [(object id, RLE counts, [x0, y0, x1, y1])])
MaskEntry = tuple[int, int, list[tuple[int, str, list[float]]]]

# Decoding that takes longer than this shows a progress bar.
PROGRESS_DELAY_S = 3.0


def private_dir(path: str) -> str | None:
    """``path``, created 0700, if this user owns it and nobody else can write to it; else None (with a warning).

    The mask cache decides which objects every frame holds, so it must not be a folder where others can plant files.
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError as e:
        logger.warning("Not caching decoded masks in %s: %s", path, e)
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        logger.warning("Not caching decoded masks in %s: it is not a private folder of this user (owner uid %d, "
                       "mode %o); set $SLOWFAST_VOS_CACHE to one", path, st.st_uid, st.st_mode & 0o777)
        return None
    return path


def default_cache_dir(kind: str = "davis") -> str | None:
    """Where decoded-mask caches of one dataset kind go: $SLOWFAST_VOS_CACHE/<kind>, else
    ~/.cache/slowfast_vos/<kind>, else a per-user folder in the temp dir; always a folder only this user can write
    to (None: no such folder, no cache)."""
    env = os.environ.get("SLOWFAST_VOS_CACHE")
    if env:
        return private_dir(os.path.join(os.path.expanduser(env), kind))
    home_cache = os.path.join(os.path.expanduser("~"), ".cache", "slowfast_vos", kind)
    found = private_dir(home_cache)
    if found is not None and os.access(found, os.W_OK):
        return found
    return private_dir(os.path.join(tempfile.gettempdir(), f"slowfast_vos_cache-{os.getuid()}", kind))


def objects_of(ids: np.ndarray) -> list[tuple[int, str, list[float]]]:
    """(object id, COCO RLE counts, XYXY box) for every id in 1..254 present in an id map; void is skipped."""
    counts = np.bincount(ids.ravel(), minlength=256)
    objects = []
    for object_id in np.flatnonzero(counts[1:VOID_ID]) + 1:
        binary = ids == object_id
        rows = np.flatnonzero(binary.any(axis=1))
        cols = np.flatnonzero(binary.any(axis=0))
        box = [float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)]
        rle = mask_util.encode(np.asfortranarray(binary.astype(np.uint8)))
        objects.append((int(object_id), rle["counts"].decode("ascii"), box))
    return objects


def instance_annotation(object_id: int, counts: str, box: list[float], height: int, width: int) -> dict:
    """The Detectron2 instance dict of one cached object (class 0, "object"; its DAVIS / YouTube-VOS id kept)."""
    return {
        "bbox": list(box),
        "bbox_mode": BoxMode.XYXY_ABS,
        "segmentation": {"size": [height, width], "counts": counts},
        "category_id": 0,
        "iscrowd": 0,
        "object_id": object_id,
    }


def stat_key(path: str, error: type[Exception] = DAVISFormatError, what: str = "DAVIS mask") -> list:
    """[path, mtime_ns, size] of a mask (what the cache key holds); an ``error`` naming it if it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise error(f"cannot stat {what} {path}: {e}") from e
    return [path, st.st_mtime_ns, st.st_size]


def read_cache(cache_file: str, key: dict, label: str = "DAVIS") -> dict[str, MaskEntry] | None:
    """The cached entries if ``cache_file`` is a readable JSON cache for exactly ``key``; None otherwise.

    JSON only holds data: a cache file, even a planted one, can never run code when read.
    """
    try:
        with open(cache_file, "r", encoding="utf-8") as f:
            cached = json.load(f)
        if not isinstance(cached, dict) or cached.get("key") != key:
            return None
        return {path: (int(h), int(w), [(int(i), str(c), [float(v) for v in box]) for i, c, box in objects])
                for path, (h, w, objects) in cached["entries"].items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.warning("Ignoring unreadable %s mask cache %s: %s", label, cache_file, e)
        return None


def _decode_all(mask_paths: list[str], decode: Callable[[str], MaskEntry], label: str) -> list[MaskEntry]:
    """decode() every mask over a few threads; a progress bar (stderr) once it takes over PROGRESS_DELAY_S."""
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(decode, mask_paths)
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm comes with detectron2
            tqdm = None
        if tqdm is None:
            decoded, start, last = [], time.monotonic(), time.monotonic()
            for entry in results:
                decoded.append(entry)
                if time.monotonic() - last > 10.0:
                    last = time.monotonic()
                    logger.info("Decoded %d/%d %s masks (%.0f s)", len(decoded), len(mask_paths), label,
                                last - start)
            return decoded
        bar = tqdm(results, total=len(mask_paths), desc=f"Decoding {label} masks", unit="mask",
                   delay=PROGRESS_DELAY_S, mininterval=1.0, leave=False)
        try:
            return list(bar)
        finally:
            bar.close()


def cached_mask_entries(
    mask_paths: list[str],
    decode: Callable[[str], MaskEntry],
    cache_dir: str | None,
    *,
    key_extra: dict,
    file_prefix: str,
    version: int,
    label: str = "DAVIS",
    stat_error: type[Exception] = DAVISFormatError,
) -> dict[str, MaskEntry]:
    """Decoded entries per mask (``decode(path)``), from ``cache_dir``'s cache when its key still matches.

    The key is ``{"version": version, **key_extra, "masks": [[path, mtime_ns, size], ...]}``; the cache file is
    ``<cache_dir>/<file_prefix>-masks-<sha1 of the key>.json``. ``cache_dir=None``: decode and write nothing.
    """
    key = {"version": version, **key_extra,
           "masks": [stat_key(path, stat_error, f"{label} mask") for path in mask_paths]}
    digest = hashlib.sha1(json.dumps(key).encode("utf-8")).hexdigest()
    cache_file = os.path.join(cache_dir, f"{file_prefix}-masks-{digest}.json") if cache_dir else None
    if cache_file and os.path.isfile(cache_file):
        entries = read_cache(cache_file, key, label)
        if entries is not None and set(entries) == set(mask_paths):
            logger.info("Loaded %d decoded %s masks from cache %s", len(mask_paths), label, cache_file)
            return entries
    where = f" (cached afterwards in {cache_dir})" if cache_dir else ""
    logger.info("Decoding %d %s masks%s", len(mask_paths), label, where)
    entries = dict(zip(mask_paths, _decode_all(mask_paths, decode, label)))
    if cache_file:
        try:
            payload = json.dumps({"key": key, "entries": entries})
            atomic_write(cache_file, lambda tmp: Path(tmp).write_text(payload, encoding="utf-8"))
        except OSError as e:
            logger.warning("Could not write the %s mask cache %s: %s", label, cache_file, e)
    return entries


def frame_size(path: str, error: type[Exception] = DAVISFormatError, what: str = "DAVIS frame") -> tuple[int, int]:
    """(height, width) of a JPEG from its header only (an ``error`` naming it if it cannot be read)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, SyntaxError, ValueError) as e:
        raise error(f"cannot read {what} {path}: {e}") from e
    return height, width
