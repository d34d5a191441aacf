"""A YouTube-VOS submission: the check that a results folder is complete and valid, and the zip the server takes.

The server unpacks ``Annotations/<video>/<frame>.png`` (indexed PNGs of the given ids) for every frame the split's
meta.json lists for the video (:func:`.ytvos.required_frames`); an object's id may appear from its first appearance
on (:meth:`.ytvos_format.YTVOSLayout.first_appearances`).
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Tuple

import numpy as np
from PIL import Image

from .davis_format import FRAME_EXT, MASK_EXT, natural_key
from .io import atomic_write, join_under
from .run_folder import YTVOS_RESULTS
from .scoring import MAX_LISTED
from .ytvos import required_frames
from .ytvos_format import YTVOSFormatError, YTVOSLayout, YTVOSNotFoundError

__all__ = ["SUBMISSION_ROOT", "SubmissionReport", "YTVOSSubmissionError", "check_submission", "write_submission_zip"]

# The folder the result PNGs go in, and the one top-level folder of a submission zip (what the server unpacks).
SUBMISSION_ROOT = YTVOS_RESULTS


class YTVOSSubmissionError(YTVOSFormatError):
    """A results folder is not a complete, valid YouTube-VOS submission; the message lists what is wrong."""


@dataclass
class SubmissionReport:
    """What :func:`check_submission` found: counts and the problem frames (``<video>/<frame>`` items) by kind."""

    results_dir: str
    videos: int = 0
    frames: int = 0
    missing: List[str] = field(default_factory=list)
    wrong_size: List[str] = field(default_factory=list)
    bad_ids: List[str] = field(default_factory=list)
    unreadable: List[str] = field(default_factory=list)
    not_listed: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No missing, unreadable, wrongly sized or wrongly labelled frame (frames not listed are only noted)."""
        return not (self.missing or self.wrong_size or self.bad_ids or self.unreadable)

    def summary(self, max_listed: int = MAX_LISTED) -> str:
        """A readable account: the counts, then each kind of problem with its first ``max_listed`` items."""
        head = (f"{self.results_dir}: {self.frames} frames of {self.videos} videos expected; "
                + ("complete and valid" if self.ok else "NOT a valid submission"))
        parts = [head]
        for title, items in (("missing frames", self.missing), ("frames of the wrong size", self.wrong_size),
                             ("frames with ids the video does not have there", self.bad_ids),
                             ("unreadable or non-indexed PNGs", self.unreadable),
                             ("files not listed in meta.json (left out of the zip)", self.not_listed)):
            if items:
                shown = "\n    ".join(items[:max_listed])
                more = f"\n    ... and {len(items) - max_listed} more" if len(items) > max_listed else ""
                parts.append(f"  {len(items)} {title}:\n    {shown}{more}")
        return "\n".join(parts)

    def raise_if_invalid(self, max_listed: int = MAX_LISTED) -> None:
        """A YTVOSSubmissionError with :meth:`summary` unless the submission is valid."""
        if not self.ok:
            raise YTVOSSubmissionError(self.summary(max_listed))


def _frame_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) of an image from its header, or None if it cannot be read."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError):
        return None


def check_submission(
    results_dir: str,
    layout: YTVOSLayout,
    *,
    videos: Optional[Iterable[str]] = None,
    image_dir: Optional[str] = None,
) -> SubmissionReport:
    """Check a results folder (``<video>/<frame>.png``) against a split's meta.json.

    Every frame meta.json lists for a video must have an indexed (or grey) PNG of the size of that frame's JPEG
    (in ``image_dir``, default the layout's) holding only 0 and the ids of the video's objects that have appeared by
    that frame (an object is segmented from its first appearance on, read from the split's annotations). PNGs of
    frames or videos meta.json does not list are noted (:attr:`SubmissionReport.not_listed`), not errors. Reads each
    result PNG once.
    """
    meta = layout.meta()
    image_dir = image_dir or layout.image_dir
    names = list(videos) if videos is not None else sorted(meta)
    if not names:  # an empty submission is never complete
        raise YTVOSFormatError(f"no videos to check: {layout.meta_file} lists none" if not meta else "no videos given")
    report = SubmissionReport(results_dir)
    for video in names:
        if video not in meta:
            raise YTVOSNotFoundError(f"video {video!r} is not in {layout.meta_file}")
        objects = meta[video]
        frames = required_frames(objects)
        starts = {obj: natural_key(frame) for obj, frame in layout.first_appearances(video).items()}
        report.videos += 1
        report.frames += len(frames)
        folder = join_under(results_dir, video)
        present = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        for frame in frames:
            item = f"{video}/{frame}"
            if frame + MASK_EXT not in present:
                report.missing.append(item)
                continue
            path = os.path.join(folder, frame + MASK_EXT)
            try:
                with Image.open(path) as image:
                    image.load()
                    mode, size, array = image.mode, image.size, np.asarray(image)
            except (OSError, SyntaxError, ValueError) as e:
                report.unreadable.append(f"{item} ({e})")
                continue
            if mode not in ("P", "L"):
                report.unreadable.append(f"{item} (mode {mode!r}; the server reads indexed PNGs of ids)")
                continue
            expected = _frame_size(os.path.join(image_dir, video, frame + FRAME_EXT))
            if expected is None:
                frame_path = os.path.join(image_dir, video, frame + FRAME_EXT)
                report.wrong_size.append(f"{item} (no readable frame {frame_path} to compare with)")
            elif size != expected:
                report.wrong_size.append(f"{item} ({size[0]}x{size[1]}, the frame is {expected[0]}x{expected[1]})")
            ids = np.flatnonzero(np.bincount(array.ravel(), minlength=256))
            allowed = {obj for obj, start in starts.items() if start <= natural_key(frame)}
            bad = sorted(int(i) for i in ids if i and int(i) not in allowed)
            if bad:
                report.bad_ids.append(f"{item} (ids {bad}; allowed here: {sorted(allowed)})")
        listed = set(f + MASK_EXT for f in frames)
        report.not_listed += sorted(f"{video}/{n}" for n in present if n not in listed)
    if os.path.isdir(results_dir):
        wanted = set(names)
        report.not_listed += sorted(f"{n}/" for n in os.listdir(results_dir)
                                    if n not in wanted and os.path.isdir(os.path.join(results_dir, n)))
    return report


def write_submission_zip(
    results_dir: str,
    layout: YTVOSLayout,
    output: str,
    *,
    videos: Optional[Iterable[str]] = None,
    image_dir: Optional[str] = None,
    report: Optional[SubmissionReport] = None,
) -> SubmissionReport:
    """Check ``results_dir`` (:func:`check_submission`, unless ``report`` is a valid check of it already; an invalid
    one is a YTVOSSubmissionError and writes nothing) and zip its listed frames as
    ``Annotations/<video>/<frame>.png`` at the zip's root, the layout the YouTube-VOS server unpacks. The zip is
    written to a temporary file beside ``output``, read back (every entry, its CRC) and only then renamed to
    ``output``: a failure leaves no zip, or the previous one, at ``output``."""
    names = list(videos) if videos is not None else None
    if report is None:
        report = check_submission(results_dir, layout, videos=names, image_dir=image_dir)
    report.raise_if_invalid()
    meta = layout.meta()
    entries = [(os.path.join(results_dir, video, frame + MASK_EXT), f"{SUBMISSION_ROOT}/{video}/{frame}{MASK_EXT}")
               for video in (names if names is not None else sorted(meta))
               for frame in required_frames(meta[video])]

    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path, arcname in entries:
                zf.write(path, arcname)
        with zipfile.ZipFile(tmp) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise YTVOSSubmissionError(f"{output}: entry {bad} of the written zip is corrupt")
            if zf.namelist() != [arcname for _, arcname in entries]:
                raise YTVOSSubmissionError(f"{output}: the written zip does not hold the {len(entries)} expected "
                                           "entries")

    atomic_write(output, write)
    return report
