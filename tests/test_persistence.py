"""Model files: round trip, and clear errors for anything that is not a good model file."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest

from diffputer import DiffPuterImputer, ModelFileError, _persistence

from .conftest import TINY


@pytest.fixture
def fitted(mixed):
    _, masked, _ = mixed
    return DiffPuterImputer(**TINY).fit(masked), masked


def test_round_trip_gives_identical_transform(fitted, tmp_path):
    imp, masked = fitted
    path = tmp_path / "model.dpt"
    imp.save(path)
    loaded = DiffPuterImputer.load(path)
    pd.testing.assert_frame_equal(imp.transform(masked), loaded.transform(masked))
    assert loaded.get_params() == imp.get_params()
    assert loaded.history_ == imp.history_
    assert list(loaded.feature_names_in_) == list(imp.feature_names_in_)
    assert loaded.preset_ == imp.preset_


def test_round_trip_for_arrays(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[rng.random(X.shape) < 0.2] = np.nan
    imp = DiffPuterImputer(**TINY).fit(X)
    imp.save(tmp_path / "m")
    loaded = DiffPuterImputer.load(tmp_path / "m", device="cpu")
    np.testing.assert_array_equal(imp.transform(X), loaded.transform(X))
    assert not hasattr(loaded, "feature_names_in_")


def test_file_is_plain_safetensors_with_json(fitted, tmp_path):
    imp, _ = fitted
    path = tmp_path / "model.dpt"
    imp.save(path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header["__metadata__"]
    assert meta["format"] == "diffputer-model"
    doc = json.loads(meta["payload"])
    assert doc["params"]["random_state"] == 0
    assert b"pickle" not in data and not data.startswith(b"\x80")  # not a pickle stream


def test_saving_unfitted_raises(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DiffPuterImputer().save(tmp_path / "x")


def _rewrite(path, mutate):
    """Re-save a model file after ``mutate(metadata, tensors)``."""
    from safetensors.torch import load, save

    data = path.read_bytes()
    tensors = load(data)
    meta = _persistence._read_metadata(data)
    mutate(meta, tensors)
    path.write_bytes(save(tensors, metadata=meta))


@pytest.mark.parametrize(
    "damage, match",
    [
        ("truncate", "truncated"),
        ("garbage", "not a readable"),
        ("empty", "not a readable"),
        ("flip_weight", "checksum"),
        ("edit_json", "checksum"),
        ("foreign", "not a diffputer model"),
        ("newer", "Upgrade diffputer"),
    ],
)
def test_damaged_files_are_rejected(fitted, tmp_path, damage, match):
    imp, _ = fitted
    path = tmp_path / "model.dpt"
    imp.save(path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x04hello, this is not a model" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flip_weight":
        raw = bytearray(data)
        raw[-5] ^= 0xFF
        path.write_bytes(bytes(raw))
    elif damage == "edit_json":

        def edit(meta, tensors):
            edited = meta["payload"].replace('"n_iter": 2', '"n_iter": 3')
            assert edited != meta["payload"]
            meta["payload"] = edited

        _rewrite(path, edit)
    elif damage == "foreign":
        _rewrite(path, lambda m, t: m.update(format="something-else"))
    elif damage == "newer":
        _rewrite(path, lambda m, t: m.update(format_version="99"))
    with pytest.raises(ModelFileError, match=match):
        DiffPuterImputer.load(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        DiffPuterImputer.load(tmp_path / "nope")


def test_save_is_atomic_on_failure(fitted, tmp_path, monkeypatch):
    imp, _ = fitted
    path = tmp_path / "model.dpt"
    path.write_bytes(b"previous")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        imp.save(path)
    assert path.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [path]
