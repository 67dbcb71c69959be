"""``shiftlab serve`` under load: requests per second and p50/p99 latency at 1 and 8
concurrent clients, with and without batching, beside the bare model call and ``shiftlab
predict`` on the same files, for two models.

    .venv/bin/python bench/serve.py                       # 2-8 minutes on 2 cores
    .venv/bin/python bench/serve.py --requests 600 --rounds 5

A segmentation model (the shapes experiment's SMP U-Net on 64×64 images) and a small
classifier (the default layer classifier on 28×28 images), each trained one epoch, are
exported to ONNX and served by three ``shiftlab serve`` processes each:
``server.max_batch=8`` (batching), ``1`` (none), and batching with ``server.workers=2``. The
rows take turns, round by round; figures are medians over rounds. Clients post PNGs over
HTTP keep-alive as
pre-encoded requests (a load generator's own cost, like wrk's, stays small beside the
service's on the 2 cores they share). The bare model call is the ONNX session on one image,
in this process, with the service's settings. The service's overhead is, request by request
at one client, the latency the client sees minus the model call the service reports in its
``Server-Timing`` header (a model call that follows a pause is slower than back-to-back
calls in a loop, which keep the caches warm: both figures are printed).
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

import numpy as np
from _common import machine, write_json

SHIFTLAB = str(Path(sys.executable).with_name("shiftlab"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trained_and_exported(folder: Path, task_name: str, *overrides: str) -> Path:
    """A model trained briefly by ``shiftlab train`` and exported to ONNX."""
    subprocess.run([SHIFTLAB, "train", *overrides, "trainer.max_epochs=1",
                    "trainer.enable_progress_bar=false", f"task_name={task_name}"],
                   cwd=folder, check=True, capture_output=True)  # fmt: skip
    (run,) = (folder / "outputs" / task_name / "runs").iterdir()
    checkpoint = run / "checkpoints" / "last.ckpt"
    subprocess.run([SHIFTLAB, "export", f"ckpt_path={checkpoint}"], cwd=folder, check=True,
                   capture_output=True)  # fmt: skip
    return checkpoint.with_suffix(".onnx")


def shapes(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` PNGs of synthetic shapes, ``size`` pixels square."""
    from PIL import Image

    from shiftlab.data.synthetic_shapes import ShapesSynthesis

    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        image, _ = ShapesSynthesis(size=size).sample(5, i)
        paths.append(folder / f"{i}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def segmentation_model(folder: Path) -> tuple[Path, list[Path]]:
    """The shapes experiment's SMP U-Net, and 64×64 images for it."""
    settings = ["experiment=segmentation_shapes", "data.num_train=32", "data.num_val=8",
                "data.num_test=8"]  # fmt: skip
    model = trained_and_exported(folder, "segmentation", *settings)
    return model, shapes(folder / "segmentation_images", 32, 64)


def classification_model(folder: Path) -> tuple[Path, list[Path]]:
    """The default image classifier (a small CNN of layers) on 28×28 images in class
    folders, and 28×28 images for it."""
    from PIL import Image

    for k, name in enumerate(("dark", "mid", "light")):
        (folder / "classes" / name).mkdir(parents=True)
        for i in range(8):
            grey = np.full((28, 28, 3), 40 + 80 * k + i, dtype=np.uint8)
            Image.fromarray(grey).save(folder / "classes" / name / f"{i}.png")
    settings = ["data=image_folder", f"data.root={folder / 'classes'}", "data.image_size=[28,28]"]
    model = trained_and_exported(folder, "classification", *settings)
    return model, shapes(folder / "classification_images", 32, 28)


MODELS = {
    "64×64 PNG segmentation (SMP U-Net)": segmentation_model,
    "28×28 PNG classification (layer classifier)": classification_model,
}


def multipart_request(name: str, data: bytes) -> bytes:
    """One whole ``POST /predict`` (headers and multipart body), encoded once: the load
    clients only send bytes and read answers, so their own cost stays far below the
    service's (on 2 cores they share the machine with it)."""
    boundary = b"shiftlab-bench-boundary"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="'
            + name.encode() + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data
            + b"\r\n--" + boundary + b"--\r\n")  # fmt: skip
    head = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=" + boundary
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
    return head + body


def ask(stream, sock: socket.socket, request: bytes) -> tuple[float, int]:
    """Send one request over a kept-alive connection, read its answer, and return the model
    call's milliseconds and batch size from the answer's ``Server-Timing`` header."""
    sock.sendall(request)
    status = stream.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"the service answered {status!r}")
    length, model_ms, batch = 0, float("nan"), 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"server-timing":
            model_ms = float(value.split(b"model;dur=")[1].split(b";")[0].split(b",")[0])
            batch = int(value.split(b'desc="batch ')[1].split(b'"')[0])
    stream.read(length)
    return model_ms, batch


def load(port: int, requests_: list[bytes], clients: int, total: int) -> dict[str, float]:
    """``total`` requests from ``clients`` concurrent keep-alive connections."""

    def client(k: int) -> list[tuple[float, float, int]]:
        times = []
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stream = sock.makefile("rb")
            for i in range(k, total, clients):
                started = time.perf_counter()
                model_ms, batch = ask(stream, sock, requests_[i % len(requests_)])
                times.append((1e3 * (time.perf_counter() - started), model_ms, batch))
        return times

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        answered = [t for ts in pool.map(client, range(clients)) for t in ts]
    seconds = time.perf_counter() - started
    latencies = sorted(latency for latency, _, _ in answered)
    return {
        "requests_per_s": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
        # what the service adds to its model call, request by request
        "overhead_ms": statistics.median(latency - model for latency, model, _ in answered),
        "model_ms": statistics.median(model for _, model, _ in answered),
        "batch": statistics.mean(batch for _, _, batch in answered),
    }


def serve(model: Path, max_batch: int, workers: int = 1) -> tuple[subprocess.Popen, int]:
    import httpx

    port = free_port()
    process = subprocess.Popen([SHIFTLAB, "serve", f"ckpt_path={model}", f"server.port={port}",
                                f"server.max_batch={max_batch}", f"server.workers={workers}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).json().get("status") == "ready":
                return process, port
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the service did not start")


def bare_call_ms(model: Path, x, threads: int | None) -> float:
    """Median time of the model call alone on one input, in this process."""
    from shiftlab.inference.backends import open_model

    backend = open_model(model, threads)
    for _ in range(10):
        backend(x)
    calls = []
    for _ in range(100):
        started = time.perf_counter()
        backend(x)
        calls.append(time.perf_counter() - started)
    return 1e3 * statistics.median(calls)


def batched_ms_per_image(model: Path, x, batch: int) -> float:
    """The model's best time per image with both cores busy, in this process: ``batch``
    copies of ``x`` through one session on every core, and through one one-thread session
    per core side by side; the faster of the two (medians of 30 calls)."""
    import threading

    from shiftlab.inference.backends import open_model
    from shiftlab.machine import available_cores

    cores = available_cores()
    stack = x.repeat(batch, axis=0)

    def per_image(backend, calls: int = 30) -> float:
        for _ in range(3):
            backend(stack)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            backend(stack)
            times.append(time.perf_counter() - started)
        return 1e3 * statistics.median(times) / batch

    together = per_image(open_model(model, cores))
    sessions = [open_model(model, 1) for _ in range(cores)]
    each: list[float] = []
    runners = [threading.Thread(target=lambda b=b: each.append(per_image(b))) for b in sessions]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    side_by_side = 1 / sum(1 / ms for ms in each)  # images per ms add up
    return min(together, side_by_side)


VARIANTS = (("batching (max_batch=8)", 8, 1), ("no batching (max_batch=1)", 1, 1),
            ("batching, 2 worker processes", 8, 2))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per row and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    from shiftlab.inference.backends import open_model
    from shiftlab.machine import available_cores

    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for title, make in MODELS.items():
            print(title, flush=True)
            folder = Path(tmp) / title.split()[2]
            folder.mkdir()
            model, images = make(folder)
            requests_ = [multipart_request(p.name, p.read_bytes()) for p in images]
            backend = open_model(model)
            kind = backend.stored.task_kind
            reader = kind.input_format()(kind.name, backend.stored.config,
                                         backend.stored.data_facts)  # fmt: skip
            x = reader.read(images[0])[0][None]
            # the service's own session settings (its threads sleep between calls), and
            # onnxruntime's defaults (threads spin: fastest for back-to-back calls)
            bare_ms = bare_call_ms(model, x, available_cores())
            bare_default_ms = bare_call_ms(model, x, None)
            batched_ms = batched_ms_per_image(model, x, 8)

            started = time.perf_counter()
            command = [SHIFTLAB, "predict", f"ckpt_path={model}", f"input={images[0].parent}",
                       f"output_dir={folder / 'predicted'}"]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
            predict_ms = 1e3 * (time.perf_counter() - started) / len(images)

            # every service runs from the start (an idle one takes no CPU); the rows take
            # turns round by round, so a slow spell of the machine hits them all
            services = {name: serve(model, batch, workers) for name, batch, workers in VARIANTS}
            samples: dict[str, list[dict[str, float]]] = {}
            try:
                for _, port in services.values():
                    load(port, requests_, 8, 64)  # warm-up: every worker process answers
                for number in range(args.rounds):
                    for name, (_, port) in services.items():
                        for clients in (1, 8):
                            row = f"{name}, {clients} client{'s' if clients > 1 else ''}"
                            samples.setdefault(row, []).append(
                                load(port, requests_, clients, args.requests)
                            )
                            rate = samples[row][-1]["requests_per_s"]
                            print(f"  round {number + 1}/{args.rounds} {row}: {rate:.0f} req/s")
            finally:
                for process, _ in services.values():
                    process.terminate()
                    process.wait()
            figures[title] = {"bare_ms": bare_ms, "bare_default_ms": bare_default_ms,
                              "batched_ms": batched_ms, "predict_ms": predict_ms,
                              "samples": samples}  # fmt: skip
    print(machine())
    print(
        f"ONNX models; {args.requests} requests per row and round, medians of "
        f"{args.rounds} interleaved rounds"
    )
    for title, f in figures.items():
        report(title, f)
    write_json(args.json, {"machine": machine(), "models": figures})


def report(title: str, figures: dict) -> None:
    """The table of one model's rows, and its figures against the targets."""
    samples = figures["samples"]
    results = {row: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
               for row, rounds in samples.items()}  # fmt: skip
    print(f"\n| {title} | requests/s | p50 (ms) | p99 (ms) | model call (ms) | its batch | "
          "overhead (ms) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['requests_per_s']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
              f"| {r['model_ms']:.2f} | {r['batch']:.1f} | {r['overhead_ms']:.2f} |")  # fmt: skip
    one_name, eight_name = "batching (max_batch=8), 1 client", "batching (max_batch=8), 8 clients"
    scalings = [e["requests_per_s"] / o["requests_per_s"]
                for o, e in zip(samples[one_name], samples[eight_name], strict=True)]  # fmt: skip
    one = results[one_name]
    print(f"bare model call on one input, back to back in this process: "
          f"{figures['bare_ms']:.2f} ms with the service's session settings "
          f"({figures['bare_default_ms']:.2f} ms with onnxruntime's spinning defaults); "
          f"inside the service, one request at a time: {one['model_ms']:.2f} ms")  # fmt: skip
    print(f"service overhead at one client, per request (latency − its model call): "
          f"{one['overhead_ms']:.2f} ms (target < 2 ms)")  # fmt: skip
    print(f"8 clients / 1 client with batching: {statistics.median(scalings):.2f}× the requests "
          f"per second (rounds {min(scalings):.2f}–{max(scalings):.2f}; target ≥ 2×)")  # fmt: skip
    # at one client a request takes the batch-1 call m1 (as the service sees it) plus the
    # service's work o; at eight both cores are busy and a request costs at least m8 (the
    # model's best per-image time on both cores) plus o shared by the two: the ratio is at
    # most (m1 + o) / (m8 + o / 2)
    m1, m8, o = one["model_ms"], figures["batched_ms"], one["overhead_ms"]
    print(f"the model alone at batch 8 with both cores busy: {m8:.2f} ms per image, against "
          f"{m1:.2f} ms for one image in the service (m1): 8 clients / 1 client can reach at most "
          f"(m1 + o) / (m8 + o/2) = {(m1 + o) / (m8 + o / 2):.2f}× with this model on these "
          f"cores (2× needs m1 ≥ 2·m8)")  # fmt: skip
    print(f"shiftlab predict on the same files: {figures['predict_ms']:.1f} ms per file, "
          "start-up included")  # fmt: skip


if __name__ == "__main__":
    main()
