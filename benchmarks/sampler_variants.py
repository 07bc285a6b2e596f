"""Sampler settings compared on one fitted model: same split, mask, seed and network.

For each dataset and mask (the benchmark runner's split and MCAR 30% mask), fits the
preset once (``random_state`` = the mask's number, as ``paired.py``), then imputes the
in-sample and the out-of-sample rows with ``transform`` once per sampler variant
(``key=value`` pairs of ``SamplerConfig`` joined by ``,``; variants separated by
``;``; an empty one is the preset's sampler), so only the E-step differs between
lines. The fit's own imputation is printed too (variant ``fit``). With ``--model-dir``
the fitted model is saved there and loaded on a later run instead of fitting again.
Prints one JSON line per variant and setting; asserts nothing.

    python benchmarks/sampler_variants.py california --max-rows 1000000 --preset conditional \\
        --variants "num_steps=20,final_num_samples=16;num_steps=10,final_num_samples=24"
"""

from __future__ import annotations

import argparse
import time

from _cell import SETTINGS, cells, fitted_model, parse, settings


def run(cell, args: argparse.Namespace) -> None:
    imp, fit_line = fitted_model(cell, args.preset, args.max_rows, args.model_dir)
    if fit_line is not None:
        print(fit_line, flush=True)
    fitted = imp.preset_
    for variant in args.variants.split(";"):
        imp.preset_ = fitted.replace(**settings(variant.split(",")))
        for setting in SETTINGS:
            start = time.perf_counter()
            out = imp.transform(cell.masked[setting])
            seconds = round(time.perf_counter() - start, 1)
            print(cell.line(variant, setting, out, seconds=seconds), flush=True)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", default="", help="';'-separated, e.g. 'k=v,k2=v2;k=w'")
    parser.add_argument("--preset", default="conditional")
    parser.add_argument("--model-dir", default=None, help="save / reuse fitted models here")


if __name__ == "__main__":
    args = parse(__doc__, _add_arguments)
    for cell in cells(args):
        run(cell, args)
