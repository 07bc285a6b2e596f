"""The command line, end to end on temporary files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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


# ---------------------------------------------------------------------- hygiene
def _write(table, tmp_path, name="in.csv"):
    src = tmp_path / name
    table.to_csv(src, index=False)
    return src


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err
    assert err.startswith("diffputer: error:") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_set_overrides_reach_the_model(table, tmp_path):
    src, model = _write(table, tmp_path), tmp_path / "m.dpt"
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q", "--save-model", str(model)]
    sets = ["--set", "n_em_iter=2", "--set=lr=2e-3", "--set", "warm_start=false"]
    sets += ["--set", "ema_decay=0"]
    words = ["--set", "aggregate=median", "--set", "numeric_transform=standard"]
    assert main([*args, *sets, *words]) == 0
    from diffputer import DiffPuterImputer

    preset = DiffPuterImputer.load(model).preset_
    assert preset.em.n_em_iter == 2 and preset.train.lr == 2e-3 and not preset.train.warm_start
    assert preset.sampler.aggregate == "median" and preset.train.ema_decay == 0.0
    assert preset.encoding.numeric_transform == "standard"  # the fast preset's is "auto"


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("24", 24)])
def test_set_takes_a_number_or_a_word_where_both_are_allowed(table, tmp_path, value, expected):
    src, model = _write(table, tmp_path), tmp_path / "m.dpt"
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q", "--save-model", str(model)]
    assert main([*args, "--set", "n_em_iter=1", "--set", f"hidden_dim={value}"]) == 0
    from diffputer import DiffPuterImputer

    assert DiffPuterImputer.load(model).preset_.model.hidden_dim == expected


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ("colour=3", "KEY one of n_em_iter"),
        ("n_em_iter", "expects KEY=VALUE"),
        ("lr=fast", "not a number"),
        ("n_em_iter=0", "n_em_iter"),
        ("aggregate=mode", "aggregate"),
        ("numeric_transform=log", "numeric_transform"),
        ("ema_decay=1", "ema_decay"),
        ("hidden_dim=wide", "hidden_dim='wide': expected a number or one of ['auto']"),
        ("hidden_dim=1", "hidden_dim"),
    ],
)
def test_bad_set_is_one_line(table, tmp_path, capsys, setting, fragment):
    src = _write(table, tmp_path)
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "--set", setting]) == 1
    _one_line_error(capsys, fragment)
    assert not (tmp_path / "o.csv").exists()


def test_model_excludes_training_options(table, tmp_path, capsys):
    src = _write(table, tmp_path)
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "--model", str(tmp_path / "m")]
    assert main([*args, "--set", "lr=1", "--checkpoint-dir", str(tmp_path)]) == 1
    _one_line_error(capsys, "drop --set, --checkpoint-dir")


def test_save_model_never_overwrites_the_input_or_an_existing_file(table, tmp_path, capsys):
    src = _write(table, tmp_path)
    before = src.read_bytes()
    out = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q"]
    assert main([*out, "--save-model", str(src), "--force"]) == 1
    _one_line_error(capsys, "refusing to overwrite the input")
    assert src.read_bytes() == before
    (tmp_path / "m.dpt").write_text("keep")
    assert main([*out, "--save-model", str(tmp_path / "m.dpt")]) == 1
    _one_line_error(capsys, "m.dpt already exists")
    assert (tmp_path / "m.dpt").read_text() == "keep"
    assert not (tmp_path / "o.csv").exists()


def test_data_errors_name_the_column_in_one_line(table, tmp_path, capsys):
    src = _write(table.assign(empty=np.nan), tmp_path)
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv")]
    assert main(args) == 1
    _one_line_error(capsys, "['empty'] have no observed value")
    assert main([*args, "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err  # -v shows where it came from


def test_multi_line_errors_are_joined(table, tmp_path, capsys, monkeypatch):
    from diffputer import DiffPuterImputer

    def sklearn_like(self, X, **kwargs):
        raise ValueError("The feature names should match:\n- 'a'\n- 'b'\nSelect them")

    monkeypatch.setattr(DiffPuterImputer, "fit_transform", sklearn_like)
    src = _write(table, tmp_path)
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv")]) == 1
    _one_line_error(capsys, "The feature names should match: 'a'; 'b'; Select them")


def _fit_model(table, tmp_path):
    src, model = _write(table, tmp_path, "train.csv"), tmp_path / "m.dpt"
    args = ["impute", str(src), "-o", str(tmp_path / "train_out.csv"), "-q"]
    assert main([*args, "--save-model", str(model)]) == 0
    return model


def test_model_reads_a_files_columns_by_name(table, tmp_path):
    """A file with the model's columns in another order is imputed column by column
    (by name) and written in its own order."""
    model = _fit_model(table, tmp_path)
    src, dst = _write(table[["colour", "y", "x"]], tmp_path, "other.csv"), tmp_path / "o.csv"
    assert main(["impute", str(src), "-o", str(dst), "-q", "--model", str(model)]) == 0
    out = pd.read_csv(dst)
    assert list(out.columns) == ["colour", "y", "x"] and not out.isna().any().any()
    for name in ("x", "y", "colour"):
        observed = table[name].notna()
        assert (out[name][observed] == table[name][observed]).all()
    assert set(out["colour"]) <= {"red", "blue"}  # not a number column's imputations


@pytest.mark.parametrize(
    "columns, fragment",
    [
        (["x", "colour"], "lacks column(s) ['y'] that the model was trained on"),
        (["x", "y", "colour", "id"], "has column(s) ['id'] that the model was not trained on"),
    ],
)
def test_model_names_missing_and_unknown_columns(table, tmp_path, capsys, columns, fragment):
    model = _fit_model(table, tmp_path)
    src = _write(table.assign(id=range(len(table)))[columns], tmp_path, "other.csv")
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "--model", str(model)]) == 1
    err = _one_line_error(capsys, fragment)
    assert "X[" not in err


def test_text_in_a_numeric_column_is_quoted_with_the_option_to_use(table, tmp_path, capsys):
    model = _fit_model(table, tmp_path)
    src = tmp_path / "new.csv"
    new = table.astype({"x": object})
    new.loc[[3, 4], "x"] = ["?", "n.a."]
    new.to_csv(src, index=False)
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "--model", str(model)]
    assert main(args) == 1
    err = _one_line_error(capsys, "column 'x'", "'?', 'n.a.'", "--na-values=NA,?,n.a.")
    assert "X[" not in err and "to_numeric" not in err
    assert main([*args, "-q", "--na-values=NA,?,n.a."]) == 0  # the fix it names works


def test_infinities_in_a_csv_are_quoted_with_the_option_to_use(table, tmp_path, capsys):
    src = tmp_path / "in.csv"
    table.astype({"y": object}).assign(y=lambda d: d["y"].mask(d.index < 2, "inf")).to_csv(
        src, index=False
    )
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv")]
    assert main(args) == 1
    err = _one_line_error(capsys, "column 'y' holds 2 infinite", "'inf'", "--na-values=NA,inf")
    assert "X[" not in err and "np.inf" not in err
    assert main([*args, "-q", "--na-values=NA,inf"]) == 0


def test_parquet_problems_get_a_fix_for_the_file(table, tmp_path, capsys):
    for name, frame, fragment in [
        ("dates", table.assign(d=pd.Timestamp("2020-01-01")), "column 'd' holds dates"),
        ("inf", table.assign(x=table["x"].fillna(np.inf)), "column 'x' holds"),
        ("empty", table.assign(e=np.nan), "['e'] have no observed value in"),
    ]:
        src = tmp_path / f"{name}.parquet"
        frame.to_parquet(src)
        assert main(["impute", str(src), "-o", str(tmp_path / "o.parquet")]) == 1
        err = _one_line_error(capsys, fragment, "the file")
        assert "X[" not in err and "X =" not in err and "X.drop" not in err, err


def test_unexpected_errors_are_one_line_too(table, tmp_path, capsys, monkeypatch):
    from diffputer import DiffPuterImputer

    def boom(self, X, **kwargs):
        raise RuntimeError("something deep\ninside torch")

    monkeypatch.setattr(DiffPuterImputer, "fit_transform", boom)
    src = _write(table, tmp_path)
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv")]) == 1
    _one_line_error(capsys, "unexpected RuntimeError: something deep; inside torch", "-v")


def test_warnings_are_one_line(table, tmp_path, capsys):
    big = pd.concat([table] * 2, ignore_index=True)
    big["id"] = [f"id{i}" for i in range(len(big))]  # one category per row
    src = _write(big, tmp_path)
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("diffputer: warning: column 'id' has 80 categories")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("when", ["fit", "write"])
def test_ctrl_c_leaves_no_partial_file(table, tmp_path, capsys, monkeypatch, when):
    from diffputer import DiffPuterImputer

    src, dst = _write(table, tmp_path), tmp_path / "out.csv"
    if when == "fit":

        def interrupt(self, X, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(DiffPuterImputer, "fit_transform", interrupt)
    else:  # Ctrl-C half way through writing the output

        def half_written(self, path, **kwargs):
            Path(path).write_text("x,y\n1,")
            raise KeyboardInterrupt

        monkeypatch.setattr(pd.DataFrame, "to_csv", half_written)
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 130
    assert capsys.readouterr().err.strip() == "diffputer: interrupted; no output was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_output_has_ordinary_permissions(table, tmp_path):
    import os

    src, dst = _write(table, tmp_path), tmp_path / "out.csv"
    old = os.umask(0o022)
    try:
        assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    finally:
        os.umask(old)
    assert dst.stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------- the file's own text
def _cells(path, sep=",", encoding="utf-8"):
    import csv

    with open(path, newline="", encoding=encoding) as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_observed_cells_are_written_back_as_their_text(tmp_path):
    """Leading zeros, whole numbers and quoted text come back as they were read (the
    pandas round trip wrote 00042 as 42 and 79 as 79.0); an integer column's imputed
    cells are whole numbers; the header is unchanged."""
    rng = np.random.default_rng(1)
    n = 30
    rows = ["id,age,zip,note,score"]
    for i in range(n):
        age = "" if i % 4 == 1 else str(20 + i)
        score = "" if i % 5 == 2 else f"{rng.normal():.3f}"
        note = "" if i % 6 == 3 else ('"a, b"' if i % 2 else "plain")
        zip_code = "" if i % 7 == 4 else f"0{4000 + i}"
        rows.append(f"{i:05d},{age},{zip_code},{note},{score}")
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("\n".join(rows) + "\n")
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    before, after = _cells(src), _cells(dst)
    assert after[0] == before[0] and len(after) == len(before)
    filled = 0
    for old, new in zip(before[1:], after[1:], strict=True):
        for j, (a, b) in enumerate(zip(old, new, strict=True)):
            if a:
                assert b == a, (old, new)  # observed: the same text
            else:
                filled += 1
                assert b != ""
                if j == 1:  # age: whole numbers in, whole numbers out
                    assert b.lstrip("-").isdigit(), b
                if j == 2:  # zip codes: zero-padded to the observed width
                    assert b.isdigit() and len(b) == 5, b
    assert filled == sum(cell == "" for row in before[1:] for cell in row)


def test_na_values_option_decides_what_is_missing(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x,w\n" + "".join(f"{i},{'None' if i % 3 else 'y'}\n" for i in range(12)))
    src.write_text(src.read_text() + "5,\n")
    default, kept = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["impute", str(src), "-o", str(default), "-q"]) == 0
    assert "None" not in {row[1] for row in _cells(default)}  # pandas' markers: missing
    assert main(["impute", str(src), "-o", str(kept), "-q", "--na-values", ""]) == 0
    cells = _cells(kept)
    assert [row[1] for row in cells[1:-1]] == [row[1] for row in _cells(src)[1:-1]]
    assert cells[-1][1] in {"None", "y"}  # only the empty cell was imputed


def test_other_separator_is_named_and_used(table, tmp_path, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    table.to_csv(src, index=False, sep=";")
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 1
    _one_line_error(capsys, "separated by ';'", "--sep ';'")
    assert not dst.exists()
    assert main(["impute", str(src), "-o", str(dst), "-q", "--sep", ";"]) == 0
    out = pd.read_csv(dst, sep=";")
    assert list(out.columns) == list(table.columns) and not out.isna().any().any()
    tsv = tmp_path / "in.tsv.csv"
    table.to_csv(tsv, index=False, sep="\t")
    assert main(["impute", str(tsv), "-o", str(tmp_path / "t.csv"), "-q", "--sep", "\\t"]) == 0
    assert "\t" in (tmp_path / "t.csv").read_text().splitlines()[0]


def test_encoding_is_named_and_used(tmp_path, capsys):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    text = "name,v\n" + "".join(f"caf\u00e9{i % 3},{'' if i % 4 == 0 else i}\n" for i in range(16))
    src.write_bytes(text.encode("latin-1"))
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 1
    _one_line_error(capsys, "is not utf-8 text", "--encoding")
    assert main(["impute", str(src), "-o", str(dst), "-q", "--encoding", "latin-1"]) == 0
    assert [r[0] for r in _cells(dst, encoding="latin-1")] == [
        r[0] for r in _cells(src, encoding="latin-1")
    ]


def test_duplicate_header_is_refused(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("a,b,a\n1,2,3\n,5,6\n7,8,\n")
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q"]) == 1
    _one_line_error(capsys, "columns 1 and 3 are both named 'a'")


@pytest.mark.parametrize("ext", [".csv", ".csv.gz"])
def test_byte_order_mark_and_an_empty_header_are_kept(tmp_path, ext):
    import gzip

    src, dst = tmp_path / f"in{ext}", tmp_path / f"out{ext}"
    body = "".join(f"{i},{'' if i % 3 == 0 else i / 2},{'ab'[i % 2]}\n" for i in range(12))
    data = b"\xef\xbb\xbf" + (",v,w\n" + body).encode()
    src.write_bytes(gzip.compress(data) if ext == ".csv.gz" else data)
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    out = dst.read_bytes()
    out = gzip.decompress(out) if ext == ".csv.gz" else out
    assert out.startswith(b"\xef\xbb\xbf,v,w\n") and out.count(b"\xef\xbb\xbf") == 1


def test_windows_line_endings_are_kept(tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    body = "".join(f"{i},{'' if i % 3 == 0 else i / 2},{'ab'[i % 2]}\r\n" for i in range(12))
    src.write_bytes(("n,v,w\r\n" + body).encode())
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    out = dst.read_bytes()
    assert out.count(b"\r\n") == 13 and out.count(b"\n") == 13
    lines = out.decode().split("\r\n")
    assert lines[0] == "n,v,w" and lines[2] == "1,0.5,b"  # observed, byte for byte
    assert lines[1].startswith("0,") and lines[1].endswith(",a") and lines[1] != "0,,a"


def test_categorical_names_as_the_file_spells_them(tmp_path, capsys):
    src = tmp_path / "in.csv"
    body = "".join(f"{i},{'' if i % 4 == 0 else i % 3},{i / 3}\n" for i in range(30))
    src.write_text("id, code,x\n" + body)
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q", "--force"]
    assert main([*args, "--categorical", " code"]) == 0  # was stripped, then unknown
    imputed = pd.read_csv(tmp_path / "o.csv")[" code"][::4]
    assert set(imputed) <= {0, 1, 2}  # categories, not regressed numbers
    assert main([*args, "--categorical", "code"]) == 1  # the file's name has the space
    err = _one_line_error(capsys, "--categorical names ['code'], not columns of", "' code'")
    assert "categorical_columns" not in err


def test_parquet_index_is_kept(table, tmp_path):
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    indexed = table.assign(rid=[f"r{i}" for i in range(len(table))]).set_index("rid")
    indexed.to_parquet(src)
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    out = pd.read_parquet(dst)
    pd.testing.assert_index_equal(out.index, indexed.index)


def test_output_paths_are_checked_before_training(table, tmp_path, capsys, monkeypatch):
    from diffputer import DiffPuterImputer

    def never(self, X, **kwargs):
        raise AssertionError("trained before the paths were checked")

    monkeypatch.setattr(DiffPuterImputer, "fit_transform", never)
    src = _write(table, tmp_path)
    (tmp_path / "afile").write_text("")
    args = ["impute", str(src), "-q"]
    assert main([*args, "-o", str(tmp_path / "afile" / "o.csv")]) == 1
    _one_line_error(capsys, "is not a folder")
    out = ["-o", str(tmp_path / "o.csv")]
    assert main([*args, *out, "--save-model", str(tmp_path / "afile" / "m.dpt")]) == 1
    _one_line_error(capsys, "is not a folder")
    (tmp_path / "adir").mkdir()
    assert main([*args, "-o", str(tmp_path / "adir")]) == 1
    _one_line_error(capsys, "is a folder")


def test_table_is_written_before_the_model(table, tmp_path, capsys, monkeypatch):
    from diffputer import DiffPuterImputer

    def fails(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DiffPuterImputer, "save", fails)
    src, dst = _write(table, tmp_path), tmp_path / "o.csv"
    assert (
        main(["impute", str(src), "-o", str(dst), "-q", "--save-model", str(tmp_path / "m")]) == 1
    )
    _one_line_error(capsys, "No space left")
    assert dst.exists()


def test_saved_model_reads_a_csv_as_trained(tmp_path):
    """With ``--model``, a CSV's columns take the types the model was trained on: a
    categorical column whose new cells all read as numbers stays categorical (its
    categories are text), a float column whose cells are whole numbers stays float."""
    rng = np.random.default_rng(0)
    n = 40
    code = rng.choice(["1", "2", "x"], n)
    x = rng.normal(size=n)
    train = pd.DataFrame({"x": x, "code": code, "y": rng.normal(size=n)})
    train = train.mask(rng.random(train.shape) < 0.2)
    src, model = tmp_path / "train.csv", tmp_path / "m.dpt"
    train.to_csv(src, index=False)
    args = ["impute", str(src), "-o", str(tmp_path / "a.csv"), "-q"]
    assert main([*args, "--save-model", str(model)]) == 0
    new = train[train["code"] != "x"].assign(x=lambda d: d["x"].round().astype("Int64"))
    new_src, dst = tmp_path / "new.csv", tmp_path / "out.csv"
    new.to_csv(new_src, index=False)
    assert main(["impute", str(new_src), "-o", str(dst), "-q", "--model", str(model)]) == 0
    out = pd.read_csv(dst, dtype={"code": str})
    assert not out.isna().any().any() and set(out["code"]) <= {"1", "2", "x"}
    imputed_x = out["x"][new["x"].isna().to_numpy()]
    assert len(imputed_x) and (imputed_x != imputed_x.round()).any()  # not rounded


def test_numbers_with_a_few_placeholders_are_named(tmp_path, capsys):
    src = tmp_path / "in.csv"
    values = [str(i / 4) for i in range(30)]
    values[5], values[9] = "?", ""
    src.write_text("x,y\n" + "".join(f"{v},{i % 3}\n" for i, v in enumerate(values)))
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "column 'x' reads as numbers except 1 cell(s) such as '?'" in err
    assert "--na-values" in err
    assert main(["impute", str(src), "-o", str(tmp_path / "p.csv"), "-q", "--na-values", "?"]) == 0
    assert capsys.readouterr().err == ""


def test_blank_and_short_lines(tmp_path, capsys):
    """A one-column file's blank lines are missing cells (pandas would drop them, and
    the rows after would move up); a short row is refused like a long one."""
    one, out = tmp_path / "one.csv", tmp_path / "o.csv"
    one.write_text("a\n1\n\n3\n4\n\n6\n")
    assert main(["impute", str(one), "-o", str(out), "-q"]) == 0
    cells = [row[0] for row in _cells(out)]
    assert len(cells) == 7 and cells[:2] == ["a", "1"] and cells[3:5] == ["3", "4"]
    assert all(c.isdigit() for c in cells[1:])
    short = tmp_path / "short.csv"
    short.write_text("a,b,c\n1,x,2\n2,y\n3,z,4\n")
    assert main(["impute", str(short), "-o", str(tmp_path / "s.csv"), "-q"]) == 1
    _one_line_error(capsys, "line 3 has 2 field(s), the header 3")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["impute", str(empty), "-o", str(tmp_path / "e.csv"), "-q"]) == 1
    _one_line_error(capsys, "empty.csv is empty")


def test_parquet_index_kept_in_a_csv(table, tmp_path):
    src, dst = tmp_path / "in.parquet", tmp_path / "out.csv"
    table.assign(rid=[f"r{i}" for i in range(len(table))]).set_index("rid").to_parquet(src)
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    out = pd.read_csv(dst)
    assert list(out.columns) == ["rid", *table.columns] and out["rid"].iloc[3] == "r3"


def test_na_values_are_stripped(tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "o.csv"
    src.write_text("x,y\n" + "".join(f"{'?' if i % 5 == 0 else i},{i % 3}\n" for i in range(20)))
    assert main(["impute", str(src), "-o", str(dst), "-q", "--na-values=-, ?"]) == 0
    assert all(row[0].isdigit() for row in _cells(dst)[1:])  # '?' was missing: imputed


def test_markers_padded_with_spaces_are_missing(tmp_path):
    """UCI Adult as shipped: ', ' between fields, so its marker is ' ?' (it was kept as
    a category, and a blank ' ' cell turned a numeric column into text)."""
    src, dst = tmp_path / "adult.csv", tmp_path / "o.csv"
    rows = [
        f"{20 + i}, {'?' if i % 4 == 0 else 'Private'}, {' ' if i % 5 == 1 else i * 100}"
        for i in range(24)
    ]
    src.write_text("age,workclass,fnlwgt\n" + "\n".join(rows) + "\n")
    assert main(["impute", str(src), "-o", str(dst), "-q", "--na-values=?"]) == 0
    cells = _cells(dst)[1:]
    assert {row[1] for row in cells} == {" Private"}  # ' ?' imputed, observed text kept
    fnlwgt = [row[2] for row in cells]
    assert all(v.strip().lstrip("-").isdigit() for v in fnlwgt)  # numeric, blanks imputed
    assert fnlwgt[2] == " 200"  # an observed cell, byte for byte


def test_numbers_are_written_like_the_columns_observed_ones(tmp_path):
    """pandas writes an integer column with gaps as 39.0: imputed cells are whole
    numbers written alike (were 38.678...); a column showing 4 decimal places gets 4
    (was 17 significant digits)."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(40):
        age = "" if i % 4 == 1 else f"{rng.integers(20, 70)}.0"
        income = "" if i % 5 == 2 else f"{rng.uniform(1, 9):.4f}"
        rows.append(f"{age},{income},{i % 7 + 0.5}")
    src, dst = tmp_path / "in.csv", tmp_path / "o.csv"
    src.write_text("age,income,half\n" + "\n".join(rows) + "\n")
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    before, after = _cells(src)[1:], _cells(dst)[1:]
    imputed_age = [b[0] for a, b in zip(before, after, strict=True) if a[0] == ""]
    imputed_income = [b[1] for a, b in zip(before, after, strict=True) if a[1] == ""]
    assert imputed_age and all(re.fullmatch(r"\d+\.0", t) for t in imputed_age), imputed_age
    assert imputed_income and all(re.fullmatch(r"\d\.\d{4}", t) for t in imputed_income)
    assert [b for a, b in zip(before, after, strict=True) if "" not in a] == [
        a for a in before if "" not in a
    ]


def test_decimal_commas(tmp_path, capsys):
    rng = np.random.default_rng(4)
    x = [f"{v:.2f}".replace(".", ",") for v in rng.uniform(0, 5, 30)]
    rows = [f"{'' if i % 4 == 0 else x[i]};{i % 3};{'ab'[i % 2]}" for i in range(30)]
    src, dst = tmp_path / "in.csv", tmp_path / "o.csv"
    src.write_text("x;k;c\n" + "\n".join(rows) + "\n")
    args = ["impute", str(src), "-o", str(dst), "-q", "--sep", ";"]
    assert main(args) == 1  # were 22 categories, one per value, with "identifier" warnings
    _one_line_error(capsys, "column 'x' holds numbers written with a comma", "--decimal ','")
    assert main([*args, "--decimal", ","]) == 0
    before, after = _cells(src, ";")[1:], _cells(dst, ";")[1:]
    imputed = [b[0] for a, b in zip(before, after, strict=True) if a[0] == ""]
    assert imputed and all(re.fullmatch(r"\d,\d\d", t) for t in imputed), imputed
    assert [b[0] for a, b in zip(before, after, strict=True) if a[0]] == [
        a[0] for a in before if a[0]
    ]
    assert main([*args, "--decimal", ";", "--force"]) == 1
    _one_line_error(capsys, "--decimal expects '.' or ','")


def test_parquet_na_values_and_csv_codes_to_parquet(tmp_path):
    """--na-values reads a Parquet file's text cells too (was ignored); zero-padded
    codes read from a CSV stay padded text in a Parquet output (09933 became 9933)."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"x": rng.normal(size=30), "c": np.where(np.arange(30) % 5 == 0, " ?", "a")}
    )
    frame.loc[1::4, "x"] = np.nan
    src, dst = tmp_path / "in.parquet", tmp_path / "o.parquet"
    frame.to_parquet(src)
    assert main(["impute", str(src), "-o", str(dst), "-q", "--na-values=?"]) == 0
    assert set(pd.read_parquet(dst)["c"]) == {"a"}
    codes = tmp_path / "codes.csv"
    codes.write_text(
        "zip,x\n" + "".join(f"{'' if i % 6 == 0 else f'0{9900 + i}'},{i}\n" for i in range(30))
    )
    out = tmp_path / "codes.parquet"
    assert main(["impute", str(codes), "-o", str(out), "-q"]) == 0
    zips = pd.read_parquet(out)["zip"]
    assert zips.iloc[1] == "09901" and all(len(z) == 5 and z.startswith("0") for z in zips)


def test_model_from_a_csv_refuses_a_parquet_with_booleans(tmp_path, capsys):
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x": rng.normal(size=30), "flag": rng.random(30) < 0.5})
    frame = frame.astype({"flag": object})
    frame.loc[::7, "flag"] = None
    csv_src, model = tmp_path / "train.csv", tmp_path / "m.dpt"
    frame.to_csv(csv_src, index=False)
    args = ["impute", str(csv_src), "-o", str(tmp_path / "a.csv"), "-q"]
    assert main([*args, "--save-model", str(model)]) == 0
    pq = tmp_path / "new.parquet"
    frame.to_parquet(pq)
    assert main(["impute", str(pq), "-o", str(tmp_path / "b.parquet"), "--model", str(model)]) == 1
    _one_line_error(capsys, "column 'flag' held text when the model was trained", "bool")


def test_gzip_output_names_its_own_file(table, tmp_path):
    src, dst = _write(table, tmp_path), tmp_path / "out.csv.gz"
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    header = dst.read_bytes()[:40]
    assert b"out.csv\x00" in header and b".out." not in header  # not the temporary name


def test_a_first_line_of_numbers_is_not_a_header(tmp_path, capsys):
    """UCI Magic as shipped: ten measurements and a class letter, no header."""
    src = tmp_path / "in.csv"
    rows = [
        ",".join(
            [*("" if (i + j) % 7 == 3 else f"{(i + 1) * (j + 1) / 7:.4f}" for j in range(10)), "g"]
        )
        for i in range(20)
    ]
    src.write_text("\n".join(rows) + "\n")
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv")]) == 1
    _one_line_error(capsys, "reads as numbers, not column names", "header line")
    # names that look like numbers are still names (wavelengths, years, 1e3, inf)
    for header in ("sample,350.5,351.0", "2019_1,2019_2,2020_1", "x,inf,1e3"):
        src.write_text(header + "\n" + "".join(f"{i},{i % 3 or ''},{i / 2}\n" for i in range(12)))
        assert main(["impute", str(src), "-o", str(tmp_path / "o.csv"), "-q", "--force"]) == 0


def test_a_table_without_missing_cells_is_written_without_training(table, tmp_path, monkeypatch):
    from diffputer import DiffPuterImputer

    def no_training(*args, **kwargs):
        raise AssertionError("trained with nothing to impute")

    monkeypatch.setattr(DiffPuterImputer, "fit_transform", no_training)
    src, dst = _write(table.dropna(), tmp_path), tmp_path / "o.csv"
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    assert dst.read_bytes() == src.read_bytes()


def test_number_text_of_imputed_cells():
    from diffputer._io import _number_text

    write = _number_text(pd.Series(["1.50", " 2.25", "-3"]), ".")
    assert write(pd.Series([-0.001, 3.14159, -2.5])) == ["0.00", "3.14", "-2.50"]
    assert _number_text(pd.Series(["1,5"]), ",")(pd.Series([2.25])) == ["2,2"]
    assert _number_text(pd.Series(["39.0"]), ".")(pd.Series([40], dtype="Int64")) == ["40.0"]
    assert _number_text(pd.Series(["0042"]), ".")(pd.Series([7], dtype="Int64")) == ["0007"]
    # exponent notation kept, with the mantissa places shown (was 812345.678 in full)
    exponents = _number_text(pd.Series(["8e5", "1.25e-3"]), ".")
    assert exponents(pd.Series([812345.678, 1.23456e-4])) == ["8.12e+05", "1.23e-04"]
    assert _number_text(pd.Series(["8,5E5"]), ",")(pd.Series([812345.678])) == ["8,1E+05"]
    # whole numbers with a bare mark (5.): imputed ones alike (were 4)
    bare = _number_text(pd.Series(["5.", " 6."]), ".")
    assert bare(pd.Series([4], dtype="Int64")) == bare(pd.Series([4.2])) == ["4."]
    assert _number_text(pd.Series(["5,"]), ",")(pd.Series([4], dtype="Int64")) == ["4,"]
    # some cells so (0.03 beside 1.2e-05): the most significant digits any shows
    mixed = _number_text(pd.Series(["0.031", "1.2e-05", "100"]), ".")
    assert mixed(pd.Series([523.4567, 2.345678e-6, 0.04567])) == ["523", "2.35e-06", "0.0457"]
    # Python's repr (17 digits): repr again, not a 17-digit format's noise digits
    reprs = _number_text(pd.Series(["0.04191007369779776", "1.2345678901234567e-05"]), ".")
    assert reprs(pd.Series([1.5e-7])) == ["1.5e-07"]


def test_decimal_commas_with_dots_and_quotes(tmp_path, capsys):
    """With --decimal ',', '2.500' is not 2.5 (it groups thousands): refused by name;
    quoted decimal commas in a comma-separated file read with --decimal ','."""
    src = tmp_path / "in.csv"
    src.write_text(
        "a;b\n" + "".join(f"{i},5;{'' if i % 4 == 0 else f'{i}.500'}\n" for i in range(1, 20))
    )
    args = ["impute", str(src), "-o", str(tmp_path / "o.csv"), "--sep", ";", "--decimal", ","]
    assert main(args) == 1
    _one_line_error(capsys, "column 'b' holds numbers with '.' in them, such as '1.500'")
    quoted = tmp_path / "q.csv"
    quoted.write_text(
        "a,b\n" + "".join(f'"{i},25",{"" if i % 4 == 0 else i}\n' for i in range(1, 20))
    )
    dst = tmp_path / "qo.csv"
    assert main(["impute", str(quoted), "-o", str(dst), "-q", "--decimal", ","]) == 0
    assert all(re.fullmatch(r"\d+,\d\d", row[0]) for row in _cells(dst)[1:])
    assert _cells(dst)[1:] and all(row[1].isdigit() for row in _cells(dst)[1:])


def test_parquet_na_values_reach_category_columns(tmp_path):
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        {"x": rng.normal(size=30), "c": pd.Categorical(np.where(np.arange(30) % 5 == 0, "?", "a"))}
    )
    frame.loc[1::4, "x"] = np.nan
    src, dst = tmp_path / "in.parquet", tmp_path / "o.parquet"
    frame.to_parquet(src)
    assert main(["impute", str(src), "-o", str(dst), "-q", "--na-values=?"]) == 0
    assert set(pd.read_parquet(dst)["c"]) == {"a"}


@pytest.mark.parametrize("rate", ["0", "1", "1.5", "nan", "-0.1"])
def test_demo_rate_is_checked_before_any_work(rate, capsys):
    """--rate 0 trained and printed NaN scores; --rate 1 failed with an IndexError."""
    with pytest.raises(SystemExit) as info:
        main(["demo", "--rate", rate])
    assert info.value.code == 2
    assert "--rate: expected a share in (0, 1)" in capsys.readouterr().err


def test_seed_is_checked_by_the_option(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--seed", "-1"])
    assert "--seed: expected 0 to 4294967295" in capsys.readouterr().err


def test_a_long_row_is_named_like_a_short_one(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    assert main(["impute", str(src), "-o", str(tmp_path / "o.csv")]) == 1
    _one_line_error(capsys, "line 3 has 4 field(s), the header 3")  # was pandas' C error


def test_whole_numbers_past_int64_are_imputed_whole(tmp_path):
    src, dst = tmp_path / "in.csv", tmp_path / "o.csv"
    body = "".join(f"{'' if i % 5 == 0 else 10**19 + i * 10**15},{i}\n" for i in range(25))
    src.write_text("big,i\n" + body)
    assert main(["impute", str(src), "-o", str(dst), "-q"]) == 0
    imputed = [row[0] for row in _cells(dst)[1::5]]
    assert all(t.isdigit() and len(t) >= 20 for t in imputed), imputed  # was 1.0e+19 style


def test_na_values_starting_with_a_dash(tmp_path):
    """argparse took '-,?' for an option ('expected one argument')."""
    src, dst = tmp_path / "in.csv", tmp_path / "o.csv"
    src.write_text("x,y\n" + "".join(f"{'-' if i % 5 == 0 else i},{i % 3}\n" for i in range(20)))
    assert main(["impute", str(src), "-o", str(dst), "--na-values", "-,?", "-q"]) == 0
    assert all(row[0].isdigit() for row in _cells(dst)[1:])


def test_a_model_takes_the_parquet_file_the_cli_wrote_from_its_csv(tmp_path):
    """Codes such as 09933 are numbers to a model trained on the CSV, and text in the
    Parquet file the CLI writes from it: that file was refused ('convert the column to
    numbers in the file', which would lose the zeros)."""
    rng = np.random.default_rng(9)
    rows = [f"{'' if i % 6 == 0 else f'0{9900 + i}'},{rng.normal():.3f}" for i in range(40)]
    src, model = tmp_path / "in.csv", tmp_path / "m.dpt"
    src.write_text("zip,x\n" + "\n".join(rows) + "\n")
    pq = tmp_path / "out.parquet"
    assert main(["impute", str(src), "-o", str(pq), "-q", "--save-model", str(model)]) == 0
    again = pd.read_parquet(pq).assign(zip=lambda d: d["zip"].mask(d.index % 4 == 1))
    again.to_parquet(tmp_path / "again.parquet")
    dst = tmp_path / "again_out.parquet"
    assert (
        main(
            ["impute", str(tmp_path / "again.parquet"), "-o", str(dst), "-q", "--model", str(model)]
        )
        == 0
    )
    zips = pd.read_parquet(dst)["zip"]
    assert zips.notna().all() and all(len(z) == 5 and z.startswith("0") for z in zips), list(zips)
