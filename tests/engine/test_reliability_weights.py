"""Every weights file is read without running code, whatever its extension and torch's default: with
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 forcing torch's unsafe default, a crafted .pth, .pyth or other file runs nothing
and is refused by name; odd .pkl contents and NaN weights are errors naming the file; a diverged run saves nothing."""
import logging
import pickle

import numpy as np
import pytest
import torch
from numpy._core.multiarray import _reconstruct
from torch import nn

from slowfast_vos.engine import VOSCheckpointer, VOSTrainer, WeightsError, load_trained_weights
from slowfast_vos.utils.safe_pickle import UntrustedFileError

from tiny import QUICKSTART_CONFIG, quickstart_cfg


class _WritesMarker:
    """Unpickling this calls ``exec``, which writes the marker file: proof that a load ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


class _AsksForATebibyte:
    """Unpickles to numpy's array rebuilder (an allowed global) asked for a 1 TiB array."""

    def __reduce__(self):
        return _reconstruct, (np.ndarray, (1 << 40,), b"b")


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2))


@pytest.mark.parametrize("name", ["model_final.pth", "pycls_model.pyth", "weights.bin"])
def test_crafted_weights_of_any_extension_run_no_code_under_the_unsafe_torch_default(tmp_path, monkeypatch, name):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "marker"
    weights = tmp_path / name
    payload = _WritesMarker(marker)
    torch.save({"model_state": payload} if name.endswith(".pyth") else {"model": payload}, str(weights))
    with pytest.raises((WeightsError, UntrustedFileError), match=str(weights)):
        VOSCheckpointer(_model()).load(str(weights))
    with pytest.raises((WeightsError, UntrustedFileError), match=str(weights)):
        load_trained_weights(_model(), str(weights), what="--eval-only")
    assert not marker.exists()


def test_pycls_pyth_weights_still_load(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    source = _model()
    with torch.no_grad():
        source[0].weight.fill_(0.25)
    weights = tmp_path / "pycls.pyth"
    torch.save({"model_state": source.state_dict(), "epoch": 3}, str(weights))
    target = nn.Sequential(nn.Linear(3, 2))
    VOSCheckpointer(target).load(str(weights))
    assert torch.equal(target[0].weight, source[0].weight)


def test_pkl_asking_numpy_for_a_tebibyte_is_refused_naming_the_file(tmp_path):
    weights = tmp_path / "huge.pkl"
    weights.write_bytes(pickle.dumps({"model": {"0.weight": _AsksForATebibyte()}, "__author__": "x"}, protocol=2))
    with pytest.raises(UntrustedFileError, match=rf"{weights}.*shape \(1099511627776,\)"):
        VOSCheckpointer(_model()).load(str(weights))


@pytest.mark.parametrize("contents", [{"model": {"0.weight": "a string"}, "__author__": "x"},
                                      {"model": ["not", "a", "dict"], "__author__": "x"},
                                      {"blobs": 3}])
def test_pkl_of_odd_types_is_an_error_naming_the_file(tmp_path, contents):
    weights = tmp_path / "odd.pkl"
    weights.write_bytes(pickle.dumps(contents, protocol=2))
    with pytest.raises(WeightsError, match=str(weights)):
        VOSCheckpointer(_model()).load(str(weights))


def _nan_checkpoint(path) -> None:
    model = _model()
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    torch.save({"model": model.state_dict(), "iteration": 4}, str(path))


def test_eval_only_on_nan_weights_fails_naming_file_and_key(tmp_path):
    weights = tmp_path / "model_final.pth"
    _nan_checkpoint(weights)
    with pytest.raises(WeightsError, match=rf"{weights} hold NaN or infinite values \(\['0.weight'\]\)"):
        load_trained_weights(_model(), str(weights), what="--eval-only")


def test_resume_from_a_nan_checkpoint_says_why(tmp_path, caplog):
    _nan_checkpoint(tmp_path / "model_0000004.pth")
    (tmp_path / "last_checkpoint").write_text("model_0000004.pth")
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="NaN or infinite values"):
        VOSCheckpointer(_model(), str(tmp_path)).resume_or_load("", resume=True)
    assert "model_0000004.pth" in caplog.text


def test_checkpoint_of_nan_weights_is_not_saved(tmp_path):
    model = _model()
    with torch.no_grad():
        model[0].bias[1] = float("inf")
    with pytest.raises(FloatingPointError, match=r"0.bias"):
        VOSCheckpointer(model, str(tmp_path)).save("model_final")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_nan_loss_stops_training_naming_the_iteration_before_any_checkpoint(davis_sets, tmp_path):
    cfg = quickstart_cfg(QUICKSTART_CONFIG, davis_sets, tmp_path, "SOLVER.MAX_ITER", "1", "TEST.EVAL_PERIOD", "0")
    trainer = VOSTrainer(cfg)
    model = trainer._trainer.model
    forward = model.forward
    model.forward = lambda data: ({k: v * float("nan") for k, v in forward(data).items()} if model.training
                                  else forward(data))  # every training loss NaN: a diverged run
    with pytest.raises(FloatingPointError, match="training diverged at iteration 0"):
        trainer.train()
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == [] and not (tmp_path / "last_checkpoint").exists()


def test_temporary_file_of_a_killed_checkpoint_save_is_removed_by_the_next_run(davis_sets, tmp_path):
    partial = tmp_path / ".model_0000099.pth.k3x_9a.pth"  # what atomic_write leaves when killed mid-save
    partial.write_bytes(b"PK\x03\x04 half a checkpoint")
    keep = tmp_path / "model_0000049.pth"
    keep.write_bytes(b"not touched")
    VOSTrainer(quickstart_cfg(QUICKSTART_CONFIG, davis_sets, tmp_path))
    assert not partial.exists() and keep.exists()
