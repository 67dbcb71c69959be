"""Networks: plain ``nn.Module``s that know nothing of Lightning or file formats."""

from shiftlab.models.classifiers import LayerClassifier, TimmClassifier
from shiftlab.models.crepe import Crepe
from shiftlab.models.shift_fusions import ReLUTimeShift
from shiftlab.models.smp_models import SMPSegmentor
from shiftlab.models.tsconv import TSConv2d, time_shift
from shiftlab.models.unet import TSConvUNet
from shiftlab.models.waveform_layers import WaveformLayers

__all__ = [
    "Crepe",
    "LayerClassifier",
    "ReLUTimeShift",
    "SMPSegmentor",
    "TSConv2d",
    "TSConvUNet",
    "TimmClassifier",
    "WaveformLayers",
    "time_shift",
]
