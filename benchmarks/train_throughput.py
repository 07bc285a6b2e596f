"""Training throughput of a preset's network: rows per second by batch size, threads
and noise levels per batch.

A training step here is what the M-step runs: draw a batch of rows, (for a conditional
denoiser) their training masks, the EDM loss with its noise levels, backward, Adam.
For each thread count, batch size and ``rows_per_sigma`` (1: a noise level per row, as
EDM; k: one per k rows, embedded once), it times ``--rows`` rows of steps after a
warm-up and prints thousands of rows per second, the best of ``--rounds`` rounds (the
machine is shared: the best round is the least disturbed). Random data of the table's
encoded width, 30% of it missing; what is timed does not depend on the values.
Prints one JSON line per setting; asserts nothing.

    python benchmarks/train_throughput.py --preset conditional --width 9
    python benchmarks/train_throughput.py --preset fast --width 9 --batches 512,1024
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from diffputer._em import denoiser_for
from diffputer.config import get_preset
from diffputer.diffusion import EDMLoss, MaskDraw


def rows_per_second(preset, width: int, batch: int, rows_per_sigma: int, rows: int) -> float:
    torch.manual_seed(0)
    n = 14_303  # California's training rows; the batches are drawn from them
    data = torch.randn(n, width) * 0.5
    missing = torch.rand(n, width) < 0.3
    net = denoiser_for(width, preset)
    masks = None
    if net.conditional:
        masks = MaskDraw(missing, torch.arange(width), preset.train.mask_rate_max)
    loss = EDMLoss(preset.train.P_mean, preset.train.P_std, preset.model.sigma_data, rows_per_sigma)
    optimizer = torch.optim.Adam(net.parameters(), lr=preset.train.lr)
    generator = torch.Generator().manual_seed(0)
    weight = (~missing).float()
    steps = max(1, rows // batch)
    start = 0.0
    for step in range(steps + 10):
        if step == 10:
            start = time.perf_counter()
        idx = torch.randint(0, n, (batch,), generator=generator)
        w, known = weight[idx], None
        if masks is not None:
            known, hidden = masks(idx, generator)
            w = hidden
        values = loss(net, data[idx], generator, known=known)
        batch_loss = (values * w).sum() / w.sum().clamp_min(1.0)
        optimizer.zero_grad(set_to_none=True)
        batch_loss.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="conditional")
    parser.add_argument("--width", type=int, default=9, help="encoded columns D (California: 9)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", default="512,1024,2048,4096")
    parser.add_argument("--rows-per-sigma", default="1,8")
    parser.add_argument("--rows", type=int, default=300_000, help="rows timed per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    preset = get_preset(args.preset)
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        for batch in map(int, args.batches.split(",")):
            for k in map(int, args.rows_per_sigma.split(",")):
                best = max(
                    rows_per_second(preset, args.width, batch, k, args.rows)
                    for _ in range(args.rounds)
                )
                line = dict(preset=args.preset, width=args.width, threads=threads, batch=batch)
                line |= dict(rows_per_sigma=k, krows_per_s=round(best / 1e3, 1))
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
