#!/usr/bin/env python
"""Run the paper's pathway ablation over training seeds and write its Tables 1 and 2, a table of every run, the
timing table and a J&F/time plot; ``--help`` lists the options. The pipeline is tools/experiments/ablation/ (this
command line: its command.py).

    python tools/run_ablation.py --preset quickstart --seeds 3 --output-dir output/ablation-synthetic  # CPU scale
    python tools/run_ablation.py --config-dir configs --output-dir output/ablation --osvos              # paper scale
"""
from __future__ import annotations

from experiments.ablation.command import cli, main, parse_args

__all__ = ["main", "parse_args"]

if __name__ == "__main__":
    cli()
