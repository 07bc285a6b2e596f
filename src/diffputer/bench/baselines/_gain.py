"""GAIN (Yoon, Jordon & van der Schaar, ICML 2018), written here in torch.

Follows the authors' code (github.com/jsyoon0823/GAIN, ``gain.py``): min-max scaling
to [0, 1], missing cells replaced by ``U(0, 0.01)`` noise, a generator and a
discriminator that are both three-layer MLPs of width ``D`` (the number of encoded
columns), the hint ``H = M * B`` with ``B ~ Bernoulli(hint_rate)``, and the losses

- discriminator: ``-mean(M log D + (1 - M) log(1 - D))``;
- generator: ``-mean((1 - M) log D) + alpha * mean((M x - M G)^2) / mean(M)``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from ._base import MixedImputer
from ._torch_common import MinMax, build_seeded, non_finite_error, resolve_device, seeds

__all__ = ["GAINBaseline"]

_EPS = 1e-8  # inside the logs, as the authors' code


def _mlp(d: int) -> nn.Sequential:
    """``Linear(2D, D) ReLU Linear(D, D) ReLU Linear(D, D) Sigmoid``, the authors' init."""
    net = nn.Sequential(
        nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d), nn.Sigmoid()
    )
    for layer in net:
        if isinstance(layer, nn.Linear):  # authors' xavier_init: N(0, 2 / fan_in), zero bias
            nn.init.normal_(layer.weight, std=math.sqrt(2.0 / layer.in_features))
            nn.init.zeros_(layer.bias)
    return net


class GAINBaseline(MixedImputer):
    """Generative adversarial imputation nets.

    On the standardised one-hot encoding, min-max scaled per column as the authors do;
    categorical blocks are decoded by argmax (the authors round columns with fewer than
    20 distinct values instead). In-sample: the generator's output on the training rows
    after the last iteration. Out-of-sample: the same generator on the new rows (fresh
    ``U(0, 0.01)`` noise in their missing cells, drawn from a fixed seed).

    Parameters
    ----------
    batch_size : int, default=128
        Authors' default (``main_letter_spam.py``).
    hint_rate : float, default=0.9
        Probability that the discriminator is told whether a cell was observed.
    alpha : float, default=100
        Weight of the reconstruction loss on observed cells.
    n_iter : int, default=10000
        Training iterations (one discriminator and one generator step each).
    lr : float, default=1e-3
        Adam, as TensorFlow's ``AdamOptimizer()`` default the authors use.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    generator_ : torch.nn.Module
    loss_history_ : list of (float, float)
        Discriminator and generator losses, every 100 iterations.
    """

    _parameter_constraints: dict = {
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "hint_rate": [Interval(Real, 0, 1, closed="both")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        batch_size: int = 128,
        hint_rate: float = 0.9,
        alpha: float = 100.0,
        n_iter: int = 10_000,
        lr: float = 1e-3,
        device: str = "auto",
        random_state: Any = None,
    ):
        self.batch_size = batch_size
        self.hint_rate = hint_rate
        self.alpha = alpha
        self.n_iter = n_iter
        self.lr = lr
        self.device = device
        self.random_state = random_state

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        device = resolve_device(self.device)
        self._seeds = seeds(self.random_state, device)
        self.scaler_ = MinMax(x)
        u = torch.from_numpy(np.nan_to_num(self.scaler_.scale(x))).float().to(device)
        m = torch.from_numpy(~np.isnan(x)).float().to(device)  # 1 = observed (authors' M)
        d = x.shape[1]
        gen, disc = build_seeded(lambda: (_mlp(d).to(device), _mlp(d).to(device)), self._seeds.init)
        opt_g = torch.optim.Adam(gen.parameters(), lr=self.lr)
        opt_d = torch.optim.Adam(disc.parameters(), lr=self.lr)
        self.loss_history_ = []
        for it in range(self.n_iter):
            d_loss, g_loss = self._step(u, m, gen, disc, opt_g, opt_d)
            if it % 100 == 0:
                self.loss_history_.append((d_loss, g_loss))
        self.generator_ = gen.eval()
        return self._impute(x, self._seeds.torch)

    def _step(self, u, m, gen, disc, opt_g, opt_d) -> tuple[float, float]:
        """One discriminator step then one generator step on the same mini-batch."""
        n = len(u)
        rows = torch.from_numpy(self._seeds.numpy.permutation(n)[: min(self.batch_size, n)])
        u_b, m_b = u[rows.to(u.device)], m[rows.to(u.device)]
        gen_t = self._seeds.torch
        noise = torch.rand(u_b.shape, generator=gen_t, device=u.device) * 0.01
        hint = m_b * (torch.rand(u_b.shape, generator=gen_t, device=u.device) < self.hint_rate)
        x_b = m_b * u_b + (1 - m_b) * noise

        # discriminator: tell observed (M = 1) from imputed cells
        g_sample = gen(torch.cat([x_b, m_b], dim=1)).detach()
        d_prob = disc(torch.cat([m_b * x_b + (1 - m_b) * g_sample, hint], dim=1))
        d_loss = -torch.mean(
            m_b * torch.log(d_prob + _EPS) + (1 - m_b) * torch.log(1 - d_prob + _EPS)
        )
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()

        # generator: fool the discriminator on imputed cells, reconstruct observed ones
        g_sample = gen(torch.cat([x_b, m_b], dim=1))
        d_prob = disc(torch.cat([m_b * x_b + (1 - m_b) * g_sample, hint], dim=1))
        adversarial = -torch.mean((1 - m_b) * torch.log(d_prob + _EPS))
        mse = torch.mean((m_b * x_b - m_b * g_sample) ** 2) / torch.mean(m_b)
        g_loss = adversarial + self.alpha * mse
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
            raise non_finite_error("GAIN")
        return d_loss.detach().item(), g_loss.detach().item()

    @torch.no_grad()
    def _impute(self, x: np.ndarray, generator: torch.Generator) -> np.ndarray:
        device = next(self.generator_.parameters()).device
        u = torch.from_numpy(np.nan_to_num(self.scaler_.scale(x))).float().to(device)
        m = torch.from_numpy(~np.isnan(x)).float().to(device)
        noise = torch.rand(u.shape, generator=generator, device=device) * 0.01
        x_in = m * u + (1 - m) * noise
        out = self.generator_(torch.cat([x_in, m], dim=1)).cpu().double().numpy()
        return np.where(np.isnan(x), self.scaler_.unscale(out), x)

    def _impute_new(self, x: np.ndarray) -> np.ndarray:
        generator = torch.Generator(device=next(self.generator_.parameters()).device)
        return self._impute(x, generator.manual_seed(self._seeds.transform))
