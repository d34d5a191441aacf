"""Data files never run code: crafted .pkl weights, a crafted last_checkpoint and a crafted config YAML are refused
by name (a marker file proves nothing ran), while model-zoo .pkl files and plain configs still load."""
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from torch import nn

from slowfast_vos import add_slowfast_vos_config
from slowfast_vos.config import ConfigFileError, merge_config_file
from slowfast_vos.engine import VOSCheckpointer, WeightsError
from slowfast_vos.utils.safe_pickle import UntrustedFileError

from helpers import REPO


class _WritesMarker:
    """Unpickling this calls ``exec``, which writes the marker file: proof that a load ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2))


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_crafted_pkl_weights_run_no_code_and_name_the_file(tmp_path, protocol):
    marker = tmp_path / "marker"
    weights = tmp_path / "model_final.pkl"
    payload = {"model": {"0.weight": _WritesMarker(marker)}, "__author__": "Detectron2 Model Zoo"}
    weights.write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(UntrustedFileError, match=rf"{weights}: refusing to load this pickle: it names \S*exec,"):
        VOSCheckpointer(_model(), strict=True).load(str(weights), checkpointables=[])
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_model_zoo_style_pkl_still_loads(tmp_path, protocol):
    source = _model()
    with torch.no_grad():
        source[0].weight.fill_(0.25)
    state = {k: v.numpy() for k, v in source.state_dict().items()}
    weights = tmp_path / "model_final_f10217.pkl"
    with open(weights, "wb") as f:  # how Detectron2's model zoo writes its files
        pickle.dump({"model": state, "__author__": "Detectron2 Model Zoo", "iteration": np.int64(90000)}, f,
                    protocol=protocol)
    target = _model()
    VOSCheckpointer(target, strict=True).load(str(weights), checkpointables=[])
    assert torch.equal(target[0].weight, torch.full((2, 3), 0.25))
    assert torch.equal(target[0].bias, source[0].bias)


def test_caffe2_style_pkl_blobs_load_by_name_matching(tmp_path):
    source = _model()
    blobs = {"0.weight": source[0].weight.detach().numpy(), "0.bias": source[0].bias.detach().numpy(),
             "0.weight_momentum": np.zeros((2, 3), np.float32)}
    weights = tmp_path / "R-50.pkl"
    weights.write_bytes(pickle.dumps({"blobs": blobs}, protocol=2))
    target = nn.Sequential(nn.Linear(3, 2))
    VOSCheckpointer(target).load(str(weights), checkpointables=[])
    assert torch.equal(target[0].weight, source[0].weight)


def test_crafted_last_checkpoint_runs_no_code(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"model": {"0.weight": _WritesMarker(marker)}, "__author__": "x"}))
    out = tmp_path / "output"
    out.mkdir()
    for named in ("evil.pkl", str(evil), "../evil.pkl"):
        (out / "last_checkpoint").write_text(named)
        checkpointer = VOSCheckpointer(_model(), str(out))
        with pytest.raises(ValueError, match=rf"{out}/last_checkpoint names '{named}'; it must name a \.pth"):
            checkpointer.resume_or_load("", resume=True)
    assert not marker.exists()


def test_crafted_pth_in_output_folder_runs_no_code_on_resume(tmp_path, caplog):
    marker = tmp_path / "marker"
    out = tmp_path / "output"
    out.mkdir()
    (out / "model_0000001.pth").write_bytes(pickle.dumps({"model": _WritesMarker(marker)}, protocol=2))
    (out / "last_checkpoint").write_text("model_0000001.pth")
    with pytest.raises(RuntimeError, match="none of the checkpoints"):
        VOSCheckpointer(_model(), str(out)).resume_or_load("", resume=True)
    assert not marker.exists()
    assert "model_0000001.pth" in caplog.text


def test_weights_that_are_a_folder_or_a_text_file_are_named(tmp_path):
    folder = tmp_path / "weights_dir"
    folder.mkdir()
    with pytest.raises(WeightsError, match=rf"weights {folder} is a folder"):
        VOSCheckpointer(_model()).load(str(folder), checkpointables=[])
    for name in ("notes.pth", "notes.pkl"):
        text = tmp_path / name
        text.write_text("these are not weights\n")
        with pytest.raises(WeightsError, match=rf"weights {text} cannot be read as a checkpoint"):
            VOSCheckpointer(_model()).load(str(text), checkpointables=[])


def _write_config(tmp_path, marker, base=None) -> str:
    config = tmp_path / "evil.yaml"
    lines = [f"_BASE_: {base}"] if base else []
    lines += ["MODEL:", "  DEVICE: cpu", "  WEIGHTS: !!python/object/apply:builtins.exec",
              f"    - \"open('{marker}', 'w').write('ran')\""]
    config.write_text("\n".join(lines) + "\n")
    return str(config)


def test_crafted_config_yaml_runs_no_code_and_names_file_and_line(tmp_path):
    marker = tmp_path / "marker"
    config = _write_config(tmp_path, marker)
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    with pytest.raises(ConfigFileError, match=rf"config file {config}, line 3: .*python/object/apply:builtins.exec"):
        merge_config_file(cfg, config)
    assert not marker.exists()
    # A crafted _BASE_ of a plain config is refused the same way.
    child = tmp_path / "child.yaml"
    child.write_text(f"_BASE_: {config}\nSOLVER:\n  MAX_ITER: 3\n")
    with pytest.raises(ConfigFileError, match=rf"config file {config}, line 3"):
        merge_config_file(cfg, str(child))
    assert not marker.exists()


def test_plain_config_files_still_merge():
    cfg = get_cfg()
    add_slowfast_vos_config(cfg)
    merge_config_file(cfg, str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml"))
    assert cfg.MODEL.META_ARCHITECTURE == "SlowFastRCNN"


@pytest.mark.slow
def test_train_net_with_a_crafted_config_or_pkl_runs_no_code(tmp_path):
    marker = tmp_path / "marker"
    config = _write_config(tmp_path, marker, base=REPO / "configs" / "quickstart" / "slowfast_3-7.yaml")
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", config,
           "OUTPUT_DIR", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and f"config file {config}, line 4" in proc.stderr
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"model": {"w": _WritesMarker(marker)}, "__author__": "x"}))
    frame = tmp_path / "00000.jpg"
    cv2.imwrite(str(frame), np.zeros((48, 64, 3), np.uint8))
    cmd = [sys.executable, str(REPO / "tools" / "demo.py"), "--config-file",
           str(REPO / "configs" / "quickstart" / "slowfast_3-7.yaml"), "--input", str(frame),
           "--output", str(tmp_path / "demo_out"), "--opts", "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", str(evil)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and f"{evil}: refusing to load this pickle" in proc.stderr
    assert not marker.exists() and not (tmp_path / "demo_out").exists()
