"""Two kinds of work on two cores: one stream on both threads, or two streams on one each.

For the fast preset's network at each encoded width D (``hidden_dim="auto"``'s width
for it, bf16 autocast where the CPU has it, as the preset runs):

- ``e-step``: a guided E-step network call on a chunk of ``eval_batch_size`` = 4,096
  rows (forward, and the backward pass to the noisy input that reconstruction
  guidance takes), ``--calls`` chunks one after the other on ``--threads`` torch
  threads, against the same chunks shared by ``--threads`` worker threads on one torch
  thread each; a plain forward call, for the guided call's cost in forwards; and the
  whole sampler (``posterior_mean`` with the preset's inner E-step settings, one
  antithetic pair, on ``--calls`` chunks' worth of random rows with 30% missing) with
  one worker and with ``--threads`` (``SamplerConfig.eval_workers``).
- ``m-step``: a training step of the width's batch (``Preset.train_for``: 2,048 rows
  with a noise level per 8 at width 128, 512 at width 256): EDM loss, gradients of the
  weights and an Adam step, one batch on ``--threads`` threads, against the batch split
  in halves whose gradients two workers on one thread each compute (the noise of the
  whole batch drawn first, the halves' gradients summed before Adam): data-parallel
  training inside one process.

Each figure is the median of ``--rounds`` rounds, the variants in alternation so that a
busy machine moves them alike. Prints one JSON line per (D, phase); asserts nothing.

    python benchmarks/worker_threads.py --widths 9,82
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import statistics
import time

import torch

from diffputer._em import _with_autocast, autocast_dtype, denoiser_for, eval_batch_size
from diffputer.config import get_preset
from diffputer.diffusion import karras_sigmas, posterior_mean
from diffputer.diffusion.loss import EDMLoss
from diffputer.diffusion.sampler import _guided
from diffputer.diffusion.training import _adam


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_seconds(variants: dict, rounds: int) -> dict[str, float]:
    """Each variant's median wall seconds over ``rounds`` rounds, the variants run in
    alternation (after one round that warms up)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(rounds + 1):
        for name, fn in variants.items():
            seconds = _seconds(fn)
            if round_:
                times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}


def _e_step(width: int, threads: int, rounds: int, calls: int) -> dict:
    preset = get_preset("fast")
    sampler = preset.sampler
    torch.manual_seed(0)
    net = denoiser_for(width, preset).eval()
    dtype = autocast_dtype(sampler.sample_precision, torch.device("cpu"))
    denoise = _with_autocast(net, dtype, torch.device("cpu"))
    n = eval_batch_size(sampler, torch.device("cpu"))
    chunks = [torch.randn(n, width) * 0.5 for _ in range(calls)]
    x_obs, known = torch.randn(n, width) * 0.5, torch.rand(n, width) > 0.3
    guided = _guided(denoise, x_obs, known, sampler.guidance, net.sigma_data)
    sigma = torch.tensor([[0.5]])
    # the whole sampler: the fast preset's inner E-step (one antithetic pair) on
    # ``calls`` chunks' worth of rows
    rows = calls * n // sampler.num_samples
    table, missing = torch.randn(rows, width) * 0.5, torch.rand(rows, width) < 0.3
    sigmas = karras_sigmas(sampler.num_steps, sampler.sigma_min, sampler.sigma_max, sampler.rho)

    def run(fn, chunk):
        with torch.no_grad():
            fn(chunk, sigma)

    def forward_only():
        with torch.inference_mode():
            for chunk in chunks:
                denoise(chunk, sigma)

    def one_stream():
        for chunk in chunks:
            run(guided, chunk)

    pool = concurrent.futures.ThreadPoolExecutor(
        threads, initializer=torch.set_num_threads, initargs=(1,)
    )

    def streams():
        list(pool.map(lambda chunk: run(guided, chunk), chunks))

    def e_step(workers: int):
        return lambda: posterior_mean(
            denoise,
            table,
            missing,
            sigmas,
            num_samples=sampler.num_samples,
            resample_repeats=sampler.resample_repeats,
            S_churn=sampler.S_churn,
            resample_sigma_max=sampler.resample_sigma_max,
            solver=sampler.solver,
            generator=torch.Generator().manual_seed(0),
            batch_size=n,
            guidance=sampler.guidance,
            guidance_sigma_max=sampler.guidance_sigma_max,
            sigma_data=net.sigma_data,
            antithetic=sampler.antithetic,
            workers=workers,
        )

    variants = {
        "forward": forward_only,
        "one_stream": one_stream,
        "streams": streams,
        "e_step_one_worker": e_step(1),
        "e_step_workers": e_step(threads),
    }
    seconds = _median_seconds(variants, rounds)
    pool.shutdown()
    ms = {k: 1e3 * v / calls for k, v in seconds.items()}
    return {
        "phase": "e-step",
        "width": width,
        "hidden": net.backbone.mlp[0].in_features,
        "threads": threads,
        "bf16": dtype is not None,
        "forward_ms_per_chunk": round(ms["forward"], 3),
        "guided_ms_per_chunk_one_stream": round(ms["one_stream"], 3),
        "guided_ms_per_chunk_worker_threads": round(ms["streams"], 3),
        "guided_over_forward": round(ms["one_stream"] / ms["forward"], 2),
        "worker_threads_over_one_stream": round(ms["streams"] / ms["one_stream"], 3),
        "e_step_rows": rows,
        "e_step_s_one_worker": round(seconds["e_step_one_worker"], 2),
        "e_step_s_workers": round(seconds["e_step_workers"], 2),
        "e_step_workers_over_one": round(ms["e_step_workers"] / ms["e_step_one_worker"], 3),
    }


def _m_step(width: int, threads: int, rounds: int, steps: int) -> dict:
    preset = get_preset("fast")
    train = preset.train_for(width)
    torch.manual_seed(0)
    net = denoiser_for(width, preset).train()
    dtype = autocast_dtype(train.train_precision, torch.device("cpu"))
    loss = EDMLoss(train.P_mean, train.P_std, net.sigma_data, train.rows_per_sigma)
    optimizer = _adam(net, train.lr)
    params = list(net.parameters())
    batch, per = train.batch_size, train.rows_per_sigma
    data = torch.randn(batch * 4, width) * 0.5
    generator = torch.Generator().manual_seed(0)

    def autocast():
        return torch.autocast("cpu", dtype=dtype, enabled=dtype is not None)

    def one_batch(i: int) -> None:
        y = data[(i % 4) * batch : (i % 4 + 1) * batch]
        with autocast():
            value = loss(net, y, generator).mean()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()

    def half(part):
        y, sigma, noise = part
        with torch.enable_grad(), autocast():
            value = loss(net, y, sigma=sigma, noise=noise).sum() / y.numel() / 2
        return torch.autograd.grad(value, params)

    pool = concurrent.futures.ThreadPoolExecutor(
        2, initializer=torch.set_num_threads, initargs=(max(1, threads // 2),)
    )

    def halves(i: int) -> None:
        y = data[(i % 4) * batch : (i % 4 + 1) * batch]
        levels = -(-batch // per)
        sigma = (torch.randn((levels, 1), generator=generator) * train.P_std + train.P_mean).exp()
        noise = torch.randn(y.shape, generator=generator)
        h, hl = batch // 2, levels // 2  # a level's rows stay together (batch % 2 per == 0)
        parts = [(y[:h], sigma[:hl], noise[:h]), (y[h:], sigma[hl:], noise[h:])]
        first, second = pool.map(half, parts)
        for p, a, b in zip(params, first, second, strict=True):
            p.grad = a + b
        optimizer.step()

    variants = {
        name: (lambda fn=fn: [fn(i) for i in range(steps)])
        for name, fn in (("one_batch", one_batch), ("halves", halves))
    }
    seconds = _median_seconds(variants, rounds)
    pool.shutdown()
    ms = {k: 1e3 * v / steps for k, v in seconds.items()}
    return {
        "phase": "m-step",
        "width": width,
        "batch": batch,
        "threads": threads,
        "bf16": dtype is not None,
        "ms_per_step_one_batch": round(ms["one_batch"], 3),
        "ms_per_step_two_halves_in_workers": round(ms["halves"], 3),
        "halves_over_one_batch": round(ms["halves"] / ms["one_batch"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--widths", default="9,82", help="encoded widths D, comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=8, help="E-step chunks per round")
    parser.add_argument("--steps", type=int, default=30, help="training steps per round")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for width in (int(w) for w in args.widths.split(",")):
        print(json.dumps(_e_step(width, args.threads, args.rounds, args.calls)), flush=True)
        print(json.dumps(_m_step(width, args.threads, args.rounds, args.steps)), flush=True)


if __name__ == "__main__":
    main()
