"""Bad input, interruptions and processes: nothing is written outside the output folder, no code runs from a cache,
a wrong answer is an error instead of exit status 0, and an interrupted run loses no finished work;
datasets/README.md ("Bad input and interruptions") lists what each case gives."""
import csv
import errno
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import MetadataCatalog
from detectron2.modeling import build_model
from detectron2.structures import Instances
from helpers import FRAME_H as H
from helpers import FRAME_W as W
from helpers import REPO, synthetic_env, write_davis, write_results
from tiny import QUICKSTART_CONFIG as CONFIG
from tiny import QUICKSTART_OSVOS_CONFIG as OSVOS_CONFIG
from tiny import TINY_TRAIN_OPTS, quickstart_cfg
from PIL import Image

from slowfast_vos.data import ClipDatasetMapper, load_davis
from slowfast_vos.data.build import build_video_test_loader
from slowfast_vos.data.datasets.davis import default_cache_dir
from vos_eval.davis_format import DAVISFormatError, DAVISLayout, read_id_png, write_id_png
from slowfast_vos.engine import VOSTrainer, WeightsError, load_cfg, load_trained_weights
from slowfast_vos.engine.osvos import OSVOSResultsMismatch, OSVOSRunner
from slowfast_vos.evaluation import DAVISEvaluator
from slowfast_vos.utils import UnsafePathError, write_json_atomic
from vos_eval.cli import main as cli_main
from vos_eval.protocols import evaluate_davis

# Path traversal (datasets/README.md, case 1) -------------------------------------------------------------------------
def test_sequence_names_that_leave_the_dataset_or_output_are_refused(tmp_path):
    root = Path(write_davis(tmp_path / "DAVIS", ["bear"]))
    # What '../outside' reaches from JPEGImages/480p and Annotations/480p: the loader must never read it.
    for folder in ("JPEGImages", "Annotations"):
        shutil.copytree(root / folder / "480p" / "bear", root / folder / "outside")
    with open(root / "ImageSets" / "2017" / "val.txt", "a") as f:
        f.write("../outside\n")
    with pytest.raises(DAVISFormatError, match=r"val\.txt:2: sequence name '\.\./outside' is not a plain name"):
        load_davis(str(root), "2017", "val", use_cache=False)
    results = write_results(tmp_path / "res", ["bear"])
    with pytest.raises(DAVISFormatError, match=r"val\.txt:2: sequence name '\.\./outside'"):
        evaluate_davis(str(root), results, "semi-supervised")

    # Writes: a result PNG is only ever written under the evaluator's results folder.
    name = f"rel_escape_{uuid.uuid4().hex[:6]}"
    MetadataCatalog.get(name).set(layout=DAVISLayout(str(root), "2017", "val"), sequences=["bear"], task="davis2016")
    evaluator = DAVISEvaluator(name, str(tmp_path / "out"), score_thresh=0.5, mask_thresh=0.5, max_objects=20,
                               match_iou=0.1)
    instances = Instances((H, W), pred_masks=torch.zeros((0, H, W), dtype=torch.bool), scores=torch.zeros(0))
    with pytest.raises(UnsafePathError, match=r"'\.\.'"):
        evaluator.process([{"sequence": "..", "frame_name": "escaped", "height": H, "width": W}],
                          [{"instances": instances}])
    assert not (tmp_path / "out" / "escaped.png").exists()
    MetadataCatalog.remove(name)


# The mask cache (datasets/README.md, case 2) -------------------------------------------------------------------------
class _Planted:
    """A pickle that creates a folder when it is unpickled (what a planted cache file could do)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_mask_cache_is_never_unpickled_and_lives_in_a_private_folder(tmp_path, monkeypatch):
    root = write_davis(tmp_path / "DAVIS", ["bear"])
    cache = tmp_path / "cache"
    first = load_davis(root, "2017", "val", cache_dir=str(cache))
    (cache_file,) = list(cache.iterdir())
    planted = tmp_path / "code-ran"
    cache_file.write_bytes(pickle.dumps(_Planted(str(planted))))
    again = load_davis(root, "2017", "val", cache_dir=str(cache))
    assert not planted.exists()
    assert [r["annotations"] for r in again] == [r["annotations"] for r in first]

    monkeypatch.setenv("SLOWFAST_VOS_CACHE", str(tmp_path / "mine"))
    assert os.stat(default_cache_dir()).st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    (shared / "davis").mkdir(parents=True)
    os.chmod(shared / "davis", 0o777)
    monkeypatch.setenv("SLOWFAST_VOS_CACHE", str(shared))
    assert default_cache_dir() is None  # a folder others can write to is not used


# OSVOS results of another run (datasets/README.md, case 3) -----------------------------------------------------------
def test_osvos_does_not_rescore_results_of_other_weights_or_settings(davis_sets, tmp_path):
    weights = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        cfg = quickstart_cfg(OSVOS_CONFIG, davis_sets, tmp_path)
        DetectionCheckpointer(build_model(cfg), save_dir=str(tmp_path)).save(f"parent{seed}")
        weights.append(str(tmp_path / f"parent{seed}.pth"))
    out = tmp_path / "osvos"
    first = OSVOSRunner(quickstart_cfg(OSVOS_CONFIG, davis_sets, out, "MODEL.WEIGHTS", weights[0], "OSVOS.ITERS", "2"),
                        str(out))
    sequences = list(first.sequences())
    layout = MetadataCatalog.get(davis_sets["val"]).layout
    for seq in sequences:  # the first run finished every sequence (perfect masks)
        for frame in layout.annotation_frames(seq):
            ids = read_id_png(os.path.join(layout.annotation_dir, seq, f"{frame}.png"), "2017")
            write_id_png(str(out / "davis_results" / seq / f"{frame}.png"), np.where(ids == 255, 0, ids))
        write_json_atomic(str(out / "sequences_done" / f"{seq}.json"), {"sequence": seq,
                                                                         "produced_by": first.provenance})
    assert first.run()["davis"]["J&F-Mean"] == 1.0  # the same run resumes and scores

    other_iters = OSVOSRunner(quickstart_cfg(OSVOS_CONFIG, davis_sets, out, "MODEL.WEIGHTS", weights[0],
                                             "OSVOS.ITERS", "3"),
                              str(out))
    with pytest.raises(OSVOSResultsMismatch, match=r"2 finished sequences .*OSVOS.ITERS: 2 vs 3"):
        other_iters.run()
    other_parent = OSVOSRunner(quickstart_cfg(OSVOS_CONFIG, davis_sets, out, "MODEL.WEIGHTS", weights[1],
                                              "OSVOS.ITERS", "2"),
                               str(out))
    with pytest.raises(OSVOSResultsMismatch, match=r"weights .*parent0\.pth.* vs .*parent1\.pth"):
        other_parent.run()
    other_parent.check_done(force=True)
    assert not any(other_parent.is_done(seq) for seq in sequences)  # --force: they run again


# Empty MODEL.WEIGHTS (datasets/README.md, case 4) --------------------------------------------------------------------
def test_empty_weights_are_an_error_for_evaluation_and_osvos_unless_asked_for(davis_sets, tmp_path, caplog):
    cfg = quickstart_cfg(OSVOS_CONFIG, davis_sets, tmp_path, "MODEL.WEIGHTS", "")
    with pytest.raises(WeightsError, match="MODEL.WEIGHTS is empty, so OSVOS fine-tuning would use a randomly"):
        OSVOSRunner(cfg, str(tmp_path / "osvos"))
    model = build_model(cfg)
    with pytest.raises(WeightsError, match="--allow-random-weights"):
        load_trained_weights(model, "", what="--eval-only")
    with caplog.at_level(logging.WARNING):
        load_trained_weights(model, "", allow_random=True, what="--eval-only")
    assert "randomly initialised" in caplog.text


@pytest.mark.slow
def test_eval_only_command_with_empty_weights_exits_with_the_reason(tmp_path_factory):
    env = synthetic_env(tmp_path_factory, train_sequences=1, val_sequences=1, frames=4)
    out = tmp_path_factory.mktemp("eval")
    cmd = [sys.executable, str(REPO / "tools" / "train_net.py"), "--config-file", CONFIG, "--eval-only",
           *TINY_TRAIN_OPTS, "MODEL.WEIGHTS", "", "OUTPUT_DIR", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "MODEL.WEIGHTS is empty" in proc.stderr
    assert not (out / "results.json").exists()


# Weights of another architecture (datasets/README.md, case 5) --------------------------------------------------------
def test_weights_of_another_architecture_are_an_error(davis_sets, tmp_path):
    cfg = quickstart_cfg(CONFIG, davis_sets, tmp_path)
    model = build_model(cfg)
    other = quickstart_cfg(CONFIG, davis_sets, tmp_path, "MODEL.RESNETS.DEPTH", "34",
                           "MODEL.ROI_BOX_HEAD.FC_DIM", "128")
    DetectionCheckpointer(build_model(other), save_dir=str(tmp_path)).save("other")
    with pytest.raises(WeightsError, match=r"do not fit .*SlowFastRCNN: keys .*of another shape"):
        load_trained_weights(model, str(tmp_path / "other.pth"), what="--eval-only")
    # A single-frame Mask R-CNN of the same backbone lacks only the SlowFast module: that is fine.
    plain = quickstart_cfg(CONFIG, davis_sets, tmp_path, "MODEL.META_ARCHITECTURE", "GeneralizedRCNN")
    DetectionCheckpointer(build_model(plain), save_dir=str(tmp_path)).save("plain")
    load_trained_weights(model, str(tmp_path / "plain.pth"), what="--eval-only")
    # So is a BatchNorm-trained parent for OSVOS's FrozenBN backbone (BatchNorm's step counters are not weights).
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("parent")
    osvos_model = build_model(quickstart_cfg(OSVOS_CONFIG, davis_sets, tmp_path))
    load_trained_weights(osvos_model, str(tmp_path / "parent.pth"), what="OSVOS fine-tuning")


# Frame order (datasets/README.md, case 6) ----------------------------------------------------------------------------
def test_frames_named_without_zero_padding_keep_their_numeric_order(tmp_path):
    names = [f"frame{i}" for i in range(1, 13)]
    root = tmp_path / "DAVIS"
    for folder in ("JPEGImages", "Annotations"):
        (root / folder / "480p" / "bear").mkdir(parents=True)
    for t, name in enumerate(names):
        frame = np.full((H, W, 3), 20 * t, np.uint8)
        Image.fromarray(frame).save(root / "JPEGImages" / "480p" / "bear" / f"{name}.jpg")
        ids = np.zeros((H, W), np.uint8)
        ids[2:8, t:t + 6] = 1
        write_id_png(str(root / "Annotations" / "480p" / "bear" / f"{name}.png"), ids)
        if 0 < t < len(names) - 1:  # the protocol scores all but the first and the last frame
            write_id_png(str(tmp_path / "res" / "bear" / f"{name}.png"), ids)
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("bear\n")
    records = load_davis(str(root), "2017", "val", use_cache=False)
    assert [r["frame_name"] for r in records] == names
    assert records[0]["sequence_frames"][-1].endswith("frame12.jpg")
    out = evaluate_davis(str(root), str(tmp_path / "res"), "semi-supervised")
    assert out.global_metrics["J&F-Mean"] == 1.0 and len(out.per_frame["bear_1"][0]) == 10


# A 0/255 mask saved as a palette PNG (datasets/README.md, case 7) ----------------------------------------------------
def test_binary_mask_saved_as_palette_png_is_explained_not_all_void(tmp_path):
    root = Path(write_davis(tmp_path / "DAVIS", ["bear"]))
    mask = root / "Annotations" / "480p" / "bear" / "00002.png"
    binary = np.where(np.asarray(Image.open(mask)) > 0, 255, 0).astype(np.uint8)
    Image.fromarray(binary, mode="L").convert("P").save(mask)
    assert Image.open(mask).mode == "P"
    with pytest.raises(DAVISFormatError, match=r"00002\.png holds only 0 and 255.*year='2016'"):
        load_davis(str(root), "2017", "val", use_cache=False)


# A truncated JPEG at test time (datasets/README.md, case 8) ----------------------------------------------------------
def test_truncated_frame_at_test_time_names_the_file(tmp_path):
    root = Path(write_davis(tmp_path / "DAVIS", ["bear"]))
    frame = root / "JPEGImages" / "480p" / "bear" / "00003.jpg"
    frame.write_bytes(frame.read_bytes()[:200])
    records = load_davis(str(root), "2017", "val", use_cache=False)
    mapper = ClipDatasetMapper(False, augmentations=[], image_format="BGR", num_frames=3, frame_cache_size=0)
    loader = build_video_test_loader(records, mapper=mapper.frame_input)
    with pytest.raises(DAVISFormatError, match=r"cannot read frame .*bear/00003\.jpg"):
        list(loader)


# The evaluation command line with an unwritable output folder (datasets/README.md, case 9) ---------------------------
def test_cli_prints_the_scores_before_an_unwritable_table_folder_fails(tmp_path, capsys):
    root = write_davis(tmp_path / "DAVIS", ["bear"])
    results = write_results(tmp_path / "res", ["bear"])
    (tmp_path / "a-file").write_text("")
    output = str(tmp_path / "a-file" / "tables")
    code = cli_main(["--davis-root", root, "--results", results, "--task", "semi-supervised", "--workers", "1",
                     "--output", output])
    captured = capsys.readouterr()
    assert code == 1
    assert "J&F-Mean" in captured.out and "bear_1" in captured.out
    assert f"error: cannot write the CSV tables to {output}" in captured.err


# A full disk: the CSV pair and checkpoints (datasets/README.md, case 10) ---------------------------------------------
def test_full_disk_leaves_the_previous_csv_pair(tmp_path, monkeypatch):
    root = write_davis(tmp_path / "DAVIS", ["bear"])
    results = write_results(tmp_path / "res", ["bear"])
    tables = tmp_path / "tables"
    evaluate_davis(root, results, "semi-supervised", output_dir=str(tables))
    before = {p.name: p.read_text() for p in tables.iterdir()}
    write_results(tmp_path / "res", ["bear"], ids=lambda t: np.zeros((H, W), np.uint8))
    real_writer = csv.writer

    def disk_full_on_the_second_table(f, **kwargs):
        writer = real_writer(f, **kwargs)
        if f.name.startswith(str(tables / ".per-sequence")):
            raise OSError(errno.ENOSPC, "No space left on device")
        return writer

    monkeypatch.setattr(csv, "writer", disk_full_on_the_second_table)
    with pytest.raises(OSError, match="No space left"):
        evaluate_davis(root, results, "semi-supervised", output_dir=str(tables))
    assert {p.name: p.read_text() for p in tables.iterdir()} == before


def test_full_disk_leaves_no_truncated_checkpoint(davis_sets, tmp_path, monkeypatch):
    trainer = VOSTrainer(quickstart_cfg(CONFIG, davis_sets, tmp_path))
    trainer.checkpointer.save("model_0000000")
    real_save = torch.save

    def disk_full(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):
            f = open(f, "wb")
        f.write(b"PK\x03\x04 half a checkpoint")
        f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        trainer.checkpointer.save("model_0000001")
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == ["model_0000000.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000000.pth"


# A corrupt last checkpoint (datasets/README.md, case 11) -------------------------------------------------------------
def test_resume_falls_back_to_the_newest_readable_checkpoint(davis_sets, tmp_path, caplog):
    cfg = quickstart_cfg(CONFIG, davis_sets, tmp_path)
    trainer = VOSTrainer(cfg)
    for iteration in (1, 3):
        trainer.iter = iteration
        trainer.checkpointer.save(f"model_{iteration:07d}")
    last = tmp_path / "model_0000003.pth"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    resumed = VOSTrainer(cfg)
    with caplog.at_level(logging.WARNING):
        resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 2
    assert "Cannot resume from" in caplog.text and "model_0000003.pth" in caplog.text
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000001.pth"


# OSVOS worker processes when the parent is killed (datasets/README.md, case 12) --------------------------------------
def _children(pid: int):
    """Worker processes (multiprocessing spawn) whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "spawn_main" in cmdline:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table from /proc")
def test_osvos_workers_end_with_their_parent(tmp_path_factory):
    env = synthetic_env(tmp_path_factory, train_sequences=1, val_sequences=2, frames=4)
    cfg = load_cfg(OSVOS_CONFIG, ["MODEL.WEIGHTS", ""])
    parent_dir = tmp_path_factory.mktemp("parent")
    DetectionCheckpointer(build_model(cfg), save_dir=str(parent_dir)).save("parent")
    cmd = [sys.executable, str(REPO / "tools" / "osvos_net.py"), "--config-file", OSVOS_CONFIG, "--workers", "2",
           *TINY_TRAIN_OPTS, "OSVOS.ITERS", "100000", "MODEL.WEIGHTS", str(parent_dir / "parent.pth"),
           "OUTPUT_DIR", str(tmp_path_factory.mktemp("osvos"))]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.time() + 300
        while len(workers) < 2:
            assert proc.poll() is None, "osvos_net ended before starting its workers"
            assert time.time() < deadline, "no worker processes started in time"
            time.sleep(0.5)
            workers = _children(proc.pid)
        time.sleep(2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 120
        while any(_alive(w) for w in workers) and time.time() < deadline:
            time.sleep(0.5)
        assert not any(_alive(w) for w in workers), "OSVOS workers outlived their killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)


# Typos in dataset names and TEST.DAVIS.TASK (datasets/README.md, case 13) --------------------------------------------
def test_typos_in_dataset_names_and_task_fail_before_training(davis_sets, tmp_path):
    cfg = quickstart_cfg(CONFIG, davis_sets, tmp_path)
    cfg.DATASETS.TEST = ("rel_vall",)
    with pytest.raises(ValueError, match=r"DATASETS.TEST: 'rel_vall' is not a registered dataset"):
        VOSTrainer(cfg)
    cfg = quickstart_cfg(CONFIG, davis_sets, tmp_path, "TEST.DAVIS.TASK", "semi_supervised")
    with pytest.raises(ValueError, match=r"TEST.DAVIS.TASK must be one of"):
        VOSTrainer(cfg)
    with pytest.raises(ValueError, match=r"TEST.DAVIS.TASK must be one of"):
        OSVOSRunner(quickstart_cfg(OSVOS_CONFIG, davis_sets, tmp_path, "TEST.DAVIS.TASK", "semi_supervised"),
                    str(tmp_path),
                    allow_random_weights=True)
