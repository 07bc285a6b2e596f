"""Posterior mean against posterior median: how the N samples of a cell are combined.

For each dataset and mask (the benchmark runner's 5,000-row split and MCAR 30% mask),
fits the default preset once on the training rows, then imputes the training rows
(a final E-step with the fitted model, in-sample) and the new rows (out-of-sample)
twice with the same model and seed: combining each cell's N samples by their mean (the
paper) and by their median. Prints one JSON line per imputation; asserts nothing.

    python benchmarks/aggregate.py adult,california --masks 1
"""

from __future__ import annotations

import json
import time

from _cell import Cell, main
from diffputer import DiffPuterImputer


def run(cell: Cell) -> None:
    cat = cell.categorical

    imp = DiffPuterImputer(random_state=cell.mask, categorical_columns=cat or None)
    t = time.perf_counter()
    s = cell.score("in-sample", imp.fit_transform(cell.masked["in-sample"]))
    line = dict(dataset=cell.dataset, mask=cell.mask, what="fit_transform (mean)")
    line |= dict(seconds=round(time.perf_counter() - t, 1), mae=s["mae"], acc=s["acc"])
    print(json.dumps(line), flush=True)
    base = imp.preset_
    for aggregate in ("mean", "median"):
        imp.preset_ = base.replace(aggregate=aggregate)
        for setting, masked in cell.masked.items():
            s = cell.score(setting, imp.transform(masked))
            what = f"{setting} E-step ({aggregate})"
            line = dict(dataset=cell.dataset, mask=cell.mask, what=what)
            line |= dict(mae=s["mae"], rmse=s["rmse"], acc=s["acc"])
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(__doc__, run)
