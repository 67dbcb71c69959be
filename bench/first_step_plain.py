"""The plain PyTorch script that ``bench/startup.py`` times against ``shiftlab train``: the
default experiment's data and network, built directly, and one training step.

    .venv/bin/python bench/first_step_plain.py OUT_FILE

Writes the wall-clock time at the end of the first step to OUT_FILE. The values are those
of ``conf/data/spectrogram_synth.yaml``, ``conf/model/tsconv_unet.yaml`` and
``conf/optimizer/adam.yaml`` (the test in tests/test_bench.py keeps them in step).
"""

import sys
import time

import torch

from shiftlab.data import SpectrogramSynth
from shiftlab.models import TSConvUNet

torch.manual_seed(42)
data = SpectrogramSynth(num_train=512, num_val=64, num_test=64, seed=1234, min_frames=48,
                        max_frames=160, freq_bins=256, batch_size=16, shuffle_seed=42)  # fmt: skip
data.setup("fit")
net = TSConvUNet(1, 1, freq_bins=256).to(memory_format=torch.channels_last)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
batch = next(iter(data.train_dataloader()))
x = batch["input"].contiguous(memory_format=torch.channels_last)
loss = torch.nn.functional.mse_loss(net(x), batch["target"])
loss.backward()
optimizer.step()
with open(sys.argv[1], "w") as f:
    f.write(repr(time.time()))
