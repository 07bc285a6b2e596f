"""Does a quantile-normal transform of the numeric columns help DiffPuter? (user-side test)

The paper standardises numeric columns; heavy-tailed, zero-inflated ones (Adult's
capital-gain, Default's bill amounts) then put most rows in a spike and a few far out.
This script maps every numeric column to a normal distribution with scikit-learn's
``QuantileTransformer`` (fitted on the observed training cells; NaN stay NaN) *before*
DiffPuter, imputes, maps back, and scores in the usual z units, next to the plain
default preset on the same split, mask and seed. Prints JSON lines; asserts nothing.

    python benchmarks/quantile_inputs.py adult,default --masks 1
"""

from __future__ import annotations

import json
import time

import pandas as pd
from sklearn.preprocessing import QuantileTransformer

from _cell import Cell, main
from diffputer import DiffPuterImputer
from diffputer.bench.metrics import score_imputation


def run(cell: Cell) -> None:
    num, cat, masked = cell.numeric, cell.categorical, cell.masked
    qt = QuantileTransformer(
        n_quantiles=min(1000, len(masked["in-sample"])),
        output_distribution="normal",
        random_state=0,
    ).fit(masked["in-sample"][num].astype(float))

    def forward(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out[num] = qt.transform(frame[num].astype(float))
        return out

    def back(frame: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        values = pd.DataFrame(qt.inverse_transform(frame[num]), columns=num, index=frame.index)
        for c in num:  # observed cells keep their original values exactly
            filled = values[c].round() if pd.api.types.is_integer_dtype(original[c]) else values[c]
            out[c] = original[c].where(original[c].notna(), filled).astype(original[c].dtype)
        return out

    for variant in ("standardised (default)", "quantile-normal inputs"):
        imp = DiffPuterImputer(random_state=cell.mask, categorical_columns=cat or None)
        t = time.perf_counter()
        quantile = variant.startswith("quantile")
        src = forward(masked["in-sample"]) if quantile else masked["in-sample"]
        outs = {"in-sample": imp.fit_transform(src)}
        test = forward(masked["out-of-sample"]) if quantile else masked["out-of-sample"]
        outs["out-of-sample"] = imp.transform(test)
        seconds = time.perf_counter() - t
        for setting, out in outs.items():
            if quantile:
                out = back(out, masked[setting])
            truth, hidden = cell.truth[setting], cell.hidden[setting]
            s = score_imputation(truth, out, hidden, numeric=num, categorical=cat, scale=cell.scale)
            line = dict(dataset=cell.dataset, mask=cell.mask, variant=variant, setting=setting)
            line |= dict(mae=s["mae"], rmse=s["rmse"], acc=s["acc"], seconds=round(seconds, 1))
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(__doc__, run)
