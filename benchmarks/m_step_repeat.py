"""The same M-step, repeated: how much one process's identical work varies in time.

Trains the `fast` preset's network (California's shape: 14,303 rows x 9 encoded
columns, random values, 30% missing) with the preset's M-step (warm-started, so each
repeat runs the same 74 epochs) ``--reps`` times in one process, printing each
repeat's seconds. Run it with ``OMP_NUM_THREADS=1`` and without, nothing else running,
to see the spread of identical work and what the second core buys a training step.
Prints measurements; asserts nothing.

Example
-------
    python benchmarks/m_step_repeat.py --reps 8
    OMP_NUM_THREADS=1 python benchmarks/m_step_repeat.py --reps 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from diffputer._em import denoiser_for, m_step
from diffputer.config import get_preset


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--rows", type=int, default=14303)
    ap.add_argument("--columns", type=int, default=9)
    ap.add_argument("--preset", default="fast")
    args = ap.parse_args(argv)
    preset = get_preset(args.preset)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(args.rows, args.columns, generator=g)
    mask = torch.rand(args.rows, args.columns, generator=g) < 0.3
    torch.manual_seed(0)
    net = denoiser_for(args.columns, preset)
    train = preset.train_for(args.columns)
    print(f"# {torch.get_num_threads()} torch threads; {args.rows} x {args.columns}, {args.preset}")
    seconds = []
    for r in range(args.reps):
        start = time.perf_counter()
        record = m_step(net, z, mask, train, generator=g, warm=True)
        seconds.append(time.perf_counter() - start)
        print(f"repeat {r}: {seconds[-1]:.2f} s, {record['epochs']} epochs", flush=True)
    print(
        f"min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s, "
        f"max {max(seconds):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
