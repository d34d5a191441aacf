"""tools/run_ablation.py: Tables 1/2 from results files, the plot, command construction, resuming and failures."""
import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, load_tool
from tiny import TINY_TRAIN_OPTS
from PIL import Image

TRAIN_NET = str(REPO / "tools" / "train_net.py")
OSVOS_NET = str(REPO / "tools" / "osvos_net.py")

# Hand-made unsupervised results: (J&F, J, F, total params, eval seconds). Deltas to 1-1 equal the paper's.
UNSUPERVISED = {
    "1-1": (0.6, 0.55, 0.65, 45_000_000, 100.0),
    "3-3": (0.7, 0.68, 0.72, 45_976_896, 150.0),
    "7-7": (0.69, 0.66, 0.72, 47_985_984, 179.0),
}
SEMI = {"1-1": (0.75, 0.74, 0.76), "3-3": (0.76, 0.75, 0.77), "7-7": (0.8, 0.78, 0.82)}


@pytest.fixture(scope="module")
def abl():
    return load_tool("run_ablation")


def _davis(jf, j, f):
    return {"J&F-Mean": jf, "J-Mean": j, "J-Recall": 0.9, "J-Decay": 0.01, "F-Mean": f, "F-Recall": 0.8,
            "F-Decay": 0.02}


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _write_results(out: Path, configs=UNSUPERVISED, semi=None) -> None:
    for config, (jf, j, f, params, seconds) in configs.items():
        _write_json(out / config / "results.json", {
            "davis": _davis(jf, j, f),
            "timing": {"eval_time_s": seconds, "frames": 1376, "frames_per_s": 1376 / seconds},
            "params": {"total": params, "trainable": params // 2, "slowfast": 1_000_000},
            "dataset": "davis2016_val"})
    for config, (jf, j, f) in (semi or {}).items():
        _write_json(out / config / "osvos" / "results.json", {"davis": _davis(jf, j, f), "sequences": 20})


def _config_dirs(tmp_path: Path, configs=("1-1", "3-3", "7-7", "1-7", "3-7")):
    cfg_dir, osvos_dir = tmp_path / "configs", tmp_path / "configs" / "osvos"
    osvos_dir.mkdir(parents=True)
    for config in configs:
        (cfg_dir / f"slowfast_{config}.yaml").write_text("_BASE_: Base.yaml\n")
        (osvos_dir / f"slowfast_{config}.yaml").write_text("_BASE_: Base.yaml\n")
    return str(cfg_dir), str(osvos_dir)


def test_table1_values_deltas_and_ratios_to_1_1(abl, tmp_path):
    _write_results(tmp_path)
    table = abl.build_table1(abl.load_results(str(tmp_path), ["1-1", "3-3", "7-7"]))
    assert table.column("Config") == ["1-1", "3-3", "7-7"]
    assert table.column("J&F-Mean") == [0.6, 0.7, 0.69]
    assert table.column("J-Mean") == [0.55, 0.68, 0.66]
    assert table.column("F-Mean") == [0.65, 0.72, 0.72]
    assert table.column("Parameters") == [45_000_000, 45_976_896, 47_985_984]
    assert table.column("Δ params vs 1-1") == [0, 976_896, 2_985_984]
    assert table.column("Eval time (s)") == [100.0, 150.0, 179.0]
    assert table.column("time vs 1-1") == [1.0, 1.5, 1.79]
    assert table.column("J&F-Mean (paper)") == [0.645, 0.679, 0.673]
    assert table.column("Parameters (paper)") == [45_421_851, 46_398_747, 48_407_835]
    assert table.column("Δ params vs 1-1 (paper)") == table.column("Δ params vs 1-1")


def test_table1_without_1_1_has_no_ratios(abl, tmp_path):
    _write_results(tmp_path)
    table = abl.build_table1(abl.load_results(str(tmp_path), ["3-3", "7-7"]))
    assert table.column("Δ params vs 1-1") == [None, None]
    assert table.column("time vs 1-1") == [None, None]
    assert table.column("Δ params vs 1-1 (paper)") == [976_896, 2_985_984]
    assert "| 3-3 | 0.700 | 0.680 | 0.720 | 45,976,896 | n/a | 150.0 | n/a | 0.679 |" in table.to_markdown()


def test_table2_rows(abl, tmp_path):
    _write_results(tmp_path, semi=SEMI)
    table = abl.build_table2(abl.load_results(str(tmp_path), ["7-7", "1-1"], semi_supervised=True))
    assert table.columns == ["Config", "J&F-Mean (semi-supervised)", "J-Mean", "F-Mean", "J&F-Mean (paper)"]
    assert table.rows == [["7-7", 0.8, 0.78, 0.82, 0.755], ["1-1", 0.75, 0.74, 0.76, 0.747]]


def test_write_tables_markdown_and_csv(abl, tmp_path):
    _write_results(tmp_path, semi=SEMI)
    configs = ["1-1", "3-3", "7-7"]
    table1 = abl.build_table1(abl.load_results(str(tmp_path), configs))
    table2 = abl.build_table2(abl.load_results(str(tmp_path), configs, semi_supervised=True))
    out = tmp_path / "tables"
    written = abl.write_tables(str(out), table1, table2)
    assert sorted(Path(p).name for p in written) == ["table1.csv", "table1.md", "table2.csv", "table2.md"]
    assert sorted(p.name for p in out.iterdir()) == ["table1.csv", "table1.md", "table2.csv", "table2.md"]

    md = (out / "table1.md").read_text(encoding="utf-8")
    assert ("| 3-3 | 0.700 | 0.680 | 0.720 | 45,976,896 | +976,896 | 150.0 | 1.50x | 0.679 | 46,398,747 | +976,896 |"
            in md)
    assert "| 1-1 | 0.600 | 0.550 | 0.650 | 45,000,000 | 0 | 100.0 | 1.00x | 0.645 | 45,421,851 | 0 |" in md
    rows = list(csv.reader((out / "table1.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["Config", "J&F-Mean", "J-Mean", "F-Mean", "Parameters", "Δ params vs 1-1", "Eval time (s)",
                       "time vs 1-1", "J&F-Mean (paper)", "Parameters (paper)", "Δ params vs 1-1 (paper)"]
    assert rows[3] == ["7-7", "0.69", "0.66", "0.72", "47985984", "2985984", "179.0", "1.79", "0.673", "48407835",
                       "2985984"]
    rows2 = list(csv.reader((out / "table2.csv").read_text(encoding="utf-8").splitlines()))
    assert rows2[0] == ["Config", "J&F-Mean (semi-supervised)", "J-Mean", "F-Mean", "J&F-Mean (paper)"]
    assert rows2[1] == ["1-1", "0.75", "0.74", "0.76", "0.747"]
    assert "| 7-7 | 0.800 | 0.780 | 0.820 | 0.755 |" in (out / "table2.md").read_text(encoding="utf-8")


def test_plot_is_a_valid_png(abl, tmp_path):
    _write_results(tmp_path)
    path = abl.plot_jf_vs_time(abl.load_results(str(tmp_path), list(UNSUPERVISED)), str(tmp_path / "p" / "jf.png"))
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (600, 400)
        assert len(set(image.convert("RGB").getdata())) > 10  # something was drawn
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["jf.png"]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, r"config 3-3: results file not found: .*3-3/results\.json"),
        ("{not json", r"config 3-3: cannot read results file .*3-3/results\.json"),
        ({"davis": _davis(0.1, 0.1, 0.1), "params": {"total": 5}},
         r"3-3/results\.json: missing key 'timing\.eval_time_s'"),
        ({"davis": _davis(0.1, 0.1, 0.1), "timing": {"eval_time_s": 1.0}, "params": {"total": 5.5}},
         r"3-3/results\.json: 'params\.total' should be an integer, got 5\.5"),
        ({"davis": {**_davis(0.1, 0.1, 0.1), "F-Mean": "high"}, "timing": {"eval_time_s": 1.0},
          "params": {"total": 5}},
         r"3-3/results\.json: 'davis\.F-Mean' should be a number"),
        ([1, 2], r"3-3/results\.json: expected a JSON object"),
    ],
)
def test_invalid_results_file_is_named(abl, tmp_path, content, message):
    _write_results(tmp_path, {"1-1": UNSUPERVISED["1-1"]})
    path = tmp_path / "3-3" / "results.json"
    if content is not None:
        path.parent.mkdir(parents=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(abl.AblationError, match=message):
        abl.load_results(str(tmp_path), ["1-1", "3-3"])


def test_missing_osvos_results_named(abl, tmp_path):
    _write_results(tmp_path, semi={"1-1": SEMI["1-1"]})
    with pytest.raises(abl.AblationError, match=r"config 3-3: results file not found: .*3-3/osvos/results\.json"):
        abl.load_results(str(tmp_path), ["1-1", "3-3"], semi_supervised=True)


def test_tables_only_writes_every_output(abl, tmp_path, capsys):
    _write_results(tmp_path, semi=SEMI)
    assert abl.main(["--output-dir", str(tmp_path), "--configs", "1-1", "3-3", "7-7", "--tables-only"]) == 0
    names = {"table1.md", "table1.csv", "table2.md", "table2.csv", "jf_vs_time.png"}
    assert names <= {p.name for p in tmp_path.iterdir()}
    assert capsys.readouterr().out.split() == [str(tmp_path / n) for n in
                                               ("table1.md", "table1.csv", "table2.md", "table2.csv", "jf_vs_time.png")]


def test_tables_only_skips_table2_without_osvos_results_unless_asked(abl, tmp_path, capsys):
    _write_results(tmp_path, semi={"1-1": SEMI["1-1"]})
    args = ["--output-dir", str(tmp_path), "--configs", "1-1", "3-3", "--tables-only"]
    assert abl.main(args) == 0
    assert "table 2 not written" in capsys.readouterr().err
    assert not (tmp_path / "table2.md").exists() and (tmp_path / "table1.md").exists()
    with pytest.raises(abl.AblationError, match=r"3-3/osvos/results\.json"):
        abl.main(args + ["--osvos"])


def test_dry_run_prints_train_and_osvos_commands(abl, tmp_path, capsys):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = str(tmp_path / "out")
    assert abl.main(["--config-dir", cfg_dir, "--configs", "1-1", "3-7", "--output-dir", out, "--osvos",
                     "--osvos-config-dir", osvos_dir, "--num-gpus", "2", "--dry-run", "--",
                     "SOLVER.MAX_ITER", "100", "DATALOADER.NUM_WORKERS", "0"]) == 0
    extra = "SOLVER.MAX_ITER 100 DATALOADER.NUM_WORKERS 0"
    expected = []
    for config in ("1-1", "3-7"):
        expected.append(shlex.join([sys.executable, TRAIN_NET, "--config-file", f"{cfg_dir}/slowfast_{config}.yaml",
                                    "--num-gpus", "2", "--resume", "OUTPUT_DIR", f"{out}/{config}"]) + " " + extra)
        expected.append(shlex.join([sys.executable, OSVOS_NET, "--config-file", f"{osvos_dir}/slowfast_{config}.yaml",
                                    "OUTPUT_DIR", f"{out}/{config}/osvos",
                                    "MODEL.WEIGHTS", f"{out}/{config}/model_final.pth"]) + " " + extra)
    assert capsys.readouterr().out.splitlines() == expected
    assert not Path(out).exists()  # a dry run writes nothing


def test_dry_run_eval_mode_uses_the_weights_pattern(abl, tmp_path, capsys):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = str(tmp_path / "out")
    abl.main(["--config-dir", cfg_dir, "--configs", "7-7", "--output-dir", out, "--mode", "eval", "--osvos",
              "--osvos-config-dir", osvos_dir, "--weights-pattern", "/w/{config}/best.pth", "--dry-run"])
    assert capsys.readouterr().out.splitlines() == [
        shlex.join([sys.executable, TRAIN_NET, "--config-file", f"{cfg_dir}/slowfast_7-7.yaml", "--eval-only",
                    "OUTPUT_DIR", f"{out}/7-7", "MODEL.WEIGHTS", "/w/7-7/best.pth"]),
        shlex.join([sys.executable, OSVOS_NET, "--config-file", f"{osvos_dir}/slowfast_7-7.yaml",
                    "OUTPUT_DIR", f"{out}/7-7/osvos", "MODEL.WEIGHTS", "/w/7-7/best.pth"]),
    ]


def test_existing_results_are_skipped_unless_forced(abl, tmp_path, capsys):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = tmp_path / "out"
    _write_results(out, {"1-1": UNSUPERVISED["1-1"]}, semi={"3-3": SEMI["3-3"]})
    base = ["--config-dir", cfg_dir, "--configs", "1-1", "3-3", "--output-dir", str(out), "--osvos",
            "--osvos-config-dir", osvos_dir, "--dry-run"]
    abl.main(base)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"# skip 1-1 train: {out}/1-1/results.json exists (--force to rerun)"
    assert OSVOS_NET in lines[1] and f"{out}/1-1/osvos" in lines[1]
    assert TRAIN_NET in lines[2] and f"{out}/3-3" in lines[2]
    assert lines[3] == f"# skip 3-3 osvos: {out}/3-3/osvos/results.json exists (--force to rerun)"
    assert len(lines) == 4
    abl.main(base + ["--force"])
    assert not any(line.startswith("# skip") for line in capsys.readouterr().out.splitlines())


def test_completed_ablation_runs_nothing_and_writes_tables(abl, tmp_path, monkeypatch):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = tmp_path / "out"
    _write_results(out, semi=SEMI)

    def no_subprocess(*args, **kwargs):
        raise AssertionError("a finished config was run again")

    monkeypatch.setattr(abl.subprocess, "Popen", no_subprocess)
    assert abl.main(["--config-dir", cfg_dir, "--configs", *UNSUPERVISED, "--output-dir", str(out), "--osvos",
                     "--osvos-config-dir", osvos_dir]) == 0
    assert (out / "table2.csv").exists() and (out / "jf_vs_time.png").exists()
    assert "| 7-7 | 0.690 |" in (out / "table1.md").read_text(encoding="utf-8")


def test_missing_config_file_is_named(abl, tmp_path):
    cfg_dir, _ = _config_dirs(tmp_path, configs=("1-1",))
    with pytest.raises(abl.AblationError, match=r"config 3-3: config file not found: .*configs/slowfast_3-3\.yaml"):
        abl.main(["--config-dir", cfg_dir, "--configs", "1-1", "3-3", "--output-dir", str(tmp_path), "--dry-run"])


def test_eval_mode_names_missing_weights_before_running(abl, tmp_path, monkeypatch):
    cfg_dir, _ = _config_dirs(tmp_path)
    monkeypatch.setattr(abl.subprocess, "Popen", lambda *a, **k: pytest.fail("started without its weights"))
    with pytest.raises(abl.AblationError, match=r"config 1-7 \(eval\): required file not found: .*1-7/model_final"):
        abl.main(["--config-dir", cfg_dir, "--configs", "1-7", "--output-dir", str(tmp_path / "o"), "--mode", "eval"])


def test_bad_arguments_are_rejected(abl, tmp_path):
    bad_args = (["--configs", "2-4"], ["--configs", "7-3"], ["--configs", "1-1", "1-1"], ["--tables-only", "--dry-run"])
    for bad in bad_args:
        with pytest.raises(SystemExit):
            abl.parse_args(["--output-dir", str(tmp_path), *bad])
    with pytest.raises(abl.AblationError, match="--weights-pattern"):
        abl.weights_for("{model}/x.pth", "out", "1-1")


def _run(abl, tmp_path, code: str):
    return abl.Run("3-7", "train", [sys.executable, "-c", code], str(tmp_path / "3-7" / "run_train.log"),
                   str(tmp_path / "3-7" / "results.json"), [])


@pytest.mark.slow
def test_execute_streams_output_to_the_log(abl, tmp_path, capsys):
    results = tmp_path / "3-7" / "results.json"
    abl.execute(_run(abl, tmp_path, f"print('step 1'); open({str(results)!r}, 'w').write('{{}}')"))
    log = (tmp_path / "3-7" / "run_train.log").read_text()
    assert log.startswith("$ ") and "step 1\n" in log
    assert "step 1" in capsys.readouterr().out


@pytest.mark.slow
def test_execute_failure_names_config_and_log(abl, tmp_path):
    failed = r"config 3-7: train failed with exit code 3; see .*3-7/run_train\.log"
    with pytest.raises(abl.AblationError, match=failed):
        abl.execute(_run(abl, tmp_path, "import sys; print('boom', file=sys.stderr); sys.exit(3)"))
    assert "boom" in (tmp_path / "3-7" / "run_train.log").read_text()
    with pytest.raises(abl.AblationError, match=r"train finished but wrote no .*3-7/results\.json; see .*run_train"):
        abl.execute(_run(abl, tmp_path, "pass"))


@pytest.mark.slow
def test_script_reports_errors_on_the_command_line(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "run_ablation.py"), "--config-dir",
                           str(tmp_path / "none"), "--output-dir", str(tmp_path), "--dry-run"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "run_ablation: error: config 1-1: config file not found" in proc.stderr


# --------------------------------------------------------------------------------------------------------------
# --preset: the whole study over several training seeds
# --------------------------------------------------------------------------------------------------------------
def test_preset_dry_run_lists_one_pretraining_and_every_seed(abl, tmp_path, capsys):
    out = tmp_path / "out"
    assert abl.main(["--preset", "quickstart", "--seeds", "3", "--output-dir", str(out), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    commands = [shlex.split(line) for line in lines if not line.startswith("#")]
    pretrain = [c for c in commands if c[3].endswith("pretrain_mask_rcnn.yaml")]
    assert len(pretrain) == 1 and pretrain[0][-2:] == ["OUTPUT_DIR", f"{out}/pretrain"]
    train = [c for c in commands if c[1] == TRAIN_NET and c not in pretrain]
    osvos = [c for c in commands if c[1] == OSVOS_NET]
    assert len(train) == 5 * 3 and len(osvos) == 2 * 3
    seen = set()
    for command in train:
        config = command[3].rsplit("slowfast_", 1)[1][:-len(".yaml")]
        seed = command[command.index("SEED") + 1]
        seen.add((config, seed))
        assert command[command.index("MODEL.WEIGHTS") + 1] == f"{out}/pretrain/model_final.pth"
        assert command[command.index("MODEL.FREEZE.BACKBONE") + 1] == "True"
        assert command[command.index("OUTPUT_DIR") + 1] == f"{out}/seed{seed}/{config}"
    assert seen == {(c, str(s)) for c in ("1-1", "3-3", "7-7", "1-7", "3-7") for s in (1, 2, 3)}
    assert sorted(c[3].rsplit("_", 1)[1] for c in osvos) == ["1-1.yaml"] * 3 + ["3-7.yaml"] * 3
    assert not out.exists()  # a dry run writes nothing, not even the data


def _seed_results(out: Path, config: str, seed: int, jf: float, seconds: float, semi_jf=None) -> None:
    folder = out / f"seed{seed}" / config
    _write_json(folder / "results.json", {
        "davis": _davis(jf, jf - 0.01, jf + 0.01),
        "davis_clean": {"J&F-Mean": jf + 0.05, "J-Mean": 0, "F-Mean": 0, "frames": 10},
        "davis_degraded": {"J&F-Mean": jf - 0.2, "J-Mean": 0, "F-Mean": 0, "frames": 3},
        "timing": {"eval_time_s": seconds, "frames": 100, "frames_per_s": 100 / seconds},
        "params": {"total": 1000 if config == "1-1" else 1500, "trainable": 10, "slowfast": 5},
        "dataset": "synthetic_davis2016_val"})
    if semi_jf is not None:
        _write_json(folder / "osvos" / "results.json", {"davis": _davis(semi_jf, semi_jf, semi_jf)})


def test_preset_tables_report_mean_and_std_over_seeds(abl, tmp_path, capsys):
    out = tmp_path / "out"
    for seed, (a, b) in enumerate([(0.70, 0.60), (0.72, 0.66), (0.74, 0.66)], start=1):
        _seed_results(out, "1-1", seed, a, 10.0, semi_jf=a + 0.1)
        _seed_results(out, "3-7", seed, b, 20.0 + seed, semi_jf=b + 0.1)
    assert abl.main(["--preset", "quickstart", "--seeds", "3", "--configs", "1-1", "3-7", "--output-dir", str(out),
                     "--tables-only"]) == 0
    with open(out / "table1.csv", encoding="utf-8") as f:
        rows = {row["Config"]: row for row in csv.DictReader(f)}
    assert float(rows["1-1"]["J&F-Mean"]) == pytest.approx(0.72)
    assert float(rows["1-1"]["J&F std"]) == pytest.approx(0.02)
    assert float(rows["3-7"]["J&F-Mean"]) == pytest.approx(0.64)
    assert float(rows["3-7"]["J&F std"]) == pytest.approx(0.034641, abs=1e-6)
    assert float(rows["3-7"]["J&F clean"]) == pytest.approx(0.69)
    assert float(rows["3-7"]["J&F degraded"]) == pytest.approx(0.44)
    assert float(rows["3-7"]["time vs 1-1"]) == pytest.approx(2.2)
    assert int(rows["3-7"]["Δ params vs 1-1"]) == 500 and rows["3-7"]["Seeds"] == "3"
    with open(out / "runs.csv", encoding="utf-8") as f:
        runs = list(csv.DictReader(f))
    assert [(r["Config"], r["Seed"]) for r in runs] == [("1-1", "1"), ("1-1", "2"), ("1-1", "3"),
                                                        ("3-7", "1"), ("3-7", "2"), ("3-7", "3")]
    assert float(runs[4]["J&F-Mean (semi-supervised)"]) == pytest.approx(0.76)
    with open(out / "table2.csv", encoding="utf-8") as f:
        semi = {row["Config"]: row for row in csv.DictReader(f)}
    assert float(semi["3-7"]["J&F-Mean (semi-supervised)"]) == pytest.approx(0.74)
    assert "| 3-7 | 0.640 | 0.035 |" in (out / "table1.md").read_text(encoding="utf-8")
    with Image.open(out / "jf_vs_time.png") as image:
        assert image.format == "PNG" and image.size == (600, 400)
    # A missing seed is named.
    (out / "seed2" / "3-7" / "results.json").unlink()
    with pytest.raises(abl.AblationError, match=r"config 3-7: results file not found: .*seed2/3-7/results\.json"):
        abl.main(["--preset", "quickstart", "--seeds", "3", "--configs", "1-1", "3-7", "--output-dir", str(out),
                  "--tables-only"])


def test_preset_refuses_a_data_folder_made_with_other_settings(abl, tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path / "elsewhere"))
    small = {"seed": 5, "train_sequences": 1, "val_sequences": 1, "frames": 4, "height": 32, "width": 48}
    root = abl.prepare_preset_data(str(tmp_path / "out"), small, progress=False)
    assert root == str(tmp_path / "out" / "datasets" / "DAVIS-synthetic")
    assert abl.prepare_preset_data(str(tmp_path / "out"), small, progress=False) == root  # reused as it is
    with pytest.raises(abl.AblationError, match=r"other settings .*'seed': \(5, 6\)"):
        abl.prepare_preset_data(str(tmp_path / "out"), dict(small, seed=6), progress=False)


@pytest.mark.slow
def test_preset_real_run_resumes_after_a_kill(tmp_path):
    """A real preset run on a tiny generated set, killed during its first fine-tune, then run again to the end."""
    out = tmp_path / "out"
    command = [sys.executable, str(REPO / "tools" / "run_ablation.py"), "--preset", "quickstart", "--seeds", "1",
               "--configs", "1-1", "3-3", "--osvos-configs", "1-1", "--output-dir", str(out),
               "--train-sequences", "2", "--val-sequences", "1", "--data-frames", "5", "--data-size", "48", "64",
               "--", *TINY_TRAIN_OPTS, "SOLVER.IMS_PER_BATCH", "4", "SOLVER.MAX_ITER", "2", "SOLVER.STEPS", "()",
               "SOLVER.WARMUP_ITERS", "0", "SOLVER.CHECKPOINT_PERIOD", "1", "OSVOS.ITERS", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1", SLOWFAST_VOS_CACHE=str(tmp_path / "cache"))
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    started = out / "seed1" / "1-1" / "run_train.log"
    deadline = time.monotonic() + 300
    while first.poll() is None and not started.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert started.exists(), "the first fine-tune never started"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert (out / "pretrain" / "model_final.pth").is_file()
    assert not (out / "table1.md").exists()

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"skip single-frame pretrain: {out}/pretrain/model_final.pth exists" in second.stdout
    for name in ("table1.md", "table1.csv", "table2.md", "runs.csv", "jf_vs_time.png"):
        assert (out / name).is_file(), name
    with open(out / "runs.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["Config"], r["Seed"]) for r in rows] == [("1-1", "1"), ("3-3", "1")]
    assert rows[0]["J&F-Mean (semi-supervised)"] != "" and rows[1]["J&F-Mean (semi-supervised)"] == ""
    # The set was generated with tags, so the clean/degraded split is reported.
    assert json.loads((out / "seed1" / "1-1" / "results.json").read_text())["davis_clean"]["frames"] > 0


@pytest.mark.slow
def test_execute_all_runs_in_parallel_after_dependencies(abl, tmp_path, capsys):
    def run(name, code, needs=(), after=()):
        out = tmp_path / name
        return abl.Run(name, "train", [sys.executable, "-c", code], str(out / "run.log"), str(out / "results.json"),
                       [str(tmp_path / n / "results.json") for n in needs], after)

    write = "import os, pathlib, time; time.sleep({}); p = pathlib.Path({!r}); p.write_text(str(time.time()))"
    runs = [run("a", write.format(0.5, str(tmp_path / "a" / "results.json"))),
            run("b", write.format(0, str(tmp_path / "b" / "results.json")), needs=["a"], after=(0,)),
            run("c", write.format(0, str(tmp_path / "c" / "results.json")))]
    abl.execute_all(runs, [0, 1, 2], jobs=2)
    times = {n: float((tmp_path / n / "results.json").read_text()) for n in "abc"}
    assert times["c"] < times["a"] < times["b"]  # c ran beside a; b waited for a
    assert "done: c" in capsys.readouterr().out

    failing = [run("x", "import sys; sys.exit(3)"), run("y", "pass", after=(0,))]
    with pytest.raises(abl.AblationError, match="config x: train failed with exit code 3"):
        abl.execute_all(failing, [0, 1], jobs=2)
    assert not (tmp_path / "y" / "run.log").exists()  # nothing starts after a failure
