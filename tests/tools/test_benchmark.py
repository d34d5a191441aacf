"""tools/benchmark.py on tiny inputs: JSON schema, ratios to 1-1, profile parts, memory check, bad flags, and configs
timed interleaved over rounds (tools/experiments/interleaved.py) with medians and spreads of the ratios."""
import json
import statistics

import pytest
from helpers import REPO, load_tool
from tiny import TINY_MODEL_OPTS

from experiments import benchmark as benchmark_logic
from experiments.interleaved import RoundStatistics, interleaved_schedule

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
        "--iters", "1", "--train-warmup", "0", "--rounds", "2", "--warmup-rounds", "0",
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
        assert entry["machine"].startswith(("x86_64", "aarch64", "arm64")) and "bf16 instructions: " in entry["machine"]
    assert saved["1-1"]["infer_ratio"] == 1.0 and saved["1-1"]["train_ratio"] == 1.0
    other, base = saved["3-7"], saved["1-1"]["rounds"]
    for ratio, figure in (("infer_ratio", "infer_ms_per_frame"), ("train_ratio", "train_s_per_iter")):
        kept = other["rounds"][figure]["rounds"]
        assert len(kept) == 2 and other[figure] == pytest.approx(statistics.median(kept))
        within = [a / b for a, b in zip(kept, base[figure]["rounds"])]
        assert other[ratio] == pytest.approx(statistics.median(within))
        assert other["rounds"][ratio]["rounds"] == pytest.approx(within)
        assert other["rounds"][ratio]["min"] <= other[ratio] <= other["rounds"][ratio]["max"]
    assert other["params_slowfast"] > saved["1-1"]["params_slowfast"]
    assert set(other["video_peak_mem_mb"]) == {"2", "4"}  # the largest window gets the memory check
    assert str(REPO) not in out.read_text() and str(tmp_path) not in out.read_text()  # no machine paths
    printed = capsys.readouterr().out
    assert "| config | params total |" in printed and "| backbone | slowfast | rpn |" in printed
    assert "Video inference peak memory of 3-7" in printed


def test_rejects_unknown_config_and_bad_batch(tmp_path):
    benchmark = load_benchmark()
    with pytest.raises(SystemExit, match="5-5"):
        benchmark.parse_args(["--configs", "5-5"])
    with pytest.raises(SystemExit, match="--frames"):
        benchmark.parse_args(["--frames", "0"])
    with pytest.raises(SystemExit, match="--rounds"):
        benchmark.parse_args(["--rounds", "0"])
    with pytest.raises(SystemExit, match="--warmup-rounds"):
        benchmark.parse_args(["--warmup-rounds", "-1"])
    args = benchmark.parse_args(["--configs", "3-7", "1-1"])
    assert args.configs == ["1-1", "3-7"] and (args.rounds, args.warmup_rounds) == (5, 1)


@pytest.mark.slow
def test_precisions_get_their_own_entries_with_ratios_against_fp32_one_one(tmp_path):
    benchmark = load_benchmark()
    out = tmp_path / "precision.json"
    benchmark.main([
        "--configs", "1-1", "--precision", "bf16", "--height", "64", "--width", "96", "--frames", "1", "--warmup", "1",
        "--iters", "1", "--train-warmup", "0", "--rounds", "1", "--warmup-rounds", "0", "--batch", "2", "--neighbors",
        "2", "--mem-frames",
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
        "--iters", "1", "--train-warmup", "0", "--rounds", "1", "--warmup-rounds", "0", "--batch", "4", "--mem-frames",
        "--json", str(out), "--opts", *TINY_MODEL_OPTS,
    ])
    entry = json.loads(out.read_text())["1-1"]
    assert (entry["batch"], entry["neighbors"]) == (4, 2)


def test_schedule_measures_every_variant_once_per_round_starting_one_later_each_round():
    order = interleaved_schedule(["1-1", "3-7", "7-7"], rounds=2, warmup_rounds=1)
    assert order == [(0, "1-1"), (0, "3-7"), (0, "7-7"), (1, "3-7"), (1, "7-7"), (1, "1-1"),
                     (2, "7-7"), (2, "1-1"), (2, "3-7")]
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        interleaved_schedule(["1-1"], rounds=0)
    stats = RoundStatistics.of([2.0, 1.0, 4.0])
    assert (stats["median"], stats["min"], stats["max"], stats["spread"]) == (2.0, 1.0, 4.0, 1.5)


def test_ratios_hold_on_a_machine_whose_speed_drifts(monkeypatch, capsys):
    """Every measurement runs 5% slower than the one before (a machine slowing down). Timed one config after the
    other, 3-7 / 1-1 would come out 1.5 x 1.05^rounds; interleaved, each round's ratio is off by at most one step's
    drift, in alternating directions, and the median lands within 5% of the true 1.5. The warm-up round is left out."""
    calls = []

    def drifting_measure(kind, args, argv, tmp, config, precision):
        calls.append(config)
        slowdown = 1.05 ** len(calls)
        ms = {"1-1": 100.0, "3-7": 150.0}[config] * slowdown
        return {"config": config, "precision": precision, "params_total": 10, "params_slowfast": 1,
                "infer_ms_per_frame": ms, "infer_cpu_ms_per_frame": ms, "peak_mem_mb": 5.0, "window": 1,
                "torch": "t", "cpu_capability": "AVX2", "cpu_native_bf16": False, "machine": "x86_64, AVX2"}

    monkeypatch.setattr(benchmark_logic, "measure", drifting_measure)
    results = benchmark_logic.main(["--configs", "3-7", "--iters", "0", "--mem-frames", "--rounds", "4",
                              "--warmup-rounds", "1"])
    assert calls == ["1-1", "3-7", "3-7", "1-1"] * 2 + ["1-1", "3-7"]
    ratio = results["3-7"]["rounds"]["infer_ratio"]
    assert len(ratio["rounds"]) == 4 and results["3-7"]["infer_ratio"] == ratio["median"]
    assert results["3-7"]["infer_ratio"] == pytest.approx(1.5, rel=0.05)
    assert ratio["min"] < 1.5 < ratio["max"] and ratio["spread"] == pytest.approx(0.1, abs=0.01)
    # The first (warm-up) measurement of each config is not among the medians' rounds.
    assert min(results["1-1"]["rounds"]["infer_ms_per_frame"]["rounds"]) > 100.0 * 1.05 ** 2
    printed = capsys.readouterr().out
    assert f"({results['3-7']['infer_ratio']:.2f}x, {ratio['min']:.2f}-{ratio['max']:.2f})" in printed
    # Other processes' CPU use is recorded per measurement (the worst kept round) and over the whole run.
    assert "Machine load over the whole run: " in printed and "others' CPU share (worst round)" in printed
    for entry in results.values():
        assert {"other_cpu_share", "run_other_cpu_share"} <= set(entry)
