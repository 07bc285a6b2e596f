"""Noise schedules: pure functions returning a descending sigma grid that ends in 0."""

from __future__ import annotations

import torch

__all__ = ["karras_sigmas"]


def karras_sigmas(
    num_steps: int,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """EDM's rho schedule (Karras et al. 2022, Eq. 5) with a final 0 appended.

    ``sigma_i = (smax^(1/rho) + i/(M-1) (smin^(1/rho) - smax^(1/rho)))^rho``, i = 0..M-1.

    Returns
    -------
    Tensor of shape (num_steps + 1,)
        Descending noise levels, the last one 0.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if num_steps == 1:
        ramp = torch.zeros(1, dtype=torch.float64)
    else:
        ramp = torch.arange(num_steps, dtype=torch.float64) / (num_steps - 1)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas.to(device=device, dtype=torch.float32)
