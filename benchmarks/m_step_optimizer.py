"""Milliseconds per M-step training step with Adam's loop, multi-tensor and fused kernels.

A preset-sized network (default: width 128, as ``fast`` and ``conditional`` on
California) on a random batch of 9 encoded columns, ``--steps`` timed steps per
variant after 5 warm-up steps, the variants in alternation ``--rounds`` times. Prints
one line per run; asserts nothing. ``train_denoiser`` uses the fused kernel on CPU
and CUDA; this script keeps the comparison that chose it.

    python benchmarks/m_step_optimizer.py
    python benchmarks/m_step_optimizer.py --batch 2048 --threads 2 --rows-per-sigma 8
"""

import argparse
import time

import torch

from diffputer.diffusion import build_denoiser
from diffputer.diffusion.loss import EDMLoss

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--batch", type=int, default=512)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--hidden", type=int, default=128)
parser.add_argument("--rows-per-sigma", type=int, default=1)
parser.add_argument("--steps", type=int, default=100)
parser.add_argument("--rounds", type=int, default=2)
args = parser.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(0)
net = build_denoiser(9, args.hidden, 0.5)
x = torch.randn(args.batch, 9) * 0.5
loss = EDMLoss(rows_per_sigma=args.rows_per_sigma)
for variant in ["loop", "foreach", "fused"] * args.rounds:
    options = {} if variant == "loop" else {variant: True}
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, **options)

    def step(optimizer=optimizer):
        value = loss(net, x).mean()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    ms = (time.perf_counter() - start) * 1e3 / args.steps
    print(f"{variant}: {ms:.2f} ms per step", flush=True)
