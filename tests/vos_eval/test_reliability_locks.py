"""One lock per output folder for every kind of run: the shards of one OSVOS run may hold a folder
together, nothing else beside them (a training, a full OSVOS run, a shard of another run, the same shard twice);
an OSVOS sequence with some result PNGs deleted is redone; training's evaluation rewrites produced_by.json."""
import json
import os

import pytest

from slowfast_vos.engine.fresh_results import PRODUCED_BY_FILE
from vos_eval import locks
from vos_eval.locks import LOCK_FILE, FolderBusyError, folder_lock, hold_output_folder

from tiny import quickstart_cfg, tiny_osvos_runner

RUN = "osvos-0123abcd-of-2"


@pytest.fixture(autouse=True)
def _release_locks_taken_here():
    """Close the locks a test took with hold_output_folder (they would otherwise last until the process ends)."""
    before = dict(locks._HELD)
    yield
    for path, fd in list(locks._HELD.items()):
        if path not in before:
            os.close(locks._HELD.pop(path))


def test_shard_is_refused_next_to_an_exclusive_run(tmp_path):
    with folder_lock(str(tmp_path), str(tmp_path / LOCK_FILE)):
        with pytest.raises(FolderBusyError, match=rf"{tmp_path} is in use by another run \(pid {os.getpid()}"):
            hold_output_folder(str(tmp_path), run=(RUN, "shard-1"))


def test_shards_of_one_run_share_the_folder_and_nothing_else_joins(tmp_path):
    hold_output_folder(str(tmp_path), run=(RUN, "shard-0"))
    hold_output_folder(str(tmp_path), run=(RUN, "shard-1"))  # the other shard of the same run: allowed
    with pytest.raises(FolderBusyError, match="another run's part"):
        hold_output_folder(str(tmp_path), run=("osvos-ffffffff-of-2", "shard-0"))  # other weights or settings
    with pytest.raises(FolderBusyError, match="another run's part"):
        hold_output_folder(str(tmp_path), run=("osvos-0123abcd-of-3", "shard-2"))  # another shard count
    with pytest.raises(FolderBusyError, match=str(tmp_path)):
        with folder_lock(str(tmp_path), str(tmp_path / LOCK_FILE)):  # a training or a full OSVOS run
            pass


def test_the_same_shard_twice_is_refused(tmp_path):
    hold_output_folder(str(tmp_path), run=(RUN, "shard-0"))
    member = str(tmp_path / f"{LOCK_FILE}.run-{RUN}.shard-0")
    held = locks._HELD.pop(member)  # as if another process held it
    try:
        with pytest.raises(FolderBusyError, match=str(tmp_path)):
            hold_output_folder(str(tmp_path), run=(RUN, "shard-0"))
    finally:
        locks._HELD[member] = held


def test_finished_shards_leave_the_folder_to_any_run(tmp_path):
    hold_output_folder(str(tmp_path), run=(RUN, "shard-0"))
    for path in [p for p in locks._HELD if p.startswith(str(tmp_path))]:
        os.close(locks._HELD.pop(path))  # the shard's process ended
    with folder_lock(str(tmp_path), str(tmp_path / LOCK_FILE)):
        pass


def test_osvos_sequence_with_some_result_pngs_deleted_is_redone(tmp_path, davis_sets):
    out = tmp_path / "osvos"
    runner, sequences, first = tiny_osvos_runner(davis_sets, out)
    runner.run_sequence(first, sequences[first])
    marker = json.loads((out / "sequences_done" / f"{first}.json").read_text())
    pngs = sorted((out / "davis_results" / first).glob("*.png"))
    assert marker["results"] == [p.name for p in pngs] and len(pngs) == len(sequences[first])
    assert runner.is_done(first)
    pngs[-1].unlink()
    assert not runner.is_done(first)


def test_training_evaluation_rewrites_produced_by(tmp_path, davis_sets):
    from slowfast_vos.engine import VOSTrainer
    from tiny import QUICKSTART_CONFIG

    cfg = quickstart_cfg(QUICKSTART_CONFIG, davis_sets, tmp_path)
    cfg.freeze()
    produced_by = tmp_path / "inference" / davis_sets["val"] / PRODUCED_BY_FILE
    produced_by.parent.mkdir(parents=True)
    produced_by.write_text(json.dumps({"weights": "eval-only.pth", "weights_sha256": "0" * 64}))
    trainer = VOSTrainer(cfg)
    VOSTrainer.test(cfg, trainer.model)
    record = json.loads(produced_by.read_text())
    assert record["weights"] == "" and "training" in record["model"]
