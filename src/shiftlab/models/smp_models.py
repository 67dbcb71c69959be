"""Segmentation networks from segmentation-models-pytorch: any architecture, any encoder."""

from __future__ import annotations

import difflib
from pathlib import Path

import torch
from torch import nn

from shiftlab.errors import ConfigError

ARCHITECTURES: tuple[str, ...] = (
    "unet", "unetplusplus", "fpn", "pspnet", "deeplabv3", "deeplabv3plus", "linknet", "manet",
    "pan", "upernet", "segformer", "dpt",
)  # fmt: skip


class SMPSegmentor(nn.Module):
    """An SMP model (``smp.create_model``) with the contract shiftlab's tasks rely on.

    Args:
        arch: one of :data:`ARCHITECTURES` (SMP's names, case-insensitive).
        encoder: any SMP encoder name, including timm's as ``tu-<timm name>``
            (e.g. ``resnet18``, ``efficientnet-b0``, ``tu-mobilenetv3_small_100``).
        in_channels: input channels (1 for grey images, 3 for colour).
        num_classes: output channels (1 for binary masks; the class count otherwise).
        encoder_weights: ``None`` (random init, the default: nothing is downloaded),
            ``imagenet`` (downloaded by SMP, needs a network), or the path of a local
            ``.pth``/``.pt``/``.safetensors`` file holding the encoder's state dict.
        freeze_encoder: keep the encoder's weights fixed (train the decoder only).
        **arch_kwargs: passed to the architecture (e.g. ``decoder_channels``).

    ``size_multiple`` is the encoder's output stride: tasks pad inputs to it and crop the
    masks back, so any image size works.
    """

    output = "dense"  # a map the size of the input: regression and segmentation tasks

    def __init__(
        self,
        arch: str = "unet",
        encoder: str = "resnet18",
        in_channels: int = 3,
        num_classes: int = 1,
        encoder_weights: str | None = None,
        freeze_encoder: bool = False,
        **arch_kwargs,
    ) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        arch = arch.lower()
        if arch not in ARCHITECTURES:
            near = difflib.get_close_matches(arch, ARCHITECTURES, n=1)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            raise ConfigError(
                f"model.arch: unknown SMP architecture '{arch}'.{hint} Choose one of "
                f"{', '.join(ARCHITECTURES)}."
            )
        _check_encoder(encoder, smp)
        weights_file = _local_weights(encoder_weights)
        try:
            self.model = smp.create_model(
                arch,
                encoder_name=encoder,
                encoder_weights=None if weights_file else encoder_weights,
                in_channels=in_channels,
                classes=num_classes,
                **arch_kwargs,
            )
        except (KeyError, ValueError, RuntimeError, TypeError) as err:
            extra = ", ".join(f"{k}={v}" for k, v in arch_kwargs.items())
            hint = (
                f" Architectures take different arguments: drop the ones {arch} does not take "
                f"(e.g. ~model.{next(iter(arch_kwargs))})."
                if arch_kwargs
                else ""
            )
            raise ConfigError(
                f"model: SMP could not build arch={arch} with encoder={encoder}"
                + (f" and {extra}" if extra else "")
                + f" ({type(err).__name__}: {err}).{hint}"
            ) from err
        if weights_file is not None:
            _load_encoder_weights(self.model.encoder, weights_file)
        if freeze_encoder:
            for parameter in self.model.encoder.parameters():
                parameter.requires_grad_(False)
        self.arch = arch
        self.encoder_name = encoder
        self.in_channels = in_channels
        self.out_channels = num_classes
        stride = int(getattr(self.model.encoder, "output_stride", 32) or 32)
        self.size_multiple = (stride, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _check_encoder(encoder: str, smp) -> None:
    if encoder.startswith("tu-"):
        import timm

        name = encoder[3:]
        if not timm.list_models(name.split(".")[0]):
            near = difflib.get_close_matches(name, timm.list_models(), n=3)
            raise ConfigError(
                f"model.encoder: timm has no model '{name}'"
                + (f"; did you mean {', '.join('tu-' + n for n in near)}?" if near else ".")
            )
        return
    names = smp.encoders.get_encoder_names()
    if encoder not in names:
        near = difflib.get_close_matches(encoder, names, n=3)
        raise ConfigError(
            f"model.encoder: unknown SMP encoder '{encoder}'"
            + (f"; did you mean {', '.join(near)}?" if near else ".")
            + " Any timm model works as 'tu-<name>' (e.g. tu-mobilenetv3_small_100)."
        )


def _local_weights(encoder_weights: str | None) -> Path | None:
    """The path in ``encoder_weights`` if it names a file (rather than e.g. 'imagenet')."""
    if encoder_weights is None:
        return None
    path = Path(encoder_weights).expanduser()
    looks_like_file = path.suffix in {".pth", ".pt", ".bin", ".safetensors"} or "/" in str(path)
    if not looks_like_file:
        return None
    if not path.is_file():
        raise ConfigError(
            f"model.encoder_weights: {path} does not exist. Give the path of a local encoder "
            "state dict (.pth, .pt or .safetensors), 'imagenet' to download, or null."
        )
    return path


def _load_encoder_weights(encoder: nn.Module, path: Path) -> None:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    own = encoder.state_dict()
    matching = [k for k, v in state.items() if k in own and own[k].shape == v.shape]
    if not matching:
        raise ConfigError(
            f"model.encoder_weights: no tensor of {path} matches the encoder's parameters; is "
            "it the state dict of this encoder?"
        )
    encoder.load_state_dict({k: state[k] for k in matching}, strict=False)
