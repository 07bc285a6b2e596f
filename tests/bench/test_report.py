"""The report: the paper's numbers parsed, tables rendered, figures written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffputer.bench.reference import default_reference_path, load_reference, parse_reference
from diffputer.bench.report import render_report, summarize, write_report
from diffputer.bench.runner import ResultsFile

REFERENCE = """\
# Numbers (x100)

## MCAR, out-of-sample (Table 5)
| method | California | Adult |
|---|---|---|
| MAE DiffPuter | 33.47 | 49.14 |
| MAE ReMasker | 33.97 | 49.27 |
| RMSE DiffPuter | 54.18 | 91.31 |

## MCAR, in-sample, categorical accuracy % (Table 1)
| method | Adult | News |
|---|---|---|
| MissForest | 63.51 | 37.55 |

## MAR, out-of-sample (Table 8), DiffPuter
| metric | California | Adult |
|---|---|---|
| MAE | 34.18 | 48.09 |

## Training time on one RTX 4090 (Table 2), seconds
| dataset | MOT | DiffPuter |
|---|---|---|
| California | 446 | 1927 |
"""


def test_parse_reference():
    ref = parse_reference(REFERENCE)
    assert len(ref) == 6 + 2 + 2  # the timing table has no mechanism: skipped
    row = ref[(ref["method"] == "DiffPuter") & (ref["metric"] == "mae")]
    row = row.set_index(["mechanism", "dataset"])["value"]
    assert row[("MCAR", "california")] == pytest.approx(0.3347)
    assert row[("MAR", "adult")] == pytest.approx(0.4809)
    acc = ref[ref["metric"] == "acc"].set_index("dataset")["value"]
    assert acc["adult"] == pytest.approx(0.6351)
    assert set(ref["setting"]) == {"in-sample", "out-of-sample"}


def test_shared_reference_file_parses():
    path = default_reference_path()
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    ref = load_reference(path)
    assert set(ref["mechanism"]) == {"MCAR", "MAR", "MNAR"}
    assert ((ref["value"] > 0) & (ref["value"] < 1.5)).all()


def test_missing_default_reference_gives_an_empty_table(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFPUTER_DATA_DIR", str(tmp_path / "datasets"))
    assert load_reference().empty


def test_a_named_reference_must_exist_and_hold_tables(tmp_path):
    """A typo in --reference dropped the paper's rows from the report silently."""
    with pytest.raises(ValueError, match="does not exist"):
        load_reference(tmp_path / "none.md")
    garbage = tmp_path / "ref.md"
    garbage.write_text("garbage\n")
    with pytest.raises(ValueError, match="none of the paper's result tables"):
        load_reference(garbage)


def results_table() -> pd.DataFrame:
    rows = []
    values = {"mean": [0.80, 0.84], "missforest": [0.40, 0.44]}
    for method, maes in values.items():
        for k, mae in enumerate(maes):
            for setting in ("in-sample", "out-of-sample"):
                for metric, value in (("mae", mae), ("acc", 0.5 + mae / 10)):
                    rows.append(
                        {
                            "cell_id": f"california|MCAR|0.3|{k}|{method}|0|all",
                            "dataset": "california",
                            "mechanism": "MCAR",
                            "rate": 0.3,
                            "mask": k,
                            "method": method,
                            "seed": 0,
                            "max_rows": None,
                            "setting": setting,
                            "metric": metric,
                            "value": value,
                            "n_cells": 10,
                            "seconds": 2.0,
                            "fit_seconds": 2.0,
                            "n_train": 70,
                            "n_test": 30,
                            "status": "ok",
                            "error": "",
                            "warnings": "",
                        }
                    )
    bad = dict(rows[-1], method="knn", status="error", value=np.nan, error="boom", mask=0)
    return pd.DataFrame([*rows, bad])


def test_summarize_mean_and_population_std():
    summary = summarize(results_table())
    mf = summary[
        (summary["method"] == "missforest")
        & (summary["metric"] == "mae")
        & (summary["setting"] == "in-sample")
    ].iloc[0]
    assert mf["mean"] == pytest.approx(0.42) and mf["std"] == pytest.approx(0.02)
    assert mf["n"] == 2
    assert "knn" not in set(summary["method"])  # failed cells are not averaged


def test_render_report(tmp_path):
    text = render_report(results_table(), parse_reference(REFERENCE), tmp_path / "figures")
    assert "## MCAR, out-of-sample, MAE (z units)" in text
    assert "| MissForest | **0.420 ± 0.020** |" in text  # best MAE in bold
    assert "| Mean/mode | 0.820 ± 0.020 |" in text
    assert "| DiffPuter (paper) | 0.3347 |" in text  # the paper beside ours
    assert "| MissForest | 0.542 ± 0.002 |" in text  # accuracy: higher is better ...
    assert "| Mean/mode | **0.582 ± 0.002** |" in text  # ... so the bold moves
    assert "boom" in text  # failed cells are listed
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert figures == [
        "MCAR_in_sample_acc.png",
        "MCAR_in_sample_mae.png",
        "MCAR_out_of_sample_acc.png",
        "MCAR_out_of_sample_mae.png",
    ]
    assert "![MCAR, in-sample, MAE (z units)](figures/MCAR_in_sample_mae.png)" in text


def test_write_report_from_a_results_folder(tmp_path):
    ResultsFile(tmp_path / "results.csv").add(results_table().to_dict("records"))
    reference = tmp_path / "ref.md"
    reference.write_text(REFERENCE)
    path = write_report(tmp_path, reference_path=reference)
    assert path == tmp_path / "report.md"
    assert "0.3347" in path.read_text()
    assert (tmp_path / "figures" / "MCAR_in_sample_mae.png").stat().st_size > 1000
    with pytest.raises(FileNotFoundError, match="results.csv"):
        write_report(tmp_path / "empty")


def test_figures_of_two_run_settings_do_not_overwrite_each_other(tmp_path):
    """Results of two row counts in one folder: each section had linked the same file
    names, so the second run's figures replaced the first's."""
    first = results_table()
    second = first.assign(max_rows=800, value=first["value"] + 1)
    text = render_report(
        pd.concat([first, second]), parse_reference(REFERENCE), tmp_path / "figures"
    )
    links = [line for line in text.splitlines() if line.startswith("![MCAR, in-sample, MAE")]
    assert len(links) == 2 and links[0] != links[1]
    files = [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert len(set(files)) == len(files)  # one file per figure
    assert all((tmp_path / f).is_file() for f in files)
