"""Reports that compare methods' results: which sequences, frames and kinds of frame one model wins or loses.

``compare_methods(layout, results_dirs, names)`` scores result folders (or training / OSVOS run folders) on a DAVIS
or YouTube-VOS layout with the benchmark's own scoring and returns the lined-up comparison without writing anything;
``write_comparison_report(davis_root, results_dirs, names, output)`` writes it as a static HTML report. Neither needs
torch or Detectron2; ``slowfast_vos.reporting`` adds the registered sets (``tools/compare_results.py --dataset``).
"""
from .comparison import (
    Comparison,
    ComparisonError,
    Layout,
    MethodScores,
    compare_methods,
    describe_layout,
    resolve_results_dir,
)
from .html_report import AUTO, default_frame_tags, render_report, write_comparison_report

__all__ = ["AUTO", "Comparison", "ComparisonError", "Layout", "MethodScores", "compare_methods", "default_frame_tags",
           "describe_layout", "render_report", "resolve_results_dir", "write_comparison_report"]
