"""Scores of an imputation against the truth, independent of any method's encoder.

ALGORITHM.md, "Evaluation protocol": numeric errors are measured in z units, dividing by
the population std of the **observed training cells** of each column (the same scale
for in-sample and out-of-sample scoring); MAE and RMSE are pooled over all masked
numeric cells; accuracy is pooled over all masked categorical cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ZScale", "accuracy", "mae", "rmse", "score_imputation", "z_errors"]


@dataclass(frozen=True)
class ZScale:
    """Per-column mean and population std of observed training cells.

    Attributes
    ----------
    mean, std : dict of str to float
        A constant (or empty) column gets std 1, so its errors are in raw units.
    """

    mean: dict[str, float]
    std: dict[str, float]

    @classmethod
    def fit(cls, train: pd.DataFrame, numeric: Sequence[str]) -> ZScale:
        """Statistics of the observed (non-missing) cells of ``train``'s numeric columns.

        Parameters
        ----------
        train : DataFrame
            The training rows **with their mask applied** (missing cells are NaN).
        numeric : sequence of str
        """
        mean, std = {}, {}
        for name in numeric:
            values = train[name].to_numpy(dtype=np.float64, na_value=np.nan)
            values = values[~np.isnan(values)]
            mean[name] = float(values.mean()) if values.size else 0.0
            sd = float(values.std()) if values.size else 0.0  # ddof=0: population std
            std[name] = sd if sd > 0 else 1.0
        return cls(mean, std)


def z_errors(
    truth: pd.DataFrame,
    imputed: pd.DataFrame,
    mask: np.ndarray,
    numeric: Sequence[str],
    scale: ZScale,
) -> np.ndarray:
    """``(imputed - truth) / std`` for every masked numeric cell, pooled in one array.

    Parameters
    ----------
    truth, imputed : DataFrame of shape (n, d)
        Same columns in the same order.
    mask : ndarray of shape (n, d), bool
        True where the cell was hidden.
    numeric : sequence of str
    scale : ZScale

    Returns
    -------
    ndarray of shape (n_masked_numeric_cells,)
        NaN where the imputation left a cell missing.
    """
    position = {name: j for j, name in enumerate(truth.columns)}
    parts = []
    for name in numeric:
        hidden = mask[:, position[name]]
        t = truth[name].to_numpy(dtype=np.float64, na_value=np.nan)[hidden]
        i = imputed[name].to_numpy(dtype=np.float64, na_value=np.nan)[hidden]
        parts.append((i - t) / scale.std[name])
    return np.concatenate(parts) if parts else np.empty(0)


def mae(errors: np.ndarray) -> float:
    """Mean absolute error; NaN when there is no error to average."""
    return float(np.abs(errors).mean()) if errors.size else float("nan")


def rmse(errors: np.ndarray) -> float:
    """Root mean squared error; NaN when there is no error to average."""
    return float(np.sqrt((errors**2).mean())) if errors.size else float("nan")


def accuracy(
    truth: pd.DataFrame, imputed: pd.DataFrame, mask: np.ndarray, categorical: Sequence[str]
) -> float:
    """Share of masked categorical cells imputed with their true category.

    A cell left missing counts as wrong. NaN when no categorical cell is masked.
    """
    position = {name: j for j, name in enumerate(truth.columns)}
    hits = []
    for name in categorical:
        hidden = mask[:, position[name]]
        t = truth[name].to_numpy(dtype=object)[hidden]
        i = imputed[name].to_numpy(dtype=object)[hidden]
        hits.append(np.fromiter((a == b for a, b in zip(t, i, strict=True)), bool, len(t)))
    pooled = np.concatenate(hits) if hits else np.empty(0, dtype=bool)
    return float(pooled.mean()) if pooled.size else float("nan")


def score_imputation(
    truth: pd.DataFrame,
    imputed: pd.DataFrame,
    mask: np.ndarray,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    scale: ZScale,
) -> dict[str, float]:
    """MAE and RMSE (z units) over masked numeric cells, accuracy over masked categoricals.

    Parameters
    ----------
    truth : DataFrame of shape (n, d)
        The complete table.
    imputed : DataFrame of shape (n, d)
        The imputer's output on ``truth`` with ``mask`` applied.
    mask : ndarray of shape (n, d), bool
        True where the cell was hidden.
    numeric, categorical : sequence of str
        Column names by role.
    scale : ZScale
        From the observed training cells (:meth:`ZScale.fit`).

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``acc`` (NaN where the table has no masked cell of that
        kind), ``n_numeric`` and ``n_categorical`` (masked cells scored).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> truth = pd.DataFrame({"x": [0.0, 2.0, 4.0], "c": ["a", "b", "a"]})
    >>> imputed = pd.DataFrame({"x": [0.0, 3.0, 4.0], "c": ["a", "a", "a"]})
    >>> mask = np.array([[False, False], [True, True], [False, True]])
    >>> scale = ZScale.fit(truth.mask(mask), ["x"])  # observed x: 0 and 4, std 2
    >>> score_imputation(truth, imputed, mask, numeric=["x"], categorical=["c"], scale=scale)
    {'mae': 0.5, 'rmse': 0.5, 'acc': 0.5, 'n_numeric': 1, 'n_categorical': 2}
    """
    if truth.shape != imputed.shape or mask.shape != truth.shape:
        raise ValueError(
            f"shapes differ: truth {truth.shape}, imputed {imputed.shape}, mask {mask.shape}"
        )
    if list(truth.columns) != list(imputed.columns):
        raise ValueError("truth and imputed have different columns")
    errors = z_errors(truth, imputed, mask, numeric, scale)
    position = {name: j for j, name in enumerate(truth.columns)}
    n_cat = int(sum(mask[:, position[c]].sum() for c in categorical))
    return {
        "mae": mae(errors),
        "rmse": rmse(errors),
        "acc": accuracy(truth, imputed, mask, categorical),
        "n_numeric": int(errors.size),
        "n_categorical": n_cat,
    }
