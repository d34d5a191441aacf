"""The official davis2017-evaluation package as an alternative backend, when it is installed (it is not on PyPI)."""
from __future__ import annotations

import importlib.util
from typing import Optional

from .davis_format import DAVISFormatError
from .scoring import VOSResults, global_table


def official_available() -> bool:
    """Whether the official ``davis2017`` package can be imported."""
    return importlib.util.find_spec("davis2017") is not None


def evaluate_official(
    davis_root: str, results_dir: str, task: str, split: str = "val", output_dir: Optional[str] = None,
    write_csvs: bool = True,
) -> VOSResults:
    """Score a results folder with davis2017-evaluation (DAVIS 2017 layout); write the same CSV tables (unless
    ``write_csvs`` is False)."""
    if not official_available():
        raise DAVISFormatError(
            "the official backend needs davis2017-evaluation: pip install "
            "git+https://github.com/davisvideochallenge/davis2017-evaluation"
        )
    if task not in ("semi-supervised", "unsupervised"):
        raise DAVISFormatError(f"davis2017-evaluation scores 'semi-supervised' and 'unsupervised', not {task!r}")
    from davis2017.evaluation import DAVISEvaluation

    try:
        metrics = DAVISEvaluation(davis_root=davis_root, task=task, gt_set=split).evaluate(results_dir)
    except SystemExit as e:  # the toolkit exits on bad results after printing why
        raise DAVISFormatError(f"davis2017-evaluation rejected {results_dir} (its message is printed above)") from e
    except FileNotFoundError as e:
        raise DAVISFormatError(str(e)) from e
    j, f = metrics["J"], metrics["F"]
    names = list(j["M_per_object"])
    per_sequence = [(n, float(j["M_per_object"][n]), float(f["M_per_object"][n])) for n in names]
    results = VOSResults(task, split, global_table(j["M"], j["R"], j["D"], f["M"], f["R"], f["D"]), per_sequence)
    if write_csvs:
        results.write_csvs(output_dir or results_dir)
    return results
