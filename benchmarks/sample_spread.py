"""How spread out a fitted model's samples are, and how good their median is, by step count.

For each dataset and mask (the benchmark runner's split and MCAR 30% mask), fits the
preset once (``random_state`` = the mask's number, as ``sampler_variants.py``; with
``--model-dir`` the model is saved there and reused), then imputes the out-of-sample
rows ``--draws`` times with one sample each (``transform`` with
``final_num_samples=1`` and ``random_state`` 0, 1, ...) at every step count of
``--steps``. Per step count it prints one JSON line over the hidden numeric cells, in
the z units of the observed training cells: the samples' standard deviation across
draws (``sample_sd``, the mean over cells), the MAE of one sample (``single_mae``, the
mean over draws), of the draws' median and of their mean, and the share of true
values inside the draws' central 80% (``cover80``; 0.8 for samples from the true
conditional distribution, less for samples too narrow). Asserts nothing.

    python benchmarks/sample_spread.py california --max-rows 1000000 --preset conditional \\
        --model-dir /tmp/models --steps 2,3,5,10,20,40 --draws 24
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from _cell import cells, fitted_model, parse


def _z(cell, frame) -> np.ndarray:
    """The numeric columns of ``frame`` in z units, shape (rows, numeric columns)."""
    scale = cell.scale
    return np.stack(
        [(frame[c].to_numpy(float) - scale.mean[c]) / scale.std[c] for c in cell.numeric], 1
    )


def run(cell, args: argparse.Namespace) -> None:
    imp, _ = fitted_model(cell, args.preset, args.max_rows, args.model_dir)
    fitted = imp.preset_
    setting = "out-of-sample"
    truth = _z(cell, cell.truth[setting])
    columns = list(cell.truth[setting].columns)
    hidden = cell.hidden[setting][:, [columns.index(c) for c in cell.numeric]]
    for steps in (int(s) for s in args.steps.split(",")):
        imp.preset_ = fitted.replace(num_steps=steps, final_num_samples=1)
        draws = []
        for k in range(args.draws):
            imp.random_state = k
            draws.append(_z(cell, imp.transform(cell.masked[setting])))
        d = np.stack(draws)  # draws, rows, numeric columns
        lo, hi = np.quantile(d, 0.1, axis=0), np.quantile(d, 0.9, axis=0)
        line = dict(dataset=cell.dataset, mask=cell.mask, preset=args.preset, steps=steps)
        line |= dict(
            draws=args.draws,
            sample_sd=float(d.std(0, ddof=1)[hidden].mean()),
            single_mae=float(np.abs(d - truth)[:, hidden].mean()),
            median_mae=float(np.abs(np.median(d, 0) - truth)[hidden].mean()),
            mean_mae=float(np.abs(d.mean(0) - truth)[hidden].mean()),
            cover80=float(((truth >= lo) & (truth <= hi))[hidden].mean()),
        )
        print(json.dumps(line), flush=True)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="conditional")
    parser.add_argument("--model-dir", default=None, help="save / reuse fitted models here")
    parser.add_argument("--steps", default="2,3,5,10,20,40", help="comma-separated")
    parser.add_argument("--draws", type=int, default=24)


if __name__ == "__main__":
    args = parse(__doc__, _add_arguments)
    for cell in cells(args):
        run(cell, args)
