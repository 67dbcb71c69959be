"""The plain PyTorch script that ``bench/startup.py`` times against ``shiftlab train``: the
default experiment's data (all 640 synthetic pairs, as the data module makes them) and
network, built directly, and one training step; no Lightning, no Hydra.

    .venv/bin/python bench/first_step_plain.py OUT_FILE

Writes the wall-clock time at the end of the first step to OUT_FILE. The settings are those
of the default ``shiftlab train`` config (tests/test_bench.py keeps them in step).
"""

import sys
import time

import torch

from shiftlab.data.synthetic_speech import SpeechSynthesis
from shiftlab.models.unet import TSConvUNet

SEED = 42  # seed
DATA = {"freq_bins": 256, "min_frames": 48, "max_frames": 160}  # data.*
DATA_SEED, PAIRS, BATCH = 1234, 512 + 64 + 64, 16  # data.seed, train + val + test, batch_size
CHANNELS = [4, 4, 4, 8, 8, 16]  # model.channels
LR = 1e-3  # optimizer.lr (Adam)


def main(out_file: str) -> None:
    torch.manual_seed(SEED)
    synthesis = SpeechSynthesis(**DATA)
    pairs = [synthesis.pair(DATA_SEED, i) for i in range(PAIRS)]
    batch = pairs[:BATCH]  # one batch of the training set, padded to its longest sample
    frames = max(x.shape[-1] for x, _ in batch)
    inputs, targets = (
        torch.stack([torch.nn.functional.pad(torch.from_numpy(p[k]), (0, frames - p[k].shape[-1]))
                     for p in batch]).unsqueeze(1)
        for k in (0, 1)
    )  # fmt: skip
    net = TSConvUNet(1, 1, freq_bins=DATA["freq_bins"], channels=CHANNELS)
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    x = inputs.contiguous(memory_format=torch.channels_last)
    loss = torch.nn.functional.mse_loss(net(x), targets)
    loss.backward()
    optimizer.step()
    with open(out_file, "w") as f:
        f.write(repr(time.time()))


if __name__ == "__main__":
    main(sys.argv[1])
