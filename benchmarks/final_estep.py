"""Sampler levers on an EM-trained model: samples (N) against RePaint repeats (R).

Fits the ``fast`` preset (with its former sampler, N=4 and R=20) once on the runner's
training rows (MCAR 30%, mask 0, at most 5,000 rows), then re-imputes the same rows
with the final model under several (N, R) pairs. The E-step's output depends only on
the observed cells and the model, so each line is what that final E-step would have
returned. Prints JSON lines; asserts nothing.

    python benchmarks/final_estep.py adult
"""

import json
import sys
import time

from diffputer import DiffPuterImputer
from diffputer.bench.datasets import load_dataset
from diffputer.bench.masks import make_mask
from diffputer.bench.metrics import ZScale, score_imputation
from diffputer.bench.runner import BenchConfig, derive_rng, split_table

ds = sys.argv[1]
config = BenchConfig((ds,), ("MCAR",), ("mean",), 1, 0.3, 0, 5000)
table = split_table(load_dataset(ds), config)
mask = make_mask("MCAR", table.truth, 0.3, derive_rng(0, "mask", ds, "MCAR", 0))
rows = table.train_rows
truth = table.truth.iloc[rows].reset_index(drop=True)
m = mask[rows]
X = truth.mask(m)
num, cat = list(table.dataset.numeric), list(table.dataset.categorical)
scale = ZScale.fit(X, num)
t = time.perf_counter()
# the EM run uses the sampler the fast preset had when this was measured (N=4, R=20)
imp = DiffPuterImputer(
    random_state=0, categorical_columns=cat or None, num_samples=4, resample_repeats=20
)
out = imp.fit_transform(X)
s = score_imputation(truth, out, m, numeric=num, categorical=cat, scale=scale)
print(
    json.dumps(
        dict(
            ds=ds,
            what="fit_transform",
            sec=round(time.perf_counter() - t, 1),
            mae=s["mae"],
            rmse=s["rmse"],
            acc=s["acc"],
        )
    ),
    flush=True,
)
base = imp.preset_
for n, r in [(4, 20), (16, 20), (8, 10), (16, 5), (32, 5), (64, 1)]:
    imp.preset_ = base.replace(num_samples=n, resample_repeats=r)
    t = time.perf_counter()
    out = imp.transform(X)
    s = score_imputation(truth, out, m, numeric=num, categorical=cat, scale=scale)
    print(
        json.dumps(
            dict(
                ds=ds,
                N=n,
                R=r,
                sec=round(time.perf_counter() - t, 1),
                mae=round(s["mae"], 4),
                rmse=round(s["rmse"], 4),
                acc=s["acc"],
            )
        ),
        flush=True,
    )
