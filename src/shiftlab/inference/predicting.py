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
from shiftlab.inference.inputs import InputFormat

log = logging.getLogger(__name__)


def predict(ckpt_path: str, input_pattern: str, output_dir: Path, batch_size: int) -> list[Path]:
    from tqdm import tqdm

    model = open_model(ckpt_path)
    stored = model.stored
    kind = stored.task_kind
    reader = kind.input_format()(kind.name, stored.config, stored.data_facts)
    files = reader.find(input_pattern)
    writer = kind.writer()(output_dir, stored.config, stored.data_facts)
    written: list[Path] = []
    with tqdm(total=len(files), desc="predict", unit="file") as bar:
        for batch in _batches(files, reader, batch_size):
            outputs = model(np.stack([x for _, x, _ in batch]))
            for (path, x, picture), output in zip(batch, outputs, strict=True):
                written += writer.write(path, x, output, picture)
            bar.update(len(batch))
    log.info("Predictions for %d files in %s", len(files), output_dir)
    return sorted(set(written))


def _batches(files: list[Path], reader: InputFormat, batch_size: int):
    """Consecutive files of one shape, up to ``batch_size`` at a time.

    A file that cannot be read first lets the files read before it through the model (their
    outputs are written), then stops with its error.
    """
    pending: list[tuple[Path, np.ndarray, np.ndarray | None]] = []
    for path in files:
        try:
            x, picture = reader.read(path)
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
