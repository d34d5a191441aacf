"""``python -m vos_eval``: score a DAVIS or YouTube-VOS results folder (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
