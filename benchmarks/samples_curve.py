"""How much of DiffPuter's error is Monte Carlo noise: one fitted model, more samples.

For each dataset and mask (the runner's 5,000-row split, MCAR 30%), fits the default
preset (with ``--set KEY=VALUE`` changes) once, then re-imputes the training rows with
the final model at several sample counts N for the returned imputations
(``final_num_samples``; the preset's RePaint repeats and levels kept), each combined by
the mean and, at the largest N, by the median too (``--aggregates mean,median``: both at
every N). The E-step's output depends only on the observed cells and the model, so each
line is what the last E-step would have returned with that N. With ``--baseline
missforest`` (any registry spec) the same rows are imputed by that method too, for a
per-column comparison. Prints JSON lines (one per imputation, and one per numeric column
with ``--per-column``, as ``paired.py``); asserts nothing.

If the error at N samples behaves as ``sqrt(A + B / N)`` (each sample adds its own
spread to the mean), the large-N lines show what an exact posterior mean of this
model would score, and so how much of a gap to another method is sampling noise
rather than the model.

    python benchmarks/samples_curve.py california --samples 8,16,32,64 \
        --baseline missforest --per-column

(docs/performance.md's runs fitted the preset as it was then: add ``--set num_samples=8
--set final_num_samples=8 --set aggregate=mean`` to fit the same model.)
"""

from __future__ import annotations

import argparse
import json
import time

from _cell import cells, parse, settings
from diffputer import DiffPuterImputer
from diffputer.bench.baselines import make
from diffputer.config import get_preset
from paired import _column_lines

SETTING = "in-sample"


def _report(cell, head: dict, out, seconds: float, encoder, per_column: bool) -> None:
    s = cell.score(SETTING, out)
    head = dict(dataset=cell.dataset, mask=cell.mask) | head
    print(json.dumps(head | dict(mae=s["mae"], rmse=s["rmse"], acc=s["acc"], seconds=seconds)))
    if per_column:
        for line in _column_lines(cell, SETTING, out, encoder):
            print(json.dumps(head | line), flush=True)


def run(cell, samples: list[int], aggregates: list[str] | None, args) -> None:
    cat = cell.categorical
    preset = get_preset("fast").replace(**settings(args.set))
    imp = DiffPuterImputer(preset=preset, random_state=cell.mask, categorical_columns=cat or None)
    t = time.perf_counter()
    out = imp.fit_transform(cell.masked[SETTING])
    seconds = round(time.perf_counter() - t, 1)
    fitted = imp.preset_
    n_fit = fitted.sampler.final_num_samples or fitted.sampler.num_samples
    _report(cell, dict(what="fit_transform", N=n_fit), out, seconds, imp.encoder_, args.per_column)
    if aggregates is None:
        runs = [(n, "mean") for n in samples] + [(max(samples), "median")]
    else:
        runs = [(n, a) for n in samples for a in aggregates]
    for n, aggregate in runs:
        imp.preset_ = fitted.replace(final_num_samples=n, aggregate=aggregate)
        t = time.perf_counter()
        out = imp.transform(cell.masked[SETTING])
        seconds = round(time.perf_counter() - t, 1)
        head = dict(what="re-impute", N=n, aggregate=aggregate)
        _report(cell, head, out, seconds, imp.encoder_, args.per_column)
    imp.preset_ = fitted
    if args.baseline:
        method = make(args.baseline, random_state=cell.mask)
        t = time.perf_counter()
        out = method.fit_transform(cell.masked[SETTING])
        seconds = round(time.perf_counter() - t, 1)
        _report(cell, dict(what=args.baseline), out, seconds, imp.encoder_, args.per_column)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", default="8,16,32,64", help="comma-separated N")
    parser.add_argument("--aggregates", default=None, help="e.g. mean,median: each at every N")
    parser.add_argument("--baseline", default=None, help="a registry spec, e.g. missforest")
    parser.add_argument("--per-column", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE preset change")


if __name__ == "__main__":
    args = parse(__doc__, _add_arguments)
    counts = [int(n) for n in args.samples.split(",")]
    aggregates = args.aggregates.split(",") if args.aggregates else None
    for cell in cells(args):
        run(cell, counts, aggregates, args)
