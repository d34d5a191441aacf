#!/usr/bin/env python
"""Do two runs of tools/benchmark.py agree? Prints every config's speed ratios (against 1-1 fp32) in both runs and
their relative difference; exits 1 when one differs by more than --tolerance (default 5%).

    python tools/compare_benchmarks.py docs/benchmarks/interleaved-run1.json docs/benchmarks/interleaved-run2.json
"""
import argparse
import sys

from experiments.benchmark_compare import agreement, read_run, report
from experiments.machine_load import describe_share


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_a", help="a tools/benchmark.py --json file")
    parser.add_argument("run_b", help="a second run of the same command")
    parser.add_argument("--tolerance", type=float, default=0.05, help="largest relative difference allowed")
    args = parser.parse_args(argv)
    try:
        runs = {"A": read_run(args.run_a), "B": read_run(args.run_b)}
    except (OSError, ValueError) as e:
        sys.exit(f"compare_benchmarks: {e}")
    table, ok = report(agreement(runs["A"].ratios, runs["B"].ratios), args.tolerance)
    for label, run in runs.items():
        share = run.other_cpu_share
        print(f"run {label}: " + ("machine load not recorded (a JSON from before it was)" if share is None
                                  else describe_share(share)))
    print()
    print(table)
    print(f"\n{'every' if ok else 'NOT every'} ratio within {args.tolerance:.0%}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
