"""What the command line's CSV handling costs on a large table, without any imputation.

The CLI reads a CSV as text (``diffputer._io.read_csv_text``) so that observed cells
are written back as they were. This script writes a random ROWS x COLS table with 30%
of cells empty to a temporary CSV, then times reading it as text, typing its columns,
filling the missing cells' text from a stand-in result (the typed table with 0.5 in
the gaps) and writing it, and prints the process's resident and peak memory after
each step, beside pandas' own typed ``read_csv`` of the same file. Prints
measurements; asserts nothing.

Example
-------
    python benchmarks/cli_io.py --rows 1000000 --cols 20
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from diffputer._io import read_csv_text


def _memory() -> str:
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * 4096 / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f"resident {current:.0f} MB, peak {peak:.0f} MB"


@contextlib.contextmanager
def _step(name: str):
    start = time.perf_counter()
    yield
    print(f"{name}: {time.perf_counter() - start:.1f} s; {_memory()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=20)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(
            rng.normal(size=(args.rows, args.cols)).round(4),
            columns=[f"c{i}" for i in range(args.cols)],
        )
        frame.mask(rng.random(frame.shape) < 0.3).to_csv(src, index=False)
        del frame
        print(f"# {args.rows} x {args.cols} CSV, {src.stat().st_size / 2**20:.0f} MB; {_memory()}")
        with _step("read as text"):
            text = read_csv_text(src)
        with _step("typed"):
            typed = text.typed()
        with _step("filled (a stand-in result)"):
            filled = text.filled(typed.fillna(0.5), copy=False)
        with _step("written"):
            text.write(filled, dst)
        start = time.perf_counter()
        pd.read_csv(src)
        print(f"pandas read_csv (typed, for comparison): {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
