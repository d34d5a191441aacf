#!/usr/bin/env bash
# Create or reuse the project's virtual environment and install everything slowfast_vos needs:
# torch + torchvision, detectron2 (tools/install_detectron2.py) and the package itself (editable, dev extras).
# Idempotent: a second run checks what is there and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || { echo "error: slowfast_vos needs Python >= 3.10 (set PYTHON=python3.x)" >&2; exit 1; }
  echo "[setup] creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip wheel 'setuptools<81'
fi

if ! "$PY" -c 'import torch, torchvision' 2>/dev/null; then
  echo "[setup] installing torch and torchvision"
  "$PY" -m pip install -q 'torch>=2.1' 'torchvision>=0.16'
fi

"$PY" tools/install_detectron2.py --cache-dir .cache/wheels

stamp="$VENV/.slowfast_vos-setup"
want="$(cat setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$PY" -c 'import slowfast_vos' 2>/dev/null; then
  echo "[setup] installing slowfast_vos (editable, with dev extras)"
  "$PY" -m pip install -q --no-build-isolation -e '.[dev]'
  echo "$want" > "$stamp"
fi
echo "[setup] environment ready: $VENV"
