"""The `paper` preset against the default (`fast`) on a subsample, resumable across sessions.

Issue 5's second target: the default preset's MAE within 2% of the `paper` preset's on
the same split, with at least 50x fewer network evaluations per imputed row, "on a
subsample if it must be". `paper` takes hours per EM iteration even on a few hundred rows
on a 2-core CPU, so this script keeps its state in ``--work-dir``: the `paper` fit
checkpoints after every EM iteration (``fit(checkpoint_dir=...)``) and every finished
part (each fit's scores, errors and imputations) is saved there. Run the same command
again to resume; a finished part is read back, not recomputed.

On one cell (the runner's 70/30 split and MCAR 30% mask ``--mask`` of ``--max-rows``
rows) it runs `paper` once (``random_state`` = the mask's number, as the benchmark),
`fast` with ``--fast-seeds`` seeds, and MissForest for reference. It prints per method
in-sample / out-of-sample MAE, RMSE and accuracy, seconds (`paper`'s from its EM history
plus the out-of-sample transform, so resumed runs add up), network evaluations per
imputed row; then the ratio of `fast`'s MAE to `paper`'s with a 95% interval from a
paired bootstrap over the hidden cells (fast's first seed against paper). Prints
measurements; asserts nothing.

Examples
--------
    python benchmarks/paper_subsample.py california --max-rows 400 \\
        --work-dir /tmp/paper400 --json docs/perf/paper_subsample_california.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _cell import SETTINGS, Cell, load_cell, settings
from diffputer import DiffPuterImputer
from diffputer.bench.baselines import make
from diffputer.bench.metrics import z_errors
from diffputer.config import get_preset
from speed import diffputer_details


def _impute(estimator, cell: Cell, part: Path, **fit_kwargs) -> dict:
    """``estimator`` fitted on the in-sample rows and imputing both settings, timed;
    the imputations are written to ``part``."""
    start = time.perf_counter()
    ins = estimator.fit_transform(cell.masked["in-sample"], **fit_kwargs)
    mid = time.perf_counter()
    out = estimator.transform(cell.masked["out-of-sample"])
    end = time.perf_counter()
    ins.to_csv(part / "in-sample.csv", index=False)
    out.to_csv(part / "out-of-sample.csv", index=False)
    return {
        "fit_s": mid - start,
        "oos_s": end - mid,
        "total_s": end - start,
        "imputed": {"in-sample": ins, "out-of-sample": out},
    }


def _fit_diffputer(
    cell: Cell, preset: str, seed: int, part: Path, verbose: int, overrides: dict | None = None
) -> dict:
    """Fit ``preset`` (with ``overrides``) on the in-sample rows (checkpointed in
    ``part``), impute both settings, save the model and imputations in ``part``;
    returns the measurements."""
    imp = DiffPuterImputer(
        preset=get_preset(preset).replace(**overrides) if overrides else preset,
        random_state=seed,
        categorical_columns=cell.categorical or None,
        verbose=verbose,
    )
    result = _impute(imp, cell, part, checkpoint_dir=part / "checkpoint")
    imp.save(part / "model")
    imp._speed_rows = int(cell.hidden["in-sample"].any(axis=1).sum())
    details = diffputer_details(imp, cell.truth["in-sample"].shape[1], {"fp32": float("nan")})
    keep = (
        "epochs",
        "m_step_s",
        "e_step_s",
        "evals_per_row_per_estep",
        "evals_per_row_final_estep",
        "sampling_evals_per_imputed_row",
        "guided_evals_per_imputed_row",
        "training_row_passes_per_row",
    )
    return {k: details[k] for k in keep} | {
        "fit_s_last_invocation": result.pop("fit_s"),  # this invocation's share only
        # EM's own seconds (all invocations) + out-of-sample: the resumable total
        "total_s": details["m_step_s"] + details["e_step_s"] + result["oos_s"],
        "oos_s": result["oos_s"],
        "imputed": result["imputed"],
    }


def _fit_baseline(cell: Cell, spec: str, seed: int, part: Path) -> dict:
    return _impute(make(spec, random_state=seed), cell, part)


def run_part(cell: Cell, name: str, fit, work_dir: Path) -> dict:
    """One method's measurements: read from ``work_dir/name/result.json`` if a run
    finished it, else ``fit(part_dir)`` now (resuming from its checkpoint)."""
    part = work_dir / name
    done = part / "result.json"
    if done.exists():
        result = json.loads(done.read_text())
        result["errors"] = {s: np.array(v) for s, v in result["errors"].items()}
        return result
    part.mkdir(parents=True, exist_ok=True)
    result = fit(part)
    imputed = result.pop("imputed")
    result["scores"] = {s: cell.score(s, imputed[s]) for s in SETTINGS}
    result["errors"] = {
        s: z_errors(cell.truth[s], imputed[s], cell.hidden[s], cell.numeric, cell.scale)
        for s in SETTINGS
    }
    saved = result | {"errors": {s: e.tolist() for s, e in result["errors"].items()}}
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(saved, default=float))
    tmp.replace(done)
    return result


def ratio_interval(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_boot: int = 2000
) -> tuple[float, float, float]:
    """MAE(a) / MAE(b) over the same cells, with a 95% paired-bootstrap interval."""
    a, b = np.abs(a), np.abs(b)
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))
    boot = a[idx].mean(1) / b[idx].mean(1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(a.mean() / b.mean()), float(lo), float(hi)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--max-rows", type=int, default=400)
    ap.add_argument("--mask", type=int, default=0)
    ap.add_argument("--fast-seeds", type=int, default=3)
    ap.add_argument("--baseline", default="missforest")
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--only", default=None, help="comma-separated parts to run (default all)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--verbose", type=int, default=0, help="the imputer's progress (stderr)")
    ap.add_argument(
        "--paper-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting of the paper preset only (e.g. train_precision=bf16); "
        "use another --work-dir, as its part is still called paper",
    )
    args = ap.parse_args(argv)
    paper_overrides = settings(args.paper_set)

    cell = load_cell(args.dataset, args.mask, args.max_rows)
    work_dir = Path(args.work_dir) / f"{args.dataset}_{args.max_rows}_{args.mask}"
    parts = {f"fast_seed{k}": ("fast", args.mask + k) for k in range(args.fast_seeds)}
    parts["paper"] = ("paper", args.mask)
    only = set(args.only.split(",")) if args.only else None
    results = {}
    n_in = len(cell.truth["in-sample"])
    print(
        f"# {args.dataset}: {n_in} in-sample / {len(cell.truth['out-of-sample'])} "
        f"out-of-sample rows, MCAR 30% mask {args.mask}; "
        f"{int(cell.hidden['in-sample'].sum())} hidden in-sample cells"
    )
    for name, (preset, seed) in parts.items():
        if only is None or name in only:
            extra = paper_overrides if name == "paper" else None
            results[name] = run_part(
                cell,
                name,
                lambda part, p=preset, s=seed, o=extra: _fit_diffputer(
                    cell, p, s, part, args.verbose, o
                ),
                work_dir,
            )
    if only is None or args.baseline in only:
        results[args.baseline] = run_part(
            cell,
            args.baseline,
            lambda part: _fit_baseline(cell, args.baseline, args.mask, part),
            work_dir,
        )
    for name, res in results.items():
        line = f"{name}: {res['total_s']:.1f}s"
        for s in SETTINGS:
            sc = res["scores"][s]
            line += f"; {s} MAE {sc['mae']:.4f} RMSE {sc['rmse']:.4f} acc {sc['acc']:.4f}"
        if "sampling_evals_per_imputed_row" in res:
            line += (
                f"; epochs {res['epochs']}; sampling evals per imputed row "
                f"{res['sampling_evals_per_imputed_row']}"
            )
        print(line)
    summary = {}
    fast = [results[n] for n in results if n.startswith("fast_seed")]
    if "paper" in results and fast:
        paper = results["paper"]
        rng = np.random.default_rng(0)
        for s in SETTINGS:
            mean_fast = float(np.mean([r["scores"][s]["mae"] for r in fast]))
            ratio, lo, hi = ratio_interval(fast[0]["errors"][s], paper["errors"][s], rng)
            summary[s] = {
                "fast_mae_mean": mean_fast,
                "paper_mae": paper["scores"][s]["mae"],
                "ratio_of_means": mean_fast / paper["scores"][s]["mae"],
                "ratio_seed0": ratio,
                "ratio_seed0_ci95": [lo, hi],
            }
            print(
                f"{s}: fast mean MAE {mean_fast:.4f} ({len(fast)} seeds) / paper "
                f"{paper['scores'][s]['mae']:.4f} = {mean_fast / paper['scores'][s]['mae']:.3f}; "
                f"seed {args.mask} alone {ratio:.3f}, 95% paired bootstrap [{lo:.3f}, {hi:.3f}]"
            )
        evals = paper["sampling_evals_per_imputed_row"] / fast[0]["sampling_evals_per_imputed_row"]
        summary["evals_ratio"] = evals
        print(f"network evaluations per imputed row: paper / fast = {evals:.0f}x")
    if args.json:
        report = {
            "dataset": args.dataset,
            "max_rows": args.max_rows,
            "mask": args.mask,
            "n_in_sample": n_in,
            "paper_overrides": paper_overrides,
            "runs": {n: {k: v for k, v in r.items() if k != "errors"} for n, r in results.items()},
            "summary": summary,
            # each hidden numeric cell's signed error (z units), per run and setting, in
            # the cell's order: enough to pool masks in a paired bootstrap later
            "errors": {
                n: {s: np.round(r["errors"][s], 6).tolist() for s in SETTINGS}
                for n, r in results.items()
            },
        }
        Path(args.json).write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
