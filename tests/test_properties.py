"""Property-based tests: invariants of the imputer over random mixed tables and masks.

For any table with at least one observed value per column: the output has the input's
shape, index, columns and dtypes; observed cells come back bit for bit; no cell is
missing; categorical cells hold categories seen in training; integer cells stay in the
observed range; and the same seed gives the same result. Examples are derandomised and
no database is kept, so every run (and CI) checks the same tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffputer import DiffPuterImputer

from .conftest import TINY

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PARAMS = {**TINY, "n_em_iter": 2}

KINDS = ["float64", "float32", "Int64", "category", "string", "str", "boolean", "object"]
SCALES = [1e-30, 1e-3, 1.0, 1e6, 1e30]


def _column(kind: str, n: int, rng: np.random.Generator, scale: float) -> pd.Series:
    if kind in ("float64", "float32"):
        return pd.Series(rng.normal(size=n) * scale, dtype=kind)
    if kind == "Int64":
        return pd.Series(rng.integers(-5, 6, n), dtype="Int64")
    if kind == "boolean":
        return pd.Series(rng.random(n) < 0.5, dtype="boolean")
    labels = np.array(["red", "green", "blue", "a b", ""])[: rng.integers(1, 6)]
    values = rng.choice(labels, n)
    if kind == "category":
        return pd.Series(pd.Categorical(values, categories=[*labels, "never-seen"]))
    return pd.Series(values, dtype=object if kind == "object" else kind)


@st.composite
def mixed_tables(draw) -> pd.DataFrame:
    """A table of 1-6 columns of any supported kind, 1-24 rows, a random mask and index.

    Every column keeps at least one observed cell (a column without one is refused, see
    ``test_empty_columns_are_always_refused``).
    """
    n = draw(st.integers(1, 24))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    seed = draw(st.integers(0, 2**32 - 1))
    rate = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 0.9]))
    rng = np.random.default_rng(seed)
    columns = {
        f"{kind}_{j}": _column(kind, n, rng, draw(st.sampled_from(SCALES)))
        for j, kind in enumerate(kinds)
    }
    frame = pd.DataFrame(columns)
    mask = rng.random(frame.shape) < rate
    mask[rng.integers(0, n, frame.shape[1]), np.arange(frame.shape[1])] = False
    index = draw(st.sampled_from(["range", "ints", "strings"]))
    if index == "ints":
        frame.index = pd.Index(rng.permutation(10 * n)[:n] - 3 * n, name="id")
    elif index == "strings":
        frame.index = pd.Index([f"r{i}" for i in rng.permutation(n)])
    return frame.mask(mask)


def assert_valid_imputation(before: pd.DataFrame, after: pd.DataFrame) -> None:
    assert after.shape == before.shape
    assert after.index.equals(before.index)
    assert list(after.columns) == list(before.columns)
    assert after.dtypes.equals(before.dtypes)
    assert not after.isna().any().any()
    for name in before.columns:
        b, a = before[name], after[name]
        observed = b.notna().to_numpy()
        if b.dtype.kind == "f":  # bit for bit, not just equal
            assert b.to_numpy()[observed].tobytes() == a.to_numpy()[observed].tobytes(), name
        else:
            assert (b[observed] == a[observed]).all(), name
        seen = set(b.dropna())
        if isinstance(b.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(b):
            assert set(a) <= seen, name
        elif pd.api.types.is_bool_dtype(b.dtype):
            assert set(a) <= seen, name
        elif pd.api.types.is_integer_dtype(b.dtype):
            assert a.between(min(seen), max(seen)).all(), name
        else:
            assert np.isfinite(a.to_numpy(dtype=np.float64)).all(), name


@PROPERTY_SETTINGS
@given(frame=mixed_tables(), transform=st.sampled_from(["standard", "quantile", "auto"]))
def test_fit_transform_and_transform_keep_every_invariant(frame, transform):
    params = {**PARAMS, "numeric_transform": transform}
    imp = DiffPuterImputer(**params)
    out = imp.fit_transform(frame)
    assert_valid_imputation(frame, out)
    assert_valid_imputation(frame, imp.transform(frame))
    again = DiffPuterImputer(**params).fit_transform(frame)
    pd.testing.assert_frame_equal(out, again)  # same seed, same result


@PROPERTY_SETTINGS
@given(
    n=st.integers(1, 30),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float64, np.float32]),
    rate=st.sampled_from([0.0, 0.2, 0.5, 0.9]),
)
def test_arrays_keep_every_invariant(n, d, seed, dtype, rate):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * 10.0 ** rng.integers(-30, 31, d)).astype(dtype)
    mask = rng.random((n, d)) < rate
    mask[rng.integers(0, n, d), np.arange(d)] = False
    X[mask] = np.nan
    out = DiffPuterImputer(**PARAMS).fit_transform(X)
    assert out.dtype == X.dtype and out.shape == X.shape
    assert np.isfinite(out).all()
    assert out[~mask].tobytes() == X[~mask].tobytes()


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(frame=mixed_tables(), data=st.data())
def test_empty_columns_are_always_refused(frame, data):
    name = data.draw(st.sampled_from(list(frame.columns)))
    frame = frame.copy()
    frame[name] = frame[name].mask(np.ones(len(frame), dtype=bool))
    with pytest.raises(ValueError, match=f"'{name}'.* no observed value"):
        DiffPuterImputer(**PARAMS).fit(frame)
