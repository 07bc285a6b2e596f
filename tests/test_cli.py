"""The command line, end to end on temporary files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from diffputer.cli import main


@pytest.fixture(autouse=True)
def tiny_preset(monkeypatch):
    """Make the default preset tiny for CLI runs (the CLI itself has no size flags)."""
    from diffputer import config

    tiny = config.PRESETS["fast"].replace(
        n_em_iter=1, max_epochs=2, hidden_dim=16, num_steps=3, resample_repeats=1, num_samples=2
    )
    monkeypatch.setitem(config.PRESETS, "fast", tiny)


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "colour": rng.choice(["red", "blue"], n),
        }
    )
    mask = rng.random(frame.shape) < 0.25
    return frame.mask(mask)


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_impute_file_end_to_end(table, tmp_path, ext, capsys):
    src, dst = tmp_path / f"in{ext}", tmp_path / f"out{ext}"
    if ext == ".csv":
        table.to_csv(src, index=False)
    else:
        table.to_parquet(src, index=False)
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    out = pd.read_csv(dst) if ext == ".csv" else pd.read_parquet(dst)
    assert out.shape == table.shape and not out.isna().any().any()
    obs = table.notna().to_numpy()
    assert (out.to_numpy()[obs] == table.to_numpy()[obs]).all()
    assert capsys.readouterr().out == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_save_model_then_impute_with_it(table, tmp_path):
    src = tmp_path / "in.csv"
    table.to_csv(src, index=False)
    model = tmp_path / "m.dpt"
    assert (
        main(["impute", str(src), "-o", str(tmp_path / "a.csv"), "--save-model", str(model), "-q"])
        == 0
    )
    assert model.exists()
    assert (
        main(["impute", str(src), "-o", str(tmp_path / "b.csv"), "--model", str(model), "-q"]) == 0
    )
    b = pd.read_csv(tmp_path / "b.csv")
    assert not b.isna().any().any()


def test_categorical_flag(table, tmp_path):
    table = table.assign(
        code=np.where(np.arange(len(table)) % 3 == 0, np.nan, np.arange(len(table)) % 2)
    )
    src = tmp_path / "in.csv"
    table.to_csv(src, index=False)
    dst = tmp_path / "out.csv"
    assert main(["impute", str(src), "-o", str(dst), "--categorical", "code", "-q"]) == 0
    assert set(pd.read_csv(dst)["code"]) <= {0.0, 1.0}


def test_refuses_to_overwrite_input(table, tmp_path, capsys):
    src = tmp_path / "in.csv"
    table.to_csv(src, index=False)
    before = src.read_bytes()
    assert main(["impute", str(src), "-o", str(src), "--force", "-q"]) == 1
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_refuses_existing_output_without_force(table, tmp_path, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    table.to_csv(src, index=False)
    dst.write_text("keep me")
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 1
    assert "--force" in capsys.readouterr().err
    assert dst.read_text() == "keep me"
    assert main(["impute", str(src), "-o", str(dst), "-q", "--force"]) == 0
    assert dst.read_text() != "keep me"


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["impute", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("diffputer: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_extension(table, tmp_path, capsys):
    src = tmp_path / "in.csv"
    table.to_csv(src, index=False)
    assert main(["impute", str(src), "-o", str(tmp_path / "out.xlsx"), "-q"]) == 1
    assert "unknown table format" in capsys.readouterr().err


def test_demo_prints_scores(capsys):
    assert main(["demo", "-q"]) == 0
    out = capsys.readouterr().out
    assert "mean / mode" in out and "DiffPuter (fast)" in out and "UCI Adult" in out


def test_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "diffputer", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "diffputer" in result.stdout
