"""The conditional denoiser (``conditioning="mask"``, the ``conditional`` preset)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from diffputer import DiffPuterImputer, get_preset
from diffputer._imputer import _column_groups
from diffputer.diffusion import (
    EDMLoss,
    MaskDraw,
    build_denoiser,
    conditional_sample,
    karras_sigmas,
    network_calls_per_sample,
    train_denoiser,
)

from .conftest import TINY
from .test_diffusion import MU, SIGMA, gaussian_conditional
from .test_imputer import assert_observed_unchanged, spy_on_e_steps


def test_conditional_denoiser_reads_known_values_not_the_noisy_input_there():
    torch.manual_seed(0)
    net = build_denoiser(4, 16, conditional=True)
    assert net.conditional and not build_denoiser(4, 16).conditional
    x, values = torch.randn(5, 4), torch.randn(5, 4)
    known = torch.tensor([[1.0, 0.0, 1.0, 0.0]]).repeat(5, 1)
    sigma = torch.tensor(0.7)
    out = net(x, sigma, (values, known))
    assert out.shape == (5, 4)
    # the noisy input on known cells is not read (only c_skip x passes there)
    x2 = x.clone()
    x2[:, [0, 2]] += 3.0
    out2 = net(x2, sigma, (values, known))
    assert torch.allclose(out[:, [1, 3]], out2[:, [1, 3]])
    # the known values are, and values on hidden cells are not
    v2 = values.clone()
    v2[:, 0] += 1.0
    assert not torch.allclose(net(x, sigma, (v2, known))[:, 1], out[:, 1])
    v3 = values.clone()
    v3[:, 1] += 1.0
    assert torch.equal(net(x, sigma, (v3, known)), out)
    with pytest.raises(ValueError, match="known"):
        net(x, sigma)


def test_mask_draw_hides_whole_columns_and_never_reveals_missing_cells():
    g = torch.Generator().manual_seed(0)
    n = 2000
    missing = torch.rand(n, 5, generator=g) < 0.3
    groups = torch.tensor([0, 1, 1, 1, 2])  # a one-hot block of three
    missing[:, 1:4] = missing[:, 1:2]  # missingness is per table column
    draw = MaskDraw(missing, groups, max_rate=0.8, observed_only=True)
    known, weight = draw(torch.arange(n), g)
    assert not known.bool()[missing].any()  # never read what the data lacks
    assert torch.equal(known[:, 1:2].expand(-1, 3), known[:, 1:4])  # blocks hidden together
    hidden = ~known.bool()
    assert torch.equal(weight.bool(), hidden & ~missing)  # scored: hidden observed cells
    # the hidden share of observed columns is uniform on [0, 0.8]: mean 0.4
    observed = ~missing[:, [0, 1, 4]]
    share = (hidden[:, [0, 1, 4]] & observed).sum() / observed.sum()
    assert 0.35 < float(share) < 0.45
    all_cells = MaskDraw(missing, groups, max_rate=0.8, observed_only=False)
    _, weight = all_cells(torch.arange(n), g)
    assert weight.bool()[missing].all()
    nothing = MaskDraw(missing, groups, max_rate=1e-9)(torch.arange(n), g)[0]
    assert torch.equal(nothing.bool(), ~missing)


def _gaussian_conditional_denoiser(x_obs, missing):
    """The exact denoiser of the missing cells given the observed ones (a Gaussian)."""
    mean, cov = gaussian_conditional(x_obs, missing)

    def denoise(x, s, known):
        values, mask = known
        assert torch.equal(mask[0].bool(), torch.tensor([j not in missing for j in range(4)]))
        s = float(s.reshape(-1)[0])
        gain = cov @ torch.linalg.inv(cov + s**2 * torch.eye(len(missing), dtype=cov.dtype))
        out = values.double().clone()
        out[:, missing] = mean + (x[:, missing].double() - mean) @ gain.T
        return out.to(x.dtype)

    return denoise, mean, cov


@pytest.mark.parametrize("solver", ["heun", "euler"])
def test_conditioned_sampler_draws_the_gaussian_conditional(solver):
    """With the exact conditional denoiser, 20 steps recover the conditional law.

    Measured (n = 4000): mean error under 0.04 conditional sd with both solvers; Heun's
    variances 9-13% too large, Euler's 28% too small (first-order discretisation; 8% at
    M = 50, 7% at M = 100). The mean (what the median of samples estimates, up to the
    skew) is asserted for both, at 0.1 sd; the covariance for Heun, at 20% as in the
    unconditional sampler's test.
    """
    x_obs = torch.tensor([0.9, 0.0, -0.5, 0.0], dtype=torch.float64)
    missing = [1, 3]
    denoise, mean, cov = _gaussian_conditional_denoiser(x_obs, missing)
    n = 4000
    x = x_obs.float().repeat(n, 1)
    mask = torch.zeros(n, 4, dtype=torch.bool)
    mask[:, missing] = True
    calls = []

    def counted(x, s, known):
        calls.append(1)
        return denoise(x, s, known)

    g = torch.Generator().manual_seed(0)
    out = conditional_sample(
        counted, x, mask, karras_sigmas(20), solver=solver, conditioned=True, generator=g
    ).double()
    expected = 20 if solver == "euler" else 39  # no RePaint repeats, whatever R says
    assert len(calls) == network_calls_per_sample(20, 10, solver=solver, conditioned=True)
    assert len(calls) == expected
    samples = out[:, missing]
    assert torch.all((samples.mean(0) - mean).abs() < 0.1 * cov.diag().sqrt())
    if solver == "heun":
        emp = torch.cov(samples.T)
        assert torch.linalg.norm(emp - cov) / torch.linalg.norm(cov) < 0.2
    assert torch.equal(out[:, [0, 2]], x[:, [0, 2]].double())


def test_a_trained_conditional_denoiser_uses_the_known_cells():
    """Trained on a correlated Gaussian, the denoiser's loss on hidden cells is lower
    when it reads the rows' own known values than when it reads another row's: it has
    learned the dependence, not only the marginals."""
    g = torch.Generator().manual_seed(0)
    chol = torch.linalg.cholesky(SIGMA)
    data = (MU + torch.randn(1024, 4, generator=g, dtype=torch.float64) @ chol.T).float()
    missing = torch.zeros(1024, 4, dtype=torch.bool)
    draw = MaskDraw(missing, torch.arange(4), max_rate=0.8)
    torch.manual_seed(0)
    net = build_denoiser(4, 32, conditional=True)
    loss = EDMLoss()
    train_denoiser(
        net, data, loss=loss, lr=3e-3, batch_size=64, max_epochs=40, patience=100,
        masks=draw, generator=g,
    )  # fmt: skip
    test = (MU + torch.randn(2000, 4, generator=g, dtype=torch.float64) @ chol.T).float()
    known = torch.tensor([[1.0, 0.0, 1.0, 0.0]]).repeat(2000, 1)
    sigma = torch.full((2000, 1), 0.5)
    noise = torch.randn(2000, 4, generator=g)
    with torch.no_grad():
        own = loss(net, test, sigma=sigma, noise=noise, known=known)[:, [1, 3]].mean()
        y = test + noise * sigma
        shuffled = test[torch.randperm(2000, generator=g)]
        other = net(y, sigma, (shuffled, known))
        other = (loss.weight(sigma) * (other - test) ** 2)[:, [1, 3]].mean()
    assert own < 0.8 * other


def test_column_groups_follow_the_encoded_blocks(mixed):
    _, masked, _ = mixed
    imp = DiffPuterImputer(**TINY).fit(masked)
    groups = _column_groups(imp.encoder_, torch.device("cpu")).tolist()
    assert len(groups) == imp.encoder_.n_encoded
    widths = [b.stop - b.start for b in imp.encoder_.blocks()]
    assert groups == [i for i, w in enumerate(widths) for _ in range(w)]


CONDITIONAL_TINY = {**TINY, "preset": "conditional", "n_em_iter": 1, "rows_per_m_step": 0}


def test_conditional_preset_on_a_mixed_table(mixed, tmp_path):
    full, masked, mask = mixed
    imp = DiffPuterImputer(**CONDITIONAL_TINY)
    out = imp.fit_transform(masked)
    assert imp.denoiser_.conditional and imp.n_iter_ == 1
    assert not out.isna().any().any()
    assert_observed_unchanged(masked, out)
    assert set(out["cat"]) <= {"lo", "hi"}
    # the saved model is the conditional one, and imputes the same
    imp.save(tmp_path / "m")
    loaded = DiffPuterImputer.load(tmp_path / "m")
    assert loaded.denoiser_.conditional
    pd.testing.assert_frame_equal(imp.transform(masked), loaded.transform(masked))


def test_conditional_preset_beats_the_mean_fill():
    """Two strongly dependent columns: the conditional model must use the dependence.

    b = 2a + noise (sd 0.3): a mean fill errs by about 0.8 sd of the column, the
    regression by about 0.15 sd; 0.5 sd is far from both.
    """
    rng = np.random.default_rng(0)
    n = 600
    a = rng.normal(size=n)
    full = pd.DataFrame({"a": a, "b": 2 * a + rng.normal(scale=0.3, size=n)})
    hide = rng.random(full.shape) < 0.3
    hide[hide.all(axis=1)] = False
    masked = full.mask(hide)
    params = {**CONDITIONAL_TINY, "max_epochs": 150, "hidden_dim": 32, "num_steps": 10}
    out = DiffPuterImputer(**params).fit_transform(masked)
    sd = full.std().to_numpy()
    err = np.abs(out.to_numpy() - full.to_numpy())[hide] / np.broadcast_to(sd, hide.shape)[hide]
    mean_fill = np.abs(masked.mean().to_numpy() - full.to_numpy())
    mean_err = (mean_fill / sd)[hide].mean()
    assert err.mean() < 0.5 < mean_err


def test_conditioning_is_checked():
    with pytest.raises(ValueError, match="conditioning"):
        get_preset("fast").replace(conditioning="yes")
    with pytest.raises(ValueError, match="mask_rate_max"):
        get_preset("conditional").replace(mask_rate_max=0.0)


@pytest.mark.parametrize(
    "setting",
    [dict(validation_fraction=0.25), dict(n_em_iter=2, observed_loss_iterations=1)],
    ids=["held-out rows", "EM on imputed cells"],
)
def test_conditional_preset_with_held_out_rows_or_em(mixed, setting):
    """The other paths through the M-step: early stopping on held-out rows (a fixed
    mask draw), and later EM iterations that also score the missing cells."""
    _, masked, _ = mixed
    preset = get_preset("conditional").replace(**setting)
    params = {**CONDITIONAL_TINY, "preset": preset, "n_em_iter": setting.get("n_em_iter", 1)}
    imp = DiffPuterImputer(**params)
    out = imp.fit_transform(masked)
    assert imp.n_iter_ == setting.get("n_em_iter", 1)
    assert all(np.isfinite(h["best_loss"]) for h in imp.history_)
    assert not out.isna().any().any()
    assert_observed_unchanged(masked, out)


def _activations(net: torch.nn.Module) -> set[type]:
    return {type(m) for m in net.modules() if isinstance(m, torch.nn.SiLU | torch.nn.ReLU)}


def test_activation_is_a_model_setting(mixed, tmp_path):
    """SiLU is the paper's (every preset keeps it); ReLU has the same weights' names and
    shapes, and a model trained with it is saved and loaded as ReLU."""
    for name in ("paper", "fast", "conditional"):
        assert get_preset(name).model.activation == "silu"
    silu = build_denoiser(4, 16, conditional=True)
    relu = build_denoiser(4, 16, conditional=True, activation="relu")
    assert _activations(silu) == {torch.nn.SiLU} and _activations(relu) == {torch.nn.ReLU}
    shapes = {k: v.shape for k, v in silu.state_dict().items()}
    assert shapes == {k: v.shape for k, v in relu.state_dict().items()}
    relu.load_state_dict(silu.state_dict())
    x, values, known = torch.randn(6, 4), torch.randn(6, 4), (torch.rand(6, 4) < 0.5).float()
    assert not torch.allclose(
        silu(x, torch.tensor(0.7), (values, known)), relu(x, torch.tensor(0.7), (values, known))
    )
    with pytest.raises(ValueError, match="activation"):
        get_preset("conditional").replace(activation="tanh")
    with pytest.raises(ValueError, match="activation"):
        build_denoiser(4, 16, activation="tanh")

    _, masked, _ = mixed
    preset = get_preset("conditional").replace(activation="relu")
    imp = DiffPuterImputer(**{**CONDITIONAL_TINY, "preset": preset})
    out = imp.fit_transform(masked)
    assert _activations(imp.denoiser_) == {torch.nn.ReLU}
    assert_observed_unchanged(masked, out)
    imp.save(tmp_path / "m")
    loaded = DiffPuterImputer.load(tmp_path / "m")
    assert _activations(loaded.denoiser_) == {torch.nn.ReLU}
    pd.testing.assert_frame_equal(imp.transform(masked), loaded.transform(masked))


def test_guidance_is_a_sampler_setting(mixed, tmp_path):
    """Guidance is off in the paper's preset; a fit with it keeps the observed cells,
    and the setting travels with the saved model."""
    assert get_preset("paper").sampler.guidance == 0.0
    with pytest.raises(ValueError, match="guidance"):
        get_preset("fast").replace(guidance=-1.0)
    _, masked, _ = mixed
    preset = get_preset("fast").replace(
        guidance=2.0, guidance_sigma_max=1.0, guidance_cells="observed"
    )
    imp = DiffPuterImputer(**{**TINY, "preset": preset})
    out = imp.fit_transform(masked)
    assert_observed_unchanged(masked, out)
    assert not out.isna().any().any()
    imp.save(tmp_path / "m")
    loaded = DiffPuterImputer.load(tmp_path / "m")
    assert loaded.preset_.sampler.guidance == 2.0
    assert loaded.preset_.sampler.guidance_sigma_max == 1.0
    pd.testing.assert_frame_equal(imp.transform(masked), loaded.transform(masked))
    with pytest.raises(ValueError, match="guidance_cells"):
        get_preset("fast").replace(guidance_cells="categorical")
    numeric = DiffPuterImputer(**{**TINY, "preset": preset.replace(guidance_cells="numeric")})
    out_numeric = numeric.fit_transform(masked)
    assert_observed_unchanged(masked, out_numeric)
    assert not out_numeric.equals(out)  # the one-hot codes no longer guide


@pytest.mark.parametrize("in_em", [True, False])
def test_guidance_in_em_chooses_which_e_steps_are_guided(mixed, monkeypatch, in_em):
    """``guidance_in_em=False`` guides only the imputations returned (the last E-step of
    ``fit`` and ``transform``); the E-steps inside EM sample unguided."""
    recorded = spy_on_e_steps(monkeypatch)
    _, masked, _ = mixed
    preset = get_preset("fast").replace(guidance=2.0, guidance_in_em=in_em)
    imp = DiffPuterImputer(**{**TINY, "n_em_iter": 3, "preset": preset})
    out = imp.fit_transform(masked)
    imp.transform(masked)
    seen = [kw["guidance"] for kw in recorded]
    assert seen == ([2.0] * 4 if in_em else [0.0, 0.0, 2.0, 2.0])
    assert_observed_unchanged(masked, out)
    with pytest.raises(ValueError, match="guidance_in_em"):
        get_preset("fast").replace(guidance_in_em="sometimes")


def test_antithetic_reaches_every_e_step_and_is_off_in_the_paper_preset(mixed, monkeypatch):
    """The sampler setting ``antithetic`` is passed to every E-step, inside EM and for the
    imputations returned; the paper's preset keeps independent samples."""
    assert get_preset("paper").sampler.antithetic is False
    recorded = spy_on_e_steps(monkeypatch)
    _, masked, _ = mixed
    preset = get_preset("fast").replace(antithetic=True)
    imp = DiffPuterImputer(**{**TINY, "n_em_iter": 2, "preset": preset})
    out = imp.fit_transform(masked)
    imp.transform(masked)
    assert [kw["antithetic"] for kw in recorded] == [True] * 3
    assert_observed_unchanged(masked, out)
    with pytest.raises(ValueError, match="antithetic"):
        get_preset("fast").replace(antithetic="pairs")
