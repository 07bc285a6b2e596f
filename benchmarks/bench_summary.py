"""Headline tables of a benchmark folder: DiffPuter against the best method, per dataset.

Prints markdown (asserts nothing). For one mechanism and metric: per dataset and
setting, our DiffPuter (mean over masks), the best of the methods run and by how much it
beats DiffPuter, MissForest, and the paper's DiffPuter and ReMasker numbers where
REFERENCE-RESULTS.md has them; then the summed wall time of every method.

    python benchmarks/bench_summary.py docs/bench --mechanism MCAR --metric mae
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from diffputer.bench.baselines import label
from diffputer.bench.report import load_reference


def summary(results: pd.DataFrame, reference: pd.DataFrame, mechanism: str, metric: str) -> str:
    ok = results[(results["status"] == "ok") & (results["mechanism"] == mechanism)]
    part = ok[ok["metric"] == metric]
    means = part.groupby(["dataset", "setting", "method"])["value"].agg(["mean", "count"])
    higher_is_better = metric == "acc"
    lines = [
        "| dataset | setting | DiffPuter (ours) | MissForest (ours) | best method (ours) "
        "| DiffPuter vs best | paper DiffPuter | paper ReMasker |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ref = reference[(reference["mechanism"] == mechanism) & (reference["metric"] == metric)]
    for (dataset, setting), rows in means.groupby(level=["dataset", "setting"]):
        rows = rows.droplevel(["dataset", "setting"])["mean"]
        if "diffputer" not in rows:
            continue
        best = rows.idxmax() if higher_is_better else rows.idxmin()
        ours = rows["diffputer"]
        gap = (ours / rows[best] - 1) * 100 if best != "diffputer" else 0.0

        here = ref[(ref["dataset"] == dataset) & (ref["setting"] == setting)]

        def paper(method: str, here: pd.DataFrame = here) -> str:
            hit = here[here["method"] == method]
            return f"{hit['value'].iloc[0]:.3f}" if len(hit) else "-"

        forest = f"{rows['missforest']:.3f}" if "missforest" in rows else "-"
        verdict = "DiffPuter is best" if best == "diffputer" else f"{gap:+.1f}%"
        lines.append(
            f"| {dataset} | {setting} | {ours:.3f} | {forest} | {label(best)} {rows[best]:.3f} "
            f"| {verdict} | {paper('DiffPuter')} | {paper('ReMasker')} |"
        )
    cells = ok.drop_duplicates(["cell_id", "setting"])
    seconds = cells.groupby(["method", "setting"])["seconds"].sum().unstack("setting")
    n_cells = cells[cells["setting"] == "in-sample"].groupby("method").size()
    lines += [
        "",
        f"Wall time summed over the {mechanism} cells (seconds; in-sample includes the fit):",
        "",
        "| method | cells | in-sample | out-of-sample |",
        "|---|---|---|---|",
    ]
    for method, row in seconds.iterrows():
        out = row.get("out-of-sample")
        out_text = "-" if pd.isna(out) else f"{out:.0f}"
        lines.append(
            f"| {label(method)} | {n_cells.get(method, 0)} | {row['in-sample']:.0f} | {out_text} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--mechanism", default="MCAR")
    parser.add_argument("--metric", default="mae")
    parser.add_argument("--reference", default=None)
    args = parser.parse_args(argv)
    results = pd.read_csv(f"{args.dir}/results.csv")
    print(summary(results, load_reference(args.reference), args.mechanism, args.metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
