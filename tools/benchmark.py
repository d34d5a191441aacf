#!/usr/bin/env python
"""Speed, size and memory of the SlowFast configurations in one run on the same inputs (paper Table 1 style):
parameters, video inference ms/frame, training s/iteration, peak memory and ratios to 1-1, configs and precisions
interleaved over rounds; ``--help`` lists the options. The logic is tools/experiments/benchmark.py.

    python tools/benchmark.py                              # 750x1333 (the reference size), CPU, all five configs
    python tools/benchmark.py --configs 1-1 3-7 7-7 --precision fp32 bf16 --json out/precision.json
"""
from __future__ import annotations

from slowfast_vos.utils.console import quiet_third_party_noise

from experiments.benchmark import PROFILE_PARTS, main, parse_args

__all__ = ["PROFILE_PARTS", "main", "parse_args"]

if __name__ == "__main__":
    quiet_third_party_noise()
    main()
