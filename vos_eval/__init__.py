"""vos_eval: video object segmentation formats, measures and scoring with numpy, Pillow, OpenCV and SciPy only.

The DAVIS and YouTube-VOS file formats (``davis_format``, ``ytvos_format``, and ``id_png`` for the id PNGs both
use), the J and F measures (``metrics``), the benchmark protocols that score a results folder, one object per
benchmark that owns its rules (``benchmarks``), the layout of a run's output folder (``run_folder``), and the
command line ``python -m vos_eval``. It never imports
torch or Detectron2, so scoring starts in well under a second; ``slowfast_vos`` (the models, datasets and
DatasetEvaluators) builds on it, as Detectron2's COCO evaluator builds on pycocotools.
"""
