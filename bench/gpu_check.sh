#!/usr/bin/env bash
# The GPU check, ready for whenever a machine with a CUDA GPU is lent: installs nothing, runs
# in under 5 minutes, prints its figures (see bench/gpu_check.py) and keeps them in
# ${OUT:-.}/gpu_check.json. Run from a checkout with the project installed:
#     bash bench/gpu_check.sh                 # PYTHON=... to choose the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONUNBUFFERED=1
exec timeout 290 "$PYTHON" bench/gpu_check.py --json "${OUT:-.}/gpu_check.json" "$@"
