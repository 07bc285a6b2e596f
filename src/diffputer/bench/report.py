"""Markdown tables and figures from a results folder.

For every (mechanism, setting, metric) measured: a table with one row per method and
one column per dataset holding ``mean ± std`` over masks (population std; a single
mask shows the value alone), the best method per dataset in bold, and the paper's
numbers for the same table (``REFERENCE-RESULTS.md``) as extra rows marked
"(paper)". A timing table and the list of failed cells follow. Each table has a bar
chart (matplotlib, Agg backend) saved as PNG beside the markdown.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .baselines import label, parse_spec
from .reference import load_reference
from .runner import RESULTS_NAME, ResultsFile

__all__ = ["render_report", "summarize", "write_report"]

_LOWER_IS_BETTER = {"mae": True, "rmse": True, "acc": False}
_METRIC_TITLES = {"mae": "MAE (z units)", "rmse": "RMSE (z units)", "acc": "accuracy"}
_SETTINGS = ["in-sample", "out-of-sample"]
_RUN_KEYS = ["rate", "seed", "max_rows"]


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=0) and count over masks of every successful score.

    Returns
    -------
    DataFrame
        Columns ``rate, seed, max_rows, dataset, mechanism, setting, metric, method,
        mean, std, n, seconds`` (mean seconds of the setting's imputation).
    """
    ok = results[(results["status"] == "ok") & results["value"].notna()]
    keys = [*_RUN_KEYS, "dataset", "mechanism", "setting", "metric", "method"]
    grouped = ok.groupby(keys, dropna=False)
    out = grouped["value"].agg(mean="mean", std=lambda v: float(np.std(v)), n="count")
    out["seconds"] = grouped["seconds"].mean()
    return out.reset_index()


def _format(mean: float, std: float, n: int, digits: int = 3) -> str:
    if n <= 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _markdown(frame: pd.DataFrame) -> str:
    """A DataFrame of strings as a markdown table (first column = its index)."""
    header = [frame.index.name or "", *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in frame.iterrows():
        lines.append("| " + " | ".join([str(idx), *map(str, row.tolist())]) + " |")
    return "\n".join(lines)


def _score_table(
    part: pd.DataFrame, reference: pd.DataFrame, datasets: Sequence[str], metric: str
) -> pd.DataFrame:
    """Rows: our methods, then the paper's; columns: datasets."""
    table = pd.DataFrame(index=pd.Index([], name="method"), columns=list(datasets), dtype=object)
    lower = _LOWER_IS_BETTER[metric]
    best = part.groupby("dataset")["mean"].agg("min" if lower else "max")
    for method, rows in part.groupby("method", sort=False):
        cells = {}
        for _, r in rows.iterrows():
            text = _format(r["mean"], r["std"], int(r["n"]))
            cells[r["dataset"]] = (
                f"**{text}**" if np.isclose(r["mean"], best[r["dataset"]]) else text
            )
        table.loc[label(method)] = [cells.get(d, "") for d in datasets]
    for method, rows in reference.groupby("method", sort=False):
        values = dict(zip(rows["dataset"], rows["value"], strict=True))
        if any(d in values for d in datasets):
            table.loc[f"{method} (paper)"] = [
                f"{values[d]:.4f}" if d in values else "" for d in datasets
            ]
    return table


def _figure(part: pd.DataFrame, reference: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(part["dataset"]))
    methods = list(dict.fromkeys(part["method"]))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(datasets) + 2), 3.6))
    x = np.arange(len(datasets))
    colours = plt.get_cmap("tab20")  # distinct colours for up to 20 methods
    for i, method in enumerate(methods):
        rows = part[part["method"] == method].set_index("dataset").reindex(datasets)
        pos = x - 0.4 + width * (i + 0.5)
        name = textwrap.fill(label(method), 40)
        ours = parse_spec(method)[0] == "diffputer"  # outlined, so it stands out
        ax.bar(
            pos,
            rows["mean"],
            width,
            yerr=rows["std"],
            capsize=2,
            label=name,
            color=colours(i % colours.N),
            edgecolor="black" if ours else "none",
            linewidth=1.0,
        )
        paper = reference[reference["method"] == label(method).split(" (")[0]]
        paper = paper.set_index("dataset")["value"].reindex(datasets)
        if paper.notna().any():
            ax.scatter(pos, paper, marker="_", s=200, color="black", zorder=3)
    ax.set_xticks(x, datasets)
    ax.set_title(title + (" (black marks: paper)" if len(reference) else ""))
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _timing_table(summary: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    first_metric = summary.groupby(["dataset", "mechanism", "setting", "method"]).head(1)
    pivot = first_metric.pivot_table(
        index=["method", "setting"], columns="dataset", values="seconds", aggfunc="mean"
    )
    pivot = pivot.reindex(columns=list(datasets))
    out = pivot.map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    out.index = [f"{label(m)}, {s}" for m, s in out.index]
    out.index.name = "method, setting"
    return out


def _failures(results: pd.DataFrame) -> list[str]:
    bad = results[results["status"] == "error"].drop_duplicates(["cell_id", "setting"])
    return [
        f"- {r.dataset} {r.mechanism} mask {r.mask} `{r.method}` {r.setting}: {r.error}"
        for r in bad.itertuples()
    ]


def _select(frame: pd.DataFrame, run: pd.Series) -> pd.DataFrame:
    """The rows of ``frame`` from one run configuration (NaN max_rows = all rows)."""
    keep = np.ones(len(frame), dtype=bool)
    for key in _RUN_KEYS:
        value = run[key]
        keep &= (frame[key].isna() if pd.isna(value) else frame[key] == value).to_numpy()
    return frame[keep]


def _span(counts: pd.Series) -> str:
    lo, hi = int(counts.min()), int(counts.max())
    return str(lo) if lo == hi else f"{lo}-{hi}"


def render_report(
    results: pd.DataFrame, reference: pd.DataFrame, figure_dir: Path | None = None
) -> str:
    """The report as markdown; figures go to ``figure_dir`` when given.

    Parameters
    ----------
    results : DataFrame
        The runner's tidy table.
    reference : DataFrame
        :func:`~diffputer.bench.reference.load_reference` (may be empty).
    figure_dir : Path, optional
        Where to write the PNGs; the markdown links them relative to its parent.
    """
    summary = summarize(results)
    lines = ["# Benchmark results", ""]
    runs = summary[_RUN_KEYS].drop_duplicates()
    for _, run in runs.iterrows():
        here = _select(summary, run)
        rows_max = "all" if pd.isna(run["max_rows"]) else int(run["max_rows"])
        lines += [
            f"Missing rate {run['rate']:g}, seed {int(run['seed'])}, rows per dataset: "
            f"{rows_max}; mean ± std over masks (masks per entry: "
            f"{_span(here['n'])}). MAE/RMSE in z units of the observed training cells "
            "(lower is better), accuracy over masked categorical cells (higher is "
            "better). Best of our methods in bold.",
            "",
        ]
        datasets = list(dict.fromkeys(here["dataset"]))
        for (mechanism, setting, metric), part in here.groupby(
            ["mechanism", "setting", "metric"], sort=False
        ):
            ref = reference[
                (reference["mechanism"] == mechanism)
                & (reference["setting"] == setting)
                & (reference["metric"] == metric)
            ]
            cols = [d for d in datasets if d in set(part["dataset"])]
            title = f"{mechanism}, {setting}, {_METRIC_TITLES[metric]}"
            lines += [f"## {title}", "", _markdown(_score_table(part, ref, cols, metric)), ""]
            if figure_dir is not None:
                # one set of figures per run setting: names must not collide
                run_tag = (
                    ""
                    if len(runs) == 1
                    else f"_rate{run['rate']:g}_seed{int(run['seed'])}_rows{rows_max}"
                )
                name = f"{mechanism}_{setting}_{metric}{run_tag}.png".replace("-", "_")
                figure_dir.mkdir(parents=True, exist_ok=True)
                _figure(part, ref, title, figure_dir / name)
                lines += [f"![{title}]({figure_dir.name}/{name})", ""]
        lines += ["## Seconds per imputation (mean over masks)", ""]
        lines += [
            "In-sample: `fit_transform` on the training rows (fit included); "
            "out-of-sample: `transform` on the test rows.",
            "",
            _markdown(_timing_table(here, datasets)),
            "",
        ]
    failures = _failures(results)
    if failures:
        lines += ["## Failed cells", "", *failures, ""]
    return "\n".join(lines)


def write_report(
    results_dir: str | Path,
    output: str | Path | None = None,
    reference_path: str | Path | None = None,
) -> Path:
    """Render ``results_dir/results.csv`` to ``output`` (default ``results_dir/report.md``).

    Figures go to a ``figures`` folder beside the markdown. Returns the markdown path.
    """
    results_dir = Path(results_dir)
    path = results_dir / RESULTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {RESULTS_NAME} in {results_dir}")
    results = ResultsFile(path).frame
    output = Path(output) if output is not None else results_dir / "report.md"
    text = render_report(results, load_reference(reference_path), output.parent / "figures")
    output.write_text(text, encoding="utf-8")
    return output
