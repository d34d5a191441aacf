"""Reports that compare methods' results: which sequences, frames and kinds of frame one model wins or loses.

``write_comparison_report(davis_root, results_dirs, names, output)`` scores result folders (or training / OSVOS run
folders) on a DAVIS set, or on a registered DAVIS / YouTube-VOS set (``davis_root=None, dataset=name``), with the
project's evaluator and writes a static HTML report; ``tools/compare_results.py`` is its command line.
``compare_methods`` returns the scored, lined-up comparison without writing anything.
"""
from .comparison import (
    Comparison,
    ComparisonError,
    MethodScores,
    compare_methods,
    describe_layout,
    registered_set,
    resolve_results_dir,
)
from .html_report import default_frame_tags, render_report, write_comparison_report

__all__ = ["Comparison", "ComparisonError", "MethodScores", "compare_methods", "default_frame_tags",
           "describe_layout", "registered_set", "render_report", "resolve_results_dir", "write_comparison_report"]
