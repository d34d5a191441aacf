"""Experiments that use the library: the paper's ablation (plan, schedule, tables, plot, verdict, run comparison),
the quickstart recipe, the precision check and the benchmarks. They live beside the tools that run them, outside
the installed ``slowfast_vos`` package, so importing the extension never pulls them in: ``python tools/X.py`` finds
this package because tools/ is the script's folder (sys.path[0]); the tests find it through pytest.ini's
``pythonpath``.

Every stage of an experiment (a ``tools/*.py`` command run as a subprocess) goes through one runner,
:func:`experiments.stages.run_logged`, and is recorded in one record, :class:`experiments.stages.StageRecord`.
"""
from pathlib import Path

# The repository root (this package is tools/experiments/): where the tools that experiments run as stages live.
REPO = str(Path(__file__).resolve().parents[2])
