"""How much a fit slows when other work shares the CPU, under OpenMP wait settings.

torch's CPU kernels run in OpenMP parallel regions; GNU OpenMP's threads spin at each
region's end (``GOMP_SPINCOUNT``, 300,000 spins by default) waiting for the others.
When another process holds a core, a spinning thread burns its time slice while the
thread it waits for is off the CPU. This script fits the default preset (one EM
iteration) on the first ``--rows`` rows of a dataset, 30% MCAR, in a fresh process per
setting (the variables are read when OpenMP starts), with nothing else running and
beside ``--hogs`` single-threaded busy loops, and prints the seconds of each. Prints
measurements; asserts nothing. Run it on an otherwise idle machine.

Example
-------
    python benchmarks/contention.py --rows 1000 --hogs 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SETTINGS = {
    "default": {},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "GOMP_SPINCOUNT=1000": {"GOMP_SPINCOUNT": "1000"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}

FIT = """
import sys, time
import numpy as np
from diffputer import DiffPuterImputer
from diffputer.bench.datasets import load_dataset
table = load_dataset(sys.argv[1]).frame.iloc[: int(sys.argv[2])].reset_index(drop=True)
masked = table.mask(np.random.default_rng(0).random(table.shape) < 0.3)
start = time.perf_counter()
DiffPuterImputer(random_state=0, n_em_iter=1).fit_transform(masked)
print(time.perf_counter() - start)
"""


def _fit_seconds(dataset: str, rows: int, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", FIT, dataset, str(rows)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="california")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--hogs", type=int, default=1, help="single-threaded busy processes")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args(argv)
    print(f"# {args.dataset}, {args.rows} rows, one EM iteration of the default preset")
    print(f"# {'setting':<26} {'alone s':>10} {f'beside {args.hogs} busy loop(s) s':>28}")
    for name, env in SETTINGS.items():
        alone = [_fit_seconds(args.dataset, args.rows, env) for _ in range(args.reps)]
        hogs = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)
        ]
        try:
            time.sleep(0.5)
            shared = [_fit_seconds(args.dataset, args.rows, env) for _ in range(args.reps)]
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        print(
            f"{name:<28} {' '.join(f'{s:.1f}' for s in alone):>10} "
            f"{' '.join(f'{s:.1f}' for s in shared):>28}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
