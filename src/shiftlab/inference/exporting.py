"""``shiftlab export``: the trained model as ONNX, checked and compared with PyTorch.

The model exported is :class:`~shiftlab.inference.model.InferenceModel` (pre- and
post-processing included). Its dynamic axes and the inputs of the parity check come from the
input format of the task's kind (:mod:`shiftlab.inference.inputs`): a dynamic batch axis,
and, where the network allows, the time axis T of spectrograms, height and width of
segmentation images. Classifiers keep the image size they were trained at (their heads are
sized for it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shiftlab.errors import ShiftlabError
from shiftlab.run.checkpoints import StoredModel

log = logging.getLogger(__name__)

OPSET = 18


@dataclass
class ExportResult:
    path: Path
    max_abs_diff: dict[str, float]  # input shape -> largest |onnx - torch|


def export_onnx(
    stored: StoredModel, state_dict: dict[str, Any], output: Path, tolerance: float
) -> ExportResult:
    """Export, check with ``onnx.checker``, compare with PyTorch on two input sizes."""
    import onnx
    import torch

    from shiftlab.inference.model import InferenceModel
    from shiftlab.run.checkpoints import load_task

    kind = stored.task_kind
    task = load_task(stored, state_dict)
    # Channels-last memory speeds up convolutions in torch; in an exported graph it becomes a
    # transpose around every convolution, which onnxruntime spends most of its time in.
    task.channels_last = False
    task.net = task.net.to(memory_format=torch.contiguous_format)
    model = InferenceModel(task, kind).eval()
    inputs = kind.input_format()(kind.name, stored.config, stored.data_facts)
    shapes = inputs.example_shapes(getattr(task.net, "size_multiple", None))
    generator = torch.Generator().manual_seed(0)
    examples = [torch.randn(shape, generator=generator) for shape in shapes]
    # Dim.AUTO lets torch.export find each axis's rule itself (a U-Net's sizes are padded to
    # a multiple inside the model); named Dims with ranges trip its constraint solver.
    dims = {i: torch.export.Dim.AUTO for i in inputs.dynamic_axes}
    output.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (examples[0],),
            str(output),
            dynamo=True,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes={"x": dims},
            external_data=False,
        )
        references = [model(x).numpy() for x in examples]

    proto = onnx.load(str(output))
    for key, value in stored.description().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value) if not isinstance(value, str) else value
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(output))

    differences = _parity(output, examples, references)
    for shape, diff in differences.items():
        log.info("ONNX vs PyTorch, input %s: max |difference| %.3g", shape, diff)
    worst = max(differences.values())
    if not worst <= tolerance:
        raise ShiftlabError(
            f"The exported model differs from PyTorch by up to {worst:.3g} (tolerance "
            f"{tolerance:g}) on inputs {list(differences)}; {output} is not to be trusted. "
            "Raise tolerance= if this is rounding, or report the model that exports wrongly."
        )
    return ExportResult(output, differences)


def _parity(path: Path, examples: list, references: list[np.ndarray]) -> dict[str, float]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    differences = {}
    for x, reference in zip(examples, references, strict=True):
        try:
            (out,) = session.run(None, {"input": x.numpy()})
        except Exception as err:
            raise ShiftlabError(
                f"The exported model cannot run on an input of shape {tuple(x.shape)}: "
                f"{str(err)[:300]}. An axis meant to be dynamic was fixed by the export."
            ) from None
        if out.shape != reference.shape:
            raise ShiftlabError(
                f"The exported model returns shape {out.shape} for input {tuple(x.shape)}, "
                f"PyTorch {reference.shape}: the export lost a dynamic axis."
            )
        differences[str(tuple(x.shape))] = float(np.abs(out - reference).max())
    return differences
