"""Masks: rates, reproducibility, and the MAR / MNAR properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from diffputer.bench.masks import (
    MECHANISMS,
    _split_columns,
    logistic_bias,
    make_mask,
    mar,
    mcar,
    mnar,
)

from .conftest import make_structured


def correlated_table(n: int = 4000, d: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 2))
    x = latent @ rng.normal(size=(2, d)) + 0.5 * rng.normal(size=(n, d))
    return pd.DataFrame(x, columns=[f"c{j}" for j in range(d)])


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return correlated_table()


def auc_from(features: np.ndarray, target: np.ndarray) -> float:
    """In-sample AUC of a logistic regression predicting ``target`` from ``features``."""
    model = LogisticRegression().fit(features, target)
    return roc_auc_score(target, model.decision_function(features))


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_overall_rate(table, mechanism, rate):
    mask = make_mask(mechanism, table, rate, np.random.default_rng(1))
    assert mask.shape == table.shape and mask.dtype == bool
    assert abs(mask.mean() - rate) < 0.02


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
def test_same_generator_state_same_mask(table, mechanism):
    a = make_mask(mechanism, table, 0.3, np.random.default_rng(7))
    b = make_mask(mechanism, table, 0.3, np.random.default_rng(7))
    c = make_mask(mechanism, table, 0.3, np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
def test_mixed_table_with_categories(mechanism):
    frame = make_structured(400).frame
    mask = make_mask(mechanism, frame, 0.3, np.random.default_rng(0))
    assert mask.shape == frame.shape
    assert abs(mask.mean() - 0.3) < 0.05


def test_mar_keeps_30_percent_of_columns_observed(table):
    for seed in range(5):
        mask = mar(table, 0.3, np.random.default_rng(seed))
        observed = ~mask.any(axis=0)
        assert observed.sum() == 3  # int(0.3 * 10)
        assert np.allclose(mask[:, ~observed].mean(), 0.3 * 10 / 7, atol=0.02)


def test_mar_missingness_is_predictable_from_observed_columns(table):
    mask = mar(table, 0.3, np.random.default_rng(3))
    observed = ~mask.any(axis=0)
    x_obs = table.to_numpy()[:, observed]
    for j in np.flatnonzero(~observed):
        assert auc_from(x_obs, mask[:, j]) > 0.7


def test_mcar_missingness_is_not_predictable(table):
    mask = mcar(table, 0.3, np.random.default_rng(3))
    assert auc_from(table.to_numpy()[:, :3], mask[:, 5]) < 0.56


def test_mnar_depends_on_values_that_are_missing(table):
    rng = np.random.default_rng(4)
    mask = mnar(table, 0.3, rng)
    # The input columns: the mechanism's first draw from the generator chooses them.
    inputs, others = _split_columns(table.shape[1], np.random.default_rng(4))
    assert len(inputs) == 3
    x = table.to_numpy()
    assert abs(mask[:, inputs].mean() - 0.3) < 0.02
    assert abs(mask[:, others].mean() - 0.3) < 0.02
    # Among rows whose inputs are all hidden, the true (unseen) input values still
    # predict which other cells go missing: the mechanism is not at random.
    hidden = mask[:, inputs].all(axis=1)
    assert hidden.sum() > 50
    for j in others:
        assert auc_from(x[hidden][:, inputs], mask[hidden, j]) > 0.7
    # The inputs' own mask does not depend on the values (MCAR).
    assert auc_from(x[:, inputs], mask[:, inputs[0]]) < 0.56


def test_logistic_bias_hits_the_target_rate():
    logits = np.random.default_rng(0).normal(size=(5000, 3)) * [1.0, 3.0, 0.1]
    bias = logistic_bias(logits, 0.2)
    rate = (1 / (1 + np.exp(-(logits + bias)))).mean(axis=0)
    assert np.allclose(rate, 0.2, atol=1e-9)


def test_errors():
    frame = correlated_table(20, 3)
    with pytest.raises(ValueError, match="rate"):
        mcar(frame, 1.5, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        mar(frame, 0.3, 0)
    with pytest.raises(ValueError, match="at least 2 columns"):
        mnar(frame[["c0"]], 0.3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown mechanism"):
        make_mask("MNAR2", frame, 0.3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="cannot be reached"):
        mar(frame, 0.8, np.random.default_rng(0))  # 2 maskable columns of 3 need 1.2
