"""Missingness masks, as ALGORITHM.md ("Evaluation protocol") defines them.

Every function takes a complete table, a missing rate and an explicit
:class:`numpy.random.Generator`, and returns a boolean array of the table's shape with
**True = missing**. The same generator state gives the same mask.

- :func:`mcar`: each cell missing independently with probability ``rate``.
- :func:`mar`: a random 30% of the columns (at least one) is always observed; each
  other column goes missing with probability ``sigmoid(X_obs W + b)``.
- :func:`mnar`: the same logistic model from 30% "input" columns to the others, then
  the input columns are themselves masked MCAR at ``rate``: missingness depends on
  values that may be missing.

Logistic inputs are standardised first (the public code used raw values): numeric
columns to mean 0 / std 1, categorical columns one-hot then standardised. ``W`` is
Gaussian, rescaled so every logit column has unit variance over the table; ``b`` is
found per column by bisection so that the expected rate on the masked columns is
exactly what the overall rate needs (``rate * d / d_masked`` for MAR).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

__all__ = ["MECHANISMS", "logistic_bias", "make_mask", "mar", "mcar", "mnar"]

INPUT_FRACTION = 0.3  # ALGORITHM.md: "a random 30% of columns (at least one)"


def _check(frame: pd.DataFrame, rate: float, rng: np.random.Generator, min_cols: int) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1); got {rate!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    if frame.shape[1] < min_cols:
        raise ValueError(f"this mechanism needs at least {min_cols} columns; got {frame.shape[1]}")


def mcar(frame: pd.DataFrame, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Missing completely at random: each cell missing with probability ``rate``.

    Parameters
    ----------
    frame : DataFrame of shape (n, d)
        Only its shape is used.
    rate : float in [0, 1)
    rng : numpy.random.Generator

    Returns
    -------
    mask : ndarray of shape (n, d), bool
        True where the cell is to be hidden.
    """
    _check(frame, rate, rng, 1)
    return rng.random(frame.shape) < rate


def _standardised_inputs(frame: pd.DataFrame) -> np.ndarray:
    """Numeric columns standardised; categorical ones one-hot, then standardised."""
    blocks = []
    for name in frame.columns:
        series = frame[name]
        if ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype):
            blocks.append(series.to_numpy(dtype=np.float64)[:, None])
        else:
            codes = pd.factorize(series.astype(object))[0]
            blocks.append(np.eye(codes.max() + 1)[codes])
    x = np.hstack(blocks)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


def logistic_bias(logits: np.ndarray, target: float, n_iter: int = 64) -> np.ndarray:
    """Per column ``b`` with ``mean(sigmoid(logits[:, j] + b[j])) == target``, by bisection.

    Parameters
    ----------
    logits : ndarray of shape (n, k)
    target : float in (0, 1)
    n_iter : int
        Bisection steps (64 reaches float64 precision on [-100, 100]).

    Returns
    -------
    b : ndarray of shape (k,)
    """
    lo = np.full(logits.shape[1], -100.0)
    hi = np.full(logits.shape[1], 100.0)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        rate = (1.0 / (1.0 + np.exp(-(logits + mid)))).mean(axis=0)
        too_high = rate > target
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    return (lo + hi) / 2


def _logistic_mask(
    frame: pd.DataFrame,
    inputs: np.ndarray,
    targets: np.ndarray,
    target_rate: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bernoulli(sigmoid(X_inputs W + b)) on the ``targets`` columns, False elsewhere."""
    mask = np.zeros(frame.shape, dtype=bool)
    if target_rate <= 0.0:
        return mask
    x = _standardised_inputs(frame.iloc[:, inputs])
    weights = rng.standard_normal((x.shape[1], len(targets)))
    logits = x @ weights
    sd = logits.std(axis=0)
    logits /= np.where(sd > 0, sd, 1.0)  # unit-variance logits
    probs = 1.0 / (1.0 + np.exp(-(logits + logistic_bias(logits, target_rate))))
    mask[:, targets] = rng.random(probs.shape) < probs
    return mask


def _split_columns(d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random 30% of the column indices (at least one, at most d - 1), and the rest."""
    n_inputs = min(max(int(INPUT_FRACTION * d), 1), d - 1)
    perm = rng.permutation(d)
    return np.sort(perm[:n_inputs]), np.sort(perm[n_inputs:])


def mar(frame: pd.DataFrame, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Missing at random: missingness depends only on always-observed columns.

    A random 30% of the columns (at least one) is never masked. Each other column j
    goes missing with probability ``sigmoid(x_obs . w_j + b_j)``, where ``x_obs`` is
    the standardised always-observed part of the row, ``w_j`` is Gaussian rescaled to
    unit-variance logits and ``b_j`` is set by bisection so that the expected rate on
    the masked columns is ``rate * d / d_masked``: ``rate`` over the whole table.

    Parameters
    ----------
    frame : DataFrame of shape (n, d), d >= 2
        Complete table (no missing cells); its values drive the logistic model.
    rate : float in [0, 1)
        Expected share of missing cells over the whole table.
    rng : numpy.random.Generator

    Returns
    -------
    mask : ndarray of shape (n, d), bool
        True where the cell is to be hidden.
    """
    _check(frame, rate, rng, 2)
    inputs, targets = _split_columns(frame.shape[1], rng)
    column_rate = rate * frame.shape[1] / len(targets)
    if column_rate >= 1.0:
        raise ValueError(
            f"rate {rate} cannot be reached with {len(inputs)} of {frame.shape[1]} columns "
            f"always observed (it needs {column_rate:.2f} on the others)"
        )
    return _logistic_mask(frame, inputs, targets, column_rate, rng)


def mnar(frame: pd.DataFrame, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Missing not at random: logistic in input columns that are then masked MCAR.

    A random 30% of the columns (at least one) are inputs. Every other column goes
    missing at rate ``rate`` through the same logistic model as :func:`mar`, driven by
    the inputs' true values; then the input columns are masked MCAR at ``rate``. Where
    an input value is hidden, the missingness it caused depends on a missing value.

    Parameters
    ----------
    frame : DataFrame of shape (n, d), d >= 2
        Complete table (no missing cells).
    rate : float in [0, 1)
        Expected share of missing cells in every column.
    rng : numpy.random.Generator

    Returns
    -------
    mask : ndarray of shape (n, d), bool
        True where the cell is to be hidden.
    """
    _check(frame, rate, rng, 2)
    inputs, targets = _split_columns(frame.shape[1], rng)
    mask = _logistic_mask(frame, inputs, targets, rate, rng)
    mask[:, inputs] = rng.random((frame.shape[0], len(inputs))) < rate
    return mask


MECHANISMS: dict[str, Callable[[pd.DataFrame, float, np.random.Generator], np.ndarray]] = {
    "MCAR": mcar,
    "MAR": mar,
    "MNAR": mnar,
}


def make_mask(
    mechanism: str, frame: pd.DataFrame, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """The mask of ``mechanism`` (``"MCAR"``, ``"MAR"`` or ``"MNAR"``, any case)."""
    key = mechanism.upper()
    if key not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}; expected one of {list(MECHANISMS)}")
    return MECHANISMS[key](frame, rate, rng)
