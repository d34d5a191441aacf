#!/usr/bin/env python
"""Install detectron2 into the running Python environment.

detectron2 is not published on PyPI under its own name, so it cannot be an ordinary requirement of
slowfast_vos. This script picks one of three paths:

1. an importable detectron2 is left alone (e.g. a user's own CUDA build of upstream);
2. by default, the PyPI distribution ``sal-detectron2==0.7.2`` (upstream detectron2 at a59f056 plus a one-line
   fix) is downloaded, its sha256 verified, its CPython-3.10-only ``_C`` binary removed, repacked as a pure-Python
   wheel and installed with pip (so ``pip uninstall detectron2`` works), followed by detectron2's runtime needs;
3. ``--from-source`` builds upstream from its git repository (needs internet access and, for GPUs, CUDA).

Every failure ends with a message naming the step that failed and what to try, not a pip traceback.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Sequence

REGISTRY_DIST = "sal-detectron2"
REGISTRY_VERSION = "0.7.2"
REGISTRY_WHEEL = "sal_detectron2-0.7.2-cp310-none-any.whl"
REGISTRY_SHA256 = "491af0c7f79bdb2d178e46f6cb16a97c4ac968d45c41ea3f6b6435d59bbee561"
UPSTREAM_GIT = "git+https://github.com/facebookresearch/detectron2.git"

# detectron2's runtime requirements; the registry wheel declares stricter pins (numpy<2, ...) than it needs.
RUNTIME_REQUIREMENTS = [
    "Pillow>=7.1",
    "matplotlib",
    "pycocotools>=2.0.2",
    "termcolor>=1.1",
    "yacs>=0.1.8",
    "tabulate",
    "cloudpickle",
    "tqdm>4.29.0",
    "tensorboard",
    "omegaconf>=2.1",
    "hydra-core>=1.1",
    "fvcore>=0.1.5,<0.1.6",
    "iopath>=0.1.7,<0.1.10",
    "packaging",
    # detectron2.model_zoo imports pkg_resources, which setuptools>=81 no longer ships.
    "setuptools<81",
]


class InstallError(RuntimeError):
    """A step of the installation failed; the message says which and what to try."""


def detectron2_importable() -> bool:
    """Whether ``import detectron2`` can succeed in this interpreter without importing it."""
    return importlib.util.find_spec("detectron2") is not None


def run_step(step: str, cmd: Sequence[str], hint: str, quiet: bool = True) -> None:
    """Run one command; on failure raise InstallError with its tail of output and a hint."""
    print(f"[install_detectron2] {step}", flush=True)
    proc = subprocess.run(list(cmd), capture_output=quiet, text=True)
    if proc.returncode != 0:
        tail = ""
        if quiet:
            lines = (proc.stdout + proc.stderr).strip().splitlines()
            tail = "\n    ".join(lines[-8:])
            tail = f"\n  last output:\n    {tail}"
        raise InstallError(f"step failed: {step}\n  command: {' '.join(cmd)}{tail}\n  what to try: {hint}")


def pip(*args: str) -> List[str]:
    return [sys.executable, "-m", "pip", *args]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def repack_pure_python(wheel: Path, workdir: Path) -> Path:
    """Remove the compiled ``_C`` extension from the wheel and retag it ``py3-none-any``."""
    unpack_dir = workdir / "unpacked"
    run_step(
        "unpacking the wheel",
        [sys.executable, "-m", "wheel", "unpack", "--dest", str(unpack_dir), str(wheel)],
        "make sure the 'wheel' package is installed (pip install wheel) and the temp folder has space",
    )
    (root,) = list(unpack_dir.iterdir())
    removed = [p for p in (root / "detectron2").glob("_C*") if p.is_file()]
    for p in removed:
        p.unlink()
    print(f"[install_detectron2] removed compiled extension(s): {[p.name for p in removed]}", flush=True)
    dist_info = next(root.glob("*.dist-info"))
    wheel_meta = dist_info / "WHEEL"
    headers = [ln for ln in wheel_meta.read_text().splitlines() if ln.strip()]
    headers = [ln for ln in headers if not ln.startswith(("Tag:", "Root-Is-Purelib:"))]
    lines = headers + ["Root-Is-Purelib: true", "Tag: py3-none-any"]
    wheel_meta.write_text("\n".join(lines) + "\n")
    record = dist_info / "RECORD"
    kept = [ln for ln in record.read_text().splitlines() if not ln.startswith("detectron2/_C")]
    record.write_text("\n".join(kept) + "\n")
    out_dir = workdir / "repacked"
    out_dir.mkdir()
    run_step(
        "repacking as a pure-Python wheel",
        [sys.executable, "-m", "wheel", "pack", "--dest-dir", str(out_dir), str(root)],
        "make sure the 'wheel' package is installed (pip install wheel) and the temp folder has space",
    )
    (repacked,) = list(out_dir.glob("*.whl"))
    return repacked


def install_from_registry(cache_dir: Path | None) -> None:
    """The default path: the sal-detectron2 wheel, verified, repacked and installed by pip."""
    with tempfile.TemporaryDirectory(prefix="d2-install-") as tmp:
        work = Path(tmp)
        wheel = cache_dir / REGISTRY_WHEEL if cache_dir else None
        if wheel is None or not wheel.is_file():
            run_step(
                f"downloading {REGISTRY_DIST}=={REGISTRY_VERSION}",
                pip(
                    "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.10",
                    "--dest", str(work), f"{REGISTRY_DIST}=={REGISTRY_VERSION}",
                ),
                "check that PyPI is reachable (pip config list, proxies); or install upstream detectron2 with "
                "--from-source on a machine that reaches GitHub",
            )
            wheel = work / REGISTRY_WHEEL
            if not wheel.is_file():
                raise InstallError(f"pip download did not produce {REGISTRY_WHEEL} in {work}")
        digest = sha256_of(wheel)
        if digest != REGISTRY_SHA256:
            raise InstallError(
                f"sha256 mismatch for {wheel.name}: expected {REGISTRY_SHA256}, got {digest}. "
                "The file on the registry is not the verified one; refusing to install it. "
                "Use --from-source to build upstream detectron2 instead."
            )
        if cache_dir:
            cache_dir.mkdir(parents=True, exist_ok=True)
            if not (cache_dir / REGISTRY_WHEEL).is_file():
                shutil.copy2(wheel, cache_dir / REGISTRY_WHEEL)
        repacked = repack_pure_python(wheel, work)
        run_step(
            "installing the repacked wheel",
            pip("install", "--no-deps", str(repacked)),
            "see pip's output above; remove a broken install with: pip uninstall -y detectron2 sal-detectron2",
        )


def install_from_source() -> None:
    """Upstream's own install: builds detectron2's C++/CUDA ops from its git repository."""
    run_step(
        "building upstream detectron2 from source",
        pip("install", "--no-build-isolation", UPSTREAM_GIT),
        "this needs access to GitHub, a C++ compiler and torch already installed; on machines without internet "
        "run this script without --from-source to use the PyPI build",
        quiet=False,
    )


def install_runtime_requirements() -> None:
    run_step(
        "installing detectron2's runtime requirements",
        pip("install", *RUNTIME_REQUIREMENTS),
        "check that PyPI is reachable; the list is RUNTIME_REQUIREMENTS in tools/install_detectron2.py",
    )


def verify() -> None:
    code = "import detectron2, detectron2.modeling, detectron2.engine, detectron2.evaluation, detectron2.model_zoo"
    run_step(
        "checking that detectron2 imports",
        [sys.executable, "-c", code],
        "reinstall with --force, or report the error above",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-source", action="store_true", help=f"build upstream from {UPSTREAM_GIT}")
    parser.add_argument("--force", action="store_true", help="install even if detectron2 is importable")
    parser.add_argument("--cache-dir", type=Path, default=None, help="keep the downloaded wheel here for reuse")
    args = parser.parse_args(argv)

    if detectron2_importable() and not args.force:
        print("[install_detectron2] detectron2 is already importable; leaving it alone (use --force to replace)")
        return 0
    try:
        if importlib.util.find_spec("torch") is None:
            raise InstallError("torch is not installed in this environment; install torch and torchvision first")
        if args.from_source:
            install_from_source()
        else:
            install_from_registry(args.cache_dir)
        install_runtime_requirements()
        verify()
    except InstallError as e:
        print(f"[install_detectron2] ERROR: {e}", file=sys.stderr)
        return 1
    print("[install_detectron2] detectron2 installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
