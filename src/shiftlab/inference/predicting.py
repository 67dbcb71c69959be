"""``shiftlab predict``: a model on unlabelled files, batched, with a progress bar.

Files of the same shape go through the model together (``batch_size`` at a time); a long
recording goes through it on its own, as chunks (``batch_size`` chunks at a time). Each
file's outputs are written as soon as its batch is done, so an error on a later file keeps
everything written before it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from shiftlab.inference.backends import open_model
from shiftlab.inference.inputs import InputFormat

log = logging.getLogger(__name__)


def predict(
    ckpt_path: str, input_pattern: str, output_dir: Path, batch_size: int, **options: Any
) -> list[Path]:
    """Run the model on every file ``input_pattern`` names; ``options`` go to the input
    format (``chunk_frames`` and ``chunk_overlap`` for recordings)."""
    from tqdm import tqdm

    model = open_model(ckpt_path)
    stored = model.stored
    kind = stored.task_kind
    reader = kind.input_format()(kind.name, stored.config, stored.data_facts, **options)
    files = reader.find(input_pattern)
    writer = kind.writer()(output_dir, stored.config, stored.data_facts)
    written: list[Path] = []
    with tqdm(total=len(files), desc="predict", unit="file") as bar:
        if reader.chunked:
            for path in files:
                chunks, context = reader.read(path)
                pieces = [
                    model(chunks[i : i + batch_size]) for i in range(0, len(chunks), batch_size)
                ]
                written += writer.write(path, chunks, np.concatenate(pieces), context)
                bar.update(1)
        else:
            for batch in _batches(files, reader, batch_size):
                outputs = model(np.stack([x for _, x, _ in batch]))
                for (path, x, context), output in zip(batch, outputs, strict=True):
                    written += writer.write(path, x, output, context)
                bar.update(len(batch))
    log.info("Predictions for %d files in %s", len(files), output_dir)
    return sorted(set(written))


def _batches(files: list[Path], reader: InputFormat, batch_size: int):
    """Consecutive files of one shape, up to ``batch_size`` at a time.

    A file that cannot be read first lets the files read before it through the model (their
    outputs are written), then stops with its error.
    """
    pending: list[tuple[Path, np.ndarray, Any]] = []
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
