"""One writer per output folder: a second training / evaluation / OSVOS / generator run into a folder that a live
run writes stops at once naming the folder and that run's pid; the lock of a dead run is taken over."""
import os
import signal
import subprocess
import sys

import pytest

from slowfast_vos.data import generate_synthetic_davis
from slowfast_vos.data.synthetic.davis import MARKER_FILE
from vos_eval.folder_builds import build_lock_file
from vos_eval.locks import LOCK_FILE, FolderBusyError, folder_lock, hold_output_folder

from helpers import REPO

HOLDER = ("import sys, time\n"
          "from vos_eval.locks import hold_output_folder\n"
          "hold_output_folder(sys.argv[1])\n"
          "print('held', flush=True)\n"
          "time.sleep(60)\n")


def _start_holder(folder):
    """A process that holds ``folder``'s lock until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.slow
def test_second_writer_of_an_output_folder_stops_naming_folder_and_pid(tmp_path):
    out = tmp_path / "output"
    holder = _start_holder(out)
    try:
        with pytest.raises(FolderBusyError, match=rf"{out} is in use by another run \(pid {holder.pid}: "):
            with folder_lock(str(out), str(out / LOCK_FILE)):
                pass
    finally:
        holder.kill()
        holder.wait()
    # The dead run's lock file still names it; its lock died with it, so the folder is free again.
    assert f"pid {holder.pid}" in (out / LOCK_FILE).read_text()
    hold_output_folder(str(out))
    assert f"pid {os.getpid()}" in (out / LOCK_FILE).read_text()
    hold_output_folder(str(out))  # this process already holds it: no error


@pytest.mark.slow
def test_killed_holder_lock_is_taken_over(tmp_path):
    out = tmp_path / "output"
    holder = _start_holder(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with folder_lock(str(out), str(out / LOCK_FILE)):
        assert f"pid {os.getpid()}" in (out / LOCK_FILE).read_text()


def test_second_generator_run_into_one_folder_stops_and_killed_runs_leave_nothing(tmp_path):
    out = tmp_path / "DAVIS-synthetic"
    small = dict(train_sequences=1, val_sequences=1, frames=2, height=16, width=16, progress=None)
    with folder_lock(str(out), build_lock_file(str(out))):
        with pytest.raises(FolderBusyError, match=rf"{out} is in use by another run \(pid {os.getpid()}"):
            generate_synthetic_davis(str(out), **small)
    assert not out.exists()
    leftover = tmp_path / ".DAVIS-synthetic.tmp-killed"  # what a run killed with -9 leaves
    leftover.mkdir()
    (leftover / "half.jpg").write_bytes(b"x")
    generate_synthetic_davis(str(out), **small)
    assert not leftover.exists() and (out / MARKER_FILE).is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".DAVIS-synthetic.tmp-")] == []


@pytest.mark.slow
def test_train_eval_and_osvos_into_a_busy_output_dir_exit_at_once(tmp_path):
    out = tmp_path / "output"
    config = str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml")
    osvos_config = str(REPO / "configs" / "quickstart" / "osvos_slowfast_3-7.yaml")
    commands = [
        [str(REPO / "tools" / "train_net.py"), "--config-file", config],
        [str(REPO / "tools" / "train_net.py"), "--config-file", config, "--eval-only", "--allow-random-weights"],
        [str(REPO / "tools" / "osvos_net.py"), "--config-file", osvos_config, "--allow-random-weights"],
    ]
    env = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path / "datasets"), OMP_NUM_THREADS="1")
    with folder_lock(str(out), str(out / LOCK_FILE)):
        for command in commands:
            proc = subprocess.run([sys.executable, *command, "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(out)],
                                  env=env, capture_output=True, text=True, timeout=300)
            assert proc.returncode != 0, command
            assert f"{out} is in use by another run (pid {os.getpid()}" in proc.stderr, proc.stderr[-2000:]
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written by the refused runs
    assert not (tmp_path / "datasets").exists()
