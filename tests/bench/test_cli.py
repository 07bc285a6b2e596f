"""``diffputer bench``: run, resume, report, list, errors; and the library never imports it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from diffputer.bench.cli import main
from diffputer.bench.datasets import DATA_DIR_ENV
from diffputer.cli import main as diffputer_main

from .conftest import TINY_DIFFPUTER


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fake data folder holding a small California ``housing.csv``."""
    rng = np.random.default_rng(0)
    n = 80
    income = rng.gamma(3, 1.0, n)
    frame = pd.DataFrame(
        {
            "longitude": rng.uniform(-124, -114, n),
            "latitude": rng.uniform(32, 42, n),
            "housing_median_age": rng.integers(1, 52, n).astype(float),
            "total_rooms": rng.gamma(2, 1000, n),
            "total_bedrooms": rng.gamma(2, 200, n),
            "population": rng.gamma(2, 600, n),
            "households": rng.gamma(2, 200, n),
            "median_income": income,
            "median_house_value": 50_000 * income + rng.normal(0, 10_000, n),
            "ocean_proximity": rng.choice(["INLAND", "NEAR BAY"], n),
        }
    )
    (tmp_path / "data" / "california").mkdir(parents=True)
    frame.to_csv(tmp_path / "data" / "california" / "housing.csv", index=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    return tmp_path / "data"


def test_run_resume_and_report(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--datasets", "california", "--mechanisms", "MCAR,mnar", "--masks", "2"]
    argv += ["--methods", f"mean,em,{TINY_DIFFPUTER}", "--out", str(out), "-q"]
    assert main(argv) == 0
    results = pd.read_csv(out / "results.csv")
    assert results["cell_id"].nunique() == 2 * 2 * 3
    assert set(results["mechanism"]) == {"MCAR", "MNAR"}
    assert (results["status"] == "ok").all()
    assert capsys.readouterr() == ("", "")  # quiet, and no terminal: nothing printed
    modified = (out / "results.csv").stat().st_mtime_ns
    assert main(argv) == 0  # everything is done: nothing rerun, nothing rewritten
    assert (out / "results.csv").stat().st_mtime_ns == modified

    assert main(["report", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report.md")
    text = (out / "report.md").read_text()
    assert "## MNAR, out-of-sample, MAE (z units)" in text
    assert "DiffPuter (" in text and "EM" in text
    assert any((out / "figures").glob("*.png"))


def test_mask_ids_share_a_grid_out(data_dir, tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    argv = ["--datasets", "california", "--masks", "3", "--methods", "mean", "-q"]
    assert main([*argv, "--out", str(whole)]) == 0
    assert main([*argv, "--mask-ids", "2,0", "--out", str(parts)]) == 0
    assert main([*argv, "--mask-ids", "1", "--out", str(parts)]) == 0  # resumes, adds mask 1
    a, b = (pd.read_csv(d / "results.csv") for d in (whole, parts))
    key = ["cell_id", "setting", "metric"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[[*key, "value"]], b[[*key, "value"]])


@pytest.mark.parametrize("run", [["run"], []])
def test_through_the_diffputer_command(data_dir, tmp_path, capsys, run):
    out = tmp_path / "out"
    argv = ["bench", *run, "--datasets", "california", "--masks", "1", "--methods", "mean"]
    assert diffputer_main([*argv, "--out", str(out), "-v"]) == 0
    err = capsys.readouterr().err
    assert "[1/1] california MCAR mask 0 mean: in-sample mae" in err
    assert diffputer_main(["bench", "list"]) == 0
    assert "missforest" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--methods", "forest"], "unknown method"),
        (["--methods", "knn:n_neighbors=0"], "n_neighbors"),
        (["--mechanisms", "MXAR"], "unknown mechanism"),
        (["--rate", "1.5"], "rate must be in (0, 1)"),
        (["--masks", "2", "--mask-ids", "2"], "outside 0..1"),
        (["--mask-ids", "one"], "comma-separated integers"),
    ],
)
def test_bad_options_fail_before_any_work(data_dir, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    argv = ["bench", "--datasets", "california", "--out", str(out), *extra]
    assert diffputer_main(argv) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unknown_dataset_and_missing_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "none"))
    base = ["bench", "run", "--masks", "1", "--methods", "mean", "--out", str(tmp_path / "o")]
    assert diffputer_main([*base, "--datasets", "news"]) == 1
    assert "unknown dataset" in capsys.readouterr().err
    assert diffputer_main([*base, "--datasets", "letter"]) == 1
    assert "letter-recognition.data" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--datasets", ","], "--datasets names nothing"),
        (["--methods", ""], "--methods names nothing"),
        (["--out", "FILE"], "is a file; it must name a folder"),
    ],
)
def test_empty_grids_and_a_file_as_out_fail_before_any_work(
    data_dir, tmp_path, capsys, extra, message
):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    extra = [str(afile) if e == "FILE" else e for e in extra]
    argv = ["bench", "--datasets", "california", "--masks", "1", "--methods", "mean"]
    argv += ["--out", str(tmp_path / "out"), *extra]
    assert diffputer_main(argv) == 1  # was 0 with nothing run, or an error after the work
    assert message in capsys.readouterr().err
    assert afile.read_text() == "keep"


def test_a_missing_data_file_fails_before_the_first_cell(data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["bench", "--datasets", "california,adult", "--masks", "1", "--methods", "mean"]
    assert diffputer_main([*argv, "--out", str(out)]) == 1
    assert "adult.data" in capsys.readouterr().err
    assert not out.exists()  # California's cells were run first before


def test_sigterm_exit_status(data_dir, tmp_path, capsys, monkeypatch):
    from diffputer.bench import runner
    from diffputer.cli import Terminated

    def terminated(*args, **kwargs):
        raise Terminated

    monkeypatch.setattr(runner, "run_benchmark", terminated)
    argv = ["bench", "--datasets", "california", "--masks", "1", "--methods", "mean"]
    assert diffputer_main([*argv, "--out", str(tmp_path / "out")]) == 143  # was 130
    assert "terminated; no cell had finished" in capsys.readouterr().err


def test_the_library_never_imports_bench():
    code = (
        "import sys, diffputer, diffputer.cli, diffputer.demo; "
        "assert not [m for m in sys.modules if m.startswith('diffputer.bench')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_failed_cells_give_exit_status_1(data_dir, tmp_path, capsys, monkeypatch):
    """A grid whose cells all failed exited 0."""
    from diffputer.bench import runner

    original = runner.make

    def broken(spec, *args, **kwargs):
        estimator = original(spec, *args, **kwargs)

        def fail(*a, **k):
            raise RuntimeError("boom")

        estimator.fit_transform = fail
        return estimator

    monkeypatch.setattr(runner, "make", broken)
    argv = ["bench", "--datasets", "california", "--masks", "1", "--methods", "mean", "-q"]
    assert diffputer_main([*argv, "--out", str(tmp_path / "out")]) == 1
    assert "1 cell(s) failed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["list", "--bogus"])  # was ignored
