#!/usr/bin/env bash
# Build the serving image (Containerfile) with podman, docker or buildah, whichever is
# installed and working; its wheels are gathered first (container/wheels.sh).
#   container/build.sh                    # or: make image
#   BASE=localhost/shiftlab-base:bookworm TAG=shiftlab-serve ENGINE=buildah container/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
base=${BASE:-docker.io/library/python:3.11-slim}
tag=${TAG:-shiftlab-serve}
engine=${ENGINE:-}
if [ -z "$engine" ]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker
  elif command -v buildah >/dev/null; then engine=buildah
  else
    echo "container/build.sh: no podman, docker (with its daemon running) or buildah here; install one (Debian: apt-get install podman, or buildah)." >&2
    exit 2
  fi
fi
container/wheels.sh build/wheels
echo "building $tag from $base with $engine"
if [ "$engine" = buildah ]; then
  # chroot isolation needs no user namespaces: it works inside containers and CI machines
  BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot} buildah build --quiet \
    --build-arg BASE="$base" -t "$tag" -f Containerfile .
else
  "$engine" build --build-arg BASE="$base" -t "$tag" -f Containerfile .
fi
runner=$engine; [ "$engine" = buildah ] && runner=podman
echo "built $tag; serve a model with: $runner run --rm -p 8000:8000 -v \"\$PWD/model.onnx:/model/model.onnx:ro\" $tag"
