"""The quantile-normal numeric encoding (numeric_transform="quantile" / "auto")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import QuantileTransformer

from diffputer import DiffPuterImputer
from diffputer._encoding import TableEncoder, from_normal, quantile_knots, to_normal
from diffputer.config import Preset, get_preset

from .conftest import TINY


def _zero_inflated(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.7, 0.0, rng.lognormal(5, 2, n))


def test_the_map_is_scikit_learns_quantile_transformer():
    x = _zero_inflated()
    qt = QuantileTransformer(n_quantiles=1000, output_distribution="normal", subsample=None)
    qt.fit(x[:, None])
    knots = quantile_knots(x, 1000)
    np.testing.assert_array_equal(knots, qt.quantiles_[:, 0])
    probe = np.r_[x[:500], -1.0, 1e9, np.nan]  # beyond the observed range, and missing
    expected = qt.transform(probe[:, None])[:, 0]
    np.testing.assert_allclose(to_normal(probe, knots), expected, rtol=0, atol=1e-9)
    g = np.r_[np.linspace(-7, 7, 401), np.nan]
    np.testing.assert_array_equal(from_normal(g, knots), qt.inverse_transform(g[:, None])[:, 0])


def test_a_point_mass_decodes_to_exactly_its_value():
    x = _zero_inflated()
    knots = quantile_knots(x, 1000)
    g = to_normal(np.array([0.0]), knots)[0]  # the zeros (the minimum) map to about -5.2
    # everything the model could put below the first non-zero value's score is zero
    first = to_normal(np.array([x[x > 0].min()]), knots)[0]
    below = np.linspace(g - 3, first - 0.2, 50)
    assert (from_normal(below, knots) == 0.0).all()
    assert (from_normal(np.array([first + 0.5]), knots) > 0).all()


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame(
        {
            "gain": np.where(a > 0.8, 100.0 * np.ceil(5 * a), 0.0),  # 79% zeros, few levels
            "a": a,  # continuous: no point mass
            "dur": np.where(a > 0.5, np.exp(a), 0.0),  # point mass, but continuous otherwise
            "hours": pd.array(
                np.where(rng.random(n) < 0.5, 40, rng.choice([20, 30, 45, 60], n)), "Int64"
            ),
            "const": 3.0,
            "c": np.where(a > 0, "x", "y"),
        }
    )


@pytest.mark.parametrize(
    ("transform", "mapped"),
    [
        ("standard", []),
        ("auto", ["gain", "hours"]),
        ("quantile", ["gain", "a", "dur", "hours"]),
    ],
)
def test_which_columns_get_the_map(transform, mapped):
    enc = TableEncoder(numeric_transform=transform).fit(_table())
    assert [c.name for c in enc.columns_ if c.quantiles is not None] == mapped


def test_encoded_observed_cells_are_standardised_and_decode_back():
    frame = _table()
    frame.loc[::5, ["gain", "a"]] = np.nan
    enc = TableEncoder(numeric_transform="quantile").fit(frame)
    z, missing = enc.transform(frame)
    observed = z[:, 0][~missing[:, 0]]
    assert abs(observed.mean()) < 1e-6 and abs(observed.std() - 0.5) < 1e-5
    raw = enc.unscale(z)
    np.testing.assert_allclose(raw[~missing[:, 1], 1], frame["a"].dropna(), rtol=1e-5, atol=1e-5)
    assert (raw[frame["gain"].to_numpy() == 0, 0] == 0).all()  # the zeros come back exactly
    lo, hi = enc.scaled_bounds()
    assert lo[0] == pytest.approx(observed.min(), abs=1e-6)
    assert hi[1] == pytest.approx(z[:, 1][~missing[:, 1]].max(), abs=1e-6)
    np.testing.assert_allclose((enc.standardise(raw) * 0.5)[~missing], z[~missing], atol=1e-4)
    # draws stacked on a leading axis decode as each draw does on its own
    stacked = enc.unscale(np.stack([z, -z, 2 * z]))
    for k, draw in enumerate((z, -z, 2 * z)):
        np.testing.assert_array_equal(stacked[k], enc.unscale(draw))
    np.testing.assert_array_equal(enc.unscale(z[3]), raw[3])  # one row
    back = enc.standardise(np.stack([raw, raw]))  # and back, the same way
    np.testing.assert_array_equal(back[1], enc.standardise(raw))


def test_invalid_settings_and_files_are_refused():
    with pytest.raises(ValueError, match="numeric_transform must be one of"):
        TableEncoder(numeric_transform="log")
    data = TableEncoder(numeric_transform="quantile").fit(_table()).to_dict()
    data["columns"][0]["quantiles"][5] = -1e9  # no longer non-decreasing
    with pytest.raises(ValueError, match="'gain': invalid quantile knots"):
        TableEncoder.from_dict(data)


@pytest.mark.parametrize("transform", ["quantile", "auto"])
def test_imputer_with_the_map_keeps_observed_cells_and_saves(tmp_path, transform):
    frame = _table()
    masked = frame.mask(np.random.default_rng(1).random(frame.shape) < 0.3)
    imp = DiffPuterImputer(**TINY, numeric_transform=transform)
    out = imp.fit_transform(masked)
    seen = masked.notna()
    for name in frame.columns:
        assert out[name][seen[name]].equals(masked[name][seen[name]]), name
    assert out.notna().all().all() and out.dtypes.equals(masked.dtypes)
    assert out["gain"].between(0, frame["gain"].max()).all()
    assert imp.preset_.encoding.numeric_transform == transform
    imp.save(tmp_path / "m.dpt")
    again = DiffPuterImputer.load(tmp_path / "m.dpt")
    assert again.encoder_.to_dict() == imp.encoder_.to_dict()
    pd.testing.assert_frame_equal(again.transform(masked), imp.transform(masked))


def test_presets_saved_before_the_encoding_settings_still_load():
    data = get_preset("fast").to_dict()
    del data["encoding"]
    assert Preset.from_dict(data).encoding.numeric_transform == "standard"


def test_auto_without_a_discrete_point_mass_is_exactly_the_papers_encoding():
    rng = np.random.default_rng(3)
    a = rng.normal(size=300)
    frame = pd.DataFrame({"a": a, "b": a + rng.normal(size=300), "c": np.where(a > 0, "x", "y")})
    masked = frame.mask(rng.random(frame.shape) < 0.3)
    outs = [
        DiffPuterImputer(**TINY, numeric_transform=t).fit_transform(masked)
        for t in ("standard", "auto")
    ]
    pd.testing.assert_frame_equal(outs[0], outs[1])
