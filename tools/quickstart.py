#!/usr/bin/env python
"""The quickstart main job (``make demo``): synthetic DAVIS -> train SlowFast 3-7 on CPU -> J&F -> visualisations.
``--help`` says each step; the recipe is tools/experiments/quickstart.py.

    python tools/quickstart.py                                                       # what make demo runs
    python tools/quickstart.py --config-file configs/quickstart/ytvos_mixed_slowfast_3-7.yaml
"""
from __future__ import annotations

import os
import sys

from experiments.quickstart import config_datasets, main

__all__ = ["config_datasets", "main"]

if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
