"""The YouTube-VOS file format, defined once: folder layout, meta.json, frame lists, the held-out split.

Like :mod:`.davis_format` (whose id-PNG reader, natural frame order and name checks it reuses), this module imports
only the standard library, numpy and PIL. Layout of one release (2018 or 2019)::

    <root>/<split>/JPEGImages/<video>/<frame>.jpg     frames at 6 fps (every 5th frame of the 30 fps video),
                                                      named by their 30 fps frame number: 00000, 00005, ...
    <root>/<split>/Annotations/<video>/<frame>.png    indexed PNGs of object ids (0 background, 1..K objects);
                                                      train: one per JPEG; valid: only on the frames where some
                                                      object first appears, holding just those objects
    <root>/<split>/meta.json                          {"videos": {<video>: {"objects": {"<id>": {"category": str,
                                                      "frames": [frame names]}}}}}
    <root>/<split>_all_frames/JPEGImages/<video>/*.jpg   optional: every 30 fps frame

Mask PNGs are read by :func:`read_mask` with the id-PNG "void" policy (:mod:`.id_png`): indexed or grey ids, RGB
PNGs in the palette converted, 255 never an object; errors are YTVOSFormatErrors naming the file.

The held-out split (:func:`holdout_videos`): a video is held out when the SHA-1 of its id, read as a number in
[0, 1), is below ``fraction`` (default 0.05). The rule depends on the video id alone, so it is the same on every
machine, needs no file, and a video held out of one release is held out of every release that has it (2018 train
videos that are also in 2019 train fall on the same side). A set with videos but none below the threshold holds
out the one with the smallest hash, so the held-out split is never empty.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from . import id_png
from .davis_format import FRAME_EXT, MASK_EXT, VOID_ID, DAVISFormatError, check_name, natural_sorted
from .errors import VOSFormatError, VOSNotFoundError
from .io import join_under

__all__ = [
    "HOLDOUT_FRACTION",
    "MASK_POLICY",
    "MASK_YEAR",
    "SUBSETS",
    "YTVOSFormatError",
    "YTVOSLayout",
    "YTVOSNotFoundError",
    "check_mask_ids",
    "first_appearances",
    "holdout_videos",
    "read_mask",
    "select_videos",
    "split_frames",
    "video_hash_fraction",
]

# Fraction of train videos in the held-out split.
HOLDOUT_FRACTION = 0.05
# The id-PNG policy of YouTube-VOS masks (ids, 255 never an object).
MASK_POLICY = id_png.VOID
# The DAVIS year whose read_id_png policy is YouTube-VOS's (for davis_format.read_id_png callers).
MASK_YEAR = "2017"
# Named subsets of a split: the held-out videos and the rest.
SUBSETS = ("holdout", "minus_holdout")


class YTVOSFormatError(VOSFormatError):
    """A YouTube-VOS folder, meta.json or mask does not follow the format; the message names the file or video."""


class YTVOSNotFoundError(YTVOSFormatError, VOSNotFoundError):
    """A folder or file the YouTube-VOS layout needs is missing."""


def _plain(name: object, what: str, where: str) -> str:
    """``name`` if it is a plain string name (see davis_format.check_name), else a YTVOSFormatError naming where."""
    if not isinstance(name, str):
        raise YTVOSFormatError(f"{where}: {what} name {name!r} is not a string")
    try:
        return check_name(name, what, where)
    except DAVISFormatError as e:
        raise YTVOSFormatError(str(e)) from e


def _parse_meta(path: str, text: str) -> Dict[str, Dict[int, Dict[str, object]]]:
    """The validated content of a meta.json: {video: {object id: {"category": str | None, "frames": [str]}}}."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise YTVOSFormatError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(data, dict) or "videos" not in data:
        raise YTVOSFormatError(f'{path}: expected a JSON object with a "videos" key '
                               '({"videos": {<video>: {"objects": {...}}}})')
    videos = data["videos"]
    if not isinstance(videos, dict):
        raise YTVOSFormatError(f'{path}: "videos" must be an object of video id -> video, got {type(videos).__name__}')
    meta: Dict[str, Dict[int, Dict[str, object]]] = {}
    for video, entry in videos.items():
        _plain(video, "video", f'{path}: "videos"')
        where = f'{path}: video {video!r}'
        if not isinstance(entry, dict) or not isinstance(entry.get("objects"), dict):
            raise YTVOSFormatError(f'{where}: expected {{"objects": {{"<id>": {{...}}}}}}, got {entry!r:.80}')
        objects: Dict[int, Dict[str, object]] = {}
        for key, obj in entry["objects"].items():
            try:
                object_id = int(key)
            except (TypeError, ValueError):
                object_id = -1
            if str(object_id) != str(key).strip() or not 1 <= object_id < VOID_ID:
                raise YTVOSFormatError(f'{where}: object key {key!r} is not an object id 1..{VOID_ID - 1}')
            if object_id in objects:
                raise YTVOSFormatError(f'{where}: object id {object_id} is listed twice')
            obj_where = f"{where}, object {key!r}"
            if not isinstance(obj, dict):
                raise YTVOSFormatError(f'{obj_where}: expected {{"category": ..., "frames": [...]}}, got {obj!r:.80}')
            category = obj.get("category")
            if category is not None and not isinstance(category, str):
                raise YTVOSFormatError(f'{obj_where}: "category" must be a string, got {category!r:.80}')
            frames = obj.get("frames")
            if not isinstance(frames, list):
                raise YTVOSFormatError(f'{obj_where}: "frames" must be a list of frame names, got {frames!r:.80}')
            for frame in frames:
                _plain(frame, "frame", f'{obj_where} "frames"')
            objects[object_id] = {"category": category, "frames": list(frames)}
        meta[video] = objects
    return meta


@dataclass(frozen=True)
class YTVOSLayout:
    """Where one YouTube-VOS split's frames, annotations, all-frames folder and meta.json are (module docstring).

    ``split`` is a plain folder name ("train", "valid", "test"). Nothing is read when the layout is made.
    """

    root: str
    split: str
    _meta_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        _plain(self.split, "split", f"YouTube-VOS set in {self.root}")

    def check_root(self) -> None:
        """Raise YTVOSNotFoundError if the split folder does not exist."""
        folder = os.path.join(self.root, self.split)
        if not os.path.isdir(folder):
            raise YTVOSNotFoundError(
                f"YouTube-VOS {self.split} folder not found: {folder} (see datasets/README.md; set "
                "$DETECTRON2_DATASETS, $YTVOS2018_ROOT / $YTVOS2019_ROOT, or call register_ytvos with the right root)"
            )

    @property
    def image_dir(self) -> str:
        """Folder of ``<video>/<frame>.jpg`` (the 6 fps frames)."""
        return os.path.join(self.root, self.split, "JPEGImages")

    @property
    def annotation_dir(self) -> str:
        """Folder of ``<video>/<frame>.png``."""
        return os.path.join(self.root, self.split, "Annotations")

    @property
    def meta_file(self) -> str:
        """Path of the split's meta.json."""
        return os.path.join(self.root, self.split, "meta.json")

    @property
    def all_frames_folder(self) -> str:
        """Where the optional all-frames JPEGs would be (whether or not they are there)."""
        return os.path.join(self.root, f"{self.split}_all_frames", "JPEGImages")

    @property
    def all_frames_dir(self) -> Optional[str]:
        """Folder of ``<video>/<frame>.jpg`` at 30 fps, or None when the set has no all-frames folder."""
        folder = self.all_frames_folder
        return folder if os.path.isdir(folder) else None

    def meta(self) -> Dict[str, Dict[int, Dict[str, object]]]:
        """The validated meta.json: ``{video: {object id (int): {"category": str | None, "frames": [str]}}}``.

        A missing file, bad JSON, a missing "videos" key, a wrong type or a name that is not a plain name is a
        YTVOSFormatError naming the file and the key or video. Parsed once per file version (mtime and size).
        """
        path = self.meta_file
        try:
            st = os.stat(path)
        except OSError:
            self.check_root()
            raise YTVOSNotFoundError(f"YouTube-VOS meta.json not found: {path}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._meta_cache.get("meta")
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            with open(path, "r", encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise YTVOSFormatError(f"cannot read {path}: {e}") from e
        meta = _parse_meta(path, text)
        self._meta_cache["meta"] = (stamp, meta)
        return meta

    def videos(self) -> List[str]:
        """The video ids of meta.json, sorted (the order of records and results)."""
        return sorted(self.meta())

    def _files(self, root: str, video: str, ext: str, what: str) -> List[str]:
        """File names ending in ``ext`` in ``<root>/<video>``, natural order; an error naming the video and the
        folder (``what``) when it is missing or holds none."""
        folder = join_under(root, _plain(video, "video", self.meta_file))
        names = _listdir(folder)
        files = natural_sorted(n for n in (names or ()) if n.lower().endswith(ext))
        if not files:
            state = "is missing" if names is None else f"holds no {ext} files"
            raise YTVOSNotFoundError(f"video {video!r} is listed in {self.meta_file} but its {what} {folder} {state}")
        return files

    def frame_files(self, video: str) -> List[str]:
        """File names of a video's JPEG frames in ``image_dir``, natural order; an error naming the video and the
        folder when it is missing or holds no JPEG."""
        return self._files(self.image_dir, video, FRAME_EXT, "frame folder")

    def annotation_frames(self, video: str) -> List[str]:
        """Frame names (stems) of a video's annotation PNGs, natural order; an error naming the video and the
        folder when it is missing or holds no PNG."""
        return [n[: -len(MASK_EXT)] for n in self._files(self.annotation_dir, video, MASK_EXT, "annotation folder")]

    def all_frame_files(self, video: str) -> Optional[List[str]]:
        """File names of a video's 30 fps JPEGs in ``all_frames_dir``, natural order; None when the set has no
        all-frames folder; an error naming the video and folder when the folder exists but the video is missing."""
        root = self.all_frames_dir
        return None if root is None else self._files(root, video, FRAME_EXT, "all-frames folder")

    def first_appearances(self, video: str) -> Dict[int, str]:
        """Object id -> its first-appearance frame (:func:`first_appearances` over the video's annotation PNGs, read
        in natural order until every object meta.json lists for the video is found)."""

        def annotated():
            for frame in self.annotation_frames(video):
                ids = read_mask(join_under(self.annotation_dir, video, frame + MASK_EXT))
                yield frame, np.flatnonzero(np.bincount(ids.ravel(), minlength=VOID_ID)[1:VOID_ID]) + 1

        return first_appearances(annotated(), objects=self.meta().get(video))


def read_mask(path: str) -> np.ndarray:
    """A YouTube-VOS mask PNG as an (H, W) uint8 id map (MASK_POLICY); a YTVOSFormatError naming the file."""
    return id_png.read_id_png(path, MASK_POLICY, error=YTVOSFormatError, what="YouTube-VOS mask",
                              binary_hint="YouTube-VOS masks are indexed PNGs of the ids meta.json lists")


def _listdir(folder: str) -> Optional[List[str]]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def first_appearances(
    annotated: Iterable[Tuple[str, Iterable[int]]], objects: Optional[Iterable[int]] = None
) -> Dict[int, str]:
    """Object id -> its first-appearance frame: the first annotated frame (in video order) whose mask holds the id.

    The one definition of first appearance: the loader's ``first_appearance`` field, the semi-supervised given masks,
    the frames a local score skips and the ids a submission may hold all follow from it. ``annotated``: (frame name,
    object ids of its annotation PNG) in video order; with ``objects`` (the ids to find), no further frame is read
    once they all are found. On valid that is the frame whose PNG gives the object; on train
    (a PNG on every frame) the first frame it is on. Objects no PNG holds are absent (no given mask, no ground truth).
    """
    wanted = None if objects is None else set(objects)
    out: Dict[int, str] = {}
    for frame, ids in annotated:
        for obj in sorted(int(i) for i in ids):
            out.setdefault(obj, frame)
        if wanted is not None and wanted <= set(out):
            break
    return dict(sorted(out.items()))


def check_mask_ids(path: str, present: Iterable[int], video: str, listed: Iterable[int], meta_file: str) -> None:
    """An error naming the mask PNG and the ids it holds that meta.json does not list for its video."""
    unknown = sorted(set(int(i) for i in present) - set(int(i) for i in listed))
    if unknown:
        raise YTVOSFormatError(
            f"mask {path} holds object ids {unknown} that {meta_file} does not list for video {video!r} "
            f"(listed: {sorted(int(i) for i in listed)})"
        )


def video_hash_fraction(video: str) -> float:
    """The SHA-1 of a video id (UTF-8) read as a number in [0, 1): what the held-out rule compares."""
    return int(hashlib.sha1(video.encode("utf-8")).hexdigest(), 16) / float(1 << 160)


def holdout_videos(videos: Iterable[str], fraction: float = HOLDOUT_FRACTION) -> List[str]:
    """The held-out videos among ``videos`` (in their given order): those whose :func:`video_hash_fraction` is
    below ``fraction`` (about that fraction of a large set), or, when none is, the one with the smallest hash.

    Deterministic and independent of the other videos in the set (see the module docstring).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1], got {fraction}")
    videos = list(videos)
    held = [v for v in videos if video_hash_fraction(v) < fraction]
    if not held and videos:
        smallest = min(videos, key=video_hash_fraction)
        held = [v for v in videos if v == smallest]
    return held


def select_videos(videos: List[str], subset, where: str) -> List[str]:
    """``videos`` restricted to a subset: None (all), "holdout", "minus_holdout", or an iterable of video ids
    (each must be among ``videos``; an error naming the missing ones and ``where``)."""
    if subset is None:
        return list(videos)
    if isinstance(subset, str):
        if subset not in SUBSETS:
            raise ValueError(f"YouTube-VOS subset must be None, one of {SUBSETS} or a list of video ids, "
                             f"got {subset!r}")
        held = set(holdout_videos(videos))
        keep = subset == "holdout"
        return [v for v in videos if (v in held) == keep]
    wanted = list(subset)
    known = set(videos)
    missing = [v for v in wanted if v not in known]
    if missing:
        raise YTVOSNotFoundError(f"videos {missing[:10]} are not listed in {where}")
    wanted_set = set(wanted)
    return [v for v in videos if v in wanted_set]


def split_frames(layout: YTVOSLayout, video: str) -> Tuple[List[str], List[str]]:
    """(JPEG names, annotation stems) of a video, checking that every annotation PNG has its JPEG."""
    frames = layout.frame_files(video)
    annotated = layout.annotation_frames(video)
    stems = {os.path.splitext(n)[0] for n in frames}
    for object_id, obj in layout.meta()[video].items():  # found now, not when the results are checked
        missing = [frame for frame in obj["frames"] if frame not in stems]
        if missing:
            raise YTVOSFormatError(f"{layout.meta_file} lists frame {missing[0]!r} of video {video!r} (object "
                                   f"{object_id}), but {join_under(layout.image_dir, video, missing[0] + FRAME_EXT)} "
                                   "is missing")
    for stem in annotated:
        if stem not in stems:
            png = join_under(layout.annotation_dir, video, stem + MASK_EXT)
            raise YTVOSFormatError(f"annotation {png} has no frame {stem}{FRAME_EXT} in "
                                   f"{os.path.join(layout.image_dir, video)}")
    return frames, annotated

