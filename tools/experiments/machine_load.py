"""How much of the machine other processes used while we measured: a time taken on a machine that was not quiet is
not comparable with one taken on a quiet machine, and a "quiet" window is easy to get wrong (two runs of this project
were reported as quiet while other work shared the cores; docs/results/archive/quickstart-fp32-disturbed/).

:class:`OtherLoad` samples, at the start and at the end of an interval, every CPU's busy time (Linux
``/proc/stat``) and this process's CPU time including the children it has waited for (``os.times``); what is busy
beyond our own share was used by other processes. Where ``/proc/stat`` does not exist the share is unknown (None).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["QUIET_SHARE", "OtherLoad", "describe_share", "read_busy_seconds"]

# Other processes' share of the machine's CPU time below which a measurement counts as quiet.
QUIET_SHARE = 0.05

STAT_FILE = "/proc/stat"
# Fields of /proc/stat's "cpu" line that count as busy: user, nice, system, irq, softirq, steal (guest time is
# already inside user and nice; idle and iowait are not busy).
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


def read_busy_seconds(stat_file: str = STAT_FILE) -> Optional[float]:
    """All CPUs' busy time since boot in seconds, from the first ("cpu") line of ``stat_file``; None when the file
    is missing or not in /proc/stat's format."""
    try:
        with open(stat_file) as f:
            first = f.readline().split()
    except OSError:
        return None
    if len(first) < 9 or first[0] != "cpu":
        return None
    try:
        ticks = [int(v) for v in first[1:]]
    except ValueError:
        return None
    return sum(ticks[i] for i in _BUSY_FIELDS) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class _Sample:
    wall: float
    busy: Optional[float]
    own: float


class OtherLoad:
    """Other processes' share of the machine's CPU time since construction.

    ``busy_seconds`` and ``own_seconds`` are the samplers (defaults: :func:`read_busy_seconds` and this process's
    CPU time with its waited-for children); ``cpus``: the CPUs ``/proc/stat`` sums over (default ``os.cpu_count()``).
    A child still running when the interval ends is counted as other work: wait for the children first."""

    def __init__(self, busy_seconds: Callable[[], Optional[float]] = read_busy_seconds,
                 own_seconds: Callable[[], float] = _own_cpu_seconds, cpus: Optional[int] = None,
                 clock: Callable[[], float] = time.monotonic):
        self._busy = busy_seconds
        self._own = own_seconds
        self._clock = clock
        self.cpus = cpus or os.cpu_count() or 1
        self._start = self._sample()

    def _sample(self) -> _Sample:
        return _Sample(self._clock(), self._busy(), self._own())

    def share(self) -> Optional[float]:
        """Other processes' CPU time over the interval as a share of the machine's (wall time x CPUs), in [0, 1];
        None when the busy time cannot be read or no time passed."""
        end = self._sample()
        wall = end.wall - self._start.wall
        if end.busy is None or self._start.busy is None or wall <= 0:
            return None
        others = (end.busy - self._start.busy) - (end.own - self._start.own)
        return min(max(others / (wall * self.cpus), 0.0), 1.0)


def describe_share(share: Optional[float]) -> str:
    """One phrase for a report: the share, and whether the machine counts as quiet (QUIET_SHARE)."""
    if share is None:
        return "other processes' CPU use unknown (no /proc/stat)"
    verdict = "quiet" if share < QUIET_SHARE else "NOT quiet: times are not comparable with a quiet run's"
    return f"other processes used {100 * share:.1f}% of the machine's CPU time ({verdict})"
