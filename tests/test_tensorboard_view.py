"""What TensorBoard shows after a sweep over `model` and `optimizer.lr`: the HParams table
opens on the swept settings and the monitored metric (TensorBoard's own backend computes
the columns; its page shows the first five settings that differ, and the first five
metrics), the Custom Scalars tab on the monitored metric, losses together and each metric
beside its baseline; and the pages themselves in headless Chromium (screenshots kept)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import hparams_experiment, read_events, run_shiftlab
from tests.made_once import made_once
from tests.test_segmentation_cli import SMALL_SHAPES
from tests.test_sweeps_cli import only_sweep_dir

CHROMIUM = Path("/usr/bin/chromium")
SHOWN = 5  # what TensorBoard's HParams page ticks by default, of settings and of metrics


def run_sweep(workdir: Path) -> None:
    run_shiftlab("train", "-m", "experiment=segmentation_shapes", *SMALL_SHAPES,
                 "trainer.max_epochs=1", "model=smp_unet,smp_fpn", "optimizer.lr=1e-3,3e-3",
                 cwd=workdir)  # fmt: skip


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A 4-job sweep, run once for all workers."""
    return only_sweep_dir(made_once(tmp_path_factory, "tensorboard-sweep", run_sweep))


def default_hparams_view(log_dir: Path) -> tuple[list[str], list[str]]:
    """The settings and metrics TensorBoard's HParams page shows without a click, in order:
    its backend sorts settings that differ first, then by name; the page ticks the first
    five of each."""
    experiment = hparams_experiment(log_dir)
    settings = [h.name for h in experiment.hparam_infos if h.differs]
    metrics = [m.name.tag for m in experiment.metric_infos]
    return settings[:SHOWN], metrics[:SHOWN]


def test_hparams_open_on_the_swept_settings_and_the_monitored_metric(sweep):
    settings, metrics = default_hparams_view(sweep)
    assert settings[:2] == ["Override/model", "Override/optimizer.lr"]
    assert "choice/model" in settings
    assert metrics[0] == "Monitored/val/iou (max)"


def test_the_custom_scalars_layout_puts_the_monitored_metric_first(sweep):
    from tensorboard.plugins.custom_scalar import layout_pb2

    events = read_events(sweep / "0" / "tensorboard")
    (tensor,) = events.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(tensor.tensor_proto.string_val[0])
    categories = [c.title for c in layout.category]
    assert categories == ["Monitored", "Loss", "Validation against baseline",
                          "Test against baseline", "Per class"]  # fmt: skip
    charts = {c.title: {ch.title: list(ch.multiline.tag) for ch in c.chart}
              for c in layout.category}  # fmt: skip
    assert charts["Monitored"] == {"val/iou (max)": ["^val/iou$", "^val/iou_baseline$"]}
    assert charts["Loss"]["train and validation loss"] == ["^train/loss_epoch$", "^val/loss$"]
    assert charts["Validation against baseline"]["val/dice"] == ["^val/dice$",
                                                                 "^val/dice_baseline$"]  # fmt: skip
    assert "test/iou" in charts["Test against baseline"]
    assert charts["Per class"]["val/iou per class"] == ["^val/iou/"]
    scalars = set(events.Tags()["scalars"])
    for chart in charts["Validation against baseline"]:
        assert chart in scalars  # every chart has its data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_tensorboards_pages_in_a_browser(sweep, tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    board = subprocess.Popen(
        [str(Path(sys.executable).with_name("tensorboard")), "--logdir", str(sweep),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=["--no-sandbox"])  # fmt: skip
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/#hparams")
            header = page.get_by_text("Monitored/val/iou (max)").first
            header.wait_for(timeout=60_000)
            for column in ("Override/model", "Override/optimizer.lr"):
                assert page.get_by_text(column).first.is_visible()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(tmp_path / "hparams.png"))
            page.goto(f"http://127.0.0.1:{port}/#custom_scalars")
            page.get_by_text("train and validation loss").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(tmp_path / "custom_scalars.png"))
            page.goto(f"http://127.0.0.1:{port}/#timeseries")
            page.get_by_text("Monitored").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(tmp_path / "timeseries.png"))
            browser.close()
    finally:
        board.terminate()
        board.wait(timeout=30)
    for name in ("hparams.png", "custom_scalars.png", "timeseries.png"):
        assert (tmp_path / name).stat().st_size > 10_000
