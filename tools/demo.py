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

Outputs are built in hidden folders beside them and renamed when the last frame is done: an error, an interrupted
run or a video that ends before its reported frame count (a truncated or corrupt file) leaves no output that looks
complete and exits non-zero; the next run into the same place removes what a killed run left, and a second run
into an output a live run is writing is refused. Empty MODEL.WEIGHTS is an error unless ``--allow-random-weights``.
``--opts TEST.PRECISION bf16`` runs the model in bf16. The pipeline is slowfast_vos/engine/video_demo.py.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from typing import Optional, Sequence

from slowfast_vos.engine.checkpoint import WeightsError, require_weights
from slowfast_vos.engine.video_demo import FPS_RANGE, VIDEO_EXTENSION, DemoError, demo_cfg, open_source, segment_video
from slowfast_vos.utils.console import quiet_third_party_noise
from vos_eval.locks import FolderBusyError

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The options, checked (a threshold in [0, 1], a real frame rate, an .mp4 or folder output)."""
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


def run(args: argparse.Namespace) -> int:
    """Segment the source into the outputs the options name; returns the number of frames."""
    source = open_source(args.video_input, args.input, args.webcam, args.fps)
    cfg = demo_cfg(args.config_file, args.opts, args.confidence_threshold)
    require_weights(cfg.MODEL.WEIGHTS, allow_random=args.allow_random_weights, what="the demo")
    return segment_video(cfg, source, args.output, args.save_masks)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; 1 with the reason on stderr when an input, output or the weights are refused."""
    args = parse_args(argv)
    try:
        count = run(args)
    except (DemoError, WeightsError, FolderBusyError) as e:
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
