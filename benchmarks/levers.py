"""Measure the levers of a fast preset, one at a time. Prints JSON lines; asserts nothing.

Two experiments on one dataset, split and mask (the benchmark runner's, mask 0):

``em``
    Runs the library's own EM loop (``diffputer._em.run_em``) with a preset plus
    overrides and prints, after every EM iteration, the in-sample MAE/RMSE (z units) of
    the current imputation, the epochs and the seconds; then the out-of-sample score of
    one E-step with the final model. This is how the EM-side levers were compared
    (warm start, epochs per M-step, observed-cell loss, iterations, width).

``estep``
    An "oracle" model: the denoiser is trained on the *complete* training rows (no
    missing value, so no EM), then E-step settings are compared on the first ``--rows``
    masked training rows. This isolates the sampler's levers (solver, levels, RePaint
    repeats and where they apply, samples, clipping) from the EM loop.

Examples
--------
    python benchmarks/levers.py em --preset fast --set n_em_iter=5
    python benchmarks/levers.py estep --hidden 128 --epochs 300 \\
        --grid "heun,50,20,10,inf;euler,20,20,4,1.0"
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
import torch

from _cell import settings
from diffputer import TableEncoder, get_preset
from diffputer._em import _with_autocast, autocast_dtype, e_step, run_em
from diffputer.bench.datasets import load_dataset
from diffputer.bench.masks import make_mask
from diffputer.bench.runner import BenchConfig, derive_rng, split_table
from diffputer.diffusion import (
    EDMLoss,
    build_denoiser,
    karras_sigmas,
    network_calls_per_sample,
    posterior_mean,
    train_denoiser,
)


def load(dataset: str, mechanism: str, rate: float, max_rows: int | None, seed: int = 0):
    """The runner's split and mask 0, encoded with the library's encoder."""
    config = BenchConfig((dataset,), (mechanism,), ("mean",), 1, rate, seed, max_rows)
    table = split_table(load_dataset(dataset), config)
    mask = make_mask(mechanism, table.truth, rate, derive_rng(seed, "mask", dataset, mechanism, 0))
    parts = {}
    for name, rows in (("train", table.train_rows), ("test", table.test_rows)):
        truth = table.truth.iloc[rows].reset_index(drop=True)
        parts[name] = (truth, truth.mask(mask[rows]), mask[rows])
    categorical = list(table.dataset.categorical) or None
    encoder = TableEncoder(categorical).fit(parts["train"][1])
    return encoder, parts


def scorer(encoder: TableEncoder, truth, masked):
    """A function from a scaled matrix to (MAE, RMSE) over the masked numeric cells."""
    numeric = [j for j, c in enumerate(encoder.columns_) if c.kind == "numeric"]
    cols = [b.start for j, b in enumerate(encoder.blocks()) if j in numeric]
    z_true, _ = encoder.transform(truth)
    hidden = masked.isna().to_numpy()[:, numeric]

    def score(z: np.ndarray) -> tuple[float, float]:
        err = (np.asarray(z, dtype=np.float64)[:, cols] - z_true[:, cols]) / 0.5
        err = err[hidden]
        return float(np.abs(err).mean()), float(np.sqrt((err**2).mean()))

    return score


def run_em_experiment(args, overrides) -> dict:
    encoder, parts = load(args.dataset, args.mechanism, args.rate, args.max_rows)
    preset = get_preset(args.preset).replace(**overrides)
    z, mask = encoder.transform(parts["train"][1])
    score = scorer(encoder, parts["train"][0], parts["train"][1])
    lo, hi = encoder.scaled_bounds()
    bounds = (torch.from_numpy(lo), torch.from_numpy(hi))
    generator = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    rows = []

    def report(state) -> None:
        record = dict(state.history[-1])
        record["in_sample"] = score(state.z.numpy())
        record["elapsed_s"] = time.perf_counter() - t0
        rows.append(record)
        print(json.dumps({k: _round(v) for k, v in record.items()}), flush=True)

    result = run_em(
        torch.from_numpy(z),
        torch.from_numpy(mask),
        preset,
        generator=generator,
        on_iteration=report,
        bounds=bounds,
    )
    fit_s = time.perf_counter() - t0
    zt, mt = encoder.transform(parts["test"][1])
    t1 = time.perf_counter()
    z_out = e_step(
        result.net,
        torch.from_numpy(zt),
        torch.from_numpy(mt),
        preset.sampler,
        generator=generator,
        bounds=bounds,
    )
    oos_s = time.perf_counter() - t1
    oos = scorer(encoder, parts["test"][0], parts["test"][1])(z_out.numpy())
    return dict(
        experiment="em",
        preset=args.preset,
        overrides=overrides,
        fit_s=fit_s,
        oos_s=oos_s,
        in_sample=rows[-1]["in_sample"],
        out_of_sample=oos,
    )


def run_estep_experiment(args) -> list[dict]:
    encoder, parts = load(args.dataset, args.mechanism, args.rate, args.max_rows)
    z_full, _ = encoder.transform(parts["train"][0])
    z_masked, mask = encoder.transform(parts["train"][1])
    lo, hi = encoder.scaled_bounds()
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    net = build_denoiser(z_full.shape[1], args.hidden)
    cpu = torch.device("cpu")
    t0 = time.perf_counter()
    train_denoiser(
        net,
        torch.from_numpy(z_full),
        autocast_dtype=autocast_dtype(args.train_precision, cpu),
        loss=EDMLoss(),
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        patience=10**9,
        lr_patience=10**9,
        generator=generator,
    )
    train_s = time.perf_counter() - t0
    net.eval()
    n = min(args.rows, len(z_full))
    truth = parts["train"][0].iloc[:n]
    score = scorer(encoder, truth, parts["train"][1].iloc[:n])
    out = []
    for spec in args.grid.split(";"):
        solver, m, r, k, rmax, *rest = spec.split(",")
        precision = rest[1] if len(rest) > 1 else "fp32"
        denoiser = _with_autocast(net, autocast_dtype(precision, cpu), cpu)
        m, r, k, rmax = int(m), int(r), int(k), float(rmax)
        clip = (rest[0] if rest else "clip") == "clip"
        sigmas = karras_sigmas(m)
        t1 = time.perf_counter()
        z = posterior_mean(
            denoiser,
            torch.from_numpy(z_masked[:n]),
            torch.from_numpy(mask[:n]),
            sigmas,
            num_samples=k,
            resample_repeats=r,
            resample_sigma_max=rmax,
            solver=solver,
            clip=(torch.from_numpy(lo), torch.from_numpy(hi)) if clip else None,
            generator=torch.Generator().manual_seed(args.seed),
            batch_size=4096,
        )
        mae, rmse = score(z.numpy())
        row = dict(
            experiment="estep",
            hidden=args.hidden,
            epochs=args.epochs,
            train_s=train_s,
            solver=solver,
            num_steps=m,
            repeats=r,
            samples=k,
            resample_sigma_max=rmax,
            clip=clip,
            precision=precision,
            train_precision=args.train_precision,
            evals_per_row=k * network_calls_per_sample(m, r, sigmas, rmax, solver),
            mae=mae,
            rmse=rmse,
            seconds=time.perf_counter() - t1,
            rows=n,
        )
        print(json.dumps({k2: _round(v) for k2, v in row.items()}), flush=True)
        out.append(row)
    return out


def _round(value):
    if isinstance(value, float):
        return value if math.isinf(value) else round(value, 4)
    if isinstance(value, tuple):
        return [_round(v) for v in value]
    return value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("experiment", choices=["em", "estep"])
    ap.add_argument("--dataset", default="california")
    ap.add_argument("--mechanism", default="MCAR")
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--max-rows", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--preset", default="fast", help="em: the preset to start from")
    ap.add_argument("--set", action="append", default=[], help="em: KEY=VALUE override")
    ap.add_argument("--hidden", type=int, default=128, help="estep: oracle network width")
    ap.add_argument("--epochs", type=int, default=300, help="estep: oracle training epochs")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--train-precision", default="fp32", help="estep: oracle training fp32|bf16")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--rows", type=int, default=2000, help="estep: rows imputed per setting")
    ap.add_argument(
        "--grid",
        default="euler,20,20,4,1.0",
        help="estep: ';'-separated solver,M,R,N,resample_sigma_max[,clip|noclip]",
    )
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.experiment == "em":
        print(
            json.dumps(
                {k: _round(v) for k, v in run_em_experiment(args, settings(args.set)).items()},
                default=str,
            )
        )
    else:
        run_estep_experiment(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
