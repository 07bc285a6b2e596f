"""Reading and writing tables by extension (CSV or Parquet), with atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write", "read_table", "table_format", "write_table"]

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
    """Read a CSV or Parquet file into a DataFrame."""
    if table_format(path) == "csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it.

    An interruption (an exception, Ctrl-C) leaves ``path`` as it was and removes the
    temporary file.
    """
    path = Path(path)
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` atomically as CSV or Parquet, chosen by ``path``'s extension."""
    fmt = table_format(path)
    if fmt == "csv":
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
