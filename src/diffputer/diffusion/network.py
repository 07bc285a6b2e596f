"""The denoising network: an MLP backbone behind EDM preconditioning.

Paper App. D.4 (and the authors' ``model.py``): a sinusoidal noise embedding passed
through a two-layer MLP is added to a linear projection of the input, followed by an
MLP of widths ``h -> 2h -> 2h -> h -> D`` with SiLU activations. The backbone never
sees the noise scaling; :class:`EDMPrecond` (Karras et al. 2022, Table 1) wraps it.

Not in the paper: a *conditional* denoiser (``conditional=True``, as in CSDI, Tashiro
et al. 2021) also receives the clean values of the cells it may condition on and the
mask saying which those are, so the E-step samples ``p(x_mis | x_obs)`` directly
instead of steering an unconditional model with RePaint-style merges.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["EDMPrecond", "MLPBackbone", "SinusoidalEmbedding", "build_denoiser", "sigma_rows"]


def sigma_rows(n: int, m: int, device: torch.device | str | None = None) -> torch.Tensor | None:
    """Which of ``m`` noise levels each of ``n`` rows uses (``None`` when ``m`` is 1 or ``n``).

    A batch may carry fewer noise levels than rows: the rows are split into ``m``
    consecutive groups of near-equal size, row ``i`` taking level ``i * m // n``. The
    network then embeds each level once (the embedding MLP is a fifth of a training
    step's arithmetic at width 128). One level broadcast to every row (``m == 1``) and
    one per row (``m == n``) need no index.
    """
    if m == n or m == 1:
        return None
    if not 1 <= m <= n:
        raise ValueError(f"cannot share {m} noise levels among {n} rows")
    return torch.arange(n, device=device) * m // n


class SinusoidalEmbedding(nn.Module):
    """Map a batch of scalars to ``[cos(f_k t), sin(f_k t)]`` with geometric frequencies.

    Parameters
    ----------
    num_channels : int
        Output width (even).
    max_positions : float, default=10000
        Base of the geometric frequency ladder ``f_k = max_positions ** (-k / (C/2))``.
    """

    def __init__(self, num_channels: int, max_positions: float = 10_000.0):
        super().__init__()
        if num_channels % 2:
            raise ValueError(f"num_channels must be even, got {num_channels}")
        half = num_channels // 2
        freqs = torch.exp(-math.log(max_positions) * torch.arange(half) / half)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.reshape(-1, 1).to(self.freqs.dtype) * self.freqs
        return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


_ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "relu": nn.ReLU}


class MLPBackbone(nn.Module):
    """``F(x, c_noise)``: the paper's five-layer MLP with an additive noise embedding.

    Parameters
    ----------
    n_features : int
        Width D of the encoded table.
    hidden_dim : int
        Width h (paper: 1024, about 10.5 M parameters).
    conditional : bool, default=False
        Also take the known cells' values and the known-cell mask (the input
        projection then reads ``3 D`` columns instead of ``D``).
    activation : {"silu", "relu"}, default="silu"
        The nonlinearity between layers (the paper's is SiLU). It has no weights, so
        the choice does not change the parameter names or shapes.
    """

    def __init__(
        self,
        n_features: int,
        hidden_dim: int,
        conditional: bool = False,
        activation: str = "silu",
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        act = _ACTIVATIONS[activation]
        h = hidden_dim
        self.conditional = conditional
        self.embed_noise = SinusoidalEmbedding(h)
        self.noise_mlp = nn.Sequential(nn.Linear(h, h), act(), nn.Linear(h, h))
        self.proj = nn.Linear(3 * n_features if conditional else n_features, h)
        self.mlp = nn.Sequential(
            nn.Linear(h, 2 * h),
            act(),
            nn.Linear(2 * h, 2 * h),
            act(),
            nn.Linear(2 * h, h),
            act(),
            nn.Linear(h, n_features),
        )

    def forward(
        self, x: torch.Tensor, c_noise: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``cond`` (conditional backbones only): known values and mask, shape (n, 2 D)."""
        emb = self.noise_mlp(self.embed_noise(c_noise))
        rows = sigma_rows(x.shape[0], emb.shape[0], x.device)
        if rows is not None:
            emb = emb[rows]
        if self.conditional:
            if cond is None:
                raise ValueError("a conditional backbone needs cond (known values and mask)")
            x = torch.cat([x, cond.to(x.dtype)], dim=1)
        return self.mlp(self.proj(x) + emb)


class EDMPrecond(nn.Module):
    """``D(x, s) = c_skip(s) x + c_out(s) F(c_in(s) x, c_noise(s))`` (EDM, Table 1).

    Parameters
    ----------
    backbone : nn.Module
        ``F``, called as ``backbone(x_scaled, c_noise)``.
    sigma_data : float, default=0.5
        Standard deviation of the (scaled) data; the encoder makes observed cells 0.5.
    """

    def __init__(self, backbone: nn.Module, sigma_data: float = 0.5):
        super().__init__()
        self.backbone = backbone
        self.sigma_data = sigma_data

    @property
    def conditional(self) -> bool:
        """Whether the denoiser takes the known cells (``known=`` in :meth:`forward`)."""
        return bool(getattr(self.backbone, "conditional", False))

    def coefficients(
        self, x: torch.Tensor, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """EDM's preconditioning for ``x`` at ``sigma`` (shapes as in :meth:`forward`):
        ``c_noise``, one per level (the backbone spreads it over the rows), and
        ``c_skip``, ``c_out``, ``c_in``, one per row of ``x`` (shape (n, 1), or (1, 1)
        for a single level)."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1)
        c_noise = sigma.log() / 4
        rows = sigma_rows(x.shape[0], sigma.shape[0], x.device)
        if rows is not None:
            sigma = sigma[rows]
        sd2 = self.sigma_data**2
        c_skip = sd2 / (sigma**2 + sd2)
        c_out = sigma * self.sigma_data / (sigma**2 + sd2).sqrt()
        c_in = 1.0 / (sigma**2 + sd2).sqrt()
        return c_noise, c_skip, c_out, c_in

    def forward(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor,
        known: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Denoise ``x`` (shape (n, D)) at noise level ``sigma`` (shape (n, 1), (1, 1) or ()).

        ``sigma`` may also hold ``m < n`` levels (shape (m, 1)), shared by consecutive
        groups of rows as :func:`sigma_rows` says; each level is embedded once.

        ``known`` (conditional denoisers only): ``(values, mask)``, both of shape (n, D),
        the mask 1.0 on the cells whose clean ``values`` the network may read and 0.0 on
        the cells it denoises. The noisy input is zeroed on known cells, so only the
        other cells of ``x`` matter (and only they are meaningful in the output).
        """
        c_noise, c_skip, c_out, c_in = self.coefficients(x, sigma)
        if self.conditional:
            if known is None:
                raise ValueError("a conditional denoiser needs known=(values, mask)")
            values, mask = known
            mask = mask.to(x.dtype)
            cond = torch.cat([values.to(x.dtype) * mask, mask], dim=1)
            F_x = self.backbone(c_in * x * (1 - mask), c_noise, cond)
        else:
            F_x = self.backbone(c_in * x, c_noise)  # a (1, 1) sigma embeds once, broadcast
        return c_skip * x + c_out * F_x.to(x.dtype)


def build_denoiser(
    n_features: int,
    hidden_dim: int,
    sigma_data: float = 0.5,
    conditional: bool = False,
    activation: str = "silu",
) -> EDMPrecond:
    """The paper's denoiser for a table of ``n_features`` encoded columns (with
    ``conditional=True``, the variant that also reads the known cells; with
    ``activation="relu"``, ReLU between the layers instead of the paper's SiLU)."""
    backbone = MLPBackbone(n_features, hidden_dim, conditional=conditional, activation=activation)
    return EDMPrecond(backbone, sigma_data=sigma_data)
