"""The nine shared datasets, processed as the paper's code does, and user CSVs.

Every loader returns a :class:`Dataset`: a complete table (no missing cells) whose
numeric columns are ``float64`` and whose categorical columns are pandas ``category``,
plus the two column lists. Targets are dropped, as in the paper (only the features are
imputed). Column roles and quirks follow each dataset's ``SOURCE.md``:

========== ============ ======= === === ===============================================
name       file(s)      rows    num cat notes
========== ============ ======= === === ===============================================
california housing.csv  20,433  9   0   NaN rows dropped; ``ocean_proximity`` dropped
letter     letter-...   20,000  16  0   the letter (target) dropped
gesture    \\*_va3.csv   9,522   32  0   paper's quirk: b1 read twice, b3 never
magic      magic04.data 19,020  10  0   class dropped
bean       .arff        13,610  16  0   paper's quirk: first bean lost as a header row
adult      adult.data   32,561  6   8   ``'?'`` kept as a category; income dropped
default    .csv         30,000  14  9   two header rows (header=1); ID and target dropped
shoppers   .csv         12,330  10  7   Revenue dropped
beijing    PRSA ... csv 41,757  6   5   'No' dropped, NaN rows dropped, pm2.5 dropped
========== ============ ======= === === ===============================================

The data folder is ``$DIFFPUTER_DATA_DIR`` when set, else ``../shared/datasets`` next
to the repository (or, failing that, relative to the working directory).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "DATA_DIR_ENV",
    "Dataset",
    "available_datasets",
    "data_dir",
    "load_csv",
    "load_dataset",
]

DATA_DIR_ENV = "DIFFPUTER_DATA_DIR"
_RELATIVE_DEFAULT = Path("..") / "shared" / "datasets"


@dataclass(frozen=True)
class Dataset:
    """A complete table and its column roles.

    Attributes
    ----------
    name : str
    frame : DataFrame of shape (n_rows, n_numeric + n_categorical)
        No missing cells; numeric columns are float64, categorical ones ``category``.
    numeric, categorical : list of str
        Column names by role, in table order.
    """

    name: str
    frame: pd.DataFrame
    numeric: list[str]
    categorical: list[str]


def data_dir() -> Path:
    """The folder holding one sub-folder per dataset.

    ``$DIFFPUTER_DATA_DIR`` when set; else ``../shared/datasets`` relative to the
    repository root (found from this file's location), or relative to the working
    directory when the former does not exist. The path is returned even if it does not
    exist: loaders report a missing file with the folder they looked in.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[3]  # src/diffputer/bench/ -> repo
    for candidate in (repo_root / _RELATIVE_DEFAULT, Path.cwd() / _RELATIVE_DEFAULT):
        if candidate.is_dir():
            return candidate.resolve()
    return repo_root / _RELATIVE_DEFAULT


def _file(root: Path, name: str, filename: str) -> Path:
    path = root / name / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset {name!r}: {filename!r} not found in {path.parent} (data folder {root}; "
            f"set {DATA_DIR_ENV} to the folder that holds one sub-folder per dataset)"
        )
    return path


def _finish(
    name: str, frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> Dataset:
    """Keep the feature columns in table order, with float64 / category dtypes."""
    numeric, categorical = list(numeric), list(categorical)
    keep = set(numeric) | set(categorical)
    columns = [c for c in frame.columns if c in keep]
    out = frame[columns].reset_index(drop=True)
    out = out.astype({c: "float64" for c in numeric} | {c: "category" for c in categorical})
    return Dataset(name, out, numeric, categorical)


def load_csv(
    path: str | Path,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    target: str | Sequence[str] | None = None,
    name: str | None = None,
    dropna: bool = True,
    **read_csv_kwargs,
) -> Dataset:
    """Load any CSV with declared column roles.

    Parameters
    ----------
    path : str or Path
    numeric, categorical : sequence of str
        Feature columns by role; columns in neither (e.g. ids) are dropped.
    target : str or sequence of str, optional
        Target column(s): checked to exist, then dropped (the benchmark imputes features).
    name : str, optional
        Dataset name in results (default: the file's stem).
    dropna : bool, default=True
        Drop rows with a missing feature: the benchmark needs the truth of every cell.
    **read_csv_kwargs
        Passed to :func:`pandas.read_csv`.

    Returns
    -------
    Dataset
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    frame = pd.read_csv(path, **read_csv_kwargs)
    targets = [target] if isinstance(target, str) else list(target or [])
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise ValueError(f"columns declared both numeric and categorical: {sorted(overlap)}")
    absent = [c for c in [*numeric, *categorical, *targets] if c not in frame.columns]
    if absent:
        raise ValueError(f"{path}: columns not in the file: {absent}")
    features = [c for c in frame.columns if c in set(numeric) | set(categorical)]
    if dropna:
        frame = frame.dropna(subset=features)
    return _finish(name or path.name.split(".")[0], frame, numeric, categorical)


# --------------------------------------------------------------------------- loaders
def _california(root: Path) -> Dataset:
    frame = pd.read_csv(_file(root, "california", "housing.csv")).dropna()
    return _finish("california", frame, list(frame.columns[:9]), [])


_LETTER_COLUMNS = [
    "x-box", "y-box", "width", "high", "onpix", "x-bar", "y-bar", "x2bar",
    "y2bar", "xybar", "x2ybr", "xy2br", "x-ege", "xegvy", "y-ege", "yegvx",
]  # fmt: skip


def _letter(root: Path) -> Dataset:
    path = _file(root, "letter", "letter-recognition.data")
    frame = pd.read_csv(path, header=None, names=["letter", *_LETTER_COLUMNS])
    return _finish("letter", frame, _LETTER_COLUMNS, [])


# The paper's process_gesture lists b1 twice and never b3 (9,522 rows, not 9,873).
_GESTURE_FILES = ["a1", "a2", "a3", "b1", "b1", "c1", "c3"]


def _gesture(root: Path) -> Dataset:
    parts = [pd.read_csv(_file(root, "gesture", f"{f}_va3.csv")) for f in _GESTURE_FILES]
    frame = pd.concat(parts, ignore_index=True)
    return _finish("gesture", frame, list(frame.columns[:32]), [])


_MAGIC_COLUMNS = [
    "fLength", "fWidth", "fSize", "fConc", "fConc1",
    "fAsym", "fM3Long", "fM3Trans", "fAlpha", "fDist",
]  # fmt: skip


def _magic(root: Path) -> Dataset:
    path = _file(root, "magic", "magic04.data")
    frame = pd.read_csv(path, header=None, names=[*_MAGIC_COLUMNS, "class"]).dropna()
    return _finish("magic", frame, _MAGIC_COLUMNS, [])


def _bean(root: Path) -> Dataset:
    # The paper reads the xlsx with header=1, which turns the first bean into the header
    # row (13,610 rows). The arff holds the same values (SOURCE.md) and needs no Excel
    # reader; dropping its first row reproduces the paper's table, with real names.
    from scipy.io import arff

    records, meta = arff.loadarff(_file(root, "bean", "Dry_Bean_Dataset.arff"))
    frame = pd.DataFrame(records).iloc[1:]
    return _finish("bean", frame, list(meta.names()[:16]), [])


_ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]  # fmt: skip


def _adult(root: Path) -> Dataset:
    # adult.data only (as the paper). Its '?' cells are strings to the paper's dropna(),
    # so they stay: '?' is one more category. skipinitialspace strips the space after
    # each comma, which changes no category.
    path = _file(root, "adult", "adult.data")
    frame = pd.read_csv(
        path, header=None, names=_ADULT_COLUMNS, skipinitialspace=True, na_filter=False
    )
    numeric = [_ADULT_COLUMNS[i] for i in (0, 2, 4, 10, 11, 12)]
    categorical = [_ADULT_COLUMNS[i] for i in (1, 3, 5, 6, 7, 8, 9, 13)]
    return _finish("adult", frame, numeric, categorical)


def _default(root: Path) -> Dataset:
    path = _file(root, "default", "default of credit card clients.csv")
    frame = pd.read_csv(path, header=1).drop(columns="ID")  # row 1 is X1..X23,Y
    cols = list(frame.columns)
    numeric = [cols[i] for i in (0, 4, *range(11, 23))]
    categorical = [cols[i] for i in (1, 2, 3, 5, 6, 7, 8, 9, 10)]
    return _finish("default", frame, numeric, categorical)


def _shoppers(root: Path) -> Dataset:
    frame = pd.read_csv(_file(root, "shoppers", "online_shoppers_intention.csv")).dropna()
    cols = list(frame.columns)
    return _finish("shoppers", frame, cols[:10], cols[10:17])


def _beijing(root: Path) -> Dataset:
    path = _file(root, "beijing", "PRSA_data_2010.1.1-2014.12.31.csv")
    frame = pd.read_csv(path).drop(columns="No").dropna()  # dropna: the NA pm2.5 rows
    return _finish(
        "beijing",
        frame,
        ["DEWP", "TEMP", "PRES", "Iws", "Is", "Ir"],
        ["year", "month", "day", "hour", "cbwd"],
    )


_LOADERS: dict[str, Callable[[Path], Dataset]] = {
    "california": _california,
    "letter": _letter,
    "gesture": _gesture,
    "magic": _magic,
    "bean": _bean,
    "adult": _adult,
    "default": _default,
    "shoppers": _shoppers,
    "beijing": _beijing,
}


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`, in the paper's order."""
    return list(_LOADERS)


def load_dataset(name: str, root: str | Path | None = None) -> Dataset:
    """Load one of the nine shared datasets, processed as the paper does.

    Parameters
    ----------
    name : str
        One of :func:`available_datasets` (case-insensitive).
    root : str or Path, optional
        The data folder (default: :func:`data_dir`).

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown name.
    FileNotFoundError
        A file is missing; the message names the folder searched.
    """
    key = name.lower()
    if key not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {available_datasets()}")
    return _LOADERS[key](Path(root) if root is not None else data_dir())
