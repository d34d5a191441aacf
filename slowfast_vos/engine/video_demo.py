"""Segmenting a video for the demo (tools/demo.py is its command line, as Detectron2's demo/demo.py over
demo/predictor.py): frames from a video file, a webcam or image files stream through ``VideoPredictor`` (one
backbone pass per frame, only the last n frames kept) and become object ids through the evaluators' own
``VideoSegmenter`` (TEST.VOS thresholds, the tracker, at most TEST.VOS.MAX_OBJECTS ids), so the demo writes the same
id masks as ``--eval-only`` for the same weights and frames. Outputs (an .mp4 or folder of overlays, a folder of id
PNGs) are built beside their place and renamed into it at the end (utils.io.building_atomically).
"""
from __future__ import annotations

import contextlib
import glob
import os
from collections import deque
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import tqdm

from vos_eval.davis_format import davis_palette, natural_key, write_id_png

from ..evaluation.segmenter import VideoSegmenter
from ..modeling import VideoPredictor
from vos_eval.folder_builds import building_atomically
from vos_eval.visualization import overlay_masks, pad_even
from .defaults import load_cfg

__all__ = ["FOURCC", "FPS_RANGE", "IMAGE_EXTENSIONS", "VIDEO_EXTENSION", "CaptureSource", "DemoError", "ImageSource",
           "demo_cfg", "expand_inputs", "open_source", "segment_video"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# The --output file type written (anything else with an extension is refused rather than written as a folder).
VIDEO_EXTENSION = ".mp4"
# --fps bounds: a finite, real frame rate.
FPS_RANGE = (1.0, 240.0)
# Codec of --output *.mp4 (MPEG-4 Part 2: in every FFmpeg-enabled OpenCV build).
FOURCC = "mp4v"
WINDOW = "slowfast_vos demo"


class DemoError(Exception):
    """Bad input or output: the message names the file or option."""


def expand_inputs(patterns: Sequence[str]) -> List[str]:
    """Image files named by ``--input`` (files, globs or folders), in natural name order."""
    files: List[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matched = [p for p in glob.glob(pattern) if os.path.isfile(p)]
        elif os.path.isdir(pattern):
            matched = [os.path.join(pattern, n) for n in os.listdir(pattern)
                       if n.lower().endswith(IMAGE_EXTENSIONS)]
        elif os.path.isfile(pattern):
            matched = [pattern]
        else:
            raise DemoError(f"--input {pattern}: no such file or folder")
        if not matched:
            raise DemoError(f"--input {pattern}: matches no image files")
        files.extend(matched)
    files = sorted(dict.fromkeys(files), key=natural_key)
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    if len(set(stems)) != len(stems):
        twice = sorted({s for s in stems if stems.count(s) > 1})
        raise DemoError(f"--input: several frames share the names {twice}; outputs are named after the frames")
    return files


# ----------------------------------------------------------------------------------------------------------------
# Frame sources: (frame name, HxWx3 uint8 BGR frame) in order, with the frame rate and (if known) the frame count.
# ----------------------------------------------------------------------------------------------------------------


class CaptureSource:
    """A video file or a webcam through cv2.VideoCapture; the first frame is read at once to fail early."""

    def __init__(self, capture: cv2.VideoCapture, what: str, default_fps: float, is_live: bool):
        self.what = what
        self.is_live = is_live
        if not capture.isOpened():
            raise DemoError(f"cannot open {what}: OpenCV cannot read it (missing, unreadable or not a video)")
        self.capture = capture
        ok, first = capture.read()
        if not ok or first is None:
            raise DemoError(f"{what} has no frames")
        self.first = first
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else default_fps
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.count = count if count > 0 and not is_live else None

    @property
    def size(self) -> Tuple[int, int]:
        return self.first.shape[:2]

    def __iter__(self) -> Iterator[Tuple[str, np.ndarray]]:
        frame, index = self.first, 0
        try:
            while frame is not None:
                yield f"{index:05d}", frame
                ok, frame = self.capture.read()
                frame = frame if ok else None
                index += 1
        finally:
            self.capture.release()


class ImageSource:
    """Image files taken as the frames of one video, in the given order; all must share one size."""

    is_live = False
    what = "--input"

    def __init__(self, files: Sequence[str], fps: float):
        self.files = list(files)
        self.fps = fps
        self.count = len(self.files)
        self.first = self._read(self.files[0])

    @staticmethod
    def _read(path: str) -> np.ndarray:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise DemoError(f"cannot read image {path}")
        return image

    @property
    def size(self) -> Tuple[int, int]:
        return self.first.shape[:2]

    def __iter__(self) -> Iterator[Tuple[str, np.ndarray]]:
        for i, path in enumerate(self.files):
            frame = self.first if i == 0 else self._read(path)
            if frame.shape[:2] != self.size:
                raise DemoError(f"{path} is {frame.shape[1]}x{frame.shape[0]}, unlike the first frame "
                                f"{self.files[0]} ({self.size[1]}x{self.size[0]}): a video's frames share one size")
            yield os.path.splitext(os.path.basename(path))[0], frame


# ----------------------------------------------------------------------------------------------------------------
# Outputs: each built in a hidden folder beside it (utils.io.building_atomically: one run at a time per output, what
# killed runs left removed) and renamed into place once the last frame is written; removed after an error.
# ----------------------------------------------------------------------------------------------------------------


def _check_writable(path: str, option: str) -> None:
    """A DemoError naming the option when ``path``'s folder cannot be created or written."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DemoError(f"cannot write {option} {path}: {e}") from e
    if not os.access(directory, os.W_OK):
        raise DemoError(f"cannot write {option} {path}: {directory} is not writable")


class VideoSink:
    """An .mp4 (odd frame sizes padded by one black row/column)."""

    def __init__(self, path: str, fps: float, size: Tuple[int, int], outputs: contextlib.ExitStack):
        _check_writable(path, "--output")
        tmp = outputs.enter_context(building_atomically(path, overwrite=True, file=True))
        height, width = size
        self.writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*FOURCC), float(fps),
                                      (width + width % 2, height + height % 2))
        outputs.callback(self.writer.release)  # before the file is renamed into place
        if not self.writer.isOpened():
            raise DemoError(f"cannot write --output {path}: this OpenCV has no {FOURCC!r} video encoder "
                            f"(missing codec); write a folder of frames instead (--output DIR)")

    def write(self, name: str, frame: np.ndarray) -> None:
        self.writer.write(pad_even(frame))


class FolderSink:
    """One file per frame, named after the frame; ``path`` must not exist or be an empty folder."""

    def __init__(self, path: str, option: str, write_frame, outputs: contextlib.ExitStack):
        if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
            raise DemoError(f"{option} {path} already exists and is not an empty folder")
        _check_writable(path, option)
        self.folder = outputs.enter_context(building_atomically(path, overwrite=True))
        self.write_frame = write_frame

    def write(self, name: str, frame: np.ndarray) -> None:
        self.write_frame(os.path.join(self.folder, name), frame)


class WindowSink:
    """Shows the overlays in an OpenCV window (no --output and no --save-masks, as in Detectron2's demo)."""

    def __init__(self, outputs: contextlib.ExitStack):
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
        except cv2.error as e:
            raise DemoError("no --output or --save-masks given and this OpenCV cannot open a window "
                            "(a headless build?): give --output and/or --save-masks") from e
        outputs.callback(cv2.destroyWindow, WINDOW)

    def write(self, name: str, frame: np.ndarray) -> None:
        cv2.imshow(WINDOW, frame)
        if cv2.waitKey(1) == 27:  # Esc
            raise KeyboardInterrupt


def _write_jpeg(path: str, frame: np.ndarray) -> None:
    if not cv2.imwrite(path + ".jpg", frame):
        raise DemoError(f"cannot write {path}.jpg")


def _write_mask(path: str, labels: np.ndarray) -> None:
    write_id_png(path + ".png", labels)


def demo_cfg(config_file: str, opts: Sequence[str] = (), confidence_threshold: Optional[float] = None):
    """The model's config with ``opts``; ``confidence_threshold`` (the demo's --confidence-threshold) replaces
    TEST.VOS.SCORE_THRESH, the evaluators' instance score threshold, and lowers the ROI heads' test threshold so
    that they do not drop what it keeps."""
    cfg = load_cfg(config_file, list(opts), freeze=False)
    if confidence_threshold is not None:
        cfg.TEST.VOS.SCORE_THRESH = confidence_threshold
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = min(cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST, confidence_threshold)
    cfg.freeze()
    return cfg


def open_source(video_input: Optional[str] = None, inputs: Optional[Sequence[str]] = None, webcam: bool = False,
                fps: float = 24.0):
    """The frames of a video file, a webcam (camera 0) or image files (paths, globs or folders), in that order of
    preference; ``fps`` for images and for a capture that reports no frame rate."""
    if video_input:
        return CaptureSource(cv2.VideoCapture(video_input), f"--video-input {video_input}", fps, False)
    if webcam:
        return CaptureSource(cv2.VideoCapture(0), "the webcam (camera 0)", fps, True)
    return ImageSource(expand_inputs(inputs or ()), fps)


def _open_sinks(source, output: Optional[str], save_masks: Optional[str],
                outputs: contextlib.ExitStack) -> Tuple[list, list]:
    """(overlay sinks, mask sinks) for the outputs asked for; an OpenCV window when none is."""
    overlays, masks = [], []
    if output and output.lower().endswith(VIDEO_EXTENSION):
        overlays.append(VideoSink(output, source.fps, source.size, outputs))
    elif output:
        overlays.append(FolderSink(output, "--output", _write_jpeg, outputs))
    if save_masks:
        masks.append(FolderSink(save_masks, "--save-masks", _write_mask, outputs))
    if not overlays and not masks:
        overlays.append(WindowSink(outputs))
    return overlays, masks


def segment_video(cfg, source, output: Optional[str] = None, save_masks: Optional[str] = None) -> int:
    """Segment every frame of ``source`` (open_source) with the evaluators' VideoSegmenter into the outputs:
    ``output`` an .mp4 or a folder of overlay JPEGs, ``save_masks`` a folder of id PNGs (neither: a window).
    The outputs appear only once the last frame is written (an error or a video that ends before its reported frame
    count leaves none); returns the number of frames."""
    with contextlib.ExitStack() as outputs:
        overlays, masks = _open_sinks(source, output, save_masks, outputs)
        predictor = VideoPredictor(cfg)
        segmenter = VideoSegmenter.from_config(cfg)
        video = segmenter.new_video()
        palette = davis_palette()
        pending: deque = deque()  # frames waiting for their output (the window's n // 2 look-ahead)

        def frames() -> Iterator[np.ndarray]:
            for name, frame in source:
                pending.append((name, frame))
                yield frame

        count = 0
        with tqdm.tqdm(total=source.count, unit="frame", desc="demo", dynamic_ncols=True) as bar:
            try:
                for instances in predictor(frames()):
                    name, frame = pending.popleft()
                    height, width = frame.shape[:2]
                    labels = segmenter.segment(video, instances, height, width, f"{source.what} frame {name}",
                                               image=frame)
                    for sink in masks:
                        sink.write(name, labels)
                    if overlays:
                        drawn = overlay_masks(frame, labels, palette)
                        for sink in overlays:
                            sink.write(name, drawn)
                    count += 1
                    bar.update(1)
            except KeyboardInterrupt:
                if not source.is_live:
                    raise
        if source.count is not None and count < source.count:
            raise DemoError(f"{source.what}: read {count} of its {source.count} frames (the file ends early or is "
                            "corrupt); no output written")
    return count
