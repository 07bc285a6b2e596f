"""Headline tables of a benchmark folder: DiffPuter against the best method, per dataset.

Prints markdown (asserts nothing). For one mechanism and metric: per dataset and
setting, our DiffPuter (mean over masks), the best of the methods run, the runner-up and
how far it trails the best, by how much the best beats DiffPuter, MissForest, and the
paper's DiffPuter and ReMasker numbers where REFERENCE-RESULTS.md has them; then the
summed wall time of every method; then every method against every dataset.

    python benchmarks/bench_summary.py docs/bench --mechanism MCAR --metric mae

``--update-doc docs/benchmarks.md`` instead rewrites the part of that file between its
``<!-- bench_summary: begin -->`` and ``<!-- bench_summary: end -->`` markers with the
tables of every mechanism in the folder (the prose around them is left alone).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from diffputer.bench.baselines import label
from diffputer.bench.report import load_reference

BEGIN, END = "<!-- bench_summary: begin -->", "<!-- bench_summary: end -->"
METRIC_NAMES = {"mae": "MAE (z units)", "rmse": "RMSE (z units)", "acc": "accuracy"}


def summary(
    results: pd.DataFrame,
    reference: pd.DataFrame,
    mechanism: str,
    metric: str,
    *,
    timing: bool = True,
) -> str:
    ok = results[(results["status"] == "ok") & (results["mechanism"] == mechanism)]
    part = ok[ok["metric"] == metric]
    means = part.groupby(["dataset", "setting", "method"])["value"].agg(["mean", "count"])
    higher_is_better = metric == "acc"
    lines = [
        "| dataset | setting | DiffPuter (ours) | MissForest (ours) | best method (ours) "
        "| runner-up (vs best) | DiffPuter vs best | paper DiffPuter | paper ReMasker |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ref = reference[(reference["mechanism"] == mechanism) & (reference["metric"] == metric)]
    for (dataset, setting), rows in means.groupby(level=["dataset", "setting"]):
        rows = rows.droplevel(["dataset", "setting"])
        complete = rows.loc[rows["count"] == rows["count"].max(), "mean"]  # all masks run
        rows = rows["mean"]
        if "diffputer" not in rows:
            continue
        ranked = complete.sort_values(ascending=not higher_is_better)
        best = ranked.index[0]
        ours = rows["diffputer"]
        gap = (ours / rows[best] - 1) * 100 if best != "diffputer" else 0.0
        if len(ranked) > 1:
            second = ranked.index[1]
            margin = (ranked.iloc[1] / ranked.iloc[0] - 1) * 100
            runner_up = f"{label(second)} {ranked.iloc[1]:.3f} ({margin:+.1f}%)"
        else:
            runner_up = "-"

        here = ref[(ref["dataset"] == dataset) & (ref["setting"] == setting)]

        def paper(method: str, here: pd.DataFrame = here) -> str:
            hit = here[here["method"] == method]
            return f"{hit['value'].iloc[0]:.3f}" if len(hit) else "-"

        forest = f"{rows['missforest']:.3f}" if "missforest" in rows else "-"
        verdict = "DiffPuter is best" if best == "diffputer" else f"{gap:+.1f}%"
        lines.append(
            f"| {dataset} | {setting} | {ours:.3f} | {forest} | {label(best)} {rows[best]:.3f} "
            f"| {runner_up} | {verdict} | {paper('DiffPuter')} | {paper('ReMasker')} |"
        )
    if not timing:
        return "\n".join(lines)
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


def matrix(results: pd.DataFrame, mechanism: str, metric: str, setting: str) -> str:
    """Every method (rows) on every dataset (columns): mean over masks, best in bold.

    A method with fewer masks than the most any method has on that dataset is marked
    with its count, e.g. ``0.338 (1/3)``, and is never the one in bold.
    """
    ok = results[
        (results["status"] == "ok")
        & (results["mechanism"] == mechanism)
        & (results["metric"] == metric)
        & (results["setting"] == setting)
    ]
    if ok.empty:
        return ""
    stats = ok.groupby(["method", "dataset"])["value"].agg(["mean", "count"])
    means, counts = stats["mean"].unstack("dataset"), stats["count"].unstack("dataset")
    datasets = list(means.columns)
    full = counts.max()
    complete = means.where(counts.eq(full, axis=1))  # only methods run on every mask
    best = complete.idxmax() if metric == "acc" else complete.idxmin()
    # methods on the most datasets first, then by their mean over those datasets
    sign = -1 if metric == "acc" else 1
    keys = pd.DataFrame({"n": -means.notna().sum(axis=1), "mean": sign * means.mean(axis=1)})
    order = keys.sort_values(["n", "mean"]).index
    lines = [
        "| method | " + " | ".join(datasets) + " |",
        "|---|" + "---|" * len(datasets),
    ]
    for method in order:
        cells = []
        for ds in datasets:
            value = means.at[method, ds]
            if pd.isna(value):
                cells.append("-")
                continue
            text = f"{value:.3f}"
            if best[ds] == method:
                text = f"**{text}**"
            n = int(counts.at[method, ds])
            if n < full[ds]:
                text += f" ({n}/{int(full[ds])})"
            cells.append(text)
        lines.append(f"| {label(method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fit_times(results: pd.DataFrame, mechanism: str) -> str:
    """Median fit seconds per cell, every method (rows) on every dataset (columns)."""
    ok = results[
        (results["status"] == "ok")
        & (results["mechanism"] == mechanism)
        & (results["setting"] == "in-sample")
    ].drop_duplicates("cell_id")
    if ok.empty or "fit_seconds" not in ok:
        return ""
    stats = ok.groupby(["method", "dataset"])["fit_seconds"].agg(["median", "count"])
    medians, counts = stats["median"].unstack("dataset"), stats["count"].unstack("dataset")
    datasets = list(medians.columns)
    lines = ["| method | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    for method in medians.index:
        cells = [
            "-"
            if pd.isna(medians.at[method, ds])
            else f"{medians.at[method, ds]:.0f}"
            + (
                ""
                if counts.at[method, ds] == counts[ds].max()
                else f" ({counts.at[method, ds]:.0f})"
            )
            for ds in datasets
        ]
        lines.append(f"| {label(method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def document(results: pd.DataFrame, reference: pd.DataFrame) -> str:
    """The generated part of docs/benchmarks.md: every mechanism's tables."""
    ok = results[results["status"] == "ok"]
    parts = []
    for mechanism in [m for m in ("MCAR", "MAR", "MNAR") if m in set(ok["mechanism"])]:
        here = ok[ok["mechanism"] == mechanism]
        names = ", ".join(sorted(here["dataset"].unique()))
        for metric in [m for m in ("mae", "acc") if m in set(here["metric"])]:
            what = METRIC_NAMES[metric]
            parts += [
                f"## {mechanism} 30%: {what}, DiffPuter against the best method",
                "",
                f"Datasets: {names}. Mean over masks; the best method is chosen among those "
                "run on every mask. 'Runner-up': the second of those, and how much "
                + ("lower its accuracy is" if metric == "acc" else "higher its error is")
                + " than the best's. 'DiffPuter vs best': how much "
                + ("lower our accuracy is" if metric == "acc" else "higher our error is")
                + " than the best method's. Paper columns: the paper's full-data numbers "
                "(REFERENCE-RESULTS.md) where it reports them.",
                "",
                summary(results, reference, mechanism, metric, timing=metric == "mae"),
                "",
            ]
            times = fit_times(results, mechanism) if metric == "mae" else ""
            if times:
                parts += [
                    f"### {mechanism} 30%: fit seconds per cell",
                    "",
                    "Median over the cells each method ran ('(k)': on k cells, fewer than "
                    "the others); one thread or two on a shared machine, hosts of "
                    "different speed across sessions: orders of magnitude, not ratios.",
                    "",
                    times,
                    "",
                ]
            for setting in ("in-sample", "out-of-sample"):
                table = matrix(results, mechanism, metric, setting)
                if table:
                    parts += [
                        f"### {mechanism} 30%: every method, {setting} {what}",
                        "",
                        "Best per dataset in bold; '(k/n)': the method ran on k of the n "
                        "masks the others ran.",
                        "",
                        table,
                        "",
                    ]
    return "\n".join(parts)


def update_doc(path: str, results: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Replace the text between the markers of ``path`` with :func:`document`."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} section to update")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}{BEGIN}\n\n{document(results, reference)}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--mechanism", default="MCAR")
    parser.add_argument("--metric", default="mae")
    parser.add_argument("--reference", default=None)
    parser.add_argument("--update-doc", metavar="PATH", default=None)
    args = parser.parse_args(argv)
    results = pd.read_csv(f"{args.dir}/results.csv")
    reference = load_reference(args.reference)
    if args.update_doc:
        update_doc(args.update_doc, results, reference)
        return 0
    print(summary(results, reference, args.mechanism, args.metric))
    for setting in ("in-sample", "out-of-sample"):
        print(f"\n{setting}:\n\n{matrix(results, args.mechanism, args.metric, setting)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
