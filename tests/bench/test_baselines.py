"""Every baseline on the same mixed DataFrames: invariants, quality, and each one's rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffputer import DiffPuterImputer
from diffputer.bench.baselines import (
    InSampleOnlyError,
    MissForestBaseline,
    available,
    canonical_spec,
    label,
    make,
    parse_spec,
    supports_out_of_sample,
)
from diffputer.bench.masks import mcar
from diffputer.bench.metrics import ZScale, score_imputation

from .conftest import TINY_DIFFPUTER, make_structured

# Small but real settings: every method's algorithm runs, in well under a second.
SPECS = {
    "mean": "mean",
    "knn": "knn",
    "mice": "mice",
    "missforest": "missforest:n_estimators=20:n_jobs=1",
    "softimpute": "softimpute",
    "em": "em",
    "diffputer": TINY_DIFFPUTER,
}


@pytest.fixture(scope="module")
def masked_tables():
    ds = make_structured(300, seed=1)
    mask = mcar(ds.frame, 0.3, np.random.default_rng(0))
    mask[0] = False
    train, test = ds.frame.iloc[:200], ds.frame.iloc[200:]
    return ds, mask, train.mask(mask[:200]), test.mask(mask[200:])


def test_registry_lists_every_method():
    # the first seven; test_deep_baselines.py covers the competitors registered after them
    assert available()[: len(SPECS)] == list(SPECS)


@pytest.mark.parametrize("name", list(SPECS))
def test_fit_transform_and_transform_keep_the_table(masked_tables, name):
    ds, mask, train, test = masked_tables
    imputer = make(SPECS[name], random_state=0)
    for given, out in [
        (train, imputer.fit_transform(train)),
        (test, imputer.transform(test)),
    ]:
        assert not out.isna().any().any()
        assert out.index.equals(given.index) and list(out.columns) == list(given.columns)
        assert (out.dtypes == given.dtypes).all()
        observed = given.notna().to_numpy()
        for j, col in enumerate(given.columns):
            kept = out[col].to_numpy(dtype=object)[observed[:, j]]
            assert (kept == given[col].to_numpy(dtype=object)[observed[:, j]]).all(), col
        for col in ds.categorical:  # imputed categories are categories seen in training
            assert set(out[col]) <= set(train[col].dropna())


@pytest.mark.parametrize("name", ["mean", "knn", "mice", "missforest", "softimpute", "em"])
def test_fit_then_transform_equals_transform_after_fit_transform(masked_tables, name):
    _, _, train, test = masked_tables
    a = make(SPECS[name], random_state=0).fit(train).transform(test)
    b = make(SPECS[name], random_state=0)
    b.fit_transform(train)
    pd.testing.assert_frame_equal(a, b.transform(test))


def _scores(spec: str, n: int = 400, random_state: int = 0) -> dict[str, float]:
    ds = make_structured(n, seed=2)
    mask = mcar(ds.frame, 0.3, np.random.default_rng(1))
    masked = ds.frame.mask(mask)
    out = make(spec, random_state=random_state).fit_transform(masked)
    scale = ZScale.fit(masked, ds.numeric)
    return score_imputation(
        ds.frame, out, mask, numeric=ds.numeric, categorical=ds.categorical, scale=scale
    )


@pytest.fixture(scope="module")
def mean_scores():
    return _scores("mean")


@pytest.mark.parametrize("name", ["knn", "mice", "missforest", "softimpute", "em"])
def test_beats_mean_fill_on_numeric_columns(mean_scores, name):
    # Four numeric columns driven by two factors: every method that models dependence
    # should cut the mean fill's error by a wide margin.
    assert _scores(SPECS[name])["mae"] < 0.8 * mean_scores["mae"]


@pytest.mark.parametrize("name", ["knn", "missforest", "softimpute", "em"])
def test_beats_mode_on_categorical_columns(mean_scores, name):
    # MICE is absent on purpose: on one-hot blocks its chained regressions keep a hidden
    # block at its initial mean fill, i.e. the mode (see MICEBaseline's docstring).
    assert _scores(SPECS[name])["acc"] > mean_scores["acc"] + 0.1


def test_mean_mode_values(masked_tables):
    _, _, train, _ = masked_tables
    out = make("mean").fit_transform(train)
    hole = train["x1"].isna()
    assert np.allclose(out.loc[hole, "x1"], train["x1"].mean())
    hole = train["colour"].isna()
    assert (out.loc[hole, "colour"] == train["colour"].mode()[0]).all()


# ---------------------------------------------------------------------- specs
def test_spec_parsing():
    assert parse_spec("MissForest:n_estimators=50:max_features=none") == (
        "missforest",
        {"n_estimators": 50, "max_features": None},
    )
    assert parse_spec("diffputer:preset=paper:lr=1e-3:warm_start=true") == (
        "diffputer",
        {"preset": "paper", "lr": 1e-3, "warm_start": True},
    )
    assert canonical_spec("knn:weights=distance:n_neighbors=3") == (
        "knn:n_neighbors=3:weights=distance"
    )
    assert label("missforest:n_estimators=5") == "MissForest (n_estimators=5)"
    assert label("em") == "EM"


def test_make_routes_parameters():
    est = make("diffputer:preset=paper:n_em_iter=2", random_state=3)
    assert isinstance(est, DiffPuterImputer)
    assert (est.preset, est.n_em_iter, est.random_state, est.verbose) == ("paper", 2, 3, 0)
    assert make("missforest", n_estimators=7).n_estimators == 7


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("forest", "unknown method"),
        ("knn:k=3", "no parameter"),
        ("knn:n_neighbors", "key=value"),
        ("knn:n_neighbors=1:n_neighbors=2", "twice"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        make(spec)


def test_requires_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        make("mean").fit_transform(np.zeros((3, 2)))


def test_transform_checks_columns(masked_tables):
    _, _, train, test = masked_tables
    imputer = make("mean").fit(train)
    with pytest.raises(ValueError, match="different columns"):
        imputer.transform(test.iloc[:, ::-1])


# ---------------------------------------------------------------------- MissForest
def test_missforest_stopping_rule_and_forests(masked_tables):
    _, _, train, test = masked_tables
    mf = MissForestBaseline(n_estimators=10, n_jobs=1, random_state=0)
    mf.fit_transform(train)
    assert 1 <= mf.n_iter_ <= mf.max_iter
    diffs = mf.differences_
    assert set(diffs[0]) == {"numeric", "categorical"}

    def worse(i: int) -> bool:  # the change increased for both types at sweep i
        return all(diffs[i][k] >= diffs[i - 1][k] for k in diffs[i])

    assert not any(worse(i) for i in range(1, len(diffs) - 1))  # it went on while improving
    if len(diffs) < mf.max_iter:
        assert worse(len(diffs) - 1)  # and stopped at the first sweep that was worse
    # one forest per column (including complete ones), classifiers for categories
    assert sorted(mf.forests_) == list(range(train.shape[1]))
    assert type(mf.forests_[2]).__name__ == "RandomForestClassifier"
    assert type(mf.forests_[0]).__name__ == "RandomForestRegressor"
    # transform reuses the fitted forests: nothing is refitted, and it is repeatable
    ids = {j: id(f) for j, f in mf.forests_.items()}
    first = mf.transform(test)
    assert {j: id(f) for j, f in mf.forests_.items()} == ids
    pd.testing.assert_frame_equal(first, mf.transform(test))


def test_missforest_without_forests_is_in_sample_only(masked_tables):
    _, _, train, test = masked_tables
    mf = make("missforest:keep_forests=false:n_estimators=5:n_jobs=1", random_state=0)
    assert not supports_out_of_sample(mf)
    assert not mf.fit_transform(train).isna().any().any()
    with pytest.raises(InSampleOnlyError, match="in-sample"):
        mf.transform(test)
    assert supports_out_of_sample(make("missforest"))
    assert supports_out_of_sample(make("diffputer"))


def test_missforest_is_seeded(masked_tables):
    _, _, train, _ = masked_tables
    a = make("missforest:n_estimators=5:n_jobs=1", random_state=4).fit_transform(train)
    b = make("missforest:n_estimators=5:n_jobs=1", random_state=4).fit_transform(train)
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------------- EM, SoftImpute
def test_em_recovers_the_gaussian_conditional_mean():
    rng = np.random.default_rng(0)
    n, rho = 4000, 0.8
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "y": y})
    hidden = rng.random(n) < 0.3
    masked = frame.assign(y=np.where(hidden, np.nan, y))
    out = make("em").fit_transform(masked)
    # E[y | x] = mu_y + rho * sd_y / sd_x * (x - mu_x), estimated from the data
    slope = np.polyfit(out.loc[hidden, "x"], out.loc[hidden, "y"], 1)[0]
    assert slope == pytest.approx(rho, abs=0.05)


def test_em_and_softimpute_out_of_sample_rule_matches_in_sample_at_the_fixed_point(
    masked_tables,
):
    _, _, train, _ = masked_tables
    for spec in ("em", "softimpute:tol=1e-12:max_iter=5000"):
        imputer = make(spec)
        in_sample = imputer.fit_transform(train)
        again = imputer.transform(train)
        num = ["x1", "x2", "x3", "x4"]
        assert np.allclose(in_sample[num], again[num], atol=1e-3), spec


def test_softimpute_shrinks_rank():
    ds = make_structured(200)
    masked = ds.frame.mask(mcar(ds.frame, 0.3, np.random.default_rng(0)))
    small = make("softimpute").fit(masked)
    big = make("softimpute:shrinkage=30").fit(masked)
    assert big.rank_ < small.rank_
