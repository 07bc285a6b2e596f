"""Speed and quality of a DiffPuter preset against MissForest, measured in one run.

Prints measurements; asserts nothing. For one dataset, mechanism and mask (the
benchmark runner's split and mask), it reports for each DiffPuter preset:

- epochs run per EM iteration, M-step and E-step seconds, fit / in-sample /
  out-of-sample wall time;
- network evaluations per imputed row (sampling; with guidance, how many of them also
  ran a backward pass), and training row-passes per row;
- the network's achieved FLOP/s in the E-step against the matmul peak, measured in
  the same run, of the precision it samples in (bf16 where the preset asks for it and
  the device runs it natively, fp32 otherwise; both peaks are printed);
- peak resident memory of the process;
- in-sample and out-of-sample MAE / RMSE (z units) and accuracy;

then runs MissForest (``diffputer.bench`` registry) on the same data and mask and
prints the time and MAE ratios. ``--memory`` additionally imputes 1,000,000 rows x 20
columns with a fitted model in a child process and reports its peak memory.

Examples
--------
    python benchmarks/speed.py --dataset california --presets fast
    python benchmarks/speed.py --dataset california --presets fast,paper --max-rows 2000
    python benchmarks/speed.py --memory --presets fast --no-baseline
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from _cell import settings
from diffputer import DiffPuterImputer
from diffputer._em import autocast_dtype
from diffputer.bench.baselines import make
from diffputer.bench.datasets import load_dataset
from diffputer.bench.masks import make_mask
from diffputer.bench.metrics import ZScale, score_imputation
from diffputer.bench.runner import BenchConfig, cpu_name, derive_rng, split_table
from diffputer.config import get_preset
from diffputer.diffusion import guided_calls_per_sample, karras_sigmas, network_calls_per_sample


def matmul_peak(
    seconds: float = 2.0,
    n: int | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> float:
    """Achieved FLOP/s of a square ``dtype`` matmul: the machine's practical peak.
    ``n`` defaults to 2,048 on a CPU and 8,192 on a GPU (a 2,048 product in bf16 takes
    about 20 us on an H200: launches would weigh in)."""
    if n is None:
        n = 8192 if str(device).startswith("cuda") else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def flops_per_eval(
    n_features: int, hidden: int, shared_noise: bool = True, conditional: bool = False
) -> float:
    """Multiply-adds x 2 of one denoiser call on one row (the noise MLP once per batch;
    a conditional denoiser's input projection reads 3 D columns)."""
    h, d = hidden, n_features
    macs = (3 if conditional else 1) * d * h + h * 2 * h + 2 * h * 2 * h + 2 * h * h + h * d
    if not shared_noise:
        macs += 2 * h * h
    return 2.0 * macs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _score(table, imputed, rows, mask, scale):
    truth = table.truth.iloc[rows].reset_index(drop=True)
    ds = table.dataset
    return score_imputation(
        truth, imputed, mask[rows], numeric=ds.numeric, categorical=ds.categorical, scale=scale
    )


def run_method(name, estimator, table, mask, scale):
    """Fit + in-sample + out-of-sample, timed; returns a dict of measurements."""
    masked_train = (
        table.truth.iloc[table.train_rows].reset_index(drop=True).mask(mask[table.train_rows])
    )
    masked_test = (
        table.truth.iloc[table.test_rows].reset_index(drop=True).mask(mask[table.test_rows])
    )
    t0 = time.perf_counter()
    ins = estimator.fit_transform(masked_train)
    t1 = time.perf_counter()
    oos = estimator.transform(masked_test)
    t2 = time.perf_counter()
    return {
        "method": name,
        "fit_insample_s": t1 - t0,
        "oos_s": t2 - t1,
        "total_s": t2 - t0,
        "in": _score(table, ins, table.train_rows, mask, scale),
        "out": _score(table, oos, table.test_rows, mask, scale),
        "n_train": len(masked_train),
        "n_test": len(masked_test),
    }


def diffputer_details(imp: DiffPuterImputer, n_features: int, peaks: dict[str, float]) -> dict:
    """The fit's counts and rates; ``peaks``: matmul FLOP/s by precision ("fp32", and
    "bf16" where the device runs it natively)."""
    p = imp.preset_
    sp = p.sampler
    # the precision the E-step's products ran in (bf16 falls back to fp32 where the
    # device does not run it natively: then there is no bf16 peak either)
    precision = "bf16" if sp.sample_precision == "bf16" and "bf16" in peaks else "fp32"
    peak = peaks[precision]
    conditional = imp.denoiser_.conditional
    sigmas = karras_sigmas(sp.num_steps, sp.sigma_min, sp.sigma_max, sp.rho)
    calls = network_calls_per_sample(
        sp.num_steps,
        sp.resample_repeats,
        sigmas,
        sp.resample_sigma_max,
        sp.solver,
        conditioned=conditional,
    )
    guided = 0  # of those calls, the ones that also run a backward pass (guidance)
    if sp.guidance > 0 and not conditional:
        guided = guided_calls_per_sample(
            sp.num_steps,
            sp.resample_repeats,
            sigmas,
            sp.resample_sigma_max,
            sp.solver,
            sp.guidance_sigma_max,
        )
    # E-steps inside EM draw num_samples; the last one (the imputations returned)
    # final_num_samples when set
    final_samples = sp.final_num_samples or sp.num_samples
    per_row_estep = sp.num_samples * calls
    per_row_final = final_samples * calls
    hist = imp.history_
    epochs = [h["epochs"] for h in hist]
    estep_s = sum(h["e_step_seconds"] for h in hist)
    n_rows = imp._speed_rows  # rows with a missing cell, set by the caller
    n_inner = sum(1 for h in hist[:-1] if h["e_step_seconds"] > 0)
    n_final = int(bool(hist) and hist[-1]["e_step_seconds"] > 0)
    samples_per_row = sp.num_samples * n_inner + final_samples * n_final
    per_row_fit = calls * samples_per_row
    guided_per_row = guided * samples_per_row
    evals = per_row_fit * n_rows
    d = imp.encoder_.n_encoded
    # a guided call's backward pass costs about two forward passes
    forwards = evals + 2 * guided_per_row * n_rows
    flops = forwards * flops_per_eval(d, p.model.width(d), conditional=conditional)
    return {
        "preset": p.name,
        "settings": p.to_dict(),
        "epochs": epochs,
        "m_step_s": sum(h["m_step_seconds"] for h in hist),
        "e_step_s": estep_s,
        "evals_per_row_per_estep": per_row_estep,
        "evals_per_row_final_estep": per_row_final,
        "sampling_evals_per_imputed_row": per_row_fit,
        "guided_evals_per_imputed_row": guided_per_row,
        "training_row_passes_per_row": sum(epochs),
        "estep_flops_per_s": flops / estep_s if estep_s else float("nan"),
        "estep_fraction_of_peak": flops / estep_s / peak if estep_s else float("nan"),
        "estep_peak_precision": precision,
        "history": hist,
    }


def memory_check(preset: str, n_rows: int, n_cols: int, device: str) -> dict:
    """Impute ``n_rows`` x ``n_cols`` in a child process; its peak RSS is the answer."""
    code = f"""
import resource, time, json
import numpy as np, pandas as pd
from diffputer import DiffPuterImputer
rng = np.random.default_rng(0)
columns = [f"c{{i}}" for i in range({n_cols})]
small = pd.DataFrame(rng.normal(size=(2000, {n_cols})), columns=columns)
small = small.mask(rng.random(small.shape) < 0.3)
imp = DiffPuterImputer(preset={preset!r}, n_em_iter=1, max_epochs=5, device={device!r},
                       random_state=0).fit(small)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
big = pd.DataFrame(rng.normal(size=({n_rows}, {n_cols})), columns=small.columns)
big = big.mask(rng.random(big.shape) < 0.3)
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
out = imp.transform(big)
print(json.dumps(dict(seconds=time.perf_counter() - t, before_mb=base, input_mb=loaded,
    peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    table_mb=big.memory_usage().sum() / 2**20, nan_left=int(out.isna().sum().sum()))))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": result.stderr[-2000:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="california")
    ap.add_argument("--mechanism", default="MCAR")
    ap.add_argument("--rate", type=float, default=0.3)
    ap.add_argument("--mask", type=int, default=0, help="mask index (runner's seeds)")
    ap.add_argument("--max-rows", type=int, default=None)
    ap.add_argument("--presets", default="fast", help="comma-separated presets")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE override, all presets")
    ap.add_argument("--baseline", default="missforest", help="registry spec of the baseline")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory", action="store_true", help="1M x 20 out-of-sample memory check")
    ap.add_argument("--memory-rows", type=int, default=1_000_000)
    ap.add_argument("--json", default=None, help="also write all measurements to this file")
    ap.add_argument(
        "--verbose", type=int, default=0, help="the imputer's: 2 = a line per EM iteration"
    )
    args = ap.parse_args(argv)

    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    peaks = {"fp32": matmul_peak(device=device)}
    if autocast_dtype("bf16", torch.device(device)) is not None:
        peaks["bf16"] = matmul_peak(device=device, dtype=torch.bfloat16)
    report = {
        "machine": f"{cpu_name()}, {torch.get_num_threads()} torch threads"
        + (f", {torch.cuda.get_device_name()}" if device.startswith("cuda") else ""),
        "torch": torch.__version__,
        "device": device,
        "matmul_peak_gflops": peaks["fp32"] / 1e9,
        "matmul_peak_bf16_gflops": peaks["bf16"] / 1e9 if "bf16" in peaks else None,
        # whether bf16 sampling runs natively here (it falls back to fp32 otherwise)
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "bf16": str(autocast_dtype("bf16", torch.device(device))),
        "runs": [],
    }
    print(f"# {report['machine']}; torch {torch.__version__}; device {device}")
    print(f"# CPU capability {report['cpu_capability']}; bf16 autocast: {report['bf16']}")
    for name, peak in peaks.items():
        print(f"# {name} matmul peak (same run): {peak / 1e9:.0f} GFLOP/s")

    overrides = settings(args.set)

    if args.presets:
        config = BenchConfig(
            (args.dataset,), (args.mechanism,), ("mean",), 1, args.rate, args.seed, args.max_rows
        )
        table = split_table(load_dataset(args.dataset), config)
        mask = make_mask(
            args.mechanism,
            table.truth,
            args.rate,
            derive_rng(args.seed, "mask", args.dataset, args.mechanism, args.mask),
        )
        masked_train = (
            table.truth.iloc[table.train_rows].reset_index(drop=True).mask(mask[table.train_rows])
        )
        scale = ZScale.fit(masked_train, table.dataset.numeric)
        n_missing_rows = int(mask[table.train_rows].any(axis=1).sum())
        print(
            f"# {args.dataset}: {len(table.train_rows)} train / {len(table.test_rows)} test "
            f"rows, {table.truth.shape[1]} columns, {args.mechanism} {args.rate:.0%}"
        )
        for preset in filter(None, args.presets.split(",")):
            imp = DiffPuterImputer(
                # any preset setting, not only the constructor's overrides
                preset=get_preset(preset).replace(**overrides) if overrides else preset,
                random_state=args.seed,
                device=device,
                verbose=args.verbose,
                categorical_columns=list(table.dataset.categorical) or None,
            )
            res = run_method(f"diffputer:{preset}", imp, table, mask, scale)
            imp._speed_rows = n_missing_rows
            res.update(diffputer_details(imp, table.truth.shape[1], peaks))
            res["peak_rss_mb"] = peak_rss_mb()
            report["runs"].append(res)
            _print_run(res)
        if not args.no_baseline:
            base = run_method(
                args.baseline, make(args.baseline, random_state=args.seed), table, mask, scale
            )
            base["peak_rss_mb"] = peak_rss_mb()
            report["runs"].append(base)
            _print_run(base)
            for res in report["runs"][:-1]:
                print(
                    f"ratio {res['method']} / {args.baseline}: "
                    f"time {res['total_s'] / base['total_s']:.2f}x, "
                    f"in-sample MAE {res['in']['mae'] / base['in']['mae']:.3f}, "
                    f"out-of-sample MAE {res['out']['mae'] / base['out']['mae']:.3f}"
                )
    if args.memory:
        for preset in filter(None, args.presets.split(",")) or ["fast"]:
            mem = memory_check(preset, args.memory_rows, 20, device)
            report.setdefault("memory", {})[preset] = mem
            print(f"memory {preset}: {args.memory_rows} x 20 out-of-sample: {mem}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=float)
    return 0


def _print_run(res: dict) -> None:
    i, o = res["in"], res["out"]
    line = (
        f"{res['method']}: total {res['total_s']:.1f}s (fit+in-sample "
        f"{res['fit_insample_s']:.1f}s, out-of-sample {res['oos_s']:.1f}s); in-sample "
        f"MAE {i['mae']:.4f} RMSE {i['rmse']:.4f} acc {i['acc']:.4f}; out-of-sample MAE "
        f"{o['mae']:.4f} RMSE {o['rmse']:.4f} acc {o['acc']:.4f}; peak RSS "
        f"{res['peak_rss_mb']:.0f} MB"
    )
    print(line)
    if "epochs" in res:
        inner = f"{res['evals_per_row_per_estep']} per E-step inside EM, "
        if len(res["epochs"]) < 2:  # one iteration: the only E-step is the last
            inner = ""
        print(
            f"  epochs per EM iteration {res['epochs']}; M-step {res['m_step_s']:.1f}s, "
            f"E-step {res['e_step_s']:.1f}s; sampling evals per imputed row "
            f"{res['sampling_evals_per_imputed_row']} ({inner}"
            f"{res['evals_per_row_final_estep']} in the last and per "
            f"new row; {res.get('guided_evals_per_imputed_row', 0)} of them guided); "
            f"training row-passes per row {res['training_row_passes_per_row']}; "
            f"E-step {res['estep_flops_per_s'] / 1e9:.0f} GFLOP/s = "
            f"{res['estep_fraction_of_peak']:.0%} of the {res['estep_peak_precision']} peak"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
