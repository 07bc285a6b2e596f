"""polars DataFrames in and out, read through their Arrow columns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from diffputer import DiffPuterImputer

from .conftest import TINY

pl = pytest.importorskip("polars")

FAST = {**TINY, "n_em_iter": 1}


def _with_nulls(values, rng, rate=0.2):
    return [None if rng.random() < rate else v for v in values]


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    n = 40
    return pl.DataFrame(
        {
            "a": _with_nulls(rng.normal(size=n).tolist(), rng),
            "i": _with_nulls(rng.integers(0, 9, n).tolist(), rng),
            "b": _with_nulls((rng.random(n) < 0.5).tolist(), rng),
            "s": _with_nulls(rng.choice(["x", "y"], n).tolist(), rng),
            "c": pl.Series(
                _with_nulls(rng.choice(["u", "v"], n).tolist(), rng), dtype=pl.Categorical
            ),
            "e": pl.Series(
                _with_nulls(rng.choice(["u", "v"], n).tolist(), rng), dtype=pl.Enum(["u", "v"])
            ),
            "f": pl.Series(_with_nulls(rng.normal(size=n).tolist(), rng), dtype=pl.Float32),
        }
    )


def test_polars_in_polars_out_with_its_schema(frame):
    """Integers get whole numbers, booleans booleans, categories their own values (it
    went through a numpy array before: 2.45 in an integer column, 0.74 in a boolean
    one, Object columns out)."""
    imp = DiffPuterImputer(**FAST, categorical_columns=["i"])  # by name, as for pandas
    out = imp.fit_transform(frame)
    assert isinstance(out, pl.DataFrame) and out.schema == frame.schema
    assert out.null_count().sum_horizontal().item() == 0
    for name in frame.columns:
        observed = frame[name].is_not_null()
        assert out[name].filter(observed).to_list() == frame[name].filter(observed).to_list()
    assert set(out["s"]) == {"x", "y"} and set(out["i"]) <= set(frame["i"].drop_nulls())
    assert list(imp.feature_names_in_) == frame.columns
    again = imp.transform(frame)
    assert isinstance(again, pl.DataFrame) and again.schema == frame.schema


def test_polars_with_set_output(frame):
    imp = DiffPuterImputer(**FAST).fit(frame)
    assert isinstance(imp.set_output(transform="pandas").transform(frame), pd.DataFrame)
    out = imp.set_output(transform="polars").transform(frame)
    assert isinstance(out, pl.DataFrame) and out.columns == frame.columns
    assert out["i"].dtype == pl.Int64 and out["b"].dtype == pl.Boolean


def test_polars_dates_are_refused_like_pandas_ones(frame):
    with pytest.raises(TypeError, match="column 'd' holds dates"):
        DiffPuterImputer(**FAST).fit(frame.with_columns(d=pl.lit(dt.date(2020, 1, 1))))


def test_polars_nan_is_a_missing_number_and_a_series_is_refused():
    """polars keeps NaN apart from null; a NaN came back unimputed (pandas' isna does
    not see it in an Arrow column)."""
    frame = pl.DataFrame({"a": [0.0, float("nan"), 2.0, 3.0, None, 1.0], "b": [1.0, 2, 3, 4, 5, 6]})
    out = DiffPuterImputer(**FAST).fit_transform(frame)
    assert out["a"].null_count() == 0 and not out["a"].is_nan().any()
    assert [out["a"][i] for i in (0, 2, 3, 5)] == [0.0, 2.0, 3.0, 1.0]  # observed kept
    with pytest.raises(ValueError, match="Expected 2D array"):
        DiffPuterImputer(**FAST).fit(pl.Series([1.0, 2.0]))
