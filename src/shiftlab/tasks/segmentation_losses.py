"""Segmentation losses by name, and weighted sums of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from shiftlab.errors import ConfigError

LOSS_NAMES: tuple[str, ...] = ("ce", "bce", "dice", "jaccard", "focal", "lovasz", "tversky")


class MaskedBCE(nn.Module):
    """Binary cross-entropy on logits that skips pixels equal to ``ignore_index``."""

    def __init__(self, ignore_index: int | None = None, pos_weight: float | None = None):
        super().__init__()
        self.ignore_index = ignore_index
        self.pos_weight = pos_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        keep = torch.ones_like(target, dtype=torch.bool)
        if self.ignore_index is not None:
            keep = target != self.ignore_index
        pos_weight = None if self.pos_weight is None else logits.new_tensor(self.pos_weight)
        loss = F.binary_cross_entropy_with_logits(
            logits, target.clamp(0, 1).float(), pos_weight=pos_weight, reduction="none"
        )
        return (loss * keep).sum() / keep.sum().clamp_min(1)


class WeightedSum(nn.Module):
    """``sum(weight * loss(logits, target))`` over named losses."""

    def __init__(self, losses: Mapping[str, nn.Module], weights: Mapping[str, float]) -> None:
        super().__init__()
        self.losses = nn.ModuleDict(dict(losses))
        self.weights = dict(weights)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(self.weights[n] * loss(logits, target) for n, loss in self.losses.items())


def make_segmentation_loss(
    loss: str | Mapping[str, float] | nn.Module,
    mode: str,
    ignore_index: int | None = None,
    class_weights: Sequence[float] | None = None,
) -> nn.Module:
    """Build ``loss``: a name (``ce``, ``dice``, ...), a mapping of names to weights
    (``{dice: 1.0, ce: 1.0}`` is their sum), or a ready module (any ``_target_``)."""
    if isinstance(loss, nn.Module):
        return loss
    weights = {loss: 1.0} if isinstance(loss, str) else {str(k): float(v) for k, v in loss.items()}
    unknown = [n for n in weights if n not in LOSS_NAMES]
    if unknown or not weights:
        raise ConfigError(
            f"task.loss: unknown loss {unknown or loss!r}. Use one of {', '.join(LOSS_NAMES)}, "
            "a weighted sum such as task.loss='{dice: 1.0, ce: 1.0}', or any loss module by "
            "_target_."
        )
    losses = {n: _one_loss(n, mode, ignore_index, class_weights) for n in weights}
    if len(losses) == 1 and next(iter(weights.values())) == 1.0:
        return next(iter(losses.values()))
    return WeightedSum(losses, weights)


def _one_loss(name: str, mode: str, ignore_index, class_weights) -> nn.Module:
    import segmentation_models_pytorch as smp

    weights = list(class_weights) if class_weights is not None else None
    if name in ("ce", "bce"):
        if mode == "multiclass" and name == "ce":
            weight = torch.tensor(weights, dtype=torch.float32) if weights else None
            return nn.CrossEntropyLoss(
                weight=weight, ignore_index=-100 if ignore_index is None else ignore_index
            )
        if mode == "multiclass":
            raise ConfigError(
                "task.loss: bce is for binary or multilabel masks; use ce for multiclass."
            )
        pos = weights[-1] / weights[0] if weights and len(weights) == 2 else None
        return MaskedBCE(ignore_index, pos_weight=pos)
    smp_mode = {"multiclass": "multiclass", "binary": "binary", "multilabel": "multilabel"}[mode]
    if name == "lovasz":
        return smp.losses.LovaszLoss(smp_mode, ignore_index=ignore_index)
    cls = {
        "dice": smp.losses.DiceLoss,
        "jaccard": smp.losses.JaccardLoss,
        "focal": smp.losses.FocalLoss,
        "tversky": smp.losses.TverskyLoss,
    }[name]
    return cls(
        smp_mode, ignore_index=ignore_index, class_weights=weights if mode == "multiclass" else None
    )
