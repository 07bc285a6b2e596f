"""Tables in, scaled float matrices out, and back (ALGORITHM.md, "Encoding").

Numeric columns map to one encoded column; a categorical column with K categories maps
to a one-hot block of K columns (a missing cell marks its whole block missing). Every
encoded column is standardised with the mean and population std of its observed
training cells, then multiplied by 0.5 so that observed data has std
``sigma_data = 0.5``. Missing cells start at 0 (the observed mean).

Not in the paper (``numeric_transform="standard"`` reproduces it): a numeric column may
first pass through a quantile-normal map (its empirical CDF, then the standard normal
quantile function, as scikit-learn's ``QuantileTransformer(output_distribution=
"normal")``), fitted on its observed training cells and stored with the encoder as its
quantile knots. Decoding maps back through the same knots, so a value the model puts
inside a point mass of the training data (the zeros of a zero-inflated column) decodes
to exactly that value.

Decoding writes imputed values into a copy of the input, only where cells were missing,
so observed cells come back bit for bit and dtypes are kept. A non-finite value can never
reach an imputed cell: such a cell falls back to the column's mean (or mode), with a
warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from scipy.special import ndtr, ndtri

from ._validation import (
    check_kind,
    check_some_observed,
    check_width,
    is_dictionary,
    not_numeric_now,
    warn_if_mixed,
)
from .config import NUMERIC_TRANSFORMS, EncodingConfig

__all__ = ["SCALE", "ColumnInfo", "TableEncoder", "plain_label"]

SCALE = 0.5  # observed cells get std 0.5 = sigma_data

# Training cells lie within 0.5 sqrt(n) of 0 in the scaled space; only new rows with
# absurd values get further out, and clipping them keeps the float32 cast finite.
Z_LIMIT = 1e6
NUMERIC = "numeric"
CATEGORICAL = "categorical"
# the encoder's settings are EncodingConfig's fields, with its defaults
_DEFAULTS = EncodingConfig()
_SETTINGS = tuple(f.name for f in fields(EncodingConfig))

# scikit-learn's QuantileTransformer: CDF values are kept within [1e-7, 1 - 1e-7] before
# the normal quantile function, so the extremes map to about -5.2 and +5.2, not infinity.
_CDF_BOUND = 1e-7 - np.spacing(1)
_Z_BOUND = float(-ndtri(_CDF_BOUND))


@dataclass
class ColumnInfo:
    """What the encoder learned about one input column.

    Attributes
    ----------
    name : hashable
        Column label.
    kind : {"numeric", "categorical"}
    width : int
        Encoded columns (1, or the number of categories).
    categories : list or None
        Category values seen in training, in block order.
    integer : bool
        Numeric column with an integer dtype: imputations are rounded and clipped to
        the observed range ``[lo, hi]``.
    lo, hi : float or None
        Observed range of a numeric column.
    quantiles : list of float or None
        A numeric column passed through the quantile-normal map: the observed values at
        evenly spaced CDF levels 0, 1/(m-1), ..., 1 (non-decreasing; ties mark point
        masses). None: the column is only standardised (the paper).
    """

    name: Hashable
    kind: str
    width: int
    categories: list[Any] | None = None
    integer: bool = False
    lo: float | None = None
    hi: float | None = None
    quantiles: list[float] | None = None


def _levels(n: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n)


def quantile_knots(values: np.ndarray, n_quantiles: int) -> np.ndarray:
    """The knots of the quantile-normal map of ``values`` (finite, at least one).

    As scikit-learn's ``QuantileTransformer.fit`` without subsampling: the values at
    ``min(n_quantiles, len(values))`` evenly spaced CDF levels, made non-decreasing.
    """
    levels = _levels(max(min(n_quantiles, values.size), 2))
    unit = _unit(values)  # a power of two: the scaling is exact, and nothing overflows
    return np.maximum.accumulate(np.percentile(values / unit, levels * 100.0)) * unit


def _unit(values: np.ndarray) -> float:
    """A power of two within a factor 2 of the largest finite magnitude in ``values``."""
    top = np.max(np.abs(values), initial=0.0, where=np.isfinite(values))
    return float(np.ldexp(1.0, np.frexp(top)[1] - 1)) if top > 0 else 1.0


def to_normal(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Raw values to standard-normal scores through ``knots`` (NaN stays NaN).

    The CDF level of ``x`` is the average of the forward and backward interpolations,
    so a value tied over several knots (a point mass) lands in the middle of its level
    range, as in scikit-learn; values at or beyond the observed extremes map to
    about -5.2 and +5.2.
    """
    levels = _levels(knots.size)
    unit = _unit(knots)
    x, knots = x / unit, knots / unit  # differences of knots near 1e308 would overflow
    with np.errstate(invalid="ignore"):
        u = 0.5 * (np.interp(x, knots, levels) - np.interp(-x, -knots[::-1], -levels[::-1]))
        u = np.where(x <= knots[0], 0.0, np.where(x >= knots[-1], 1.0, u))
    return np.clip(ndtri(np.clip(u, _CDF_BOUND, 1.0 - _CDF_BOUND)), -_Z_BOUND, _Z_BOUND)


def from_normal(g: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Standard-normal scores back to raw values through ``knots`` (NaN stays NaN).

    Scores at or beyond the forward map's extremes (about +-5.2) give the observed
    extremes, as in scikit-learn.
    """
    u = ndtr(g)
    with np.errstate(invalid="ignore"):
        u = np.where(u < 1e-7, 0.0, np.where(u > 1.0 - 1e-7, 1.0, u))
    unit = _unit(knots)
    return np.interp(u, _levels(knots.size), knots / unit) * unit


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def plain_label(label: Any) -> Any:
    """A column label as a model file gives it back: numpy scalars as Python ones, and
    tuples (MultiIndex columns), which JSON stores as lists, as tuples."""
    if isinstance(label, (list, tuple)):
        return tuple(plain_label(v) for v in label)
    return _python_scalar(label)


def _sorted_categories(values: pd.Series) -> list[Any]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique().tolist())
        return [_python_scalar(c) for c in values.dtype.categories if c in present]
    unique = [_python_scalar(v) for v in pd.unique(values.dropna())]
    try:
        return sorted(unique)
    except TypeError:  # mixed types: a stable, documented order
        return sorted(unique, key=lambda v: (type(v).__name__, str(v)))


def _cast_numeric(values: np.ndarray, dtype: Any) -> np.ndarray:
    """Imputed floats in the column's own numpy dtype (no silent upcast on assignment)."""
    target = np.dtype(getattr(dtype, "numpy_dtype", dtype))  # nullable Int64/Float32 -> numpy
    if target.kind in "iu":  # float(2**63 - 1) rounds up to 2**63, which int64 cannot hold
        info = np.iinfo(target)
        upper = float(info.max)
        if int(upper) > info.max:
            upper = np.nextafter(upper, 0.0)
        values = np.clip(values, float(info.min), upper)
    return values.astype(target)


def _with_categories(series: pd.Series, values: np.ndarray) -> pd.Series:
    """A category column that can take ``values``: its own categories, in their order,
    then those of ``values`` it lacks (in order of first appearance)."""
    present = series.cat.categories
    added = [v for v in pd.unique(np.asarray(values, dtype=object)) if v not in present]
    return series.cat.add_categories(added) if added else series


def _check_scalars(series: pd.Series) -> None:
    """Object columns (and a category column's object categories) may hold strings,
    numbers and booleans only."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = dtype.categories  # categories of other dtypes: check_table
        if not ptypes.is_object_dtype(values.dtype):
            return
    elif ptypes.is_object_dtype(dtype):
        values = series.dropna()
    else:
        return
    bad = [v for v in values if not isinstance(v, (str, int, float, bool, np.generic))]
    if bad:
        raise TypeError(
            f"column {series.name!r} holds a {type(bad[0]).__name__} value ({bad[0]!r}); "
            "argument must be a string or a number in every cell"
        )


def _numeric_values(series: pd.Series) -> np.ndarray:
    """A numeric column as float64 with NaN where missing; a clear error if it is not."""
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise not_numeric_now(series.name, f"holds non-numbers (dtype {series.dtype})") from None


def _observed_stats(raw: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of each column's observed cells, free of overflow.

    Values are divided by the column's largest magnitude first, so that columns of
    1e300 or 1e-300 are handled like unit ones (squares of 1e200 would overflow).
    """
    counts = np.maximum(observed.sum(axis=0), 1)
    magnitude = np.where(observed, np.abs(raw), 0.0).max(axis=0, initial=0.0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    unit = np.where(observed, raw / magnitude, 0.0)
    mean = unit.sum(axis=0) / counts
    var = np.where(observed, (unit - mean) ** 2, 0.0).sum(axis=0) / counts
    return mean * magnitude, np.sqrt(var) * magnitude


def infer_kind(series: pd.Series) -> str:
    """``categorical`` for bool, category (pandas' or pyarrow's dictionary), string and
    object dtypes; else ``numeric``."""
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if is_dictionary(dtype):  # pyarrow's category
        return CATEGORICAL
    if ptypes.is_numeric_dtype(dtype):
        return NUMERIC
    if ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype):
        return CATEGORICAL
    raise TypeError(
        f"column {series.name!r} has dtype {dtype}, which diffputer cannot impute; "
        "convert it to numbers or strings first"
    )


class TableEncoder:
    """Learn the encoding of a table from its observed cells, and apply it both ways.

    Parameters
    ----------
    categorical_columns : sequence of labels, optional
        Columns to treat as categorical whatever their dtype (e.g. integer codes).
        Other columns follow :func:`infer_kind`.
    numeric_transform : {"standard", "quantile", "auto"}, default="standard"
        "standard": numeric columns are only standardised (the paper). "quantile":
        every numeric column with at least two distinct observed values first passes
        through the quantile-normal map. "auto": only discrete columns with a point
        mass: the most frequent observed value holds at least ``min_mode_share`` of
        the observed cells, and there are at most ``max_distinct_share`` times as many
        distinct values as observed cells (counts, ratings, zero-inflated amounts in
        whole units; not continuous columns, where the inverse map's steep tails cost
        more than it gains).
    n_quantiles : int, default=1000
        Knots of the quantile-normal map (fewer if the column has fewer observed cells).
    min_mode_share, max_distinct_share : float, default=0.25, 0.05
        The "auto" rule's thresholds.
    """

    def __init__(
        self,
        categorical_columns: Sequence[Hashable] | None = None,
        numeric_transform: str = _DEFAULTS.numeric_transform,
        n_quantiles: int = _DEFAULTS.n_quantiles,
        min_mode_share: float = _DEFAULTS.min_mode_share,
        max_distinct_share: float = _DEFAULTS.max_distinct_share,
    ):
        if numeric_transform not in NUMERIC_TRANSFORMS:
            raise ValueError(
                f"numeric_transform must be one of {NUMERIC_TRANSFORMS}; got {numeric_transform!r}"
            )
        self.categorical_columns = categorical_columns
        self.numeric_transform = numeric_transform
        self.n_quantiles = n_quantiles
        self.min_mode_share = min_mode_share
        self.max_distinct_share = max_distinct_share

    # ------------------------------------------------------------------ fitting
    def fit(self, frame: pd.DataFrame) -> TableEncoder:
        forced = set(self.categorical_columns or ())
        unknown = forced - set(frame.columns)
        if unknown:
            raise ValueError(
                f"categorical_columns names columns not in the table: {sorted(map(str, unknown))}"
            )
        check_some_observed(frame)
        self.columns_: list[ColumnInfo] = []
        for i, name in enumerate(frame.columns):
            series = frame.iloc[:, i]
            _check_scalars(series)
            kind = CATEGORICAL if name in forced else infer_kind(series)
            if kind == CATEGORICAL:
                warn_if_mixed(series)
            self.columns_.append(self._fit_column(name, series, kind))
        check_width(frame, self.columns_)
        raw, observed = self._raw(frame)
        mean, std = _observed_stats(self._forward(raw), observed)
        self.mean_ = mean
        self.std_ = np.where(std > 0, std, 1.0)  # a constant column must not divide by 0
        return self

    def _fit_column(self, name: Hashable, series: pd.Series, kind: str) -> ColumnInfo:
        if kind == CATEGORICAL:
            cats = _sorted_categories(series)
            return ColumnInfo(name, CATEGORICAL, max(len(cats), 1), categories=cats)
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[~np.isnan(values)]
        lo = float(finite.min()) if finite.size else None
        hi = float(finite.max()) if finite.size else None
        integer = ptypes.is_integer_dtype(series.dtype)
        knots = None
        if self._wants_quantiles(finite):
            knots = quantile_knots(finite, self.n_quantiles).tolist()
        return ColumnInfo(name, NUMERIC, 1, integer=integer, lo=lo, hi=hi, quantiles=knots)

    def _wants_quantiles(self, finite: np.ndarray) -> bool:
        """Whether a numeric column with observed values ``finite`` gets the quantile map."""
        if self.numeric_transform == "standard" or finite.size < 2:
            return False
        _, counts = np.unique(finite, return_counts=True)
        if counts.size < 2:  # constant: nothing to map
            return False
        if self.numeric_transform == "quantile":
            return True
        return (
            counts.max() >= self.min_mode_share * finite.size
            and counts.size <= self.max_distinct_share * finite.size
        )

    @property
    def n_encoded(self) -> int:
        """Width D of the encoded matrix."""
        return sum(c.width for c in self.columns_)

    def blocks(self) -> list[slice]:
        """The encoded columns of every input column, in order."""
        out, start = [], 0
        for col in self.columns_:
            out.append(slice(start, start + col.width))
            start += col.width
        return out

    def numeric_columns(self) -> np.ndarray:
        """Per encoded column, True where it encodes a numeric column (not one-hot)."""
        out = np.zeros(self.n_encoded, dtype=bool)
        for col, block in zip(self.columns_, self.blocks(), strict=True):
            out[block] = col.kind == NUMERIC
        return out

    # ------------------------------------------------------------------ encoding
    def _mapped(self) -> list[tuple[int, np.ndarray]]:
        """(encoded column, knots) of every column that has the quantile-normal map."""
        return [
            (block.start, np.asarray(col.quantiles, dtype=np.float64))
            for col, block in zip(self.columns_, self.blocks(), strict=True)
            if col.quantiles is not None
        ]

    def _forward(self, raw: np.ndarray) -> np.ndarray:
        """Raw encoded values to the values that get standardised (a copy if mapped)."""
        mapped = self._mapped()
        if not mapped:
            return raw
        out = np.array(raw, dtype=np.float64)
        for j, knots in mapped:
            out[:, j] = to_normal(out[:, j], knots)
        return out

    def _inverse(self, values: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`_forward`, in place."""
        for j, knots in self._mapped():
            values[:, j] = from_normal(values[:, j], knots)
        return values

    def _raw(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Unscaled encoded values (NaN where missing) and the observed mask."""
        n = len(frame)
        raw = np.full((n, self.n_encoded), np.nan)
        for i, (col, block) in enumerate(zip(self.columns_, self.blocks(), strict=True)):
            series = frame.iloc[:, i]
            check_kind(series, col.kind == NUMERIC, col.categories)
            if col.kind == NUMERIC:
                raw[:, block.start] = _numeric_values(series)
                continue
            _check_scalars(series)
            values = series.to_numpy(dtype=object, na_value=None)
            codes = pd.Index(col.categories, dtype=object).get_indexer(values)
            unseen = series.notna().to_numpy() & (codes < 0)
            if unseen.any():
                examples = pd.unique(series[unseen])[:3].tolist()
                warnings.warn(
                    f"column {col.name!r}: {int(unseen.sum())} value(s) not seen in training "
                    f"(e.g. {examples}); the model treats them as missing, the output keeps them",
                    UserWarning,
                    stacklevel=4,
                )
            rows = np.flatnonzero(codes >= 0)
            raw[rows, block.start : block.stop] = 0.0
            raw[rows, block.start + codes[rows]] = 1.0
        return raw, ~np.isnan(raw)

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``frame``.

        Returns
        -------
        z : ndarray of shape (n, D), float32
            Scaled values; missing cells are 0 (the observed training mean).
        mask : ndarray of shape (n, D), bool
            True where the encoded cell is missing.
        """
        raw, observed = self._raw(frame)
        raw = self._forward(raw)
        with np.errstate(over="ignore"):
            z = (raw - self.mean_) / self.std_
            overflow = np.isinf(z)
            if overflow.any():  # raw - mean overflowed near the float64 limit
                z = np.where(overflow, raw / self.std_ - self.mean_ / self.std_, z)
        z = np.clip(z * SCALE, -Z_LIMIT, Z_LIMIT)
        z = np.where(observed, z, 0.0).astype(np.float32)
        return z, ~observed

    def scaled_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per encoded column, the observed training range in the model's scaled space.

        Numeric columns: their observed ``[lo, hi]``; one-hot columns: ``[0, 1]``.

        Returns
        -------
        lo, hi : ndarray of shape (D,), float32
        """
        lo_raw = np.zeros(self.n_encoded)
        hi_raw = np.ones(self.n_encoded)
        for col, block in zip(self.columns_, self.blocks(), strict=True):
            if col.kind == NUMERIC:
                lo_raw[block] = col.lo if col.lo is not None else 0.0
                hi_raw[block] = col.hi if col.hi is not None else 0.0
        lo_raw = self._forward(lo_raw[None, :])[0]
        hi_raw = self._forward(hi_raw[None, :])[0]
        with np.errstate(over="ignore", invalid="ignore"):
            lo = np.clip((lo_raw - self.mean_) / self.std_ * SCALE, -Z_LIMIT, Z_LIMIT)
            hi = np.clip((hi_raw - self.mean_) / self.std_ * SCALE, -Z_LIMIT, Z_LIMIT)
        return lo.astype(np.float32), hi.astype(np.float32)

    # ------------------------------------------------------------------ decoding
    def unscale(self, z: np.ndarray) -> np.ndarray:
        """Back from the model's space to raw encoded values (float64; inf on overflow).
        ``z``'s last axis is the encoded columns; any leading axes (rows, samples) are
        kept."""
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.asarray(z, dtype=np.float64) / SCALE * self.std_ + self.mean_
        return self._inverse(values.reshape(-1, self.n_encoded)).reshape(np.shape(z))

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """Raw encoded values in the model's units without the 0.5 (the inverse of
        :meth:`unscale` up to that factor)."""
        flat = np.asarray(raw).reshape(-1, self.n_encoded)
        return (self._forward(flat).reshape(np.shape(raw)) - self.mean_) / self.std_

    def decode_column(self, i: int, raw: np.ndarray, clip: bool = False) -> np.ndarray:
        """Values of input column ``i`` from raw encoded values (one per row).

        ``clip``: numbers within the column's observed range, exactly (the sampler
        clips in float32 scaled units, which can land a rounding step outside)."""
        col, block = self.columns_[i], self.blocks()[i]
        if col.kind == CATEGORICAL:
            if not col.categories:
                return np.full(len(raw), np.nan, dtype=object)
            cats = np.empty(len(col.categories), dtype=object)
            cats[:] = col.categories
            return cats[np.argmax(raw[:, block], axis=1)]
        values = raw[:, block.start]
        if col.lo is not None and col.lo == col.hi:  # constant when observed: stay so
            return np.full(len(raw), col.lo)
        if col.integer:
            values = np.clip(np.rint(values), col.lo, col.hi)
        elif clip and col.lo is not None:
            values = np.clip(values, col.lo, col.hi)
        return values

    def _finite_or_mean(self, i: int, rows: np.ndarray) -> int:
        """Make column ``i``'s block of ``rows`` finite, in place; return the rows fixed.

        The last guard of the decode path: whatever the model did, no NaN or inf can
        reach an imputed cell. NaN falls back to the column mean (a categorical block:
        to its most frequent category). A numeric value past the float64 range (the
        unscaling overflowed) saturates at the observed extreme, silently: it is the
        closest representable answer. Returns the number of rows that fell back.
        """
        col, block = self.columns_[i], self.blocks()[i]
        values = rows[:, block]
        bad = ~np.isfinite(values)
        if not bad.any():
            return 0
        if col.kind == NUMERIC:
            values = np.where(values == np.inf, col.hi, np.where(values == -np.inf, col.lo, values))
            bad = np.isnan(values)
        fallback = self._inverse(self.mean_[None, :].copy())[0]  # raw value of z = 0
        rows[:, block] = np.where(bad, fallback[block], values)
        return int(bad.any(axis=1).sum())

    def fill(self, frame: pd.DataFrame, z: np.ndarray, clip: bool = False) -> pd.DataFrame:
        """A copy of ``frame`` with its missing cells replaced by the decoded ``z``
        (numbers within each column's observed range when ``clip``).

        Observed cells are taken from ``frame`` itself (bit for bit), and every column
        keeps its dtype, except that a ``category`` column lacking an imputed value
        among its categories (new rows made with ``.astype("category")`` have only the
        categories present) gets it appended to them, after its own in their order.
        Non-finite values in ``z`` fall back to the column mean or mode, with a warning.
        """
        raw = self.unscale(z)
        out = frame.copy()
        fallbacks: dict[Hashable, int] = {}
        for i in range(len(self.columns_)):
            series = frame.iloc[:, i]
            missing = series.isna().to_numpy()
            if not missing.any():
                continue
            rows = raw[missing]
            n_bad = self._finite_or_mean(i, rows)
            if n_bad:
                fallbacks[series.name] = n_bad
            values = self.decode_column(i, rows, clip)
            filled = series.copy()
            if ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype):
                values = _cast_numeric(values, series.dtype)  # numbers, or numeric codes
            if isinstance(series.dtype, pd.CategoricalDtype):
                filled = _with_categories(filled, values)
            filled[missing] = values
            out.isetitem(i, filled)
        if fallbacks:
            where = ", ".join(f"{name!r} ({n})" for name, n in fallbacks.items())
            warnings.warn(
                f"the model gave non-finite values for missing cells of column(s) {where}; "
                "they were filled with the column mean (or most frequent category) instead",
                UserWarning,
                stacklevel=2,
            )
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "categorical_columns": [_python_scalar(c) for c in self.categorical_columns or []],
            **{name: getattr(self, name) for name in _SETTINGS},
            "columns": [asdict(c) for c in self.columns_],
            "mean": self.mean_.tolist(),
            "std": self.std_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableEncoder:
        settings = {name: data[name] for name in _SETTINGS if name in data}  # older files: none
        enc = cls(categorical_columns=data["categorical_columns"] or None, **settings)
        enc.columns_ = [ColumnInfo(**c) for c in data["columns"]]
        for col in enc.columns_:  # JSON gives a MultiIndex's tuple labels back as lists
            if isinstance(col.name, list):
                col.name = plain_label(col.name)
        for col in enc.columns_:
            knots = col.quantiles
            if knots is not None and (
                col.kind != NUMERIC
                or len(knots) < 2
                or not np.all(np.isfinite(knots))
                or np.any(np.diff(knots) < 0)
            ):
                raise ValueError(f"column {col.name!r}: invalid quantile knots")
        enc.mean_ = np.asarray(data["mean"], dtype=np.float64)
        enc.std_ = np.asarray(data["std"], dtype=np.float64)
        if enc.mean_.shape != (enc.n_encoded,) or enc.std_.shape != (enc.n_encoded,):
            raise ValueError("encoder statistics do not match its columns")
        return enc
