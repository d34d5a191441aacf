"""Reports that compare methods' results: which sequences, frames and kinds of frame one model wins or loses.

``write_comparison_report(davis_root, results_dirs, names, output)`` scores result folders (or training / OSVOS run
folders) with the project's evaluator and writes a static HTML report; ``tools/compare_results.py`` is its command
line. ``compare_methods`` returns the scored, lined-up comparison without writing anything.
"""
from .comparison import Comparison, ComparisonError, MethodScores, compare_methods, resolve_results_dir
from .html_report import default_frame_tags, render_report, write_comparison_report

__all__ = ["Comparison", "ComparisonError", "MethodScores", "compare_methods", "default_frame_tags",
           "render_report", "resolve_results_dir", "write_comparison_report"]
