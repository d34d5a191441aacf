"""Load DAVIS 2016 / 2017 folders as Detectron2 dataset dicts (one per frame) and register them lazily.

Masks are decoded once: their per-object RLE, boxes and sizes are cached on disk under a key made of the masks'
paths, modification times and sizes, so later loads only stat files. JPEG frames are never decoded here.
"""
from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import pickle
import tempfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_util
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.catalog import Metadata
from detectron2.structures import BoxMode
from detectron2.utils.file_io import PathManager
from PIL import Image

from ...utils import atomic_write

__all__ = [
    "DAVISFormatError",
    "davis_palette",
    "default_cache_dir",
    "read_davis_mask",
    "read_sequence_list",
    "load_davis",
    "register_davis",
]

logger = logging.getLogger(__name__)

YEARS = ("2016", "2017")
RESOLUTIONS = ("480p", "Full-Resolution")
TASKS = ("davis2016", "semi-supervised", "unsupervised")
VOID_ID = 255
# Bump when the cached per-mask content changes meaning.
_CACHE_VERSION = 1


class DAVISFormatError(ValueError):
    """A DAVIS folder, list or mask does not follow the layout this loader reads."""


@functools.lru_cache(maxsize=1)
def davis_palette() -> np.ndarray:
    """The (256, 3) uint8 palette of DAVIS annotations (PASCAL VOC's colour map: id 255 is the void colour)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        value, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette[index] = (r, g, b)
    palette.setflags(write=False)
    return palette


def default_cache_dir() -> str:
    """Where decoded-mask caches go: $SLOWFAST_VOS_CACHE, else ~/.cache/slowfast_vos, else the temp folder."""
    env = os.environ.get("SLOWFAST_VOS_CACHE")
    if env:
        return os.path.join(os.path.expanduser(env), "davis")
    home_cache = os.path.join(os.path.expanduser("~"), ".cache", "slowfast_vos", "davis")
    try:
        os.makedirs(home_cache, exist_ok=True)
        if os.access(home_cache, os.W_OK):
            return home_cache
    except OSError:
        pass
    return os.path.join(tempfile.gettempdir(), "slowfast_vos_cache", "davis")


def resolution_folder(year: str, resolution: str) -> str:
    """The folder name of a resolution: DAVIS 2016 calls its full resolution '1080p', 2017 'Full-Resolution'."""
    _check_choice("resolution", resolution, RESOLUTIONS)
    if year == "2016" and resolution == "Full-Resolution":
        return "1080p"
    return resolution


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"DAVIS {what} must be one of {choices}, got {value!r}")


def _read_lines(path: str) -> list[str]:
    if not PathManager.isfile(path):
        raise FileNotFoundError(f"DAVIS ImageSets file not found: {path}")
    with PathManager.open(path, "r") as f:
        lines = [line.strip() for line in f]
    lines = [line for line in lines if line]
    if not lines:
        raise DAVISFormatError(f"DAVIS ImageSets file {path} lists no sequences")
    return lines


def _imagesets_files(root: str, year: str, split: str, resolution: str) -> list[str]:
    """The ImageSets list(s) of a split; 2017 'trainval' falls back to train.txt + val.txt."""
    if year == "2016":
        return [os.path.join(root, "ImageSets", resolution_folder(year, resolution), f"{split}.txt")]
    folder = os.path.join(root, "ImageSets", "2017")
    single = os.path.join(folder, f"{split}.txt")
    if split == "trainval" and not PathManager.isfile(single):
        return [os.path.join(folder, "train.txt"), os.path.join(folder, "val.txt")]
    return [single]


def _check_root(root: str) -> None:
    if not PathManager.isdir(root):
        raise FileNotFoundError(
            f"DAVIS root folder not found: {root} (see datasets/README.md; set $DETECTRON2_DATASETS, "
            "$DAVIS2016_ROOT / $DAVIS2017_ROOT, or call register_davis with the right root)"
        )


def _parse_2016_lists(root: str, split: str, resolution: str) -> OrderedDict[str, list[tuple[str, str | None]]]:
    """Sequence -> [(frame path, mask path or None)] from ImageSets/<res>/<split>.txt (lines 'jpg [png]')."""
    (list_file,) = _imagesets_files(root, "2016", split, resolution)
    sequences: OrderedDict[str, list[tuple[str, str | None]]] = OrderedDict()
    for number, line in enumerate(_read_lines(list_file), start=1):
        parts = line.split()
        if len(parts) not in (1, 2):
            raise DAVISFormatError(
                f"{list_file}:{number}: expected '/JPEGImages/<res>/<seq>/<frame>.jpg "
                f"/Annotations/<res>/<seq>/<frame>.png', got {line!r}"
            )
        frame = os.path.join(root, parts[0].lstrip("/"))
        mask = os.path.join(root, parts[1].lstrip("/")) if len(parts) == 2 else None
        sequence = os.path.basename(os.path.dirname(frame))
        sequences.setdefault(sequence, []).append((frame, mask))
    return sequences


def read_sequence_list(root: str, year: str, split: str, resolution: str = "480p") -> list[str]:
    """The ordered sequence names of a split, read from its ImageSets list(s) only."""
    _check_choice("year", year, YEARS)
    _check_root(root)
    if year == "2016":
        return list(_parse_2016_lists(root, split, resolution))
    names: list[str] = []
    for list_file in _imagesets_files(root, year, split, resolution):
        names.extend(name for name in _read_lines(list_file) if name not in names)
    return names


def _list_dir(path: str) -> set[str]:
    return set(PathManager.ls(path)) if PathManager.isdir(path) else set()


def _collect_frames(
    root: str, year: str, split: str, resolution: str, annotations: str
) -> OrderedDict[str, list[tuple[str, str | None]]]:
    """Sequence -> [(frame path, mask path or None)] for a split, checking that listed sequences exist."""
    res = resolution_folder(year, resolution)
    result: OrderedDict[str, list[tuple[str, str | None]]] = OrderedDict()
    if year == "2016":
        (list_file,) = _imagesets_files(root, year, split, resolution)
        for sequence, pairs in _parse_2016_lists(root, split, resolution).items():
            frame_dir = os.path.dirname(pairs[0][0])
            present = _list_dir(frame_dir)
            if not present:
                raise FileNotFoundError(f"sequence {sequence!r} is listed in {list_file} but {frame_dir} is missing")
            masks_present: dict[str, set[str]] = {}
            checked = []
            for frame, mask in pairs:
                if os.path.basename(frame) not in present:
                    raise FileNotFoundError(
                        f"frame {frame} of sequence {sequence!r} (listed in {list_file}) is missing"
                    )
                if mask is not None:
                    mask_dir = os.path.dirname(mask)
                    if mask_dir not in masks_present:
                        masks_present[mask_dir] = _list_dir(mask_dir)
                    if os.path.basename(mask) not in masks_present[mask_dir]:
                        mask = None
                checked.append((frame, mask))
            result[sequence] = checked
        return result
    list_files = _imagesets_files(root, year, split, resolution)
    for sequence in read_sequence_list(root, year, split, resolution):
        frame_dir = os.path.join(root, "JPEGImages", res, sequence)
        frames = sorted(name for name in _list_dir(frame_dir) if name.lower().endswith(".jpg"))
        if not frames:
            raise FileNotFoundError(
                f"sequence {sequence!r} is listed in {', '.join(list_files)} but {frame_dir} is missing or has no .jpg"
            )
        mask_dir = os.path.join(root, annotations, res, sequence)
        masks = _list_dir(mask_dir)
        pairs = []
        for name in frames:
            stem = os.path.splitext(name)[0]
            mask = os.path.join(mask_dir, stem + ".png") if stem + ".png" in masks else None
            pairs.append((os.path.join(frame_dir, name), mask))
        result[sequence] = pairs
    return result


def _rgb_to_ids(rgb: np.ndarray, path: str) -> np.ndarray:
    """Map an RGB mask drawn with the DAVIS palette back to object ids; fail if a colour is not in the palette."""
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    palette = davis_palette().astype(np.int32)
    palette_codes = (palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2]
    colours, inverse = np.unique(codes, return_inverse=True)
    lookup = {int(code): index for index, code in enumerate(palette_codes)}
    unknown = [int(c) for c in colours if int(c) not in lookup]
    if unknown:
        c = unknown[0]
        raise DAVISFormatError(
            f"mask {path} is an RGB image with colours outside the DAVIS palette "
            f"(e.g. {(c >> 16, (c >> 8) & 255, c & 255)}); "
            "DAVIS 2017 masks must be indexed (palette) PNGs: 0 background, 1..K objects, 255 void. "
            "Re-save it in mode 'P' with those ids."
        )
    ids = np.array([lookup[int(c)] for c in colours], dtype=np.uint8)
    return ids[inverse.reshape(codes.shape)]


def read_davis_mask(path: str, year: str) -> np.ndarray:
    """Decode a DAVIS mask to a uint8 id map: 2016 -> 0/1 (any non-zero is the object); 2017 -> ids, 255 void."""
    try:
        with PathManager.open(path, "rb") as f:
            image = Image.open(io.BytesIO(f.read()))
            image.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise DAVISFormatError(f"cannot read DAVIS mask {path}: {e}") from e
    mode = image.mode
    if mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGB" if mode == "RGBA" else ("L" if mode == "LA" else "P"))
        mode = image.mode
    array = np.asarray(image)
    if year == "2016":
        if array.ndim == 3:
            array = array.any(axis=2)
        return (array != 0).astype(np.uint8)
    if mode == "RGB":
        logger.warning("Mask %s is RGB, not indexed; converting its DAVIS palette colours to object ids.", path)
        return _rgb_to_ids(array, path)
    if mode not in ("P", "L", "1") and not (mode.startswith("I") and array.max(initial=0) <= 255):
        raise DAVISFormatError(f"mask {path} has PIL mode {mode!r}; DAVIS 2017 masks are indexed (mode 'P') PNGs")
    array = array.astype(np.uint8)
    if mode == "L" and array.any() and np.isin(array, (0, VOID_ID)).all():
        raise DAVISFormatError(
            f"mask {path} is a binary 0/255 grayscale mask: in DAVIS 2017 255 means void, so it would hold no "
            "object. Register binary masks with year='2016', or save 2017 masks as indexed PNGs with ids 1..K."
        )
    return array


def _objects_of(ids: np.ndarray) -> list[tuple[int, str, list[float]]]:
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


def _decode_mask_entry(path: str, year: str) -> tuple[int, int, list[tuple[int, str, list[float]]]]:
    ids = read_davis_mask(path, year)
    return ids.shape[0], ids.shape[1], _objects_of(ids)


def _stat_key(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(PathManager.get_local_path(path))
    except OSError as e:
        raise DAVISFormatError(f"cannot stat DAVIS mask {path}: {e}") from e
    return (path, st.st_mtime_ns, st.st_size)


def _mask_entries(
    mask_paths: list[str], year: str, cache_dir: str | None
) -> dict[str, tuple[int, int, list[tuple[int, str, list[float]]]]]:
    """Decoded entries (height, width, objects) per mask, from the on-disk cache when its key still matches."""
    stats = [_stat_key(path) for path in mask_paths]
    key = (_CACHE_VERSION, year, tuple(stats))
    digest = hashlib.sha1(repr(key).encode("utf-8")).hexdigest()
    cache_file = os.path.join(cache_dir, f"davis{year}-masks-{digest}.pkl") if cache_dir else None
    if cache_file and os.path.isfile(cache_file):
        try:
            with open(cache_file, "rb") as f:
                cached = pickle.load(f)
            if cached["key"] == key:
                logger.info("Loaded %d decoded DAVIS masks from cache %s", len(mask_paths), cache_file)
                return cached["entries"]
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError) as e:
            logger.warning("Ignoring unreadable DAVIS mask cache %s: %s", cache_file, e)
    where = f" (cached afterwards in {cache_dir})" if cache_dir else ""
    logger.info("Decoding %d DAVIS masks%s", len(mask_paths), where)
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        decoded = list(pool.map(lambda p: _decode_mask_entry(p, year), mask_paths))
    entries = dict(zip(mask_paths, decoded))
    if cache_file:
        try:
            payload = pickle.dumps({"key": key, "entries": entries}, protocol=4)
            atomic_write(cache_file, lambda tmp: Path(tmp).write_bytes(payload))
        except OSError as e:
            logger.warning("Could not write the DAVIS mask cache %s: %s", cache_file, e)
    return entries


def _frame_size(path: str) -> tuple[int, int]:
    """(height, width) of a JPEG from its header only."""
    try:
        with PathManager.open(path, "rb") as f:
            with Image.open(f) as image:
                width, height = image.size
    except (OSError, SyntaxError, ValueError) as e:
        raise DAVISFormatError(f"cannot read DAVIS frame {path}: {e}") from e
    return height, width


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
    _check_choice("year", year, YEARS)
    _check_root(root)
    if require_masks is None:
        require_masks = split in ("train", "trainval")
    cache_dir = (cache_dir or default_cache_dir()) if use_cache else None
    sequences = _collect_frames(root, year, split, resolution, annotations)

    mask_paths = []
    for sequence, pairs in sequences.items():
        for frame, mask in pairs:
            if mask is None and require_masks:
                stem = os.path.splitext(os.path.basename(frame))[0]
                raise FileNotFoundError(
                    f"frame {frame} of sequence {sequence!r} has no mask ({stem}.png under "
                    f"{os.path.join(root, annotations)}); a training split needs a mask for every frame"
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
                    annos.append(
                        {
                            "bbox": list(box),
                            "bbox_mode": BoxMode.XYXY_ABS,
                            "segmentation": {"size": [height, width], "counts": counts},
                            "category_id": 0,
                            "iscrowd": 0,
                            "object_id": object_id,
                        }
                    )
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
    """Metadata whose ``sequences`` are read from the ImageSets list on first access (keeps registration cheap)."""

    def __getattr__(self, key: str) -> Any:
        if key == "sequences" and "_sequence_args" in self.__dict__:
            sequences = read_sequence_list(*self.__dict__["_sequence_args"])
            self.__dict__["sequences"] = sequences
            return sequences
        return super().__getattr__(key)

    def as_dict(self) -> dict[str, Any]:
        """All metadata except the private lazy-loading arguments."""
        return {k: v for k, v in super().as_dict().items() if k != "_sequence_args"}


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
    (slowfast_vos/data/frame_tags.py), kept as metadata ``frame_tags``: the evaluator then also scores its subsets.
    """
    _check_choice("year", year, YEARS)
    resolution_folder(year, resolution)
    if year == "2016" and annotations != "Annotations":
        raise ValueError("DAVIS 2016 mask paths come from its ImageSets lists; annotations must be 'Annotations'")
    if task is None:
        task = "davis2016" if year == "2016" else (
            "unsupervised" if annotations == "Annotations_unsupervised" else "semi-supervised"
        )
    _check_choice("task", task, TASKS)
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
    res = resolution_folder(year, resolution)
    abs_root = os.path.abspath(root)
    metadata = _DAVISMetadata(name=name)
    metadata.__dict__["_sequence_args"] = (root, year, split, resolution)
    MetadataCatalog[name] = metadata
    metadata.set(
        thing_classes=["object"],
        evaluator_type="davis",
        davis_root=abs_root,
        year=year,
        split=split,
        resolution=resolution,
        image_dir=os.path.join(abs_root, "JPEGImages", res),
        annotation_dir=os.path.join(abs_root, annotations, res),
        task=task,
    )
    if frame_tags is not None:
        metadata.set(frame_tags=os.path.abspath(frame_tags))
