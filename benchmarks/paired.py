"""Variants of the default preset compared paired: same split, mask and seed.

For each dataset and mask (the benchmark runner's 5,000-row split and MCAR 30% mask),
fits the default preset once per variant, all with the same ``random_state``, and
scores the in-sample and out-of-sample imputations in the usual z units (with the
epochs each EM iteration's M-step ran). A variant is
a set of preset settings, ``key=value`` pairs joined by ``,`` (any field of
``diffputer.config``'s configs; values are read as in ``diffputer bench`` method
specs: numbers, true/false, none, else words);
variants are separated by ``;`` and an empty one is the preset as it is. The runner
seeds each method from its spec string, so its A/B comparisons are unpaired; this
script is the paired tool. Prints one JSON line per variant and setting, and with
``--per-column`` one per numeric column as well (summed absolute and squared z errors,
so any subset of columns can be pooled later). Asserts nothing.

    python benchmarks/paired.py adult,default --masks 3 --variants "numeric_transform=standard;"
    python benchmarks/paired.py california,adult --variants "ema_decay=0;ema_decay=0.999"
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from _cell import cells, parse, settings
from diffputer import DiffPuterImputer
from diffputer.config import get_preset


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


def run(cell, variants: list[str], per_column: bool, preset: str) -> None:
    cat = cell.categorical
    for variant in variants:
        # any preset setting, not only the estimator's constructor overrides
        chosen = get_preset(preset).replace(**settings(variant.split(",")))
        imp = DiffPuterImputer(
            preset=chosen, random_state=cell.mask, categorical_columns=cat or None
        )
        t = time.perf_counter()
        outs = {"in-sample": imp.fit_transform(cell.masked["in-sample"])}
        outs["out-of-sample"] = imp.transform(cell.masked["out-of-sample"])
        seconds = round(time.perf_counter() - t, 1)
        epochs = [h["epochs"] for h in imp.history_]  # per EM iteration
        for setting, out in outs.items():
            print(cell.line(variant, setting, out, seconds=seconds, epochs=epochs), flush=True)
            if per_column:
                head = dict(dataset=cell.dataset, mask=cell.mask, variant=variant, setting=setting)
                for col in _column_lines(cell, setting, out, imp.encoder_):
                    print(json.dumps(head | col), flush=True)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", default=";", help="';'-separated, e.g. 'k=v,k2=v2;k=w'")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--per-column", action="store_true")


if __name__ == "__main__":
    args = parse(__doc__, _add_arguments)
    for cell in cells(args):
        run(cell, args.variants.split(";"), args.per_column, args.preset)
