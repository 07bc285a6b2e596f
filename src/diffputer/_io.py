"""Reading and writing tables by extension (CSV or Parquet), with atomic writes.

A CSV file is read as text (:class:`CsvText`): its observed cells are written back as
the very text they were read as (``007`` stays ``007``, ``79`` does not become
``79.0``), its header as it was, and only the missing cells get new text.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import itertools
import lzma
import math
import os
import re
import secrets
import warnings
import zipfile
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from ._validation import is_dictionary

__all__ = [
    "DEFAULT_NA_VALUES",
    "mark_missing",
    "CsvText",
    "atomic_write",
    "read_csv_text",
    "read_table",
    "table_format",
    "write_table",
]

#: The text read as a missing cell unless told otherwise: pandas' ``read_csv`` defaults
#: (its documentation of ``na_values``), the empty cell included.
DEFAULT_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

# at most this many decimal places are copied from a column's observed cells to its
# imputed ones; past it (or in exponent notation) the shortest round-trip form is used
MAX_PLACES = 10
# spaces around a number in the patterns below: not ``\s``, which sends pandas' string
# kernels from pyarrow's regex engine to a Python loop (ten times slower)
_S = "[ \t]*"

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file name (``.csv``, ``.csv.gz``, ``.parquet``)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes[-1:] in ([".gz"], [".bz2"], [".zip"], [".xz"]):
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise ValueError(
            f"{path}: unknown table format; use a .csv (optionally compressed) or .parquet file"
        )
    return fmt


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame (pandas' type inference for CSV)."""
    if table_format(path) == "csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


@dataclass
class CsvText:
    """A CSV file's cells as the text they were read as.

    Attributes
    ----------
    text : DataFrame
        Every cell as ``str`` (a missing one too, as its marker), columns named by the
        header's text.
    missing : ndarray of bool, shape (n_rows, n_columns)
        Cells whose text is one of the missing-value markers.
    sep, encoding : str
        How the file was read (and how :meth:`write` writes).
    bom : bool
        The text started with a UTF-8 byte-order mark (written back with one; in a
        compressed file too).
    line_end : str
        The header's line ending, ``"\\n"`` or ``"\\r\\n"`` (Windows), used for every
        line written.
    decimal : str
        The decimal mark of the file's numbers (``"."``, or ``","`` as in ``3,25``).
    """

    text: pd.DataFrame
    missing: np.ndarray
    sep: str = ","
    encoding: str = "utf-8"
    bom: bool = False
    line_end: str = "\n"
    decimal: str = "."

    def typed(
        self,
        categorical: Iterable[Hashable] = (),
        kinds: Mapping[Hashable, Any] | None = None,
    ) -> pd.DataFrame:
        """The table for the imputer, missing cells NaN.

        A column whose observed cells all read as numbers (with :attr:`decimal` as
        their decimal mark) is numeric: nullable ``Int64`` when all are whole numbers
        that fit, written as ``39`` or ``39.0`` (imputations are then whole numbers),
        else float64. Other columns, and those in ``categorical``, are text (``str``);
        a column of numbers written with decimal commas, unless :attr:`decimal` is
        ``","`` or it is in ``categorical``, is a ``ValueError`` saying so.

        ``kinds``: a fitted encoder's :class:`ColumnInfo` by column name; a column it
        knows follows it instead (numeric or categorical, categories of numbers or
        booleans read as such) so that a saved model sees the types it was trained on.
        """
        forced = set(categorical)
        columns = {}
        for i, name in enumerate(self.text.columns):
            text = self.text.iloc[:, i].where(~self.missing[:, i])
            info = (kinds or {}).get(name)
            if info is not None:
                columns[name] = _as_trained(text, info, self.decimal)
            elif name in forced:
                columns[name] = text
            else:
                columns[name] = _numeric_or_text(text, self.decimal)
        return pd.DataFrame(columns, index=self.text.index)

    def filled(self, result: pd.DataFrame, copy: bool = True) -> pd.DataFrame:
        """The text table with each missing cell replaced by ``result``'s value there,
        written like the column's observed cells (:func:`_number_text`): numbers with
        as many decimal places as those have (``39.0`` style whole numbers too; up to
        :data:`MAX_PLACES`) and their decimal mark, zero-padded codes padded alike;
        other numbers in Python's shortest round-trip form; categories as their text.
        ``copy=False`` fills :attr:`text` itself (its missing markers are then gone),
        column by column, which saves holding a large table twice."""
        out = self.text
        if copy:
            out = out.copy()
        for i in range(out.shape[1]):
            if self.missing[:, i].any():
                # a whole column at a time, replacing the old one: the text stays in its
                # compact array, and a large table is not held twice
                out.isetitem(i, self._filled_column(i, result.iloc[:, i], out.iloc[:, i]))
        return out

    def _filled_column(self, i: int, values: pd.Series, text: pd.Series) -> pd.Series:
        """Column ``i``'s ``text`` with its missing cells written from ``values``."""
        missing = self.missing[:, i]
        rows = np.flatnonzero(missing)
        write = _number_text(text[~missing], self.decimal)
        filler = pd.Series(write(values.iloc[rows]), index=text.index[rows], dtype=text.dtype)
        return text.where(~missing, filler.reindex(text.index))

    def with_codes(self, result: pd.DataFrame) -> pd.DataFrame:
        """``result`` with each column of zero-padded codes (``04256``, read as numbers
        to impute them) back as their text, imputed ones padded alike: for a typed
        output (Parquet) that must not turn ``09933`` into ``9933``."""
        out = result
        for i in range(self.text.shape[1]):
            text = self.text.iloc[:, i]
            if not _zero_padded_width(text[~self.missing[:, i]]):
                continue
            out = result.copy() if out is result else out
            out.isetitem(i, self._filled_column(i, result.iloc[:, i], text).set_axis(result.index))
        return out

    def write(self, frame: pd.DataFrame, path: str | Path) -> None:
        """Write ``frame`` (text, as from :meth:`filled`) atomically to ``path``,
        with this file's separator, encoding, byte-order mark and line ending."""
        encoding = self.encoding
        if self.bom and encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
            encoding = "utf-8-sig"
        atomic_write(
            path,
            lambda tmp: _to_csv(
                frame,
                tmp,
                path,
                index=False,
                sep=self.sep,
                encoding=encoding,
                lineterminator=self.line_end,
            ),
        )


def read_csv_text(
    path: str | Path,
    sep: str = ",",
    encoding: str = "utf-8",
    na_values: Iterable[str] | None = None,
    decimal: str = ".",
) -> CsvText:
    """Read a CSV file as text; a cell is missing when its text, without the spaces
    around it, is one of ``na_values`` (default :data:`DEFAULT_NA_VALUES`; an empty or
    blank cell always is).

    Raises
    ------
    ValueError
        A header names two columns alike, or the file seems to use another separator
        (one column whose name holds ``;``, a tab or ``|``).
    """
    read = dict(sep=sep, header=None, dtype=str, keep_default_na=False, na_filter=False)
    try:
        width, bom, line_end = _check_rows(path, sep, encoding)
        # a one-column file's blank line is a missing cell (pandas would skip it)
        raw = pd.read_csv(path, encoding=encoding, skip_blank_lines=width != 1, **read)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not {encoding} text (byte {exc.object[exc.start : exc.end]!r} at "
            f"position {exc.start}); pass its encoding, e.g. --encoding latin-1"
        ) from None
    except pd.errors.ParserError as exc:
        # a ragged table often means another separator: say so if the header shows one
        first = pd.read_csv(path, encoding=encoding, nrows=1, **read)
        _check_separator(path, [str(h) for h in first.iloc[0]], sep)
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:  # a long row, in the words used for a short one
            width, line, fields = found.groups()
            raise ValueError(
                f"{path}: line {line} has {fields} field(s), the header {width}; a long row "
                "is refused (a separator inside an unquoted cell?)"
            ) from None
        raise ValueError(f"{path}: {exc}") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: no header, no rows") from None
    if width == 1:  # blank lines at the end are the file's end, not missing cells
        last = raw.iloc[:, 0].ne("").to_numpy().nonzero()[0]
        raw = raw.iloc[: last[-1] + 1 if last.size else 0]
    header = [str(h) for h in raw.iloc[0]] if len(raw) else []  # no NaN: na_filter=False
    _check_header(path, header)
    _check_separator(path, header, sep)
    text = raw.iloc[1:].reset_index(drop=True)
    text.columns = header
    markers = {m.strip() for m in (DEFAULT_NA_VALUES if na_values is None else na_values)}
    markers.add("")
    # spaces around a cell do not hide a marker (UCI Adult's ' ?', a blank ' ')
    missing = np.zeros(text.shape, dtype=bool)
    for i in range(text.shape[1]):
        missing[:, i] = text.iloc[:, i].str.strip().isin(markers).to_numpy(dtype=bool)
    return CsvText(text, missing, sep, encoding, bom, line_end, decimal)


def _check_header(path: str | Path, header: list[str]) -> None:
    """Unique column names, on a line that names columns rather than holding data.

    A first line whose fields (at least 3, blanks aside) are 90% or more decimal
    fractions such as ``28.7967`` is data: column names are rarely so. Anything less
    is taken as a header (read wrongly, a data line would still be written back as
    it was)."""
    named = [h for h in header if h.strip()]
    fractions = sum(bool(re.fullmatch(rf"{_S}[+-]?[0-9]*\.[0-9]+{_S}", h)) for h in named)
    if len(named) >= 3 and fractions >= 0.9 * len(named):
        shown = ", ".join(repr(h) for h in header[:4]) + (", ..." if len(header) > 4 else "")
        raise ValueError(
            f"{path}: the first line ({shown}) reads as numbers, not column names; add a "
            "header line naming the columns"
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:
            data_like = not name.strip() or _is_number(name)
            hint = "; is the first line a header naming the columns?" if data_like else ""
            raise ValueError(
                f"{path}: columns {seen[name] + 1} and {i + 1} are both named {name!r}; "
                f"column names must be unique{hint}"
            )
        seen[name] = i


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def mark_missing(frame: pd.DataFrame, markers: Iterable[str]) -> pd.DataFrame:
    """``frame`` (from a typed file: Parquet) with the text cells (of text and category
    columns) that are one of ``markers``, spaces around them ignored, made missing;
    other columns unchanged."""
    markers = {m.strip() for m in markers}
    out = frame.copy()
    for i in range(frame.shape[1]):
        column, dtype = frame.iloc[:, i], frame.iloc[:, i].dtype
        text_like = ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype)
        if not (text_like or isinstance(dtype, pd.CategoricalDtype) or is_dictionary(dtype)):
            continue
        hit = column.astype(object).map(lambda v: isinstance(v, str) and v.strip() in markers)
        if hit.any():
            out.isetitem(i, column.mask(hit.to_numpy(dtype=bool)))
    return out


def _open_text(path: str | Path, encoding: str):
    """``path`` opened as text, decompressed by its suffix as pandas does."""
    suffix = Path(path).suffix.lower()
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        if len(names) != 1:
            raise ValueError(f"{path}: a .zip must hold one file, not {len(names)}")
        return io.TextIOWrapper(archive.open(names[0]), encoding=encoding, newline="")
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix)
    if opener is not None:
        return opener(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _check_rows(path: str | Path, sep: str, encoding: str) -> tuple[int, bool, str]:
    """The header's width, whether the text starts with a byte-order mark, and the
    header's line ending (``"\\r\\n"`` or ``"\\n"``), after refusing a row with fewer
    fields than the header (pandas would pad it with empty cells, which would then be
    imputed). Blank lines are left to the reader: missing cells in a one-column file,
    skipped otherwise.

    One streaming pass with the ``csv`` module (quoting as pandas reads it), through
    the decompressor for ``.gz``/``.bz2``/``.xz``/``.zip`` files."""
    with _open_text(path, encoding) as f:
        first = f.readline()
        line_end = "\r\n" if first.endswith("\r\n") else "\n"
        rows = csv.reader(itertools.chain([first], f), delimiter=sep)
        header = next(rows, None)
        if header is None:
            return 0, False, line_end
        width, bom = len(header), bool(header) and header[0].startswith("\ufeff")
        for row in rows:
            if row and len(row) < width:
                raise ValueError(
                    f"{path}: line {rows.line_num} has {len(row)} field(s), the header "
                    f"{width}; a short row is refused rather than padded with missing cells"
                )
    return width, bom, line_end


def _check_separator(path: str | Path, header: list[str], sep: str) -> None:
    """Refuse a header read as one column that holds another usual separator."""
    if len(header) != 1:
        return
    other = next((c for c in (";", "\t", "|", ",") if c in header[0] and c != sep), None)
    if other is not None:
        shown = "\\t" if other == "\t" else other
        raise ValueError(
            f"{path}: the header reads as one column, {header[0]!r}: is the file "
            f"separated by '{shown}'? pass --sep '{shown}'"
        )


def to_numbers(text: pd.Series, decimal: str = ".", errors: str = "raise") -> pd.Series:
    """``text`` read as numbers, ``decimal`` being their decimal mark; with ``","``, a
    cell holding a ``.`` is no number (``2.500`` groups thousands there, as for pandas'
    ``read_csv(decimal=",")``)."""
    if decimal != ".":
        dotted = text.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
        if dotted.any():
            if errors == "raise":
                raise ValueError(f"{text[dotted].iloc[0]!r} holds a '.' beside decimal commas")
            text = text.mask(dotted, "not a number")
        text = text.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(text, errors=errors)


def _numeric_or_text(text: pd.Series, decimal: str = ".") -> pd.Series:
    """``text`` (NaN where missing) as numbers when every observed cell reads as one."""
    observed = text.dropna()
    try:
        numbers = to_numbers(text, decimal)
    except (ValueError, TypeError):
        _refuse_decimal_commas(text.name, observed, decimal)
        _warn_if_mostly_numbers(text.name, observed, decimal)
        return text
    whole = _as_int64(numbers) if observed.str.fullmatch(_whole(decimal)).all() else None
    return whole if whole is not None else numbers.astype(np.float64)


def _whole(decimal: str) -> str:
    """A whole number as written in a CSV file: ``39``, or ``39.0`` (pandas' float)."""
    return rf"{_S}[+-]?[0-9]+(?:{re.escape(decimal)}0*)?{_S}"


def _refuse_decimal_commas(name: Hashable, observed: pd.Series, decimal: str) -> None:
    """Numbers such as ``3,25`` (or, with decimal commas, ``2.500``) would be categories,
    one per value (slow, huge, useless): say how to read them."""
    if observed.empty:
        return
    if decimal == ",":
        dots = observed.str.contains(".", regex=False)
        grouped = rf"{_S}[+-]?[0-9]{{1,3}}(?:\.[0-9]{{3}})+(?:,[0-9]+)?{_S}"
        if dots.any() and observed[dots].str.fullmatch(grouped).all():
            raise ValueError(
                f"column {name!r} holds numbers with '.' in them, such as "
                f"{observed[dots].iloc[0]!r}, beside decimal commas: if the dots group "
                "thousands, remove them from the file (diffputer reads no thousands "
                f"separators), or pass --categorical {name!r} to keep the column as text"
            )
        return
    if (
        observed.str.fullmatch(rf"{_S}[+-]?[0-9]+(?:,[0-9]+)?{_S}").all()
        and observed.str.contains(",").any()
    ):
        example = observed[observed.str.contains(",")].iloc[0]
        raise ValueError(
            f"column {name!r} holds numbers written with a comma, such as {example!r}: pass "
            f"--decimal ',' if the comma is their decimal mark, or --categorical {name!r} to "
            "keep them as categories"
        )


def _as_int64(numbers: pd.Series) -> pd.Series | None:
    """``numbers`` as nullable Int64, or None when they do not fit (beyond int64, or
    not whole)."""
    try:
        return numbers.astype("Int64")
    except (TypeError, ValueError, OverflowError):
        return None


def _warn_if_mostly_numbers(name: Hashable, observed: pd.Series, decimal: str = ".") -> None:
    """A text column whose cells nearly all read as numbers probably holds numbers
    with a few placeholders: it stays categorical, but say which texts did it."""
    parsed = to_numbers(observed, decimal, errors="coerce")
    odd = observed[parsed.isna()]
    if len(observed) and len(odd) <= 0.1 * len(observed):
        shown = ", ".join(repr(t) for t in odd.unique()[:5])
        warnings.warn(
            f"column {name!r} reads as numbers except {len(odd)} cell(s) such as {shown}; it "
            "is treated as categorical. If those mark missing values, name them with "
            "--na-values",
            UserWarning,
            stacklevel=3,
        )


def _as_trained(text: pd.Series, info: Any, decimal: str = ".") -> pd.Series:
    """``text`` typed as a fitted encoder's column ``info`` expects; text that does not
    read so is passed as is, for the imputer's own check to name."""
    if info.kind != "categorical":
        try:
            numbers = to_numbers(text, decimal)
        except (ValueError, TypeError):
            return text
        whole = _as_int64(numbers) if info.integer else None
        return whole if whole is not None else numbers.astype(np.float64)
    categories = info.categories or []
    if categories and all(isinstance(c, bool) for c in categories):
        words = {"true": True, "false": False}
        return text.map(lambda t: words.get(t.strip().lower(), t), na_action="ignore")
    if categories and all(isinstance(c, (int, float)) for c in categories):
        try:
            numbers = to_numbers(text, decimal)
        except (ValueError, TypeError):
            return text
        # whole-number categories: imputed as 3, not 3.0
        whole = _as_int64(numbers) if all(isinstance(c, int) for c in categories) else None
        return whole if whole is not None else numbers
    return text


def _zero_padded_width(observed: pd.Series) -> int:
    """The common width of a column of zero-padded digit strings (``04256``), else 0."""
    if observed.empty or not observed.str.fullmatch(r"[0-9]+").all():
        return 0
    widths = observed.str.len()
    padded = observed.str.startswith("0") & (widths > 1)
    return int(widths.iloc[0]) if padded.any() and (widths == widths.iloc[0]).all() else 0


def _cell_text(value: Any) -> str:
    """An imputed value as CSV text."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _all_fullmatch(observed: pd.Series, pattern: str) -> bool:
    """Whether every one of ``observed`` (texts, not empty) matches ``pattern``; the
    first is tried alone before the pass over all, which most columns fail there."""
    return (
        not observed.empty
        and re.fullmatch(pattern, observed.iloc[0]) is not None
        and bool(observed.str.fullmatch(pattern).all())
    )


def _decimal_places(observed: pd.Series, decimal: str) -> int | None:
    """How many decimal places a column's observed numbers show (``8.3252``: 4,
    ``39.0``: 1), when all are fixed-point and some have a decimal mark; else None
    (whole-number literals, exponents, or more than :data:`MAX_PLACES` places)."""
    mark = re.escape(decimal)
    if not _all_fullmatch(observed, rf"{_S}[+-]?[0-9]*(?:{mark}[0-9]+)?{_S}"):
        return None
    places = _places_after_mark(observed.str.strip(), decimal)
    return places if 0 < places <= MAX_PLACES else None


def _places_after_mark(numbers: pd.Series, decimal: str) -> int:
    """The most digits after the decimal mark among ``numbers`` (stripped texts without
    an exponent; 0 when none has a mark). String kernels only: a regex extract is a
    Python loop."""
    at = numbers.str.find(decimal)
    fraction = (numbers.str.len() - at - 1)[at >= 0]
    return int(fraction.max()) if len(fraction) else 0


def _exponent_format(observed: pd.Series, decimal: str) -> str | None:
    """The format of a column whose observed numbers use exponents (``8e5``,
    ``1.25E-03``): when all do, ``.2e`` style with the most mantissa places they show
    (``E`` if they write it so); when some do (``0.03`` beside ``1.2e-05``), ``.3g``
    style with the most significant digits any shows; else (or when they show 16 or
    more significant digits, as Python's repr writes floats) None."""
    exponent = observed.str.contains("[eE]")
    if not exponent.any():  # the common case, decided by the cheaper pass
        return None
    mark = re.escape(decimal)
    pattern = rf"{_S}[+-]?(?:[0-9]+(?:{mark}[0-9]*)?|{mark}[0-9]+)(?:[eE][+-]?[0-9]+)?{_S}"
    if not _all_fullmatch(observed, pattern):
        return None
    stripped = observed.str.strip()
    # string kernels only (a split makes a Python list per cell)
    mantissa = stripped.str.replace("[eE].*", "", regex=True).str.lstrip("+-")
    # 16 or more digits (Python's repr wrote them): None, so repr writes them too
    # (its shortest round-trip text, not the noise digits of a 17-digit format)
    if exponent.all():
        places = _places_after_mark(mantissa, decimal)
        letter = "E" if stripped.str.contains("E").all() else "e"
        return f".{places}{letter}" if places < 15 else None
    digits = int(mantissa.str.replace(decimal, "", regex=False).str.lstrip("0").str.len().max())
    return f".{max(digits, 1)}g" if digits < 16 else None


def _number_text(observed: pd.Series, decimal: str) -> Callable[[pd.Series], list[str]]:
    """How to write the imputed values of a column whose observed cells are
    ``observed``: numbers like those (decimal places, decimal mark, zero padding),
    anything else by :func:`_cell_text`. Branches once per column, not per cell."""
    width = _zero_padded_width(observed)
    places = _decimal_places(observed, decimal) if not width else None
    # whole-number literals (39): neither exponents nor a bare mark to copy
    whole = places is None and _all_fullmatch(observed, rf"{_S}[+-]?[0-9]+{_S}")
    other = places is None and not width and not whole
    exponent = _exponent_format(observed, decimal) if other else None
    # whole numbers written with a bare mark (5.): imputed ones alike
    bare_mark = (
        other
        and exponent is None
        and _all_fullmatch(observed, rf"{_S}[+-]?[0-9]+{re.escape(decimal)}{_S}")
    )
    # whole numbers past int64 (read as floats): imputed ones written whole, not 1.05e+19
    beyond_int64 = whole and bool(
        (to_numbers(observed, decimal, errors="coerce").abs() >= 2.0**63).any()
    )

    def write(values: pd.Series) -> list[str]:
        dtype = values.dtype
        if ptypes.is_bool_dtype(dtype) or not ptypes.is_numeric_dtype(dtype):
            return [_cell_text(v) for v in values]  # text, categories, booleans
        numbers = values.tolist()  # Python ints or floats
        if ptypes.is_integer_dtype(dtype):
            zeros = "." + "0" * places if places else "." if bare_mark else ""
            texts = [f"{v}{zeros}" for v in numbers]  # exact, whatever the size
        elif bare_mark:
            texts = [f"{v:.0f}." if math.isfinite(v) else repr(v) for v in numbers]
        elif places is not None:
            texts = [f"{v:.{places}f}" if math.isfinite(v) else repr(v) for v in numbers]
            # -0.004 to 2 places is '-0.00': no sign on a zero
            texts = [t[1:] if t[:2] == "-0" and not t.strip("-0.,") else t for t in texts]
        elif exponent is not None:  # 8e5, 1.25e-03: imputed ones written alike
            texts = [f"{v:{exponent}}" if math.isfinite(v) else repr(v) for v in numbers]
        elif beyond_int64:
            texts = [str(int(round(v))) if math.isfinite(v) else repr(v) for v in numbers]
        else:
            texts = [repr(float(v)) for v in numbers]
        if width:  # codes such as 04256: imputed ones padded alike
            texts = [t.zfill(width) if t.isdigit() else t for t in texts]
        return [t.replace(".", decimal) for t in texts] if decimal != "." else texts

    return write


def _temporary_beside(path: Path) -> Path:
    """Create an empty, uniquely named file beside ``path`` with the usual permissions.

    ``tempfile.mkstemp`` would make it private (0600); ``os.open`` with 0666 lets the
    umask decide, as for any file the user writes. The name keeps ``path``'s suffixes
    so that writers infer the same format and compression.
    """
    suffix = "".join(path.suffixes) or ".tmp"
    for _ in range(100):
        tmp = path.parent / f".{path.stem}.{secrets.token_hex(4)}{suffix}"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {path}")


def atomic_write(path: str | Path, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it.

    The rename is atomic, so ``path`` is either as it was or completely written. An
    interruption (an exception, Ctrl-C) leaves ``path`` as it was and removes the
    temporary file; only a hard kill during the write can leave that file behind (its
    name starts with a dot).
    """
    path = Path(path)
    try:
        tmp = _temporary_beside(path)
    except FileExistsError:
        raise
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
    try:
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _to_csv(frame: pd.DataFrame, tmp: str, path: str | Path, **options: Any) -> None:
    """``frame.to_csv`` into the temporary file ``tmp`` that will become ``path``: a
    gzip header or a zip member then names ``path``'s file, not the temporary one."""
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    if suffix == ".gz":
        with open(tmp, "wb") as raw, gzip.GzipFile(filename=name, mode="wb", fileobj=raw) as gz:
            frame.to_csv(gz, **options)
    elif suffix == ".zip":
        frame.to_csv(tmp, compression={"method": "zip", "archive_name": name[:-4]}, **options)
    else:
        frame.to_csv(tmp, **options)


def write_table(frame: pd.DataFrame, path: str | Path, sep: str = ",") -> None:
    """Write ``frame`` atomically as CSV (separated by ``sep``) or Parquet, chosen by
    ``path``'s extension."""
    fmt = table_format(path)
    if fmt == "csv":
        # an index that is not the default 0..n-1 (a Parquet file's ids) is kept as
        # leading column(s)
        index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
        atomic_write(path, lambda tmp: _to_csv(frame, tmp, path, index=index, sep=sep))
    else:
        # the index is kept (a RangeIndex as metadata only, others as columns)
        atomic_write(path, lambda tmp: frame.to_parquet(tmp))
