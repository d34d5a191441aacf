"""Speed, size and memory of the five SlowFast configurations in one run on the same inputs (paper Table 1 style).

For each m-n config (configs/slowfast_<m-n>.yaml, random weights): total and SlowFast parameter counts, video
inference ms/frame (steady state of ``inference_video`` after warm-up: one new backbone pass and one new module
step per frame; wall time, and the process's CPU time, which others' load on a shared machine moves far less), training
s/iteration (the paper's frozen backbone + RPN, batches of K neighbouring targets of one video), peak memory, and each
figure's ratio to 1-1. Every config runs in a fresh subprocess so peak memory (the child's peak RSS on CPU,
``torch.cuda.max_memory_allocated`` on CUDA) belongs to that config alone; inference runs before training, so the
inference peak is read before training starts. Configs and precisions are measured interleaved, so that a machine
whose speed drifts moves every config alike (experiments/interleaved.py): ``--rounds`` rounds, each measuring
every config in every precision once, round robin, after ``--warmup-rounds`` discarded ones; each time is the median
over rounds and each ratio the median of the ratios within a round, with their spread over rounds (the JSON's
"rounds" holds every round's value). Other processes' share of the machine's CPU time is recorded for every
measurement and for the whole run (experiments/machine_load.py): a time taken on a busy machine says so.
``--mem-frames 30 90`` also runs video inference of the largest window over videos of those lengths to check that
its peak memory does not grow with the video. ``--precision fp32 bf16`` measures every config in each precision
(TEST.PRECISION for inference, SOLVER.AMP.PRECISION for training; slowfast_vos/precision.py): results are keyed
"7-7" for fp32 and "7-7@bf16" otherwise, all ratios against 1-1 in fp32 (always measured).

    python tools/benchmark.py                              # 750x1333 (the reference size), CPU, all five configs
    python tools/benchmark.py --height 480 --width 854     # DAVIS 480p frames without the reference's resize
    python tools/benchmark.py --configs 1-1 7-7 --profile --json out/benchmark.json
    python tools/benchmark.py --configs 1-1 3-7 7-7 --precision fp32 bf16 --json out/precision.json
    python tools/benchmark.py --configs 1-1 7-7 --rounds 9 --warmup-rounds 2   # tighter medians on a busy machine
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from slowfast_vos.precision import PRECISIONS, autocast_dtype, cpu_has_native_bf16, cpu_summary
from vos_eval.io import write_json_atomic
from vos_eval.tables import markdown_table

from . import REPO
from .interleaved import RoundStatistics, interleaved_schedule, ratio_statistics
from .machine_load import OtherLoad, describe_share

CONFIGS = ("1-1", "3-3", "7-7", "1-7", "3-7")
PROFILE_PARTS = ("backbone", "slowfast", "rpn", "roi_heads", "postprocess")
SEED = 0
# Figures timed in every round (their medians are reported), the peaks (their maxima), and the ratios to 1-1 fp32
# taken within each round: ratio name -> figure.
TIMED = ("infer_ms_per_frame", "infer_cpu_ms_per_frame", "train_s_per_iter")
PEAKS = ("peak_mem_mb", "train_peak_mem_mb")
ROUND_RATIOS = {"infer_ratio": "infer_ms_per_frame", "infer_cpu_ratio": "infer_cpu_ms_per_frame",
                "train_ratio": "train_s_per_iter"}
# The command line, which each measurement runs again in a fresh process (--child).
TOOL = os.path.join(REPO, "tools", "benchmark.py")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line flags (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), help="m-n configs; 1-1 is always measured")
    p.add_argument("--config-dir", default=os.path.join(REPO, "configs"), help="folder of slowfast_<m-n>.yaml")
    p.add_argument("--height", type=int, default=750,
                   help="frame height fed to the model, no resize (default 750: DAVIS 480p at the reference's "
                        "800/1333 input size; 480 with --width 854 for unresized 480p)")
    p.add_argument("--width", type=int, default=1333, help="frame width fed to the model (default 1333)")
    p.add_argument("--frames", type=int, default=3, help="steady-state video frames timed per config and round")
    p.add_argument("--warmup", type=int, default=2, help="untimed video outputs before the timed ones")
    p.add_argument("--train-warmup", type=int, default=1, help="untimed training iterations first")
    p.add_argument("--rounds", type=int, default=5,
                   help="timed rounds; each measures every config in every precision once, round robin")
    p.add_argument("--warmup-rounds", type=int, default=1, help="rounds measured first and discarded")
    p.add_argument("--iters", type=int, default=1,
                   help="timed training iterations per config and round (0: no training)")
    p.add_argument("--batch", type=int, default=None, help="training targets per iteration (SOLVER.IMS_PER_BATCH)")
    p.add_argument("--neighbors", type=int, default=None,
                   help="K neighbouring targets of one video per group (default: the config's "
                        "DATALOADER.NEIGHBOR_TARGETS, as training batches them)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--precision", nargs="+", default=["fp32"], choices=PRECISIONS,
                   help="precisions to measure every config in (fp16 needs CUDA); 1-1 fp32 is always measured")
    p.add_argument("--mem-frames", type=int, nargs="*", default=[30, 90],
                   help="video lengths for the memory check of the largest window (none: skip)")
    p.add_argument("--mem-height", type=int, default=120, help="frame height of the memory check")
    p.add_argument("--mem-width", type=int, default=214, help="frame width of the memory check")
    p.add_argument("--profile", action="store_true",
                   help="also break a steady-state inference frame into backbone/SlowFast/RPN/heads/postprocess")
    p.add_argument("--json", default=None, help="write the results here as JSON")
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides KEY VALUE ... (last)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("height", "width", "frames", "mem_height", "mem_width"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0 or args.train_warmup < 0 or args.iters < 0 or args.warmup_rounds < 0:
        raise SystemExit("--warmup, --train-warmup, --iters and --warmup-rounds must be >= 0")
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")
    unknown = [c for c in args.configs if not os.path.isfile(config_file(args, c))]
    if unknown:
        raise SystemExit(f"no config file for {unknown} in {args.config_dir} (expected slowfast_<m-n>.yaml)")
    args.configs = ["1-1"] + [c for c in dict.fromkeys(args.configs) if c != "1-1"]
    args.precision = ["fp32"] + [p for p in dict.fromkeys(args.precision) if p != "fp32"]
    for precision in args.precision:
        try:
            autocast_dtype(precision, args.device, key="--precision")
        except ValueError as e:
            raise SystemExit(str(e)) from None
    return args


def entry_name(config: str, precision: str) -> str:
    """Results key of a config measured in a precision: "7-7" (fp32) or "7-7@bf16"."""
    return config if precision == "fp32" else f"{config}@{precision}"


def config_file(args: argparse.Namespace, name: str) -> str:
    """Path of the m-n config."""
    return os.path.join(args.config_dir, f"slowfast_{name}.yaml")


def log(message: str) -> None:
    """Progress on stderr (the parent's and the children's interleave in order)."""
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# Child side: one measurement in a fresh process.
# ----------------------------------------------------------------------------------------------------------------


def _build(args: argparse.Namespace, name: str, precision: str = "fp32"):
    """The m-n SlowFastRCNN with random weights (same seed for every config: same backbone, RPN and heads), its
    config set to run inference and training in ``precision``."""
    import torch
    from detectron2.modeling import build_model

    from slowfast_vos.engine import load_cfg

    cfg = load_cfg(config_file(args, name), ["MODEL.WEIGHTS", "", "MODEL.DEVICE", args.device, *args.opts],
                   freeze=False)
    cfg.TEST.PRECISION = precision
    cfg.SOLVER.AMP.ENABLED = precision != "fp32"
    if precision != "fp32":
        cfg.SOLVER.AMP.PRECISION = precision
    cfg.freeze()
    torch.manual_seed(SEED)
    return cfg, build_model(cfg)


def _frames(count: int, height: int, width: int, seed: int = SEED) -> List:
    """Deterministic random uint8 frames (the same for every config)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=gen) for _ in range(count)]


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_mem_mb(device: str) -> float:
    """Peak memory of this process so far: CUDA allocations on CUDA, else the peak resident set size."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class _PartTimer:
    """Forward hooks accumulating wall time per model part (a part may run several times per frame)."""

    def __init__(self, model, device: str):
        self.device = device
        self.totals: Dict[str, float] = {}
        self._start: Dict[str, float] = {}
        for part, module in (("backbone", model.backbone), ("slowfast", model.slowfast),
                             ("rpn", model.proposal_generator), ("roi_heads", model.roi_heads)):
            module.register_forward_pre_hook(lambda m, a, part=part: self._begin(part))
            module.register_forward_hook(lambda m, a, o, part=part: self._end(part))

    def _begin(self, part: str) -> None:
        _sync(self.device)
        self._start[part] = time.perf_counter()

    def _end(self, part: str) -> None:
        _sync(self.device)
        self.totals[part] = self.totals.get(part, 0.0) + time.perf_counter() - self._start.pop(part)

    def take(self) -> Dict[str, float]:
        totals, self.totals = self.totals, {}
        return totals


def _video_times(cfg, model, frames: List, timer: Optional[_PartTimer]) -> List[Dict[str, float]]:
    """Per yielded output of inference_video: the wall time since the previous one and, with a timer, its parts.

    The model runs in TEST.PRECISION, the context entered per output as VideoPredictor does.
    """
    import torch

    from slowfast_vos.precision import inference_precision

    device = cfg.MODEL.DEVICE
    records = []
    outputs = model.inference_video({"image": f} for f in frames)
    with torch.no_grad():
        _sync(device)
        last, last_cpu = time.perf_counter(), time.process_time()
        while True:
            with inference_precision(cfg):
                if next(outputs, None) is None:
                    break
            _sync(device)
            now, now_cpu = time.perf_counter(), time.process_time()
            record = {"total": now - last, "cpu": now_cpu - last_cpu}
            if timer is not None:
                record.update(timer.take())
            records.append(record)
            last, last_cpu = now, now_cpu
    return records


def child_infer(args: argparse.Namespace, name: str, cfg, model) -> Dict[str, Any]:
    """Params, steady-state video inference ms/frame (and its parts), and this process's peak memory."""
    import torch

    from slowfast_vos.modeling import parameter_counts

    model.eval()
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    half = model.window_size // 2
    # Output t (t >= 1) comes right after frame t + half is pushed, paying one backbone pass and one module step
    # per layer; output 0 also pays the first half window. Time outputs warmup+1 .. warmup+frames, then stop.
    length = args.warmup + args.frames + half + 1
    timer = _PartTimer(model, args.device) if args.profile else None
    log(f"[{name}] video inference: {length} frames of {args.height}x{args.width} "
        f"(timing outputs {args.warmup + 1}..{args.warmup + args.frames})")
    records = _video_times(cfg, model, _frames(length, args.height, args.width), timer)
    steady = records[args.warmup + 1:args.warmup + args.frames + 1]
    counts = parameter_counts(model)
    result = {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "machine": cpu_summary(),
        "params_total": counts["total"],
        "params_slowfast": counts["slowfast"],
        "infer_ms_per_frame": 1000 * sum(r["total"] for r in steady) / len(steady),
        # CPU time of this process, all threads: on a machine others load too, it moves far less than wall time.
        "infer_cpu_ms_per_frame": 1000 * sum(r["cpu"] for r in steady) / len(steady),
        "peak_mem_mb": _peak_mem_mb(args.device),
        "window": model.window_size,
    }
    if timer is not None:
        parts = {p: 1000 * sum(r.get(p, 0.0) for r in steady) / len(steady) for p in PROFILE_PARTS[:-1]}
        parts["postprocess"] = result["infer_ms_per_frame"] - sum(parts.values())
        result["profile_ms"] = parts
    return result


def _neighbour_batch(model, groups: int, k: int, height: int, width: int) -> List[dict]:
    """``groups`` groups of K consecutive training targets of one video each, windows sharing tensors and keys."""
    import torch
    from detectron2.structures import BitMasks, Instances

    n, half = model.window_size, model.window_size // 2
    batch = []
    for g in range(groups):
        video = _frames(k + n - 1, height, width, seed=SEED + 1 + g)
        masks = torch.zeros(1, height, width, dtype=torch.bool)
        masks[0, height // 4:3 * height // 4, width // 3:2 * width // 3] = True
        for t in range(half, half + k):
            inst = Instances((height, width))
            inst.gt_masks = BitMasks(masks)
            inst.gt_boxes = inst.gt_masks.get_bounding_boxes()
            inst.gt_classes = torch.zeros(1, dtype=torch.int64)
            span = range(t - half, t + half + 1)
            batch.append({"image": video[t], "clip": [video[j] for j in span],
                          "clip_keys": [(g, j) for j in span], "instances": inst, "height": height, "width": width})
    return batch


def child_train(args: argparse.Namespace, name: str, cfg, model) -> Dict[str, Any]:
    """Training s/iteration (forward, backward, SGD step) on K-neighbour batches, and peak memory.

    One step is the project's training loop (slowfast_vos.engine.amp.build_training_loop): fp32, or mixed precision
    per SOLVER.AMP.*.
    """
    import itertools

    import torch
    from detectron2.utils.events import EventStorage

    from slowfast_vos.engine.amp import build_training_loop

    model.train()
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    batch_size = args.batch or cfg.SOLVER.IMS_PER_BATCH
    k = args.neighbors or cfg.DATALOADER.NEIGHBOR_TARGETS
    if batch_size % k:
        raise SystemExit(f"--batch ({batch_size}) must be a multiple of --neighbors ({k}; default "
                         "DATALOADER.NEIGHBOR_TARGETS)")
    batch = _neighbour_batch(model, batch_size // k, k, args.height, args.width)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=cfg.SOLVER.BASE_LR, momentum=cfg.SOLVER.MOMENTUM)
    trainer = build_training_loop(cfg, model, itertools.repeat(batch), optimizer)
    times = []
    with EventStorage(0) as storage:
        for it in range(args.train_warmup + args.iters):
            _sync(args.device)
            start = time.perf_counter()
            trainer.iter = it
            trainer.run_step()
            _sync(args.device)
            times.append(time.perf_counter() - start)
            storage.step()
            log(f"[{name}] training iteration {it + 1}/{args.train_warmup + args.iters}: {times[-1]:.2f} s"
                f"{' (warm-up)' if it < args.train_warmup else ''}")
    timed = times[args.train_warmup:]
    return {"train_s_per_iter": sum(timed) / len(timed), "train_peak_mem_mb": _peak_mem_mb(args.device),
            "batch": batch_size, "neighbors": k}


def child_memory(args: argparse.Namespace, name: str, length: int) -> Dict[str, Any]:
    """Peak memory of video inference over ``length`` frames at the memory-check size."""
    import torch

    _, model = _build(args, name)
    model.eval()
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    log(f"[{name}] memory check: {length} frames of {args.mem_height}x{args.mem_width}")
    frames = (f for i in range(length) for f in _frames(1, args.mem_height, args.mem_width, seed=SEED + i))
    with torch.no_grad():
        count = sum(1 for _ in model.inference_video({"image": f} for f in frames))
    assert count == length
    return {"peak_mem_mb": _peak_mem_mb(args.device)}


def run_child(kind: str, args: argparse.Namespace) -> None:
    """Entry point of a child process: run one measurement and write its JSON where ``--child`` says."""
    kind, name, out, *rest = kind.split(":")
    if kind == "run":  # inference first: the peak memory read after it is inference's alone
        precision = rest[0]
        cfg, model = _build(args, name, precision)
        result = {"config": name, "precision": precision, **child_infer(args, entry_name(name, precision), cfg, model)}
        if args.iters:
            result.update(child_train(args, entry_name(name, precision), cfg, model))
    else:
        result = child_memory(args, name, int(rest[0]))
    with open(out, "w") as f:
        json.dump(result, f)


# ----------------------------------------------------------------------------------------------------------------
# Parent side.
# ----------------------------------------------------------------------------------------------------------------


def measure(kind: str, args: argparse.Namespace, argv: Sequence[str], tmp: str, *extra: str) -> Dict[str, Any]:
    """Run one measurement in a fresh Python process and return its JSON result."""
    out = os.path.join(tmp, "_".join((kind,) + extra) + ".json")
    spec = ":".join((kind, extra[0], out) + tuple(extra[1:]))
    cmd = [sys.executable, TOOL, "--child", spec] + list(argv)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {spec.split(':')[:2]} failed with exit code {proc.returncode}")
    with open(out) as f:
        return json.load(f)


def summarise_rounds(per_round: Dict[int, Dict[str, Dict[str, Any]]],
                     names: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """One entry per config and precision (``names``, in this order) from its kept rounds' measurements (round ->
    name -> measurement): the
    first round's fixed figures (parameters, window, versions), the median of each timed figure and the maximum
    of each peak, each ratio to 1-1 in fp32 (add_ratios), and under "rounds" every timed figure's and ratio's
    RoundStatistics."""
    kept = [per_round[r] for r in sorted(per_round)]
    results: Dict[str, Dict[str, Any]] = {}
    for name in names:
        measured = [round_[name] for round_ in kept]
        entry = dict(measured[0])
        entry["rounds"] = {}
        for figure in TIMED:
            if figure in entry:
                entry["rounds"][figure] = RoundStatistics.of([m[figure] for m in measured])
                entry[figure] = entry["rounds"][figure]["median"]
        for figure in PEAKS:
            if figure in entry:
                entry[figure] = max(m[figure] for m in measured)
        shares = [m["other_cpu_share"] for m in measured if m.get("other_cpu_share") is not None]
        entry["other_cpu_share"] = max(shares) if shares else None  # the worst round's
        if "profile_ms" in entry:  # each part's median; postprocess, the rest of the median frame
            parts = {p: statistics.median(m["profile_ms"][p] for m in measured) for p in PROFILE_PARTS[:-1]}
            parts["postprocess"] = entry["infer_ms_per_frame"] - sum(parts.values())
            entry["profile_ms"] = parts
        results[name] = entry
    add_ratios(results, per_round)
    return results


def add_ratios(results: Dict[str, Dict[str, Any]], per_round: Dict[int, Dict[str, Dict[str, Any]]]) -> None:
    """Each figure's ratio to 1-1 in fp32: for timed figures the median over rounds of the ratio within a round
    (its statistics under "rounds"), for parameters and peak memory the ratio of the summaries."""
    base = results["1-1"]
    for ratio, figure in ROUND_RATIOS.items():
        for name, stats in ratio_statistics(per_round, "1-1", figure).items():
            results[name][ratio] = stats["median"]
            results[name]["rounds"][ratio] = stats
    for entry in results.values():
        entry["params_ratio"] = entry["params_total"] / base["params_total"]
        entry["peak_mem_ratio"] = entry["peak_mem_mb"] / base["peak_mem_mb"]


def _with_range(value: float, stats: Optional[Dict[str, Any]]) -> str:
    """A ratio with its range over rounds where there were several: "2.18x, 2.10-2.25"."""
    if stats is None or len(stats["rounds"]) < 2:
        return f"{value:.2f}x"
    return f"{value:.2f}x, {stats['min']:.2f}-{stats['max']:.2f}"


def results_table(results: Dict[str, Dict[str, Any]]) -> str:
    """Table 1-style Markdown table: one row per config, ratios to 1-1 in parentheses (medians over rounds, with
    their range where there were several rounds)."""
    headers = ["config", "params total", "SlowFast params", "inference ms/frame", "inference CPU ms/frame",
               "training s/iter (K)", "peak mem MB (inference)", "peak mem MB (training)",
               "others' CPU share (worst round)"]
    rows = [
        [name, f"{r['params_total']:,} ({r['params_ratio']:.3f}x)", f"{r['params_slowfast']:,}",
         f"{r['infer_ms_per_frame']:.0f} ({_with_range(r['infer_ratio'], r['rounds'].get('infer_ratio'))})",
         f"{r['infer_cpu_ms_per_frame']:.0f} "
         f"({_with_range(r['infer_cpu_ratio'], r['rounds'].get('infer_cpu_ratio'))})",
         f"{r['train_s_per_iter']:.2f} ({_with_range(r['train_ratio'], r['rounds'].get('train_ratio'))}, "
         f"K={r['neighbors']} of {r['batch']})"
         if "train_s_per_iter" in r else "-",
         f"{r['peak_mem_mb']:.0f} ({r['peak_mem_ratio']:.2f}x)",
         f"{r['train_peak_mem_mb']:.0f}" if "train_s_per_iter" in r else "-",
         "-" if r.get("other_cpu_share") is None else f"{100 * r['other_cpu_share']:.1f}%"]
        for name, r in results.items()
    ]
    return markdown_table(headers, rows)


def profile_table(results: Dict[str, Dict[str, Any]]) -> str:
    """Per-component ms of one steady-state inference frame."""
    rows = [[name, *(f"{r['profile_ms'][p]:.0f}" for p in PROFILE_PARTS), f"{r['infer_ms_per_frame']:.0f}"]
            for name, r in results.items()]
    return markdown_table(["config", *PROFILE_PARTS, "total"], rows)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    """Measure every config, print the Markdown tables and JSON, optionally write the JSON; return the results."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.child:
        run_child(args.child, args)
        return {}
    variants = {entry_name(c, p): (c, p) for c in args.configs for p in args.precision}
    per_round: Dict[int, Dict[str, Dict[str, Any]]] = {}
    total = args.warmup_rounds + args.rounds
    whole_run = OtherLoad()
    with tempfile.TemporaryDirectory(prefix="slowfast_benchmark_") as tmp:
        for round_, name in interleaved_schedule(list(variants), args.rounds, args.warmup_rounds):
            log(f"== round {round_ + 1}/{total}{' (warm-up)' if round_ < args.warmup_rounds else ''}: {name}")
            load = OtherLoad()
            measured = measure("run", args, argv, tmp, *variants[name])
            measured["other_cpu_share"] = load.share()
            if round_ >= args.warmup_rounds:
                per_round.setdefault(round_, {})[name] = measured
        results = summarise_rounds(per_round, list(variants))
        if args.mem_frames:
            largest = max(args.configs, key=lambda c: (results[c]["window"], c))
            mem = {str(n): measure("mem", args, argv, tmp, largest, str(n))["peak_mem_mb"] for n in args.mem_frames}
            results[largest]["video_peak_mem_mb"] = mem
    print(f"## SlowFast benchmark: {args.height}x{args.width} frames, device {args.device}, "
          f"precision {' '.join(args.precision)} (name@precision; ratios against 1-1 fp32), "
          f"{args.frames} steady-state frames after {args.warmup} warm-up outputs, {args.iters} training "
          f"iteration(s) after {args.train_warmup} warm-up; configs interleaved over {args.rounds} round(s) after "
          f"{args.warmup_rounds} warm-up round(s): medians (range over rounds); torch {results['1-1']['torch']}, "
          f"CPU {results['1-1']['machine']}\n")
    share = whole_run.share()
    worst = max((r["other_cpu_share"] for r in results.values() if r.get("other_cpu_share") is not None),
                default=None)
    print(f"Machine load over the whole run: {describe_share(share)}; in the busiest kept measurement: "
          f"{describe_share(worst)}\n")
    for entry in results.values():
        entry["run_other_cpu_share"] = share
    print(results_table(results))
    if args.profile:
        print("\nOne steady-state inference frame, ms (postprocess = the rest: preprocessing, windows, mask paste):\n")
        print(profile_table(results))
    for name, r in results.items():
        if "video_peak_mem_mb" in r:
            mem = r["video_peak_mem_mb"]
            lo, hi = min(mem.values()), max(mem.values())
            print(f"\nVideo inference peak memory of {name} at {args.mem_height}x{args.mem_width}: "
                  + ", ".join(f"{n} frames {v:.0f} MB" for n, v in mem.items())
                  + f" (spread {100 * (hi - lo) / lo:.1f}%)")
    print("\n```json\n" + json.dumps(results, indent=2) + "\n```")
    if args.json:
        write_json_atomic(args.json, results)
    return results

