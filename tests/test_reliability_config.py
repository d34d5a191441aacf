"""Bad numbers and hostile config files stop a run at load, naming the key, value or file and never quoting a file:
values out of range, _BASE_ cycles, URLs and non-config files, YAML alias bombs, oversized files, and the
generator's --frames 0."""
import pytest

from slowfast_vos.config import MAX_CONFIG_BYTES, ConfigFileError
from slowfast_vos.engine import load_cfg

from helpers import REPO, load_tool
from tiny import QUICKSTART_CONFIG, QUICKSTART_OSVOS_CONFIG


@pytest.mark.parametrize("key, value", [("SOLVER.BASE_LR", "-0.5"), ("SOLVER.BASE_LR", "0.0"),
                                        ("TEST.VOS.SCORE_THRESH", "1.5"), ("TEST.VOS.MASK_THRESH", "-0.1"),
                                        ("OSVOS.ITERS", "-5"), ("SOLVER.IMS_PER_BATCH", "0"),
                                        ("TEST.VOS.MAX_OBJECTS", "0")])
def test_config_value_out_of_range_is_an_error_naming_key_and_value(key, value):
    with pytest.raises(ValueError, match=rf"{key} must be .*got {value}"):
        load_cfg(QUICKSTART_CONFIG, [key, value])


@pytest.mark.parametrize("key, value", [("TEST.VOS.TRACKER", "greedy"), ("TEST.VOS.OVERLAP", "area"),
                                        ("TEST.VOS.REID_ASSIGNMENT", "greedy"), ("TEST.VOS.REID_SIZE_MEMORY", "0"),
                                        ("TEST.VOS.REID_HOLD_FRAMES", "-1")])
def test_a_bad_segmenter_setting_stops_at_load_naming_key_and_value(key, value):
    """The TEST.VOS settings only the segmenter reads are checked when the config loads, not after a training."""
    with pytest.raises(ValueError, match=rf"{key} must be .*got '?{value}'?"):
        load_cfg(QUICKSTART_CONFIG, [key, value])


def test_osvos_with_negative_iterations_stops_before_writing_anything(tmp_path):
    out = tmp_path / "osvos"
    with pytest.raises(ValueError, match="OSVOS.ITERS must be >= 1, got -5"):
        load_tool("osvos_net").main(["--config-file", QUICKSTART_OSVOS_CONFIG, "--allow-random-weights",
                                     "OSVOS.ITERS", "-5", "OUTPUT_DIR", str(out)])
    assert not out.exists()


def test_base_cycle_is_an_error_naming_the_chain(tmp_path):
    (tmp_path / "a.yaml").write_text("_BASE_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_BASE_: a.yaml\n")
    with pytest.raises(ConfigFileError, match=r"cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_cfg(str(tmp_path / "a.yaml"))


def test_base_naming_a_non_config_file_never_quotes_it(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRET-HASH:19000:0:99999:7:::\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"_BASE_: {secret}\n")
    with pytest.raises(ConfigFileError) as error:
        load_cfg(str(config))
    assert str(secret) in str(error.value) and "SECRET" not in str(error.value)


def test_base_naming_a_url_is_refused_without_fetching(tmp_path, monkeypatch):
    import urllib.request

    def no_fetch(*args, **kwargs):
        raise AssertionError("a _BASE_ URL was fetched")

    monkeypatch.setattr(urllib.request, "urlopen", no_fetch)
    config = tmp_path / "c.yaml"
    config.write_text("_BASE_: http://example.com/Base.yaml\n")
    with pytest.raises(ConfigFileError, match="only local config files"):
        load_cfg(str(config))


def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ['A0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"A{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    config = tmp_path / "laughs.yaml"
    config.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigFileError, match="expands to more than"):
        load_cfg(str(config))


def test_oversized_config_file_is_refused(tmp_path):
    config = tmp_path / "big.yaml"
    config.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigFileError, match="bytes; a config file is at most"):
        load_cfg(str(config))


def test_shipped_configs_still_load():
    for config in sorted((REPO / "configs").rglob("*.yaml")):
        load_cfg(str(config))


@pytest.mark.parametrize("flag", ["--frames", "--height", "--width"])
def test_generator_refuses_zero_frames_or_size(tmp_path, capsys, flag):
    import importlib.util
    spec = importlib.util.spec_from_file_location("prepare_synthetic_davis", REPO / "datasets" /
                                                  "prepare_synthetic_davis.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    with pytest.raises(SystemExit):
        cli.main(["--output", str(tmp_path / "out"), flag, "0"])
    assert f"{flag}: must be >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
