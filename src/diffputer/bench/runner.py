"""The benchmark grid: datasets x mechanisms x masks x methods, resumable.

Protocol (ALGORITHM.md, "Evaluation protocol"):

1. Each dataset is optionally subsampled to ``max_rows`` random rows, then split 70/30
   into training and test rows. Both use one generator derived from ``(seed, dataset)``,
   so every mechanism, mask and method sees the same rows.
2. For each ``(dataset, mechanism, mask index)`` a mask is drawn on the whole
   (subsampled) table from a generator derived from those three and ``seed`` with
   :class:`numpy.random.SeedSequence`: the masks do not depend on which methods run.
   The training rows and the test rows take their part of it.
3. Each method is fitted on the masked training rows; ``fit_transform`` gives the
   in-sample imputation, ``transform`` on the masked test rows the out-of-sample one.
   Both are scored with :func:`~diffputer.bench.metrics.score_imputation`, in z units
   of the observed training cells.

A *cell* is one ``(dataset, mechanism, mask, method)``. When a cell finishes, its rows
(one per setting and metric) are added to ``results.csv`` by writing a new file and
renaming it over the old one, so the file is always whole. A rerun skips the cells
already in the file. A method that fails is recorded with ``status="error"`` and the
message; the run goes on.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .baselines import canonical_spec, check_spec, make, supports_out_of_sample
from .datasets import Dataset, load_dataset
from .masks import make_mask
from .metrics import ZScale, score_imputation

__all__ = [
    "RESULT_COLUMNS",
    "BenchConfig",
    "ResultsFile",
    "SplitTable",
    "derive_rng",
    "run_benchmark",
    "run_cell",
    "split_table",
]

RESULTS_NAME = "results.csv"
RESULT_COLUMNS = [
    "cell_id", "dataset", "mechanism", "rate", "mask", "method", "seed", "max_rows",
    "setting", "metric", "value", "n_cells", "seconds", "fit_seconds",
    "n_train", "n_test", "status", "error", "warnings", "host",
]  # fmt: skip
# columns a results file written by an earlier version may lack (read back as "")
_OPTIONAL_COLUMNS = {"host"}
_NUMERIC_DTYPES = {
    "rate": "float64", "mask": "int64", "seed": "int64", "max_rows": "Int64",
    "value": "float64", "n_cells": "int64", "seconds": "float64", "fit_seconds": "float64",
    "n_train": "int64", "n_test": "int64",
}  # fmt: skip
IN_SAMPLE, OUT_OF_SAMPLE = "in-sample", "out-of-sample"
_MAX_MESSAGE = 500


def missing_result_columns(columns: Iterable[str], path: str | Path) -> list[str]:
    """The optional result columns a file at ``path`` lacks (read back as ""); a
    ``ValueError`` if it lacks any other, i.e. is not a results file."""
    missing = set(RESULT_COLUMNS) - set(columns)
    if missing - _OPTIONAL_COLUMNS:
        raise ValueError(f"{path} is not a results file (no {sorted(missing)})")
    return sorted(missing)


def cpu_name() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``; else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def machine_label() -> str:
    """Where a cell ran, for its results rows: CPU model, torch's CPU kernels, any GPU.

    Seconds from different machines are not comparable (and bf16 sampling runs only on
    CPUs with native bf16), so every row says which machine produced it.
    """
    import torch

    label = f"{cpu_name()}; {torch.backends.cpu.get_cpu_capability()}"
    if torch.cuda.is_available():
        label += f"; cuda {torch.cuda.get_device_name()}"
    return label


def derive_rng(seed: int, *labels: str | int) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the labels (strings hashed by CRC32)."""
    entropy = [int(seed)] + [
        zlib.crc32(label.encode()) if isinstance(label, str) else int(label) for label in labels
    ]
    return np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass(frozen=True)
class BenchConfig:
    """What to run.

    Attributes
    ----------
    datasets : tuple of str
        Names for :func:`~diffputer.bench.datasets.load_dataset`.
    mechanisms : tuple of str
        ``"MCAR"``, ``"MAR"``, ``"MNAR"``.
    methods : tuple of str
        Method specs (:func:`~diffputer.bench.baselines.make`).
    n_masks : int
        Masks per (dataset, mechanism); the paper uses 10.
    rate : float
        Missing rate; the paper uses 0.3.
    seed : int
        Root of every derived seed (subsample, split, masks, methods).
    max_rows : int or None
        Subsample each dataset to this many random rows first.
    train_fraction : float
        Share of rows used for training (0.7).
    data_dir : str or None
        Data folder (default: :func:`~diffputer.bench.datasets.data_dir`).
    mask_ids : tuple of int or None
        Run only these of the ``n_masks`` masks (None: all). A mask's cells are the
        same whichever others run, so separate processes can share the masks out.
    """

    datasets: tuple[str, ...]
    mechanisms: tuple[str, ...] = ("MCAR",)
    methods: tuple[str, ...] = ("mean",)
    n_masks: int = 10
    rate: float = 0.3
    seed: int = 0
    max_rows: int | None = None
    train_fraction: float = 0.7
    data_dir: str | None = field(default=None, compare=False)
    mask_ids: tuple[int, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # one spelling per cell, whatever the caller wrote: results match across reruns
        object.__setattr__(self, "datasets", tuple(d.lower() for d in self.datasets))
        object.__setattr__(self, "mechanisms", tuple(m.upper() for m in self.mechanisms))
        object.__setattr__(self, "methods", tuple(canonical_spec(m) for m in self.methods))
        if self.mask_ids is not None:
            bad = [k for k in self.mask_ids if not 0 <= k < self.n_masks]
            if bad:
                raise ValueError(f"mask ids {bad} are outside 0..{self.n_masks - 1}")
            object.__setattr__(self, "mask_ids", tuple(sorted(set(self.mask_ids))))

    def cells(self) -> list[tuple[str, str, int, str]]:
        """Every ``(dataset, mechanism, mask, method)``, in run order."""
        return [
            (d, m, k, spec)
            for d in self.datasets
            for m in self.mechanisms
            for k in (self.mask_ids if self.mask_ids is not None else range(self.n_masks))
            for spec in self.methods
        ]

    def cell_id(self, dataset: str, mechanism: str, mask: int, method: str) -> str:
        """The key of a cell in the results file (includes rate, seed and max_rows)."""
        rows = self.max_rows if self.max_rows is not None else "all"
        return f"{dataset}|{mechanism}|{self.rate:g}|{mask}|{method}|{self.seed}|{rows}"


@dataclass(frozen=True)
class SplitTable:
    """A dataset after subsampling, split into training and test rows (complete)."""

    dataset: Dataset
    truth: pd.DataFrame
    train_rows: np.ndarray
    test_rows: np.ndarray


def split_table(dataset: Dataset, config: BenchConfig) -> SplitTable:
    """Subsample (``max_rows``) and split 70/30 with a generator fixed by (seed, dataset)."""
    rng = derive_rng(config.seed, "rows", dataset.name)
    truth = dataset.frame
    if config.max_rows is not None and len(truth) > config.max_rows:
        keep = np.sort(rng.choice(len(truth), size=config.max_rows, replace=False))
        truth = truth.iloc[keep].reset_index(drop=True)
    order = rng.permutation(len(truth))
    n_train = int(round(config.train_fraction * len(truth)))
    return SplitTable(dataset, truth, np.sort(order[:n_train]), np.sort(order[n_train:]))


def _metric_names(dataset: Dataset) -> list[str]:
    return (["mae", "rmse"] if dataset.numeric else []) + (["acc"] if dataset.categorical else [])


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE]


def _attempt(fn: Callable[[], pd.DataFrame]) -> dict[str, Any]:
    """Run one imputation: its output and seconds, or its error; and its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            start = time.perf_counter()
            result: dict[str, Any] = {"imputed": fn()}
            result["seconds"] = time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            result = {"error": _message(exc)}
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    result["warnings"] = " | ".join(messages)[:_MAX_MESSAGE]
    return result


def _setting_rows(
    result: dict[str, Any], truth: pd.DataFrame, hidden: np.ndarray, ds: Dataset, scale: ZScale
) -> list[dict[str, Any]]:
    """One row per metric for one setting's outcome."""
    scores, error = {}, result.get("error", "")
    status = "error" if error else result.get("status", "ok")
    if "imputed" in result:
        imputed = result["imputed"]
        scores = score_imputation(
            truth, imputed, hidden, numeric=ds.numeric, categorical=ds.categorical, scale=scale
        )
        left = int((imputed.isna().to_numpy() & hidden).sum())
        if left:
            status, error = "error", f"left {left} masked cell(s) missing"
    return [
        {
            "metric": metric,
            "value": scores.get(metric, float("nan")),
            "n_cells": scores.get("n_categorical" if metric == "acc" else "n_numeric", 0),
            "seconds": result.get("seconds", float("nan")),
            "status": status,
            "error": error,
            "warnings": result.get("warnings", ""),
        }
        for metric in _metric_names(ds)
    ]


def run_cell(table: SplitTable, mask: np.ndarray, spec: str, random_state: int) -> list[dict]:
    """Fit one method on the masked training rows and score both settings.

    Parameters
    ----------
    table : SplitTable
    mask : ndarray of shape table.truth.shape, bool
        True = hidden, for all rows (training and test).
    spec : str
        Method spec.
    random_state : int

    Returns
    -------
    list of dict
        One per (setting, metric): ``setting``, ``metric``, ``value``, ``n_cells``,
        ``seconds`` (the setting's imputation: ``fit_transform`` in-sample, fit
        included; ``transform`` out-of-sample), ``fit_seconds``, ``n_train``,
        ``n_test``, ``status`` (``ok``, ``error`` or ``unsupported`` for the
        out-of-sample setting of an in-sample-only method), ``error`` and ``warnings``.
    """
    ds = table.dataset
    rows_of = {IN_SAMPLE: table.train_rows, OUT_OF_SAMPLE: table.test_rows}
    truth = {k: table.truth.iloc[r].reset_index(drop=True) for k, r in rows_of.items()}
    hidden = {k: mask[r] for k, r in rows_of.items()}
    masked = {k: truth[k].mask(hidden[k]) for k in rows_of}
    scale = ZScale.fit(masked[IN_SAMPLE], ds.numeric)
    estimator = make(spec, random_state=random_state)
    outcome = {IN_SAMPLE: _attempt(lambda: estimator.fit_transform(masked[IN_SAMPLE]))}
    if "error" in outcome[IN_SAMPLE]:
        outcome[OUT_OF_SAMPLE] = {"error": f"fit failed: {outcome[IN_SAMPLE]['error']}"}
    elif not supports_out_of_sample(estimator):
        outcome[OUT_OF_SAMPLE] = {"status": "unsupported"}
    else:
        outcome[OUT_OF_SAMPLE] = _attempt(lambda: estimator.transform(masked[OUT_OF_SAMPLE]))
    fit_seconds = outcome[IN_SAMPLE].get("seconds", float("nan"))
    common = {"fit_seconds": fit_seconds, "n_train": len(truth[IN_SAMPLE])}
    common["host"] = machine_label()
    common["n_test"] = len(truth[OUT_OF_SAMPLE])
    return [
        {"setting": setting, **row, **common}
        for setting in (IN_SAMPLE, OUT_OF_SAMPLE)
        for row in _setting_rows(outcome[setting], truth[setting], hidden[setting], ds, scale)
    ]


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The result columns with fixed dtypes, whether built in memory or read from disk."""
    out = frame[RESULT_COLUMNS].copy()
    for col in RESULT_COLUMNS:
        if col in _NUMERIC_DTYPES:
            out[col] = out[col].astype(_NUMERIC_DTYPES[col])
        else:  # an all-empty text column reads back as float NaN
            text = out[col].astype(object)
            out[col] = text.where(text.notna(), "").astype(str)
    return out


class ResultsFile:
    """The tidy results table on disk, rewritten whole (new file + rename) per cell.

    Parameters
    ----------
    path : str or Path
        ``results.csv``; created with its folder on the first :meth:`add`.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists():
            frame = pd.read_csv(self.path)
            missing = missing_result_columns(frame.columns, self.path)
            self.frame = _typed(frame.reindex(columns=[*frame.columns, *missing]))
        else:
            self.frame = _typed(pd.DataFrame(columns=RESULT_COLUMNS))

    def done(self, *, include_errors: bool = True) -> set[str]:
        """Cell ids present in the file (``include_errors=False``: only cells without errors)."""
        frame = self.frame
        if not include_errors:
            failed = set(frame.loc[frame["status"] == "error", "cell_id"])
            return set(frame["cell_id"]) - failed
        return set(frame["cell_id"])

    def add(self, rows: Iterable[dict]) -> None:
        """Replace the rows of these cells (if any) by ``rows`` and write the file atomically."""
        new = _typed(pd.DataFrame(list(rows), columns=RESULT_COLUMNS))
        old = self.frame[~self.frame["cell_id"].isin(set(new["cell_id"]))]
        self.frame = new if old.empty else pd.concat([old, new], ignore_index=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", newline="") as f:
            self.frame.to_csv(f, index=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def _describe(cell: tuple[str, str, int, str]) -> str:
    dataset, mechanism, k, method = cell
    return f"{dataset} {mechanism} mask {k} {method}"


def _summary_line(rows: list[dict]) -> str:
    parts = [
        f"{r['setting']} {r['metric']} {r['value']:.4f}"
        if r["status"] == "ok"
        else f"{r['setting']} {r['status']}"
        for r in rows
    ]
    seconds = rows[0]["fit_seconds"] if rows else float("nan")
    line = ", ".join(dict.fromkeys(parts))
    return line if seconds != seconds else f"{line} ({seconds:.1f}s fit)"  # NaN: it failed


def run_benchmark(
    config: BenchConfig,
    out_dir: str | Path,
    *,
    retry_failed: bool = False,
    verbose: int = 0,
    progress: bool = True,
    loader: Callable[[str], Dataset] | None = None,
) -> pd.DataFrame:
    """Run every cell of ``config`` not yet in ``out_dir/results.csv``.

    Parameters
    ----------
    config : BenchConfig
    out_dir : str or Path
        Results folder (created if needed).
    retry_failed : bool, default=False
        Also rerun cells recorded with an error.
    verbose : int, default=0
        0: nothing but the progress bar; 1: a line per finished cell on stderr.
    progress : bool, default=True
        A tqdm bar on stderr, shown only when stderr is a terminal.
    loader : callable, optional
        ``name -> Dataset`` (default: :func:`load_dataset` on ``config.data_dir``).

    Returns
    -------
    DataFrame
        The whole results table (with the rows of earlier runs).

    Examples
    --------
    Any table with declared roles can be benchmarked through ``loader``:

    >>> from diffputer.bench import BenchConfig, load_csv, run_benchmark
    >>> survey = load_csv("survey.csv", numeric=["age"], categorical=["city"])  # doctest: +SKIP
    >>> config = BenchConfig(datasets=("survey",), methods=("mean", "missforest"), n_masks=3)
    >>> run_benchmark(config, "out", loader=lambda name: survey)  # doctest: +SKIP
    """
    if loader is None:

        def loader(name: str) -> Dataset:
            return load_dataset(name, config.data_dir)

    for spec in config.methods:
        check_spec(spec)
    results = ResultsFile(Path(out_dir) / RESULTS_NAME)
    done = results.done(include_errors=not retry_failed)
    todo = [c for c in config.cells() if config.cell_id(*c) not in done]
    bar = tqdm(total=len(todo), unit="cell", file=sys.stderr, disable=None if progress else True)
    tables: dict[str, SplitTable] = {}
    try:
        for i, cell in enumerate(todo, 1):
            dataset, mechanism, k, method = cell
            bar.set_description(_describe(cell))
            if dataset not in tables:
                tables = {dataset: split_table(loader(dataset), config)}  # one table in memory
            table = tables[dataset]
            mask = make_mask(
                mechanism,
                table.truth,
                config.rate,
                derive_rng(config.seed, "mask", dataset, mechanism, k),
            )
            state = derive_rng(config.seed, "method", dataset, mechanism, k, method)
            rows = run_cell(table, mask, method, int(state.integers(2**31 - 1)))
            key = {
                "cell_id": config.cell_id(*cell),
                "dataset": dataset,
                "mechanism": mechanism,
                "rate": config.rate,
                "mask": k,
                "method": method,
                "seed": config.seed,
                "max_rows": config.max_rows,
            }
            results.add([key | row for row in rows])
            bar.update(1)
            if verbose:
                line = f"[{i}/{len(todo)}] {_describe(cell)}: {_summary_line(rows)}"
                bar.write(line, file=sys.stderr)
                if verbose > 1 and rows and rows[0]["error"]:
                    bar.write(f"    {rows[0]['error']}", file=sys.stderr)
    finally:
        bar.close()
    return results.frame
