"""``shiftlab serve ckpt_path=<.ckpt | .onnx> [server.host=127.0.0.1] [server.port=8000]``.

An ``.onnx`` model is served with onnxruntime and numpy only: nothing here imports torch
unless the model is a checkpoint. uvicorn stops gracefully on SIGTERM and Ctrl-C (requests
in flight finish).
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from shiftlab.cli.errors import reported
from shiftlab.config.location import config_dir

log = logging.getLogger("shiftlab.serve")


@hydra.main(config_path=str(config_dir()), config_name="serve", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported(log):
        import uvicorn

        from shiftlab.inference.backends import open_model
        from shiftlab.serving.app import Limits, create_app

        server = cfg.server
        model = open_model(str(cfg.ckpt_path))
        app = create_app(
            model,
            max_batch=int(server.max_batch),
            batch_wait_ms=float(server.batch_wait_ms),
            limits=Limits(int(server.max_files), float(server.max_upload_mb)),
        )
        log.info("Serving %s (%s) on http://%s:%d", cfg.ckpt_path, model.stored.kind,
                 server.host, int(server.port))  # fmt: skip
    uvicorn.run(
        app,
        host=str(server.host),
        port=int(server.port),
        log_level="info",
        timeout_graceful_shutdown=int(server.graceful_shutdown_s),
        timeout_keep_alive=int(server.keep_alive_s),
        limit_concurrency=int(server.max_concurrency),
    )
