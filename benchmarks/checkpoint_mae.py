"""In-sample MAE of the imputations held in EM checkpoints (``fit(checkpoint_dir=...)``).

A checkpoint holds the table after its last completed EM iteration (the E-step's
imputations in the model's space). A fit keeps only its latest checkpoint; copies taken
while it ran (e.g. ``cp checkpoint.dpc snap/$(stat -c %Y checkpoint.dpc).dpc`` every
few seconds) give the MAE after every iteration. Scores each file against the cell of
``benchmarks/paper_subsample.py`` (the runner's split and MCAR 30% mask), decoded with
the `paper` preset's encoder; numeric tables only. Prints measurements.

Example
-------
    python benchmarks/checkpoint_mae.py california --max-rows 400 --mask 0 snap/*.dpc
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from _cell import load_cell
from diffputer._checkpoint import CHECKPOINT_VERSION
from diffputer._encoding import TableEncoder
from diffputer._persistence import read_document
from diffputer.bench.metrics import z_errors
from diffputer.config import get_preset


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--max-rows", type=int, default=400)
    ap.add_argument("--mask", type=int, default=0)
    args = ap.parse_args(argv)
    cell = load_cell(args.dataset, args.mask, args.max_rows)
    if cell.categorical:
        raise SystemExit(f"{args.dataset} has categorical columns; numeric tables only")
    frame = cell.masked["in-sample"]
    # the encoder the `paper` fit built (the imputer's own construction)
    encoding = dataclasses.asdict(get_preset("paper").encoding)
    encoder = TableEncoder(None, **encoding).fit(frame)
    rows = []
    for path in args.files:
        document, tensors = read_document(path, kind="checkpoint", version=CHECKPOINT_VERSION)
        imputed = frame.copy()
        imputed[:] = encoder.unscale(tensors["z"].numpy())
        errors = z_errors(
            cell.truth["in-sample"], imputed, cell.hidden["in-sample"], cell.numeric, cell.scale
        )
        epochs = [h["epochs"] for h in document["history"]]
        rows.append((document["iterations_done"], float(np.abs(errors).mean()), epochs))
    for done, mae, epochs in sorted(rows):
        print(f"after {done} EM iterations: in-sample MAE {mae:.4f} (epochs {epochs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
