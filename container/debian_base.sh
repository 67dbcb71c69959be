#!/usr/bin/env bash
# A base image for the serving image made without a registry: Debian bookworm's minimal
# system with its Python 3.11 (python3, python3-venv), bootstrapped by debootstrap from the
# Debian mirror apt uses, committed by buildah as localhost/shiftlab-base:bookworm.
#   container/debian_base.sh [TAG]          # root (debootstrap), buildah installed
set -euo pipefail
tag=${1:-localhost/shiftlab-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || {
    echo "container/debian_base.sh: $tool is not installed (Debian: apt-get install buildah debootstrap)." >&2
    exit 2
  }
done
if buildah inspect --type image "$tag" >/dev/null 2>&1; then
  echo "$tag exists"; exit 0
fi
root=$(mktemp -d /tmp/shiftlab-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,libgomp1 bookworm "$root/rootfs" \
  "$mirror" >"$root/debootstrap.log" 2>&1 || { tail -20 "$root/debootstrap.log" >&2; exit 1; }
rm -rf "$root"/rootfs/var/cache/apt/archives/*.deb "$root"/rootfs/var/lib/apt/lists/*
container=$(buildah from scratch)
buildah copy --quiet "$container" "$root/rootfs" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd /bin/bash "$container"
buildah commit --quiet --rm "$container" "$tag" >/dev/null
echo "$tag built from Debian bookworm ($mirror)"
