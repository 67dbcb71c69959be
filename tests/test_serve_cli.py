"""``shiftlab serve`` as a user runs it: a segmentation and a classification model exported
to ONNX, served without torch; concurrent requests answered (masks byte-identical to
``shiftlab predict``'s), malformed requests answered 4xx with a JSON error while the service
keeps serving, and the page and ``/info``."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_shiftlab, shiftlab_executable
from tests.helpers import write_class_folders
from tests.made_once import made_once
from tests.test_segmentation_cli import SMALL_SHAPES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVING_REQUIREMENTS = Path(__file__).parents[1] / "container" / "requirements.txt"


def packages_outside_the_serving_image() -> list[str]:
    """Top-level modules of every installed distribution the serving image does not hold:
    those of ``container/requirements.txt`` and everything they require, found from the
    installed packages' own metadata."""
    import re
    from importlib import metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    wanted = [Requirement(line.split("#")[0]).name
              for line in SERVING_REQUIREMENTS.read_text().splitlines()
              if line.split("#")[0].strip()]  # fmt: skip
    kept, todo = {"shiftlab"}, [norm(n) for n in wanted]
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(norm(requirement.name))
    own = {"shiftlab", "hydra_plugins"}  # shiftlab's wheel holds both (its Optuna sweeper)
    return sorted(module for module, dists in metadata.packages_distributions().items()
                  if module not in own and not any(norm(d) in kept for d in dists))  # fmt: skip


def serving_image_python() -> list[str]:
    """``shiftlab`` as the serving image runs it: Python with every package the image lacks
    (torch, Lightning, matplotlib, ...) refused at import, with the ModuleNotFoundError a
    missing module raises (libraries such as anyio catch exactly that for optional imports)."""
    guard = (
        "import sys\n"
        f"REFUSED = set({packages_outside_the_serving_image()!r})\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in REFUSED:\n"
        "            raise ModuleNotFoundError(name + ' is not in the serving image', name=name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from shiftlab.cli.main import main\n"
        "main()\n"
    )
    return [sys.executable, "-c", guard]


class Service:
    """A ``shiftlab serve`` process and its address; ``as_in_image`` runs it with only the
    serving image's packages importable (one process: workers start fresh interpreters)."""

    def __init__(self, model: Path, cwd: Path, *overrides: str, as_in_image: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = serving_image_python() if as_in_image else shiftlab_executable()
        self.process = subprocess.Popen(
            [*command, "serve", f"ckpt_path={model}", f"server.port={self.port}", *overrides],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).json()["status"] == "ready":
                    return
            except (httpx.HTTPError, KeyError):
                time.sleep(0.2)
            if self.process.poll() is not None:
                raise AssertionError(self.process.stdout.read())
        raise AssertionError("the service did not become ready")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=60)
        return out


def train_and_export(root: Path) -> None:
    """A segmentation and a classification model, trained briefly and exported."""
    run_shiftlab("train", "experiment=segmentation_shapes", *SMALL_SHAPES, "trainer.max_epochs=1",
                 "trainer.enable_progress_bar=false", "task_name=seg", cwd=root)  # fmt: skip
    write_class_folders(root / "images", classes=("cat", "dog", "owl"), per_class=6, size=(20, 30))
    run_shiftlab("train", "data=image_folder", "data.root=images", "data.image_size=[16,16]",
                 "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "task_name=cls",
                 cwd=root)  # fmt: skip
    for name in ("seg", "cls"):
        (run,) = (root / "outputs" / name / "runs").iterdir()
        run_shiftlab("export", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", cwd=root)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """The two exported models (and the training images under ``root``), made once for all
    workers."""
    root = made_once(tmp_path_factory, "serve-models", train_and_export)
    models = {}
    for name in ("seg", "cls"):
        (run,) = (root / "outputs" / name / "runs").iterdir()
        models[name] = run / "checkpoints" / "last.onnx"
    models["root"] = root
    return models


def shapes_images(folder: Path, count: int) -> list[Path]:
    from shiftlab.data.synthetic_shapes import ShapesSynthesis

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image, _ = ShapesSynthesis(size=32).sample(99, i)
        path = folder / f"shape{i}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


@pytest.mark.slow
def test_segmentation_served_from_onnx_answers_concurrently_like_predict(exported, tmp_path):
    images = shapes_images(tmp_path / "images", 10)
    run_shiftlab("predict", f"ckpt_path={exported['seg']}", f"input={tmp_path / 'images'}",
                 f"output_dir={tmp_path / 'predicted'}", cwd=tmp_path)  # fmt: skip
    expected = {p.name: (tmp_path / "predicted" / f"{p.stem}_mask.png").read_bytes()
                for p in images}  # fmt: skip
    service = Service(exported["seg"], tmp_path, as_in_image=True)
    try:

        def ask(k: int) -> tuple[str, int, bytes]:
            path = images[k % len(images)]
            with httpx.Client(timeout=60) as client:
                response = client.post(f"{service.url}/predict",
                                       files={"file": (path.name, path.read_bytes())})  # fmt: skip
            timings.append(response.headers["server-timing"])
            return path.name, response.status_code, response.content

        timings: list[str] = []
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(200)))
        assert all(status == 200 for _, status, _ in answers)
        assert all(content == expected[name] for name, _, content in answers)
        # where each request's time went; under 8 clients some shared a model call
        stages = [dict(part.split(";")[:2] for part in t.split(", ")) for t in timings]
        assert all(set(s) == {"read", "queue", "model", "answer"} for s in stages)
        assert all(float(s["model"].removeprefix("dur=")) > 0 for s in stages)
        batches = [int(t.split('desc="batch ')[1].split('"')[0]) for t in timings]
        assert max(batches) > 1 and all(1 <= b <= 8 for b in batches)

        malformed = [
            {"files": {"file": ("notes.txt", b"not an image")}},
            {"files": {"file": ("broken.png", b"\x89PNG broken")}},
            {"files": {"file": ("empty.png", b"")}},
            {"files": {"image": ("shape0.png", images[0].read_bytes())}},
            {"data": {"file": "no upload"}},
        ] * 4
        for request in malformed:
            response = httpx.post(f"{service.url}/predict", timeout=30, **request)
            assert 400 <= response.status_code < 500, response.text
            assert response.json()["error"], response.text
        assert httpx.get(f"{service.url}/health").json() == {"status": "ready"}
        info = httpx.get(f"{service.url}/info").json()
        assert info["kind"] == "segmentation" and ".png" in info["accepts"]
        page = httpx.get(service.url).text
        assert "<form" in page and "predict" in page and "http" not in page.split("<script>")[1]
        docs = httpx.get(f"{service.url}/docs").text  # offline: nothing from a CDN
        assert "/docs-assets/swagger-ui-bundle.js" in docs and "https://" not in docs
        assert httpx.get(f"{service.url}/docs-assets/swagger-ui-bundle.js").status_code == 200
        schema = httpx.get(f"{service.url}/openapi.json").json()
        assert "/predict" in schema["paths"]
    finally:
        output = service.stop()
    assert "Traceback" not in output


@pytest.mark.slow
def test_classification_served_answers_json_for_one_file_and_for_several(exported, tmp_path):
    service = Service(exported["cls"], tmp_path, "server.access_log=false", as_in_image=True)
    try:
        image = next((exported["root"] / "images" / "cat").iterdir())
        one = httpx.post(f"{service.url}/predict",
                         files={"file": (image.name, image.read_bytes())}).json()  # fmt: skip
        assert one["predicted"] in {"cat", "dog", "owl"}
        assert sum(one["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        files = [("file", (p.name, p.read_bytes()))
                 for p in sorted((exported["root"] / "images" / "dog").iterdir())[:3]]  # fmt: skip
        several = httpx.post(f"{service.url}/predict", files=files).json()["results"]
        assert [r["file"] for r in several] == [name for _, (name, _) in files]
        wrong_size = np.zeros((5, 5, 3), dtype=np.uint8)
        path = tmp_path / "tiny.png"
        Image.fromarray(wrong_size).save(path)
        answer = httpx.post(
            f"{service.url}/predict", files={"file": ("tiny.png", path.read_bytes())}
        )
        assert answer.status_code == 200  # resized by the model's eval transforms, as predict does
    finally:
        output = service.stop()
    assert "POST /predict" not in output and "Application startup complete" in output


@pytest.mark.slow
def test_several_worker_processes_serve_one_model(exported, tmp_path):
    service = Service(exported["cls"], tmp_path, "server.workers=2")
    try:
        image = next((exported["root"] / "images" / "dog").iterdir())

        def ask(_: int) -> int:
            upload = {"file": (image.name, image.read_bytes())}
            return httpx.post(f"{service.url}/predict", timeout=60, files=upload).status_code

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert set(pool.map(ask, range(24))) == {200}
    finally:
        output = service.stop()
    assert "with 2 process(es)" in output and "Traceback" not in output


def test_a_request_over_the_time_limit_gets_504_and_the_service_goes_on(exported, tmp_path):
    service = Service(exported["cls"], tmp_path, "server.request_timeout_s=0.000001")
    try:
        image = next((exported["root"] / "images" / "cat").iterdir())
        answer = httpx.post(
            f"{service.url}/predict", files={"file": (image.name, image.read_bytes())}
        )
        assert answer.status_code == 504
        assert "server.request_timeout_s=1e-06" in answer.json()["error"]
        assert httpx.get(f"{service.url}/health").json() == {"status": "ready"}
    finally:
        output = service.stop()
    assert "Traceback" not in output
    assert '"POST /predict HTTP/1.1" 504' in output  # the access log, on by default


def test_the_serving_image_holds_no_torch():
    """What the serving services above ran with refuses torch and the training stack, so
    the image built from ``container/requirements.txt`` serves without them."""
    refused = set(packages_outside_the_serving_image())
    assert {"torch", "lightning", "torchvision", "matplotlib", "tensorboard"} <= refused
    assert not {"onnxruntime", "numpy", "fastapi", "uvicorn", "PIL", "albumentations"} & refused


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_the_page_answers_in_a_real_browser(exported, tmp_path):
    from playwright.sync_api import sync_playwright

    image = next((exported["root"] / "images" / "owl").iterdir())
    shapes = shapes_images(tmp_path / "shapes", 1)[0]
    services = {
        "cls": Service(exported["cls"], tmp_path),
        "seg": Service(exported["seg"], tmp_path),
    }
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=["--no-sandbox"])  # fmt: skip
            page = browser.new_page()
            page.goto(services["cls"].url)
            page.wait_for_function("document.getElementById('summary').textContent"
                                   ".includes('classification')")  # fmt: skip
            page.set_input_files("#file", str(image))
            page.click("#send")
            page.wait_for_selector("#answer")
            answer = page.inner_text("#answer")
            assert answer.split(" (")[0] in {"cat", "dog", "owl"} and "%" in answer
            assert page.locator(".bar").count() == 3
            page.screenshot(path=str(tmp_path / "classification_page.png"))

            page.goto(services["seg"].url)
            page.wait_for_function("document.getElementById('summary').textContent"
                                   ".includes('segmentation')")  # fmt: skip
            page.set_input_files("#file", str(shapes))
            page.click("#send")
            page.wait_for_selector("#mask")
            assert "classes present" in page.inner_text("#answer")
            width = page.evaluate("document.getElementById('mask').naturalWidth")
            assert width == Image.open(shapes).width
            page.set_input_files("#file", __file__)  # a .py file: not an image
            page.click("#send")
            page.wait_for_selector("#error")
            assert "is not a file this segmentation model reads" in page.inner_text("#error")
            page.screenshot(path=str(tmp_path / "segmentation_page.png"))
            page.goto(f"{services['seg'].url}/docs")  # the API docs render without a network
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            assert "/predict" in page.inner_text(".swagger-ui")
            browser.close()
    finally:
        for service in services.values():
            service.stop()
    assert (tmp_path / "classification_page.png").stat().st_size > 5_000
