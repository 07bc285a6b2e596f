"""Benchmark tools for DiffPuter: datasets, masks, metrics, baselines, runner, report.

A consumer of the library: ``diffputer`` itself never imports this package. Modules:

- :mod:`~diffputer.bench.datasets`: the nine shared tables, processed as the paper does,
  and a loader for any CSV with declared column roles.
- :mod:`~diffputer.bench.masks`: MCAR, MAR and MNAR masks (True = missing).
- :mod:`~diffputer.bench.metrics`: MAE/RMSE in z units and accuracy over masked cells.
- :mod:`~diffputer.bench.baselines`: a registry of imputers that all speak mixed
  DataFrames (mean/mode, KNN, MICE, MissForest, SoftImpute, Gaussian EM, DiffPuter).
- :mod:`~diffputer.bench.runner`: the grid, with a resumable tidy results file.
- :mod:`~diffputer.bench.report`: markdown tables and figures from a results folder.
"""

from .baselines import available, make
from .datasets import Dataset, available_datasets, load_csv, load_dataset
from .masks import MECHANISMS, make_mask, mar, mcar, mnar
from .metrics import ZScale, score_imputation
from .runner import BenchConfig, run_benchmark

__all__ = [
    "MECHANISMS",
    "BenchConfig",
    "Dataset",
    "ZScale",
    "available",
    "available_datasets",
    "load_csv",
    "load_dataset",
    "make",
    "make_mask",
    "mar",
    "mcar",
    "mnar",
    "run_benchmark",
    "score_imputation",
]
