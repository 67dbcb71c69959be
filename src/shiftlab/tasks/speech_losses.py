"""The multi-resolution STFT loss on waveforms (Yamamoto et al., Parallel WaveGAN, 2020)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence plus log-magnitude L1, averaged over several STFT resolutions.

    Args:
        resolutions: ``(n_fft, hop_length)`` pairs; each uses a periodic Hann window.
    """

    def __init__(
        self, resolutions: Sequence[Sequence[int]] = ((512, 128), (1024, 256), (256, 64))
    ) -> None:
        super().__init__()
        self.resolutions = [(int(n), int(h)) for n, h in resolutions]

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """``estimate`` and ``reference``: N × samples waveforms."""
        total = estimate.new_zeros(())
        for n_fft, hop in self.resolutions:
            window = torch.hann_window(n_fft, device=estimate.device, dtype=estimate.dtype)
            est, ref = (
                torch.stft(x, n_fft, hop, window=window, return_complex=True).abs().clamp_min(1e-7)
                for x in (estimate, reference)
            )
            convergence = torch.linalg.norm(ref - est) / torch.linalg.norm(ref).clamp_min(1e-7)
            log_magnitude = (ref.log() - est.log()).abs().mean()
            total = total + convergence + log_magnitude
        return total / len(self.resolutions)
