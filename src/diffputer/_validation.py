"""Checks on an input table before any work, with errors that name the column.

:func:`check_table` runs at both ``fit`` and ``transform`` time, :func:`check_kind` on
every column the encoder reads (it matters at ``transform``). The others only make
sense when learning the encoding (columns without an observed value, mixed object
columns, very wide one-hot blocks) and are called by :class:`~diffputer.TableEncoder`
in ``fit``. The behaviour for each awkward input, and why, is tabulated in the README
("What happens when").
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

__all__ = [
    "ColumnProblem",
    "is_dictionary",
    "check_kind",
    "check_some_observed",
    "check_table",
    "check_width",
    "not_numeric_now",
    "warn_if_mixed",
]

# A categorical column with at least this many categories, most of them seen once, is
# probably an identifier: warn (it costs a one-hot column per category and helps nothing).
MANY_CATEGORIES = 50
# Warn when the encoded float32 matrix alone needs more than this many bytes.
LARGE_ENCODING_BYTES = 2**30
# Encoding holds a few float64 copies of the n x D matrix at once: bytes per cell, peak.
PEAK_BYTES_PER_CELL = 32


@dataclass(frozen=True)
class ColumnProblem:
    """What was wrong with the refused column(s), without the Python fix.

    Attached as ``column_problem`` to the errors below that suggest a pandas fix, so
    that a front end working on files (the command line) can word its own fix.

    Attributes
    ----------
    reason : str
        ``"dtype"`` (dates, durations, ...), ``"infinite"``, ``"no_observed"`` (fit
        time) or ``"not_numeric"`` (numeric in fit, not now).
    columns : tuple
        The column names.
    text : str
        The problem, naming the column(s), e.g. ``"column 'd' holds dates (dtype
        datetime64[ns])"``.
    """

    reason: str
    columns: tuple
    text: str


_E = TypeVar("_E", bound=Exception)


def _tagged(exc: _E, reason: str, columns: list[Any], text: str) -> _E:
    exc.column_problem = ColumnProblem(reason, tuple(columns), text)  # type: ignore[attr-defined]
    return exc


def check_table(frame: pd.DataFrame) -> None:
    """Refuse a table that diffputer cannot impute, naming the culprit and the fix.

    Raises
    ------
    ValueError
        No row, duplicate column names, or infinite values.
    TypeError
        A column of dates, durations, periods, intervals or complex numbers.
    """
    if len(frame) == 0:  # sklearn's wording, so that pipelines read the same
        raise ValueError(
            f"Found array with 0 sample(s) (shape={frame.shape}) while a minimum of 1 is "
            "required: the table has no row"
        )
    _check_unique_names(frame.columns)
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        _check_dtype(series.name, series.dtype)
        _check_finite(series)


def _check_unique_names(columns: pd.Index) -> None:
    duplicated = columns[columns.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(
            f"duplicate column names {duplicated}; give every column a unique name "
            "(e.g. X.columns = [...]) before imputing"
        )


def _dtype_hint(name: Hashable, dtype: Any) -> tuple[str, str] | None:
    """What is wrong with a column of an unsupported dtype and how to convert it, or
    None when the dtype is supported."""
    kind = getattr(dtype, "kind", "O")
    col = f"X[{name!r}]"
    if isinstance(dtype, pd.SparseDtype):
        return f"is sparse (dtype {dtype})", f"make it dense first: {col} = {col}.sparse.to_dense()"
    if kind == "M":
        return (
            f"holds dates (dtype {dtype})",
            f"convert them to numbers first, e.g. {col} = ({col} - {col}.min())"
            ".dt.total_seconds(), and back after imputing",
        )
    if kind == "m":
        return (
            f"holds durations (dtype {dtype})",
            f"convert them to numbers first, e.g. {col} = {col}.dt.total_seconds(), and "
            "back after imputing",
        )
    if kind == "c":
        return (
            f"holds complex numbers (dtype {dtype})",
            "split them into real and imaginary columns",
        )
    if isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype)):
        return f"has dtype {dtype}", "convert it to numbers or strings first"
    return None


def is_dictionary(dtype: Any) -> bool:
    """Whether ``dtype`` is pyarrow's dictionary type (what a category column becomes in
    ``read_parquet(..., dtype_backend="pyarrow")``); treated like pandas' category."""
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    import pyarrow as pa

    return pa.types.is_dictionary(dtype.pyarrow_dtype)


def _check_dtype(name: Hashable, dtype: Any) -> None:
    hint = _dtype_hint(name, dtype)
    if hint is None and (isinstance(dtype, pd.CategoricalDtype) or is_dictionary(dtype)):
        # e.g. pd.cut's intervals
        if isinstance(dtype, pd.CategoricalDtype):
            categories, to_str = dtype.categories.dtype, ".cat.rename_categories(str)"
        else:
            categories, to_str = pd.ArrowDtype(dtype.pyarrow_dtype.value_type), ".astype(str)"
        if _dtype_hint(name, categories) is not None:
            hint = (
                f"is a category column whose categories have dtype {categories}",
                f"make them strings first, e.g. X[{name!r}] = X[{name!r}]{to_str}",
            )
    if hint is not None:
        problem = f"column {name!r} {hint[0]}"
        exc = TypeError(f"{problem}; {hint[1]}. diffputer imputes numbers and categories only")
        raise _tagged(exc, "dtype", [name], problem)


def _check_finite(series: pd.Series) -> None:
    """Infinite numbers are values, not missing ones: refuse them (as scikit-learn does)."""
    dtype = series.dtype
    if not ptypes.is_numeric_dtype(dtype) or ptypes.is_bool_dtype(dtype):
        return
    if getattr(dtype, "kind", "f") in "iu":  # integers cannot be infinite
        return
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    n_inf = int(np.isinf(values).sum())
    if n_inf:
        problem = f"column {series.name!r} holds {n_inf} infinite value(s) (inf or -inf)"
        exc = ValueError(
            f"{problem}; only NaN cells are imputed. Replace them first, e.g. "
            "X = X.replace([np.inf, -np.inf], np.nan) to have them imputed"
        )
        raise _tagged(exc, "infinite", [series.name], problem)


# ---------------------------------------------------------------------- transform time
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number, np.bool_))


def _is_integral(value: Any) -> bool:
    if isinstance(value, (int, np.integer, np.bool_)):
        return True
    return _is_number(value) and float(value).is_integer()


def _not_numeric(series: pd.Series) -> str | None:
    """Why ``series`` cannot stand for a numeric column (None: it can)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories.dtype
        if ptypes.is_numeric_dtype(categories) and not ptypes.is_bool_dtype(categories):
            return None
        return f"is a category column with categories of dtype {categories}"
    if ptypes.is_bool_dtype(dtype):
        return f"holds booleans (dtype {dtype})"
    if ptypes.is_numeric_dtype(dtype):
        return None
    if isinstance(dtype, pd.StringDtype):
        return f"holds text (dtype {dtype})"
    if ptypes.is_object_dtype(dtype):
        text = next((v for v in series.dropna() if isinstance(v, (str, bytes))), None)
        if text is not None:
            return f"holds text such as {text!r} (dtype object)"
    return None  # anything else that is not a number fails its float conversion


def _cannot_hold(dtype: Any, categories: list[Any]) -> bool:
    """Whether a column of ``dtype`` cannot take the categorical column's imputations."""
    if isinstance(dtype, pd.CategoricalDtype) or ptypes.is_object_dtype(dtype):
        return False  # any value (new categories are added to a category column)
    if is_dictionary(dtype):
        dtype = pd.ArrowDtype(dtype.pyarrow_dtype.value_type)  # new values are added too
    if ptypes.is_string_dtype(dtype):  # str, string[python], string[pyarrow] (ArrowDtype)
        return not all(isinstance(c, str) for c in categories)
    if ptypes.is_bool_dtype(dtype):
        return not all(isinstance(c, (bool, np.bool_)) for c in categories)
    if ptypes.is_integer_dtype(dtype):
        return not all(_is_integral(c) for c in categories)
    return not all(_is_number(c) for c in categories)  # floats


def not_numeric_now(name: Hashable, problem: str, fix: str | None = None) -> TypeError:
    """The error for a column numeric in fit that now ``problem`` (holds text, ...)."""
    fix = fix or f"pd.to_numeric(X[{name!r}], errors='coerce')"
    text = f"column {name!r} was numeric in fit but now {problem}"
    return _tagged(TypeError(f"{text}; convert it, e.g. {fix}"), "not_numeric", [name], text)


def check_kind(series: pd.Series, numeric: bool, categories: list[Any] | None) -> None:
    """At ``transform``: the column can hold what it held in fit, or a clear error.

    ``numeric``: the column was numeric in fit; ``categories``: else its categories.
    A numeric column must hold numbers (not text, not booleans); a categorical one must
    have a dtype that takes its categories (object and category take anything).
    Checked before sampling, so that the imputations never fail to fit their column.

    Raises
    ------
    TypeError
        Naming the column, what it was in fit and what it is now.
    """
    name, dtype = series.name, series.dtype
    if numeric:
        problem = _not_numeric(series)
        if problem is not None:
            fix = f"X[{name!r}].astype(float)" if ptypes.is_bool_dtype(dtype) else None
            raise not_numeric_now(name, problem, fix)
    elif categories and _cannot_hold(dtype, categories):
        examples = categories[:3]
        raise TypeError(
            f"column {name!r} was categorical in fit (categories such as {examples}) but now "
            f"has dtype {dtype}, which cannot hold them; convert it back to values like "
            "those (an object or category column takes any)"
        )


# ---------------------------------------------------------------------- fit time only
def check_some_observed(frame: pd.DataFrame) -> None:
    """A column without an observed value cannot be learned: refuse it by name.

    scikit-learn's imputers drop such a column with a warning; that would change the
    output's columns, and keeping it would return NaN, so we refuse instead.
    """
    empty = [name for name, all_na in frame.isna().all(axis=0).items() if all_na]
    if empty:
        problem = f"column(s) {empty} have no observed value"
        exc = ValueError(
            f"{problem}, so there is nothing to learn them from; drop them "
            f"(X.drop(columns={empty})) or fill them before imputing"
        )
        raise _tagged(exc, "no_observed", empty, problem)


def warn_if_mixed(series: pd.Series) -> None:
    """An object column mixing numbers and strings is kept as categories, but say so."""
    if not ptypes.is_object_dtype(series.dtype):
        return
    values = series.dropna()
    has_str = values.map(lambda v: isinstance(v, str)).any()
    has_number = values.map(
        lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
    ).any()
    if has_str and has_number:
        warnings.warn(
            f"column {series.name!r} mixes numbers and strings; it is treated as categorical "
            "(each distinct value is a category). If it holds numbers with text "
            f"placeholders, convert it first: pd.to_numeric(X[{series.name!r}], errors='coerce')",
            UserWarning,
            stacklevel=4,
        )


def _physical_memory() -> int | None:
    """Bytes of RAM on this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_width(frame: pd.DataFrame, columns: list[Any]) -> None:
    """Warn about identifier-like columns and big encodings; refuse what cannot fit.

    ``columns`` are the encoder's :class:`~diffputer._encoding.ColumnInfo` (``kind``,
    ``width``, ``name``). Runs before the encoded matrix is allocated, so a table too
    wide for the machine fails with an explanation instead of exhausting its memory.
    """
    for i, col in enumerate(columns):
        n_obs = int(frame.iloc[:, i].notna().sum())
        if col.kind == "categorical" and col.width >= MANY_CATEGORIES and col.width > n_obs / 2:
            warnings.warn(
                f"column {col.name!r} has {col.width} categories for {n_obs} observed "
                "cells: it looks like an identifier, costs one encoded column per "
                "category and carries little to impute from. Consider dropping it",
                UserWarning,
                stacklevel=4,
            )
    if columns:
        _check_memory(len(frame), columns)


def _check_memory(n: int, columns: list[Any]) -> None:
    width, ram = sum(c.width for c in columns), _physical_memory()
    widest = max(columns, key=lambda c: c.width)
    detail = (
        f"the encoded table has {n} x {width} cells (widest column: {widest.name!r} with "
        f"{widest.width} one-hot columns)"
    )
    peak = n * width * PEAK_BYTES_PER_CELL
    if ram is not None and peak > ram:
        raise ValueError(
            f"{detail}: about {peak / 2**30:.1f} GiB while encoding, more than this "
            f"machine's {ram / 2**30:.1f} GiB. Drop identifier-like columns or group "
            "rare categories"
        )
    if n * width * 4 > LARGE_ENCODING_BYTES:
        warnings.warn(
            f"{detail}: about {n * width * 4 / 2**30:.1f} GiB in float32 and several "
            "times that while encoding",
            UserWarning,
            stacklevel=5,
        )
