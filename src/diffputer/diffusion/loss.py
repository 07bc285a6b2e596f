"""The EDM denoising loss (paper Eq. 3; Karras et al. 2022, Sec. 5)."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["EDMLoss"]

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class EDMLoss:
    """Per-cell EDM loss ``lambda(s) * (D(y + s eps, s) - y)^2``.

    Per row, ``ln s ~ N(P_mean, P_std^2)`` and ``lambda(s) = (s^2 + sd^2) / (s sd)^2``.

    Parameters
    ----------
    P_mean, P_std : float
        Log-normal noise distribution (EDM: -1.2, 1.2).
    sigma_data : float
        Data standard deviation in the scaled space (0.5).
    """

    def __init__(self, P_mean: float = -1.2, P_std: float = 1.2, sigma_data: float = 0.5):
        self.P_mean = P_mean
        self.P_std = P_std
        self.sigma_data = sigma_data

    def weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2

    def __call__(
        self,
        net: Denoiser,
        y: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        sigma: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Loss of every cell, shape (n, D); average it (optionally weighted) yourself.

        ``sigma`` (shape (n, 1)) and ``noise`` (shape of ``y``) may be fixed by the caller
        (a validation loss on a fixed noise grid); otherwise they are drawn. ``known``
        (float mask of ``y``'s shape, conditional denoisers only): the cells whose clean
        values the network reads; weight the loss to the other cells yourself.
        """
        if sigma is None:
            rnd = torch.randn((y.shape[0], 1), generator=generator, device=y.device, dtype=y.dtype)
            sigma = (rnd * self.P_std + self.P_mean).exp()
        if noise is None:
            noise = torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
        if known is None:
            denoised = net(y + noise * sigma, sigma)
        else:
            denoised = net(y + noise * sigma, sigma, (y, known))
        return self.weight(sigma) * (denoised - y) ** 2
