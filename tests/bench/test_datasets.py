"""Dataset loaders: the paper's processing of the nine shared tables, and user CSVs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffputer.bench.datasets import (
    DATA_DIR_ENV,
    available_datasets,
    data_dir,
    load_csv,
    load_dataset,
)


def test_nine_datasets():
    assert available_datasets() == [
        "california", "letter", "gesture", "magic", "bean",
        "adult", "default", "shoppers", "beijing",
    ]  # fmt: skip


def test_missing_data_folder_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nowhere"))
    assert data_dir() == tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("california")
    message = str(info.value)
    assert "housing.csv" in message and str(tmp_path / "nowhere" / "california") in message
    assert DATA_DIR_ENV in message


def test_default_folder_is_next_to_the_repository(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert data_dir().parts[-2:] == ("shared", "datasets")


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'news'"):
        load_dataset("news")


def test_loader_reads_from_the_env_folder(tmp_path, monkeypatch):
    folder = tmp_path / "california"
    folder.mkdir()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(30, 9)), columns=[f"n{j}" for j in range(9)])
    frame.loc[3, "n4"] = np.nan
    frame["ocean_proximity"] = "INLAND"
    frame.to_csv(folder / "housing.csv", index=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    ds = load_dataset("California")
    assert ds.frame.shape == (29, 9) and ds.categorical == []
    assert ds.numeric == [f"n{j}" for j in range(9)]


def test_load_csv_with_declared_roles(tmp_path):
    path = tmp_path / "survey.csv"
    pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [30, 40, None, 50],
            "city": ["a", "b", "a", "c"],
            "code": [1, 2, 2, 1],
            "label": [0, 1, 0, 1],
        }
    ).to_csv(path, index=False)
    ds = load_csv(path, numeric=["age"], categorical=["city", "code"], target="label")
    assert ds.name == "survey"
    assert list(ds.frame.columns) == ["age", "city", "code"]  # id and target dropped
    assert len(ds.frame) == 3  # the row with a missing feature is dropped
    assert ds.frame["age"].dtype == np.float64
    assert isinstance(ds.frame["code"].dtype, pd.CategoricalDtype)
    with pytest.raises(ValueError, match="not in the file"):
        load_csv(path, numeric=["weight"])
    with pytest.raises(ValueError, match="both numeric and categorical"):
        load_csv(path, numeric=["age"], categorical=["age"])
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "absent.csv", numeric=["age"])


# Shapes and column counts from each SOURCE.md (targets dropped).
EXPECTED = {
    "california": (20433, 9, 0),
    "letter": (20000, 16, 0),
    "gesture": (9522, 32, 0),
    "magic": (19020, 10, 0),
    "bean": (13610, 16, 0),
    "adult": (32561, 6, 8),
    "default": (30000, 14, 9),
    "shoppers": (12330, 10, 7),
    "beijing": (41757, 6, 5),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_dataset_shapes(name):
    ds = load_dataset(name)
    rows, n_num, n_cat = EXPECTED[name]
    assert ds.frame.shape == (rows, n_num + n_cat)
    assert (len(ds.numeric), len(ds.categorical)) == (n_num, n_cat)
    assert not ds.frame.isna().any().any()
    assert all(ds.frame[c].dtype == np.float64 for c in ds.numeric)
    assert all(isinstance(ds.frame[c].dtype, pd.CategoricalDtype) for c in ds.categorical)
    assert set(ds.frame.columns) == set(ds.numeric) | set(ds.categorical)


@pytest.mark.slow
def test_real_dataset_quirks():
    bean = load_dataset("bean").frame
    assert bean.iloc[0]["Area"] == 28734  # the first bean (28395) became the paper's header
    adult = load_dataset("adult").frame
    assert "?" in adult["workclass"].cat.categories  # '?' kept as a category
    assert adult["workclass"].cat.categories.str.startswith(" ").sum() == 0
    assert "ocean_proximity" not in load_dataset("california").frame
    default = load_dataset("default")
    assert "ID" not in default.frame and "SEX" in default.categorical
    beijing = load_dataset("beijing")
    assert "pm2.5" not in beijing.frame and "No" not in beijing.frame
