"""Standardised against quantile-normal numeric columns, paired on the same seed.

For each dataset and mask (the benchmark runner's 5,000-row split and MCAR 30% mask),
fits the default preset once per ``numeric_transform`` variant ("standard": the
paper's encoding; "quantile": every numeric column through the quantile-normal map;
"auto": only columns with a point mass), all with the same ``random_state``, and scores
the in-sample and out-of-sample imputations in the usual z units. Prints one JSON line
per variant and setting, and with ``--per-column`` one per numeric column as well
(summed absolute and squared z errors, so any subset of columns can be pooled later).
Asserts nothing.

    python benchmarks/numeric_transform.py adult,default --masks 3 --variants standard,auto
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from _cell import cells, parse
from diffputer import DiffPuterImputer
from diffputer.bench.metrics import score_imputation


def _column_lines(cell, setting, out, encoder) -> list[dict]:
    truth, hidden = cell.truth[setting], cell.hidden[setting]
    mapped = {c.name for c in encoder.columns_ if c.quantiles is not None}
    lines = []
    for j, name in enumerate(truth.columns):
        h = hidden[:, j]
        if name not in cell.numeric or not h.any():
            continue
        err = np.abs(out[name].to_numpy(float)[h] - truth[name].to_numpy(float)[h])
        err /= cell.scale.std[name]
        observed = cell.masked["in-sample"][name].dropna()
        share = float(observed.value_counts(normalize=True).iloc[0])
        lines.append(
            dict(column=str(name), mapped=name in mapped, mode_share=round(share, 4))
            | dict(n=int(h.sum()), sum_abs=float(err.sum()), sum_sq=float((err**2).sum()))
        )
    return lines


def run(cell, variants: list[str], per_column: bool) -> None:
    num, cat = cell.numeric, cell.categorical
    for variant in variants:
        imp = DiffPuterImputer(
            random_state=cell.mask, categorical_columns=cat or None, numeric_transform=variant
        )
        t = time.perf_counter()
        outs = {"in-sample": imp.fit_transform(cell.masked["in-sample"])}
        outs["out-of-sample"] = imp.transform(cell.masked["out-of-sample"])
        seconds = round(time.perf_counter() - t, 1)
        for setting, out in outs.items():
            truth, hidden = cell.truth[setting], cell.hidden[setting]
            s = score_imputation(truth, out, hidden, numeric=num, categorical=cat, scale=cell.scale)
            head = dict(dataset=cell.dataset, mask=cell.mask, variant=variant, setting=setting)
            line = head | dict(mae=s["mae"], rmse=s["rmse"], acc=s["acc"], seconds=seconds)
            print(json.dumps(line), flush=True)
            if per_column:
                for col in _column_lines(cell, setting, out, imp.encoder_):
                    print(json.dumps(head | col), flush=True)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", default="standard,auto,quantile")
    parser.add_argument("--per-column", action="store_true")


if __name__ == "__main__":
    args = parse(__doc__, _add_arguments)
    for cell in cells(args):
        run(cell, args.variants.split(","), args.per_column)
