"""vos_eval: everything of the project that needs no torch, with numpy, Pillow, OpenCV and SciPy only.

The DAVIS and YouTube-VOS file formats (``davis_format``, ``ytvos_format``, and ``id_png`` for the id PNGs both
use), the J and F measures (``metrics``), the benchmark protocols that score a results folder, one object per
benchmark that owns its rules (``benchmarks``), J&F on frame subsets (``subsets``: the one rule), the layout of a
run's output folder (``run_folder``) and its ``results.json`` schema (``results_file``), comparison reports
(``reporting``) and mask overlays (``visualization``), the file helpers they share (``io``, ``folder_builds``,
``locks``, ``output_folder``, ``provenance``, ``tables``), and the command line ``python -m vos_eval``. It never
imports torch or Detectron2, so scoring, reading results and comparing runs start in well under a second;
``slowfast_vos`` (the models, datasets and DatasetEvaluators) builds on it, as Detectron2's COCO evaluator builds on
pycocotools.
"""
