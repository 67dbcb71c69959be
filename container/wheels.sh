#!/usr/bin/env bash
# The wheels of the serving image, gathered on this machine so the image build itself needs
# no network: every package of container/requirements.txt at the version constraints.txt
# pins, for CPython 3.11 on Linux (the image's Python, whatever this machine runs), and
# shiftlab's own wheel.
#   container/wheels.sh [DIR]          # default build/wheels; ARCH=aarch64 for Arm images
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/wheels}
arch=${ARCH:-x86_64}
python=${PYTHON:-python3}
"$python" -m pip --version >/dev/null 2>&1 || {
  echo "container/wheels.sh: $python has no pip; install it (Debian: apt-get install python3-pip) or set PYTHON=<a python with pip>." >&2
  exit 2
}
rm -rf "$out" && mkdir -p "$out"
pip=("$python" -m pip --disable-pip-version-check)
# antlr4-python3-runtime (Hydra's parser) is published as source only; it is pure Python,
# so a wheel built here runs on any platform
"${pip[@]}" wheel --quiet --no-deps -c constraints.txt -w "$out" antlr4-python3-runtime
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux2010 manylinux1; do
  platforms+=(--platform "${tag}_${arch}")
done
"${pip[@]}" download --quiet --only-binary=:all: --python-version 3.11 --implementation cp \
  --abi cp311 "${platforms[@]}" --find-links "$out" -c constraints.txt \
  -r container/requirements.txt -d "$out"
"${pip[@]}" wheel --quiet --no-deps -w "$out" .
cp container/requirements.txt "$out/requirements.txt"
echo "$(ls "$out"/*.whl | wc -l) wheels, $(du -sh "$out" | cut -f1), in $out"
