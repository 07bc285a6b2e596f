"""Model files: round trip, and clear errors for anything that is not a good model file."""

from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest
import torch

from diffputer import DiffPuterImputer, ModelFileError, _persistence, get_preset

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


def test_round_trip_of_a_custom_preset(mixed, tmp_path):
    _, masked, _ = mixed
    custom = get_preset("fast").replace(sigma_max=40.0)
    imp = DiffPuterImputer(**{**TINY, "preset": custom}).fit(masked)
    imp.save(tmp_path / "m")
    loaded = DiffPuterImputer.load(tmp_path / "m")
    assert loaded.get_params() == imp.get_params() and loaded.preset == custom
    assert loaded.preset_.sampler.sigma_max == 40.0
    pd.testing.assert_frame_equal(imp.transform(masked), loaded.transform(masked))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_a_model_fitted_on_a_gpu_loads_on_the_cpu_where_there_is_none(fitted, tmp_path):
    imp, masked = fitted
    imp.set_params(device="cuda")  # as if fitted there: the weights are the same data
    imp.save(tmp_path / "m")
    with pytest.warns(UserWarning, match="device='cuda'.*loading it on the CPU"):
        loaded = DiffPuterImputer.load(tmp_path / "m")
    assert loaded.device == "cpu"
    imp.set_params(device="cpu")
    pd.testing.assert_frame_equal(imp.transform(masked), loaded.transform(masked))
    with pytest.raises(ValueError, match="CUDA is not available"):  # asked for: an error
        DiffPuterImputer.load(tmp_path / "m", device="cuda")


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
    # the safetensors layout (8-byte header length, then JSON), not a pickle stream; the
    # first byte is the length's low byte, so it may be 0x80 like a pickle opcode
    assert b"pickle" not in data and data[8:9] == b"{" and len(data) > 8 + n


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


def _forge(path, mutate_doc=None, mutate_tensors=None):
    """Rewrite a model file with a *recomputed* checksum: a deliberate, consistent edit."""
    from safetensors.torch import load, save

    data = path.read_bytes()
    tensors = load(data)
    meta = _persistence._read_metadata(data)
    doc = json.loads(meta["payload"])
    if mutate_doc is not None:
        mutate_doc(doc)
    if mutate_tensors is not None:
        mutate_tensors(tensors)
    meta["payload"] = json.dumps(doc)
    meta["sha256"] = _persistence._digest(meta["payload"], tensors)
    path.write_bytes(save(tensors, metadata=meta))


def _set_hidden(doc, width):
    doc["preset"]["model"]["hidden_dim"] = width


@pytest.mark.parametrize(
    "forge, match",
    [
        # asks for a 10-billion-parameter network: refused from the shapes, nothing allocated
        (dict(mutate_doc=lambda d: _set_hidden(d, 100_000)), "do not fit the network"),
        (dict(mutate_tensors=lambda t: t.pop(sorted(t)[0])), "do not fit the network"),
        (dict(mutate_doc=lambda d: d["params"].update(evil=1)), "unexpected keyword"),
        (dict(mutate_doc=lambda d: d["params"].update(preset="nope")), "preset"),
        (dict(mutate_doc=lambda d: d.pop("encoder")), "encoder"),
        (dict(mutate_doc=lambda d: d.update(n_features_in=99)), "n_features_in"),
    ],
    ids=["huge_network", "missing_tensor", "unknown_param", "bad_param", "no_encoder", "columns"],
)
def test_consistently_edited_files_are_still_checked(fitted, tmp_path, forge, match):
    imp, _ = fitted
    path = tmp_path / "model.dpt"
    imp.save(path)
    _forge(path, **forge)
    with pytest.raises(ModelFileError, match=f"inconsistent model file.*{match}"):
        DiffPuterImputer.load(path)


@pytest.mark.parametrize(
    "damage, match",
    [
        ("pickle", "not a readable"),
        ("header_length", "not a readable"),
        ("no_version", "no valid format version"),
        ("version_zero", "no valid format version"),
        ("payload_not_json", "not valid JSON"),
        ("payload_list", "not a JSON object"),
        ("checkpoint", "not a diffputer model .*'diffputer-checkpoint'"),
    ],
)
def test_more_damaged_files_are_rejected(fitted, tmp_path, damage, match):
    import torch

    imp, _ = fitted
    path = tmp_path / "model.dpt"
    imp.save(path)
    data = path.read_bytes()
    if damage == "pickle":
        torch.save(imp.denoiser_.state_dict(), path)
    elif damage == "header_length":
        path.write_bytes(struct.pack("<Q", 2**60) + data[8:])
    elif damage == "no_version":
        _rewrite(path, lambda m, t: m.pop("format_version"))
    elif damage == "version_zero":
        _rewrite(path, lambda m, t: m.update(format_version="0"))
    elif damage in ("payload_not_json", "payload_list"):

        def edit(meta, tensors):
            meta["payload"] = "{not json" if damage == "payload_not_json" else "[1, 2]"
            meta["sha256"] = _persistence._digest(meta["payload"], tensors)

        _rewrite(path, edit)
    elif damage == "checkpoint":
        _rewrite(path, lambda m, t: m.update(format="diffputer-checkpoint"))
    with pytest.raises(ModelFileError, match=match):
        DiffPuterImputer.load(path)


def test_newer_version_names_both_versions(fitted, tmp_path):
    imp, _ = fitted
    path = tmp_path / "model.dpt"
    imp.save(path)
    _rewrite(path, lambda m, t: m.update(format_version="7"))
    with pytest.raises(
        ModelFileError, match=r"written by diffputer \S+ in model format 7.*up to 1"
    ):
        DiffPuterImputer.load(path)


def test_loading_leaves_the_global_rng_alone(fitted, tmp_path):
    import torch

    imp, _ = fitted
    imp.save(tmp_path / "m")
    torch.manual_seed(5)
    state = torch.get_rng_state()
    DiffPuterImputer.load(tmp_path / "m")
    assert torch.equal(state, torch.get_rng_state())


def test_saved_file_has_ordinary_permissions(fitted, tmp_path):
    import os

    imp, _ = fitted
    old = os.umask(0o022)
    try:
        imp.save(tmp_path / "m")
    finally:
        os.umask(old)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    "labels",
    [[0, 1, 2], [("a", 1), ("a", 2), ("b", 1)]],
    ids=["integers", "multiindex"],
)
def test_labels_that_are_not_strings_are_still_checked_after_loading(labels, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(30, 3)))
    frame.columns = pd.MultiIndex.from_tuples(labels) if isinstance(labels[0], tuple) else labels
    frame.iloc[::4, 0] = np.nan
    imp = DiffPuterImputer(**TINY).fit(frame)
    imp.save(tmp_path / "m")
    loaded = DiffPuterImputer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.transform(frame), imp.transform(frame))
    reordered = frame[frame.columns[::-1]]
    for model in (imp, loaded):
        with pytest.raises(ValueError, match="same order as they were in fit"):
            model.transform(reordered)
    assert loaded.encoder_.columns_[0].name == frame.columns[0]  # tuples stay tuples


def test_numpy_scalars_in_categorical_columns_are_saved(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({0: rng.normal(size=30), 1: rng.integers(0, 3, 30).astype(float)})
    frame.loc[::4, 1] = np.nan
    imp = DiffPuterImputer(**{**TINY, "categorical_columns": [np.int64(1)]}).fit(frame)
    assert imp.encoder_.columns_[1].kind == "categorical"
    imp.save(tmp_path / "m")
    loaded = DiffPuterImputer.load(tmp_path / "m")
    assert loaded.categorical_columns == [1] and type(loaded.categorical_columns[0]) is int
    pd.testing.assert_frame_equal(loaded.transform(frame), imp.transform(frame))
