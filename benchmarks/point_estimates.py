"""What returning an estimate per cell (median / vote of its samples) does to a column.

A synthetic 2,000-row table with known answers: a 70/30 category and a 30%-true
boolean that nothing predicts, a column of even whole numbers, a zero-inflated
continuous column (60% exact zeros, the rest log-normal), the same with its
zeros decided by another column, and a column with modes at -1000 and 1000 that
nothing predicts. 600 cells of each are hidden at random. For each
setting it prints the imputed frequencies, how many imputed cells are exactly zero (and
how many should be), and the MAE on the zero-inflated columns. The README's "What
happens when" rows on point estimates and on continuous columns with many zeros quote
this script. Prints measurements; asserts nothing.

Example
-------
    python benchmarks/point_estimates.py      # about 1 minute on 2 cores
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from diffputer import DiffPuterImputer

SETTINGS = {
    "fast (default)": {},
    "fast, final_num_samples=1 (one draw per cell)": {"final_num_samples": 1},
    'fast, numeric_transform="quantile"': {"numeric_transform": "quantile"},
}


def make_table(n: int = 2000, hidden: int = 600, seed: int = 10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    truth = pd.DataFrame(
        {
            "x": x,
            "x2": x + 0.3 * rng.normal(size=n),
            "c7030": np.where(rng.random(n) < 0.7, "A", "B"),
            "b": rng.random(n) < 0.3,
            "even": 2 * rng.integers(0, 10, n),
            "zi": np.where(rng.random(n) < 0.6, 0.0, np.exp(rng.normal(size=n) + 2)),
            "zi_dep": np.where(x < 0.25, 0.0, np.exp(x + 0.3 * rng.normal(size=n))),
            "bimodal": rng.choice([-1000.0, 1000.0], n) + rng.normal(size=n),
        }
    )
    frame = truth.astype({"b": "boolean", "even": "Int64"})
    masks = {}
    for name in ("c7030", "b", "even", "zi", "zi_dep", "bimodal"):
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, hidden, replace=False)] = True
        masks[name] = mask
        frame[name] = frame[name].mask(mask)
    return truth, frame, masks


def main() -> None:
    truth, frame, masks = make_table()
    observed_a = (frame["c7030"] == "A").sum() / frame["c7030"].notna().sum()
    observed_b = frame["b"].mean()
    print(f"# 2,000 rows, 600 hidden cells per column; observed share of 'A' {observed_a:.3f},")
    print(f"# of True {observed_b:.3f}; zero-inflated columns: 60% exact zeros")
    for title, settings in SETTINGS.items():
        imputer = DiffPuterImputer(random_state=0, **settings)
        start = time.perf_counter()
        out = imputer.fit_transform(frame)
        print(f"\n{title}: fit_transform {time.perf_counter() - start:.1f} s")
        c = out["c7030"][masks["c7030"]].value_counts()
        b = out["b"][masks["b"]].value_counts()
        print(f"  c7030 imputed: A {c.get('A', 0)}, B {c.get('B', 0)} (of 600)")
        print(f"  b imputed: True {b.get(True, 0)}, False {b.get(False, 0)}")
        even = out["even"][masks["even"]]
        print(f"  even: {int((even % 2 == 1).sum())} of 600 imputed values are odd")
        between = out["bimodal"][masks["bimodal"]].abs() < 900
        print(f"  bimodal: {int(between.sum())} of 600 imputed values between the modes")
        for name in ("zi", "zi_dep"):
            imputed, answer = out[name][masks[name]], truth[name][masks[name]]
            print(
                f"  {name}: {int((imputed == 0).sum())} imputed zeros (true "
                f"{int((answer == 0).sum())}); zero vs not right for "
                f"{((imputed == 0) == (answer == 0)).mean():.1%}; MAE "
                f"{np.abs(imputed - answer).mean():.3f}"
            )


if __name__ == "__main__":
    main()
