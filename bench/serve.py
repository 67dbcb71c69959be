"""``shiftlab serve`` under load: requests per second and p50/p99 latency at 1 and 8
concurrent clients, with and without batching, beside the bare model call and ``shiftlab
predict`` on the same files.

    .venv/bin/python bench/serve.py                       # ~3 minutes on 2 cores
    .venv/bin/python bench/serve.py --requests 400

A segmentation model (the shapes experiment's SMP U-Net, trained one epoch) is exported to
ONNX and served from it. Each configuration is a fresh ``shiftlab serve`` process:
``server.max_batch=8`` (batching) or ``1`` (none), and batching with ``server.workers=2``.
Clients post 64×64 PNGs over HTTP keep-alive. The bare model call is the ONNX backend on
one image, in this process; the service's overhead is its p50 latency at one client minus
that.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, write_json

SHIFTLAB = str(Path(sys.executable).with_name("shiftlab"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model(folder: Path) -> Path:
    subprocess.run([SHIFTLAB, "train", "experiment=segmentation_shapes", "data.num_train=32",
                    "data.num_val=8", "data.num_test=8", "trainer.max_epochs=1",
                    "trainer.enable_progress_bar=false", "task_name=bench"],
                   cwd=folder, check=True, capture_output=True)  # fmt: skip
    (run,) = (folder / "outputs" / "bench" / "runs").iterdir()
    checkpoint = run / "checkpoints" / "last.ckpt"
    subprocess.run([SHIFTLAB, "export", f"ckpt_path={checkpoint}"], cwd=folder, check=True,
                   capture_output=True)  # fmt: skip
    return checkpoint.with_suffix(".onnx")


def make_images(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    from shiftlab.data.synthetic_shapes import ShapesSynthesis

    folder.mkdir()
    paths = []
    for i in range(count):
        image, _ = ShapesSynthesis(size=64).sample(5, i)
        paths.append(folder / f"{i}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def load(url: str, images: list[Path], clients: int, requests: int) -> dict[str, float]:
    import httpx

    payloads = [(p.name, p.read_bytes()) for p in images]

    def client(k: int) -> list[float]:
        times = []
        with httpx.Client(timeout=60) as session:
            for i in range(k, requests, clients):
                started = time.perf_counter()
                response = session.post(
                    f"{url}/predict", files={"file": payloads[i % len(payloads)]}
                )
                response.raise_for_status()
                times.append(time.perf_counter() - started)
        return times

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        latencies = [t for ts in pool.map(client, range(clients)) for t in ts]
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_s": len(latencies) / seconds,
        "p50_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def serve(model: Path, max_batch: int, workers: int = 1) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    process = subprocess.Popen([SHIFTLAB, "serve", f"ckpt_path={model}", f"server.port={port}",
                                f"server.max_batch={max_batch}", f"server.workers={workers}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).json().get("status") == "ready":
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the service did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = make_model(folder)
        images = make_images(folder / "images", 32)

        from shiftlab.inference.backends import open_model
        from shiftlab.inference.inputs import AnySizeImageFiles

        backend = open_model(model)
        reader = AnySizeImageFiles("segmentation", backend.stored.config, backend.stored.data_facts)
        x = reader.read(images[0])[0][None]
        for _ in range(5):
            backend(x)
        calls = []
        for _ in range(50):
            started = time.perf_counter()
            backend(x)
            calls.append(time.perf_counter() - started)
        bare_ms = 1e3 * statistics.median(calls)

        started = time.perf_counter()
        predicted = folder / "predicted"
        command = [SHIFTLAB, "predict", f"ckpt_path={model}", f"input={folder / 'images'}",
                   f"output_dir={predicted}"]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        predict_ms = 1e3 * (time.perf_counter() - started) / len(images)

        results = {}
        variants = (("batching (max_batch=8)", 8, 1), ("no batching (max_batch=1)", 1, 1),
                    ("batching, 2 worker processes", 8, 2))  # fmt: skip
        for name, max_batch, workers in variants:
            process, url = serve(model, max_batch, workers)
            try:
                load(url, images, 1, 20)  # warm-up
                for clients in (1, 8):
                    results[f"{name}, {clients} client(s)"] = load(url, images, clients,
                                                                   args.requests)  # fmt: skip
                    print(f"  {name}, {clients}: {results[f'{name}, {clients} client(s)']}",
                          flush=True)  # fmt: skip
            finally:
                process.terminate()
                process.wait()
    print(machine())
    print(f"64×64 PNG segmentation (SMP U-Net, ONNX), {args.requests} requests per row")
    print("| service | requests/s | p50 (ms) | p99 (ms) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['requests_per_s']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
    one = results["batching (max_batch=8), 1 client(s)"]
    eight = results["batching (max_batch=8), 8 client(s)"]
    print(f"\nbare model call on one image: {bare_ms:.2f} ms; service overhead at one client "
          f"(p50 − bare): {one['p50_ms'] - bare_ms:.2f} ms (target < 2 ms)")  # fmt: skip
    scaling = eight["requests_per_s"] / one["requests_per_s"]
    print(f"8 clients / 1 client with batching: {scaling:.2f}× the requests per second "
          "(target ≥ 2×)")  # fmt: skip
    print(f"shiftlab predict on the same files: {predict_ms:.1f} ms per file, start-up included")
    write_json(args.json, {"machine": machine(), "bare_ms": bare_ms, "predict_ms": predict_ms,
                           "results": results})  # fmt: skip


if __name__ == "__main__":
    main()
