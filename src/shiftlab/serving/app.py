"""The HTTP service around one model: ``/health``, ``/info``, ``/predict`` and a page at ``/``.

Files are read by the model kind's input format, as ``shiftlab predict`` reads them, from a
private temporary file named only by the upload's suffix (no name or path a client sends is
ever opened), and answered with the kind's writer in memory. Every mistake a client can make
gets a 4xx JSON ``{"error": ...}`` that names it; the service keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from fastapi import FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from shiftlab.data.in_memory import InMemoryFile
from shiftlab.errors import ShiftlabError
from shiftlab.serving.batching import Batcher
from shiftlab.serving.page import PAGE
from shiftlab.serving.timing import Timing

log = logging.getLogger("shiftlab.serve")


@dataclass(frozen=True)
class Limits:
    """What a request may be: files per request, megabytes per file, and seconds to answer
    (reading, waiting for the model and running it)."""

    max_files: int = 16
    max_upload_mb: float = 20.0
    request_timeout_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Limits:
        """The limits among ``serve``'s settings (``server.*``)."""
        return cls(int(settings["max_files"]), float(settings["max_upload_mb"]),
                   float(settings["request_timeout_s"]))  # fmt: skip


class ClientError(Exception):
    """A request the service cannot answer: its status and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(model: Any, max_batch: int = 8, batch_wait_ms: float = 0.0,
               limits: Limits | None = None) -> FastAPI:  # fmt: skip
    """The service for ``model`` (:func:`shiftlab.inference.backends.open_model`)."""
    limits = limits or Limits()
    stored = model.stored
    kind = stored.task_kind
    reader = kind.input_format()(kind.name, stored.config, stored.data_facts)
    writer = kind.writer()(None, stored.config, stored.data_facts)
    batcher = Batcher(model, max_batch, batch_wait_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="shiftlab model service",
        description=f"A {kind.name} model from {Path(stored.path).name}.",
        docs_url=None,  # FastAPI's own /docs loads Swagger UI from a CDN: served below
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.openapi_version = "3.0.3"  # what the packaged Swagger UI (4.x) renders
    _offline_docs(app)

    @app.exception_handler(ClientError)
    async def client_error(request: Request, err: ClientError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(map(str, e.get("loc", [])[1:])) or "body" for e in err.errors())
        message = (
            f"The request is not a multipart form with a 'file' field ({fields}): send the "
            "file as -F file=@<path>."
        )
        return JSONResponse({"error": message}, status_code=422)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Ready when the model is loaded and the batcher runs."""
        return {"status": "ready" if batcher.worker is not None else "starting"}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        """What the model is and takes: its task kind, inputs, classes, rate and metrics."""
        data = stored.config.get("data", {})
        return {
            "kind": kind.name,
            "model": Path(stored.path).name,
            "returns": kind.model_returns,
            "accepts": list(reader.suffixes),
            "class_names": getattr(writer, "class_names", None) or None,
            "sample_rate": data.get("sample_rate"),
            "image_size": stored.data_facts.get("image_size") or data.get("image_size"),
            "target_names": getattr(writer, "names", None),
            "metrics": stored.metrics,
            "shiftlab_version": stored.version,
        }

    @app.post("/predict", response_model=None)
    async def predict(file: list[UploadFile]) -> Response:
        """One file: its answer (PNG, npy or wav bytes, or JSON). Several: JSON, one entry
        per file, binary answers base64-encoded."""
        if not file:
            raise ClientError(400, "No file in the request: send -F file=@<path>.")
        if len(file) > limits.max_files:
            raise ClientError(413, f"{len(file)} files in one request; at most {limits.max_files}.")
        timing = Timing()
        try:
            answers = await _within(limits.request_timeout_s, _answer_all(file, timing))
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            raise ClientError(
                504,
                f"No answer within server.request_timeout_s={limits.request_timeout_s:g} s (the "
                "service is overloaded or the input is very large): retry later or send less.",
            ) from None
        headers = {"Server-Timing": timing.header()}
        if len(answers) == 1:
            (one,) = answers
            if one.json is not None:
                return JSONResponse(one.json, headers=headers)
            return Response(one.content, media_type=one.media_type, headers=headers)
        return JSONResponse({"results": [_as_json(u.filename, a)
                                         for u, a in zip(file, answers, strict=True)]},
                            headers=headers)  # fmt: skip

    async def _answer_all(uploads: list[UploadFile], timing: Timing) -> list[Any]:
        return [await _answer_one(upload, timing) for upload in uploads]

    async def _answer_one(upload: UploadFile, timing: Timing) -> Any:
        name = PurePath(upload.filename or "").name
        suffix = PurePath(name).suffix.lower()
        if suffix not in reader.suffixes:
            raise ClientError(
                415,
                f"{name or 'The upload'} is not a file this {kind.name} model reads; it takes "
                f"{', '.join(reader.suffixes)} files.",
            )
        data = await upload.read(int(limits.max_upload_mb * 2**20) + 1)
        if not data:
            raise ClientError(400, f"{name} is empty.")
        if len(data) > limits.max_upload_mb * 2**20:
            raise ClientError(413, f"{name} is over {limits.max_upload_mb:g} MB, the limit.")
        try:  # from memory: no temporary file, and the client's name is only a label
            x, context = reader.read(InMemoryFile(data, name))
        except ShiftlabError as err:
            raise ClientError(400, str(err)) from None
        except Exception as err:  # a reader's library refusing the bytes
            raise ClientError(400, f"{name} cannot be read: {err}") from None
        timing.lap("read")
        waiting = time.perf_counter()
        try:
            ran = await (batcher.run_alone(x) if reader.chunked else batcher(x))
        except Exception as err:
            raise ClientError(
                422, f"The model cannot take {name} ({str(err)[:200]}); check /info for its inputs."
            ) from None
        timing.model_call(time.perf_counter() - waiting, ran.model_s, ran.batch_size)
        answer = writer.answer(ran.output, context)
        timing.lap("answer")
        return answer

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        """A page to try the model in a browser."""
        return PAGE

    return app


async def _within(seconds: float, work: Coroutine[Any, Any, Any]) -> Any:
    """``work``'s result, or TimeoutError after ``seconds`` (0: no limit). On Python 3.11+
    the request's own task runs it (asyncio.timeout); wait_for would start another task."""
    if not seconds:
        return await work
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await work
    return await asyncio.wait_for(work, seconds)


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: the OpenAPI docs with Swagger UI's files from the installed
    ``swagger-ui-bundle`` package, so they work where no CDN can be reached."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _as_json(filename: str | None, answer: Any) -> dict[str, Any]:
    import base64

    name = PurePath(filename or "").name
    if answer.json is not None:
        return {"file": name, **answer.json}
    return {"file": name, "media_type": answer.media_type,
            "base64": base64.b64encode(answer.content).decode()}  # fmt: skip


SETTINGS_ENV = "SHIFTLAB_SERVE_SETTINGS"  # how ``serve`` hands its settings to worker processes


def app_from_environment() -> FastAPI:
    """The app of one of several uvicorn worker processes (``server.workers`` > 1): each
    opens the model itself, from the settings ``shiftlab serve`` put in the environment."""
    import json
    import os

    from shiftlab.inference.backends import open_model
    from shiftlab.machine import available_cores

    settings = json.loads(os.environ[SETTINGS_ENV])
    threads = max(1, available_cores() // int(settings["workers"]))  # the cores, shared out
    return create_app(
        open_model(settings["ckpt_path"], threads),
        max_batch=settings["max_batch"],
        batch_wait_ms=settings["batch_wait_ms"],
        limits=Limits.from_settings(settings),
    )
