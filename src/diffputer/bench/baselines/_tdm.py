"""TDM: transformed distribution matching (Zhao, Sun, Shen, Sinha & Tang, ICML 2023).

Like MOT, every missing cell is a parameter and two random batches of the imputed table
are made to look alike; but the batches are compared after an invertible neural map
``f`` (a RealNVP flow) that is learned jointly, with the exact optimal-transport cost
under the Euclidean distance: both the imputations and ``f`` take an RMSprop step on
``OT(f(X1), f(X2))`` every iteration. Written here after the authors' code
(github.com/hezgit/TDM, ``tdm.py``, ``run_tdm.py``) as the DiffPuter authors ran it:
their flow is FrEIA's ``SequenceINN`` of ``RNVPCouplingBlock``s and their OT cost is
POT's ``ot.emd2``; with two uniform batches of equal size the exact transport plan is
an assignment, which :func:`scipy.optimize.linear_sum_assignment` finds, so neither
package is needed.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.utils._param_validation import Interval
from torch import nn

from ._base import MixedImputer
from ._ot import batch_size_for
from ._torch_common import build_seeded, non_finite_error, resolve_device, seeds

__all__ = ["TDMBaseline", "exact_ot"]


def exact_ot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact OT cost between two uniform clouds of equal size, cost ``|x - y|`` (Euclidean).

    The optimal plan is a permutation (Birkhoff); gradients flow through the matched
    costs, as through ``ot.emd2``.
    """
    cost = torch.cdist(x, y, p=2)
    rows, cols = linear_sum_assignment(cost.detach().cpu().numpy())
    index = (torch.from_numpy(rows).to(cost.device), torch.from_numpy(cols).to(cost.device))
    return cost[index].mean()


class _Coupling(nn.Module):
    """FrEIA's ``RNVPCouplingBlock`` (clamp 2, atan soft clamp), forward direction only."""

    def __init__(self, d: int, width: int, clamp: float = 2.0):
        super().__init__()
        self.d1, self.d2 = d // 2, d - d // 2
        self.clamp = clamp

        def subnet(d_in: int, d_out: int) -> nn.Sequential:  # run_tdm.py's subnet_fc
            return nn.Sequential(
                nn.Linear(d_in, width), nn.SELU(), nn.Linear(width, width), nn.SELU(),
                nn.Linear(width, d_out),
            )  # fmt: skip

        self.s1, self.t1 = subnet(self.d1, self.d2), subnet(self.d1, self.d2)
        self.s2, self.t2 = subnet(self.d2, self.d1), subnet(self.d2, self.d1)

    def _scale(self, s: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.clamp * 0.636 * torch.atan(s / self.clamp))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, : self.d1], x[:, self.d1 :]
        y1 = self._scale(self.s2(x2)) * x1 + self.t2(x2)
        y2 = self._scale(self.s1(y1)) * x2 + self.t1(y1)
        return torch.cat([y1, y2], dim=1)


def _flow(d: int, depth: int, width_factor: int) -> nn.Module:
    """``depth`` coupling blocks with subnets of width ``width_factor * d`` (identity if d < 2)."""
    if d < 2:
        return nn.Identity()
    return nn.Sequential(*(_Coupling(d, width_factor * d) for _ in range(depth)))


class TDMBaseline(MixedImputer):
    """Transformed distribution matching, in-sample only (missing cells are parameters).

    On the standardised one-hot encoding (the DiffPuter authors standardised every
    column); categorical blocks decoded by argmax. Missing cells start at their column
    mean plus ``N(0, noise^2)``. With one encoded column the flow has nothing to couple
    and is the identity (TDM is then plain exact-OT matching).

    Parameters
    ----------
    n_iter : int, default=12000
        The DiffPuter authors' ``--niter`` (the TDM demo uses 10,000).
    batch_size : int, default=128
        As the DiffPuter authors (the demo uses 64 on a 210-row table; ``run_tdm.py``
        defaults to 512). Shrunk to a power of two below half the rows, as in MOT.
    lr : float, default=1e-2
        RMSprop, for both the imputations and the flow.
    network_depth : int, default=3
        Coupling blocks.
    network_width : int, default=2
        Subnet width as a multiple of the number of encoded columns.
    noise : float, default=0.1
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    flow_ : torch.nn.Module
    loss_history_ : list of float
        OT cost every 100 iterations.
    """

    out_of_sample = False
    _parameter_constraints: dict = {
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "network_depth": [Interval(Integral, 1, None, closed="left")],
        "network_width": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_iter: int = 12_000,
        batch_size: int = 128,
        lr: float = 1e-2,
        network_depth: int = 3,
        network_width: int = 2,
        noise: float = 0.1,
        device: str = "auto",
        random_state: Any = None,
    ):
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.lr = lr
        self.network_depth = network_depth
        self.network_width = network_width
        self.noise = noise
        self.device = device
        self.random_state = random_state

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        if len(x) < 4:
            raise ValueError(f"TDM needs at least 4 rows (two batches of 2); got {len(x)}")
        self.loss_history_ = []
        if not np.isnan(x).any():  # nothing to impute
            return x.copy()
        device = resolve_device(self.device)
        s = seeds(self.random_state, device)
        n, d = x.shape
        data = torch.from_numpy(np.nan_to_num(x)).double().to(device)
        mask = torch.from_numpy(np.isnan(x)).to(device)
        means = torch.from_numpy(np.nan_to_num(np.nanmean(x, axis=0))).to(device)
        noise = torch.randn(data.shape, generator=s.torch, device=device, dtype=data.dtype)
        imps = (means + self.noise * noise)[mask].clone().requires_grad_(True)
        flow = build_seeded(
            lambda: _flow(d, self.network_depth, self.network_width).double().to(device), s.init
        )
        optimizers = [torch.optim.RMSprop([imps], lr=self.lr)]
        if any(True for _ in flow.parameters()):
            optimizers.append(torch.optim.RMSprop(flow.parameters(), lr=self.lr))
        bs = batch_size_for(n, self.batch_size)
        for it in range(self.n_iter):
            filled = data.masked_scatter(mask, imps)
            i1, i2 = (
                torch.from_numpy(s.numpy.choice(n, bs, replace=False)).to(device) for _ in "12"
            )
            loss = exact_ot(flow(filled[i1]), flow(filled[i2]))
            if not torch.isfinite(loss):
                raise non_finite_error("TDM")
            for opt in optimizers:
                opt.zero_grad()
            loss.backward()  # the authors step both on the gradient of the same loss
            for opt in optimizers:
                opt.step()
            if it % 100 == 0:
                self.loss_history_.append(loss.detach().item())
        self.flow_ = flow.eval()
        return data.masked_scatter(mask, imps.detach()).cpu().numpy()
