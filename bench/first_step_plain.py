"""The plain PyTorch script that ``bench/startup.py`` times against ``shiftlab train``: the
default experiment's data (all 640 synthetic pairs, as the data module makes them) and
network, built directly, and one training step; no Lightning, no Hydra.

    .venv/bin/python bench/first_step_plain.py OUT_FILE

Writes the wall-clock time at the end of the first step to OUT_FILE. The values are those
of ``conf/data/spectrogram_synth.yaml``, ``conf/model/tsconv_unet.yaml`` and
``conf/optimizer/adam.yaml`` (the test in tests/test_bench.py keeps them in step).
"""

import sys
import time

import torch

from shiftlab.data.synthetic_speech import SpeechSynthesis
from shiftlab.models.unet import TSConvUNet

torch.manual_seed(42)
synthesis = SpeechSynthesis(freq_bins=256, min_frames=48, max_frames=160)
pairs = [synthesis.pair(1234, i) for i in range(512 + 64 + 64)]  # train, val, test
batch = pairs[:16]  # one batch of the training set, padded to its longest sample
frames = max(x.shape[-1] for x, _ in batch)
inputs, targets = (
    torch.stack([torch.nn.functional.pad(torch.from_numpy(p[k]), (0, frames - p[k].shape[-1]))
                 for p in batch]).unsqueeze(1)
    for k in (0, 1)
)  # fmt: skip
net = TSConvUNet(1, 1, freq_bins=256).to(memory_format=torch.channels_last)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
x = inputs.contiguous(memory_format=torch.channels_last)
loss = torch.nn.functional.mse_loss(net(x), targets)
loss.backward()
optimizer.step()
with open(sys.argv[1], "w") as f:
    f.write(repr(time.time()))
