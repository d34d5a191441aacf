"""Time the command-line DAVIS evaluator against the official toolkit's algorithm, each as a whole process.

Generates a DAVIS 2017-like folder (random-walk objects) and perturbed predictions in a temporary folder and scores
them (semi-supervised protocol) in fresh Python processes, start-up included:

  (a) the official davis2017-evaluation toolkit, emulated: it is not installable here (not on PyPI), so a child
      process imports the libraries the toolkit imports that are installed (numpy, Pillow, OpenCV, tqdm,
      scipy.optimize, scikit-image; not pandas, which its evaluation_method.py also imports, so the emulated start-up
      is if anything shorter than the real one) and runs the toolkit's algorithm as the toolkit does, single process:
      masks read into float64 stacks, one object at a time, one frame at a time for F (boundary map, a fresh
      skimage disk, two full-frame cv2.dilate calls per object and frame);
  (b) ``python -m vos_eval`` with ``--workers 1`` and ``--workers 2``;
  (c) vos-benchmark (a fast third-party DAVIS evaluator, when installed) with 1 process, as a cross-check;

prints seconds, frames/second and speed-ups over (a), and checks that every number agrees.
tools/benchmark_evaluation.py is the command line.

    python tools/benchmark_evaluation.py [--sequences 10 --frames 50 --objects 2 --height 480 --width 854 \
        --json out.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image
from skimage.morphology import disk as skimage_disk

from . import REPO

# The tool runs as the emulated toolkit's process too (--official-child): this module imports slowfast_vos only
# inside the functions of the parent process, so that child starts with the toolkit's libraries alone.
TOOL = os.path.join(REPO, "tools", "benchmark_evaluation.py")


def random_walk_video(rng: np.random.Generator, frames: int, objects: int, h: int, w: int) -> np.ndarray:
    """An id map per frame: ellipses whose centres, radii and orientation follow random walks."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    state = [
        dict(c=np.array([rng.uniform(0.25, 0.75) * h, rng.uniform(0.2, 0.8) * w]),
             r=np.array([rng.uniform(0.08, 0.2) * h, rng.uniform(0.05, 0.15) * w]), a=rng.uniform(0, np.pi))
        for _ in range(objects)
    ]
    video = np.zeros((frames, h, w), dtype=np.uint8)
    for t in range(frames):
        for k, s in enumerate(state, start=1):
            s["c"] = np.clip(s["c"] + rng.normal(0, 6, 2), [0, 0], [h - 1, w - 1])
            s["r"] = np.clip(s["r"] * np.exp(rng.normal(0, 0.03, 2)), 8, h / 3)
            s["a"] += rng.normal(0, 0.05)
            dy, dx = yy - s["c"][0], xx - s["c"][1]
            u = dy * np.cos(s["a"]) + dx * np.sin(s["a"])
            v = -dy * np.sin(s["a"]) + dx * np.cos(s["a"])
            video[t][(u / s["r"][0]) ** 2 + (v / s["r"][1]) ** 2 <= 1] = k
    return video


def perturb(rng: np.random.Generator, video: np.ndarray) -> np.ndarray:
    """A plausible prediction: each object shifted a little, eroded or dilated, sometimes lost for a frame."""
    out = np.zeros_like(video)
    kernel = np.ones((5, 5), np.uint8)
    for t, frame in enumerate(video):
        for k in range(1, int(video.max()) + 1):
            if rng.random() < 0.05:
                continue
            mask = (frame == k).astype(np.uint8)
            mask = np.roll(mask, tuple(rng.integers(-6, 7, 2)), axis=(0, 1))
            op = rng.integers(0, 3)
            mask = cv2.erode(mask, kernel) if op == 1 else cv2.dilate(mask, kernel) if op == 2 else mask
            out[t][mask > 0] = k
    return out


def make_dataset(root: str, results: str, sequences: int, frames: int, objects: int, h: int, w: int) -> None:
    """DAVIS 2017 layout (ImageSets/2017/val.txt, Annotations/480p) plus a results folder."""
    from vos_eval.davis_format import write_id_png

    rng = np.random.default_rng(0)
    names = [f"seq{i:02d}" for i in range(sequences)]
    os.makedirs(os.path.join(root, "ImageSets", "2017"))
    with open(os.path.join(root, "ImageSets", "2017", "val.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    for name in names:
        video = random_walk_video(rng, frames, objects, h, w)
        pred = perturb(rng, video)
        for t in range(frames):
            write_id_png(os.path.join(root, "Annotations", "480p", name, f"{t:05d}.png"), video[t])
            write_id_png(os.path.join(results, name, f"{t:05d}.png"), pred[t])


# --------------------------------------------------------------------------------------------------------------
# (a) The official toolkit's algorithm, as it runs: float64 stacks, per object, per frame.
# --------------------------------------------------------------------------------------------------------------


def _read_stack(folder: str, names: List[str]) -> np.ndarray:
    first = np.array(Image.open(os.path.join(folder, f"{names[0]}.png")))
    stack = np.zeros((len(names), *first.shape))
    for i, n in enumerate(names):
        stack[i] = np.array(Image.open(os.path.join(folder, f"{n}.png")))
    return stack


def _split_objects(stack: np.ndarray, num: int) -> np.ndarray:
    ids = np.ones((num, *stack.shape)) * np.arange(1, num + 1)[:, None, None, None]
    return ids == stack[None]


def _boundary(seg: np.ndarray) -> np.ndarray:
    seg = seg.astype(bool)
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1], s[:-1, :], se[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def _frame_f(pred: np.ndarray, gt: np.ndarray, void: np.ndarray) -> float:
    radius = np.ceil(0.008 * np.linalg.norm(pred.shape))
    pb = _boundary(pred * np.logical_not(void))
    gb = _boundary(gt * np.logical_not(void))
    kernel = skimage_disk(radius).astype(np.uint8)
    p_dil, g_dil = cv2.dilate(pb.astype(np.uint8), kernel), cv2.dilate(gb.astype(np.uint8), kernel)
    n_p, n_g = np.sum(pb), np.sum(gb)
    if n_p == 0 and n_g > 0:
        precision, recall = 1, 0
    elif n_p > 0 and n_g == 0:
        precision, recall = 0, 1
    elif n_p == 0 and n_g == 0:
        precision, recall = 1, 1
    else:
        precision, recall = np.sum(pb * g_dil) / float(n_p), np.sum(gb * p_dil) / float(n_g)
    return 0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _sequence_j(gt: np.ndarray, pred: np.ndarray, void: np.ndarray) -> np.ndarray:
    inter = np.sum((pred & gt) & np.logical_not(void), axis=(-2, -1))
    union = np.sum((pred | gt) & np.logical_not(void), axis=(-2, -1))
    j = inter / union
    j[np.isclose(union, 0)] = 1
    return j


def _statistics(values: np.ndarray) -> Tuple[float, float, float]:
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(int)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(4)]
    return float(np.nanmean(values)), float(np.nanmean(values > 0.5)), float(np.nanmean(bins[0]) - np.nanmean(bins[3]))


def official_loop(root: str, results: str) -> Tuple[Dict[str, float], Dict[str, Tuple[float, float]], int]:
    """Semi-supervised J&F with the official toolkit's algorithm; returns global row, per-object means, frames."""
    with open(os.path.join(root, "ImageSets", "2017", "val.txt")) as f:
        names = [line.strip() for line in f if line.strip()]
    stats: Dict[str, List[float]] = {k: [] for k in ("JM", "JR", "JD", "FM", "FR", "FD")}
    per_object, frames = {}, 0
    for name in names:
        folder = os.path.join(root, "Annotations", "480p", name)
        ids = sorted(n[:-4] for n in os.listdir(folder) if n.endswith(".png"))
        gt = _read_stack(folder, ids)
        gt[gt == 255] = 0
        num = int(gt[0].max())
        gt = _split_objects(gt, num)[:, 1:-1]
        pred_stack = _read_stack(os.path.join(results, name), ids[1:-1])
        pred = _split_objects(pred_stack, int(pred_stack.max()))
        frames += gt.shape[1]
        for k in range(num):
            void = gt[k] == 255  # as in the toolkit: compared on boolean masks
            j = _sequence_j(gt[k], pred[k], void)
            f = np.array([_frame_f(pred[k][t], gt[k][t], void[t]) for t in range(gt.shape[1])])
            for key, value in zip(("JM", "JR", "JD", "FM", "FR", "FD"), _statistics(j) + _statistics(f)):
                stats[key].append(value)
            per_object[f"{name}_{k + 1}"] = (stats["JM"][-1], stats["FM"][-1])
    m = {k: float(np.mean(v)) for k, v in stats.items()}
    global_row = {"J&F-Mean": (m["JM"] + m["FM"]) / 2, "J-Mean": m["JM"], "J-Recall": m["JR"], "J-Decay": m["JD"],
                  "F-Mean": m["FM"], "F-Recall": m["FR"], "F-Decay": m["FD"]}
    return global_row, per_object, frames


def official_child(root: str, results: str, out: str) -> None:
    """The emulated toolkit's process: its start-up imports, then its algorithm; the numbers go to ``out`` as JSON."""
    import scipy.optimize  # noqa: F401  (davis2017.evaluation imports linear_sum_assignment at start-up)
    import tqdm  # noqa: F401  (davis2017.evaluation shows a tqdm progress bar)

    global_row, per_object, frames = official_loop(root, results)
    with open(out, "w") as f:
        json.dump({"global": global_row, "per_object": per_object, "frames": frames}, f)


def _child_env() -> Dict[str, str]:
    """The environment of the timed processes: this repository's package first on the path, one OpenMP thread."""
    path = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1")


def time_process(cmd: Sequence[str]) -> float:
    """Wall seconds of a command from its start to its exit (interpreter start-up and imports included)."""
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), env=_child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed with exit code {proc.returncode}:\n{proc.stderr[-3000:]}")
    return elapsed


def _read_tables(folder: str) -> Tuple[Dict[str, float], Dict[str, Tuple[float, float]]]:
    """The CLI's CSV tables (3 decimals) of the val split back as numbers, read by their owner (vos_eval.run_folder)."""
    from vos_eval.run_folder import RunFolder, read_global, read_per_sequence

    tables = RunFolder(folder)
    objects = {name: (j, f) for name, j, f in read_per_sequence(tables.per_sequence_csv("val"))}
    return read_global(tables.global_csv("val")), objects


def _vos_benchmark_cmd(root: str, results: str, out: str) -> List[str]:
    """A whole vos-benchmark process on the generated set (1 process), writing its J&F-Mean to ``out``."""
    code = (
        "import json, sys; from vos_benchmark.benchmark import benchmark; "
        "jf = benchmark([sys.argv[1]], [sys.argv[2]], num_processes=1, verbose=False)[0]; "
        "json.dump({'J&F-Mean': float(jf[0]) / 100}, open(sys.argv[3], 'w'))"
    )
    return [sys.executable, "-c", code, os.path.join(root, "Annotations", "480p"), results, out]


def run(args: argparse.Namespace) -> Dict[str, object]:
    """Generate the set, time every evaluator as a whole process, check their numbers; return the report."""
    from vos_eval.protocols import evaluate_davis
    from vos_eval.run_folder import GLOBAL_COLUMNS

    report: Dict[str, object] = {
        "sequences": args.sequences, "frames_per_sequence": args.frames, "objects": args.objects,
        "height": args.height, "width": args.width, "cores": os.cpu_count(), "task": "semi-supervised",
    }
    with tempfile.TemporaryDirectory(prefix="davis_bench_") as tmp:
        root, results = os.path.join(tmp, "DAVIS"), os.path.join(tmp, "results")
        print(f"Generating {args.sequences} sequences x {args.frames} frames at {args.width}x{args.height}, "
              f"{args.objects} objects ...", flush=True)
        make_dataset(root, results, args.sequences, args.frames, args.objects, args.height, args.width)

        official_json = os.path.join(tmp, "official.json")
        seconds = {"official toolkit (emulated), 1 process": time_process(
            [sys.executable, TOOL, "--official-child", root, results, official_json])}
        with open(official_json) as f:
            official = json.load(f)
        for workers in (1, 2):
            seconds[f"python -m vos_eval --workers {workers}"] = time_process(
                [sys.executable, "-m", "vos_eval", "--davis-root", root, "--results", results,
                 "--task", "semi-supervised", "--workers", str(workers), "--output", os.path.join(tmp, f"t{workers}")])
        vos_json = os.path.join(tmp, "vos_benchmark.json")
        if importlib.util.find_spec("vos_benchmark") is not None:
            seconds["vos-benchmark, 1 process"] = time_process(_vos_benchmark_cmd(root, results, vos_json))

        frames = official["frames"]
        reference = next(iter(seconds.values()))
        report["scored_frames"] = frames
        report["processes"] = {
            name: {"seconds": t, "frames_per_s": frames / t, "speedup": reference / t} for name, t in seconds.items()
        }

        # Every number agrees: the CLI's tables (3 decimals) and, unrounded, the same code in this process.
        ref_global, ref_objects = official["global"], official["per_object"]
        for workers in (1, 2):
            g, objects = _read_tables(os.path.join(tmp, f"t{workers}"))
            for key, value in ref_global.items():
                assert abs(g[key] - round(value, 3)) < 1.5e-3, (key, g[key], value)
            assert objects.keys() == ref_objects.keys()
            for name, (jm, fm) in ref_objects.items():
                assert abs(objects[name][0] - jm) < 1.5e-3 and abs(objects[name][1] - fm) < 1.5e-3, name
        ours = evaluate_davis(root, results, "semi-supervised", output_dir=os.path.join(tmp, "exact"))
        for key, value in ref_global.items():
            assert abs(ours.global_metrics[key] - value) < 1e-9, (key, ours.global_metrics[key], value)
        report["metrics"] = {key: ref_global[key] for key in GLOBAL_COLUMNS}
        if os.path.exists(vos_json):
            with open(vos_json) as f:
                report["vos_benchmark_jf_mean"] = json.load(f)["J&F-Mean"]
            assert abs(report["vos_benchmark_jf_mean"] - ref_global["J&F-Mean"]) < 1e-6, report["vos_benchmark_jf_mean"]
    return report


def print_report(report: Dict[str, object]) -> None:
    """The timing table and the agreement line."""
    print(f"\nscored frames: {report['scored_frames']} ({report['objects']} objects each, {report['width']}x"
          f"{report['height']}), semi-supervised, {report['cores']} cores; whole processes, start-up included")
    print("\n| evaluator (whole process) | seconds | frames/s | speed-up |\n|---|---|---|---|")
    for name, r in report["processes"].items():
        print(f"| {name} | {r['seconds']:.2f} | {r['frames_per_s']:.1f} | {r['speedup']:.2f}x |")
    m = report["metrics"]
    print(f"\nmetrics agree (CLI tables to 3 decimals, in-process |difference| < 1e-9): J&F-Mean {m['J&F-Mean']:.6f}, "
          f"J-Mean {m['J-Mean']:.6f}, F-Mean {m['F-Mean']:.6f}")
    if "vos_benchmark_jf_mean" in report:
        print(f"vos-benchmark agrees (|difference| < 1e-6): J&F-Mean {report['vos_benchmark_jf_mean']:.6f}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sequences", type=int, default=10)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--objects", type=int, default=2)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=854)
    p.add_argument("--json", default=None, help="also write the report here as JSON")
    p.add_argument("--official-child", nargs=3, metavar=("ROOT", "RESULTS", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.official_child:
        official_child(*args.official_child)
        return 0
    from vos_eval.io import write_json_atomic
    from slowfast_vos.utils.console import quiet_third_party_noise

    quiet_third_party_noise()
    report = run(args)
    print_report(report)
    if args.json:
        write_json_atomic(args.json, report)
    return 0

