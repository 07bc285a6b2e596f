"""MOT: imputation by optimal transport (Muzellec, Josse, Boyer & Cuturi, ICML 2020).

The idea: two random batches of a well-imputed table should look alike, so the imputed
values are chosen to minimise the Sinkhorn divergence between random batch pairs.
Written here after the authors' code (github.com/BorisMuzellec/MissingDataOT,
``imputers.py``, ``utils.py``) as the DiffPuter authors ran it
(``baselines/OT_benchmark.py``): their Sinkhorn loss came from ``geomloss``;
:func:`sinkhorn_divergence` computes the same quantity in plain torch, so no new
dependency is needed.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import MixedImputer
from ._torch_common import build_seeded, non_finite_error, resolve_device, seeds

__all__ = ["MOTBaseline", "batch_size_for", "pick_epsilon", "sinkhorn_divergence"]


def pick_epsilon(
    x: np.ndarray, rng: np.random.Generator, quant: float = 0.5, mult: float = 0.05
) -> float:
    """The authors' regularisation: ``mult`` times the ``quant`` quantile of the halved
    squared distances between rows of the mean-filled ``x`` (at most 2,000 rows)."""
    filled = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    rows = filled[rng.choice(len(filled), min(2000, len(filled)), replace=False)]
    dists = (((rows[:, None, :] - rows[None, :, :]) ** 2).sum(-1) / 2).ravel()
    dists = np.sort(dists[dists > 0])
    if len(dists) == 0:
        return mult
    return float(dists[max(int(quant * len(dists)) - 1, 0)]) * mult  # torch.kthvalue's k


def batch_size_for(n: int, batch_size: int) -> int:
    """The authors' rule: a batch larger than half the rows shrinks to a power of two."""
    return batch_size if batch_size <= n // 2 else 2 ** int(math.log2(max(n // 2, 1)))


def _softmin(eps: float, cost: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``-eps log sum_j exp(h_j - C_ij / eps)`` over the columns of ``cost``."""
    return -eps * torch.logsumexp(h[None, :] - cost / eps, dim=1)


def _sq_cost(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``|a_i - b_j|^2 / 2`` by ``|a|^2 + |b|^2 - 2 a b^T``, as geomloss's tensorized
    backend computes it: one matrix product instead of an (n, m, D) tensor."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return sq.clamp_min(0) / 2


def _symmetric_sinkhorn(
    x: torch.Tensor, y: torch.Tensor, a_log: torch.Tensor, b_log: torch.Tensor, schedule: list
) -> tuple[torch.Tensor, ...]:
    """The four dual potentials (xy, yx, xx, yy) after epsilon-scaling, without gradients.

    Each step updates all four from the previous ones and averages (symmetric updates).
    """
    costs = [_sq_cost(x, y), _sq_cost(y, x), _sq_cost(x, x), _sq_cost(y, y)]
    logs = [b_log, a_log, a_log, b_log]  # the weights each potential sums over
    pots = [_softmin(schedule[0], c, w) for c, w in zip(costs, logs, strict=True)]
    for eps in schedule:
        f_ba, g_ab, f_aa, g_bb = pots
        duals = [g_ab, f_ba, f_aa, g_bb]  # the potential each update reads
        pots = [
            (p + _softmin(eps, c, w + d / eps)) / 2
            for p, c, w, d in zip(pots, costs, logs, duals, strict=True)
        ]
    return tuple(pots)


def sinkhorn_divergence(
    x: torch.Tensor, y: torch.Tensor, blur: float, scaling: float = 0.9
) -> torch.Tensor:
    """Debiased Sinkhorn divergence between uniform point clouds, cost ``|x - y|^2 / 2``.

    What ``geomloss.SamplesLoss("sinkhorn", p=2, blur=blur, scaling=scaling)`` returns:
    entropic regularisation ``blur^2``, reached by epsilon-scaling from the squared
    diameter of the clouds; symmetric (averaged) log-domain Sinkhorn updates run without
    gradients and one last extrapolation with them, so gradients flow through the cost
    only, as the envelope theorem allows. Values and gradients agree with geomloss 0.2.6
    (checked to 1e-12 on random clouds).

    Parameters
    ----------
    x : Tensor of shape (n, D)
    y : Tensor of shape (m, D)
    blur : float
    scaling : float

    Returns
    -------
    Tensor of shape ()
        ``OT(x, y) - OT(x, x) / 2 - OT(y, y) / 2``.
    """

    a_log = torch.full((len(x),), -math.log(len(x)), dtype=x.dtype, device=x.device)
    b_log = torch.full((len(y),), -math.log(len(y)), dtype=y.dtype, device=y.device)
    with torch.no_grad():
        both = torch.cat([x, y])
        diameter = max(float((both.max(0).values - both.min(0).values).norm()), blur)
        steps = np.arange(2 * math.log(diameter), 2 * math.log(blur), 2 * math.log(scaling))
        schedule = [diameter**2, *np.exp(steps), blur**2]
        f_ba, g_ab, f_aa, g_bb = _symmetric_sinkhorn(x, y, a_log, b_log, schedule)
    # last extrapolation, differentiable through the costs; as geomloss, each potential
    # differentiates through its own cloud only (the other argument detached), which
    # gives the envelope-theorem gradient of each dual term
    eps = schedule[-1]
    f_ba, g_ab = (
        _softmin(eps, _sq_cost(x, y.detach()), b_log + g_ab / eps),
        _softmin(eps, _sq_cost(y, x.detach()), a_log + f_ba / eps),
    )
    f_aa = _softmin(eps, _sq_cost(x, x.detach()), a_log + f_aa / eps)
    g_bb = _softmin(eps, _sq_cost(y, y.detach()), b_log + g_bb / eps)
    return (f_ba - f_aa).mean() + (g_ab - g_bb).mean()


def _round_robin_model(d: int, kind: str) -> nn.Module:
    """Predict one column from the ``d - 1`` others (the authors' linear or MLP model)."""
    k = max(d - 1, 1)
    if kind == "linear":
        return nn.Linear(k, 1)
    return nn.Sequential(
        nn.Linear(k, 2 * k), nn.ReLU(), nn.Linear(2 * k, k), nn.ReLU(), nn.Linear(k, 1)
    )


class MOTBaseline(MixedImputer):
    """Sinkhorn batch imputation (MOT), with the authors' round-robin variant.

    On the standardised one-hot encoding (the DiffPuter authors standardised every
    column, binary codes of categories included); categorical blocks decoded by argmax.

    ``variant="sinkhorn"`` is the paper's Algorithm 1: every missing cell is a
    parameter, initialised at its column mean plus ``N(0, noise^2)``, and RMSprop
    minimises the Sinkhorn divergence between two random batches per step. It imputes
    only the rows it was fitted on (in-sample only, as the DiffPuter paper says).

    ``variant="linear"`` or ``"mlp"`` is Algorithm 3 (round robin): one model per column
    predicts it from the others; sweeping the columns in random order, each model takes
    ``n_inner`` Adam steps on the sum of ``n_pairs`` divergences between a random batch
    and a batch of rows where that column is observed, then fills its column; sweeps stop
    when the imputation moves less than ``tol`` times the largest observed magnitude, or
    after ``max_iter``. New rows are imputed by sweeping the fitted models over them
    (out-of-sample), starting from the training column means.

    Parameters
    ----------
    variant : {"sinkhorn", "linear", "mlp"}, default="sinkhorn"
    n_iter : int, default=12000
        Algorithm 1's steps (the DiffPuter authors' ``--niter``; the authors' class
        default is 2000).
    batch_size : int, default=128
    lr : float, default=1e-2
    epsilon : float or None, default=None
        The ``blur`` of the divergence; None: :func:`pick_epsilon` (median x 0.05).
    noise : float, default=0.1
    max_iter : int, default=15
        Round-robin sweeps (DiffPuter authors' ``--max_iter``; the class default is 10).
    n_inner : int, default=15
        Round-robin steps per column and sweep.
    n_pairs : int, default=10
        Batch pairs per round-robin step.
    weight_decay : float, default=1e-5
    tol : float, default=1e-3
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    epsilon_ : float
    loss_history_ : list of float
    n_iter_ : int
        Steps (sinkhorn) or sweeps (round robin) run.
    """

    _parameter_constraints: dict = {
        "variant": [StrOptions({"sinkhorn", "linear", "mlp"})],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "epsilon": [Interval(Real, 0, None, closed="neither"), None],
        "noise": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_inner": [Interval(Integral, 1, None, closed="left")],
        "n_pairs": [Interval(Integral, 1, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        variant: str = "sinkhorn",
        n_iter: int = 12_000,
        batch_size: int = 128,
        lr: float = 1e-2,
        epsilon: float | None = None,
        noise: float = 0.1,
        max_iter: int = 15,
        n_inner: int = 15,
        n_pairs: int = 10,
        weight_decay: float = 1e-5,
        tol: float = 1e-3,
        device: str = "auto",
        random_state: Any = None,
    ):
        self.variant = variant
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.lr = lr
        self.epsilon = epsilon
        self.noise = noise
        self.max_iter = max_iter
        self.n_inner = n_inner
        self.n_pairs = n_pairs
        self.weight_decay = weight_decay
        self.tol = tol
        self.device = device
        self.random_state = random_state

    @property
    def out_of_sample(self) -> bool:
        return self.variant != "sinkhorn"

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        if len(x) < 4:
            raise ValueError(f"MOT needs at least 4 rows (two batches of 2); got {len(x)}")
        device = resolve_device(self.device)
        self._seeds = seeds(self.random_state, device)
        eps = self.epsilon if self.epsilon is not None else pick_epsilon(x, self._seeds.numpy)
        self.epsilon_ = eps
        data = torch.from_numpy(np.nan_to_num(x)).double().to(device)
        mask = torch.from_numpy(np.isnan(x)).to(device)
        start = data + mask * (
            torch.from_numpy(np.nan_to_num(np.nanmean(x, axis=0))).to(device)
            + self.noise * torch.randn(data.shape, generator=self._seeds.torch, device=device,
                                       dtype=data.dtype)
        )  # fmt: skip
        self.loss_history_, self.n_iter_ = [], 0
        if self.variant != "sinkhorn":
            self.models_, self.tol_ = None, 0.0
        if not bool(mask.any()):  # nothing to impute (nor to train round-robin models on)
            return x.copy()
        fit = self._fit_sinkhorn if self.variant == "sinkhorn" else self._fit_round_robin
        return fit(start, mask).cpu().numpy()

    def _pair(
        self, n: int, bs: int, device: torch.device, pool: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two random batches of row indices (the second from ``pool`` when given)."""
        rng = self._seeds.numpy
        first = rng.choice(n, bs, replace=False)
        if pool is None:
            second = rng.choice(n, bs, replace=False)
        else:
            second = pool[rng.choice(len(pool), bs, replace=bs > len(pool))]
        return torch.from_numpy(first).to(device), torch.from_numpy(second).to(device)

    def _fit_sinkhorn(self, start: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Algorithm 1: the missing cells are the parameters."""
        n = len(start)
        bs = batch_size_for(n, self.batch_size)
        imps = start[mask].clone().requires_grad_(True)
        optimizer = torch.optim.RMSprop([imps], lr=self.lr)
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            filled = start.masked_scatter(mask, imps)
            i1, i2 = self._pair(n, bs, start.device)
            loss = sinkhorn_divergence(filled[i1], filled[i2], self.epsilon_)
            if not torch.isfinite(loss):
                raise non_finite_error("MOT")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            self.n_iter_ += 1
            if self.n_iter_ % 100 == 1:
                self.loss_history_.append(loss.detach().item())
        return start.masked_scatter(mask, imps.detach())

    def _fit_round_robin(self, start: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Algorithm 3: one model per column, trained in turn."""
        n, d = start.shape
        bs = batch_size_for(n, self.batch_size)
        models = build_seeded(
            lambda: [_round_robin_model(d, self.variant).double().to(start.device)
                     for _ in range(d)],
            self._seeds.init,
        )  # fmt: skip
        optimizers = [
            torch.optim.Adam(m.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            for m in models
        ]
        tol = self.tol * float(start[~mask].abs().max()) if bool((~mask).any()) else 0.0
        filled = start.clone()
        mask_np = mask.cpu().numpy()
        loss = torch.tensor(float("nan"))
        for sweep in range(1, self.max_iter + 1):
            self.n_iter_ = sweep
            old = filled.clone()
            for j in self._seeds.numpy.permutation(d):
                rows = mask[:, j]
                if not bool(rows.any()):
                    continue
                pool = np.flatnonzero(~mask_np[:, j])
                for _ in range(self.n_inner):
                    trial = filled.clone()
                    trial[rows, j] = _predict(models[j], filled[rows], j)
                    loss = sum(
                        sinkhorn_divergence(trial[i1], trial[i2], self.epsilon_)
                        for i1, i2 in (
                            self._pair(n, bs, start.device, pool) for _ in range(self.n_pairs)
                        )
                    )
                    if not torch.isfinite(loss):
                        raise non_finite_error("MOT")
                    optimizers[j].zero_grad()
                    loss.backward()
                    optimizers[j].step()
                with torch.no_grad():
                    filled[rows, j] = _predict(models[j], filled[rows], j)
            self.loss_history_.append(loss.detach().item() / self.n_pairs)
            if float((filled - old).abs().max()) < tol:
                break
        self.models_ = [m.eval() for m in models]
        self.tol_ = tol
        return filled.detach()

    @torch.no_grad()
    def _impute_new(self, x: np.ndarray) -> np.ndarray:
        if not self.out_of_sample:  # Algorithm 1 has no model to apply to new rows
            return super()._impute_new(x)
        if self.models_ is None:
            raise ValueError(
                "MOT (round robin) was fitted on a table without missing cells: it trained "
                "no column model, so it cannot impute new rows"
            )
        device = next(self.models_[0].parameters()).device
        mask = torch.from_numpy(np.isnan(x)).to(device)
        filled = torch.from_numpy(np.nan_to_num(x)).double().to(device)  # training means: 0
        order_rng = np.random.default_rng(self._seeds.transform)
        for _ in range(self.max_iter):
            old = filled.clone()
            for j in order_rng.permutation(x.shape[1]):
                rows = mask[:, j]
                if bool(rows.any()):
                    filled[rows, j] = _predict(self.models_[j], filled[rows], j)
            if float((filled - old).abs().max()) < self.tol_:
                break
        return filled.cpu().numpy()


def _predict(model: nn.Module, rows: torch.Tensor, j: int) -> torch.Tensor:
    """Column ``j`` of ``rows`` predicted from their other columns."""
    others = torch.cat([rows[:, :j], rows[:, j + 1 :]], dim=1)
    if others.shape[1] == 0:  # a one-column table: nothing to predict from
        others = torch.zeros(len(rows), 1, dtype=rows.dtype, device=rows.device)
    return model(others).squeeze(-1)
