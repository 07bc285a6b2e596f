"""benchmarks/bench_summary.py: the tables docs/benchmarks.md is generated from."""

from __future__ import annotations

import pandas as pd
import pytest

from diffputer.bench.reference import REFERENCE_COLUMNS

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def bench_summary():
    return load_benchmark_script("bench_summary")


def _results() -> pd.DataFrame:
    """Two datasets, three masks; TDM ran one mask of one dataset only."""
    rows = []
    values = {
        ("a", "diffputer"): [0.30, 0.32, 0.31],
        ("a", "missforest"): [0.35, 0.36, 0.34],
        ("a", "tdm"): [0.20],
        ("b", "diffputer"): [0.50, 0.52, 0.51],
        ("b", "missforest"): [0.40, 0.41, 0.42],
    }
    for (dataset, method), per_mask in values.items():
        for mask, value in enumerate(per_mask):
            for setting in ("in-sample", "out-of-sample"):
                if method == "tdm" and setting == "out-of-sample":
                    continue
                rows.append(
                    dict(
                        cell_id=f"{dataset}|MCAR|{mask}|{method}",
                        dataset=dataset,
                        mechanism="MCAR",
                        mask=mask,
                        method=method,
                        setting=setting,
                        metric="mae",
                        value=value,
                        seconds=1.0,
                        status="ok",
                    )
                )
    return pd.DataFrame(rows)


def test_matrix_bolds_the_best_and_marks_partial_methods(bench_summary):
    table = bench_summary.matrix(_results(), "MCAR", "mae", "in-sample")
    lines = {line.split(" | ")[0]: line for line in table.splitlines()[2:]}
    # TDM's one mask is lower, but a partial method is never the bold one
    assert lines["| DiffPuter"] == "| DiffPuter | **0.310** | 0.510 |"
    assert lines["| MissForest"] == "| MissForest | 0.350 | **0.410** |"
    assert lines["| TDM"] == "| TDM | 0.200 (1/3) | - |"
    assert table.splitlines()[0] == "| method | a | b |"
    # methods on more datasets come first
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]][-1] == "| TDM"


def test_summary_names_the_winner_and_the_gap(bench_summary):
    reference = pd.DataFrame(columns=REFERENCE_COLUMNS)
    text = bench_summary.summary(_results(), reference, "MCAR", "mae", timing=False)
    # TDM ran 1 of 3 masks: not comparable, so not the winner
    assert (
        "| a | in-sample | 0.310 | 0.350 | DiffPuter 0.310 | MissForest 0.350 (+12.9%) "
        "| DiffPuter is best |" in text
    )
    assert (
        "| b | in-sample | 0.510 | 0.410 | MissForest 0.410 | DiffPuter 0.510 (+24.4%) "
        "| +24.4% |" in text
    )
    assert "Wall time" not in text


def test_fit_times_are_medians_per_cell_with_partial_counts(bench_summary):
    results = _results()
    assert bench_summary.fit_times(results, "MCAR") == ""  # no fit_seconds column
    # each in-sample cell's fit seconds: mask + 1 (so medians 2 over masks 0-2), TDM 7
    results["fit_seconds"] = results["mask"] + 1.0 + 6 * (results["method"] == "tdm")
    lines = bench_summary.fit_times(results, "MCAR").splitlines()
    assert lines[0] == "| method | a | b |"
    assert "| DiffPuter | 2 | 2 |" in lines and "| TDM | 7 (1) | - |" in lines


def test_update_doc_rewrites_only_between_the_markers(bench_summary, tmp_path):
    doc = tmp_path / "benchmarks.md"
    begin, end = bench_summary.BEGIN, bench_summary.END
    doc.write_text(f"# Head\nprose\n{begin}\nold tables\n{end}\n\ntail prose\n")
    reference = pd.DataFrame(columns=REFERENCE_COLUMNS)
    bench_summary.update_doc(str(doc), _results(), reference)
    text = doc.read_text()
    assert text.startswith(f"# Head\nprose\n{begin}\n")
    assert text.endswith(f"{end}\n\ntail prose\n")
    assert "old tables" not in text
    assert "### MCAR 30%: every method, in-sample MAE" in text
    bench_summary.update_doc(str(doc), _results(), reference)  # idempotent
    assert doc.read_text() == text

    no_markers = tmp_path / "plain.md"
    no_markers.write_text("nothing to update\n")
    with pytest.raises(SystemExit, match="no"):
        bench_summary.update_doc(str(no_markers), _results(), reference)
