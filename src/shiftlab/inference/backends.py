"""Run a model on numpy batches: from a checkpoint (torch) or an ONNX file (onnxruntime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from shiftlab.errors import ShiftlabError
from shiftlab.run.checkpoints import StoredModel, stored_model


class TorchBackend:
    """A checkpoint's model, on the CPU or the GPU when there is one."""

    def __init__(self, path: Path) -> None:
        import torch

        from shiftlab.inference.model import InferenceModel
        from shiftlab.run.checkpoints import load_task, read_checkpoint

        self.stored, state_dict = read_checkpoint(path)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        task = load_task(self.stored, state_dict)
        self.model = InferenceModel(task, self.stored.task_kind).to(self.device).eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()


class OnnxBackend:
    """An exported model; its metadata replaces the checkpoint's (no torch needed)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads is not None:
            # a service: its threads share the cores with the event loop (and other worker
            # processes), so they sleep between calls instead of spinning, which would take
            # the cores the requests are read and answered on
            options.intra_op_num_threads = int(threads)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        if "kind" not in meta or "config" not in meta:
            raise ShiftlabError(
                f"{path} is an ONNX model without shiftlab's metadata; export it with "
                "`shiftlab export ckpt_path=...`."
            )
        self.stored: StoredModel = stored_model(
            path,
            {
                "kind": meta["kind"],
                "config": json.loads(meta["config"]),
                "data_facts": json.loads(meta.get("data_facts", "{}")),
                "metrics": json.loads(meta.get("metrics", "{}")),
                "version": meta.get("shiftlab_version", "unknown"),
            },
        )

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input": batch})[0]


def open_model(path: str | Path, threads: int | None = None) -> TorchBackend | OnnxBackend:
    """The model of a checkpoint or ``.onnx`` file. ``threads`` sets an ONNX model's CPU
    threads, which then sleep between calls (for a service, whose cores are shared); None
    leaves onnxruntime's defaults (every core, spinning: fastest for back-to-back calls)."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise ShiftlabError(f"ckpt_path: no ONNX model at {path}.")
        return OnnxBackend(path, threads)
    return TorchBackend(path)
