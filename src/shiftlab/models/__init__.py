"""Networks: plain ``nn.Module``s that know nothing of Lightning or file formats."""

from shiftlab.models.tsconv import TSConv2d, time_shift
from shiftlab.models.unet import TSConvUNet

__all__ = ["TSConv2d", "TSConvUNet", "time_shift"]
