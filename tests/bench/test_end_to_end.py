"""A real dataset through the whole benchmark: ``diffputer bench`` run, then report."""

from __future__ import annotations

import pandas as pd
import pytest

from diffputer.cli import main

from .conftest import TINY_DIFFPUTER


@pytest.mark.slow
def test_bench_on_adult_end_to_end(tmp_path):
    out = tmp_path / "bench"
    methods = f"mean,knn,mice,missforest:n_estimators=10,softimpute,em,{TINY_DIFFPUTER}"
    argv = ["bench", "run", "--datasets", "adult", "--mechanisms", "MCAR,MAR", "--masks", "1"]
    argv += ["--max-rows", "400", "--methods", methods, "--out", str(out), "-q"]
    assert main(argv) == 0
    results = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
    assert results["cell_id"].nunique() == 2 * 7
    assert (results["status"] == "ok").all(), results.loc[results["status"] != "ok", "error"]
    assert (results["n_train"] == 280).all() and (results["n_test"] == 120).all()
    assert set(results["metric"]) == {"mae", "rmse", "acc"}
    mae = results[(results["metric"] == "mae") & (results["setting"] == "in-sample")]
    by_method = mae.groupby("method")["value"].mean()
    assert by_method["missforest:n_estimators=10"] < by_method["mean"]

    assert main(["bench", "report", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "## MCAR, in-sample, accuracy" in text
    assert "| MissForest (paper) | 0.6351 |" in text  # Table 1, beside ours
    assert len(list((out / "figures").glob("*.png"))) == 2 * 2 * 3
