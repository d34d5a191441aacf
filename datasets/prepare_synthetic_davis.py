#!/usr/bin/env python
"""Generate the synthetic DAVIS set (DAVIS 2017 layout + a DAVIS 2016 view) deterministically from a seed.

Usage: python datasets/prepare_synthetic_davis.py [--output DIR] [--seed 0] [--train-sequences 8] ...
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast_vos.data.datasets.builtin import synthetic_davis_root  # noqa: E402
from slowfast_vos.data.synthetic import generate_synthetic_davis  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags; defaults give 8 train + 4 val sequences of 20-30 frames at 192x108."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None,
                        help="output folder (default: $DETECTRON2_DATASETS/DAVIS-synthetic, "
                             "$DETECTRON2_DATASETS defaulting to ./datasets)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives identical files")
    parser.add_argument("--train-sequences", type=int, default=8, help="number of training sequences")
    parser.add_argument("--val-sequences", type=int, default=4, help="number of validation sequences")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames per sequence (default: 20-30, drawn per sequence)")
    parser.add_argument("--height", type=int, default=108, help="frame height in pixels")
    parser.add_argument("--width", type=int, default=192, help="frame width in pixels")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Generate the set and print where it went."""
    args = parse_args(argv)
    generate_synthetic_davis(
        args.output or synthetic_davis_root(),
        seed=args.seed,
        train_sequences=args.train_sequences,
        val_sequences=args.val_sequences,
        frames=args.frames,
        height=args.height,
        width=args.width,
        overwrite=args.overwrite,
    )


if __name__ == "__main__":
    main()
