"""The ablation pipeline (tools/experiments/ablation, tools/run_ablation.py): planning, resuming, scheduling and its
record of who ran alone, Tables 1 and 2, the runs and timing tables, the plot, and failures named."""
import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, load_tool
from tiny import TINY_TRAIN_OPTS
from PIL import Image

from experiments import ablation
from experiments.ablation import AblationError, Stage, StageRecord
from experiments.stages import StageError

TRAIN_NET = str(REPO / "tools" / "train_net.py")
OSVOS_NET = str(REPO / "tools" / "osvos_net.py")
QUICKSTART = ablation.quickstart_recipe(str(REPO / "configs" / "quickstart"))

# Hand-made unsupervised results: (J&F, J, F, total params, timed-alone seconds). Deltas to 1-1 equal the paper's.
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


def _unsupervised(jf, j, f, params, seconds, dataset="davis2016_val", subsets=None):
    return {"davis": _davis(jf, j, f), **(subsets or {}),
            "timing": {"eval_time_s": seconds, "frames": 1376, "frames_per_s": 1376 / seconds},
            "params": {"total": params, "trainable": params // 2, "slowfast": 1_000_000}, "dataset": dataset}


def _write_timing(out: Path, row: str, seconds: float, ran_alone: bool = True, frames: int = 1376) -> None:
    """A timing stage's results.json and the scheduler's record of it."""
    folder = out / "timing" / row
    _write_json(folder / "results.json", {"davis": _davis(0.1, 0.1, 0.1), "dataset": "davis2016_val",
                                          "timing": {"eval_time_s": seconds, "frames": frames}})
    StageRecord(f"{row} timing", ["python", "train_net.py", "--eval-only"], "2026-12-04T19:00:00Z", seconds + 5,
                ran_alone, 1).write(str(folder / "ablation_stage.json"))


def _write_results(out: Path, configs=UNSUPERVISED, semi=None, timing=True) -> None:
    """One seed (seed1/) per config; the fine-tunes' own eval times are 1000x the timed-alone ones."""
    for config, (jf, j, f, params, seconds) in configs.items():
        _write_json(out / "seed1" / config / "results.json", _unsupervised(jf, j, f, params, seconds * 1000))
        if timing:
            _write_timing(out, config, seconds)
    for config, (jf, j, f) in (semi or {}).items():
        _write_json(out / "seed1" / config / "osvos" / "results.json",
                    {"davis": _davis(jf, j, f), "sequences": 20, "dataset": "davis2016_val"})


def _load(out: Path, rows, osvos_rows=(), recipe=None, seeds=(1,)):
    recipe = recipe or ablation.config_dir_recipe("configs", "configs/osvos")
    return ablation.load_results(str(out), list(rows), list(seeds), recipe, list(osvos_rows))


def _config_dirs(tmp_path: Path, configs=("1-1", "3-3", "7-7", "1-7", "3-7")):
    cfg_dir, osvos_dir = tmp_path / "configs", tmp_path / "configs" / "osvos"
    osvos_dir.mkdir(parents=True)
    for config in configs:
        (cfg_dir / f"slowfast_{config}.yaml").write_text("_BASE_: Base.yaml\n")
        (osvos_dir / f"slowfast_{config}.yaml").write_text("_BASE_: Base.yaml\n")
    return str(cfg_dir), str(osvos_dir)


# --------------------------------------------------------------------------------------------------------------
# Tables and plot
# --------------------------------------------------------------------------------------------------------------
def test_table1_values_deltas_and_ratios_to_1_1(tmp_path):
    _write_results(tmp_path)
    table = ablation.build_table1(_load(tmp_path, ["1-1", "3-3", "7-7"]))
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
    assert table.column("J&F std") == [None, None, None] and table.column("Seeds") == ["1", "1", "1"]
    assert "timed one at a time" in table.to_markdown()


def test_table1_without_1_1_has_no_ratios(tmp_path):
    _write_results(tmp_path)
    table = ablation.build_table1(_load(tmp_path, ["3-3", "7-7"]))
    assert table.column("Δ params vs 1-1") == [None, None]
    assert table.column("time vs 1-1") == [None, None]
    assert table.column("Δ params vs 1-1 (paper)") == [976_896, 2_985_984]
    assert "| 3-3 | 0.700 | n/a | 0.680 | 0.720 | n/a | n/a | 45,976,896 | n/a | 150.0 | n/a | 0.679 |" in (
        table.to_markdown())


def test_time_column_never_comes_from_stages_that_ran_concurrently(tmp_path):
    _write_results(tmp_path, timing=False)
    _write_timing(tmp_path, "1-1", 100.0)
    _write_timing(tmp_path, "3-3", 90.0, ran_alone=False)  # measured beside other stages
    _write_json(tmp_path / "timing" / "7-7" / "results.json",  # no record of how it ran
                _unsupervised(0.1, 0.1, 0.1, 5, 80.0))
    results = _load(tmp_path, ["1-1", "3-3", "7-7"])
    table = ablation.build_table1(results)
    # Only 1-1's timing ran alone; the fine-tunes' own eval times (100000 s, 150000 s, ...) are never used.
    assert table.column("Eval time (s)") == [100.0, None, None]
    assert table.column("time vs 1-1") == [1.0, None, None]
    markdown = table.to_markdown()
    assert "3-3: " in markdown and "measured beside other stages; not used" in markdown
    assert "7-7: " in markdown and "has no stage record" in markdown
    timing = ablation.build_timing_table(results)
    assert timing.column("Eval time (s)") == [100.0, None, None]
    assert timing.column("ms/frame") == [pytest.approx(100_000 / 1376), None, None]
    assert "train_net.py --eval-only" in timing.column("Command")[0]


@pytest.mark.slow
def test_scheduler_records_which_stages_ran_alone_and_runs_timing_alone(tmp_path, capsys):
    """Stages that overlapped (--jobs 2) are recorded as concurrent, the exclusive timing stage ran alone, and so
    the table's time comes from the timing stage only."""
    def stage(name, code, after=(), exclusive=False, kind="train"):
        out = tmp_path / name
        return Stage(name, kind, None, [sys.executable, "-c", code], str(out), [], after, exclusive)

    write = ("import pathlib, time; s = time.time(); time.sleep({}); "
             "pathlib.Path({!r}).write_text(repr((s, time.time())))")
    stages = [stage("a", write.format(0.6, str(tmp_path / "a" / "results.json"))),
              stage("b", write.format(0.6, str(tmp_path / "b" / "results.json"))),
              stage("t", write.format(0.1, str(tmp_path / "t" / "results.json")), exclusive=True, kind="timing"),
              stage("c", write.format(0.1, str(tmp_path / "c" / "results.json")))]
    records = ablation.run_stages(stages, [0, 1, 2, 3], jobs=2)
    spans = {n: eval((tmp_path / n / "results.json").read_text()) for n in "abtc"}
    assert spans["a"][0] < spans["b"][1] and spans["b"][0] < spans["a"][1]  # a and b overlapped
    others = [spans[n] for n in "abc"]
    assert all(end <= spans["t"][0] or start >= spans["t"][1] for start, end in others)  # t ran alone
    assert records[0].ran_alone is False and records[1].ran_alone is False and records[2].ran_alone is True
    assert StageRecord.read(str(tmp_path / "t" / "ablation_stage.json")) == records[2]
    assert records[2].jobs == 2 and records[2].command == ["python", *stages[2].command[1:]]  # not the machine's path
    assert [records[i].kind for i in range(4)] == ["train", "train", "timing", "train"]
    assert "done: t" in capsys.readouterr().out


def test_table2_paper_protocol_rows_mean_std_and_multi_object_column(tmp_path):
    for seed, shift in ((1, 0.0), (2, 0.02)):
        for row in ("1-1", "3-7"):
            _write_json(tmp_path / f"seed{seed}" / row / "results.json",
                        _unsupervised(0.7, 0.7, 0.7, 10, 1.0, "synthetic_davis2016_val"))
        _write_json(tmp_path / f"seed{seed}" / "3-7" / "osvos_davis2016" / "results.json",
                    {"davis": _davis(0.8 + shift, 0.8, 0.8), "dataset": "synthetic_davis2016_val",
                     "davis_clean": {"J&F-Mean": 0.85 + shift, "J-Mean": 0, "F-Mean": 0, "frames": 20},
                     "davis_degraded": {"J&F-Mean": 0.6 - shift, "J-Mean": 0, "F-Mean": 0, "frames": 4},
                     "tracking": {"objects": 16, "frames_lost": 3, "losses": 2, "losses_recovered": seed,
                                  "objects_lost_until_end": 2 - seed}})
        _write_json(tmp_path / f"seed{seed}" / "3-7" / "osvos" / "results.json",
                    {"davis": _davis(0.6 + shift, 0.6, 0.6), "dataset": "synthetic_davis2017_val"})
    results = _load(tmp_path, ["1-1", "3-7"], osvos_rows=["3-7"], recipe=QUICKSTART, seeds=(1, 2))
    table = ablation.build_table2(results)
    assert table.column("Config") == ["3-7"]  # 1-1 ran no OSVOS
    assert table.column("J&F-Mean (semi-supervised)") == [pytest.approx(0.81)]
    assert table.column("J&F std") == [pytest.approx(0.014142, abs=1e-6)]
    assert table.column("J&F-Mean (paper)") == [0.758] and table.column("Seeds") == ["2"]
    assert table.column("J&F clean") == [pytest.approx(0.86)] and table.column("J&F degraded") == [pytest.approx(0.59)]
    assert table.column("J&F-Mean (multi-object)") == [pytest.approx(0.61)]
    # OSVOS against the same seeds' parents (0.7), and the losses summed over the seeds.
    assert table.column("OSVOS - parent") == [pytest.approx(0.11)]
    assert table.column("Losses recovered") == ["3/4"] and table.column("Objects lost until end") == ["1"]
    markdown = table.to_markdown()
    assert "one binary object per sequence, scored on synthetic_davis2016_val" in markdown
    assert "Multi-object: the same parents' OSVOS on synthetic_davis2017_val" in markdown
    # A row asked for OSVOS without its results is named.
    with pytest.raises(AblationError, match=r"config 1-1: results file not found: .*seed1/1-1/osvos_davis2016"):
        _load(tmp_path, ["1-1", "3-7"], osvos_rows=["1-1", "3-7"], recipe=QUICKSTART, seeds=(1, 2))


def test_write_tables_markdown_and_csv(tmp_path):
    _write_results(tmp_path, semi=SEMI)
    results = _load(tmp_path, ["1-1", "3-3", "7-7"], osvos_rows=["1-1", "3-3", "7-7"])
    out = tmp_path / "tables"
    written = ablation.write_table(str(out), "table1", ablation.build_table1(results))
    written += ablation.write_table(str(out), "table2", ablation.build_table2(results))
    assert sorted(Path(p).name for p in written) == ["table1.csv", "table1.md", "table2.csv", "table2.md"]
    assert sorted(p.name for p in out.iterdir()) == ["table1.csv", "table1.md", "table2.csv", "table2.md"]
    md = (out / "table1.md").read_text(encoding="utf-8")
    assert ("| 3-3 | 0.700 | n/a | 0.680 | 0.720 | n/a | n/a | 45,976,896 | +976,896 | 150.0 | 1.50x | 0.679 | "
            "46,398,747 | +976,896 | 1 |") in md
    rows = list(csv.reader((out / "table1.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0][:4] == ["Config", "J&F-Mean", "J&F std", "J-Mean"]
    assert rows[3] == ["7-7", "0.69", "", "0.66", "0.72", "", "", "47985984", "2985984", "179.0", "1.79", "0.673",
                       "48407835", "2985984", "1"]
    rows2 = list(csv.reader((out / "table2.csv").read_text(encoding="utf-8").splitlines()))
    assert rows2[0] == ["Config", "J&F-Mean (semi-supervised)", "J&F std", "J-Mean", "F-Mean", "J&F clean",
                        "J&F degraded", "OSVOS - parent", "J-Decay", "Losses recovered", "Objects lost until end",
                        "J&F-Mean (paper)", "Seeds"]
    assert rows2[1][:7] + rows2[1][8:] == ["1-1", "0.75", "", "0.74", "0.76", "", "", "0.01", "", "", "0.747", "1"]
    assert float(rows2[1][7]) == pytest.approx(0.15)  # OSVOS 0.75 against its parent's 0.6
    # Results scored before the tracking measures existed read n/a there.
    assert "| 7-7 | 0.800 | n/a | 0.780 | 0.820 | n/a | n/a | +0.110 | 0.010 | n/a | n/a | 0.755 | 1 |" in (
        out / "table2.md").read_text(encoding="utf-8")


def test_plot_has_two_panels_on_the_timed_axis(tmp_path):
    _write_results(tmp_path)
    path = ablation.plot_jf_vs_time(_load(tmp_path, list(UNSUPERVISED)), str(tmp_path / "p" / "jf.png"))
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1000, 400)
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # something was drawn
    assert (pixels[:, :500] != 255).any() and (pixels[:, 500:] != 255).any()  # in both panels
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["jf.png"]
    # Without any timing run alone there is no time axis to draw.
    untimed = tmp_path / "untimed"
    _write_results(untimed, timing=False)
    assert ablation.plot_jf_vs_time(_load(untimed, list(UNSUPERVISED)), str(untimed / "jf.png")) is None
    assert not (untimed / "jf.png").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, r"config 3-3: results file not found: .*seed1/3-3/results\.json"),
        ("{not json", r"config 3-3: cannot read results file .*3-3/results\.json"),
        ({"davis": _davis(0.1, 0.1, 0.1)}, r"3-3/results\.json: missing key 'params\.total'"),
        ({"davis": _davis(0.1, 0.1, 0.1), "params": {"total": 5.5}},
         r"3-3/results\.json: 'params\.total' should be an integer, got 5\.5"),
        ({"davis": {**_davis(0.1, 0.1, 0.1), "F-Mean": "high"}, "params": {"total": 5}},
         r"3-3/results\.json: 'davis\.F-Mean' should be a number"),
        ([1, 2], r"3-3/results\.json: expected a JSON object"),
    ],
)
def test_invalid_results_file_is_named(tmp_path, content, message):
    _write_results(tmp_path, {"1-1": UNSUPERVISED["1-1"]})
    path = tmp_path / "seed1" / "3-3" / "results.json"
    if content is not None:
        path.parent.mkdir(parents=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(AblationError, match=message):
        _load(tmp_path, ["1-1", "3-3"])


def test_tables_only_writes_every_output_and_the_wall_time(abl, tmp_path, capsys):
    _write_results(tmp_path, semi=SEMI)
    assert abl.main(["--output-dir", str(tmp_path), "--configs", "1-1", "3-3", "7-7", "--tables-only"]) == 0
    names = ("table1.md", "table1.csv", "table2.md", "table2.csv", "runs.md", "runs.csv", "timing.md", "timing.csv",
             "stages.md", "stages.csv", "jf_vs_time.png")
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == [str(tmp_path / n) for n in names]
    assert lines[-1].startswith("# wall time ") and str(tmp_path / "ablation_runs.json") in lines[-1]
    log = json.loads((tmp_path / "ablation_runs.json").read_text())
    assert len(log["invocations"]) == 1 and log["invocations"][0]["stages_run"] == []
    assert "--tables-only" in log["invocations"][0]["command"]


def test_stages_table_lists_every_record_in_start_order_with_sums_per_recorded_kind(tmp_path):
    """Sums go by the kind each record carries, not by the words of its label; a record from before the kind was
    recorded (no "kind" key) falls back to the word after the row."""
    assert ablation.build_stages_table(str(tmp_path)) is None
    records = (("seed1/1-1", "1-1 train seed 1", "train", "2026-12-04T10:05:00Z", 300, True),
               ("pretrain", "single-frame pretraining", "pretrain", "2026-12-04T10:00:00Z", 240, True),
               ("seed1/3-7", "3-7 train seed 1", "train", "2026-12-04T10:10:00Z", 420, False),
               ("seed1/3-7/osvos_davis2016", "3-7 OSVOS on DAVIS 2016, seed 1", "osvos", "2026-12-04T10:17:00Z",
                60, True),
               ("timing/1-1", "1-1 timing", None, "2026-12-04T10:20:00Z", 30, True))
    for folder, label, kind, started, wall, alone in records:
        (tmp_path / folder).mkdir(parents=True)
        record = StageRecord(label, ["python", "x.py"], started, wall, alone, 1, kind)
        record.write(str(tmp_path / folder / "ablation_stage.json"))
    older = json.loads((tmp_path / "timing/1-1/ablation_stage.json").read_text())
    del older["kind"]
    (tmp_path / "timing/1-1/ablation_stage.json").write_text(json.dumps(older))
    assert StageRecord.read(str(tmp_path / "timing/1-1/ablation_stage.json")).kind is None
    table = ablation.build_stages_table(str(tmp_path))
    assert table.column("Stage") == ["single-frame pretraining", "1-1 train seed 1", "3-7 train seed 1",
                                     "3-7 OSVOS on DAVIS 2016, seed 1", "1-1 timing"]
    assert table.column("Wall (min)") == [4.0, 5.0, 7.0, 1.0, 0.5]
    assert table.column("Ran alone") == ["yes", "yes", "no", "yes", "yes"]
    assert ("pretrain 4.0 min, train 12.0 min, osvos 1.0 min, timing 0.5 min; all 5 stages 17.5 min"
            in table.to_markdown())
    del older["wall_s"]
    (tmp_path / "timing/1-1/ablation_stage.json").write_text(json.dumps(older))
    with pytest.raises(StageError, match=r"timing/1-1/ablation_stage\.json.*wall_s"):
        ablation.build_stages_table(str(tmp_path))


def test_tables_only_skips_table2_and_plot_without_their_results(abl, tmp_path, capsys):
    _write_results(tmp_path, {"1-1": UNSUPERVISED["1-1"], "3-3": UNSUPERVISED["3-3"]}, timing=False)
    args = ["--output-dir", str(tmp_path), "--configs", "1-1", "3-3", "--tables-only"]
    assert abl.main(args) == 0
    err = capsys.readouterr().err
    assert "table 2 not written" in err and "jf_vs_time.png not written" in err
    assert not (tmp_path / "table2.md").exists() and (tmp_path / "table1.md").exists()
    _write_results(tmp_path, semi={"1-1": SEMI["1-1"]}, timing=False)
    with pytest.raises(AblationError, match=r"3-3/osvos/results\.json"):
        abl.main(args + ["--osvos"])
    assert abl.main(args) == 0  # Table 2 lists the rows that ran OSVOS
    assert "| 1-1 | 0.750 |" in (tmp_path / "table2.md").read_text(encoding="utf-8")


def test_tables_only_reads_a_quickstart_run_made_before_the_paper_protocol(abl, tmp_path):
    """The earlier layout: seed<N>/<row>/osvos/ holds the DAVIS 2017 multi-object OSVOS; it becomes Table 2's
    multi-object column, the paper-protocol column reads n/a until those stages ran."""
    for seed in (1, 2):
        for row in ("1-1", "3-7"):
            _write_json(tmp_path / f"seed{seed}" / row / "results.json",
                        _unsupervised(0.7, 0.7, 0.7, 10, 1.0, "synthetic_davis2016_val"))
            _write_json(tmp_path / f"seed{seed}" / row / "osvos" / "results.json",
                        {"davis": _davis(0.7, 0.7, 0.7), "dataset": "synthetic_davis2017_val", "sequences": 16})
    assert abl.main(["--preset", "quickstart", "--seeds", "2", "--configs", "1-1", "3-7",
                     "--output-dir", str(tmp_path), "--tables-only"]) == 0
    with open(tmp_path / "table2.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["Config"] for r in rows] == ["1-1", "3-7"]
    assert rows[0]["J&F-Mean (semi-supervised)"] == "" and float(rows[0]["J&F-Mean (multi-object)"]) == 0.7
    assert rows[0]["Seeds (multi-object)"] == "2"
    # Asked for by name, the paper-protocol results must be there.
    with pytest.raises(AblationError, match=r"config 1-1: results file not found: .*seed1/1-1/osvos_davis2016/"):
        abl.main(["--preset", "quickstart", "--seeds", "2", "--configs", "1-1", "3-7", "--osvos-configs", "1-1",
                  "--output-dir", str(tmp_path), "--tables-only"])


# --------------------------------------------------------------------------------------------------------------
# Planning, resuming, running
# --------------------------------------------------------------------------------------------------------------
def test_dry_run_prints_train_osvos_and_timing_commands(abl, tmp_path, capsys):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = str(tmp_path / "out")
    assert abl.main(["--config-dir", cfg_dir, "--configs", "1-1", "3-7", "--output-dir", out, "--osvos",
                     "--osvos-config-dir", osvos_dir, "--num-gpus", "2", "--dry-run", "--",
                     "SOLVER.MAX_ITER", "100", "DATALOADER.NUM_WORKERS", "0"]) == 0
    extra = "SOLVER.MAX_ITER 100 DATALOADER.NUM_WORKERS 0"
    expected = []
    for config in ("1-1", "3-7"):
        run = f"{out}/seed1/{config}"
        expected.append(shlex.join([sys.executable, TRAIN_NET, "--config-file", f"{cfg_dir}/slowfast_{config}.yaml",
                                    "--num-gpus", "2", "--resume", "SEED", "1", "OUTPUT_DIR", run]) + " " + extra)
        expected.append(shlex.join([sys.executable, OSVOS_NET, "--config-file", f"{osvos_dir}/slowfast_{config}.yaml",
                                    "MODEL.WEIGHTS", f"{run}/model_final.pth", "SEED", "1",
                                    "OUTPUT_DIR", f"{run}/osvos"]) + " " + extra)
    for config in ("1-1", "3-7"):
        expected.append(shlex.join([sys.executable, TRAIN_NET, "--config-file", f"{cfg_dir}/slowfast_{config}.yaml",
                                    "--num-gpus", "2", "--eval-only", "OUTPUT_DIR", f"{out}/timing/{config}",
                                    "MODEL.WEIGHTS", f"{out}/seed1/{config}/model_final.pth"]) + " " + extra)
    assert capsys.readouterr().out.splitlines() == expected
    assert not Path(out).exists()  # a dry run writes nothing


def test_dry_run_eval_mode_uses_the_weights_pattern(abl, tmp_path, capsys):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = str(tmp_path / "out")
    abl.main(["--config-dir", cfg_dir, "--configs", "7-7", "--output-dir", out, "--mode", "eval", "--osvos",
              "--osvos-config-dir", osvos_dir, "--weights-pattern", "/w/{config}/s{seed}.pth", "--dry-run"])
    assert capsys.readouterr().out.splitlines() == [
        shlex.join([sys.executable, TRAIN_NET, "--config-file", f"{cfg_dir}/slowfast_7-7.yaml", "--eval-only",
                    "OUTPUT_DIR", f"{out}/seed1/7-7", "MODEL.WEIGHTS", "/w/7-7/s1.pth"]),
        shlex.join([sys.executable, OSVOS_NET, "--config-file", f"{osvos_dir}/slowfast_7-7.yaml",
                    "MODEL.WEIGHTS", "/w/7-7/s1.pth", "SEED", "1", "OUTPUT_DIR", f"{out}/seed1/7-7/osvos"]),
        shlex.join([sys.executable, TRAIN_NET, "--config-file", f"{cfg_dir}/slowfast_7-7.yaml", "--eval-only",
                    "OUTPUT_DIR", f"{out}/timing/7-7", "MODEL.WEIGHTS", "/w/7-7/s1.pth"]),
    ]


def test_existing_results_are_skipped_unless_forced(abl, tmp_path, capsys):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = tmp_path / "out"
    _write_results(out, {"1-1": UNSUPERVISED["1-1"]}, semi={"3-3": SEMI["3-3"]}, timing=False)
    base = ["--config-dir", cfg_dir, "--configs", "1-1", "3-3", "--output-dir", str(out), "--osvos",
            "--osvos-config-dir", osvos_dir, "--dry-run"]
    abl.main(base)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"# skip 1-1 train seed 1: {out}/seed1/1-1/results.json exists (--force to rerun)"
    assert OSVOS_NET in lines[1] and f"{out}/seed1/1-1/osvos" in lines[1]
    assert TRAIN_NET in lines[2] and f"{out}/seed1/3-3" in lines[2]
    assert lines[3] == f"# skip 3-3 osvos seed 1: {out}/seed1/3-3/osvos/results.json exists (--force to rerun)"
    assert f"{out}/timing/1-1" in lines[4] and f"{out}/timing/3-3" in lines[5] and len(lines) == 6
    abl.main(base + ["--force"])
    assert not any(line.startswith("# skip") for line in capsys.readouterr().out.splitlines())


def test_completed_ablation_runs_nothing_and_writes_tables(abl, tmp_path, monkeypatch):
    cfg_dir, osvos_dir = _config_dirs(tmp_path)
    out = tmp_path / "out"
    _write_results(out, semi=SEMI)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a finished stage was run again"))
    assert abl.main(["--config-dir", cfg_dir, "--configs", *UNSUPERVISED, "--output-dir", str(out), "--osvos",
                     "--osvos-config-dir", osvos_dir]) == 0
    assert (out / "table2.csv").exists() and (out / "jf_vs_time.png").exists()
    assert "| 7-7 | 0.690 |" in (out / "table1.md").read_text(encoding="utf-8")
    assert json.loads((out / "ablation_runs.json").read_text())["invocations"][0]["stages_skipped"] == 9


def test_missing_config_file_is_named(abl, tmp_path):
    cfg_dir, _ = _config_dirs(tmp_path, configs=("1-1",))
    with pytest.raises(AblationError, match=r"config 3-3: config file not found: .*configs/slowfast_3-3\.yaml"):
        abl.main(["--config-dir", cfg_dir, "--configs", "1-1", "3-3", "--output-dir", str(tmp_path), "--dry-run"])


def test_eval_mode_names_missing_weights_before_running(abl, tmp_path, monkeypatch):
    cfg_dir, _ = _config_dirs(tmp_path)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("started without its weights"))
    with pytest.raises(AblationError,
                       match=r"config 1-7 \(eval\): required file not found: .*seed1/1-7/model_final"):
        abl.main(["--config-dir", cfg_dir, "--configs", "1-7", "--output-dir", str(tmp_path / "o"), "--mode", "eval"])


def test_bad_arguments_are_rejected(abl, tmp_path):
    bad_args = (["--configs", "2-4"], ["--configs", "7-3"], ["--configs", "1-1", "1-1"], ["--tables-only", "--dry-run"],
                ["--seeds", "0"], ["--jobs", "0"], ["--preset", "quickstart", "--mode", "eval"])
    for bad in bad_args:
        with pytest.raises(SystemExit):
            abl.parse_args(["--output-dir", str(tmp_path), *bad])
    with pytest.raises(AblationError, match="--weights-pattern"):
        ablation.weights_for("{model}/x.pth", "out", "1-1", 1)


def test_rows_name_their_config_file_and_overrides(abl, tmp_path):
    assert ablation.config_variant("3-7+residual") == ("slowfast_3-7", ("MODEL.SLOWFAST.FUSION", "residual"))
    assert ablation.config_variant(ablation.CONTROL) == ("no_temporal", ())
    args = abl.parse_args(["--output-dir", str(tmp_path), "--configs", "control", "3-7+residual", "1-1",
                           "--osvos-configs", "1-1", "3-3"])
    assert args.configs == ["control", "3-7+residual", "1-1"] and args.osvos_configs == ["1-1"]
    assert args.seeds == 1 and abl.parse_args(["--output-dir", "o", "--preset", "quickstart"]).seeds == 3


def _stage(tmp_path, code: str):
    return Stage("3-7", "train", None, [sys.executable, "-c", code], str(tmp_path / "3-7"), [])


@pytest.mark.slow
def test_execute_streams_output_to_the_log(tmp_path, capsys):
    results = tmp_path / "3-7" / "results.json"
    ablation.execute(_stage(tmp_path, f"print('step 1'); open({str(results)!r}, 'w').write('{{}}')"))
    log = (tmp_path / "3-7" / "run_train.log").read_text()
    assert log.startswith("$ ") and "step 1\n" in log
    assert "step 1" in capsys.readouterr().out


@pytest.mark.slow
def test_execute_failure_names_config_and_log(tmp_path):
    failed = r"config 3-7: train failed with exit code 3; see .*3-7/run_train\.log"
    with pytest.raises(AblationError, match=failed):
        ablation.execute(_stage(tmp_path, "import sys; print('boom', file=sys.stderr); sys.exit(3)"))
    assert "boom" in (tmp_path / "3-7" / "run_train.log").read_text()
    with pytest.raises(AblationError, match=r"train finished but wrote no .*3-7/results\.json; see .*run_train"):
        ablation.execute(_stage(tmp_path, "pass"))


@pytest.mark.slow
def test_run_stages_in_parallel_after_dependencies_and_stop_after_a_failure(tmp_path, capsys):
    def stage(name, code, needs=(), after=()):
        return Stage(name, "train", None, [sys.executable, "-c", code], str(tmp_path / name),
                     [str(tmp_path / n / "results.json") for n in needs], after)

    write = "import pathlib, time; time.sleep({}); pathlib.Path({!r}).write_text(str(time.time()))"
    stages = [stage("a", write.format(0.5, str(tmp_path / "a" / "results.json"))),
              stage("b", write.format(0, str(tmp_path / "b" / "results.json")), needs=["a"], after=(0,)),
              stage("c", write.format(0, str(tmp_path / "c" / "results.json")))]
    ablation.run_stages(stages, [0, 1, 2], jobs=2)
    times = {n: float((tmp_path / n / "results.json").read_text()) for n in "abc"}
    assert times["c"] < times["a"] < times["b"]  # c ran beside a; b waited for a
    assert "done: c" in capsys.readouterr().out

    failing = [stage("x", "import sys; sys.exit(3)"), stage("y", "pass", after=(0,))]
    with pytest.raises(AblationError, match="config x: train failed with exit code 3"):
        ablation.run_stages(failing, [0, 1], jobs=2)
    assert not (tmp_path / "y" / "run_train.log").exists()  # nothing starts after a failure


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
def test_first_seed_runs_only_the_later_seeds(abl, tmp_path, capsys):
    out = tmp_path / "out"
    assert abl.main(["--preset", "study", "--seeds", "3", "--first-seed", "3", "--output-dir", str(out),
                     "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    staged = [line for line in lines if "/seed" in line and "--eval-only" not in line]
    assert len(staged) == 8 and all(f"{out}/seed3/" in line for line in staged)  # 4 rows: train + OSVOS
    with pytest.raises(SystemExit):
        abl.parse_args(["--output-dir", str(out), "--seeds", "2", "--first-seed", "3"])


def test_preset_dry_run_lists_one_pretraining_every_seed_osvos_and_timing(abl, tmp_path, capsys):
    out = tmp_path / "out"
    assert abl.main(["--preset", "quickstart", "--output-dir", str(out), "--osvos-multi-object", "--dry-run"]) == 0
    commands = [shlex.split(line) for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    pretrain = [c for c in commands if c[3].endswith("pretrain_mask_rcnn.yaml")]
    assert len(pretrain) == 1 and pretrain[0][-2:] == ["OUTPUT_DIR", f"{out}/pretrain"]
    train = [c for c in commands if c[1] == TRAIN_NET and "--resume" in c and c not in pretrain]
    timing = [c for c in commands if c[1] == TRAIN_NET and "--eval-only" in c]
    osvos = [c for c in commands if c[1] == OSVOS_NET]
    assert len(train) == 5 * 3 and len(osvos) == 2 * 3 * 2 and len(timing) == 5
    assert commands[-5:] == timing  # timed last, after every other stage
    seen = set()
    for command in train:
        config = command[3].rsplit("slowfast_", 1)[1][:-len(".yaml")]
        seed = command[command.index("SEED") + 1]
        seen.add((config, seed))
        assert command[command.index("MODEL.WEIGHTS") + 1] == f"{out}/pretrain/model_final.pth"
        assert command[command.index("MODEL.FREEZE.BACKBONE") + 1] == "True"
        assert command[command.index("OUTPUT_DIR") + 1] == f"{out}/seed{seed}/{config}"
    assert seen == {(c, str(s)) for c in ("1-1", "3-3", "7-7", "1-7", "3-7") for s in (1, 2, 3)}
    binary = [c for c in osvos if c[c.index("OUTPUT_DIR") + 1].endswith("/osvos_davis2016")]
    assert len(binary) == 6 and all(c[c.index("DATASETS.TEST") + 1] == "('synthetic_davis2016_val',)"
                                    for c in binary)
    assert sorted(c[3].rsplit("_", 1)[1] for c in binary) == ["1-1.yaml"] * 3 + ["3-7.yaml"] * 3
    assert all("DATASETS.TEST" not in c for c in osvos if c not in binary)  # multi-object: the config's own set
    assert not out.exists()  # a dry run writes nothing, not even the data


def _seed_results(out: Path, config: str, seed: int, jf: float, semi_jf=None) -> None:
    folder = out / f"seed{seed}" / config
    _write_json(folder / "results.json", _unsupervised(
        jf, jf - 0.01, jf + 0.01, 1000 if config == "1-1" else 1500, 1.0, "synthetic_davis2016_val",
        {"davis_clean": {"J&F-Mean": jf + 0.05, "J-Mean": 0, "F-Mean": 0, "frames": 10},
         "davis_degraded": {"J&F-Mean": jf - 0.2, "J-Mean": 0, "F-Mean": 0, "frames": 3}}))
    if semi_jf is not None:
        _write_json(folder / "osvos_davis2016" / "results.json", {"davis": _davis(semi_jf, semi_jf, semi_jf)})


def test_preset_tables_report_mean_and_std_over_seeds(abl, tmp_path):
    out = tmp_path / "out"
    for seed, (a, b) in enumerate([(0.70, 0.60), (0.72, 0.66), (0.74, 0.66)], start=1):
        _seed_results(out, "1-1", seed, a, semi_jf=a + 0.1)
        _seed_results(out, "3-7", seed, b, semi_jf=b + 0.1)
    _write_timing(out, "1-1", 10.0)
    _write_timing(out, "3-7", 22.0)
    assert abl.main(["--preset", "quickstart", "--configs", "1-1", "3-7", "--output-dir", str(out),
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
    assert "Eval time (s)" not in runs[0]  # a run's own evaluation may have shared the machine
    with open(out / "table2.csv", encoding="utf-8") as f:
        semi = {row["Config"]: row for row in csv.DictReader(f)}
    assert float(semi["3-7"]["J&F-Mean (semi-supervised)"]) == pytest.approx(0.74)
    assert "| 3-7 | 0.640 | 0.035 |" in (out / "table1.md").read_text(encoding="utf-8")
    with Image.open(out / "jf_vs_time.png") as image:
        assert image.format == "PNG" and image.size == (1000, 400)
    # A missing seed is named.
    (out / "seed2" / "3-7" / "results.json").unlink()
    with pytest.raises(AblationError, match=r"config 3-7: results file not found: .*seed2/3-7/results\.json"):
        abl.main(["--preset", "quickstart", "--configs", "1-1", "3-7", "--output-dir", str(out), "--tables-only"])


def test_preset_refuses_a_data_folder_made_with_other_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path / "elsewhere"))
    small = {"seed": 5, "train_sequences": 1, "val_sequences": 1, "frames": 4, "height": 32, "width": 48}
    root = ablation.prepare_data(str(tmp_path / "out"), small, progress=False)
    assert root == str(tmp_path / "out" / "datasets" / "DAVIS-synthetic")
    assert ablation.prepare_data(str(tmp_path / "out"), small, progress=False) == root  # reused as it is
    with pytest.raises(AblationError, match=r"other settings .*'seed': \(5, 6\)"):
        ablation.prepare_data(str(tmp_path / "out"), dict(small, seed=6), progress=False)


@pytest.mark.slow
def test_preset_real_run_resumes_after_a_kill(tmp_path):
    """A real preset run on a tiny generated set, killed during its first fine-tune, then run again to the end:
    tables, timing stages run alone, the wall time recorded, and OSVOS scored with the paper's binary protocol."""
    out = tmp_path / "out"
    command = [sys.executable, str(REPO / "tools" / "run_ablation.py"), "--preset", "quickstart", "--seeds", "1",
               "--configs", "1-1", "3-3", "--osvos-configs", "1-1", "--output-dir", str(out),
               "--train-sequences", "2", "--val-sequences", "2", "--data-frames", "5", "--data-size", "48", "64",
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
    for name in ("table1.md", "table1.csv", "table2.md", "runs.csv", "timing.md", "jf_vs_time.png"):
        assert (out / name).is_file(), name
    with open(out / "runs.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["Config"], r["Seed"]) for r in rows] == [("1-1", "1"), ("3-3", "1")]
    assert rows[0]["J&F-Mean (semi-supervised)"] != "" and rows[1]["J&F-Mean (semi-supervised)"] == ""
    # The set was generated with tags, so the clean/degraded split is reported.
    assert json.loads((out / "seed1" / "1-1" / "results.json").read_text())["davis_clean"]["frames"] > 0
    # Table 1's time is the timing stages', which ran alone; the wall time is printed and recorded.
    with open(out / "table1.csv", encoding="utf-8") as f:
        table1 = {row["Config"]: row for row in csv.DictReader(f)}
    for row in ("1-1", "3-3"):
        record = StageRecord.read(str(out / "timing" / row / "ablation_stage.json"))
        assert record.ran_alone and "--eval-only" in record.command
        timed = json.loads((out / "timing" / row / "results.json").read_text())["timing"]["eval_time_s"]
        assert float(table1[row]["Eval time (s)"]) == pytest.approx(timed)
    assert "# wall time " in second.stdout
    assert json.loads((out / "ablation_runs.json").read_text())["invocations"][-1]["stages_skipped"] == 1
    # OSVOS under the paper's protocol: synthetic DAVIS 2016 val, one binary object per sequence, although the
    # set's DAVIS 2017 view has several objects in a sequence.
    osvos = out / "seed1" / "1-1" / "osvos_davis2016"
    assert json.loads((osvos / "results.json").read_text())["dataset"] == "synthetic_davis2016_val"
    masks = list((osvos / "davis_results").rglob("*.png"))
    assert masks and all(set(np.unique(np.asarray(Image.open(p)))) <= {0, 1} for p in masks)
    multi = max(int(np.asarray(Image.open(p)).max())
                for p in (out / "datasets" / "DAVIS-synthetic" / "Annotations" / "480p").rglob("00000.png"))
    assert multi >= 2
