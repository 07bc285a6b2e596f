"""What every baseline shares: mixed DataFrames in and out, one encoding for all.

A baseline is a :class:`MixedImputer`. It encodes the table with one of two codecs,
imputes a float matrix, and decodes back into a copy of its input:

- :class:`OneHotCodec` (linear, distance and low-rank methods): the library's own
  :class:`~diffputer.TableEncoder`, i.e. exactly DiffPuter's encoding: numeric columns
  standardised on their observed cells, categorical columns one-hot (a missing cell
  makes its whole block missing) with each indicator standardised too. Decoding takes
  the argmax of each block in raw (probability-like) units.
- :class:`OrdinalCodec` (tree methods): numeric columns raw, categorical ones as integer
  codes in the same category order as the one-hot blocks.
- :class:`BinaryCodec` (ReMasker, as the DiffPuter authors ran it): numeric columns as
  in :class:`OneHotCodec`, a categorical column as the binary digits of its category's
  code; decoded to the nearest valid code.

Both decode through ``TableEncoder.fill``: observed cells come back bit for bit, dtypes
are kept, and categorical outputs are categories seen in training.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..._encoding import CATEGORICAL, SCALE, TableEncoder

__all__ = [
    "BinaryCodec",
    "InSampleOnlyError",
    "MixedImputer",
    "OneHotCodec",
    "OrdinalCodec",
    "rows_by_pattern",
]


class InSampleOnlyError(NotImplementedError):
    """Raised by ``transform`` of a method that can only impute the rows it was fitted on."""


class OneHotCodec:
    """A mixed table as a float matrix in z units (NaN = missing), one-hot categoricals.

    Parameters
    ----------
    categorical_columns : sequence of labels, optional
        Columns to treat as categorical whatever their dtype.
    **encoding
        Passed to :class:`~diffputer.TableEncoder` (``numeric_transform``, ...); the
        default is the paper's standardisation.
    """

    def __init__(self, categorical_columns: Any = None, **encoding: Any):
        self.encoder = TableEncoder(categorical_columns, **encoding)

    def fit(self, frame: pd.DataFrame) -> OneHotCodec:
        self.encoder.fit(frame)
        return self

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """ndarray of shape (n, D), float64: observed cells standardised, NaN where missing."""
        z, mask = self.encoder.transform(frame)
        x = z.astype(np.float64) / SCALE
        x[mask] = np.nan
        return x

    def decode(self, frame: pd.DataFrame, x: np.ndarray) -> pd.DataFrame:
        """A copy of ``frame`` with its missing cells taken from ``x`` (shape (n, D))."""
        return self.encoder.fill(frame, np.asarray(x, dtype=np.float64) * SCALE)


class OrdinalCodec(OneHotCodec):
    """A mixed table as a float matrix (n, d): raw numbers and categorical codes, NaN missing.

    Codes index the categories seen in training (the one-hot block order).
    """

    def fit(self, frame: pd.DataFrame) -> OrdinalCodec:
        super().fit(frame)
        self.is_categorical = np.array([c.kind == CATEGORICAL for c in self.encoder.columns_])
        self.n_categories = np.array([c.width for c in self.encoder.columns_])
        return self

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        z, mask = self.encoder.transform(frame)
        raw = self.encoder.unscale(z)
        out = np.empty((len(frame), len(self.encoder.columns_)))
        for j, block in enumerate(self.encoder.blocks()):
            if self.is_categorical[j]:
                out[:, j] = np.argmax(raw[:, block], axis=1)
            else:
                out[:, j] = raw[:, block.start]
            out[mask[:, block.start], j] = np.nan
        return out

    def decode(self, frame: pd.DataFrame, x: np.ndarray) -> pd.DataFrame:
        raw = np.zeros((len(frame), self.encoder.n_encoded))
        for j, block in enumerate(self.encoder.blocks()):
            if self.is_categorical[j]:
                codes = np.clip(np.rint(x[:, j]), 0, block.stop - block.start - 1).astype(int)
                raw[np.arange(len(frame)), block.start + codes] = 1.0
            else:
                raw[:, block.start] = x[:, j]
        return self.encoder.fill(frame, self.encoder.standardise(raw) * SCALE)


class BinaryCodec(OneHotCodec):
    """A mixed table as a float matrix: numbers in z units, categories as binary digits.

    A categorical column with ``k`` categories becomes ``(k - 1).bit_length()`` columns
    holding the 0/1 digits of its category's code (most significant first; codes in the
    one-hot block order), all missing when the cell is; numeric columns are as in
    :class:`OneHotCodec`. This is how the DiffPuter authors fed categories to their
    baselines (``baselines/data_utils.py``). Decoding takes, for each row, the valid code
    nearest (in squared distance) to the predicted digits: the digits rounded at 0.5
    when that is a valid code, as the authors decode, and never a code past ``k - 1``.
    """

    def fit(self, frame: pd.DataFrame) -> BinaryCodec:
        super().fit(frame)
        self.codebooks: list[np.ndarray | None] = []
        widths = []
        for col in self.encoder.columns_:
            if col.kind == CATEGORICAL:
                bits = max(col.width - 1, 0).bit_length()
                codes = np.arange(col.width)[:, None]
                self.codebooks.append(((codes >> np.arange(bits)[::-1]) & 1).astype(np.float64))
                widths.append(bits)
            else:
                self.codebooks.append(None)
                widths.append(1)
        self.slices = [slice(a - w, a) for a, w in zip(np.cumsum(widths), widths, strict=True)]
        self.n_columns = int(sum(widths))
        return self

    def _parts(self) -> list[tuple[slice, slice, np.ndarray | None]]:
        """Per input column: its one-hot block, its columns here, its codebook (or None)."""
        return list(zip(self.encoder.blocks(), self.slices, self.codebooks, strict=True))

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        z, mask = self.encoder.transform(frame)
        raw = self.encoder.unscale(z)
        out = np.empty((len(frame), self.n_columns))
        for block, cols, book in self._parts():
            if block.stop == block.start:  # a categorical column with no category seen
                continue
            if book is None:
                out[:, cols.start] = z[:, block.start].astype(np.float64) / SCALE
            else:
                out[:, cols] = book[np.argmax(raw[:, block], axis=1)]
            out[mask[:, block.start], cols] = np.nan
        return out

    def decode(self, frame: pd.DataFrame, x: np.ndarray) -> pd.DataFrame:
        n = len(frame)
        onehot = np.zeros((n, self.encoder.n_encoded))
        for block, cols, book in self._parts():
            if book is not None and len(book):
                digits = x[:, cols]
                distance = ((digits[:, None, :] - book[None, :, :]) ** 2).sum(axis=2)
                onehot[np.arange(n), block.start + np.argmin(distance, axis=1)] = 1.0
                onehot[~np.isfinite(digits).all(axis=1), block] = np.nan  # fill falls back
        z = self.encoder.standardise(onehot)
        for block, cols, book in self._parts():
            if book is None:
                z[:, block.start] = x[:, cols.start]
        return self.encoder.fill(frame, z * SCALE)


def rows_by_pattern(missing: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Group rows by their missingness pattern, skipping complete rows.

    Parameters
    ----------
    missing : ndarray of shape (n, D), bool

    Yields
    ------
    pattern : ndarray of shape (D,), bool
        The missing columns of the group.
    rows : ndarray of int
        The rows with that pattern.
    """
    patterns, inverse = np.unique(missing, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(patterns) + 1))
    for k, pattern in enumerate(patterns):
        if pattern.any():
            yield pattern, order[bounds[k] : bounds[k + 1]]


class MixedImputer(TransformerMixin, BaseEstimator):
    """Base class: encode a mixed DataFrame, impute the matrix, decode.

    Subclasses set ``codec`` (``"onehot"`` or ``"ordinal"``), implement
    :meth:`_fit_impute` and, when they can impute new rows, :meth:`_impute_new`.
    ``out_of_sample = False`` marks an in-sample-only method: its ``transform`` raises
    :class:`InSampleOnlyError` instead of faking an answer.

    Every input must be a pandas DataFrame; the output is a copy of it with the missing
    cells filled (observed cells, index, columns and dtypes unchanged).
    """

    codec = "onehot"
    out_of_sample = True

    # ------------------------------------------------------------------ subclass hooks
    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        """Fit on ``x`` (shape (n, D), NaN = missing); return it imputed."""
        raise NotImplementedError

    def _make_codec(self) -> OneHotCodec | OrdinalCodec:
        """The (unfitted) codec of this method, after ``codec``."""
        return OrdinalCodec() if self.codec == "ordinal" else OneHotCodec()

    def _impute_new(self, x: np.ndarray) -> np.ndarray:
        """Impute new rows with the fitted state."""
        raise InSampleOnlyError(
            f"{type(self).__name__} imputes only the rows it was fitted on (in-sample); "
            "use fit_transform"
        )

    # ------------------------------------------------------------------ public API
    def _check_frame(self, X: Any) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} takes a pandas DataFrame; got {type(X)}")
        if X.shape[1] == 0 or X.shape[0] == 0:
            raise ValueError(f"X must have at least one row and one column; got {X.shape}")
        return X

    def fit_transform(self, X: pd.DataFrame, y: Any = None) -> pd.DataFrame:
        """Fit on ``X`` and return its imputation (in-sample).

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_features)
            Missing cells are NaN/None/NA.
        y : ignored

        Returns
        -------
        DataFrame
            ``X`` with its missing cells filled.
        """
        if hasattr(self, "_validate_params"):
            self._validate_params()
        frame = self._check_frame(X)
        self.codec_ = self._make_codec().fit(frame)
        self.columns_ = list(frame.columns)
        self.n_features_in_ = frame.shape[1]
        x = self.codec_.encode(frame)
        return self.codec_.decode(frame, self._fit_impute(x))

    def fit(self, X: pd.DataFrame, y: Any = None) -> MixedImputer:
        """Fit on ``X`` (runs the in-sample imputation and keeps the fitted state)."""
        self.fit_transform(X)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Impute new rows with the fitted state (out-of-sample).

        Raises
        ------
        InSampleOnlyError
            For methods that cannot impute rows they were not fitted on.
        """
        check_is_fitted(self, "codec_")
        frame = self._check_frame(X)
        if list(frame.columns) != self.columns_:
            raise ValueError("X has different columns from the table seen in fit")
        x = self.codec_.encode(frame)
        return self.codec_.decode(frame, self._impute_new(x))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
