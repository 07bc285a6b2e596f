"""``diffputer bench merge``: cells replace theirs in place, the old rows are archived."""

from __future__ import annotations

import pandas as pd
import pytest

from diffputer.bench.merge import merge_results
from diffputer.bench.runner import RESULT_COLUMNS, ResultsFile
from diffputer.cli import main as diffputer_main


def rows(method: str, mask: int, value: str, status: str = "ok", host: bool = True) -> list:
    """The two rows (MAE in and out of sample) of one cell, as text."""
    cell = f"california|MCAR|0.3|{mask}|{method}|0|5000"
    out = []
    for setting in ("in-sample", "out-of-sample"):
        row = dict.fromkeys(RESULT_COLUMNS, "")
        row.update(
            cell_id=cell, dataset="california", mechanism="MCAR", rate="0.3", mask=str(mask),
            method=method, seed="0", max_rows="5000", setting=setting, metric="mae",
            value=value, n_cells="9409", seconds="1.5", fit_seconds="1.5", n_train="3500",
            n_test="1500", status=status, error="boom, twice" if status == "error" else "",
        )  # fmt: skip
        if not host:
            del row["host"]
        out.append(row)
    return out


def write(path, cells: list[list]) -> None:
    pd.DataFrame([r for cell in cells for r in cell]).to_csv(path, index=False)


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture
def files(tmp_path):
    target, source = tmp_path / "target", tmp_path / "source"
    target.mkdir(), source.mkdir()
    # values that a float round trip would rewrite: the merge must keep them as text
    write(target / "results.csv", [rows("mean", 0, "0.74124787860955450"),
                                   rows("diffputer", 0, "0.3419329342752971"),
                                   rows("mean", 1, "7.4e-01")])  # fmt: skip
    write(source / "results.csv", [rows("diffputer", 1, "0.30"), rows("diffputer", 0, "0.31")])
    return source, target, tmp_path / "old.csv"


def test_cells_replace_theirs_in_place_and_new_ones_go_last(files):
    source, target, archive = files
    summary = merge_results(source, target, archive=archive)
    assert summary.replaced == ["california|MCAR|0.3|0|diffputer|0|5000"]
    assert summary.added == ["california|MCAR|0.3|1|diffputer|0|5000"]
    assert summary.archived_rows == 2 and summary.skipped == []
    merged = read(target / "results.csv")
    assert list(merged.columns) == RESULT_COLUMNS
    assert list(zip(merged["method"], merged["mask"], merged["value"], strict=True)) == [
        ("mean", "0", "0.74124787860955450"), ("mean", "0", "0.74124787860955450"),
        ("diffputer", "0", "0.31"), ("diffputer", "0", "0.31"),  # where the old rows were
        ("mean", "1", "7.4e-01"), ("mean", "1", "7.4e-01"),
        ("diffputer", "1", "0.30"), ("diffputer", "1", "0.30"),  # new: at the end
    ]  # fmt: skip
    old = read(archive)
    assert list(old["value"]) == ["0.3419329342752971"] * 2
    assert list(old.columns) == RESULT_COLUMNS
    # the archive grows with the next merge instead of being replaced
    write(source / "results.csv", [rows("mean", 1, "0.5")])
    merge_results(source, target, archive=archive)
    assert list(read(archive)["value"]) == ["0.3419329342752971"] * 2 + ["7.4e-01"] * 2
    # and the runner still reads the merged file
    assert len(ResultsFile(target / "results.csv").done()) == 4


def test_unchanged_rows_are_written_back_byte_for_byte(files):
    source, target, _ = files
    write(source / "results.csv", [rows("mean", 0, "0.74124787860955450")])
    before = (target / "results.csv").read_bytes()
    merge_results(source, target)
    assert (target / "results.csv").read_bytes() == before


def test_failed_cells_are_skipped_unless_asked_for(files):
    source, target, archive = files
    write(source / "results.csv", [rows("diffputer", 0, "nan", status="error"),
                                   rows("mean", 1, "0.5")])  # fmt: skip
    summary = merge_results(source, target, archive=archive)
    assert summary.skipped == ["california|MCAR|0.3|0|diffputer|0|5000"]
    assert summary.replaced == ["california|MCAR|0.3|1|mean|0|5000"]
    merged = read(target / "results.csv")
    assert "error" not in set(merged["status"])
    summary = merge_results(source, target, include_errors=True)
    assert "california|MCAR|0.3|0|diffputer|0|5000" in summary.replaced
    merged = read(target / "results.csv")
    assert set(merged.loc[merged["status"] == "error", "error"]) == {"boom, twice"}


def test_dry_run_writes_nothing(files):
    source, target, archive = files
    before = (target / "results.csv").read_bytes()
    summary = merge_results(source, target, archive=archive, dry_run=True)
    assert len(summary.replaced) == 1 and len(summary.added) == 1
    assert (target / "results.csv").read_bytes() == before and not archive.exists()


def test_a_new_target_is_created_and_missing_optional_columns_read_as_empty(tmp_path):
    source = tmp_path / "results.csv"
    write(source, [rows("mean", 0, "0.7", host=False)])
    target = tmp_path / "new" / "merged.csv"
    merge_results(source, target)
    merged = read(target)
    assert list(merged.columns) == RESULT_COLUMNS and set(merged["host"]) == {""}
    merge_results(source, tmp_path / "new_folder")  # a folder: its results.csv
    assert read(tmp_path / "new_folder" / "results.csv").equals(merged)


def test_bad_calls_are_refused_before_anything_is_written(files, tmp_path):
    source, target, _ = files
    before = (target / "results.csv").read_bytes()
    with pytest.raises(ValueError, match="same file"):
        merge_results(target, target / "results.csv")
    with pytest.raises(ValueError, match="archive may not be"):
        merge_results(source, target, archive=target / "results.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"not a results file \(no \['cell_id'"):
        merge_results(tmp_path / "other.csv", target)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        merge_results(tmp_path / "nowhere.csv", target)
    assert (target / "results.csv").read_bytes() == before


def test_cli_merges_and_reports(files, capsys):
    source, target, archive = files
    args = ["bench", "merge", str(source), str(target), "--archive", str(archive)]
    assert diffputer_main([*args, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("would merge 2 cell(s)")
    assert not archive.exists()
    assert diffputer_main(args) == 0
    out = capsys.readouterr().out
    assert "1 replaced, 1 new" in out and f"2 replaced row(s) appended to {archive}" in out
    assert len(read(archive)) == 2
    assert diffputer_main(["bench", "merge", str(target), str(target)]) != 0
    assert "same file" in capsys.readouterr().err


def test_the_same_merge_twice_archives_nothing_more(files):
    """The second run replaced each cell with identical rows and appended them to the
    archive again."""
    source, target, archive = files
    merge_results(source, target, archive=archive)
    before = archive.read_bytes()
    summary = merge_results(source, target, archive=archive)
    assert summary.archived_rows == 0 and archive.read_bytes() == before
