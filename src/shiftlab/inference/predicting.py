"""``shiftlab predict``: a model on unlabelled files, batched, with a progress bar.

Files of the same shape go through the model together (``batch_size`` at a time); each
file's outputs are written as soon as its batch is done, so an error on a later file keeps
everything written before it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from shiftlab.inference.backends import open_model
from shiftlab.inference.inputs import InputReader, find_inputs
from shiftlab.inference.outputs import PredictionWriter

log = logging.getLogger(__name__)


def predict(ckpt_path: str, input_pattern: str, output_dir: Path, batch_size: int) -> list[Path]:
    from tqdm import tqdm

    model = open_model(ckpt_path)
    stored = model.stored
    files = find_inputs(input_pattern, stored.kind)
    reader = InputReader(stored.kind, stored.config, stored.data_facts)
    names = stored.data_facts.get("class_names") or stored.config["data"].get("class_names")
    classes = stored.config["data"].get("num_classes") or 0
    writer = PredictionWriter(stored.kind, output_dir, list(names or _default_names(classes)))
    written: list[Path] = []
    with tqdm(total=len(files), desc="predict", unit="file") as bar:
        for batch in _batches(files, reader, batch_size):
            outputs = model(np.stack([x for _, x, _ in batch]))
            for (path, x, picture), output in zip(batch, outputs, strict=True):
                written += writer.write(path, x, output, picture)
            bar.update(len(batch))
    log.info("Predictions for %d files in %s", len(files), output_dir)
    return sorted(set(written))


def _batches(files: list[Path], reader: InputReader, batch_size: int):
    """Consecutive files of one shape, up to ``batch_size`` at a time.

    A file that cannot be read first lets the files read before it through the model (their
    outputs are written), then stops with its error.
    """
    pending: list[tuple[Path, np.ndarray, np.ndarray | None]] = []
    for path in files:
        try:
            x, picture = reader(path)
        except Exception:
            if pending:
                yield pending
            raise
        if pending and pending[0][1].shape != x.shape:
            yield pending
            pending = []
        pending.append((path, x, picture))
        if len(pending) == batch_size:
            yield pending
            pending = []
    if pending:
        yield pending


def _default_names(num_classes: int) -> list[str]:
    return [f"class_{i}" for i in range(num_classes)]
