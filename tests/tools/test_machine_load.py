"""tools/experiments/machine_load.py: other processes' share of the machine's CPU time over an interval, from
/proc/stat's busy time minus this process's (and its waited-for children's) CPU time."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.machine_load import QUIET_SHARE, OtherLoad, describe_share, read_busy_seconds


def samplers(values):
    """A sampler returning the given values one call after the other."""
    it = iter(values)
    return lambda: next(it)


def test_share_is_the_busy_time_beyond_our_own_over_wall_time_and_cpus():
    # 2 s of wall time on 2 CPUs; the machine was busy 3 s, of which 1 s was ours: others used 2 of 4 CPU-seconds.
    load = OtherLoad(busy_seconds=samplers([100.0, 103.0]), own_seconds=samplers([10.0, 11.0]), cpus=2,
                     clock=samplers([50.0, 52.0]))
    assert load.share() == pytest.approx(0.5)
    # Only our own work: nothing left for others (and never below zero, e.g. from tick rounding).
    alone = OtherLoad(busy_seconds=samplers([100.0, 101.0]), own_seconds=samplers([10.0, 11.2]), cpus=2,
                      clock=samplers([0.0, 1.0]))
    assert alone.share() == 0.0


def test_share_is_unknown_without_busy_time_or_elapsed_time():
    assert OtherLoad(busy_seconds=samplers([None, None]), own_seconds=samplers([0.0, 0.0]), cpus=1,
                     clock=samplers([0.0, 1.0])).share() is None
    assert OtherLoad(busy_seconds=samplers([1.0, 1.0]), own_seconds=samplers([0.0, 0.0]), cpus=1,
                     clock=samplers([3.0, 3.0])).share() is None


def test_proc_stat_busy_fields_are_summed_in_seconds(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice (clock ticks)
    stat.write_text("cpu  100 20 30 5000 70 1 2 3 40 0\ncpu0 50 10 15 2500 35 0 1 1 20 0\n")
    monkeypatch.setattr("os.sysconf", lambda name: 100)
    assert read_busy_seconds(str(stat)) == pytest.approx((100 + 20 + 30 + 1 + 2 + 3) / 100)
    assert read_busy_seconds(str(tmp_path / "missing")) is None
    stat.write_text("intr 1 2 3\n")
    assert read_busy_seconds(str(stat)) is None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc/stat")
def test_a_busy_process_that_is_not_ours_counts_as_other_load():
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 3: pass"])
    try:
        time.sleep(0.3)  # the child is running
        load = OtherLoad()
        time.sleep(1.0)
        share = load.share()
    finally:
        spin.kill()
        spin.wait()
    # One spinning process of the machine's CPUs (more on a busy machine); not waited for, so not ours.
    assert share is not None and share > min(0.5 / load.cpus, QUIET_SHARE * 2)


def test_description_says_whether_the_machine_was_quiet():
    assert "(quiet)" in describe_share(0.01) and "1.0%" in describe_share(0.01)
    assert "NOT quiet" in describe_share(0.2) and "20.0%" in describe_share(0.2)
    assert "unknown" in describe_share(None)
