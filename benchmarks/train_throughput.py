"""Training throughput of a preset's network: rows per second by batch size, threads
and noise levels per batch.

What is timed is the M-step's own training loop (``train_denoiser``: shuffled batches,
for a conditional denoiser their training masks, the EDM loss, backward, Adam, the
moving average of the weights), whole epochs of California's 14,303 training rows.
For each thread count, batch size and ``rows_per_sigma`` (1: a noise level per row, as
EDM; k: one per k rows, embedded once), it times at least ``--rows`` rows (whole
epochs) after a one-epoch warm-up and prints thousands of rows per second, the best of
``--rounds`` rounds (the machine is shared: the best round is the least disturbed).
Random data of the table's encoded width, 30% of it missing; what is timed does not
depend on the values.
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
from diffputer.diffusion import EDMLoss, MaskDraw, train_denoiser


def rows_per_second(preset, width: int, batch: int, rows_per_sigma: int, rows: int) -> float:
    torch.manual_seed(0)
    n = 14_303  # California's training rows
    data = torch.randn(n, width) * 0.5
    missing = torch.rand(n, width) < 0.3
    net = denoiser_for(width, preset)
    t = preset.train
    masks = None
    if net.conditional:
        masks = MaskDraw(missing, torch.arange(width), t.mask_rate_max)
    loss = EDMLoss(t.P_mean, t.P_std, preset.model.sigma_data, rows_per_sigma)
    kwargs = dict(loss=loss, lr=t.lr, batch_size=batch, patience=10**9, ema_decay=t.ema_decay)
    kwargs |= dict(weight=(~missing).float(), masks=masks, generator=torch.Generator())
    train_denoiser(net, data, max_epochs=1, **kwargs)  # warm-up
    epochs = max(1, -(-rows // n))
    start = time.perf_counter()
    train_denoiser(net, data, max_epochs=epochs, **kwargs)
    return epochs * n / (time.perf_counter() - start)


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
