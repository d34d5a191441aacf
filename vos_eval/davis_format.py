"""The DAVIS file format, defined once: constants, palette, folder layout, ImageSets lists, frame order, id PNGs.

The loader, the evaluator, OSVOS, the synthetic generator and the visualiser all read and write DAVIS through this
module. It imports only the standard library, numpy and PIL, so the evaluation command line can use it without
torch or detectron2.

Id PNGs: DAVIS reads its annotations with the id-PNG policy of its year (:func:`annotation_policy`): binary for
DAVIS 2016 (one object per video), ids with 255 void for DAVIS 2017; results (``year=None``) with the result policy.
:mod:`.id_png` owns the decoding, the palette and the policies; :func:`read_id_png` / :func:`write_id_png` here
are DAVIS's year-to-policy mapping over it, raising DAVISFormatError.
"""
from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

import numpy as np

from . import id_png
from .errors import VOSFormatError, VOSNotFoundError

__all__ = [
    "ANNOTATION_FOLDERS",
    "DAVISFormatError",
    "DAVISLayout",
    "DAVISNotFoundError",
    "FRAME_EXT",
    "MASK_EXT",
    "RESOLUTIONS",
    "TASKS",
    "VOID_ID",
    "YEARS",
    "annotation_frames",
    "annotation_policy",
    "check_name",
    "davis_palette",
    "natural_key",
    "natural_sorted",
    "read_id_png",
    "resolution_folder",
    "write_id_png",
]

logger = logging.getLogger(__name__)

YEARS = ("2016", "2017")
RESOLUTIONS = ("480p", "Full-Resolution")
TASKS = ("davis2016", "semi-supervised", "unsupervised")
ANNOTATION_FOLDERS = ("Annotations", "Annotations_unsupervised")
VOID_ID = id_png.VOID_ID
FRAME_EXT = ".jpg"
MASK_EXT = id_png.PNG_EXT
# What to do about a 0/255 annotation of a DAVIS 2017 set.
_BINARY_HINT = "register binary masks with year='2016', or save DAVIS 2017 masks as indexed PNGs with ids 1..K"
_DIGITS = re.compile(r"(\d+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DAVISFormatError(VOSFormatError):
    """A DAVIS folder, list, mask or results folder does not follow the format; the message names the file."""


class DAVISNotFoundError(DAVISFormatError, VOSNotFoundError):
    """A folder or file the DAVIS layout needs is missing."""


# The palette of DAVIS annotations and results (the neutral id-PNG module owns it).
davis_palette = id_png.palette


def _check_choice(what: str, value: str, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"DAVIS {what} must be one of {choices}, got {value!r}")


def resolution_folder(year: str, resolution: str) -> str:
    """The folder name of a resolution: DAVIS 2016 calls its full resolution '1080p', 2017 'Full-Resolution'."""
    _check_choice("resolution", resolution, RESOLUTIONS)
    if year == "2016" and resolution == "Full-Resolution":
        return "1080p"
    return resolution


def check_name(name: str, what: str, where: str) -> str:
    """``name`` if it is a plain file or folder name (no separator, not '.' or '..'), else an error naming ``where``.

    Sequence and frame names become folder and file names under the dataset and output folders, so a name that
    could leave them is refused where it is read.
    """
    if (not name or name in (".", "..") or "/" in name or "\\" in name or _CONTROL.search(name)
            or name != name.strip()):
        raise DAVISFormatError(f"{where}: {what} name {name!r} is not a plain name (no path separators, no '..')")
    return name


def natural_key(name: str) -> Tuple[Tuple, str]:
    """Sort key ordering names with numbers by their value: frame2 before frame10 (then by the text itself)."""
    parts = _DIGITS.split(name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def natural_sorted(names: Iterable[str]) -> List[str]:
    """Names in natural (numeric-aware) order: the one frame order of the loader and the evaluator."""
    return sorted(names, key=natural_key)


def _read_lines(path: str) -> List[Tuple[int, str]]:
    """(line number, stripped text) of the non-empty lines of an ImageSets file."""
    if not os.path.isfile(path):
        raise DAVISNotFoundError(f"DAVIS ImageSets file not found: {path}")
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = [(number, line.strip()) for number, line in enumerate(f, start=1)]
    except (OSError, UnicodeDecodeError) as e:
        raise DAVISFormatError(f"cannot read DAVIS ImageSets file {path}: {e}") from e
    lines = [(number, text) for number, text in lines if text]
    if not lines:
        raise DAVISFormatError(f"DAVIS ImageSets file {path} lists no sequences")
    return lines


@dataclass(frozen=True)
class DAVISLayout:
    """Where one DAVIS set's frames, annotations and sequence list are (datasets/README.md has the layouts)."""

    root: str
    year: str
    split: str
    resolution: str = "480p"
    annotations: str = "Annotations"

    def __post_init__(self):
        _check_choice("year", self.year, YEARS)
        _check_choice("resolution", self.resolution, RESOLUTIONS)
        _check_choice("annotation folder", self.annotations, ANNOTATION_FOLDERS)
        if self.year == "2016" and self.annotations != "Annotations":
            raise ValueError("DAVIS 2016 mask paths come from its ImageSets lists; annotations must be 'Annotations'")
        check_name(self.split, "split", f"DAVIS {self.year} set in {self.root}")

    @classmethod
    def find(
        cls,
        root: str,
        split: str = "val",
        year: Optional[str] = None,
        resolution: str = "480p",
        task: Optional[str] = None,
    ) -> "DAVISLayout":
        """The layout of a DAVIS root: the year from which ImageSets list exists when not given, and the
        unsupervised annotations (where present) for the unsupervised task."""
        cls.check_root(root)
        if year is None:
            candidates = [cls(root, y, split, resolution) for y in ("2017", "2016")]
            found = [c for c in candidates if all(os.path.isfile(p) for p in c.imageset_files())]
            if not found:
                looked = " and ".join(f"{', '.join(c.imageset_files())} (DAVIS {c.year})" for c in candidates)
                raise DAVISNotFoundError(f"no sequence list for set {split!r} in {root!r}: looked for {looked}")
            year = found[0].year
        layout = cls(root, str(year), split, resolution)
        if task == "unsupervised" and layout.year == "2017":
            unsupervised = cls(root, layout.year, split, resolution, "Annotations_unsupervised")
            if os.path.isdir(unsupervised.annotation_dir):
                return unsupervised
            logger.warning(f"{unsupervised.annotation_dir} not found: scoring the unsupervised task on "
                           f"{layout.annotation_dir}")
        return layout

    @staticmethod
    def check_root(root: str) -> None:
        """Raise DAVISNotFoundError if the DAVIS root folder does not exist."""
        if not os.path.isdir(root):
            raise DAVISNotFoundError(
                f"DAVIS root folder not found: {root} (see datasets/README.md; set $DETECTRON2_DATASETS, "
                "$DAVIS2016_ROOT / $DAVIS2017_ROOT, or call register_davis with the right root)"
            )

    @property
    def resolution_folder(self) -> str:
        """'480p', 'Full-Resolution' (2017) or '1080p' (2016)."""
        return resolution_folder(self.year, self.resolution)

    @property
    def image_dir(self) -> str:
        """Folder of ``<sequence>/<frame>.jpg``."""
        return os.path.join(self.root, "JPEGImages", self.resolution_folder)

    @property
    def annotation_dir(self) -> str:
        """Folder of ``<sequence>/<frame>.png``."""
        return os.path.join(self.root, self.annotations, self.resolution_folder)

    def imageset_files(self) -> List[str]:
        """The ImageSets list(s) of the set; 2017 'trainval' is train.txt + val.txt unless trainval.txt exists."""
        if self.year == "2016":
            return [os.path.join(self.root, "ImageSets", self.resolution_folder, f"{self.split}.txt")]
        folder = os.path.join(self.root, "ImageSets", "2017")
        single = os.path.join(folder, f"{self.split}.txt")
        if self.split == "trainval" and not os.path.isfile(single):
            return [os.path.join(folder, "train.txt"), os.path.join(folder, "val.txt")]
        return [single]

    def sequences(self) -> Tuple[str, ...]:
        """The set's sequence names in list order, each once; a name that is not a plain name is an error."""
        self.check_root(self.root)
        if self.year == "2016":
            return tuple(self.listed_frames())
        names: "OrderedDict[str, None]" = OrderedDict()
        for path in self.imageset_files():
            for number, name in _read_lines(path):
                names[check_name(name, "sequence", f"{path}:{number}")] = None
        return tuple(names)

    def listed_frames(self) -> "OrderedDict[str, List[Tuple[str, Optional[str]]]]":
        """DAVIS 2016: sequence -> [(frame path, mask path or None)] from the list's
        ``/JPEGImages/<res>/<seq>/<frame>.jpg [/Annotations/<res>/<seq>/<frame>.png]`` lines, in natural order."""
        if self.year != "2016":
            raise ValueError("only DAVIS 2016 lists name frames; DAVIS 2017 lists only sequences")
        (path,) = self.imageset_files()
        expected = "'/JPEGImages/<res>/<seq>/<frame>.jpg /Annotations/<res>/<seq>/<frame>.png'"
        sequences: "OrderedDict[str, List[Tuple[str, Optional[str]]]]" = OrderedDict()
        for number, line in _read_lines(path):
            where = f"{path}:{number}"
            entries = line.split()
            if len(entries) not in (1, 2):
                raise DAVISFormatError(f"{where}: expected {expected}, got {line!r}")
            parts = [entry.strip("/").split("/") for entry in entries]
            if any(len(p) != 4 for p in parts):
                raise DAVISFormatError(f"{where}: expected {expected}, got {line!r}")
            for p in parts:
                for component, what in zip(p, ("folder", "resolution", "sequence", "frame")):
                    check_name(component, what, where)
            sequence = parts[0][2]
            if len(parts) == 2 and parts[1][2] != sequence:
                raise DAVISFormatError(f"{where}: frame and mask are of different sequences in {line!r}")
            frame = os.path.join(self.root, *parts[0])
            mask = os.path.join(self.root, *parts[1]) if len(parts) == 2 else None
            sequences.setdefault(sequence, []).append((frame, mask))
        for pairs in sequences.values():
            pairs.sort(key=lambda pair: natural_key(os.path.splitext(os.path.basename(pair[0]))[0]))
        return sequences

    def frame_files(self, sequence: str) -> List[str]:
        """File names of a sequence's JPEG frames in natural order ([] if its folder is missing)."""
        folder = os.path.join(self.image_dir, sequence)
        if not os.path.isdir(folder):
            return []
        return natural_sorted(n for n in os.listdir(folder) if n.lower().endswith(FRAME_EXT))

    def annotation_frames(self, sequence: str) -> List[str]:
        """Frame names (stems) of a sequence's annotation PNGs in natural order; an error if there are none."""
        return annotation_frames(self.annotation_dir, sequence)


def annotation_frames(annotation_dir: str, sequence: str) -> List[str]:
    """Frame names (stems) of ``<annotation_dir>/<sequence>/*.png`` in natural order; an error if there are none."""
    folder = os.path.join(annotation_dir, sequence)
    if not os.path.isdir(folder):
        raise DAVISNotFoundError(f"annotation folder of sequence {sequence!r} not found: {folder}")
    frames = natural_sorted(n[: -len(MASK_EXT)] for n in os.listdir(folder) if n.endswith(MASK_EXT))
    if not frames:
        raise DAVISNotFoundError(f"no annotation PNGs in {folder}")
    return frames


def annotation_policy(year: Optional[str]) -> str:
    """The id-PNG policy (:mod:`.id_png`) of a DAVIS year's annotations: binary for 2016, ids with void for 2017,
    a result's for None."""
    if year is None:
        return id_png.RESULT
    _check_choice("year", year, YEARS)
    return id_png.BINARY if year == "2016" else id_png.VOID


def read_id_png(path: str, year: Optional[str] = None) -> np.ndarray:
    """Decode a DAVIS mask or result PNG into an (H, W) uint8 id map, following the module's PNG policy.

    ``year``: "2016" / "2017" for a set's annotations, None for results and masks of no particular year.
    """
    return id_png.read_id_png(path, annotation_policy(year), error=DAVISFormatError, what="DAVIS mask",
                              binary_hint=_BINARY_HINT)


def write_id_png(path: str, ids: np.ndarray, year: Optional[str] = None) -> None:
    """Write an (H, W) id map atomically: an indexed PNG with the DAVIS palette, or for ``year="2016"`` the
    DAVIS 2016 annotation format (a grey PNG, 255 where any object is)."""
    id_png.write_id_png(path, ids, binary=year == "2016")
