"""config.yaml names the run whose results and checkpoints are there: a --resume that cannot use the
folder's checkpoint (another config's) and an --eval-only that fails half-way (a full disk, a kill) leave the previous
config.yaml as it was."""
import errno
import os

import pytest
import torch

from slowfast_vos.engine import VOSTrainer

from helpers import load_tool
from tiny import QUICKSTART_CONFIG, TINY_TRAIN_OPTS

PREVIOUS = "# the config of the run whose files are here\n"


def _args(davis_sets, out, *flags):
    train_net = load_tool("train_net")
    return train_net, train_net.build_parser().parse_args([
        "--config-file", QUICKSTART_CONFIG, *flags, *TINY_TRAIN_OPTS, "DATALOADER.NEIGHBOR_TARGETS", "2",
        "SOLVER.MAX_ITER", "2", "TEST.EVAL_PERIOD", "0", "MODEL.DEVICE", "cpu", "OUTPUT_DIR", str(out),
        "DATASETS.TRAIN", f"('{davis_sets['train']}',)", "DATASETS.TEST", f"('{davis_sets['val']}',)"])


def test_resume_with_another_configs_checkpoint_fails_before_overwriting_config_yaml(davis_sets, tmp_path):
    (tmp_path / "config.yaml").write_text(PREVIOUS)
    # A checkpoint of another configuration: other weights, an optimizer with other parameter groups.
    torch.save({"model": {"head.weight": torch.zeros(2, 3)}, "iteration": 7,
                "optimizer": {"state": {}, "param_groups": [{"params": [0], "lr": 0.1}]}},
               str(tmp_path / "model_0000007.pth"))
    (tmp_path / "last_checkpoint").write_text("model_0000007.pth")
    train_net, args = _args(davis_sets, tmp_path, "--resume")
    with pytest.raises(RuntimeError, match=r"none of the checkpoints .* can be read:\n  .*model_0000007.pth"):
        train_net.main(args)
    assert (tmp_path / "config.yaml").read_text() == PREVIOUS


def test_eval_only_that_fails_half_way_leaves_config_yaml_as_it_was(davis_sets, tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text(PREVIOUS)

    def disk_full(cfg, model, evaluators=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(VOSTrainer, "test", classmethod(lambda cls, cfg, model, evaluators=None: disk_full(cfg, model)))
    train_net, args = _args(davis_sets, tmp_path, "--eval-only", "--allow-random-weights")
    with pytest.raises(OSError, match="No space left"):
        train_net.main(args)
    assert (tmp_path / "config.yaml").read_text() == PREVIOUS


def test_compare_runs_refuses_runs_scored_on_different_sets(tmp_path):
    import json

    from experiments.ablation.compare import compare_runs
    from vos_eval.results_file import ResultsFileError

    from helpers import write_seeded_run

    rows = {"1-1": [(0.5, 0.6, 0.3), (0.52, 0.61, 0.31)]}
    write_seeded_run(tmp_path / "a", rows)
    write_seeded_run(tmp_path / "b", rows)
    compare_runs({"a": str(tmp_path / "a"), "b": str(tmp_path / "b")})  # the same set: compared
    for seed in (1, 2):
        path = tmp_path / "b" / f"seed{seed}" / "1-1" / "results.json"
        data = json.loads(path.read_text())
        data["dataset"] = "davis2016_val"
        path.write_text(json.dumps(data))
    with pytest.raises(ResultsFileError, match="row '1-1' was scored on different sets"):
        compare_runs({"a": str(tmp_path / "a"), "b": str(tmp_path / "b")})


def test_second_ablation_stage_on_a_busy_folder_leaves_the_running_stage_log_alone(tmp_path):
    from experiments.ablation.plan import AblationError, Stage
    from experiments.ablation.schedule import execute
    from vos_eval.locks import LOCK_FILE, folder_lock

    stage = Stage("3-7", "train", 1, ["true"], str(tmp_path / "seed1" / "3-7"), [])
    os.makedirs(stage.output_dir)
    with open(stage.log_file, "w") as log:
        log.write("iteration 41 of the running stage\n")
    with folder_lock(stage.output_dir, os.path.join(stage.output_dir, LOCK_FILE)):
        with pytest.raises(AblationError, match=rf"{stage.output_dir} is in use by another run \(pid {os.getpid()}"):
            execute(stage, echo=False)
    assert open(stage.log_file).read() == "iteration 41 of the running stage\n"
