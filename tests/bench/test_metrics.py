"""Metrics against examples computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffputer.bench.metrics import ZScale, accuracy, score_imputation


def test_zscale_uses_observed_training_cells_and_population_std():
    train = pd.DataFrame({"x": [1.0, np.nan, 3.0, 5.0], "k": [7.0, 7.0, np.nan, 7.0]})
    scale = ZScale.fit(train, ["x", "k"])
    assert scale.mean == {"x": 3.0, "k": 7.0}
    # population std of 1, 3, 5: sqrt(((-2)^2 + 0 + 2^2) / 3) = sqrt(8/3)
    assert scale.std["x"] == pytest.approx(np.sqrt(8 / 3))
    assert scale.std["k"] == 1.0  # constant column: errors stay in raw units


def test_hand_computed_mixed_example():
    truth = pd.DataFrame(
        {
            "x": [0.0, 2.0, 4.0, 6.0],
            "y": [10.0, 10.0, 20.0, 30.0],
            "c": pd.Categorical(["a", "b", "a", "b"]),
        }
    )
    mask = np.array(
        [
            [False, False, True],
            [True, False, True],
            [False, True, False],
            [True, True, True],
        ]
    )
    imputed = truth.copy()
    imputed.loc[1, "x"] = 3.0  # error +1
    imputed.loc[3, "x"] = 2.0  # error -4
    imputed.loc[2, "y"] = 25.0  # error +5
    imputed.loc[3, "y"] = 30.0  # error 0
    imputed["c"] = pd.Categorical(["a", "a", "a", "a"])  # right at rows 0, 2; wrong at 1, 3
    # observed training cells: x in {0, 4} -> std 2; y in {10, 10} -> std 0 -> 1
    scale = ZScale.fit(truth.mask(mask), ["x", "y"])
    assert scale.std == {"x": 2.0, "y": 1.0}
    got = score_imputation(truth, imputed, mask, numeric=["x", "y"], categorical=["c"], scale=scale)
    z = np.array([1 / 2, -4 / 2, 5 / 1, 0 / 1])
    assert got["mae"] == pytest.approx(np.abs(z).mean())  # (0.5 + 2 + 5 + 0) / 4 = 1.875
    assert got["rmse"] == pytest.approx(np.sqrt((z**2).mean()))  # sqrt(29.25 / 4)
    assert got["acc"] == pytest.approx(1 / 3)  # masked c: rows 0, 1, 3 -> right, wrong, wrong
    assert (got["n_numeric"], got["n_categorical"]) == (4, 3)


def test_test_rows_are_scored_with_the_training_scale():
    train_scale = ZScale(mean={"x": 0.0}, std={"x": 4.0})
    truth = pd.DataFrame({"x": [1.0, 2.0]})
    imputed = pd.DataFrame({"x": [3.0, 2.0]})
    mask = np.array([[True], [True]])
    got = score_imputation(truth, imputed, mask, numeric=["x"], categorical=[], scale=train_scale)
    assert got["mae"] == pytest.approx(0.25)  # (2/4 + 0) / 2
    assert got["rmse"] == pytest.approx(np.sqrt(0.125))
    assert np.isnan(got["acc"]) and got["n_categorical"] == 0


def test_unmasked_cells_do_not_count():
    truth = pd.DataFrame({"x": [1.0, 2.0], "c": ["u", "v"]})
    imputed = pd.DataFrame({"x": [100.0, 2.0], "c": ["w", "v"]})  # wrong only where observed
    mask = np.array([[False, False], [True, True]])
    scale = ZScale(mean={"x": 0.0}, std={"x": 1.0})
    got = score_imputation(truth, imputed, mask, numeric=["x"], categorical=["c"], scale=scale)
    assert (got["mae"], got["rmse"], got["acc"]) == (0.0, 0.0, 1.0)


def test_integer_categories_and_cells_left_missing():
    truth = pd.DataFrame({"k": pd.Categorical([1, 2, 3, 1])})
    imputed = pd.DataFrame({"k": pd.Categorical([1, 2, None, 2], categories=[1, 2, 3])})
    mask = np.ones((4, 1), dtype=bool)
    assert accuracy(truth, imputed, mask, ["k"]) == pytest.approx(0.5)  # NaN counts as wrong
    num_truth = pd.DataFrame({"x": [1.0, 2.0]})
    num_imputed = pd.DataFrame({"x": [1.0, np.nan]})
    scale = ZScale(mean={"x": 0.0}, std={"x": 1.0})
    got = score_imputation(
        num_truth, num_imputed, np.ones((2, 1), bool), numeric=["x"], categorical=[], scale=scale
    )
    assert np.isnan(got["mae"])  # a method that leaves holes cannot score


def test_shape_mismatch_is_an_error():
    truth = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="shapes differ"):
        score_imputation(
            truth,
            truth.iloc[:1],
            np.zeros((2, 1), bool),
            numeric=["x"],
            categorical=[],
            scale=ZScale({"x": 0.0}, {"x": 1.0}),
        )
