"""EM for a multivariate Gaussian with missing values (Dempster, Laird & Rubin 1977).

Written here: scikit-learn has no Gaussian EM that accepts missing values, and the
algorithm is short. Every step works per missingness pattern, so each linear solve is
shared by all rows with the same missing columns.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import MixedImputer, rows_by_pattern

__all__ = ["GaussianEMBaseline", "conditional_fill"]


def conditional_fill(
    x: np.ndarray, mean: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """E-step: conditional means of the missing cells, and their summed covariances.

    Parameters
    ----------
    x : ndarray of shape (n, D)
        NaN where missing.
    mean : ndarray of shape (D,)
    cov : ndarray of shape (D, D)

    Returns
    -------
    filled : ndarray of shape (n, D)
        ``x`` with each missing part replaced by ``mu_m + S_mo S_oo^-1 (x_o - mu_o)``.
    cov_correction : ndarray of shape (D, D)
        Sum over rows of the conditional covariance ``S_mm - S_mo S_oo^-1 S_om`` placed
        on each row's missing block (what the M-step adds to the scatter matrix).
    """
    missing = np.isnan(x)
    filled = np.where(missing, 0.0, x)
    correction = np.zeros_like(cov)
    for pattern, rows in rows_by_pattern(missing):
        m, o = pattern, ~pattern
        s_mm = cov[np.ix_(m, m)]
        if o.any():
            gain = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)]).T  # S_mo S_oo^-1
            deviation = filled[np.ix_(rows, o)] - mean[o]
            filled[np.ix_(rows, m)] = mean[m] + deviation @ gain.T
            conditional = s_mm - gain @ cov[np.ix_(o, m)]
        else:
            filled[np.ix_(rows, m)] = mean[m]
            conditional = s_mm
        correction[np.ix_(m, m)] += len(rows) * conditional
    return filled, correction


class GaussianEMBaseline(MixedImputer):
    """Impute with the conditional mean under a Gaussian fitted by EM.

    On the standardised one-hot encoding. Start: mean 0 and the covariance of the
    mean-filled table. E-step: :func:`conditional_fill`. M-step:
    ``mu = mean(filled)``, ``Sigma = (scatter(filled) + sum of conditional covariances) / n``
    plus ``ridge * I``. The ridge keeps ``Sigma`` invertible: a one-hot block is
    collinear (its indicators sum to one), and some columns are nearly so. Stops when the
    largest change of ``mu`` and ``Sigma`` is below ``tol`` or after ``max_iter``.

    In-sample: the last E-step's conditional means. Out-of-sample: one E-step on the new
    rows with the fitted ``mu`` and ``Sigma``.

    Parameters
    ----------
    max_iter : int, default=100
    tol : float, default=1e-4
        In z units.
    ridge : float, default=1e-3
        Added to the diagonal of ``Sigma`` (z units: observed variances are 1).
    random_state : ignored
        The algorithm is deterministic.

    Attributes
    ----------
    mean_ : ndarray of shape (D,)
    covariance_ : ndarray of shape (D, D)
    n_iter_ : int
    """

    _parameter_constraints: dict = {
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "ridge": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        max_iter: int = 100,
        tol: float = 1e-4,
        ridge: float = 1e-3,
        random_state: Any = None,
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.ridge = ridge
        self.random_state = random_state

    def _m_step(self, filled: np.ndarray, correction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = filled.mean(axis=0)
        centred = filled - mean
        cov = (centred.T @ centred + correction) / len(filled)
        return mean, cov + self.ridge * np.eye(len(mean))

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), 0.0, x)
        mean, cov = self._m_step(filled, np.zeros((x.shape[1], x.shape[1])))
        for it in range(1, self.max_iter + 1):
            self.n_iter_ = it
            filled, correction = conditional_fill(x, mean, cov)
            new_mean, new_cov = self._m_step(filled, correction)
            change = max(np.abs(new_mean - mean).max(), np.abs(new_cov - cov).max())
            mean, cov = new_mean, new_cov
            if change < self.tol:
                break
        self.mean_, self.covariance_ = mean, cov
        return conditional_fill(x, mean, cov)[0]

    def _impute_new(self, x: np.ndarray) -> np.ndarray:
        return conditional_fill(x, self.mean_, self.covariance_)[0]
