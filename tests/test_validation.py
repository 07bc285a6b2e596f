"""Awkward inputs: each behaviour of the README's "What happens when" table, in order."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from diffputer import DiffPuterImputer, TableEncoder
from diffputer import _validation as validation

from .conftest import TINY, make_mixed_frame, mask_frame

FAST = {**TINY, "n_em_iter": 1}


def _frame(n: int = 30, seed: int = 0, **extra) -> pd.DataFrame:
    """Two numeric columns with a few holes, plus ``extra`` columns."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    a[::5] = np.nan
    return pd.DataFrame({"a": a, "b": rng.normal(size=n), **extra})


def _fit_transform(frame, **params):
    return DiffPuterImputer(**{**FAST, **params}).fit_transform(frame)


# ---------------------------------------------------------------------- columns
@pytest.mark.parametrize(
    "column",
    [
        np.full(30, np.nan),
        pd.Series([None] * 30, dtype=object),
        pd.Series([None] * 30, dtype="string"),
        pd.Categorical([None] * 30, categories=["x", "y"]),
        pd.array([None] * 30, dtype="Int64"),
    ],
    ids=["float", "object", "string", "category", "Int64"],
)
def test_all_missing_column_is_refused_by_name(column):
    with pytest.raises(ValueError, match=r"\['empty'\] have no observed value.*drop them"):
        DiffPuterImputer(**FAST).fit(_frame(empty=column))


@pytest.mark.parametrize("dtype", ["float64", "Int64", "float32"])
def test_constant_column_is_imputed_with_its_constant(dtype):
    frame = _frame(const=pd.Series([7] * 25 + [None] * 5, dtype=dtype))
    out = _fit_transform(frame)
    assert (out["const"] == 7).all() and out["const"].dtype == frame["const"].dtype


def test_single_observed_value_is_imputed_everywhere():
    out = _fit_transform(_frame(one=[3.25] + [np.nan] * 29, cat=["k"] + [None] * 29))
    assert (out["one"] == 3.25).all() and (out["cat"] == "k").all()


def test_fully_missing_rows_are_imputed():
    frame = make_mixed_frame(n=40)
    frame.iloc[[3, 7]] = None
    out = DiffPuterImputer(**FAST).fit_transform(frame)
    assert not out.iloc[[3, 7]].isna().any().any()
    assert out.dtypes.equals(frame.dtypes)


def test_table_without_missing_value_is_returned_unchanged_and_can_transform():
    full = _frame().fillna(0.5)
    imp = DiffPuterImputer(**TINY)
    pd.testing.assert_frame_equal(imp.fit_transform(full), full)
    assert imp.n_iter_ == 1  # one M-step: the model is ready for new rows
    out = imp.transform(_frame(seed=3))
    assert not out.isna().any().any()


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("dtype", ["float64", "float32", "Float64"])
def test_infinite_values_are_refused_by_column(value, dtype):
    frame = _frame(c=pd.array([1.0, value] + [2.0] * 28, dtype=dtype))
    with pytest.raises(ValueError, match=r"column 'c' holds 1 infinite value.*replace"):
        DiffPuterImputer(**FAST).fit(frame)


def test_infinite_values_in_arrays_and_at_transform_time():
    X = _frame().to_numpy(copy=True)
    imp = DiffPuterImputer(**FAST).fit(X)
    X[2, 1] = np.inf
    with pytest.raises(ValueError, match="column 1 holds 1 infinite"):
        imp.fit(X)
    with pytest.raises(ValueError, match="column 1 holds 1 infinite"):
        imp.transform(X)


def test_mixed_numbers_and_strings_are_categories_with_a_warning():
    mixed = pd.Series([1, "one", 2.5, None, "two"] * 6, dtype=object)
    with pytest.warns(UserWarning, match=r"'m' mixes numbers and strings.*to_numeric"):
        imp = DiffPuterImputer(**FAST).fit(_frame(m=mixed))
    assert imp.encoder_.columns_[2].categories == [2.5, 1, "one", "two"]  # (type, str) order
    out = imp.transform(_frame(m=mixed))
    assert out["m"].dtype == object and set(out["m"]) == {1, "one", 2.5, "two"}
    assert out["m"].iloc[0] == 1 and type(out["m"].iloc[0]) is int  # observed cells as they were


@pytest.mark.parametrize(
    "column, hint",
    [
        (pd.date_range("2020-01-01", periods=30), r"dates.*total_seconds"),
        (pd.date_range("2020-01-01", periods=30, tz="UTC"), r"dates.*total_seconds"),
        (pd.to_timedelta(np.arange(30), unit="h"), r"durations.*dt.total_seconds"),
        (pd.period_range("2020-01", periods=30, freq="M"), "numbers or strings"),
        (np.arange(30) * (1 + 1j), "complex"),
    ],
    ids=["datetime", "datetime_tz", "timedelta", "period", "complex"],
)
def test_dates_durations_and_complex_numbers_are_refused_by_column(column, hint):
    frame = _frame(when=column)
    with pytest.raises(TypeError, match=rf"column 'when' .*{hint}"):
        DiffPuterImputer(**FAST).fit(frame)


def test_datetime_array_is_refused():
    X = np.array(["2020-01-01", "NaT", "2021-05-05"], dtype="datetime64[D]").reshape(-1, 1)
    with pytest.raises(TypeError, match="column 0 holds dates"):
        DiffPuterImputer(**FAST).fit(X)


def test_object_cells_must_be_scalars():
    frame = _frame(bad=pd.Series([[1, 2]] + ["x"] * 29, dtype=object))
    with pytest.raises(TypeError, match="column 'bad' holds a list"):
        DiffPuterImputer(**FAST).fit(frame)


# ---------------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    "X, match",
    [
        (pd.DataFrame({"a": pd.Series([], dtype=float)}), "0 sample"),
        (np.empty((0, 3)), "0 sample"),
        (pd.DataFrame(index=range(5)), "0 feature"),
        (np.empty((5, 0)), "0 feature"),
    ],
    ids=["frame_no_rows", "array_no_rows", "frame_no_columns", "array_no_columns"],
)
def test_empty_tables_are_refused(X, match):
    with pytest.raises(ValueError, match=match):
        DiffPuterImputer(**FAST).fit(X)


def test_one_and_two_rows_work():
    one = pd.DataFrame({"a": [1.0], "b": ["x"]})
    pd.testing.assert_frame_equal(_fit_transform(one), one)
    two = pd.DataFrame({"a": [np.nan, 2.0], "b": ["x", None]})
    out = _fit_transform(two)
    assert out["a"].tolist() == [2.0, 2.0] and out["b"].tolist() == ["x", "x"]


def test_one_row_with_a_missing_cell_has_an_empty_column():
    with pytest.raises(ValueError, match=r"\['a'\] have no observed value"):
        DiffPuterImputer(**FAST).fit(pd.DataFrame({"a": [np.nan], "b": [1.0]}))


def test_duplicate_column_names_are_refused():
    frame = _frame().set_axis(["a", "a"], axis=1).assign(c=1.0)
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        DiffPuterImputer(**FAST).fit(frame)


# ---------------------------------------------------------------------- magnitudes
@pytest.mark.parametrize(
    "make",
    [
        lambda b: b * 1e30,
        lambda b: b * 1e-30,
        lambda b: 1e30 + b * 1e16,  # huge values, (relatively) tiny spread
        lambda b: b * 1e300,  # squares overflow float64
        lambda b: np.where(b > 0, 1.7e308, -1.7e308),  # raw - mean overflows float64
    ],
    ids=["1e30", "1e-30", "1e30_tiny_std", "1e300", "float64_limits"],
)
@pytest.mark.parametrize("transform", ["standard", "quantile"])
def test_extreme_magnitudes_impute_finite_values_in_range(make, transform):
    rng = np.random.default_rng(0)
    frame = _frame(n=40)
    frame["x"] = make(rng.normal(size=40))
    frame.loc[frame.index[::4], "x"] = np.nan
    # pytest turns any overflow RuntimeWarning into an error
    out = _fit_transform(frame, numeric_transform=transform)
    values = out["x"].to_numpy()
    assert np.isfinite(values).all()
    lo, hi = frame["x"].min(), frame["x"].max()
    with np.errstate(over="ignore"):  # near the float64 limits the bounds are +-inf
        margin = (hi / 2 - lo / 2) * 20  # halved: the full spread may overflow
        assert (values >= lo - margin).all() and (values <= hi + margin).all()


def test_extreme_float32_and_int64_columns_keep_their_dtype():
    rng = np.random.default_rng(1)
    big = np.iinfo(np.int64).max  # float(big) rounds up to 2**63, which int64 cannot hold
    frame = pd.DataFrame(
        {
            "f32": (rng.normal(size=30) * 1e30).astype(np.float32),
            "i64": pd.array([big, big - 2**12] * 15, dtype="Int64"),
        }
    )
    frame = frame.mask(rng.random(frame.shape) < 0.2)
    frame.iloc[0] = [1e30, big]
    out = _fit_transform(frame)
    assert out.dtypes.equals(frame.dtypes)
    assert np.isfinite(out["f32"].to_numpy()).all()
    assert (out["i64"] > 0).all()  # no wrap-around to negative numbers


# ---------------------------------------------------------------------- width
def test_identifier_like_column_warns_but_works():
    frame = _frame(n=120, id=[f"row-{i}" for i in range(120)])
    frame.loc[3, "id"] = None
    with pytest.warns(UserWarning, match="'id' has 119 categories .* looks like an identifier"):
        out = _fit_transform(frame)
    assert out["id"].iloc[3] in set(frame["id"].dropna())


def test_table_too_wide_for_memory_is_refused_before_encoding(monkeypatch):
    monkeypatch.setattr(validation, "_physical_memory", lambda: 1000)
    with pytest.raises(ValueError, match=r"30 x 4 cells .* more than this machine's"):
        TableEncoder().fit(_frame(c=["x", "y", None] * 10))


def test_large_encoding_warns(monkeypatch):
    monkeypatch.setattr(validation, "LARGE_ENCODING_BYTES", 100)
    with pytest.warns(UserWarning, match=r"30 x 2 cells .* GiB in float32"):
        TableEncoder().fit(_frame())


# ---------------------------------------------------------------------- array input
def test_lists_work_like_float_arrays():
    X = [[1.0, None], [2.0, 3.0], [None, 4.0], [5.0, 6.0]]
    out = DiffPuterImputer(**FAST).fit_transform(X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (4, 2)
    assert not np.isnan(out).any() and out[1].tolist() == [2.0, 3.0]


def test_object_arrays_keep_strings_and_numbers():
    X = np.array([[1.0, "a"], [np.nan, "b"], [3.0, None], [4.0, "a"]], dtype=object)
    out = DiffPuterImputer(**FAST).fit_transform(X)
    assert out.dtype == object and out.shape == X.shape
    assert out[2, 1] in {"a", "b"} and isinstance(out[1, 0], float)
    assert out[0, 1] == "a" and out[3, 0] == 4.0


def test_list_with_strings_gives_object_array():
    out = DiffPuterImputer(**FAST).fit_transform([[1.0, "x"], [None, "y"], [2.0, None]])
    assert out.dtype == object and out[2, 1] in {"x", "y"}


# ---------------------------------------------------------------------- transform time
@pytest.fixture(scope="module")
def fitted():
    frame, _ = mask_frame(make_mixed_frame(n=40))
    return DiffPuterImputer(**FAST).fit(frame), frame


def test_missing_and_extra_columns_are_named(fitted):
    imp, frame = fitted
    with pytest.raises(ValueError, match=r"(?s)yet now missing:.*- text.*feature_names_in_"):
        imp.transform(frame.drop(columns="text"))
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:.*- surprise"):
        imp.transform(frame.assign(surprise=1.0))


def test_reordered_columns_are_refused_as_scikit_learn_does(fitted):
    imp, frame = fitted
    reordered = frame[frame.columns[::-1]]
    with pytest.raises(ValueError, match=r"(?s)same order.*X\[imputer.feature_names_in_\]"):
        imp.transform(reordered)
    out = imp.transform(reordered[imp.feature_names_in_])  # the fix the message gives
    assert not out.isna().any().any()


def test_wrong_number_of_array_columns(fitted):
    imp = DiffPuterImputer(**FAST).fit(np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]]))
    with pytest.raises(ValueError, match="X has 3 features, but DiffPuterImputer is expecting 2"):
        imp.transform(np.ones((2, 3)))


def test_numeric_column_given_text_at_transform(fitted):
    imp, frame = fitted
    bad = frame.assign(a=frame["a"].astype(object).where(frame["a"].isna(), "text"))
    with pytest.raises(TypeError, match=r"column 'a' was numeric in fit.*to_numeric") as info:
        imp.transform(bad)
    problem = info.value.column_problem  # what the command line words its own fix from
    assert problem.reason == "not_numeric" and problem.columns == ("a",)
    assert "to_numeric" not in problem.text and str(info.value).startswith(problem.text)


@pytest.mark.parametrize(
    "change, reason, column",
    [
        (lambda f: f.assign(a=pd.Timestamp("2020-01-01")), "dtype", "a"),
        (lambda f: f.assign(a=f["a"].fillna(np.inf)), "infinite", "a"),
        (lambda f: f.assign(a=np.nan), "no_observed", "a"),
    ],
)
def test_column_errors_carry_their_problem_without_the_fix(change, reason, column):
    with pytest.raises((TypeError, ValueError)) as info:
        DiffPuterImputer(**FAST).fit(change(_frame()))
    problem = info.value.column_problem
    assert (problem.reason, problem.columns) == (reason, (column,))
    assert str(info.value).startswith(problem.text) and "X" not in problem.text


def test_transform_checks_rows_duplicates_and_dates(fitted):
    imp, frame = fitted
    with pytest.raises(ValueError, match="0 sample"):
        imp.transform(frame.iloc[:0])
    with pytest.raises(ValueError, match="duplicate column names"):
        imp.transform(frame.set_axis(["a"] * frame.shape[1], axis=1))
    with pytest.raises(TypeError, match="column 'a' holds dates"):
        imp.transform(frame.assign(a=pd.Timestamp("2020-01-01")))


def test_unseen_categories_and_all_missing_columns_at_transform(fitted):
    imp, frame = fitted
    new = frame.copy()
    new["obj"] = new["obj"].astype(object)
    new.iloc[0, new.columns.get_loc("obj")] = "new-value"
    new["a"] = np.nan  # a column may be entirely missing in new rows
    with pytest.warns(UserWarning, match=re.escape("not seen in training (e.g. ['new-value'])")):
        out = imp.transform(new)
    assert out["obj"].iloc[0] == "new-value" and not out.isna().any().any()


def _no_sampling(monkeypatch):
    """Make the E-step fail loudly: a check that comes too late hits it."""

    def e_step(*args, **kwargs):
        raise AssertionError("sampling started before the input was checked")

    monkeypatch.setattr("diffputer._imputer.e_step", e_step)


def test_integer_column_labels_are_checked_like_string_names(monkeypatch):
    """scikit-learn records only string names; the encoder reads by position."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({0: rng.normal(1000, 10, 30), 1: rng.normal(size=30)})
    frame.loc[::4, 0] = np.nan
    imp = DiffPuterImputer(**FAST).fit(frame)
    fixed = imp.transform(frame)  # same labels, same order: works
    assert not fixed.isna().any().any()
    np.testing.assert_array_equal(imp.transform(frame.to_numpy()), fixed.to_numpy())  # no names
    _no_sampling(monkeypatch)
    with pytest.raises(ValueError, match=r"(?s)same order.*X\[\[0, 1\]\]"):
        imp.transform(frame[[1, 0]])
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:\n- 5\n.*yet now missing:\n- 1"):
        imp.transform(frame.set_axis([0, 5], axis=1))
    with pytest.raises(ValueError, match=r"(?s)unseen at fit time:\n- 5\n"):
        imp.transform(frame.assign(extra=1.0).set_axis([0, 1, 5], axis=1))
    with pytest.raises(ValueError, match=r"(?s)yet now missing:\n- 1\n"):
        imp.transform(frame[[0]])


def test_category_column_with_fewer_categories_at_transform():
    column = pd.Categorical(["y"] * 24 + ["x", "z"] * 3, categories=["x", "y", "z"])
    frame = _frame(c=column)
    frame.loc[::5, "c"] = np.nan
    imp = DiffPuterImputer(**FAST).fit(frame)
    new = _frame(n=12, seed=4, c=["x"] * 6 + [None] * 6)
    new["c"] = new["c"].astype("category")  # categories: only those present, ["x"]
    out = imp.transform(new)
    assert (out["c"].iloc[:6] == "x").all() and out["c"].notna().all()  # observed: unchanged
    imputed = set(out["c"].iloc[6:])
    assert imputed <= {"x", "y", "z"} and "y" in imputed  # the mode: a category new here
    cats = list(out["c"].cat.categories)  # the input's first, then the new ones
    assert cats[0] == "x" and set(cats[1:]) == imputed - {"x"} and len(cats) == len(set(cats))


@pytest.mark.parametrize(
    "column, new, match",
    [
        (["1", "2", "x"] * 10, [1.0, np.nan, 2.0], r"'c' was categorical in fit .* dtype float64"),
        (["1", "2", "x"] * 10, [True, False, True], r"'c' was categorical in fit .* dtype bool"),
        (np.arange(30.0), pd.array(["3", None, "4"], dtype="str"), r"'c' was numeric .* text"),
        (np.arange(30.0), pd.Series(["3", None, 4.0], dtype=object), r"'c' was numeric .*'3'"),
        (np.arange(30.0), pd.array([True, None, False], dtype="boolean"), r"'c' was numeric"),
        (np.arange(30.0), pd.Categorical(["3", None, "4"]), r"'c' was numeric .* categor"),
    ],
    ids=[
        "cat_now_float",
        "cat_now_bool",
        "num_now_str",
        "num_now_text_object",
        "num_now_bool",
        "num_now_text_category",
    ],
)
def test_columns_of_another_kind_at_transform_are_refused_before_sampling(
    column, new, match, monkeypatch
):
    frame = _frame(c=column)
    frame.loc[::4, "c"] = None
    imp = DiffPuterImputer(**FAST).fit(frame)
    _no_sampling(monkeypatch)
    with pytest.raises(TypeError, match=match):
        imp.transform(_frame(n=3, c=new))


def test_columns_of_numbers_in_another_numeric_dtype_still_work():
    frame = _frame(c=np.arange(30.0), k=pd.array([0, 1, 2] * 10, dtype="Int64"))
    frame.loc[::4, ["c", "k"]] = None
    imp = DiffPuterImputer(**{**FAST, "categorical_columns": ["k"]}).fit(frame)
    new = _frame(n=3, c=pd.array([1, None, 3], dtype="Int64"), k=[0.0, np.nan, 2.0])
    out = imp.transform(new)
    assert out.dtypes.equals(new.dtypes) and not out.isna().any().any()
    assert out["k"].iloc[1] in {0.0, 1.0, 2.0}


def test_pyarrow_backed_columns_keep_their_dtypes(tmp_path):
    """``read_parquet(..., dtype_backend="pyarrow")``: arrow numbers, strings, booleans
    and dictionaries (pyarrow's category) are imputed in their own dtypes, also by a
    loaded model, with observed cells unchanged."""
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "c": pd.Categorical(rng.choice(["a", "b"], n)),
            "s": rng.choice(["u", "v"], n),
            "b": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        }
    )
    frame = frame.mask(rng.random(frame.shape) < 0.2)
    frame.to_parquet(tmp_path / "t.parquet")
    arrow = pd.read_parquet(tmp_path / "t.parquet", dtype_backend="pyarrow")
    assert all(isinstance(t, pd.ArrowDtype) for t in arrow.dtypes)
    imp = DiffPuterImputer(**FAST)
    out = imp.fit_transform(arrow)
    assert out.dtypes.equals(arrow.dtypes) and not out.isna().any().any()
    assert [c.kind for c in imp.encoder_.columns_][2:] == ["categorical"] * 3
    for name in arrow:
        observed = arrow[name].notna().to_numpy()
        # as Python values: a dictionary column's encoding may differ, not its values
        assert out[name][observed].tolist() == arrow[name][observed].tolist()
    assert set(out["c"]) == {"a", "b"} and set(out["s"]) == {"u", "v"}
    imp.save(tmp_path / "m.dpt")
    again = DiffPuterImputer.load(tmp_path / "m.dpt").transform(arrow)
    assert again.dtypes.equals(arrow.dtypes) and not again.isna().any().any()


def test_pyarrow_dictionary_of_dates_is_refused_with_its_own_fix():
    days = pa.array(pd.date_range("2020-01-01", periods=30)).dictionary_encode()
    column = pd.Series(days.to_pandas(types_mapper=pd.ArrowDtype))
    assert validation.is_dictionary(column.dtype)
    with pytest.raises(TypeError, match=r"column 'when' is a category column .*astype\(str\)"):
        DiffPuterImputer(**FAST).fit(_frame(when=column))


@pytest.mark.parametrize(
    "categories",
    [
        pd.date_range("2020-01-01", periods=3),
        pd.date_range("2020-01-01", periods=3, tz="Europe/Paris"),
        pd.to_timedelta([1, 2, 3], unit="h"),
        pd.period_range("2020-01", periods=3, freq="M"),
        pd.interval_range(0, 3),
    ],
    ids=["datetime", "datetime_tz", "timedelta", "period", "interval"],
)
def test_category_columns_of_dates_or_intervals_are_refused_before_training(categories):
    column = pd.Categorical(np.resize(np.asarray(categories), 30), categories=categories)
    with pytest.raises(TypeError, match=r"column 'when' is a category column .*rename_categories"):
        DiffPuterImputer(**FAST).fit(_frame(when=column))


def test_pd_cut_column_is_refused_before_training():
    frame = _frame(when=pd.cut(np.arange(30.0), 3))  # categories: intervals
    with pytest.raises(TypeError, match=r"column 'when' .* dtype interval\[float64, right\]"):
        DiffPuterImputer(**FAST).fit(frame)
    imp = DiffPuterImputer(**FAST).fit(frame.assign(when=frame["when"].cat.rename_categories(str)))
    assert imp.encoder_.columns_[2].categories[0] == "(-0.029, 9.667]"  # the fix works


def test_sparse_column_is_refused_before_training():
    frame = _frame(s=pd.arrays.SparseArray([1.0, np.nan, 3.0] * 10))
    with pytest.raises(TypeError, match=r"column 's' is sparse .*sparse.to_dense\(\)"):
        DiffPuterImputer(**FAST).fit(frame)  # trained, then failed in fill before


def test_feature_names_out_checks_its_argument_like_scikit_learn():
    from sklearn.impute import SimpleImputer

    frame = _frame()
    ours, theirs = DiffPuterImputer(**FAST).fit(frame), SimpleImputer().fit(frame)
    for imp in (ours, theirs):
        assert list(imp.get_feature_names_out()) == ["a", "b"]
        assert list(imp.get_feature_names_out(["a", "b"])) == ["a", "b"]
        with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
            imp.get_feature_names_out(["p", "q", "r"])
    arrays = DiffPuterImputer(**FAST).fit(frame.to_numpy())
    assert list(arrays.get_feature_names_out()) == ["x0", "x1"]
    with pytest.raises(ValueError, match="input_features should have length"):
        arrays.get_feature_names_out(["p", "q", "r"])


def test_a_fitted_imputer_pickles_like_any_estimator():
    """The README says so (and that model files, unlike pickles, never run code)."""
    import pickle

    frame = _frame()
    imp = DiffPuterImputer(**FAST).fit(frame)
    copy = pickle.loads(pickle.dumps(imp))
    pd.testing.assert_frame_equal(copy.transform(frame), imp.transform(frame))


def test_imputations_stay_within_the_observed_range_exactly():
    """The sampler clips in float32 scaled units; decoded, cells landed a rounding step
    past the observed extremes (3 cells 1.07e-7 above y's maximum, 6 3.3e-5 below
    bim's minimum, with these data and settings, found by a review)."""
    rng = np.random.default_rng(3)
    n = 2000
    x = rng.normal(size=n)
    bim = np.where(x > 0, 1000.0, -1000.0) + rng.normal(size=n)
    y = 3 * x + 0.3 * rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "bim": bim, "y": y})
    frame.loc[rng.random(n) < 0.2, "bim"] = np.nan
    frame.loc[frame["y"] > 3, "y"] = np.nan  # missing not at random: above the maximum
    settings = dict(n_em_iter=3, max_epochs=300, hidden_dim=32, num_steps=20)
    settings.update(resample_repeats=5, num_samples=2, final_num_samples=4, random_state=1)
    out = DiffPuterImputer(**settings).fit_transform(frame)
    for name in ("bim", "y"):
        observed = frame[name].dropna()
        assert out[name].max() <= observed.max() and out[name].min() >= observed.min()
