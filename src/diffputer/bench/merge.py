"""Merge one benchmark run's cells into another results file, keeping what they replace.

A rerun of some cells (a new preset, a fixed baseline) is done into a scratch folder
and then merged into the committed ``results.csv``: every cell of the run replaces the
rows of the same ``cell_id`` where they stood (new cells go at the end), and the rows
it replaces can be appended to an archive file, so the old numbers stay on record.

Both files are read and written as text, so every value the merge does not touch is
written back exactly as it was read (no float is reformatted).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .._io import atomic_write
from .runner import RESULT_COLUMNS, RESULTS_NAME, missing_result_columns

__all__ = ["MergeSummary", "merge_results"]


@dataclass
class MergeSummary:
    """What :func:`merge_results` did (or, with ``dry_run``, would do)."""

    replaced: list[str] = field(default_factory=list)  # cell ids already in the target
    added: list[str] = field(default_factory=list)  # cell ids new to the target
    skipped: list[str] = field(default_factory=list)  # cell ids left out: they failed
    archived_rows: int = 0  # target rows the replaced cells had

    def describe(self, source: Path, target: Path, archive: Path | None) -> str:
        cells = len(self.replaced) + len(self.added)
        text = (
            f"{cells} cell(s) from {source} into {target}: {len(self.replaced)} replaced, "
            f"{len(self.added)} new"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} skipped with errors (--include-errors takes them)"
        if self.archived_rows:
            where = f"appended to {archive}" if archive else "discarded (no --archive)"
            text += f"; the {self.archived_rows} replaced row(s) {where}"
        return text


def results_path(path: str | Path) -> Path:
    """``path`` itself for a ``.csv`` or other existing file, else ``path/results.csv``
    (a folder, created by the merge if it does not exist yet)."""
    path = Path(path)
    return path if path.suffix.lower() == ".csv" or path.is_file() else path / RESULTS_NAME


def _read(path: Path, *, missing_ok: bool = False) -> pd.DataFrame:
    """A results file as text columns (empty cells as ''), checked for its columns."""
    if not path.exists():
        if missing_ok:
            return pd.DataFrame(columns=RESULT_COLUMNS, dtype=str)
        raise FileNotFoundError(f"{path} does not exist")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing_result_columns(frame.columns, path)  # optional ones are filled in on write
    return frame


def _aligned(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.reindex(columns=columns, fill_value="")


def _columns(*frames: pd.DataFrame) -> list[str]:
    """RESULT_COLUMNS first, then any other column of the frames in their order."""
    extra = [c for f in frames for c in f.columns if c not in RESULT_COLUMNS]
    return [*RESULT_COLUMNS, *dict.fromkeys(extra)]


def _write(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def merge_results(
    source: str | Path,
    target: str | Path,
    *,
    archive: str | Path | None = None,
    include_errors: bool = False,
    dry_run: bool = False,
) -> MergeSummary:
    """Put the cells of ``source`` into ``target``, replacing the same cells there.

    Parameters
    ----------
    source, target : str or Path
        Results files, or folders holding ``results.csv``. ``target`` may not exist yet.
    archive : str or Path, optional
        A CSV file the replaced rows of ``target`` are appended to (created if needed).
        Without it they are dropped.
    include_errors : bool, default=False
        Also take the cells that failed in ``source`` (a row with ``status="error"``);
        by default they are skipped, so a failed rerun cannot replace a good cell.
    dry_run : bool, default=False
        Only say what would be done; write nothing.

    Returns
    -------
    MergeSummary
    """
    source, target = results_path(source), results_path(target)
    archive = None if archive is None else Path(archive)
    new = _read(source)
    if target.exists() and os.path.samefile(source, target):
        raise ValueError(f"source and target are the same file ({source})")
    if archive is not None and archive.exists():
        for other in (source, target):
            if other.exists() and os.path.samefile(archive, other):
                raise ValueError(f"the archive may not be {other}, which the merge reads")
    old = _read(target, missing_ok=True)
    failed = set(new.loc[new["status"] == "error", "cell_id"])
    summary = MergeSummary()
    if not include_errors:
        summary.skipped = sorted(failed)
        new = new[~new["cell_id"].isin(failed)]
    ids = list(dict.fromkeys(new["cell_id"]))
    first_row = {cell: i for i, cell in reversed(list(enumerate(old["cell_id"])))}
    summary.replaced = [cell for cell in ids if cell in first_row]
    summary.added = [cell for cell in ids if cell not in first_row]
    gone = old["cell_id"].isin(set(ids))
    # a cell whose rows come back unchanged (the same merge run twice) is not archived:
    # nothing of it was replaced
    columns = _columns(old, new)
    unchanged = {
        cell
        for cell in summary.replaced
        if _aligned(old[old["cell_id"] == cell], columns)
        .reset_index(drop=True)
        .equals(_aligned(new[new["cell_id"] == cell], columns).reset_index(drop=True))
    }
    archived = gone & ~old["cell_id"].isin(unchanged)
    summary.archived_rows = int(archived.sum())
    if dry_run or not ids:
        return summary

    kept, taken = _aligned(old[~gone], columns), _aligned(new, columns)
    # a replaced cell's rows go where its old rows began; new cells after everything
    end = len(old)
    order = [*kept.index, *(first_row.get(c, end) - 0.5 for c in taken["cell_id"])]
    merged = pd.concat([kept, taken], ignore_index=True)
    merged = merged.iloc[sorted(range(len(merged)), key=order.__getitem__)]
    if archive is not None and summary.archived_rows:
        before = _read(archive, missing_ok=True)
        replaced = old[archived]
        columns_a = _columns(before, replaced)
        rows = pd.concat([_aligned(before, columns_a), _aligned(replaced, columns_a)])
        _write(rows, archive)
    _write(merged, target)
    return summary
