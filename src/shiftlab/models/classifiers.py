"""Classifiers: a list of layers declared in config (2-D on images, 1-D on waveforms: see
:mod:`shiftlab.models.waveform_layers`), or any timm model."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import torch
from torch import nn

from shiftlab.errors import ConfigError


class LayerClassifier(nn.Module):
    """The layers given, in order, then a classification head added automatically.

    The head (flatten, then a linear layer to ``num_classes``) gets its input size by running
    the layers once on an empty image of ``image_size``, so nobody computes a flattened size
    by hand.

    Args:
        layers: the feature layers (each a ``_target_`` in the config: Conv2d, BatchNorm2d,
            ELU, MaxPool2d, Dropout, ...). The first one takes ``in_channels``.
        num_classes: classes to predict (from the data).
        in_channels: image channels (from the data).
        image_size: ``[height, width]`` of the images (from the data).
        head_dropout: dropout before the linear layer (0 for none).
    """

    output = "vector"  # one value per class: classification tasks
    input_name = "image"

    def __init__(
        self,
        layers: Sequence[nn.Module],
        num_classes: int,
        in_channels: int = 1,
        image_size: Sequence[int] = (28, 28),
        head_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(*[layer for layer in layers if layer is not None])
        self.in_channels = in_channels
        self.out_channels = num_classes
        self.image_size = tuple(int(v) for v in image_size)
        flat = self._flattened_size()
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(head_dropout) if head_dropout else nn.Identity(),
            nn.Linear(flat, num_classes),
        )

    def _flattened_size(self) -> int:
        probe = torch.zeros(1, self.in_channels, *self.image_size)
        was_training = self.features.training
        self.features.eval()
        try:
            with torch.no_grad():
                out = self.features(probe)
        except RuntimeError as err:
            shape = "×".join(str(v) for v in (self.in_channels, *self.image_size))
            raise ConfigError(
                f"model.layers cannot take a {shape} {self.input_name}: {err}. Check that the "
                f"layers are {len(self.image_size)}-D (Conv{len(self.image_size)}d, ...), the "
                "first layer's in_channels, and that pooling does not shrink the input below 1."
            ) from err
        finally:
            self.features.train(was_training)
        return int(out[0].numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class TimmClassifier(nn.Module):
    """Any timm model by name, with ``in_chans`` and ``num_classes`` from the data.

    Args:
        name: a timm model name (``timm.list_models()``), e.g. ``resnet18``,
            ``mobilenetv3_small_100``, ``efficientnet_b0``.
        num_classes, in_channels: from the data.
        pretrained: load timm's pretrained weights (downloads them: needs a network).
        **kwargs: passed to ``timm.create_model`` (e.g. ``drop_rate``).
    """

    output = "vector"  # one value per class: classification tasks

    def __init__(
        self,
        name: str,
        num_classes: int,
        in_channels: int = 3,
        pretrained: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        import timm

        if not timm.list_models(name) and not timm.is_model(name):
            near = difflib.get_close_matches(name, timm.list_models(), n=3)
            raise ConfigError(
                f"model.name: timm has no model '{name}'"
                + (f"; did you mean {', '.join(near)}?" if near else ".")
            )
        self.model = timm.create_model(
            name, pretrained=pretrained, num_classes=num_classes, in_chans=in_channels, **kwargs
        )
        self.in_channels = in_channels
        self.out_channels = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
