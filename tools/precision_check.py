#!/usr/bin/env python
"""J&F of one trained model evaluated in several inference precisions (TEST.PRECISION), compared with fp32: the
J&F table and its difference, the largest per-sequence difference and how far the written masks agree, written to
``<output-dir>/precision_check.json`` and ``.md``. The logic is tools/experiments/precision_check.py.

    python tools/precision_check.py --config-file configs/quickstart/slowfast_3-7.yaml \
        --weights output/quickstart/slowfast_3-7/model_final.pth --output-dir output/precision-check
"""
from __future__ import annotations

import sys

from experiments.precision_check import compare, evaluate, main, markdown, mask_agreement, parse_args

__all__ = ["compare", "evaluate", "main", "markdown", "mask_agreement", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())
