#!/usr/bin/env python
"""Where a training step's time goes: data, backbone, SlowFast module, RPN, ROI heads, backward, optimizer.

Builds the trainer of ``--config-file`` as ``tools/train_net.py`` does (same model, loader, optimizer and precision
loop), runs ``--warmup`` steps, then times ``--steps`` steps part by part (forward hooks on the model's parts) and
lists the heaviest operators from ``torch.profiler``. Example, the fp32 path of ``make demo``'s pre-training:

    SLOWFAST_VOS_HIDE_BF16=1 python tools/profile_training.py --config-file configs/quickstart/pretrain_mask_rcnn.yaml
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import nullcontext

import torch

PARTS = ("backbone", "slowfast", "proposal_generator", "roi_heads")


def time_parts(model: torch.nn.Module, totals: dict) -> list:
    """Forward hooks adding each part's forward wall time to ``totals``; returns the handles."""
    handles = []
    for name in PARTS:
        part = getattr(model, name, None)
        if part is None:
            continue
        starts = []
        handles.append(part.register_forward_pre_hook(lambda m, i, starts=starts: starts.append(time.perf_counter())))
        handles.append(part.register_forward_hook(
            lambda m, i, o, name=name, starts=starts: totals.__setitem__(
                name, totals[name] + time.perf_counter() - starts.pop())))
    return handles


def loop_check(trainer, step, args) -> int:
    """Seconds per step of the bare ``step`` and of the trainer's loop (hooks' before_step, run_step, hooks'
    after_step, as ``TrainerBase.train`` runs them), alternated in rounds so that drift hits both alike."""
    from detectron2.utils.events import EventStorage
    rounds: dict = {"bare step": [], "trainer loop": []}

    def trainer_step(_timed: bool) -> None:
        for part in (trainer.before_step, trainer.run_step, trainer.after_step):
            part()
        trainer.iter += 1

    with EventStorage(0) as trainer.storage:
        trainer.iter = trainer.start_iter = 0
        trainer.before_train()
        for _ in range(args.warmup):
            trainer_step(False)
        for _ in range(args.loop_check):
            for name, run in (("bare step", step), ("trainer loop", trainer_step)):
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    run(False)
                rounds[name].append((time.perf_counter() - t0) / args.steps)
    print(f"config: {args.config_file} {' '.join(args.opts)}; threads: {torch.get_num_threads()}; "
          f"{args.loop_check} rounds of {args.steps} steps each, after {args.warmup} warm-up")
    print("\n| loop | median s per step | rounds |\n|---|---:|---|")
    for name, values in rounds.items():
        print(f"| {name} | {statistics.median(values):.3f} | {' '.join(f'{v:.3f}' for v in values)} |")
    print(f"\ntrainer loop / bare step, median over rounds: "
          f"{statistics.median(b / a for a, b in zip(*rounds.values())):.3f}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: PyTorch's)")
    parser.add_argument("--top", type=int, default=20, help="operators listed")
    parser.add_argument("--channels-last", action="store_true", help="model weights in channels-last memory format")
    parser.add_argument("--flush-denormal", action="store_true")
    parser.add_argument("--loop-check", type=int, metavar="ROUNDS", default=0,
                        help="instead: alternate --steps bare steps and --steps steps of the trainer's own loop "
                             "(run_step with every hook), ROUNDS times, and print both medians")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides")
    args = parser.parse_args(argv)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    if args.threads:
        torch.set_num_threads(args.threads)

    from detectron2.utils.events import EventStorage

    from slowfast_vos.engine import VOSTrainer, load_cfg
    from slowfast_vos.precision import cpu_summary

    cfg = load_cfg(args.config_file, [*args.opts, "OUTPUT_DIR", tempfile.mkdtemp(prefix="profile_")])
    trainer = VOSTrainer(cfg)
    loop = trainer._trainer
    model = loop.model
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    totals: dict = defaultdict(float)
    autocast = getattr(loop, "dtype", None)

    def step(timed: bool) -> None:
        t0 = time.perf_counter()
        data = next(loop._data_loader_iter)
        t1 = time.perf_counter()
        with torch.autocast(loop.device_type, dtype=autocast) if autocast is not None else nullcontext():
            losses = sum(model(data).values())
        t2 = time.perf_counter()
        loop.optimizer.zero_grad()
        losses.backward()
        t3 = time.perf_counter()
        loop.optimizer.step()
        t4 = time.perf_counter()
        if timed:
            for key, dt in (("data", t1 - t0), ("forward", t2 - t1), ("backward", t3 - t2), ("optimizer", t4 - t3)):
                totals[key] += dt

    if args.loop_check:
        return loop_check(trainer, step, args)
    with EventStorage(0):
        for _ in range(args.warmup):
            step(False)
        totals.clear()
        handles = time_parts(model, totals)
        for _ in range(args.steps):
            step(True)
        for h in handles:
            h.remove()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(min(3, args.steps)):
                step(False)

    step_s = sum(totals[k] for k in ("data", "forward", "backward", "optimizer")) / args.steps
    print(f"config: {args.config_file} {' '.join(args.opts)}")
    print(f"precision: {'fp32' if autocast is None else autocast}; CPU: {cpu_summary()}; "
          f"threads: {torch.get_num_threads()}; steps timed: {args.steps} after {args.warmup} warm-up")
    print(f"\nper step: {step_s:.3f} s\n\n| part | s per step | share |\n|---|---:|---:|")
    for key in ("data", "forward", *[p for p in PARTS if p in totals], "backward", "optimizer"):
        indent = "  forward: " if key in PARTS else ""
        print(f"| {indent}{key} | {totals[key] / args.steps:.3f} | {totals[key] / args.steps / step_s:.1%} |")
    print(f"\nHeaviest operators (self CPU time, {min(3, args.steps)} steps):\n")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
