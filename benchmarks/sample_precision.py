"""Does sampling in bf16 move a fitted model's imputations? fp32 against bf16, same draws.

The `paper` preset samples in fp32, as the paper's code does. On a GPU its E-steps are
arithmetic-bound (performance.md, "What the GPU target needs"): bf16 matrix products
are what would make it fast, so before the GPU check runs `paper` with
``sample_precision=bf16`` this measures what that costs in accuracy, on a CPU with
native bf16 (AVX512-BF16 / AMX; elsewhere torch falls back to fp32 and the script
says so and stops).

It loads a model saved by ``paper_subsample.py`` (or any ``DiffPuterImputer.save``
file fitted on the same cell), imputes the cell's out-of-sample rows twice with the
same seed, once per sampling precision (nothing else differs: the same noise is
drawn), and prints each run's MAE / RMSE, their ratio with a 95% paired bootstrap
interval over the hidden cells, and the mean absolute difference between the two
imputations of a hidden cell, in z units and as a fraction of the fp32 MAE. Prints
measurements; asserts nothing.

    python benchmarks/sample_precision.py california --max-rows 400 --mask 0 MODEL
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from _cell import load_cell
from diffputer import DiffPuterImputer
from diffputer._em import autocast_dtype
from diffputer.bench.metrics import z_errors
from paper_subsample import ratio_interval

SETTING = "out-of-sample"


def impute(imp: DiffPuterImputer, precision: str, cell, rows: int | None):
    """``imp`` (its preset's sampling precision set to ``precision``) imputing the first
    ``rows`` out-of-sample rows of ``cell``, timed."""
    imp.preset_ = imp.preset_.replace(sample_precision=precision)
    masked = cell.masked[SETTING].iloc[:rows]
    start = time.perf_counter()
    out = imp.transform(masked)
    return out, time.perf_counter() - start


def compare(fp32: np.ndarray, bf16: np.ndarray) -> dict:
    """Two runs' signed z errors on the same hidden cells: bf16's MAE over fp32's with
    a 95% paired bootstrap interval, and how far apart the two imputations of a cell
    are (the difference of the errors is the difference of the imputations)."""
    ratio, lo, hi = ratio_interval(bf16, fp32, np.random.default_rng(0))
    diff = np.abs(bf16 - fp32)
    return dict(
        mae_ratio_bf16_fp32=ratio,
        ci95=[lo, hi],
        mean_abs_difference=float(diff.mean()),
        max_abs_difference=float(diff.max()),
        difference_over_mae=float(diff.mean() / np.abs(fp32).mean()),
        cells=len(diff),
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("model", help="a saved model fitted on the cell's in-sample rows")
    ap.add_argument("--max-rows", type=int, default=400)
    ap.add_argument("--mask", type=int, default=0)
    ap.add_argument("--rows", type=int, default=None, help="first ROWS out-of-sample rows")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    if autocast_dtype("bf16", torch.device("cpu")) is None:
        print("this CPU has no native bf16: both runs would sample in fp32")
        return 1
    cell = load_cell(args.dataset, args.mask, args.max_rows)
    truth = cell.truth[SETTING].iloc[: args.rows]
    hidden = np.asarray(cell.hidden[SETTING])[: len(truth)]
    print(
        f"# {args.dataset}, {args.max_rows} rows, MCAR 30% mask {args.mask}: "
        f"{len(truth)} out-of-sample rows, {int(hidden.sum())} hidden cells; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    runs, errors = {}, {}
    imp = DiffPuterImputer.load(args.model, device="cpu")
    for precision in ("fp32", "bf16"):
        out, seconds = impute(imp, precision, cell, args.rows)
        s = cell.score(SETTING, out) if args.rows is None else None
        errors[precision] = z_errors(truth, out, hidden, cell.numeric, cell.scale)
        mae = float(np.nanmean(np.abs(errors[precision])))
        rmse = float(np.sqrt(np.nanmean(errors[precision] ** 2)))
        runs[precision] = dict(mae=mae, rmse=rmse, seconds=seconds)
        if s is not None:  # the runner's scoring, as a cross-check of the pooled errors
            runs[precision] |= dict(runner_mae=s["mae"], runner_rmse=s["rmse"])
        print(f"{precision}: MAE {mae:.4f} RMSE {rmse:.4f} ({seconds:.1f} s)")
    summary = compare(errors["fp32"], errors["bf16"])
    ratio, (lo, hi) = summary["mae_ratio_bf16_fp32"], summary["ci95"]
    print(
        f"bf16 / fp32 MAE {ratio:.4f}, 95% paired bootstrap [{lo:.4f}, {hi:.4f}]; "
        f"|bf16 - fp32| per hidden cell: mean {summary['mean_abs_difference']:.4f} "
        f"({summary['difference_over_mae']:.1%} of the fp32 MAE), "
        f"max {summary['max_abs_difference']:.4f} z"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(vars(args), runs=runs, **summary), f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
