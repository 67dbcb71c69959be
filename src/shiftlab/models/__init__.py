"""Networks: plain ``nn.Module``s that know nothing of Lightning or file formats."""

from shiftlab.models.classifiers import LayerClassifier, TimmClassifier
from shiftlab.models.smp_models import SMPSegmentor
from shiftlab.models.tsconv import TSConv2d, time_shift
from shiftlab.models.unet import TSConvUNet

__all__ = [
    "LayerClassifier",
    "SMPSegmentor",
    "TSConv2d",
    "TSConvUNet",
    "TimmClassifier",
    "time_shift",
]
