"""One benchmark cell for the experiment scripts: the runner's split and MCAR mask.

``aggregate.py`` and ``paired.py`` import this (they run as scripts, so this
folder is on ``sys.path``): the same 70/30 split, mask and z-unit scale as
``diffputer bench``, and the same command line (datasets, ``--masks``, ``--max-rows``).
:func:`settings` reads ``KEY=VALUE`` preset overrides for every script here;
:func:`fitted_model` fits a preset on a cell once and saves it for later runs.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from diffputer import DiffPuterImputer
from diffputer.bench.baselines import _parse_value
from diffputer.bench.datasets import load_dataset
from diffputer.bench.masks import make_mask
from diffputer.bench.metrics import ZScale, score_imputation
from diffputer.bench.runner import BenchConfig, derive_rng, split_table
from diffputer.config import get_preset

SETTINGS = ("in-sample", "out-of-sample")


def settings(pairs: Iterable[str]) -> dict[str, Any]:
    """``["a=1", "b=word"]`` as ``{"a": 1, "b": "word"}``: values read as the runner's
    method specs (numbers, true/false, none, else words)."""
    split = (pair.partition("=") for pair in pairs if pair.strip())
    return {key.strip(): _parse_value(value.strip()) for key, _, value in split}


@dataclass
class Cell:
    """Per setting: the true rows, the hidden cells and the masked table to impute."""

    dataset: str
    mask: int
    numeric: list
    categorical: list
    truth: dict[str, pd.DataFrame]
    hidden: dict[str, object]
    masked: dict[str, pd.DataFrame]
    scale: ZScale

    def score(self, setting: str, out: pd.DataFrame) -> dict[str, Any]:
        """``out``'s imputation of ``setting``'s hidden cells scored as the runner does
        (z-unit MAE and RMSE, accuracy)."""
        return score_imputation(
            self.truth[setting],
            out,
            self.hidden[setting],
            numeric=self.numeric,
            categorical=self.categorical,
            scale=self.scale,
        )

    def line(self, variant: str, setting: str, out: pd.DataFrame, **extra: Any) -> str:
        """One JSON line for the experiment scripts: the cell, ``variant``, ``setting``,
        ``out``'s scores and ``extra`` fields. A table without categorical columns has
        ``"acc": null`` (strict JSON, where the scores hold NaN)."""
        s = self.score(setting, out)
        acc = None if math.isnan(s["acc"]) else s["acc"]
        head = dict(dataset=self.dataset, mask=self.mask, variant=variant, setting=setting)
        return json.dumps(head | dict(mae=s["mae"], rmse=s["rmse"], acc=acc) | extra)

    def fit_and_print(self, imp: DiffPuterImputer, variant: str, **extra: Any) -> None:
        """Fit ``imp`` on the in-sample rows, impute the out-of-sample ones, print one
        :meth:`line` per setting (with the seconds for both, and ``extra``)."""
        start = time.perf_counter()
        outs = {"in-sample": imp.fit_transform(self.masked["in-sample"])}
        outs["out-of-sample"] = imp.transform(self.masked["out-of-sample"])
        seconds = round(time.perf_counter() - start, 1)
        for setting, out in outs.items():
            print(self.line(variant, setting, out, seconds=seconds, **extra), flush=True)


def load_cell(dataset: str, k: int, max_rows: int) -> Cell:
    """Dataset ``dataset``, MCAR 30% mask ``k``, as the runner builds it (seed 0)."""
    config = BenchConfig((dataset,), ("MCAR",), ("diffputer",), k + 1, 0.3, 0, max_rows)
    table = split_table(load_dataset(dataset), config)
    mask = make_mask("MCAR", table.truth, 0.3, derive_rng(0, "mask", dataset, "MCAR", k))
    rows = dict(zip(SETTINGS, (table.train_rows, table.test_rows), strict=True))
    truth = {s: table.truth.iloc[r].reset_index(drop=True) for s, r in rows.items()}
    hidden = {s: mask[r] for s, r in rows.items()}
    masked = {s: truth[s].mask(hidden[s]) for s in rows}
    num, cat = list(table.dataset.numeric), list(table.dataset.categorical)
    scale = ZScale.fit(masked["in-sample"], num)
    return Cell(dataset, k, num, cat, truth, hidden, masked, scale)


def fitted_model(
    cell: Cell, preset: str, max_rows: int, model_dir: str | None
) -> tuple[DiffPuterImputer, str | None]:
    """``preset`` fitted on ``cell``'s in-sample rows (``random_state`` = the mask's
    number), loaded from ``model_dir`` if an earlier run saved it there, else fitted
    (and saved there when ``model_dir`` is given). Also the fit's own in-sample line
    (variant ``fit``, with its seconds), or None for a loaded model."""
    path = None
    if model_dir:
        path = Path(model_dir) / f"{cell.dataset}_{cell.mask}_{max_rows}_{preset}"
    if path is not None and path.exists():
        return DiffPuterImputer.load(path), None
    cat = cell.categorical or None
    imp = DiffPuterImputer(
        preset=get_preset(preset), random_state=cell.mask, categorical_columns=cat
    )
    start = time.perf_counter()
    out = imp.fit_transform(cell.masked["in-sample"])
    seconds = round(time.perf_counter() - start, 1)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        imp.save(path)
    return imp, cell.line("fit", "in-sample", out, seconds=seconds)


def parse(doc: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None):
    """Parse ``datasets [--masks N] [--first-mask K] [--max-rows R]``, plus what
    ``add_arguments`` adds to the parser."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("datasets", help="comma-separated")
    parser.add_argument("--masks", type=int, default=1)
    parser.add_argument("--first-mask", type=int, default=0)
    parser.add_argument("--max-rows", type=int, default=5000)
    if add_arguments is not None:
        add_arguments(parser)
    return parser.parse_args()


def cells(args: argparse.Namespace) -> Iterator[Cell]:
    """Every cell the parsed command line names: each dataset, masks in order."""
    for dataset in args.datasets.split(","):
        for k in range(args.first_mask, args.first_mask + args.masks):
            yield load_cell(dataset, k, args.max_rows)


def main(doc: str, run: Callable[[Cell], None]) -> None:
    """Parse the command line and ``run`` every cell."""
    for cell in cells(parse(doc)):
        run(cell)
