"""Packaging for slowfast_vos. detectron2 is installed by tools/install_detectron2.py (it is not on PyPI)."""
from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="slowfast_vos",
    version="0.1.0",
    description="SlowFast temporal context for Mask R-CNN video object segmentation (a Detectron2 extension)",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["slowfast_vos", "slowfast_vos.*", "vos_eval", "vos_eval.*"]),
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "numpy>=1.23",
        "scipy>=1.9",
        "opencv-python-headless>=4.6",
        "Pillow>=9.0",
        "pycocotools>=2.0.6",
        "fvcore>=0.1.5",
        "iopath>=0.1.7",
        "tqdm>=4.60",
        "tabulate",
        "matplotlib>=3.5",
        "imageio>=2.20",
    ],
    extras_require={
        "dev": [
            "pytest>=7",
            "pytest-timeout>=2.1",
            "ruff>=0.5",  # the linter `make test` runs first (ruff.toml)
            # independent J&F implementation, used as a cross-check in the evaluator's tests
            "vos-benchmark==0.1.0",
            "scikit-image>=0.19",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
