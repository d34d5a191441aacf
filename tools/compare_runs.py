#!/usr/bin/env python
"""Do two seeded runs of one recipe agree within the seed spread? E.g. the quickstart recipe in fp32 and in bf16:

    python tools/compare_runs.py fp32=output/precision-fp32 bf16=output/ablation --rows 1-1 3-7 \\
        --output docs/results/precision-recipe

Each run is LABEL=FOLDER, a folder in tools/run_ablation.py's layout (``seed<s>/<row>/results.json``); the first is
the reference. For each row (default: every row both have) it reports J&F overall, on clean and on degraded frames,
mean ± sample std over each run's training seeds, the difference, and whether it is under one seed std (the larger
of the two runs'). --protocol FOLDER compares the rows' OSVOS results instead (``seed<s>/<row>/FOLDER/``, e.g.
osvos_davis2016, Table 2's protocol). With --output it writes comparison.md and comparison.json there (atomically;
comparison-FOLDER.* with --protocol). The exit status is 0 whatever the verdict; an error names a missing run, row
or seed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from experiments.ablation.compare import compare_runs, comparison_markdown
from experiments.ablation.tables import write_text
from vos_eval.results_file import ResultsFileError
from vos_eval.provenance import portable_path


def labelled_run(text: str) -> tuple[str, str]:
    label, sep, folder = text.partition("=")
    if not sep or not label or not folder:
        raise argparse.ArgumentTypeError(f"expected LABEL=FOLDER, got {text!r}")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{label}: no such folder {folder!r}")
    return label, folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs=2, type=labelled_run, metavar="LABEL=FOLDER")
    parser.add_argument("--rows", nargs="+", default=(), help="rows to compare (default: all both runs have)")
    parser.add_argument("--protocol", default="",
                        help="compare the OSVOS results in this sub-folder of each row (e.g. osvos_davis2016, "
                             "Table 2's protocol) instead of the unsupervised ones")
    parser.add_argument("--output", help="folder for comparison.md and comparison.json (comparison-<protocol>.* "
                                         "with --protocol)")
    args = parser.parse_args(argv)
    runs = dict(args.runs)
    if len(runs) != 2:
        parser.error("the two runs need different labels")
    try:
        result = compare_runs(runs, args.rows, args.protocol)
    except ResultsFileError as error:
        sys.exit(f"compare_runs: error: {error}")
    shown = {label: portable_path(folder, args.output) for label, folder in runs.items()}  # no machine paths
    text = comparison_markdown(shown, result, args.protocol)
    print(text)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        stem = f"comparison-{args.protocol}" if args.protocol else "comparison"
        write_text(os.path.join(args.output, f"{stem}.md"), text)
        payload = {"runs": shown, "protocol": args.protocol or None, "rows": result}
        write_text(os.path.join(args.output, f"{stem}.json"), json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
