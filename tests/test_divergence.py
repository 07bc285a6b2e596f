"""Training and sampling that go wrong never poison the output (no NaN, no blown-up values)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from diffputer import DiffPuterImputer, TableEncoder, TrainingDivergedWarning
from diffputer import _em as em
from diffputer.diffusion import EDMLoss, TrainResult

from .conftest import TINY, make_mixed_frame, mask_frame


@pytest.fixture
def masked():
    return mask_frame(make_mixed_frame(n=40))[0]


def _mean_mode_fill(frame: pd.DataFrame) -> pd.DataFrame:
    """What the encoder's fallback gives: the observed mean, or the most frequent value."""
    out = frame.copy()
    for name in frame.columns:
        col = frame[name]
        if col.dtype.kind == "f":
            out[name] = col.fillna(col.mean())
    return out


def test_blown_up_training_keeps_the_mean_fill_and_warns(masked):
    # lr = 1e4 sends the loss far above anything a working denoiser scores
    imp = DiffPuterImputer(**{**TINY, "lr": 1e4, "max_epochs": 5, "patience": 10})
    with pytest.warns(TrainingDivergedWarning, match="training diverged .* smaller lr"):
        out = imp.fit_transform(masked)
    assert all(r["diverged"] and r["kept_previous"] for r in imp.history_)
    assert all(r["mean_abs_change"] == 0 for r in imp.history_)  # no E-step was used
    expected = _mean_mode_fill(masked)
    for name in ("a", "b32"):  # no usable model: the mean fill stands
        np.testing.assert_allclose(out[name], expected[name], rtol=1e-5)
    assert not out.isna().any().any()


def _diverge_on_call(monkeypatch, bad_call: int):
    """Make the ``bad_call``-th M-step blow up its network, as a too-large lr would."""
    real = em.train_denoiser
    calls = []

    def train(net, data, **kwargs):
        calls.append(1)
        result = real(net, data, **kwargs)
        if len(calls) != bad_call:
            return result
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(1e6)
        return TrainResult(result.epochs, 1e12, 1e12, diverged=False)

    monkeypatch.setattr(em, "train_denoiser", train)


def _spy_e_steps(monkeypatch) -> list[dict]:
    """Record each E-step's ``final`` flag and a copy of the weights it sampled with."""
    real = em.e_step
    calls = []

    def spy(net, *args, **kwargs):
        state = {k: v.clone() for k, v in net.state_dict().items()}
        calls.append({"final": kwargs["final"], "state": state})
        return real(net, *args, **kwargs)

    monkeypatch.setattr(em, "e_step", spy)
    return calls


@pytest.mark.parametrize("warm_start", [True, False])
def test_divergence_in_the_last_iteration_keeps_the_previous_network_for_the_final_e_step(
    masked, monkeypatch, warm_start
):
    params = {**TINY, "warm_start": warm_start}
    one = DiffPuterImputer(**{**params, "n_em_iter": 1}).fit(masked)
    _diverge_on_call(monkeypatch, bad_call=2)
    calls = _spy_e_steps(monkeypatch)
    imp = DiffPuterImputer(**{**params, "n_em_iter": 2})
    with pytest.warns(TrainingDivergedWarning, match="reset to its starting weights"):
        out = imp.fit_transform(masked)
    assert [r["kept_previous"] for r in imp.history_] == [False, True]
    for a, b in zip(imp.denoiser_.parameters(), one.denoiser_.parameters(), strict=True):
        assert torch.equal(a, b)  # iteration 2's network was dropped
    # iteration 1's network drew the returned imputations, with the final sampler
    # settings (not the E-step inside EM that iteration 1 ran)
    assert [c["final"] for c in calls] == [False, True]
    for state in (c["state"] for c in calls):
        for name, value in one.denoiser_.state_dict().items():
            assert torch.equal(state[name], value)
    assert imp.history_[1]["mean_abs_change"] > 0
    assert not out.isna().any().any()
    observed = masked.notna()
    pd.testing.assert_frame_equal(out[observed.all(axis=1)], masked[observed.all(axis=1)])


def test_divergence_in_a_middle_iteration_drops_it_with_its_e_step(masked, monkeypatch):
    _diverge_on_call(monkeypatch, bad_call=2)
    calls = _spy_e_steps(monkeypatch)
    imp = DiffPuterImputer(**{**TINY, "n_em_iter": 3})
    with pytest.warns(TrainingDivergedWarning, match="reset to its starting weights"):
        imp.fit_transform(masked)
    assert [r["kept_previous"] for r in imp.history_] == [False, True, False]
    assert [c["final"] for c in calls] == [False, True]  # iterations 1 and 3
    assert imp.history_[1]["mean_abs_change"] == 0


def test_non_finite_loss_mid_training_keeps_the_last_good_weights(masked, monkeypatch):
    real = EDMLoss.__call__
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        out = real(self, *args, **kwargs)
        return out * math.nan if len(calls) == 15 else out  # in epoch 3

    monkeypatch.setattr(EDMLoss, "__call__", flaky)
    imp = DiffPuterImputer(**{**TINY, "n_em_iter": 1, "max_epochs": 20, "batch_size": 8})
    with pytest.warns(TrainingDivergedWarning, match="non-finite loss .* last good weights"):
        out = imp.fit_transform(masked)
    record = imp.history_[0]
    assert record["diverged"] and not record["kept_previous"]
    assert all(torch.isfinite(p).all() for p in imp.denoiser_.parameters())
    assert not out.isna().any().any()


def test_network_that_outputs_nan_falls_back_to_mean_and_mode(masked):
    imp = DiffPuterImputer(**TINY).fit(masked)
    imp.denoiser_.forward = lambda x, sigma: torch.full_like(x, math.nan)
    with pytest.warns(TrainingDivergedWarning, match="non-finite values for .* missing cell"):
        out = imp.transform(masked)
    assert not out.isna().any().any()
    expected = _mean_mode_fill(masked)
    for name in ("a", "b32"):
        np.testing.assert_allclose(out[name], expected[name], rtol=1e-5)
    missing = masked["obj"].isna()
    assert (out.loc[missing, "obj"] == masked["obj"].mode()[0]).all()


def test_decoder_guard_replaces_non_finite_cells_with_the_mean(masked):
    enc = TableEncoder().fit(masked)
    z, mask = enc.transform(masked)
    z[mask] = np.nan
    with pytest.warns(UserWarning, match="non-finite values for missing cells of column"):
        out = enc.fill(masked, z)
    assert not out.isna().any().any()
    np.testing.assert_allclose(out["a"], masked["a"].fillna(masked["a"].mean()))


def test_unscaling_overflow_saturates_at_the_observed_extremes():
    frame = pd.DataFrame({"x": [1e308, -1e308, 5e307, np.nan, np.nan]})
    enc = TableEncoder().fit(frame)
    z, mask = enc.transform(frame)
    z[3, 0], z[4, 0] = 50.0, -50.0  # 100 std away: past the float64 range
    out = enc.fill(frame, z)
    assert out["x"].tolist()[3:] == [1e308, -1e308]
