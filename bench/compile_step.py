"""``compile=default`` against eager: the training step time of the three benchmark networks
compiled with ``torch.compile`` over the same networks run eagerly, and what compiling costs.

    .venv/bin/python bench/compile_step.py                 # 5 rounds; compiling takes minutes
    .venv/bin/python bench/compile_step.py --cases small_cnn --rounds 3

Each case builds its network, batch, loss and optimizer from the config ``shiftlab train``
composes for it (the cases of bench/overhead.py, with fixed shapes so that one graph serves
every step), once eager and once compiled in place (``nn.Module.compile``, as the task does),
then times the two in interleaved rounds of steps in one process. The figure is the ratio of
step times compiled / eager, median of rounds (range); below 1 the compiled network is faster.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import torch
from _common import compose_train, machine, ratio_figure, write_json
from hand_loop import loss_function

from shiftlab.run.allocator import keep_freed_memory
from shiftlab.run.building import build, task_from_config

CASES: dict[str, dict] = {
    "smp_unet": {
        "title": "SMP U-Net (resnet18), 8×1×128×128",
        "overrides": ["task=segmentation", "model=smp_unet", "data=shapes_grey", "data.size=128",
                      "data.batch_size=8", "data.num_train=16"],
    },
    "tsconv_unet": {
        "title": "TSConv U-Net, 16×1×256×96",
        "overrides": ["data.min_frames=96", "data.max_frames=96", "data.num_train=32"],
    },
    "small_cnn": {
        "title": "small CNN (fashion_cnn), 256×1×28×28",
        "overrides": ["experiment=fashion_mnist_cnn", "data.batch_size=256"],
    },
}  # fmt: skip


def case_steps(overrides: list[str]) -> tuple[Callable[[], None], Callable[[], None], float]:
    """An eager and a compiled training step on one fixed batch, and the compile seconds."""
    torch.manual_seed(0)
    cfg = compose_train(["seed=0", *overrides])
    data = build(cfg.data, "data")
    data.setup("fit")
    facts = data.network_facts() if hasattr(data, "network_facts") else {}
    # finished as the trainer finishes it on the device (image data: uint8 → normalised)
    batch = data.on_after_batch_transfer(next(iter(data.train_dataloader())), 0)
    steps = []
    compile_seconds = 0.0
    task = task_from_config(cfg, facts)
    for compiled in (False, True):
        task_copy = copy.deepcopy(task)
        if compiled:
            task_copy.net.compile()
        loss = loss_function(task_copy, data)
        optimizer = build(cfg.optimizer, "optimizer")(params=task_copy.net.parameters())

        def step(loss=loss, optimizer=optimizer) -> None:
            optimizer.zero_grad(set_to_none=True)
            loss(batch).backward()
            optimizer.step()

        started = time.perf_counter()
        step()  # the first step compiles
        if compiled:
            compile_seconds = time.perf_counter() - started
        steps.append(step)
    return steps[0], steps[1], compile_seconds


def timed(step: Callable[[], None], repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="steps per timing")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    keep_freed_memory()  # as a shiftlab run does
    results = {}
    for name in args.cases:
        eager, compiled, compile_seconds = case_steps(CASES[name]["overrides"])
        samples: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(args.rounds):
            samples["eager"].append(timed(eager, args.repeats))
            samples["compiled"].append(timed(compiled, args.repeats))
        results[name] = {"compile_seconds": compile_seconds, **samples}
        print(f"{name}: compiled in {compile_seconds:.0f} s", flush=True)
    print(machine())
    print(f"{args.rounds} interleaved rounds × {args.repeats} steps, one fixed batch per case")
    print("| case | eager (ms/step) | compiled (ms/step) | compiled / eager, median (range) "
          "| first step (compiling) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, result in results.items():
        eager_ms = sorted(result["eager"])[len(result["eager"]) // 2] * 1e3
        compiled_ms = sorted(result["compiled"])[len(result["compiled"]) // 2] * 1e3
        print(f"| {CASES[name]['title']} | {eager_ms:.1f} | {compiled_ms:.1f} | "
              f"{ratio_figure(result['compiled'], result['eager'])} | "
              f"{result['compile_seconds']:.0f} s |")  # fmt: skip
    write_json(args.json, {"machine": machine(), "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
