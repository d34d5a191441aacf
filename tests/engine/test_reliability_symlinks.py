"""No write outside the output folder through a planted symbolic link: the lock file, config.yaml, log.txt,
metrics.json, checkpoints, --eval-only's inference/ folder and OSVOS's davis_results/ and sequences_done/ that are
links are refused by name, and the files they point to stay as they were."""
import argparse
import os

import pytest
import torch
from torch import nn

from slowfast_vos.engine import VOSCheckpointer, default_vos_setup
from slowfast_vos.engine.fresh_results import evaluate_replacing_results
from slowfast_vos.engine.osvos import OSVOSRunner
from slowfast_vos.engine.trainer import NoFollowJSONWriter
from vos_eval.locks import LOCK_FILE, folder_lock, hold_output_folder
from vos_eval.output_folder import SymlinkError

from tiny import QUICKSTART_CONFIG, QUICKSTART_OSVOS_CONFIG, quickstart_cfg, tiny_osvos_runner

VICTIM_TEXT = "a file outside the output folder\n"


@pytest.fixture
def victim(tmp_path):
    """A file outside the output folder that a planted link points to."""
    path = tmp_path / "elsewhere" / "victim.txt"
    path.parent.mkdir()
    path.write_text(VICTIM_TEXT)
    return path


def _plant(out, name, target):
    out.mkdir(parents=True, exist_ok=True)
    os.symlink(target, out / name)
    return out / name


def test_lock_file_that_is_a_link_is_refused_and_its_target_not_truncated(tmp_path, victim):
    out = tmp_path / "output"
    link = _plant(out, LOCK_FILE, victim)
    with pytest.raises(SymlinkError, match=str(link)):
        with folder_lock(str(out), str(link)):
            pass
    with pytest.raises(SymlinkError, match=str(link)):
        hold_output_folder(str(out))
    assert victim.read_text() == VICTIM_TEXT


def test_output_dir_that_is_a_link_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "output"
    os.symlink(elsewhere, out)
    with pytest.raises(SymlinkError, match=str(out)):
        hold_output_folder(str(out))
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("name", ["config.yaml", "log.txt", "metrics.json"])
def test_run_setup_refuses_a_linked_config_log_or_metrics_file(tmp_path, victim, name):
    out = tmp_path / "output"
    link = _plant(out, name, victim)
    cfg = quickstart_cfg(QUICKSTART_CONFIG, {"train": "unused", "val": "unused"}, out)
    cfg.freeze()
    with pytest.raises(SymlinkError, match=str(link)):
        default_vos_setup(cfg, argparse.Namespace(config_file=QUICKSTART_CONFIG, eval_only=False))
    assert victim.read_text() == VICTIM_TEXT
    assert sorted(p.name for p in out.iterdir()) == [name]  # nothing written beside the link


def test_metrics_writer_opens_no_link(tmp_path, victim):
    link = _plant(tmp_path / "output", "metrics.json", victim)
    with pytest.raises(SymlinkError, match=str(link)):
        NoFollowJSONWriter(str(link))
    assert victim.read_text() == VICTIM_TEXT


@pytest.mark.parametrize("name", ["model_final.pth", "last_checkpoint"])
def test_checkpoint_save_refuses_a_linked_checkpoint_or_tag(tmp_path, victim, name):
    out = tmp_path / "output"
    link = _plant(out, name, victim)
    with pytest.raises(SymlinkError, match=str(link)):
        VOSCheckpointer(nn.Linear(2, 2), str(out)).save("model_final")
    assert link.is_symlink() and victim.read_text() == VICTIM_TEXT


def test_eval_only_moves_no_results_through_a_linked_inference_folder(tmp_path, davis_sets):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "output"
    link = _plant(out, "inference", elsewhere)
    cfg = quickstart_cfg(QUICKSTART_CONFIG, davis_sets, out)
    cfg.freeze()

    def test(staged_cfg, model):
        raise AssertionError("evaluation ran although its results would be moved through a link")

    with pytest.raises(SymlinkError, match=str(link)):
        evaluate_replacing_results(cfg, nn.Linear(1, 1), test, "weights.pth")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("name", ["davis_results", "sequences_done"])
def test_osvos_writes_no_results_or_markers_through_a_linked_folder(tmp_path, davis_sets, name):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "osvos"
    link = _plant(out, name, elsewhere)
    cfg = quickstart_cfg(QUICKSTART_OSVOS_CONFIG, davis_sets, out, "OSVOS.ITERS", "1", "MODEL.WEIGHTS", "")
    cfg.freeze()
    runner = OSVOSRunner(cfg, str(out), allow_random_weights=True)
    with pytest.raises(SymlinkError, match=str(link)):
        runner.run()
    assert list(elsewhere.iterdir()) == []


def test_osvos_writes_no_results_through_a_linked_sequence_folder(tmp_path, davis_sets):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "osvos"
    runner, sequences, first = tiny_osvos_runner(davis_sets, out)
    link = _plant(out / "davis_results", first, elsewhere)
    torch.manual_seed(0)
    with pytest.raises(SymlinkError, match=str(link)):
        runner.run_sequence(first, sequences[first])
    assert list(elsewhere.iterdir()) == []
