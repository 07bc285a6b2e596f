"""The EDM denoising loss (paper Eq. 3; Karras et al. 2022, Sec. 5)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .network import sigma_rows

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
    rows_per_sigma : int, default=1
        Not in EDM (1 reproduces it): draw one noise level per this many rows, shared
        by consecutive rows of the batch (:func:`~diffputer.diffusion.network.sigma_rows`).
        Every row's level still has the log-normal law above (rows arrive shuffled);
        only levels within a batch repeat, and the network embeds each level once.
    """

    def __init__(
        self,
        P_mean: float = -1.2,
        P_std: float = 1.2,
        sigma_data: float = 0.5,
        rows_per_sigma: int = 1,
    ):
        if rows_per_sigma < 1:
            raise ValueError(f"rows_per_sigma must be >= 1, got {rows_per_sigma}")
        self.P_mean = P_mean
        self.P_std = P_std
        self.sigma_data = sigma_data
        self.rows_per_sigma = rows_per_sigma

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

        ``sigma`` (shape (n, 1), or (m, 1) shared as the network allows) and ``noise``
        (shape of ``y``) may be fixed by the caller (a validation loss on a fixed noise
        grid); otherwise they are drawn. ``known``
        (float mask of ``y``'s shape, conditional denoisers only): the cells whose clean
        values the network reads; weight the loss to the other cells yourself.
        """
        n = y.shape[0]
        if sigma is None:
            m = -(-n // self.rows_per_sigma)
            rnd = torch.randn((m, 1), generator=generator, device=y.device, dtype=y.dtype)
            sigma = (rnd * self.P_std + self.P_mean).exp()
        if noise is None:
            noise = torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
        rows = sigma_rows(n, sigma.shape[0], y.device)
        per_row = sigma if rows is None else sigma[rows]
        if known is None:
            denoised = net(y + noise * per_row, sigma)
        else:
            denoised = net(y + noise * per_row, sigma, (y, known))
        return self.weight(per_row) * (denoised - y) ** 2
