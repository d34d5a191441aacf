#!/usr/bin/env python
"""Time the command-line DAVIS evaluator against the official toolkit's algorithm, each as a whole process, and
check that their numbers agree; ``--help`` says what is timed. The logic is tools/experiments/benchmark_evaluation.py.

    python tools/benchmark_evaluation.py [--sequences 10 --frames 50 --objects 2 --height 480 --width 854 \
        --json out.json]

This file is also the emulated toolkit's timed process (``--official-child``): it imports no more than the toolkit's
libraries then (the experiments package imports nothing at start-up).
"""
from __future__ import annotations

import sys

from experiments.benchmark_evaluation import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
