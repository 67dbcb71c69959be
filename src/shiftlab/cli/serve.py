"""``shiftlab serve ckpt_path=<.ckpt | .onnx> [server.host=127.0.0.1] [server.port=8000]``.

An ``.onnx`` model is served with onnxruntime and numpy only: nothing here imports torch
unless the model is a checkpoint. uvicorn stops gracefully on SIGTERM and Ctrl-C (requests
in flight finish).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import hydra
from omegaconf import DictConfig

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir
from shiftlab.errors import ShiftlabError

log = logging.getLogger("shiftlab.serve")


@hydra.main(config_path=str(config_dir()), config_name="serve", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported(log):
        import uvicorn

        from shiftlab.inference.backends import open_model
        from shiftlab.machine import available_cores
        from shiftlab.serving.app import SETTINGS_ENV, Limits, create_app

        server = cfg.server
        workers = int(server.workers)
        if workers < 1:
            raise ShiftlabError(f"server.workers={workers}: serve with at least 1 process.")
        settings = {
            "ckpt_path": str(cfg.ckpt_path),
            "max_batch": int(server.max_batch),
            "batch_wait_ms": float(server.batch_wait_ms),
            "max_files": int(server.max_files),
            "max_upload_mb": float(server.max_upload_mb),
            "request_timeout_s": float(server.request_timeout_s),
            "workers": workers,
        }
        # also checks the file before any worker starts; each process gets its share of cores
        model = open_model(settings["ckpt_path"], max(1, available_cores() // workers))
        log.info("Serving %s (%s) on http://%s:%d with %d process(es)", cfg.ckpt_path,
                 model.stored.kind, server.host, int(server.port), workers)  # fmt: skip
        if workers > 1:
            # each worker process opens the model itself, from these settings
            os.environ[SETTINGS_ENV] = json.dumps(settings)
            app: Any = "shiftlab.serving.app:app_from_environment"
        else:
            app = create_app(
                model,
                max_batch=settings["max_batch"],
                batch_wait_ms=settings["batch_wait_ms"],
                limits=Limits.from_settings(settings),
            )
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=str(server.host),
        port=int(server.port),
        log_level="info",
        access_log=bool(server.access_log),
        timeout_graceful_shutdown=int(server.graceful_shutdown_s),
        timeout_keep_alive=int(server.keep_alive_s),
        limit_concurrency=int(server.max_concurrency),
    )
