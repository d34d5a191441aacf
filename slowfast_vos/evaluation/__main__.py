"""``python -m slowfast_vos.evaluation``: score a DAVIS results folder (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
