#!/usr/bin/env python
"""Segment your own video with a trained SlowFast VOS model (Detectron2's demo convention).

    python tools/demo.py --config-file configs/quickstart/slowfast_3-7.yaml --video-input in.mp4 --output out.mp4 \\
        --opts MODEL.WEIGHTS output/quickstart/slowfast_3-7/model_final.pth
    python tools/demo.py --config-file ... --input 'frames/*.jpg' --output overlays/ --save-masks results/my_video
    python tools/demo.py --config-file ... --webcam --output webcam.mp4          # Ctrl-C ends the recording

Frames stream through ``VideoPredictor``: one backbone pass per frame and only the last n frames kept, so memory
does not depend on the video's length. Instances become object ids through the evaluators' own VideoSegmenter
(TEST.VOS: score and mask thresholds, the tracker that re-acquires lost objects, at most TEST.VOS.MAX_OBJECTS ids),
so the demo writes the same id masks as ``--eval-only`` for the same weights and frames; overlays draw each id in
its DAVIS palette colour. Outputs keep the input's frame count and frame rate:

- ``--output X.mp4``: an MPEG-4 video (odd frame sizes are padded by one black row/column);
- ``--output DIR``: one overlay JPEG per frame, named like the input frame (``00000.jpg``... for videos);
- ``--save-masks DIR``: one DAVIS indexed PNG of object ids per frame, so ``--save-masks results/<sequence>``
  can be scored by ``python -m vos_eval`` against annotations of that sequence.

Outputs are written under temporary names and renamed when the last frame is done: an error, an interrupted run
or a video that ends before its reported frame count (a truncated or corrupt file) leaves no output that looks
complete and exits non-zero; the next run into the same place removes what a killed run left. Empty MODEL.WEIGHTS
is an error unless ``--allow-random-weights``. ``--opts TEST.PRECISION bf16`` runs the model in bf16.
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import re
import shutil
import signal
import sys
from collections import deque
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import tqdm

from slowfast_vos.engine import load_cfg
from slowfast_vos.engine.checkpoint import WeightsError, require_weights
from slowfast_vos.evaluation.segmenter import VideoSegmenter
from slowfast_vos.modeling import VideoPredictor
from slowfast_vos.utils.console import quiet_third_party_noise
from slowfast_vos.visualization import overlay_masks, pad_even
from vos_eval.davis_format import davis_palette, natural_key, write_id_png

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
# Outputs: written under temporary names, renamed by commit(), removed by abort().
# ----------------------------------------------------------------------------------------------------------------


def _temporary_sibling(path: str, option: str) -> str:
    """A hidden name beside ``path`` for its partial output; errors name the option if the folder is not writable."""
    directory, name = os.path.split(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DemoError(f"cannot write {option} {path}: {e}") from e
    if not os.access(directory, os.W_OK):
        raise DemoError(f"cannot write {option} {path}: {directory} is not writable")
    stem, ext = os.path.splitext(name)
    _remove_dead_partials(directory, stem, ext)
    return os.path.join(directory, f".{stem}.partial-{os.getpid()}{ext}")


def _remove_dead_partials(directory: str, stem: str, ext: str) -> None:
    """Remove the partial outputs that killed runs (SIGKILL) left beside this output: their pid is gone."""
    pattern = re.compile(rf"\.{re.escape(stem)}\.partial-(\d+){re.escape(ext)}")
    for entry in os.listdir(directory):
        match = pattern.fullmatch(entry)
        if match is None or _alive(int(match.group(1))):
            continue
        path = os.path.join(directory, entry)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (this one's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class VideoSink:
    """An .mp4 written under a temporary name beside it."""

    def __init__(self, path: str, fps: float, size: Tuple[int, int]):
        self.path = path
        self.tmp = _temporary_sibling(path, "--output")
        height, width = size
        self.writer = cv2.VideoWriter(self.tmp, cv2.VideoWriter_fourcc(*FOURCC), float(fps),
                                      (width + width % 2, height + height % 2))
        if not self.writer.isOpened():
            self.abort()
            raise DemoError(f"cannot write --output {path}: this OpenCV has no {FOURCC!r} video encoder "
                            f"(missing codec); write a folder of frames instead (--output DIR)")

    def write(self, name: str, frame: np.ndarray) -> None:
        self.writer.write(pad_even(frame))

    def commit(self) -> None:
        self.writer.release()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.release()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)


class FolderSink:
    """One file per frame in a temporary folder beside ``path``, renamed to ``path`` at the end."""

    def __init__(self, path: str, option: str, write_frame):
        self.path = os.path.abspath(path)
        if os.path.exists(self.path) and (not os.path.isdir(self.path) or os.listdir(self.path)):
            raise DemoError(f"{option} {path} already exists and is not an empty folder")
        self.tmp = _temporary_sibling(path, option)
        os.makedirs(self.tmp)
        self.write_frame = write_frame

    def write(self, name: str, frame: np.ndarray) -> None:
        self.write_frame(os.path.join(self.tmp, name), frame)

    def commit(self) -> None:
        if os.path.isdir(self.path):
            os.rmdir(self.path)  # empty (checked at start)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class WindowSink:
    """Shows the overlays in an OpenCV window (no --output and no --save-masks, as in Detectron2's demo)."""

    def __init__(self):
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
        except cv2.error as e:
            raise DemoError("no --output or --save-masks given and this OpenCV cannot open a window "
                            "(a headless build?): give --output and/or --save-masks") from e

    def write(self, name: str, frame: np.ndarray) -> None:
        cv2.imshow(WINDOW, frame)
        if cv2.waitKey(1) == 27:  # Esc
            raise KeyboardInterrupt

    def commit(self) -> None:
        cv2.destroyWindow(WINDOW)

    abort = commit


def _write_jpeg(path: str, frame: np.ndarray) -> None:
    if not cv2.imwrite(path + ".jpg", frame):
        raise DemoError(f"cannot write {path}.jpg")


def _write_mask(path: str, labels: np.ndarray) -> None:
    write_id_png(path + ".png", labels)


# ----------------------------------------------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True, metavar="FILE", help="path to the model's config file")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video-input", metavar="FILE", help="a video file")
    source.add_argument("--input", nargs="+", metavar="PATH",
                        help="image files, globs ('frames/*.jpg') or folders: the frames of one video, name order")
    source.add_argument("--webcam", action="store_true", help="camera 0, until Ctrl-C (or Esc in the window)")
    p.add_argument("--output", metavar="PATH", help="an .mp4 file, or a folder for one overlay JPEG per frame")
    p.add_argument("--save-masks", metavar="DIR", help="folder for one DAVIS indexed PNG of object ids per frame")
    p.add_argument("--confidence-threshold", type=float, default=None,
                   help="minimum score of the instances shown and saved (TEST.VOS.SCORE_THRESH; default: the "
                        "config's, as evaluation uses it)")
    p.add_argument("--fps", type=float, default=24.0,
                   help="frame rate of --input frames (and of a video or camera that does not report one)")
    p.add_argument("--allow-random-weights", action="store_true",
                   help="run a randomly initialised model when MODEL.WEIGHTS is empty")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides KEY VALUE ... (last)")
    args = p.parse_args(argv)
    if args.confidence_threshold is not None and not 0.0 <= args.confidence_threshold <= 1.0:
        p.error(f"--confidence-threshold must be in [0, 1], got {args.confidence_threshold}")
    if not (math.isfinite(args.fps) and FPS_RANGE[0] <= args.fps <= FPS_RANGE[1]):
        p.error(f"--fps must be a frame rate in [{FPS_RANGE[0]:g}, {FPS_RANGE[1]:g}], got {args.fps}")
    if args.output and os.path.splitext(args.output.rstrip(os.sep))[1].lower() not in ("", VIDEO_EXTENSION) \
            and not os.path.isdir(args.output):
        p.error(f"--output {args.output}: write an {VIDEO_EXTENSION} video or a folder of JPEGs (a path without "
                f"extension); other video types are not written")
    if args.output and args.save_masks and os.path.abspath(args.output) == os.path.abspath(args.save_masks):
        p.error(f"--output and --save-masks are the same folder {args.save_masks}; give each its own")
    return args


def setup_cfg(args: argparse.Namespace):
    cfg = load_cfg(args.config_file, args.opts, freeze=False)
    if args.confidence_threshold is not None:
        cfg.TEST.VOS.SCORE_THRESH = args.confidence_threshold
        # The ROI heads must not drop what the threshold keeps.
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = min(cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST, args.confidence_threshold)
    cfg.freeze()
    return cfg


def open_source(args: argparse.Namespace):
    if args.video_input:
        return CaptureSource(cv2.VideoCapture(args.video_input), f"--video-input {args.video_input}", args.fps, False)
    if args.webcam:
        return CaptureSource(cv2.VideoCapture(0), "the webcam (camera 0)", args.fps, True)
    return ImageSource(expand_inputs(args.input), args.fps)


def open_sinks(args: argparse.Namespace, source) -> Tuple[list, list]:
    """(overlay sinks, mask sinks) for the output options."""
    overlays, masks = [], []
    try:
        if args.output and args.output.lower().endswith(VIDEO_EXTENSION):
            overlays.append(VideoSink(args.output, source.fps, source.size))
        elif args.output:
            overlays.append(FolderSink(args.output, "--output", _write_jpeg))
        if args.save_masks:
            masks.append(FolderSink(args.save_masks, "--save-masks", _write_mask))
        if not overlays and not masks:
            overlays.append(WindowSink())
    except BaseException:
        for sink in overlays + masks:
            sink.abort()
        raise
    return overlays, masks


def run(args: argparse.Namespace) -> int:
    """Segment every frame of the source into the outputs; returns the number of frames."""
    source = open_source(args)
    cfg = setup_cfg(args)
    require_weights(cfg.MODEL.WEIGHTS, allow_random=args.allow_random_weights, what="the demo")
    overlays, masks = open_sinks(args, source)
    sinks = overlays + masks
    try:
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
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    for sink in sinks:
        sink.commit()
    return count


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        count = run(args)
    except (DemoError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    written = [p for p in (args.output, args.save_masks) if p]
    print(f"{count} frames" + (f" written to {', '.join(written)}" if written else ""), file=sys.stderr)
    return 0


def _exit_on_sigterm(signum, frame) -> None:
    """SIGTERM ends the demo like Ctrl-C on a file: partial outputs are removed on the way out."""
    sys.exit(128 + signum)


if __name__ == "__main__":
    quiet_third_party_noise()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main())
