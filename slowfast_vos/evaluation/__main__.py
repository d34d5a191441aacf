"""``python -m slowfast_vos.evaluation``: score a DAVIS results folder (see cli.py)."""
import sys

from ..utils.console import quiet_third_party_noise
from .cli import main

quiet_third_party_noise()

sys.exit(main())
