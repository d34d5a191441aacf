#!/usr/bin/env python
"""Generate the synthetic DAVIS set (DAVIS 2017 layout + a DAVIS 2016 view) deterministically from a seed.

With ``--layout youtube-vos`` it generates the synthetic YouTube-VOS set instead (train / valid with meta.json and
both _all_frames folders; datasets/README.md).

Usage: python datasets/prepare_synthetic_davis.py [--layout davis|youtube-vos] [--output DIR] [--seed 0] ...
"""
from __future__ import annotations

import argparse

from slowfast_vos.data.datasets.builtin import synthetic_davis_root, synthetic_ytvos_root
from slowfast_vos.data.synthetic import generate_synthetic_davis, generate_synthetic_ytvos

LAYOUTS = ("davis", "youtube-vos")


def positive(text: str) -> int:
    """An integer >= 1 (frames per sequence, a frame size), else a usage error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults give 8 train + 4 val sequences of 20-30 frames at 192x108."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=LAYOUTS, default="davis",
                        help="davis (default): the synthetic DAVIS set; youtube-vos: the synthetic YouTube-VOS set")
    parser.add_argument("--output", default=None,
                        help="output folder (default: $DETECTRON2_DATASETS/DAVIS-synthetic, or "
                             "$DETECTRON2_DATASETS/YouTube-VOS-synthetic with --layout youtube-vos; "
                             "$DETECTRON2_DATASETS defaulting to ./datasets)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives identical files")
    parser.add_argument("--train-sequences", type=int, default=8, help="number of training sequences (videos)")
    parser.add_argument("--val-sequences", type=int, default=4,
                        help="number of validation sequences (YouTube-VOS: valid videos)")
    parser.add_argument("--frames", type=positive, default=None,
                        help="frames per sequence (default: 20-30, drawn per sequence; YouTube-VOS: 30 fps frames "
                             "per video, default 36-51, every 5th one a 6 fps frame)")
    parser.add_argument("--height", type=positive, default=108, help="frame height in pixels")
    parser.add_argument("--width", type=positive, default=192, help="frame width in pixels")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Generate the set and print where it went."""
    args = parse_args(argv)
    common = dict(seed=args.seed, frames=args.frames, height=args.height, width=args.width, overwrite=args.overwrite)
    if args.layout == "youtube-vos":
        generate_synthetic_ytvos(args.output or synthetic_ytvos_root(), train_videos=args.train_sequences,
                                 valid_videos=args.val_sequences, **common)
    else:
        generate_synthetic_davis(args.output or synthetic_davis_root(), train_sequences=args.train_sequences,
                                 val_sequences=args.val_sequences, **common)


if __name__ == "__main__":
    main()
