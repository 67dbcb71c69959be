#!/usr/bin/env bash
# The serving image, checked end to end with no registry: a Debian base bootstrapped here
# (container/debian_base.sh), the image built from it by buildah (container/build.sh), a small
# segmentation model trained and exported on this machine, and the container serving it:
# /health ready, /info naming the model, /predict answering with the very bytes `shiftlab
# predict` writes as the mask, no torch in the image, and a graceful stop on SIGTERM.
# .ci/run runs it when buildah and debootstrap are installed; about 3 minutes.
#   container/check.sh          # as root, after make setup (uses .venv to train and compare)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
started=$(date +%s)
work=$(mktemp -d /tmp/shiftlab-image-check.XXXXXX)
# a private image store (vfs works on any file system, inside containers too), removed after
cat >"$work/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
CONF
export CONTAINERS_STORAGE_CONF=$work/storage.conf BUILDAH_ISOLATION=chroot
container=""
cleanup() {
  [ -n "$container" ] && buildah rm "$container" >/dev/null 2>&1 || true
  buildah rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "[$(($(date +%s) - started)) s] $*"; }

make_model() {
  shiftlab=$repo/.venv/bin/shiftlab
  (cd "$work" && "$shiftlab" train experiment=segmentation_shapes data.num_train=16 data.num_val=4 \
    data.num_test=4 trainer.max_epochs=1 trainer.enable_progress_bar=false task_name=image \
    >train.log 2>&1) || { tail -20 "$work/train.log"; exit 1; }
  checkpoint=$(ls "$work"/outputs/image/runs/*/checkpoints/last.ckpt)
  "$shiftlab" export ckpt_path="$checkpoint" >"$work/export.log" 2>&1
  model=${checkpoint%.ckpt}.onnx
  mkdir -p "$work/images"
  .venv/bin/python -c "
from PIL import Image
from shiftlab.data.synthetic_shapes import ShapesSynthesis
for i in range(3):
    image, _ = ShapesSynthesis(size=64).sample(5, 100 + i)
    Image.fromarray(image).save(f'$work/images/shape{i}.png')
"
  "$shiftlab" predict ckpt_path="$model" input="$work/images" output_dir="$work/predicted" \
    >"$work/predict.log" 2>&1
}

step "a model to serve (trained for one epoch, exported, shiftlab predict's masks), meanwhile:"
make_model >"$work/model.log" 2>&1 &
modelling=$!
step "base image from Debian packages (debootstrap)"
container/debian_base.sh localhost/shiftlab-base:bookworm
step "serving image (buildah)"
BASE=localhost/shiftlab-base:bookworm TAG=localhost/shiftlab-serve ENGINE=buildah \
  PYTHON=.venv/bin/python container/build.sh | grep -v "^WARNING: Location" || true
buildah inspect --type image localhost/shiftlab-serve >/dev/null

wait $modelling || { cat "$work/model.log"; exit 1; }
model=$(ls "$work"/outputs/image/runs/*/checkpoints/last.onnx)

step "no torch in the image"
container=$(buildah from localhost/shiftlab-serve)
buildah run "$container" -- python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None or u.find_spec('lightning') is not None)" \
  || { echo "torch or lightning is installed in the serving image" >&2; exit 1; }

step "the container serving the model"
port=$(.venv/bin/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
entrypoint=$(buildah inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' localhost/shiftlab-serve)
# the image's own entrypoint (ckpt_path=/model/model.onnx on every interface), on a free port
# shellcheck disable=SC2086
buildah run --network host --volume "$model:/model/model.onnx:ro" "$container" -- \
  $entrypoint server.port="$port" >"$work/serve.log" 2>&1 &
runner=$!
url=http://127.0.0.1:$port
for _ in $(seq 120); do
  curl -sf "$url/health" 2>/dev/null | grep -q ready && break
  kill -0 $runner 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.5
done
curl -sf "$url/health" | grep -q ready || { cat "$work/serve.log"; echo "not ready" >&2; exit 1; }
curl -sf "$url/info" | grep -q '"kind":"segmentation"'
for i in 0 1 2; do
  curl -sf -F "file=@$work/images/shape$i.png" "$url/predict" -o "$work/served$i.png"
  cmp "$work/served$i.png" "$work/predicted/shape${i}_mask.png" \
    || { echo "shape$i: the container's mask differs from shiftlab predict's" >&2; exit 1; }
done
status=$(curl -s -o /dev/null -w '%{http_code}' -F "file=@$work/train.log;filename=notes.txt" "$url/predict")
[ "$status" = 415 ] || { echo "a text file got $status, not 415" >&2; exit 1; }

step "graceful stop on SIGTERM"
# the service's own process (not buildah's, whose command line names the port too)
pkill -TERM -f "^/opt/shiftlab/bin/python.*server.port=$port" || true
wait $runner || true
grep -q "Finished server process" "$work/serve.log" || { cat "$work/serve.log"; exit 1; }
size=$(buildah images --format '{{.Size}}' localhost/shiftlab-serve)
step "serving image OK: $size, /health, /info, 3 masks identical to shiftlab predict's, 415 for a text file, graceful stop"
