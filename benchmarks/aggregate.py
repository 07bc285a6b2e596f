"""Posterior mean against posterior median: how the N samples of a cell are combined.

For each dataset and mask (the benchmark runner's 5,000-row split and MCAR 30% mask),
fits the default preset once on the training rows, then imputes the training rows
(a final E-step with the fitted model, in-sample) and the new rows (out-of-sample)
twice with the same model and seed: combining each cell's N samples by their mean (the
paper) and by their median. Prints one JSON line per imputation; asserts nothing.

    python benchmarks/aggregate.py adult,california --masks 1
"""

from __future__ import annotations

import argparse
import json
import time

from diffputer import DiffPuterImputer
from diffputer.bench.datasets import load_dataset
from diffputer.bench.masks import make_mask
from diffputer.bench.metrics import ZScale, score_imputation
from diffputer.bench.runner import BenchConfig, derive_rng, split_table


def run(dataset: str, k: int, max_rows: int) -> None:
    config = BenchConfig((dataset,), ("MCAR",), ("diffputer",), k + 1, 0.3, 0, max_rows)
    table = split_table(load_dataset(dataset), config)
    mask = make_mask("MCAR", table.truth, 0.3, derive_rng(0, "mask", dataset, "MCAR", k))
    num, cat = list(table.dataset.numeric), list(table.dataset.categorical)
    parts = {}
    for name, rows in (("in-sample", table.train_rows), ("out-of-sample", table.test_rows)):
        truth = table.truth.iloc[rows].reset_index(drop=True)
        parts[name] = (truth, mask[rows], truth.mask(mask[rows]))
    scale = ZScale.fit(parts["in-sample"][2], num)
    imp = DiffPuterImputer(random_state=k, categorical_columns=cat or None)
    t = time.perf_counter()
    fitted = imp.fit_transform(parts["in-sample"][2])
    truth, m, _ = parts["in-sample"]
    s = score_imputation(truth, fitted, m, numeric=num, categorical=cat, scale=scale)
    line = dict(dataset=dataset, mask=k, what="fit_transform (mean)", seconds=None)
    line |= dict(seconds=round(time.perf_counter() - t, 1), mae=s["mae"], acc=s["acc"])
    print(json.dumps(line), flush=True)
    base = imp.preset_
    for aggregate in ("mean", "median"):
        imp.preset_ = base.replace(aggregate=aggregate)
        for name, (truth, m, masked) in parts.items():
            out = imp.transform(masked)
            s = score_imputation(truth, out, m, numeric=num, categorical=cat, scale=scale)
            line = dict(dataset=dataset, mask=k, what=f"{name} E-step ({aggregate})")
            line |= dict(mae=s["mae"], rmse=s["rmse"], acc=s["acc"])
            print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", help="comma-separated")
    parser.add_argument("--masks", type=int, default=1)
    parser.add_argument("--max-rows", type=int, default=5000)
    args = parser.parse_args()
    for dataset in args.datasets.split(","):
        for k in range(args.masks):
            run(dataset, k, args.max_rows)


if __name__ == "__main__":
    main()
