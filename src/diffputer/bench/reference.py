"""The paper's numbers, read from ``shared/paper/REFERENCE-RESULTS.md``.

That file holds markdown tables under headings such as ``## MCAR, out-of-sample
(Table 5)`` or ``## MAR, out-of-sample (Table 8), DiffPuter``; values are printed x100
(MAE 33.47 = 0.3347 z units, accuracy 70.12 % = 0.7012). :func:`load_reference` turns
every table that names a mechanism into tidy rows in our units.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .datasets import data_dir

__all__ = ["default_reference_path", "load_reference", "parse_reference"]

_METRIC_WORDS = {"mae": "mae", "rmse": "rmse", "accuracy": "acc", "acc": "acc"}
REFERENCE_COLUMNS = ["mechanism", "setting", "metric", "method", "dataset", "value"]


def default_reference_path() -> Path:
    """``<data folder>/../paper/REFERENCE-RESULTS.md`` (the shared folder's layout)."""
    return data_dir().parent / "paper" / "REFERENCE-RESULTS.md"


def _heading_context(heading: str) -> dict[str, str | None] | None:
    mechanism = re.search(r"\b(MCAR|MAR|MNAR)\b", heading)
    if mechanism is None:
        return None
    setting = re.search(r"\b(in-sample|out-of-sample)\b", heading)
    metric = next(
        (m for word, m in _METRIC_WORDS.items() if re.search(rf"\b{word}\b", heading, re.I)),
        None,
    )
    method = heading.rsplit(")", 1)[1].strip(" ,") if ")" in heading else ""
    return {
        "mechanism": mechanism.group(1),
        "setting": setting.group(1) if setting else None,
        "metric": metric,
        "method": method or None,
    }


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _row_identity(label: str, context: dict) -> tuple[str | None, str | None]:
    """(metric, method) of a table row: ``"MAE DiffPuter"``, ``"RMSE"`` or ``"KNN"``."""
    first, _, rest = label.partition(" ")
    metric = _METRIC_WORDS.get(first.lower())
    if metric is not None:
        return metric, rest.strip() or context["method"]
    return context["metric"], label


def parse_reference(text: str) -> pd.DataFrame:
    """Tidy rows (mechanism, setting, metric, method, dataset, value) from the markdown.

    Tables under headings that name no mechanism (e.g. training times) are skipped, as
    are rows whose metric cannot be told. Values are divided by 100. Dataset names are
    lower-cased to match :func:`~diffputer.bench.datasets.available_datasets`.
    """
    records, context, header = [], None, None
    for line in text.splitlines():
        if line.startswith("#"):
            context, header = _heading_context(line.lstrip("#").strip()), None
            continue
        if context is None or not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the |---| separator
        metric, method = _row_identity(cells[0], context)
        if metric is None or method is None:
            continue
        for dataset, raw in zip(header[1:], cells[1:], strict=False):
            try:
                value = float(raw) / 100.0
            except ValueError:
                continue
            records.append(
                {
                    "mechanism": context["mechanism"],
                    "setting": context["setting"],
                    "metric": metric,
                    "method": method,
                    "dataset": dataset,
                    "value": value,
                }
            )
    return pd.DataFrame(records, columns=REFERENCE_COLUMNS)


def load_reference(path: str | Path | None = None) -> pd.DataFrame:
    """:func:`parse_reference` of the file. Without ``path``, the default file, or an
    empty table when it does not exist; a ``path`` given must exist and hold the
    paper's tables (a ``ValueError`` otherwise: a typo must not drop the paper's rows
    silently)."""
    if path is None:
        default = default_reference_path()
        if not default.is_file():
            return pd.DataFrame(columns=REFERENCE_COLUMNS)
        return parse_reference(default.read_text(encoding="utf-8"))
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--reference {path} does not exist")
    table = parse_reference(path.read_text(encoding="utf-8"))
    if table.empty:
        raise ValueError(f"--reference {path} holds none of the paper's result tables")
    return table
