"""tools/benchmark.py on tiny inputs: JSON schema, ratios to 1-1, profile parts, memory check, bad flags."""
import json

import pytest
from helpers import load_tool
from tiny import TINY_MODEL_OPTS

SCHEMA = {"params_total", "params_slowfast", "infer_ms_per_frame", "train_s_per_iter", "peak_mem_mb",
          "infer_ratio", "train_ratio"}


def load_benchmark():
    return load_tool("benchmark")


@pytest.mark.slow
def test_tiny_run_writes_table_json_and_memory_check(tmp_path, capsys):
    benchmark = load_benchmark()
    out = tmp_path / "bench.json"
    results = benchmark.main([
        "--configs", "3-7", "--height", "64", "--width", "96", "--frames", "1", "--warmup", "1",
        "--iters", "1", "--train-warmup", "0",
        "--batch", "2", "--neighbors", "2", "--mem-frames", "2", "4", "--mem-height", "64", "--mem-width", "96",
        "--profile", "--json", str(out), "--opts", *TINY_MODEL_OPTS,
    ])
    saved = json.loads(out.read_text())
    assert list(saved) == ["1-1", "3-7"]  # 1-1 is always measured: the ratios' reference
    assert saved == json.loads(json.dumps(results))
    for name, entry in saved.items():
        assert SCHEMA <= set(entry), name
        assert entry["params_total"] > entry["params_slowfast"] > 0
        assert entry["infer_ms_per_frame"] > 0 and entry["train_s_per_iter"] > 0 and entry["peak_mem_mb"] > 0
        assert (entry["batch"], entry["neighbors"]) == (2, 2)
        parts = entry["profile_ms"]
        assert set(parts) == set(benchmark.PROFILE_PARTS) and all(parts[p] > 0 for p in ("backbone", "slowfast"))
        assert sum(parts.values()) == pytest.approx(entry["infer_ms_per_frame"])
    assert saved["1-1"]["infer_ratio"] == 1.0 and saved["1-1"]["train_ratio"] == 1.0
    other = saved["3-7"]
    assert other["infer_ratio"] == pytest.approx(other["infer_ms_per_frame"] / saved["1-1"]["infer_ms_per_frame"])
    assert other["train_ratio"] == pytest.approx(other["train_s_per_iter"] / saved["1-1"]["train_s_per_iter"])
    assert other["params_slowfast"] > saved["1-1"]["params_slowfast"]
    assert set(other["video_peak_mem_mb"]) == {"2", "4"}  # the largest window gets the memory check
    printed = capsys.readouterr().out
    assert "| config | params total |" in printed and "| backbone | slowfast | rpn |" in printed
    assert "Video inference peak memory of 3-7" in printed


def test_rejects_unknown_config_and_bad_batch(tmp_path):
    benchmark = load_benchmark()
    with pytest.raises(SystemExit, match="5-5"):
        benchmark.parse_args(["--configs", "5-5"])
    with pytest.raises(SystemExit, match="--frames"):
        benchmark.parse_args(["--frames", "0"])
    args = benchmark.parse_args(["--configs", "3-7", "1-1"])
    assert args.configs == ["1-1", "3-7"]


@pytest.mark.slow
def test_precisions_get_their_own_entries_with_ratios_against_fp32_one_one(tmp_path):
    benchmark = load_benchmark()
    out = tmp_path / "precision.json"
    benchmark.main([
        "--configs", "1-1", "--precision", "bf16", "--height", "64", "--width", "96", "--frames", "1", "--warmup", "1",
        "--iters", "1", "--train-warmup", "0", "--batch", "2", "--neighbors", "2", "--mem-frames",
        "--json", str(out), "--opts", *TINY_MODEL_OPTS,
    ])
    saved = json.loads(out.read_text())
    assert list(saved) == ["1-1", "1-1@bf16"]  # fp32 1-1 is always measured: the ratios' reference
    assert (saved["1-1"]["precision"], saved["1-1@bf16"]["precision"]) == ("fp32", "bf16")
    bf16 = saved["1-1@bf16"]
    assert SCHEMA <= set(bf16) and bf16["params_total"] == saved["1-1"]["params_total"]
    assert bf16["infer_ratio"] == pytest.approx(bf16["infer_ms_per_frame"] / saved["1-1"]["infer_ms_per_frame"])
    assert bf16["infer_cpu_ms_per_frame"] > 0
    assert bf16["infer_cpu_ratio"] == pytest.approx(
        bf16["infer_cpu_ms_per_frame"] / saved["1-1"]["infer_cpu_ms_per_frame"])
    assert bf16["train_ratio"] == pytest.approx(bf16["train_s_per_iter"] / saved["1-1"]["train_s_per_iter"])


def test_fp16_on_cpu_is_refused_before_measuring():
    with pytest.raises(SystemExit, match="--precision 'fp16' needs a CUDA device"):
        load_benchmark().parse_args(["--precision", "fp32", "fp16"])


@pytest.mark.slow
def test_training_groups_default_to_the_configs_neighbor_targets(tmp_path):
    """Without --neighbors a training step batches K = DATALOADER.NEIGHBOR_TARGETS targets per window group, as
    training does (configs/Base-SlowFast-VOS.yaml: 2), not the whole batch as one group."""
    benchmark = load_benchmark()
    out = tmp_path / "groups.json"
    benchmark.main([
        "--configs", "1-1", "--height", "64", "--width", "96", "--frames", "1", "--warmup", "0",
        "--iters", "1", "--train-warmup", "0", "--batch", "4", "--mem-frames",
        "--json", str(out), "--opts", *TINY_MODEL_OPTS,
    ])
    entry = json.loads(out.read_text())["1-1"]
    assert (entry["batch"], entry["neighbors"]) == (4, 2)
