"""Input pipelines: images per second per core of the segmentation and classification
pipelines (the data modules' own datasets, albumentations transforms and data loaders) on
256×256 images, read from files and from memory.

    .venv/bin/python bench/data_pipeline.py            # 3 rounds, ~1 minute on 2 cores
    .venv/bin/python bench/data_pipeline.py --images 512 --rounds 5 --json data.json

The process is pinned to one core (``os.sched_setaffinity``) with one torch and one OpenCV
thread, and the loader runs in it (``num_workers=0``), so images per second are images per
second per core. Files are written once to a temporary folder: 256×256 RGB PNG images with
index-PNG masks (``data=segmentation_folders``, transforms hflip + normalize) and 256×256
JPEG images in class folders (``data=image_folder``, resize + hflip + normalize). "From
memory" reads each file once before timing, leaving decoding out: what the transforms,
tensor conversion and collation cost. "Via the decoded cache" is ``data.decoded_cache=true``:
the files decoded once at set-up (untimed) into a memory-mapped file, which every pass then
reads (an epoch after the first). Each pipeline runs both ways: uint8 batches normalised
on the device (``data.normalize_on_device=true``, the default; the device is this core, so
the normalisation is in the figure) and float32 batches normalised in the loader (``false``).
The process keeps freed memory for reuse as a shiftlab run does (``keep_freed_memory``, see
``shiftlab.run.allocator``); a second run, in a child process, measures the same with the
system allocator as it starts, where every fresh batch tensor (the float32 images above all)
pays a page fault per 4 kB the first time it is written.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from _common import compose_train, interleaved, machine, median_spread, run_quiet, write_json
from PIL import Image

from shiftlab.run.allocator import keep_freed_memory
from shiftlab.run.building import build

SIZE = 256


def write_images(root: Path, count: int) -> tuple[Path, Path]:
    """Random-shape images (PNG + index masks, and JPEG in 4 class folders)."""
    rng = np.random.default_rng(0)
    seg, cls = root / "segmentation", root / "classification"
    for folder in ("train", "trainannot"):
        (seg / folder).mkdir(parents=True)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for i in range(count):
        image = rng.integers(0, 64, (SIZE, SIZE, 3), dtype=np.uint8)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        for label in (1, 2, 3):
            cy, cx, r = [*rng.integers(30, SIZE - 30, 2).tolist(), int(rng.integers(10, 30))]
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            mask[inside] = label
            image[inside] = rng.integers(64, 255, 3, dtype=np.uint8)
        Image.fromarray(image).save(seg / "train" / f"{i:05d}.png")
        Image.fromarray(mask).save(seg / "trainannot" / f"{i:05d}.png")
        folder = cls / f"class_{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:05d}.jpg", quality=90)
    return seg, cls


def data_module(overrides: list[str], output_dir: str):
    cfg = compose_train([*overrides, f"paths.output_dir={output_dir}"])
    data = build(cfg.data, "data")
    data.setup("fit")
    return data


def in_memory(data) -> None:
    """Decode every file once, so that the pipeline reads arrays from memory."""
    cache: dict[int, tuple] = {}
    read = data.read

    def cached(index: int):
        if index not in cache:
            cache[index] = read(index)
        return cache[index]

    dataset = data.datasets["train"]
    dataset.read = cached
    for i in range(len(dataset)):
        cached(dataset.indices[i])


def images_per_second(data, finish: bool = True) -> Callable[[], float]:
    """One pass over the training loader, each batch finished as the trainer finishes it on
    its device (here the CPU, the same core): with ``data.normalize_on_device`` that is where
    the uint8 batch is normalised, so the figure includes that cost. ``finish=False`` leaves
    the batch as the loader gives it: the loader's own rate, what feeds a GPU (where the
    normalisation is a few microseconds of device time)."""

    def run() -> float:
        loader = data.train_dataloader()
        started, count = time.perf_counter(), 0
        for batch in loader:
            count += (data.on_device(batch) if finish else batch)["image"].shape[0]
        return count / (time.perf_counter() - started)

    return run


def profiled(run: Callable[[], float], rows: int = 6) -> tuple[float, list[tuple]]:
    """One pass under cProfile: its rate and the functions with the most own time."""
    profile = cProfile.Profile()
    profile.enable()
    rate = run()
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(v[2] for v in stats.values())
    images = rate * total  # images in the pass, near enough (the rate is per profiled second)
    top = sorted(stats.items(), key=lambda item: -item[1][2])[:rows]
    return rate, [
        (v[2] / total, v[2] * 1e3 / images, f"{k[0].split('site-packages/')[-1]}:{k[1]} {k[2]}")
        for k, v in top
    ]


def with_system_allocator(args: argparse.Namespace) -> dict[str, list[float]]:
    """The same measurement in a child process that leaves glibc's allocator as it starts
    (freed blocks of 128 kB and more go back to the system, new ones are faulted in)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "system.json"
        cmd = [sys.executable, __file__, "--images", str(args.images), "--rounds",
               str(args.rounds), "--json", str(out), "--system-allocator"]  # fmt: skip
        run_quiet(cmd)
        return json.loads(out.read_text())["samples"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument(
        "--system-allocator",
        action="store_true",
        help="leave glibc's allocator as it starts (no keep_freed_memory), and no second run",
    )
    args = parser.parse_args()
    keep_freed_memory(not args.system_allocator)  # as a shiftlab run does (keep_freed_memory)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    torch.set_num_threads(1)
    cv2.setNumThreads(1)

    with tempfile.TemporaryDirectory() as tmp:
        seg, cls = write_images(Path(tmp), args.images)
        common = ["data.val_fraction=0.05", "data.test_fraction=0.05", "data.num_workers=0"]
        segmentation = [
            "task=segmentation",
            "model=smp_unet",
            "data=segmentation_folders",
            f"data.root={seg}",
            "data.num_classes=4",
            "data.batch_size=16",
            *common,
        ]
        classification = ["task=classification", "model=fashion_cnn", "data=image_folder",
                          f"data.root={cls}", f"data.image_size=[{SIZE},{SIZE}]",
                          "data.batch_size=64", *common]  # fmt: skip
        modules = {}
        for where, uint8 in (("uint8, normalised on the device", "true"),
                             ("float32, normalised in the loader", "false")):  # fmt: skip
            on_device = f"data.normalize_on_device={uint8}"
            for name, overrides, source in (
                ("segmentation", segmentation, "PNG files"),
                ("classification", classification, "JPEG files"),
            ):
                for kind in (source, "memory"):
                    key = f"{name}, from {kind}, {where}"
                    folder = f"{tmp}/{len(modules)}"
                    modules[key] = data_module([*overrides, on_device], folder)
        # the decoded cache (data.decoded_cache=true): files decoded once at set-up into a
        # memory-mapped file in this run's temporary folder, every epoch then reads from it
        os.environ["SHIFTLAB_CACHE_DIR"] = f"{tmp}/cache"
        for name, overrides, source in (
            ("segmentation", segmentation, "PNG files"),
            ("classification", classification, "JPEG files"),
        ):
            key = f"{name}, from {source} via the decoded cache, uint8, normalised on the device"
            modules[key] = data_module([*overrides, "data.decoded_cache=true"], f"{tmp}/{key[:5]}c")
        for name, data in modules.items():
            if "memory" in name:
                in_memory(data)
        variants = {k: images_per_second(v) for k, v in modules.items()}
        for k, v in list(modules.items()):
            if "uint8" in k:
                variants[k.replace("normalised on the device", "the loader alone")] = (
                    images_per_second(v, finish=False)
                )
        samples = interleaved(variants, args.rounds)
        profiles = {
            k: profiled(images_per_second(v))
            for k, v in modules.items()
            if "memory" in k and "uint8" in k
        }

    system = {} if args.system_allocator else with_system_allocator(args)
    print(machine())
    print(f"one core, {args.images} images of {SIZE}×{SIZE}, {args.rounds} interleaved rounds")
    allocator = " | system allocator, median (range)" if system else ""
    print(f"| pipeline | images/s/core, median | range{allocator} | target |")
    print("|---|---|---|" + ("---|" if system else "") + "---|")
    for name, values in samples.items():
        mid, low, high = median_spread(values)
        other = ""
        if system:
            k_mid, k_low, k_high = median_spread(system[name])
            other = f" | {k_mid:,.0f} ({k_low:,.0f}–{k_high:,.0f})"
        print(f"| {name} | {mid:,.0f} | {low:,.0f}–{high:,.0f}{other} | ≥ 3,000 |")
    for name, (rate, top) in profiles.items():
        print(f"\ncProfile of one pass, {name} ({rate:,.0f} images/s under the profiler)")
        print("| share of the time | own ms per image | function |")
        print("|---|---|---|")
        for share, per_image, function in top:
            print(f"| {share:.0%} | {per_image:.3f} | `{function}` |")
    if system:
        print(
            "\nFreed memory kept for reuse (keep_freed_memory, as in a shiftlab run) in the "
            "main columns; the system allocator's figures come from a child process."
        )
    payload = {"machine": machine(), "args": vars(args), "samples": samples}
    write_json(args.json, {**payload, "samples_system_allocator": system})


if __name__ == "__main__":
    main()
