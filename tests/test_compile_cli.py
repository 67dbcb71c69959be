"""compile=default: the default experiment's network through torch.compile learns as eager.

One multirun trains the default experiment twice in one process, eager then compiled, from
the same seed; the spectrograms all have 64 frames and every batch 16 items so that Inductor
compiles one training graph and one evaluation graph (each new shape would cost another
compile). The U-Net is two levels deep instead of five (8 TSConv layers, not 20): compiling
the full one takes over three minutes on a 2-core CPU, and every layer kind and path of it
(stem, TSConv blocks down and up, skips, head) is in the shallow one.
"""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import run_shiftlab

SAME_SHAPES = [
    "data.min_frames=64", "data.max_frames=64", "data.eval_batch_size=16", "model.channels=[4,4,8]",
    "trainer.max_epochs=2", "+trainer.limit_train_batches=4", "+trainer.limit_val_batches=2",
    "+trainer.limit_test_batches=2", "trainer.enable_progress_bar=false", "logger=none",
]  # fmt: skip


@pytest.mark.slow
def test_compiled_network_trains_to_the_eager_metrics(workdir):
    proc = run_shiftlab("train", "-m", "compile=none,default", *SAME_SHAPES, cwd=workdir,
                        timeout=900)  # fmt: skip
    output = proc.stdout + proc.stderr
    reports = [line for line in output.splitlines() if "torch.compile (mode=default):" in line]
    assert len(reports) == 1, output[-3000:]  # once, for the compiled job only
    assert " s compiling the network" in reports[0] and "first training step" in reports[0]

    sweep = next((workdir / "outputs" / "train" / "multiruns").iterdir())
    eager, compiled = (json.loads((sweep / job / "metrics.json").read_text()) for job in "01")
    assert "enabled: true" in (sweep / "1" / "config.yaml").read_text()
    for key in ("train/loss", "val/loss", "val/lsd", "test/lsd", "test/mse"):
        assert compiled["metrics"][key] == pytest.approx(eager["metrics"][key], rel=1e-3), key
    assert compiled["global_step"] == eager["global_step"] == 8
    # the checkpoint keeps the network's own parameter names (no _orig_mod. prefix)
    state = torch.load(compiled["best_checkpoint"], map_location="cpu", weights_only=False)
    assert state["state_dict"] and not any("_orig_mod" in k for k in state["state_dict"])


def test_an_unknown_compile_mode_is_refused_with_the_modes_that_exist():
    from omegaconf import OmegaConf

    from shiftlab.errors import ConfigError
    from shiftlab.run.compiling import compile_network

    class Task:
        net = torch.nn.Linear(2, 2)

    options = OmegaConf.create({"enabled": True, "mode": "fastest"})
    with pytest.raises(ConfigError, match=r"compile.mode='fastest' is not a torch.compile mode"):
        compile_network(Task(), options)
    assert compile_network(Task(), OmegaConf.create({"enabled": False})) is None
