"""Reading and writing tables by extension (CSV or Parquet), with atomic writes."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
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
    tmp = _temporary_beside(path)
    try:
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` atomically as CSV or Parquet, chosen by ``path``'s extension."""
    fmt = table_format(path)
    if fmt == "csv":
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
